import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_crf_ner.sources import read_jsonl_lines, resolve_inputs


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"x")), max_size=20),
    last_newline=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6),
)
def test_byte_ranges_read_every_line_once(tmp_path_factory, lines, last_newline, cuts):
    data = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    path = tmp_path_factory.mktemp("ranges") / "f.jsonl"
    path.write_bytes(data)
    fs, _ = resolve_inputs(str(path))
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    read, n_lines = [], 0
    for start, end in zip(bounds, bounds[1:]):
        chunk = list(read_jsonl_lines(fs, str(path), start, end))
        read.extend(raw for _, raw, _ in chunk)
        n_lines += len(chunk)
    assert b"".join(read) == data
    assert n_lines == data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


def test_folders_globs_and_kinds(tmp_path):
    for name in ["a.jsonl", "b/c.parquet", "b/d.ndjson", "_hidden.jsonl", ".x/e.jsonl", "notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}\n")
    _, files = resolve_inputs(str(tmp_path))
    assert [(f.path[len(str(tmp_path)) + 1:], f.kind) for f in files] == [
        ("a.jsonl", "jsonl"), ("b/c.parquet", "parquet"), ("b/d.ndjson", "jsonl")
    ]
    _, files = resolve_inputs(str(tmp_path / "b" / "*.ndjson"))
    assert [f.path for f in files] == [str(tmp_path / "b" / "d.ndjson")]
    _, files = resolve_inputs(str(tmp_path / "notes.txt"))  # a file given by name is read as JSONL
    assert files[0].kind == "jsonl" and files[0].size == 3
    with pytest.raises(FileNotFoundError, match="No input files"):
        resolve_inputs(str(tmp_path / "*.csv"))


def test_uri(tmp_path):
    pytest.importorskip("pyarrow")
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    fs, files = resolve_inputs(f"file://{tmp_path}")
    assert [f.path for f in files] == [str(tmp_path / "a.jsonl")]
    assert [raw for _, raw, _ in read_jsonl_lines(fs, files[0].path)] == [b'{"text": "x"}\n']
