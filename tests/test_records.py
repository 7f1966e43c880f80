import pytest

from spacy_crf_ner.records import annotate_records, annotate_table, check_record, parse_jsonl_line, records_to_table

pa = pytest.importorskip("pyarrow")


def test_parse_jsonl_line_reasons():
    assert parse_jsonl_line(b'{"text": "a", "id": 1}\n') == ({"text": "a", "id": 1}, None)
    assert parse_jsonl_line(b"  \n") == (None, None)
    assert parse_jsonl_line(b"\xff\n")[1].startswith("undecodable bytes")
    assert parse_jsonl_line(b"{\n")[1].startswith("not valid JSON")
    assert parse_jsonl_line(b"[1]\n")[1] == "expected a JSON object, got list"
    assert parse_jsonl_line(b'{"body": "a"}\n', "body") == ({"body": "a"}, None)
    assert check_record({"text": None}) == 'no "text" value'
    assert check_record({"text": 1}) == '"text" is not a string (got int)'


def test_annotate_table_pandas_carries_columns_and_reports_rows(tiny_ner):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": [10, 11, 12], "text": ["I like Berlin.", None, "Sarah flew to Paris."]})
    table, errors = annotate_table(tiny_ner, frame, source="frame", first_row=100)
    assert errors == [{"source": "frame", "line": None, "row": 101, "reason": 'no "text" value'}]
    assert table.column_names == ["id", "text", "entities", "tokens"]
    assert table.column("id").to_pylist() == [10, 12]
    assert [[e["text"] for e in ents] for ents in table.column("entities").to_pylist()] == [["Berlin"], ["Sarah", "Paris"]]
    with pytest.raises(ValueError, match="no column 'body'"):
        annotate_table(tiny_ner, frame, text_column="body")


def test_non_string_text_column_and_mixed_jsonl_fields(tiny_ner):
    _, errors = annotate_table(tiny_ner, pa.table({"text": [1, 2]}))
    assert [e["reason"] for e in errors] == ['"text" is not a string (column type int64)'] * 2
    items = [({"text": "I like Berlin.", "x": 1}, 0), ({"text": "I like Berlin.", "x": "one"}, 1)]
    records = [r for r, _ in annotate_records(tiny_ner, items)]
    table = records_to_table(records)
    assert table.column("x").to_pylist() == ["1", '"one"']  # mixed types become JSON strings
