"""Damaged pipeline directories: every file of a saved crf_ner +
entity_normalizer pipeline is truncated and has bytes flipped; loading it
must give a clean error or the same predictions, and never crash the
process. The loads run in a subprocess, so that a crash fails the test
instead of killing pytest."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spacy_crf_ner.integrity import CHECKSUMS, verify_checksums, write_checksums

from util import TEXTS, ner_normalizer_pipeline, predictions, write_kb

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
OURS = ("crf_ner/", "entity_normalizer/")
CLEAN = {"ValueError", "OSError"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    nlp = ner_normalizer_pipeline(write_kb(root / "kb.jsonl"))
    nlp.to_disk(root / "pipeline")
    return root / "pipeline", predictions(nlp, TEXTS)


def run_cases(pipeline: Path, work: Path, cases):
    """Each case (file, mutation, drop checksums) in one subprocess."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.jsonl"
    log.write_text("")
    job = {
        "pipeline": str(pipeline),
        "work": str(work),
        "log": str(log),
        "texts": TEXTS,
        "cases": cases,
    }
    (work / "job.json").write_text(json.dumps(job))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, str(TESTS / "util.py"), str(work / "job.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    done = [e for e in entries if e["status"] != "start"]
    if proc.returncode != 0 or len(done) != len(cases):
        last = entries[-1]["case"] if entries else None
        pytest.fail(
            f"the process died (code {proc.returncode}) on case {last}:\n{proc.stderr[-3000:]}"
        )
    return done


def files_of(pipeline: Path):
    return sorted(p.relative_to(pipeline).as_posix() for p in pipeline.rglob("*") if p.is_file())


def check(done, expected):
    """Damage to our components' files: a ValueError or OSError with a
    message, or (checksums dropped) a load that predicts. With checksums,
    every damage to them is caught. spaCy's own files: no crash."""
    for entry in done:
        rel, how, dropped = entry["case"]
        if not rel.startswith(OURS):
            continue
        if entry["status"] == "error":
            assert CLEAN & set(
                entry["bases"]
            ), f"{rel} {how}: {entry['type']}: {entry['message']}\n{entry['where']}"
            assert entry["message"].strip(), f"{rel} {how}: {entry['type']} without a message"
        else:
            assert dropped, f"{rel} {how}: damaged, loaded without an error"


# Damage to every file with checksums; to the data files without them (as in
# directories saved by older versions), where validation must catch it.
MUTATIONS = ["empty", "half", "flip@0.5"]
MORE = ["bit@0.97", "flip@0.1", "flip@0.9", "drop-last"]


@pytest.fixture(scope="module")
def damaged(saved, tmp_path_factory):
    pipeline, expected = saved
    files = files_of(pipeline)
    ours = [f for f in files if f.startswith(OURS)]
    cases = [[rel, "flip@0.5", False] for rel in files if not rel.startswith(OURS)]
    cases += [[rel, how, False] for rel in ours for how in MUTATIONS]
    cases += [
        [rel, how, True] for rel in ours if not rel.endswith(CHECKSUMS) for how in MUTATIONS + MORE
    ]
    return files, run_cases(pipeline, tmp_path_factory.mktemp("damaged"), cases), expected


def test_saved_pipeline_has_checksums(damaged):
    files, _, _ = damaged
    assert "entity_normalizer/index/row_ptr.npy" in files and "crf_ner/model" in files
    assert f"crf_ner/{CHECKSUMS}" in files and f"entity_normalizer/{CHECKSUMS}" in files


def test_damaged_files_with_checksums_fail_cleanly(damaged):
    _, done, expected = damaged
    check(done, expected)
    ours = [e for e in done if e["case"][0].startswith(OURS) and not e["case"][2]]
    assert ours and all(e["status"] == "error" for e in ours)


def test_damaged_files_without_checksums_fail_cleanly_or_predict(damaged):
    _, done, expected = damaged
    check(done, expected)
    dropped = [e for e in done if e["case"][2]]
    assert len(dropped) > 50
    # most damage is caught by validation, not just by the checksums
    assert sum(e["status"] == "error" for e in dropped) > len(dropped) / 2


@pytest.mark.slow
def test_many_random_flips_never_crash(saved, tmp_path):
    import random

    pipeline, expected = saved
    rng = random.Random(0)
    files = [f for f in files_of(pipeline) if not f.endswith(CHECKSUMS)]
    cases = [
        [rel, f"{rng.choice(['flip', 'bit'])}@{rng.random():.4f}", drop]
        for rel in files
        for drop in (False, True)
        for _ in range(30)
    ]
    check(run_cases(pipeline, tmp_path, cases), expected)


def test_checksums_name_the_changed_file(tmp_path):
    (tmp_path / "cfg").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.npy").write_bytes(b"123")
    write_checksums(tmp_path, ["cfg", "sub"])
    verify_checksums(tmp_path, "x")
    (tmp_path / "sub" / "a.npy").write_bytes(b"124")
    with pytest.raises(ValueError, match=r"a\.npy was damaged or changed after saving"):
        verify_checksums(tmp_path, "x")
    verify_checksums(tmp_path, "x", exclude=["sub"])
    (tmp_path / "sub" / "a.npy").unlink()
    with pytest.raises(ValueError, match=r"a\.npy is missing"):
        verify_checksums(tmp_path, "x")
    (tmp_path / CHECKSUMS).write_text('{"../../etc/passwd": "0"}')
    with pytest.raises(ValueError, match="outside"):
        verify_checksums(tmp_path, "x")
