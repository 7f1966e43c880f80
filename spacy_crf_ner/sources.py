"""Input files for annotation: resolve a path, folder, glob or filesystem URI
(s3://, gs://, hdfs://, any pyarrow filesystem) to JSONL and Parquet files,
and read them by byte range (JSONL) or row range (Parquet)."""
import fnmatch
import io
import os
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Tuple

PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class InputFile:
    """One input file: its path on its filesystem, its size in bytes and its
    kind ("jsonl" or "parquet")."""

    path: str
    size: int
    kind: str


def file_kind(path: str) -> str:
    """ "parquet" for .parquet/.pq files, "jsonl" for anything else."""
    return "parquet" if path.lower().endswith(PARQUET_SUFFIXES) else "jsonl"


def is_uri(spec: str) -> bool:
    return "://" in spec


def filesystem(spec: str) -> Tuple[Any, str]:
    """The pyarrow filesystem of a local path or URI and the path on it."""
    import pyarrow.fs as pafs

    if is_uri(spec):
        return pafs.FileSystem.from_uri(spec)
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(spec))


def _listed(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(("_", ".")) and base.lower().endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES)


def resolve_inputs(spec: str) -> Tuple[Any, List[InputFile]]:
    """The input files a path, folder, glob or URI names, sorted by path.

    A folder yields its .jsonl/.ndjson/.json and .parquet/.pq files
    (recursively, skipping names that start with "_" or "."); a single file is
    read as Parquet if its name ends with .parquet/.pq and as JSONL otherwise.

    spec (str): Local path, folder, glob, or URI such as s3://bucket/prefix/.
    RETURNS (Tuple[pyarrow.fs.FileSystem, List[InputFile]]): The filesystem and files.
    """
    import pyarrow.fs as pafs

    glob_at = min((spec.find(c) for c in GLOB_CHARS if c in spec), default=-1)
    if glob_at >= 0:
        base = spec[: spec.rfind("/", 0, glob_at) + 1] or "."
        fs, base_path = filesystem(base)
        pattern = base_path.rstrip("/") + "/" + spec[len(base):]
        infos = fs.get_file_info(pafs.FileSelector(base_path, recursive="**" in spec or "/" in spec[len(base):]))
        files = [i for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, pattern)]
    else:
        fs, path = filesystem(spec)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            files = [info]
        elif info.type == pafs.FileType.Directory:
            infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
            files = [i for i in infos if i.type == pafs.FileType.File and _listed(i.path)]
        else:
            raise FileNotFoundError(f"[annotate] Input not found: {spec}. Give a file, folder, glob or URI.")
    if not files:
        raise FileNotFoundError(
            f"[annotate] No input files in {spec}: expected .jsonl, .ndjson, .json or .parquet files."
        )
    return fs, sorted((InputFile(i.path, int(i.size or 0), file_kind(i.path)) for i in files), key=lambda f: f.path)


def read_jsonl_lines(fs: Any, path: str, start: int = 0, end: Optional[int] = None) -> Iterator[Tuple[int, bytes, int]]:
    """The lines that begin in the byte range [start, end) of a file.

    A line belongs to the range its first byte lies in, so consecutive ranges
    read every line exactly once.

    YIELDS (Tuple[int, bytes, int]): (line number counted from 1 at the first
        line of the range, raw bytes, byte offset after the line).
    """
    with fs.open_input_file(path) as raw:
        file_ = io.BufferedReader(raw, 1 << 20)
        if start > 0:
            file_.seek(start - 1)
            if file_.read(1) != b"\n":
                file_.readline()  # the rest of a line that began before `start`
        pos = file_.tell()
        line_no = 0
        while end is None or pos < end:
            line = file_.readline()
            if not line:
                break
            line_no += 1
            pos += len(line)
            yield line_no, line, pos


def parquet_row_groups(fs: Any, path: str) -> List[int]:
    """The number of rows of each row group of a Parquet file."""
    import pyarrow.parquet as pq

    with fs.open_input_file(path) as file_:
        meta = pq.ParquetFile(file_).metadata
        return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def read_parquet_rows(fs: Any, path: str, start: int, end: int):
    """Rows [start, end) of a Parquet file as a pyarrow Table, reading only
    the row groups that hold them."""
    import pyarrow.parquet as pq

    with fs.open_input_file(path) as file_:
        parquet = pq.ParquetFile(file_)
        meta = parquet.metadata
        groups, first, offset = [], None, 0
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            if offset < end and offset + n > start:
                groups.append(i)
                first = offset if first is None else first
            offset += n
        if not groups:
            return parquet.schema_arrow.empty_table()
        table = parquet.read_row_groups(groups)
    return table.slice(start - first, end - start)
