"""Input files for annotation: resolve a path, folder, glob or filesystem URI
(s3://, gs://, hdfs://, any pyarrow filesystem) to JSONL and Parquet files,
and read them by byte range (JSONL) or row range (Parquet)."""
import fnmatch
import glob
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


class LocalFiles:
    """The local disk, for when pyarrow (needed for URIs and Parquet) is not
    installed: the one method of a pyarrow filesystem that readers use."""

    def open_input_file(self, path: str) -> Any:
        return open(path, "rb", buffering=0)


def filesystem(spec: str) -> Tuple[Any, str]:
    """The pyarrow filesystem of a local path or URI and the path on it."""
    if not is_uri(spec):
        path = os.path.abspath(os.path.expanduser(spec))
        try:
            import pyarrow.fs as pafs
        except ImportError:
            return LocalFiles(), path
        return pafs.LocalFileSystem(), path
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise ImportError(f"Reading {spec} needs pyarrow: pip install pyarrow") from None
    return pafs.FileSystem.from_uri(spec)


def _listed(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(("_", ".")) and base.lower().endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES)


def _local_files(spec: str) -> List[Tuple[str, int]]:
    path = os.path.abspath(os.path.expanduser(spec))
    if any(c in spec for c in GLOB_CHARS):
        names = [p for p in glob.glob(path, recursive=True) if os.path.isfile(p)]
    elif os.path.isfile(path):
        names = [path]
    elif os.path.isdir(path):
        names = [os.path.join(root, name) for root, _, files in os.walk(path) for name in files
                 if _listed(name) and not any(part.startswith(("_", ".")) for part in
                                              os.path.relpath(root, path).split(os.sep) if part != ".")]
    else:
        raise FileNotFoundError(f"[annotate] Input not found: {spec}. Give a file, folder, glob or URI.")
    return [(name, os.path.getsize(name)) for name in names]


def _remote_files(spec: str) -> Tuple[Any, List[Tuple[str, int]]]:
    import pyarrow.fs as pafs

    glob_at = min((spec.find(c) for c in GLOB_CHARS if c in spec), default=-1)
    if glob_at >= 0:
        base = spec[: spec.rfind("/", 0, glob_at) + 1]
        fs, base_path = filesystem(base)
        pattern = base_path.rstrip("/") + "/" + spec[len(base):]
        infos = fs.get_file_info(pafs.FileSelector(base_path, recursive=True))
        infos = [i for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, pattern)]
    else:
        fs, path = filesystem(spec)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            infos = [info]
        elif info.type == pafs.FileType.Directory:
            infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
            infos = [i for i in infos if i.type == pafs.FileType.File and _listed(i.path)
                     and not any(p.startswith(("_", ".")) for p in i.path[len(path):].split("/")[:-1])]
        else:
            raise FileNotFoundError(f"[annotate] Input not found: {spec}. Give a file, folder, glob or URI.")
    return fs, [(i.path, int(i.size or 0)) for i in infos]


def resolve_inputs(spec: str) -> Tuple[Any, List[InputFile]]:
    """The input files a path, folder, glob or URI names, sorted by path.

    A folder yields its .jsonl/.ndjson/.json and .parquet/.pq files
    (recursively, skipping names that start with "_" or "."); a single file is
    read as Parquet if its name ends with .parquet/.pq and as JSONL otherwise.

    spec (str): Local path, folder, glob, or URI such as s3://bucket/prefix/.
    RETURNS (Tuple[Any, List[InputFile]]): The (pyarrow) filesystem and files.
    """
    if is_uri(spec):
        fs, files = _remote_files(spec)
    else:
        fs, files = filesystem(".")[0], _local_files(spec)
    if not files:
        raise FileNotFoundError(
            f"[annotate] No input files in {spec}: expected .jsonl, .ndjson, .json or .parquet files."
        )
    return fs, sorted((InputFile(path, size, file_kind(path)) for path, size in files), key=lambda f: f.path)


def check_not_inside_input(spec: str, output: str) -> None:
    """Refuse a local output inside a local input folder, where the next run
    would read it as input."""
    if is_uri(spec) or is_uri(output):
        return
    folder = os.path.abspath(os.path.expanduser(spec))
    if any(c in spec for c in GLOB_CHARS):
        folder = os.path.dirname(folder[: min(folder.find(c) for c in GLOB_CHARS if c in folder)])
    elif not os.path.isdir(folder):
        return
    output = os.path.abspath(os.path.expanduser(output))
    if os.path.commonpath([folder, output]) == folder:
        raise ValueError(
            f"[annotate] The output {output} is inside the input folder {folder}: a later run would read it as "
            "input. Give an output path outside the input folder."
        )


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


def require_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("Reading or writing Parquet needs pyarrow: pip install pyarrow") from None
    return pq


def parquet_row_groups(fs: Any, path: str) -> List[int]:
    """The number of rows of each row group of a Parquet file."""
    pq = require_parquet()

    with fs.open_input_file(path) as file_:
        meta = pq.ParquetFile(file_).metadata
        return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def iter_parquet_batches(fs: Any, path: str, batch_size: int = 1024) -> Iterator[Tuple[int, Any]]:
    """Read a Parquet file once, in batches.

    YIELDS (Tuple[int, pyarrow.Table]): (row number of the batch's first row, rows).
    """
    import pyarrow as pa

    pq = require_parquet()
    with fs.open_input_file(path) as file_:
        row = 0
        for batch in pq.ParquetFile(file_).iter_batches(batch_size=batch_size):
            yield row, pa.Table.from_batches([batch])
            row += batch.num_rows


def read_parquet_rows(fs: Any, path: str, start: int, end: int) -> Any:
    """Rows [start, end) of a Parquet file as a pyarrow Table, reading only
    the row groups that hold them."""
    pq = require_parquet()

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
    assert first is not None  # set with the first group
    return table.slice(start - first, end - start)
