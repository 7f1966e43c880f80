"""The command line: every error is one readable line and a non-zero exit
code (the traceback only with --debug), bad input lines are reported once,
--gpu-id without a GPU names the fix."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_crf_ner.cli import DEBUG_ENV, app

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def model(tiny_ner, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-model")
    tiny_ner.to_disk(path)
    return str(path)


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("✘")]
    assert len(lines) == 1, result.output
    return lines[0]


def gpu_usable() -> bool:
    try:
        import cupy  # noqa: F401
        import spacy

        return spacy.prefer_gpu(0)
    except Exception:
        return False


def test_annotate_refuses_its_input_as_output(model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n')
    line = one_error_line(invoke("annotate", model, src, src))
    assert "is the input file" in line and "Give another output path" in line
    assert src.read_text() == '{"text": "I like Berlin."}\n'


def test_output_under_a_regular_file(model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n')
    assert "is a file, not a folder" in one_error_line(invoke("annotate", model, src, src / "out.jsonl"))


def test_missing_input_and_unknown_engine(model, tmp_path):
    assert "Input not found" in one_error_line(invoke("annotate", model, tmp_path / "nope.jsonl", tmp_path / "o.jsonl"))
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n')
    assert "Unknown --engine 'spark'" in one_error_line(invoke("annotate", model, src, tmp_path / "o", "--engine", "spark"))


def test_convert_pubtator_bad_offsets(tmp_path):
    src = tmp_path / "bad.pubtator"
    src.write_text("1|t|Hello world\n1|a|Some text\n1\t100\t200\tfoo\tDisease\tD1\n\n")
    line = one_error_line(invoke("convert-pubtator", src, tmp_path / "out.spacy"))
    assert "bad.pubtator:3" in line


def test_each_bad_line_reported_once(model, tmp_path, caplog):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "I like Berlin."}\n{broken\n\xff\n')
    result = invoke("annotate", model, src, tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    everything = result.output + caplog.text
    assert everything.count(f"{src}:2") == 1 and everything.count(f"{src}:3") == 1
    assert "Annotated 1 of 3 records" in result.output


@pytest.mark.skipif(gpu_usable(), reason="a GPU is usable here")
@pytest.mark.parametrize("command", ["annotate", "report"])
def test_gpu_id_without_gpu(model, tmp_path, command):
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "I like Berlin."}\n')
    line = one_error_line(invoke(command, model, data, tmp_path / "out", "--gpu-id", "0"))
    assert "No GPU available for --gpu-id 0" in line and "cupy" in line and "--gpu-id -1" in line


def test_debug_shows_the_traceback(model, tmp_path, monkeypatch):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n')
    result = invoke("--debug", "annotate", model, src, src)
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)
    monkeypatch.setenv(DEBUG_ENV, "1")
    result = invoke("annotate", model, src, src)
    assert isinstance(result.exception, ValueError)


def test_python_m_error_is_one_line_and_exit_code(model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(DEBUG_ENV, None)
    cmd = [sys.executable, "-m", "spacy_crf_ner", "annotate", model, str(src), str(src)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_local_options_refused_with_ray(model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n')
    line = one_error_line(invoke("annotate", model, src, tmp_path / "out", "--engine", "ray", "--gpu-id", "0"))
    assert "--gpu-id apply to --engine local" in line and "--gpus-per-worker" in line


def test_build_kb_format_error_is_one_line(tmp_path):
    src = tmp_path / "kb.jsonl"
    src.write_text('{"id": "A", "name": "alpha"}\n{broken\n')
    line = one_error_line(invoke("build-kb", src, tmp_path / "kb"))
    assert "kb.jsonl" in line and ":2" in line
