"""Command-line helpers, ``python -m spacy_crf_ner COMMAND`` (or
``spacy-crf-ner COMMAND``): build-kb, convert-pubtator, annotate, report,
calibrate, evaluate-linking, rebuild-embeddings, debug-data and warmup."""
import functools
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, TypeVar

import typer
from wasabi import msg

app = typer.Typer(
    name="spacy-crf-ner",
    help="Helpers for spacy-crf-ner: build a knowledge base, convert corpora, annotate, report, calibrate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

DEBUG_ENV = "SPACY_CRF_NER_DEBUG"
Command = TypeVar("Command", bound=Callable[..., Any])
_debug_flag = {"on": False}  # set by --debug for the command being run


def _debug() -> bool:
    return _debug_flag["on"] or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug", help=f"Show the traceback of an error (or set {DEBUG_ENV}=1)", is_eager=True
    ),
) -> None:
    _debug_flag["on"] = debug
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("spacy_crf_ner").setLevel(logging.DEBUG if _debug() else logging.INFO)


def one_line_errors(command: Command) -> Command:
    """Report an error of `command` as one readable line and exit with code 1
    (130 when interrupted); with --debug or SPACY_CRF_NER_DEBUG=1 the error
    propagates with its traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            if _debug():
                raise
            typer.secho("✘ Interrupted", fg="red", err=True)
            raise typer.Exit(130)
        except Exception as err:
            if _debug():
                raise
            text = " ".join(str(err).split()) or type(err).__name__
            if isinstance(err, (OSError, ImportError, MemoryError)) or not str(err):
                text = f"{type(err).__name__}: {text}"
            typer.secho(f"✘ {text} (run with --debug for the traceback)", fg="red", err=True)
            raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def require_gpu(gpu_id: int) -> None:
    """Put spaCy on GPU `gpu_id` (nothing for -1), or raise one clear error
    naming the fix when no usable GPU is there."""
    if gpu_id < 0:
        return
    import spacy

    try:
        spacy.require_gpu(gpu_id)
    except Exception as err:
        raise RuntimeError(
            f"No GPU available for --gpu-id {gpu_id} ({' '.join(str(err).split())}): install CuPy for your "
            "CUDA version (pip install cupy-cuda12x), check that CUDA sees the GPU (nvidia-smi), "
            "or use --gpu-id -1 for CPU."
        ) from err


@app.command("build-kb")
@one_line_errors
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
    from .kb.index import CandidateIndex
    from .kb.knowledge_base import KnowledgeBase

    cols = json.loads(columns) if columns else None
    start = time.perf_counter()
    # a KBFormatError (naming file and line) ends the command as one line, like every error
    kb = KnowledgeBase.from_file(input_path, format=format, columns=cols, list_separator=list_separator, progress=True)
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
            f"{len(index.tfidf.vocab):,} n-grams, built in {time.perf_counter() - start:.1f}s"
        )


@app.command("convert-pubtator")
@one_line_errors
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
@one_line_errors
def annotate_cli(
    model: str = typer.Argument(..., help="Pipeline name or directory (with --engine ray: one every node can read)"),
    input_path: str = typer.Argument(
        ..., help="JSONL or Parquet: a file, folder, glob or URI (s3://, gs://, hdfs://)"
    ),
    output_path: str = typer.Argument(
        ..., help="local: a .jsonl or .parquet file; ray: a folder or URI for Parquet shards"
    ),
    engine: str = typer.Option("local", "--engine", "-e", help="local (this machine) or ray (a Ray cluster)"),
    text_column: str = typer.Option("text", "--text-column", help="Key or column that holds the text"),
    tokens: bool = typer.Option(True, "--tokens/--no-tokens", help="Write tokens and their tags"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Texts per batch"),
    n_process: int = typer.Option(1, "--n-process", "-n", help="local: processes for nlp.pipe"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="local: GPU to use, -1 for CPU"),
    errors_path: Optional[Path] = typer.Option(
        None, "--errors", help="local: also write the skipped records (source, line or row, reason) as JSONL"
    ),
    show: int = typer.Option(0, "--show", help="local: print this many annotated texts"),
    address: Optional[str] = typer.Option(
        None, "--address", help='ray: "local" (start Ray here, the default), "auto" (join this machine\'s cluster) or "ray://HOST:10001"'
    ),
    workers: int = typer.Option(1, "--workers", "-w", help="ray: workers, each with its own pipeline"),
    gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", help="ray: GPUs per worker (0: CPU)"),
    cpus_per_worker: float = typer.Option(1.0, "--cpus-per-worker", help="ray: CPUs per worker"),
    code: Optional[str] = typer.Option(
        None, "--code", "-c", help="Python file with custom components, imported before loading the pipeline"
    ),
) -> None:
    """Annotate texts: entities (text, label, character offsets, confidence,
    kb_id, candidates) and token tags. Invalid records (invalid JSON,
    undecodable bytes, missing or non-string text) are reported once with
    their file and line or row and skipped; the others are annotated. The
    input is never overwritten. With --engine ray, a rerun with the same
    OUTPUT resumes: finished shards are kept."""
    if engine not in ("local", "ray"):
        raise ValueError(f"Unknown --engine {engine!r}: use local or ray.")
    if engine == "ray":
        local_only = {"--n-process": n_process != 1, "--gpu-id": gpu_id >= 0, "--errors": errors_path is not None,
                      "--show": show > 0}
        if any(local_only.values()):
            given = ", ".join(name for name, used in local_only.items() if used)
            raise ValueError(f"{given} apply to --engine local. With --engine ray use --workers and "
                             "--gpus-per-worker; errors go to OUTPUT/_errors.jsonl.")
        _annotate_ray(model, input_path, output_path, text_column=text_column, tokens=tokens,
                      batch_size=batch_size, address=None if address in (None, "", "local") else address, workers=workers, gpus_per_worker=gpus_per_worker,
                      cpus_per_worker=cpus_per_worker, code=code)
        return
    import spacy

    from .annotate import annotate_file, format_doc, read_output, write_errors

    if code:
        from spacy.util import import_file

        import_file("annotate_code", code)
    require_gpu(gpu_id)
    nlp = spacy.load(model)
    stats = annotate_file(nlp, input_path, output_path, text_column=text_column, tokens=tokens,
                          n_process=n_process, batch_size=batch_size)
    if errors_path is not None:
        write_errors(stats.errors, errors_path)
    skipped = f"; {len(stats.errors):,} skipped (see the warnings above" + (
        f" and {errors_path})" if errors_path else ")") if stats.errors else ""
    msg.good(f"Annotated {stats.written:,} of {stats.read:,} records into {output_path}{skipped}")
    for record in read_output(output_path, show):
        print(format_doc(record))
    if stats.errors and not stats.written:
        raise typer.Exit(1)


def _annotate_ray(model: str, input_path: str, output_path: str, **kwargs: Any) -> None:
    from .distributed import ERRORS_FILE, MANIFEST_FILE, annotate_ray

    stats = annotate_ray(model, input_path, output_path, **kwargs)
    kept = f", {len(stats.kept)} of them kept from an earlier run" if stats.kept else ""
    msg.good(
        f"Annotated {stats.written:,} of {stats.read:,} records into {output_path} in {stats.seconds:.1f}s: "
        f"{stats.shards} Parquet shard(s){kept}"
    )
    if stats.errors:
        msg.warn(f"{stats.errors:,} records not annotated: see {output_path.rstrip('/')}/{ERRORS_FILE}")
    msg.info(f"Counts, shards and per-worker load time and memory: {output_path.rstrip('/')}/{MANIFEST_FILE}")
    if stats.errors and not stats.written:
        raise typer.Exit(1)


@app.command("report")
@one_line_errors
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

    require_gpu(gpu_id)
    nlp = spacy.load(model)
    path = write_report(nlp, _examples(nlp, data_path), output_path, title=f"Entity errors: {model}", max_docs=max_docs)
    msg.good(f"Wrote {path}")


@app.command("calibrate")
@one_line_errors
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
        crf_ner_component,
        entity_confidences,
        expected_calibration_error,
        fit_temperature,
        set_temperature,
    )

    nlp = spacy.load(model)
    examples = _examples(nlp, data_path)
    try:
        ner = crf_ner_component(nlp, component)
        check_calibration_data(ner, examples)
        data = collect_predictions(nlp, examples, component=component)
        temperature = fit_temperature(ner, data)
    except ValueError as err:
        msg.fail("Cannot calibrate", str(err), exits=1)
    before = expected_calibration_error(*entity_confidences(ner, data))
    after = expected_calibration_error(*entity_confidences(ner, data, temperature))
    set_temperature(nlp, component, temperature)
    nlp.to_disk(output_dir)
    msg.good(
        f"temperature = {temperature:.3f}; ECE on {data_path} (in-sample): {before:.3f} -> {after:.3f}. "
        f"Saved to {output_dir}"
    )


@app.command("evaluate-linking")
@one_line_errors
def evaluate_linking_cli(
    model: str = typer.Argument(..., help="Pipeline name or directory"),
    data_path: Path = typer.Argument(..., help="Gold .spacy file whose entities carry kb_ids", exists=True),
    gold_mentions: bool = typer.Option(
        False, "--gold-mentions", help="Link the gold entity spans instead of the pipeline's own entities"
    ),
    output_path: Optional[Path] = typer.Option(None, "--output", "-o", help="JSON file to write the scores to"),
    component: Optional[str] = typer.Option(None, "--component", "-c", help="The entity_normalizer, if several"),
    k: int = typer.Option(5, "--k", "-k", help="The k of recall@k"),
    strict: bool = typer.Option(False, "--strict", help="Require every concept of a composite gold ID"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to use, -1 for CPU"),
) -> None:
    """Score an entity_normalizer on gold data: acc@1, recall@k and
    nel_micro_p/r/f (the component's own scorer, as spacy evaluate reports
    it), on the gold entity spans with --gold-mentions, else on the
    pipeline's own entities."""
    import spacy
    import srsly

    from .evaluate_linking import evaluate_linking

    require_gpu(gpu_id)
    nlp = spacy.load(model)
    scores = evaluate_linking(
        nlp, _examples(nlp, data_path), component=component, gold_mentions=gold_mentions, k=k, strict=strict,
        progress=True,
    )
    mentions = "gold entity spans" if gold_mentions else "the pipeline's own entities"
    msg.divider(f"Entity linking on {data_path.name}, {mentions}")
    rows = [(key, f"{scores[key] * 100:.2f}") for key in ("acc@1", f"recall@{k}", "nel_micro_p", "nel_micro_r", "nel_micro_f")]
    rows += [("gold IDs", scores["gold_ids"]), ("scored mentions", scores["scored"])]
    msg.table(rows, aligns=("l", "r"))
    per_label = [(label, f"{v['acc@1'] * 100:.2f}", v["n"]) for label, v in scores["acc@1_per_label"].items()]
    if len(per_label) > 1:
        msg.table(per_label, header=("label", "acc@1", "n"), aligns=("l", "r", "r"))
    if output_path is not None:
        srsly.write_json(output_path, scores)
        msg.good(f"Saved scores to {output_path}")


@app.command("rebuild-embeddings")
@one_line_errors
def rebuild_embeddings_cli(
    model: str = typer.Argument(..., help="Pipeline name or directory with a trained entity_normalizer"),
    output_dir: Path = typer.Argument(..., help="Directory to save the pipeline to"),
    kb_path: Optional[Path] = typer.Option(
        None, "--kb", help="A new KB (build-kb directory, JSONL, TSV or CSV) to link to; default: the saved one"
    ),
    component: Optional[str] = typer.Option(None, "--component", "-c", help="The entity_normalizer, if several"),
) -> None:
    """Recompute the alias embeddings of a trained entity_normalizer (a model
    set) for its KB, or for a new KB given with --kb, and save the pipeline.
    Run it when the KB changed; the model is not retrained."""
    import spacy

    from .evaluate_linking import find_linker
    from .kb.loader import create_kb_loader
    from .pipeline.entity_normalizer import EntityNormalizer

    nlp = spacy.load(model)
    name = find_linker(nlp, component)
    linker = nlp.get_pipe(name)
    assert isinstance(linker, EntityNormalizer)
    if linker.model is None:
        raise ValueError(
            f"[rebuild-embeddings] The entity_normalizer '{name}' of {model} has no model (model = null): "
            "it has no embeddings to rebuild. Train one with a config that sets its model "
            "(e.g. configs/normalizer_cnn.cfg)."
        )
    if kb_path is not None:
        linker.set_kb(create_kb_loader(str(kb_path))(nlp.vocab))
    start = time.perf_counter()
    linker.rebuild_embeddings(progress=True)
    nlp.to_disk(output_dir)
    msg.good(
        f"Embedded {len(linker.alias_embeddings or ()):,} aliases in {time.perf_counter() - start:.1f}s; "
        f"saved the pipeline to {output_dir}"
    )


@app.command(
    "debug-data", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
@one_line_errors
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
@one_line_errors
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
    """Entry point of ``python -m spacy_crf_ner`` (logging is set up by the
    app's callback, for the console script too)."""
    app()
