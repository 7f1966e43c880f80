"""Annotate a corpus on a Ray cluster: sharded, resumable, every record once.

The driver splits the input (JSONL byte ranges, Parquet row ranges) into
shards with deterministic names (``part-000000.parquet``, ...) and writes the
plan to ``OUTPUT/_plan.json``. A pool of Ray actors (Ray Data `map_batches`
with a callable class) loads the pipeline once per actor and annotates one
shard per call with the same core as local `annotate`
(`spacy_crf_ner.records`). A shard is written in this order, each file
complete or absent: its errors (``_errors/part-N.jsonl``), its records
(``part-N.parquet``), then its marker (``_done/part-N.json``). So:

- a worker that dies is replaced by Ray and its shard redone; a redone shard
  overwrites the same names, so no record is written twice;
- a shard that raises is retried; if it fails again, its records are
  annotated one by one and the ones that still fail go to the errors;
- a rerun with the same OUTPUT skips shards that have a marker (resume after
  the driver was killed) and redoes the others.

At the end the driver writes ``_errors.jsonl`` (source file, line or row,
reason for every record not annotated) and ``_manifest.json`` (counts,
shards, per-worker model load time and memory). Files whose names start with
"_" are ignored by Parquet readers (pandas, pyarrow, DuckDB globs on
``part-*.parquet``, Spark), so OUTPUT reads as one Parquet dataset.

Ray is an optional dependency: ``pip install 'spacy-crf-ner[ray]'``.
"""
import json
import logging
import os
import resource
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .records import (
    annotate_records,
    annotate_table,
    error_record,
    parse_jsonl_line,
    records_to_table,
)
from .sources import InputFile, check_not_inside_input, filesystem, is_uri, read_jsonl_lines, read_parquet_rows, resolve_inputs

logger = logging.getLogger("spacy_crf_ner")

PLAN_FILE = "_plan.json"
MANIFEST_FILE = "_manifest.json"
ERRORS_FILE = "_errors.jsonl"
DONE_DIR = "_done"
ERRORS_DIR = "_errors"
PLAN_VERSION = 1


def require_ray() -> Any:
    """Import Ray (with Ray Data) or raise an ImportError naming the extra."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"[annotate] The Ray engine needs Ray Data, which is not installed ({err}). "
            "Install the extra: pip install 'spacy-crf-ner[ray]'"
        ) from None
    return ray


def shard_name(index: int) -> str:
    return f"part-{index:06d}"


@dataclass
class DistributedStats:
    """What `annotate_ray` did: records read, annotated and rejected, shards
    planned, done in this run, and kept from an earlier run."""

    read: int = 0
    written: int = 0
    errors: int = 0
    shards: int = 0
    computed: List[int] = field(default_factory=list)
    kept: List[int] = field(default_factory=list)
    workers: List[Dict[str, Any]] = field(default_factory=list)
    cluster_start_s: float = 0.0
    seconds: float = 0.0
    processing_s: float = 0.0


# ---- output filesystem -----------------------------------------------------


def _join(base: str, *names: str) -> str:
    return "/".join([base.rstrip("/"), *names])


def _write_bytes(fs: Any, path: str, data: bytes) -> None:
    """Write a file so that it is complete or absent: object stores (S3, GCS)
    publish an object only once its upload is complete; on other filesystems
    (local disks, HDFS) the file is written under a hidden temporary name
    and renamed."""
    import pyarrow.fs as pafs

    folder, name = path.rsplit("/", 1)
    tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"  # hidden from Parquet readers
    if isinstance(fs, pafs.LocalFileSystem):
        with open(tmp, "wb") as file_:
            file_.write(data)
            file_.flush()
            os.fsync(file_.fileno())
        os.replace(tmp, path)
    elif type(fs).__name__ in ("S3FileSystem", "GcsFileSystem"):
        with fs.open_output_stream(path) as file_:
            file_.write(data)
    else:
        with fs.open_output_stream(tmp) as file_:
            file_.write(data)
        fs.move(tmp, path)


def _read_json(fs: Any, path: str) -> Any:
    with fs.open_input_stream(path) as file_:
        return json.loads(file_.read().decode("utf8"))


def _exists(fs: Any, path: str) -> bool:
    import pyarrow.fs as pafs

    return fs.get_file_info(path).type != pafs.FileType.NotFound


def _parquet_bytes(table: Any) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


# ---- planning ----------------------------------------------------------------


def plan_shards(fs: Any, files: List[InputFile], *, shard_bytes: int, shard_rows: int) -> List[Dict[str, Any]]:
    """Split input files into shards: byte ranges of JSONL files (a line
    belongs to the range its first byte is in) and row ranges of Parquet files.

    RETURNS (List[dict]): index, path, kind, start, end of each shard, in
        file order.
    """
    from .sources import parquet_row_groups

    shards: List[Dict[str, Any]] = []
    for input_file in files:
        if input_file.kind == "parquet":
            total, step = sum(parquet_row_groups(fs, input_file.path)), max(1, shard_rows)
        else:
            total, step = input_file.size, max(1, shard_bytes)
        for start in range(0, max(total, 1), step):
            shards.append({"index": len(shards), "path": input_file.path, "kind": input_file.kind,
                           "start": start, "end": min(start + step, total)})
    return shards


def _auto_sizes(files: List[InputFile], fs: Any, workers: int) -> Tuple[int, int]:
    """Shard sizes that give each worker about 8 shards (so that the last
    shards balance), within 64 KiB-16 MiB of JSONL and 1,000-100,000 Parquet
    rows: a worker holds one shard and its annotations in memory."""
    from .sources import parquet_row_groups

    n_bytes = sum(f.size for f in files if f.kind == "jsonl")
    n_rows = sum(sum(parquet_row_groups(fs, f.path)) for f in files if f.kind == "parquet")
    target = max(1, workers) * 8
    shard_bytes = min(16 << 20, max(64 << 10, n_bytes // target + 1))
    shard_rows = min(100_000, max(1_000, n_rows // target + 1))
    return shard_bytes, shard_rows


# ---- the worker --------------------------------------------------------------


def _rss_mb() -> float:
    """Resident memory of this process in MB (peak if the current value is
    not available)."""
    try:
        with open("/proc/self/statm") as file_:
            return int(file_.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class ShardAnnotator:
    """A Ray Data callable class: loads the pipeline once, then annotates one
    shard per row of each batch it is given and writes its files.

    model (str): Pipeline directory every node can read, or an installed
        pipeline package.
    output (str): Output folder or URI.
    fs_spec (str): A path or URI on the input's filesystem.
    text_column (str): The key or column that holds the text.
    tokens (bool): Include tokens and tags.
    batch_size (int): Texts per batch for `nlp.pipe`.
    use_gpu (bool): Run the pipeline on the actor's GPU.
    code (Optional[str]): A Python file to import first (custom components).
    attempts (int): Tries per shard before annotating its records one by one.
    """

    def __init__(self, model: str, output: str, fs_spec: str, text_column: str = "text", tokens: bool = True,
                 batch_size: int = 64, use_gpu: bool = False, code: Optional[str] = None, attempts: int = 2) -> None:
        import socket

        import spacy

        start = time.perf_counter()
        if code:
            from spacy.util import import_file

            import_file("annotate_code", code)
        if use_gpu:
            from .cli import require_gpu

            require_gpu(0)  # Ray makes the actor's GPU(s) visible from index 0
        self.nlp = spacy.load(model)
        self.load_s = time.perf_counter() - start
        self.rss_after_load_mb = _rss_mb()
        self.host = socket.gethostname()
        self.out_fs, self.output = filesystem(output)
        self.in_fs = filesystem(fs_spec)[0]
        self.text_column = text_column
        self.tokens = tokens
        self.batch_size = batch_size
        self.attempts = attempts
        logger.info("worker pid %d on %s: pipeline loaded in %.1fs, RSS %.0f MB",
                    os.getpid(), self.host, self.load_s, self.rss_after_load_mb)

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[Any]]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        summaries = [self.process({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
                     for row in rows]
        return {key: [s[key] for s in summaries] for key in summaries[0]} if summaries else {}

    def process(self, shard: Dict[str, Any]) -> Dict[str, Any]:
        """Annotate one shard and write its files; retry, then isolate the
        records that fail."""
        start = time.perf_counter()
        shard["started"] = time.time()
        for attempt in range(1, self.attempts + 1):
            try:
                return self._finish(shard, self._annotate(shard, isolate=False), start, attempt)
            except Exception as err:  # noqa: BLE001 - any failure of a shard is retried
                logger.warning("%s (%s bytes/rows %d-%d) failed on attempt %d: %s", shard_name(shard["index"]),
                               shard["path"], shard["start"], shard["end"], attempt, err)
        return self._finish(shard, self._annotate(shard, isolate=True), start, self.attempts + 1)

    def _finish(self, shard: Dict[str, Any], result: Tuple[Any, List[Dict[str, Any]], int, int],
                start: float, attempts: int) -> Dict[str, Any]:
        table, errors, n_read, n_lines = result
        name = shard_name(shard["index"])
        if errors:
            data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors).encode("utf8")
            _write_bytes(self.out_fs, _join(self.output, ERRORS_DIR, name + ".jsonl"), data)
        if table is not None and table.num_rows:
            _write_bytes(self.out_fs, _join(self.output, name + ".parquet"), _parquet_bytes(table))
        summary = {
            "index": shard["index"],
            "read": n_read,
            "written": 0 if table is None else table.num_rows,
            "errors": len(errors),
            "lines": n_lines,
            "attempts": attempts,
            "seconds": time.perf_counter() - start,
            "started": shard["started"],
            "finished": time.time(),
            "pid": os.getpid(),
            "host": self.host,
            "load_s": self.load_s,
            "rss_after_load_mb": self.rss_after_load_mb,
            "rss_mb": _rss_mb(),
        }
        _write_bytes(self.out_fs, _join(self.output, DONE_DIR, name + ".json"), json.dumps(summary).encode("utf8"))
        return summary

    def _annotate(self, shard: Dict[str, Any], isolate: bool) -> Tuple[Any, List[Dict[str, Any]], int, int]:
        """RETURNS: (table or None, errors, records read, lines in the shard).
        JSONL errors carry the line number within the shard, made absolute
        when the run is finalized."""
        if shard["kind"] == "parquet":
            table = read_parquet_rows(self.in_fs, shard["path"], shard["start"], shard["end"])
            parts = [(table, shard["start"])] if not isolate else [
                (table.slice(i, 1), shard["start"] + i) for i in range(table.num_rows)
            ]
            tables, errors = [], []
            for part, first_row in parts:
                try:
                    annotated, errs = annotate_table(self.nlp, part, text_column=self.text_column,
                                                     tokens=self.tokens, batch_size=self.batch_size,
                                                     source=shard["path"], first_row=first_row)
                except Exception as err:  # noqa: BLE001 - only when isolating: one row fails
                    if not isolate:
                        raise
                    errors.append(error_record(f"pipeline error: {' '.join(str(err).split())}",
                                               source=shard["path"], row=first_row))
                    continue
                tables.append(annotated)
                errors.extend(errs)
            return _concat(tables), errors, table.num_rows, 0
        records, errors, n_read, n_lines = [], [], 0, 0
        for line_no, raw, _ in read_jsonl_lines(self.in_fs, shard["path"], shard["start"], shard["end"]):
            n_lines = line_no
            record, reason = parse_jsonl_line(raw, self.text_column)
            if record is not None:
                n_read += 1
                records.append((record, line_no))
            elif reason is not None:
                n_read += 1
                errors.append(error_record(reason, source=shard["path"], line=line_no))
            # else: a blank line
        groups = [records] if not isolate else [[item] for item in records]
        out: List[Dict[str, Any]] = []
        for group in groups:
            try:
                out.extend(r for r, _ in annotate_records(self.nlp, group, text_column=self.text_column,
                                                          tokens=self.tokens, batch_size=self.batch_size))
            except Exception as err:  # noqa: BLE001 - only when isolating: one record fails
                if not isolate:
                    raise
                errors.append(error_record(f"pipeline error: {' '.join(str(err).split())}",
                                           source=shard["path"], line=group[0][1]))
        errors.sort(key=lambda e: e["line"])
        table = records_to_table(out, text_column=self.text_column, tokens=self.tokens) if out else None
        return table, errors, n_read, n_lines


def _concat(tables: List[Any]) -> Any:
    import pyarrow as pa

    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables) if tables else None


# ---- the driver --------------------------------------------------------------


def root_cause(err: BaseException) -> str:
    """The innermost "SomeError: message" line of an error that Ray wraps
    around a worker's traceback, or the error's first line."""
    import re

    text = str(err)
    causes = re.findall(r"^(\w+(?:Error|Exception): .*)$", text, flags=re.MULTILINE)
    if causes:
        return causes[-1].strip()
    return f"{type(err).__name__}: {text.strip().splitlines()[0] if text.strip() else ''}"


def _load_or_make_plan(out_fs: Any, output: str, input_spec: str, settings: Dict[str, Any], workers: int,
                       shard_bytes: Optional[int], shard_rows: Optional[int]) -> Dict[str, Any]:
    import pyarrow.fs as pafs

    plan_path = _join(output, PLAN_FILE)
    info = out_fs.get_file_info(output)
    if info.type == pafs.FileType.File:
        raise ValueError(f"[annotate] The output {output} is a file. The Ray engine writes a folder of Parquet "
                         "shards: give a folder path or URI.")
    in_fs, files = resolve_inputs(input_spec)
    check_not_inside_input(input_spec, output)
    fingerprint = [[f.path, f.size] for f in files]
    if isinstance(out_fs, pafs.LocalFileSystem) and isinstance(in_fs, pafs.LocalFileSystem):
        inside = [f.path for f in files if os.path.commonpath([os.path.abspath(output), f.path]) == os.path.abspath(output)]
        if inside:
            raise ValueError(f"[annotate] The input file {inside[0]} is inside the output folder {output}. "
                             "Give an output folder outside the input.")
    if _exists(out_fs, plan_path):
        plan = _read_json(out_fs, plan_path)
        if plan.get("inputs") != fingerprint or plan.get("settings") != settings:
            raise ValueError(
                f"[annotate] {output} holds a run over other input or settings ({plan_path}). "
                "Give a new output folder, or delete this one to start over."
            )
        return plan
    if info.type == pafs.FileType.Directory and out_fs.get_file_info(pafs.FileSelector(output)):
        raise ValueError(f"[annotate] The output folder {output} is not empty and holds no {PLAN_FILE}. "
                         "Give a new or empty output folder.")
    auto_bytes, auto_rows = _auto_sizes(files, in_fs, workers)
    shards = plan_shards(in_fs, files, shard_bytes=shard_bytes or auto_bytes, shard_rows=shard_rows or auto_rows)
    plan = {"version": PLAN_VERSION, "input": input_spec, "inputs": fingerprint, "settings": settings,
            "shards": shards}
    out_fs.create_dir(output, recursive=True)
    out_fs.create_dir(_join(output, DONE_DIR), recursive=True)
    out_fs.create_dir(_join(output, ERRORS_DIR), recursive=True)
    _write_bytes(out_fs, plan_path, json.dumps(plan, indent=1).encode("utf8"))
    return plan


def _done_summaries(out_fs: Any, output: str) -> Dict[int, Dict[str, Any]]:
    import pyarrow.fs as pafs

    selector = pafs.FileSelector(_join(output, DONE_DIR), allow_not_found=True)
    done = {}
    for info in out_fs.get_file_info(selector):
        if info.type == pafs.FileType.File and info.base_name.endswith(".json"):
            summary = _read_json(out_fs, info.path)
            done[summary["index"]] = summary
    return done


def _fs_spec(input_spec: str) -> str:
    """A path or URI that names the input's filesystem (the part before any glob)."""
    glob_at = min((input_spec.find(c) for c in "*?[" if c in input_spec), default=-1)
    return input_spec if glob_at < 0 else (input_spec[: input_spec.rfind("/", 0, glob_at) + 1] or ".")


def _finalize(out_fs: Any, output: str, plan: Dict[str, Any], done: Dict[int, Dict[str, Any]]) -> Dict[str, Any]:
    """Write `_errors.jsonl` (JSONL line numbers made absolute) and `_manifest.json`."""
    offsets: Dict[str, int] = {}
    lines: List[str] = []
    for shard in plan["shards"]:
        summary = done[shard["index"]]
        offset = offsets.get(shard["path"], 0)
        if summary["errors"]:
            errors_path = _join(output, ERRORS_DIR, shard_name(shard["index"]) + ".jsonl")
            with out_fs.open_input_stream(errors_path) as file_:
                for line in file_.read().decode("utf8").splitlines():
                    error = json.loads(line)
                    if error["line"] is not None:
                        error["line"] += offset
                    lines.append(json.dumps(error, ensure_ascii=False))
        offsets[shard["path"]] = offset + summary["lines"]
    _write_bytes(out_fs, _join(output, ERRORS_FILE), "".join(line + "\n" for line in lines).encode("utf8"))
    workers: Dict[str, Dict[str, Any]] = {}
    for summary in done.values():
        key = f"{summary['host']}:{summary['pid']}"
        worker = workers.setdefault(key, {"host": summary["host"], "pid": summary["pid"], "load_s": summary["load_s"],
                                          "rss_after_load_mb": summary["rss_after_load_mb"], "rss_mb": 0.0,
                                          "shards": 0, "records": 0, "seconds": 0.0})
        worker["rss_mb"] = max(worker["rss_mb"], summary["rss_mb"])
        worker["shards"] += 1
        worker["records"] += summary["written"]
        worker["seconds"] += summary["seconds"]
    manifest = {
        "input": plan["input"],
        "settings": plan["settings"],
        "read": sum(s["read"] for s in done.values()),
        "written": sum(s["written"] for s in done.values()),
        "errors": sum(s["errors"] for s in done.values()),
        "shards": [{"name": shard_name(s["index"]), "path": s["path"], "start": s["start"], "end": s["end"],
                    **{k: done[s["index"]][k] for k in ("read", "written", "errors", "attempts")}}
                   for s in plan["shards"]],
        "workers": sorted(workers.values(), key=lambda w: (w["host"], w["pid"])),
    }
    _write_bytes(out_fs, _join(output, MANIFEST_FILE), json.dumps(manifest, indent=1).encode("utf8"))
    return manifest


def annotate_ray(
    model: str,
    input_spec: str,
    output: str,
    *,
    address: Optional[str] = None,
    workers: int = 1,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
    batch_size: int = 64,
    text_column: str = "text",
    tokens: bool = True,
    code: Optional[str] = None,
    shard_bytes: Optional[int] = None,
    shard_rows: Optional[int] = None,
    progress: bool = True,
) -> DistributedStats:
    """Annotate JSONL or Parquet input into a folder of Parquet shards on Ray.

    model (str): Pipeline directory every node can read, or an installed
        pipeline package.
    input_spec (str): JSONL or Parquet file, folder, glob, or URI (s3://,
        gs://, hdfs://, any pyarrow filesystem).
    output (str): Output folder or URI. A rerun with the same output resumes.
    address (Optional[str]): Ray cluster address ("auto", "ray://host:10001");
        None connects to a running Ray session or starts a local one.
    workers (int): Ray actors, each with its own copy of the pipeline.
    gpus_per_worker (float): GPUs per actor; > 0 runs the pipeline on GPU.
    cpus_per_worker (float): CPUs per actor.
    batch_size (int): Texts per batch for `nlp.pipe`.
    text_column (str): The key or column that holds the text.
    tokens (bool): Include the tokens and their tags.
    code (Optional[str]): Python file every worker imports first (custom
        components); a path every node can read.
    shard_bytes (Optional[int]): Bytes of JSONL per shard (default: about 8
        shards per worker).
    shard_rows (Optional[int]): Parquet rows per shard (default likewise).
    progress (bool): Show a progress bar of shards done (total and ETA).
    RETURNS (DistributedStats): Counts, shards computed and kept, per-worker
        model load time and memory, the run's seconds (`seconds`) and the
        seconds from the first shard's start to the last shard's end
        (`processing_s`, without worker start and model load).
    """
    ray = require_ray()
    started = time.perf_counter()
    stats = DistributedStats()
    if not ray.is_initialized():
        if address is None:
            ray.init(include_dashboard=False, log_to_driver=True)
        else:
            ray.init(address=address, log_to_driver=True)
    stats.cluster_start_s = time.perf_counter() - started
    if gpus_per_worker > 0:
        available = ray.cluster_resources().get("GPU", 0.0)
        if available < gpus_per_worker:
            raise RuntimeError(
                f"[annotate] No GPU available: --gpus-per-worker {gpus_per_worker} but the Ray cluster has "
                f"{available:g} GPUs. Start the Ray nodes with GPUs (ray start --num-gpus N) and CuPy installed "
                "(pip install cupy-cuda12x), or use --gpus-per-worker 0."
            )
    if not is_uri(output):
        output = os.path.abspath(output)
    if os.path.exists(model):  # workers may run elsewhere than the driver's folder
        model = os.path.abspath(model)
    if code is not None and os.path.exists(code):
        code = os.path.abspath(code)
    out_fs, out_path = filesystem(output)
    settings = {"model": model, "text_column": text_column, "tokens": tokens}
    plan = _load_or_make_plan(out_fs, out_path, input_spec, settings, workers, shard_bytes, shard_rows)
    done = _done_summaries(out_fs, out_path)
    todo = [s for s in plan["shards"] if s["index"] not in done]
    stats.shards = len(plan["shards"])
    stats.kept = sorted(done)
    if done:
        logger.info("Resuming %s: %d of %d shards are done and kept", output, len(done), stats.shards)
    if todo:
        import ray.data

        from tqdm import tqdm

        ray.data.DataContext.get_current().enable_progress_bars = False  # ours counts shards and records
        dataset = ray.data.from_items(todo, override_num_blocks=len(todo))
        results = dataset.map_batches(
            ShardAnnotator,
            fn_constructor_kwargs={
                "model": model, "output": output, "fs_spec": _fs_spec(input_spec), "text_column": text_column,
                "tokens": tokens, "batch_size": batch_size, "use_gpu": gpus_per_worker > 0, "code": code,
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=max(1, min(workers, len(todo)))),
            num_cpus=cpus_per_worker,
            num_gpus=gpus_per_worker or None,
        )
        bar = tqdm(total=len(todo), desc="annotate", unit="shard", disable=not progress)
        records = 0
        try:
            for row in results.iter_rows():
                stats.computed.append(int(row["index"]))
                records += int(row["written"])
                bar.set_postfix_str(f"{records:,} docs", refresh=False)
                bar.update(1)
        except Exception as err:  # noqa: BLE001 - Ray wraps the worker's error in its own
            raise RuntimeError(
                f"[annotate] The Ray job failed: {root_cause(err)}. Finished shards are kept: fix the cause and "
                "run the same command again to resume."
            ) from err
        finally:
            bar.close()
        stats.computed.sort()
    done = _done_summaries(out_fs, out_path)
    missing = [s["index"] for s in plan["shards"] if s["index"] not in done]
    if missing:
        raise RuntimeError(f"[annotate] Shards {', '.join(map(shard_name, missing[:10]))} did not finish. "
                           "Run the same command again to resume.")
    manifest = _finalize(out_fs, out_path, plan, done)
    stats.read, stats.written, stats.errors = manifest["read"], manifest["written"], manifest["errors"]
    stats.workers = manifest["workers"]
    computed = [done[i] for i in stats.computed]
    if computed:  # first shard started to last shard finished: without worker start and model load
        stats.processing_s = max(s["finished"] for s in computed) - min(s["started"] for s in computed)
    for worker in stats.workers:
        logger.info("worker %s pid %d: pipeline loaded in %.1fs, RSS %.0f MB after load, %.0f MB at most; "
                    "%d records in %d shards", worker["host"], worker["pid"], worker["load_s"],
                    worker["rss_after_load_mb"], worker["rss_mb"], worker["records"], worker["shards"])
    stats.seconds = time.perf_counter() - started
    return stats


def iter_errors(output: str) -> Iterator[Dict[str, Any]]:
    """The error records of a finished run (source, line or row, reason)."""
    out_fs, out_path = filesystem(output)
    with out_fs.open_input_stream(_join(out_path, ERRORS_FILE)) as file_:
        for line in file_.read().decode("utf8").splitlines():
            yield json.loads(line)
