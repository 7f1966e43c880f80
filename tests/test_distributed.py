"""The Ray engine on a local 2-CPU Ray cluster: every record exactly once
(in the output or the errors) despite a failing batch and a poisonous record
(and a killed worker, under --runslow); resume after an interrupted run;
Parquet in and out."""
import json
import os
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs the [ray] extra")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from spacy_crf_ner.distributed import (  # noqa: E402
    DONE_DIR,
    ERRORS_FILE,
    MANIFEST_FILE,
    annotate_ray,
    iter_errors,
    require_ray,
    shard_name,
)

FAULTS = Path(__file__).parent / "ray_faults.py"
TEXTS = ["Sarah flew to Paris.", "I like Berlin."]


@pytest.fixture(scope="module")
def ray_cluster():
    for key, value in {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0", "RAY_AUTH_MODE": "disabled"}.items():
        os.environ.setdefault(key, value)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=150 * 1024**2,
             configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def model_dir(tiny_ner, tmp_path_factory):
    """The tiny pipeline plus a fault injector, saved where workers load it."""
    import spacy
    from spacy.util import import_file

    import_file("ray_faults", str(FAULTS))
    path = tmp_path_factory.mktemp("ray-model")
    tiny_ner.to_disk(path / "base")
    nlp = spacy.load(path / "base")
    markers = path / "markers"
    markers.mkdir()
    nlp.add_pipe("test_fault_injector", config={"marker_dir": str(markers)})
    nlp.to_disk(path / "model")
    return path / "model", markers


def write_jsonl(path: Path, lines) -> None:
    with path.open("wb") as file_:
        for line in lines:
            file_.write(line if isinstance(line, bytes) else (json.dumps(line) + "\n").encode("utf8"))


def read_ids(output: Path):
    return sorted(pq.read_table(output).column("id").to_pylist())


def test_require_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"spacy-crf-ner\[ray\]"):
        require_ray()


def test_every_record_once_with_errors_at_their_lines(ray_cluster, model_dir, tmp_path):
    model, markers = model_dir
    records = [{"id": i, "text": TEXTS[i % 2], "meta": {"n": i}} for i in range(60)]
    # a batch that fails once is retried; a record that always fails is isolated
    records[50]["text"], records[12]["text"] = "FAIL once.", "POISON always."  # in other shards
    (markers / "fail").touch()
    lines = [(json.dumps(r) + "\n").encode() for r in records]
    # bad lines spread over the shards: invalid JSON, undecodable bytes, missing and non-string text
    bad = {5: b"{broken\n", 23: b"\xff\xfe not utf-8\n", 41: b'{"id": "no text"}\n', 58: b'{"text": 3}\n'}
    for line_no in sorted(bad):
        lines.insert(line_no - 1, bad[line_no])
    lines.insert(10, b"\n")  # blank lines are neither records nor errors
    bad = {k + (k > 10): v for k, v in bad.items()}
    poison = lines.index((json.dumps(records[12]) + "\n").encode()) + 1
    src = tmp_path / "in" / "a.jsonl"
    src.parent.mkdir()
    write_jsonl(src, lines)
    out = tmp_path / "out"
    stats = annotate_ray(str(model), str(src.parent), str(out), workers=2, shard_bytes=700, code=str(FAULTS),
                         progress=False)
    assert stats.shards > 4 and stats.computed == list(range(stats.shards))
    assert not (markers / "fail").exists()  # the failure happened
    assert (stats.read, stats.written, stats.errors) == (64, 59, 5)
    assert read_ids(out) == [i for i in range(60) if i != 12]
    errors = list(iter_errors(str(out)))
    assert [(e["source"], e["line"]) for e in errors] == [(str(src), n) for n in sorted([*bad, poison])]
    reasons = {e["line"]: e["reason"] for e in errors}
    assert reasons[poison] == "pipeline error: this text always fails"
    reasons = [reasons[n] for n in sorted(bad)]
    assert reasons[0].startswith("not valid JSON") and reasons[1].startswith("undecodable bytes")
    assert reasons[2] == 'no "text" value' and reasons[3].startswith('"text" is not a string')
    # typed columns, carried fields, readable as one dataset
    table = pq.read_table(out)
    entity = table.schema.field("entities").type.value_type
    assert [f.name for f in entity] == ["start", "end", "label", "text", "confidence", "kb_id", "candidates"]
    assert entity.field("start").type == pa.int64() and entity.field("confidence").type == pa.float64()
    row = table.filter(pa.compute.equal(table.column("id"), 1)).to_pylist()[0]
    assert row["meta"] == {"n": 1} and row["text"] == TEXTS[1]
    assert [(e["text"], e["label"]) for e in row["entities"]] == [("Berlin", "LOC")]
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    attempts = sorted(shard["attempts"] for shard in manifest["shards"])
    assert attempts[-2:] == [2, 3] and attempts[:-2] == [1] * (len(attempts) - 2)
    assert len(manifest["workers"]) == 2 and all(w["load_s"] > 0 and w["rss_mb"] > 0 for w in manifest["workers"])
    duckdb = pytest.importorskip("duckdb")
    assert duckdb.sql(f"select count(*) from read_parquet('{out}/*.parquet')").fetchall() == [(59,)]


@pytest.mark.slow  # restarting the killed worker (a new process loading the pipeline) takes long
def test_killed_worker_failing_batch_and_poison_record(ray_cluster, model_dir, tmp_path):
    model, markers = model_dir
    texts = [TEXTS[i % 2] for i in range(40)]
    texts[7], texts[25], texts[33] = "KILL this worker.", "FAIL once.", "POISON always."
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": i, "text": t} for i, t in enumerate(texts)])
    (markers / "kill").touch()
    (markers / "fail").touch()
    out = tmp_path / "out"
    stats = annotate_ray(str(model), str(src), str(out), workers=2, shard_bytes=300, code=str(FAULTS),
                         progress=False)
    assert not (markers / "kill").exists() and not (markers / "fail").exists()  # both faults happened
    assert read_ids(out) == [i for i in range(40) if i != 33]  # each once
    errors = list(iter_errors(str(out)))
    assert [(e["line"], e["reason"]) for e in errors] == [(34, "pipeline error: this text always fails")]
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    attempts = {s["name"]: s["attempts"] for s in manifest["shards"]}
    assert sorted(attempts.values())[-2:] == [2, 3]  # the failing batch's shard, the poisoned shard
    assert stats.written == 39 and stats.errors == 1


def test_rerun_resumes_and_keeps_finished_shards(ray_cluster, model_dir, tmp_path):
    model, _ = model_dir
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": i, "text": TEXTS[i % 2]} for i in range(40)])
    out = tmp_path / "out"
    first = annotate_ray(str(model), str(src), str(out), workers=1, shard_bytes=300, code=str(FAULTS), progress=False)
    n = first.shards
    assert n >= 6
    kept = {i: (out / f"{shard_name(i)}.parquet").stat().st_mtime_ns for i in range(n)}
    # an interrupted run: two shards never finished, one left only its data file, a temporary file remains
    for i in (1, 4):
        (out / f"{shard_name(i)}.parquet").unlink()
        (out / DONE_DIR / f"{shard_name(i)}.json").unlink()
    (out / DONE_DIR / f"{shard_name(2)}.json").unlink()
    (out / f".{shard_name(3)}.parquet.0123.tmp").write_bytes(b"partial")
    (out / MANIFEST_FILE).unlink()
    second = annotate_ray(str(model), str(src), str(out), workers=1, code=str(FAULTS), progress=False)
    assert second.computed == [1, 2, 4]
    assert second.kept == [i for i in range(n) if i not in (1, 2, 4)]
    assert all((out / f"{shard_name(i)}.parquet").stat().st_mtime_ns == kept[i] for i in second.kept)
    assert read_ids(out) == list(range(40)) and second.written == 40
    # a rerun over other input is refused instead of mixing outputs
    write_jsonl(src, [{"id": i, "text": TEXTS[0]} for i in range(41)])
    with pytest.raises(ValueError, match="other input"):
        annotate_ray(str(model), str(src), str(out), code=str(FAULTS), progress=False)


def test_cli_parquet_uris_text_column_and_row_errors(ray_cluster, model_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_crf_ner.cli import app

    model, _ = model_dir
    src = tmp_path / "docs.parquet"
    bodies = [TEXTS[i % 2] for i in range(30)]
    bodies[12] = None
    pq.write_table(pa.table({"doc_id": [f"d{i}" for i in range(30)], "body": bodies,
                             "year": pa.array(range(2000, 2030), pa.int16())}), src, row_group_size=8)
    out = tmp_path / "out"
    # input and output as filesystem URIs, as for object storage
    result = CliRunner().invoke(app, ["annotate", str(model), f"file://{src}", f"file://{out}", "--engine", "ray",
                                      "--workers", "2", "--text-column", "body", "--no-tokens",
                                      "--code", str(FAULTS)])
    assert result.exit_code == 0, result.output
    assert "Annotated 29 of 30 records" in result.output
    table = pq.read_table(out)
    assert table.column_names == ["doc_id", "year", "body", "entities"]
    assert table.schema.field("year").type == pa.int16()
    assert sorted(table.column("doc_id").to_pylist()) == sorted(f"d{i}" for i in range(30) if i != 12)
    errors = [json.loads(line) for line in (out / ERRORS_FILE).read_text().splitlines()]
    assert errors == [{"source": str(src), "line": None, "row": 12, "reason": 'no "body" value'}]


def test_more_gpus_than_the_cluster_has(ray_cluster, model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"text": TEXTS[0]}])
    with pytest.raises(RuntimeError, match="No GPU available.*--gpus-per-worker 0"):
        annotate_ray(str(model_dir[0]), str(src), str(tmp_path / "out"), gpus_per_worker=1, progress=False)


def test_a_pipeline_that_cannot_load_is_one_clear_error(ray_cluster, tmp_path):
    bad = tmp_path / "model"
    bad.mkdir()
    (bad / "config.cfg").write_text("not a config")
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"text": TEXTS[0]}])
    with pytest.raises(RuntimeError, match=r"The Ray job failed: OSError: \[E053\] Could not read meta.json"):
        annotate_ray(str(bad), str(src), str(tmp_path / "out"), progress=False)


@pytest.mark.slow
def test_driver_killed_mid_run_then_resumed(ray_cluster, model_dir, tmp_path):
    """A real interruption: a driver connected to the cluster is killed after
    a few shards; a rerun keeps the finished shards and does the rest."""
    import signal
    import subprocess
    import time

    model, _ = model_dir
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": i, "text": TEXTS[i % 2]} for i in range(3000)])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    address = ray.get_runtime_context().gcs_address
    code = (f"from spacy_crf_ner.distributed import annotate_ray; s = annotate_ray({str(model)!r}, {str(src)!r}, "
            f"{str(out)!r}, address={address!r}, workers=1, shard_bytes=2000, code={str(FAULTS)!r}, "
            "progress=False); print(s.kept, '|', s.computed)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob(f"{DONE_DIR}/*.json"))) < 3:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(2)  # Ray ends the dead driver's workers; a shard in flight may still finish
    done_before = {int(p.stem.split("-")[1]) for p in out.glob(f"{DONE_DIR}/*.json")}
    n_shards = len(json.loads((out / "_plan.json").read_text())["shards"])
    assert 3 <= len(done_before) < n_shards
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    kept, computed = (json.loads(part) for part in run.stdout.strip().splitlines()[-1].split("|"))
    assert done_before <= set(kept) and not set(kept) & set(computed)
    assert sorted(kept + computed) == list(range(n_shards))
    assert read_ids(out) == list(range(3000))
