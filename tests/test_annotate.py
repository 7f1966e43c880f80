import json

import pytest
from spacy_crf_ner.annotate import annotate_jsonl


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
