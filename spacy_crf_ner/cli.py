"""Command-line helpers, ``python -m spacy_crf_ner COMMAND`` (or
``spacy-crf-ner COMMAND``): build-kb, convert-pubtator, annotate, report,
calibrate, debug-data and warmup."""
import json
import logging
import time
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

app = typer.Typer(
    name="spacy-crf-ner",
    help="Helpers for spacy-crf-ner: build a knowledge base, convert corpora, annotate, report, calibrate.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("build-kb")
def build_kb_cli(
    input_path: Path = typer.Argument(..., help="KB file: JSONL, TSV or CSV", exists=True, dir_okay=False),
    output_dir: Path = typer.Argument(..., help="Directory to write the KB to"),
    format: str = typer.Option("auto", "--format", "-f", help="jsonl, tsv, csv or auto (from the suffix)"),
    columns: Optional[str] = typer.Option(
        None, "--columns", help='Table header names as JSON, e.g. \'{"id": "MESH_ID", "name": "MESH_NAME"}\''
    ),
    list_separator: str = typer.Option("|", "--list-separator", help="Separator of aliases/types cells in tables"),
    check_index: bool = typer.Option(
        True, "--check-index/--no-check-index", help="Also build the candidate index once to report its size"
    ),
) -> None:
    """Read a KB file (errors name file and line) and save it as a directory
    that the config's kb_loader (spacy-crf-ner.load_kb.v1, path = OUTPUT_DIR) loads."""
    from .kb.candidates import CandidateIndex
    from .kb.knowledge_base import KBFormatError, KnowledgeBase

    cols = json.loads(columns) if columns else None
    start = time.perf_counter()
    try:
        kb = KnowledgeBase.from_file(input_path, format=format, columns=cols, list_separator=list_separator, progress=True)
    except KBFormatError as err:
        msg.fail("Cannot read the knowledge base", str(err), exits=1)
    kb.to_disk(output_dir)
    msg.good(
        f"Saved {len(kb):,} entities and {kb.n_aliases:,} aliases to {output_dir} "
        f"in {time.perf_counter() - start:.1f}s"
    )
    if check_index:
        start = time.perf_counter()
        index = CandidateIndex.build(kb, progress=True)
        msg.info(
            f"Candidate index (default settings): {len(index.keys):,} normalized keys, "
            f"{len(index.vocab):,} n-grams, built in {time.perf_counter() - start:.1f}s"
        )


@app.command("convert-pubtator")
def convert_pubtator_cli(
    input_path: Path = typer.Argument(..., help="PubTator file", exists=True, dir_okay=False),
    output_path: Path = typer.Argument(..., help="Output .spacy file"),
    label: Optional[str] = typer.Option(
        None, "--label", "-l", help="One label for all entities (default: the type column)"
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the tokenizer"),
) -> None:
    """Convert a PubTator file (e.g. NCBI Disease) to a .spacy DocBin whose
    entities carry the concept IDs as kb_id."""
    from .corpora import convert_pubtator

    n = convert_pubtator(input_path, output_path, label=label, lang=lang)
    msg.good(f"Wrote {n:,} documents to {output_path}")


def _examples(nlp, path: Path):
    """Examples from a .spacy file, read as spaCy's own evaluate reads them."""
    from spacy.training import Corpus

    return list(Corpus(path)(nlp))


@app.command("annotate")
def annotate_cli(
    model: str = typer.Argument(..., help="Pipeline name or directory"),
    input_path: Path = typer.Argument(..., help='JSONL file, one {"text": ...} per line', exists=True, dir_okay=False),
    output_path: Path = typer.Argument(..., help="JSONL file to write"),
    n_process: int = typer.Option(1, "--n-process", "-n", help="Processes for nlp.pipe"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Texts per batch"),
    show: int = typer.Option(0, "--show", help="Print this many annotated texts"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to use, -1 for CPU"),
) -> None:
    """Annotate texts: entities (text, label, character offsets, confidence,
    kb_id, candidates) and token tags. Malformed lines are reported with their
    line number and skipped; the others are annotated."""
    import spacy
    import srsly

    from .annotate import annotate_jsonl, format_doc

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    stats = annotate_jsonl(nlp, input_path, output_path, n_process=n_process, batch_size=batch_size)
    for line_no, reason in stats.skipped:
        msg.warn(f"{input_path}:{line_no}: skipped, {reason}")
    msg.good(f"Annotated {stats.written:,} of {stats.read:,} texts into {output_path}")
    for record in list(srsly.read_jsonl(output_path))[:show]:
        print(format_doc(record))
    if stats.skipped and not stats.written:
        raise typer.Exit(1)


@app.command("report")
def report_cli(
    model: str = typer.Argument(..., help="Pipeline name or directory"),
    data_path: Path = typer.Argument(..., help="Gold .spacy file", exists=True),
    output_path: Path = typer.Argument(..., help="HTML file to write"),
    max_docs: int = typer.Option(50, "--max-docs", help="Errors shown per kind of error and label pair"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to use, -1 for CPU"),
) -> None:
    """Write an HTML error report: P/R/F as spacy evaluate computes them, per
    type, a confusion table, and every error in its sentence, gold beside
    predicted, with the wrong span outlined, grouped by kind (boundary, type,
    missed, spurious) and label pair."""
    import spacy

    from .report import write_report

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    path = write_report(nlp, _examples(nlp, data_path), output_path, title=f"Entity errors: {model}", max_docs=max_docs)
    msg.good(f"Wrote {path}")


@app.command("calibrate")
def calibrate_cli(
    model: str = typer.Argument(..., help="Pipeline name or directory"),
    data_path: Path = typer.Argument(..., help="Held-out gold .spacy file (never the training data)", exists=True),
    output_dir: Path = typer.Argument(..., help="Directory to save the calibrated pipeline to"),
    component: str = typer.Option("crf_ner", "--component", "-c", help="The crf_ner component"),
) -> None:
    """Fit a temperature for crf_ner's entity probabilities on held-out data
    and save the pipeline with it (the predicted entities do not change)."""
    import spacy

    from .calibration import (
        check_calibration_data,
        collect_predictions,
        entity_confidences,
        expected_calibration_error,
        fit_temperature,
        set_temperature,
    )

    nlp = spacy.load(model)
    ner = nlp.get_pipe(component)
    examples = _examples(nlp, data_path)
    try:
        check_calibration_data(ner, examples)
        data = collect_predictions(nlp, examples, component=component)
        temperature = fit_temperature(ner, data)
    except ValueError as err:
        msg.fail("Cannot calibrate", str(err), exits=1)
    before = expected_calibration_error(*entity_confidences(ner, data, ner.cfg.get("temperature", 1.0)))
    after = expected_calibration_error(*entity_confidences(ner, data, temperature))
    set_temperature(nlp, component, temperature)
    nlp.to_disk(output_dir)
    msg.good(
        f"temperature = {temperature:.3f}; ECE on {data_path} (in-sample): {before:.3f} -> {after:.3f}. "
        f"Saved to {output_dir}"
    )


@app.command(
    "debug-data", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def debug_data_cli(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., help="Training config", exists=True, dir_okay=False),
    iob: Optional[List[Path]] = typer.Option(
        None, "--iob", help="IOB/BIO file to check before `spacy convert` (repeatable)", exists=True, dir_okay=False
    ),
    verbose: bool = typer.Option(False, "--verbose", "-V", help="Show label counts and every offending example"),
) -> None:
    """Check the training and evaluation data of a config's crf_ner
    components: spaCy's NER checks (`spacy debug data` only checks "ner")
    plus invalid tag sequences, entities over whitespace tokens, mentions a
    reader dropped, docs longer than the transformer window and partial
    annotation. Config overrides as for spacy train, e.g. --paths.train x.spacy.
    Exits with 1 if a check fails, as spacy debug data does."""
    from spacy.cli._util import parse_config_overrides

    from .debug_data import debug_data

    findings = debug_data(config_path, overrides=parse_config_overrides(ctx.args), iob_paths=iob or [], verbose=verbose)
    if findings["summary"]["errors"]:
        raise typer.Exit(1)


@app.command("warmup")
def warmup_cli(
    models: Optional[List[str]] = typer.Argument(
        None, help="Pipelines (package names or directories); the package's sample pipeline if none"
    ),
) -> None:
    """Compile the kernels the given pipelines use and keep them in numba's
    cache, so that new processes start fast: run it once per machine or
    container image, after installing the pipelines (README: Deployment)."""
    from .warmup import kernel_cache_folders, warm_up_models

    for name, seconds in warm_up_models(models or []).items():
        msg.good(f"Warmed up {name} in {seconds:.1f}s")
    folders = kernel_cache_folders()
    if folders:
        msg.info("Compiled kernels are cached in: " + ", ".join(folders))
    else:
        msg.warn("No kernel cache folder is in use: set NUMBA_CACHE_DIR to a writable folder.")


def main() -> None:
    """Entry point of ``python -m spacy_crf_ner``."""
    logging.basicConfig(level=logging.WARNING)
    app()
