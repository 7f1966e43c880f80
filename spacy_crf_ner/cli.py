"""Command-line helpers: ``python -m spacy_crf_ner build-kb`` and
``python -m spacy_crf_ner convert-pubtator``."""
import json
import logging
import time
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

app = typer.Typer(
    name="spacy-crf-ner",
    help="Helpers for spacy-crf-ner: build a knowledge base, convert corpora.",
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


def main() -> None:
    """Entry point of ``python -m spacy_crf_ner``."""
    logging.basicConfig(level=logging.WARNING)
    app()
