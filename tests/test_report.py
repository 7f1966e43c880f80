from spacy.lang.en import English
from spacy.tokens import Span
from spacy.training import Example

from spacy_crf_ner.report import build_report, classify


def test_classify():
    gold = [(0, 2, "PER"), (4, 5, "LOC"), (7, 8, "ORG"), (10, 12, "PER")]
    pred = [(0, 2, "PER"), (4, 5, "ORG"), (7, 9, "ORG"), (13, 14, "LOC")]
    out = classify(gold, pred)
    assert out["correct"] == [((0, 2, "PER"), (0, 2, "PER"))]
    assert out["type"] == [((4, 5, "LOC"), (4, 5, "ORG"))]
    assert out["boundary"] == [((7, 8, "ORG"), (7, 9, "ORG"))]
    assert out["missed"] == [((10, 12, "PER"), None)]
    assert out["spurious"] == [(None, (13, 14, "LOC"))]


def test_report_html():
    nlp = English()
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "LOC", "pattern": "Paris"}, {"label": "ORG", "pattern": "Sarah"}])
    gold = nlp.make_doc("Sarah flew to Paris and Rome.")
    gold.ents = [Span(gold, 0, 1, "PER"), Span(gold, 3, 4, "LOC"), Span(gold, 5, 6, "LOC")]
    page = build_report(nlp, [Example(nlp.make_doc(gold.text), gold)])
    assert page.startswith("<!DOCTYPE html>")
    assert "Type errors (1 in 1 documents)" in page
    assert "Missed errors (1 in 1 documents)" in page
    assert "Spurious errors (0 in 0 documents)" in page
    assert page.count("<h3>gold</h3>") == 2  # the sentence, under type and under missed
