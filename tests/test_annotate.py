import json

import pytest
from spacy_crf_ner.annotate import annotate_file, annotate_jsonl


@pytest.fixture(scope="module")
def nlp(tiny_ner):
    return tiny_ner


def test_schema_and_malformed_lines(nlp, tmp_path, caplog):
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"text": "Sarah flew to Paris.", "id": "a"}\n'
        "{broken\n"
        "\n"
        '["a list"]\n'
        '{"id": "no text"}\n'
        '{"text": "I like Berlin."}\n'
    )
    out = tmp_path / "out.jsonl"
    stats = annotate_jsonl(nlp, src, out, progress=False)
    assert stats.read == 5 and stats.written == 2
    assert [n for n, _ in stats.skipped] == [2, 4, 5]
    assert f"{src}:2: skipped, not valid JSON" in caplog.text
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r.get("id") for r in records] == ["a", None]
    first = records[0]
    assert first["text"] == "Sarah flew to Paris."
    ent = first["entities"][0]
    assert set(ent) == {"text", "label", "start", "end", "confidence", "kb_id", "candidates"}
    assert first["text"][ent["start"]:ent["end"]] == ent["text"]
    assert 0.0 <= ent["confidence"] <= 1.0
    assert [t["text"] for t in first["tokens"]] == ["Sarah", "flew", "to", "Paris", "."]


def test_multiprocess_annotation_matches(nlp, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["Sarah flew to Paris."] * 4 + ["I like Berlin."] * 4))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    annotate_jsonl(nlp, src, one, progress=False)
    annotate_jsonl(nlp, src, two, n_process=2, batch_size=2, progress=False)
    a = [json.loads(x) for x in one.read_text().splitlines()]
    b = [json.loads(x) for x in two.read_text().splitlines()]
    assert [[(e["start"], e["end"], e["label"]) for e in r["entities"]] for r in a] == \
        [[(e["start"], e["end"], e["label"]) for e in r["entities"]] for r in b]


def test_undecodable_lines_are_reported_and_the_rest_annotated(nlp, tmp_path, caplog):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "I like Berlin."}\n\xff\xfe{"text": "bad"}\n{"text": "Sarah flew to Paris."}\n')
    out = tmp_path / "out.jsonl"
    stats = annotate_file(nlp, src, out, progress=False)
    assert stats.written == 2 and stats.skipped == [(2, "undecodable bytes (not UTF-8: invalid start byte at byte 0)")]
    assert caplog.text.count(f"{src}:2: skipped, undecodable bytes") == 1
    assert [json.loads(x)["text"] for x in out.read_text().splitlines()] == ["I like Berlin.", "Sarah flew to Paris."]


@pytest.mark.parametrize("how", ["same", "symlink"])
def test_output_is_never_the_input(nlp, tmp_path, how):
    src = tmp_path / "in.jsonl"
    content = '{"text": "I like Berlin."}\n'
    src.write_text(content)
    out = src
    if how == "symlink":
        out = tmp_path / "link.jsonl"
        out.symlink_to(src)
    with pytest.raises(ValueError, match="is the input file"):
        annotate_file(nlp, src, out, progress=False)
    assert src.read_text() == content


def test_failed_run_leaves_input_and_previous_output(nlp, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n' * 10)
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")

    def failing(records):
        for i, item in enumerate(records):
            if i == 5:
                raise RuntimeError("disk full")
            yield item

    from spacy_crf_ner import annotate as annotate_module

    original = annotate_module.read_records
    annotate_module.read_records = lambda *args: failing(original(*args))
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            annotate_file(nlp, src, out, progress=False)
    finally:
        annotate_module.read_records = original
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]  # no temporary file left


def test_output_under_a_file_is_refused(nlp, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n')
    with pytest.raises(ValueError, match="is a file, not a folder"):
        annotate_file(nlp, src, src / "sub" / "out.jsonl", progress=False)


def test_parquet_in_and_out_and_folders(nlp, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    pq.write_table(pa.table({"body": ["I like Berlin.", None], "n": pa.array([1, 2], pa.int32())}), folder / "a.parquet")
    (folder / "sub" / "b.jsonl").write_text('{"body": "Sarah flew to Paris.", "n": 3}\n')
    (folder / "_skip.jsonl").write_text("not read\n")
    out = tmp_path / "out.parquet"
    stats = annotate_file(nlp, folder, out, text_column="body", tokens=False, progress=False)
    assert (stats.read, stats.written) == (3, 2)
    assert [(e["source"], e["row"], e["reason"]) for e in stats.errors] == [(str(folder / "a.parquet"), 1, 'no "body" value')]
    table = pq.read_table(out)
    assert table.column_names == ["n", "body", "entities"]
    assert table.column("body").to_pylist() == ["I like Berlin.", "Sarah flew to Paris."]
    assert [e["label"] for e in table.column("entities").to_pylist()[0]] == ["LOC"]


def test_progress_bar_has_a_total(nlp, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n' * 5)
    annotate_file(nlp, src, tmp_path / "out.jsonl", progress=True)
    err = capsys.readouterr().err
    size = src.stat().st_size
    assert f"{size}/{size}" in err and "5 docs" in err


def test_jsonl_without_pyarrow(nlp, tmp_path, monkeypatch):
    import sys

    for name in ("pyarrow", "pyarrow.fs", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, name, None)
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "I like Berlin."}\n')
    stats = annotate_file(nlp, src, tmp_path / "out.jsonl", progress=False)
    assert stats.written == 1
    with pytest.raises(ImportError, match="pip install pyarrow"):
        annotate_file(nlp, src, tmp_path / "out.parquet", progress=False)


def test_output_inside_the_input_folder_is_refused(nlp, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "I like Berlin."}\n')
    for spec in (tmp_path, tmp_path / "*.jsonl"):
        with pytest.raises(ValueError, match="inside the input folder"):
            annotate_file(nlp, spec, tmp_path / "out" / "annotated.jsonl", progress=False)
    assert annotate_file(nlp, tmp_path / "a.jsonl", tmp_path / "annotated.jsonl", progress=False).written == 1


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_parquet_output_keeps_one_schema(nlp, tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    from spacy_crf_ner import annotate as annotate_module

    monkeypatch.setattr(annotate_module, "PARQUET_BATCH", 2)
    src = tmp_path / "in.jsonl"
    rows = [{"text": "I like Berlin.", "n": 1}, {"text": "I like Berlin."}, {"text": "I like Berlin.", "n": None}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    annotate_file(nlp, src, tmp_path / "ok.parquet", progress=False)
    assert pq.read_table(tmp_path / "ok.parquet").column("n").to_pylist() == [1, None, None]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows + [{"text": "I like Berlin.", "late": 1}] * 2))
    with pytest.raises(ValueError, match="late first appear after the first 2 records"):
        annotate_file(nlp, src, tmp_path / "late.parquet", progress=False)
    assert not (tmp_path / "late.parquet").exists()
