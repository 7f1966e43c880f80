"""`warmup` compiles the kernels a pipeline uses into numba's cache."""
import os
import subprocess
import sys

import pytest

from spacy_crf_ner.warmup import kernel_cache_folders, sample_pipeline, warm_up, warm_up_models


def test_warm_up_a_saved_pipeline(tmp_path):
    nlp = sample_pipeline()
    assert [e.text for e in nlp("IBM is in Paris .").ents] == ["IBM", "Paris"]
    nlp.to_disk(tmp_path / "model")
    seconds = warm_up_models([tmp_path / "model"])
    assert list(seconds) == [str(tmp_path / "model")]
    assert warm_up(nlp, ["IBM ."]) >= 0
    folders = kernel_cache_folders()
    # In __pycache__ beside layers/ and kb/, or in NUMBA_CACHE_DIR/layers_*, kb_*.
    assert any("layers" in f for f in folders) and any("kb" in f for f in folders)


@pytest.mark.slow
def test_warmup_command_fills_an_empty_cache_folder(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, "-m", "spacy_crf_ner", "warmup"], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Warmed up sample pipeline" in out.stdout
    cached = {p.parent.name.split("_")[0] for p in (tmp_path / "cache").rglob("*.nbc")}
    # The CRF's kernels (layers/) and the candidate search's (kb/).
    assert cached == {"layers", "kb"}
