"""Annotate texts on one machine: JSONL or Parquet in, JSONL or Parquet out.

Each input record (a JSONL line or a Parquet row) holds a text (key or column
"text" unless told otherwise); its other fields are copied to the output. Each
output record holds the text, its entities (text, label, character offsets,
confidence, kb_id, candidates) and its tokens' tags (see
`spacy_crf_ner.records`, shared with the Ray engine). Invalid records (invalid
JSON, undecodable bytes, a missing or non-string text) are reported once with
their file and line (or row) and skipped; the others are annotated.

The output is written to a temporary file next to it and renamed when
complete, so an interrupted run leaves no partial output, and the input is
never the output.
"""
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from spacy.language import Language

from .records import annotate_records, check_record, error_record, parse_jsonl_line, records_to_table
from .sources import (
    InputFile,
    check_not_inside_input,
    file_kind,
    iter_parquet_batches,
    parquet_row_groups,
    read_jsonl_lines,
    require_parquet,
    resolve_inputs,
)

logger = logging.getLogger("spacy_crf_ner")

PARQUET_BATCH = 1024


@dataclass
class AnnotateStats:
    """What `annotate_file` did: records read and annotated, and one error
    record (source, line or row, reason) per skipped record."""

    read: int = 0
    written: int = 0
    errors: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def skipped(self) -> List[Tuple[int, str]]:
        """(line or row, reason) of each skipped record."""
        return [(e["line"] if e["line"] is not None else e["row"], e["reason"]) for e in self.errors]


def _skip(stats: AnnotateStats, error: Dict[str, Any]) -> None:
    stats.errors.append(error)
    where = f":{error['line']}" if error["line"] is not None else f" row {error['row']}"
    logger.warning("%s%s: skipped, %s", error["source"], where, error["reason"])


def read_records(fs: Any, files: List[InputFile], stats: AnnotateStats, text_column: str = "text") -> Iterator[Tuple[Dict[str, Any], int]]:
    """Yield (record, bytes read so far) for each valid record of `files`;
    count and report (once, in the log) the invalid ones."""
    done = 0
    for input_file in files:
        if input_file.kind == "parquet":
            n_rows = sum(parquet_row_groups(fs, input_file.path))
            for start, table in iter_parquet_batches(fs, input_file.path, PARQUET_BATCH):
                for i, record in enumerate(table.to_pylist()):
                    stats.read += 1
                    reason = check_record(record, text_column)
                    position = done + input_file.size * (start + i + 1) // max(n_rows, 1)
                    if reason is None:
                        yield record, position
                    else:
                        _skip(stats, error_record(reason, source=input_file.path, row=start + i))
        else:
            for line_no, raw, end in read_jsonl_lines(fs, input_file.path):
                record, reason = parse_jsonl_line(raw, text_column)
                if record is not None:
                    stats.read += 1
                    yield record, done + end
                elif reason is not None:
                    stats.read += 1
                    _skip(stats, error_record(reason, source=input_file.path, line=line_no))
                # else: a blank line
        done += input_file.size


class _JsonlWriter:
    def __init__(self, file_: Any, text_column: str, tokens: bool) -> None:
        self.file_ = file_

    def write(self, record: Dict[str, Any]) -> None:
        self.file_.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf8"))

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _ParquetWriter:
    """Writes output records as Parquet row groups; the first row group fixes
    the schema."""

    def __init__(self, file_: Any, text_column: str, tokens: bool) -> None:
        self.file_ = file_
        self.text_column = text_column
        self.tokens = tokens
        self.buffer: List[Dict[str, Any]] = []
        self.writer: Any = None

    def write(self, record: Dict[str, Any]) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= PARQUET_BATCH:
            self.flush()

    def flush(self) -> None:
        pq = require_parquet()

        if not self.buffer and self.writer is not None:
            return
        table = records_to_table(self.buffer, text_column=self.text_column, tokens=self.tokens)
        self.buffer = []
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.file_, table.schema)
        else:
            table = conform(table, self.writer.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        self.flush()
        self.writer.close()

    def abort(self) -> None:
        """Let go of the file after an error (the output is discarded):
        pyarrow's writer would otherwise close itself later, on a closed file."""
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # the output is deleted anyway
                pass
            self.writer = None


def conform(table: Any, schema: Any) -> Any:
    """`table` with the columns and types of `schema` (missing columns are
    null); raises a ValueError for a column `schema` lacks or cannot hold."""
    import pyarrow as pa

    extra = [name for name in table.column_names if name not in schema.names]
    if extra:
        raise ValueError(
            f"[annotate] Field(s) {', '.join(extra)} first appear after the first {PARQUET_BATCH} records, "
            "so the Parquet schema cannot hold them. Write JSONL, or give every record the same fields."
        )
    columns = []
    for fld in schema:
        if fld.name in table.column_names:
            try:
                columns.append(table.column(fld.name).cast(fld.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise ValueError(
                    f"[annotate] Field {fld.name!r} changes type within the input ({err}). "
                    "Write JSONL, or give the field one type."
                ) from None
        else:
            columns.append(pa.nulls(table.num_rows, fld.type))
    return pa.Table.from_arrays(columns, schema=schema)


def check_output(output_path: Path, files: List[InputFile]) -> None:
    """Refuse an output path that is an input file (also through a link) or
    whose folder cannot be created."""
    output_path = Path(output_path)
    if output_path.exists():
        if output_path.is_dir():
            raise ValueError(f"[annotate] The output {output_path} is a folder. Give a .jsonl or .parquet file path.")
        for input_file in files:
            if os.path.exists(input_file.path) and os.path.samefile(output_path, input_file.path):
                raise ValueError(
                    f"[annotate] The output {output_path} is the input file {input_file.path}: writing it would "
                    "destroy the input. Give another output path."
                )
    for parent in [output_path.parent, *output_path.parent.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(
                    f"[annotate] Cannot write {output_path}: {parent} is a file, not a folder. "
                    "Give an output path in a folder."
                )
            break


def annotate_file(
    nlp: Language,
    input_path: Union[str, Path],
    output_path: Union[str, Path],
    *,
    text_column: str = "text",
    tokens: bool = True,
    n_process: int = 1,
    batch_size: int = 64,
    progress: bool = True,
) -> AnnotateStats:
    """Annotate every valid record of the input into `output_path`.

    input_path (Union[str, Path]): JSONL or Parquet file, folder, glob or URI.
    output_path (Union[str, Path]): Output file; Parquet if it ends with
        .parquet or .pq, JSONL otherwise. Written to a temporary file in the
        same folder and renamed when complete.
    text_column (str): The key or column that holds the text.
    tokens (bool): Include the tokens and their tags.
    n_process (int): Processes for `nlp.pipe`.
    batch_size (int): Texts per batch for `nlp.pipe`.
    progress (bool): Show a progress bar (total and ETA from the input size).
    RETURNS (AnnotateStats): Counts and the skipped records.
    """
    from tqdm import tqdm

    fs, files = resolve_inputs(str(input_path))
    output_path = Path(output_path)
    check_output(output_path, files)
    check_not_inside_input(str(input_path), str(output_path))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    stats = AnnotateStats()
    writer_cls = _ParquetWriter if file_kind(str(output_path)) == "parquet" else _JsonlWriter
    total = sum(f.size for f in files)
    fd, tmp_name = tempfile.mkstemp(dir=output_path.parent, prefix=f".{output_path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file_, tqdm(
            total=total, desc="annotate", unit="B", unit_scale=True, disable=not progress
        ) as bar:
            writer = writer_cls(file_, text_column, tokens)
            items = read_records(fs, files, stats, text_column)
            try:
                for record, position in annotate_records(
                    nlp, items, text_column=text_column, tokens=tokens, batch_size=batch_size, n_process=n_process
                ):
                    writer.write(record)
                    stats.written += 1
                    bar.update(position - bar.n)
                    if stats.written % 256 == 0:
                        bar.set_postfix_str(f"{stats.written:,} docs", refresh=False)
                writer.close()
            except BaseException:
                writer.abort()
                raise
            bar.set_postfix_str(f"{stats.written:,} docs", refresh=False)
            bar.update(total - bar.n)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp creates it readable by its owner only
        os.replace(tmp_name, output_path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return stats


def annotate_jsonl(
    nlp: Language,
    input_path: Path,
    output_path: Path,
    *,
    n_process: int = 1,
    batch_size: int = 64,
    progress: bool = True,
) -> AnnotateStats:
    """Annotate a JSONL file into a JSONL file (see `annotate_file`)."""
    return annotate_file(nlp, input_path, output_path, n_process=n_process, batch_size=batch_size, progress=progress)


def write_errors(errors: List[Dict[str, Any]], path: Union[str, Path]) -> None:
    """Write error records as JSONL (source, line, row, reason)."""
    with Path(path).open("w", encoding="utf8") as file_:
        for error in errors:
            file_.write(json.dumps(error, ensure_ascii=False) + "\n")


def read_output(path: Union[str, Path], n: int) -> List[Dict[str, Any]]:
    """The first `n` records of an output file (JSONL or Parquet)."""
    if n <= 0:
        return []
    if file_kind(str(path)) == "parquet":
        return require_parquet().read_table(path).slice(0, n).to_pylist()
    records: List[Dict[str, Any]] = []
    with Path(path).open("r", encoding="utf8") as file_:
        for line in file_:
            if len(records) >= n:
                break
            records.append(json.loads(line))
    return records


def format_doc(record: Dict[str, Any], width: Optional[int] = 28) -> str:
    """A short human-readable rendering of one output record."""
    lines = [record["text"]]
    for ent in record["entities"]:
        conf = "" if ent["confidence"] is None else f" p={ent['confidence']:.3f}"
        kb = f" -> {ent['kb_id']}" if ent["kb_id"] else ""
        lines.append(f"    {ent['label']:<8} {ent['text']!r:<{width}}{conf}{kb}")
    return "\n".join(lines)
