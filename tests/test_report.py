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
    # one rendering per error, the wrong span outlined on each side
    assert page.count("class='err-item'") == 2
    assert "type: gold <b>PER</b> “Sarah”, predicted <b>ORG</b> “Sarah”" in page
    assert page.count("ent wrong") == 3  # type: gold and predicted; missed: gold
    assert "class='gap'" in page  # the missed entity, underlined on the predicted side
    assert "href='#type'" in page and "id='type-0'" in page


def test_report_scores_equal_spacy_evaluate(tmp_path):
    """On a corpus whose tokens differ from the tokenizer's (unknown spaces,
    as from `spacy convert`), the report scores the corpus's tokens, as
    `spacy evaluate` does."""
    from spacy.cli.evaluate import evaluate
    from spacy.tokens import Doc, DocBin

    from spacy_crf_ner.cli import _examples

    nlp = English()
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "LOC", "pattern": [{"ORTH": "New-York"}]}, {"label": "PER", "pattern": "Sarah"}]
    )
    docs = []
    for words, ents in [
        (["Sarah", "left", "New-York", "."], [(0, 1, "PER"), (2, 3, "LOC")]),
        (["New-York", "and", "Sarah", "'s", "dog"], [(0, 1, "LOC")]),
        (["Bob", "saw", "New-York"], [(0, 1, "PER"), (2, 3, "LOC")]),
    ]:
        doc = Doc(nlp.vocab, words=words)  # spaces unknown
        doc.ents = [Span(doc, s, e, label) for s, e, label in ents]
        docs.append(doc)
    DocBin(docs=docs).to_disk(tmp_path / "dev.spacy")
    nlp.to_disk(tmp_path / "model")
    scores = evaluate(str(tmp_path / "model"), tmp_path / "dev.spacy")
    assert 0 < scores["ents_f"] < 1
    page = build_report(nlp, _examples(nlp, tmp_path / "dev.spacy"))
    expected = f"P {100 * scores['ents_p']:.2f}, R {100 * scores['ents_r']:.2f}, F {100 * scores['ents_f']:.2f}"
    assert expected in page
