import pytest
import spacy
from spacy.cli.find_threshold import find_threshold
from spacy.lang.en import English
from spacy.tokens import DocBin, Span, SpanGroup
from spacy.training import Example

from spacy_crf_ner.scorers import ner_score, span_score
from util import ENT_DATA

TRAIN_DATA = ENT_DATA[:3]


def _example(nlp, text, ents, predicted_spans):
    eg = Example.from_dict(nlp.make_doc(text), {"entities": ents})
    doc = eg.predicted
    doc.spans["crf_spans"] = SpanGroup(
        doc, name="crf_spans", spans=[Span(doc, s, e, label=label) for s, e, label in predicted_spans]
    )
    return eg


def test_span_score_counts_overlapping_spans():
    nlp = English()
    # "Sarah Jane Smith flew to Paris ." gold: PERSON 0-3, LOC 5-6
    eg = _example(nlp, *TRAIN_DATA[2][0:1], TRAIN_DATA[2][1]["entities"], [(0, 3, "PERSON"), (0, 2, "PERSON"), (5, 6, "PER")])
    scores = span_score([eg], "crf_spans")
    assert scores["spans_crf_spans_p"] == pytest.approx(1 / 3)
    assert scores["spans_crf_spans_r"] == pytest.approx(1 / 2)
    assert scores["spans_crf_spans_per_type"]["PERSON"]["p"] == pytest.approx(1 / 2)
    assert scores["spans_crf_spans_per_type"]["LOC"]["r"] == 0.0
    both = ner_score([eg], spans_key="crf_spans", labels=["PERSON", "LOC"], scheme="BILUO")
    assert {"ents_f", "spans_crf_spans_f"} <= set(both)
    assert "spans_crf_spans_f" not in ner_score([eg], spans_key=None)


def test_span_score_skips_missing_annotation():
    nlp = English()
    doc = nlp.make_doc("Shaka Khan flew to Paris")
    eg = Example.from_dict(doc, {"entities": ["B-PERSON", "L-PERSON", "O", "O", "-"]})
    eg.predicted.spans["crf_spans"] = [Span(eg.predicted, 0, 2, "PERSON"), Span(eg.predicted, 4, 5, "LOC")]
    scores = span_score([eg], "crf_spans")
    assert scores["spans_crf_spans_p"] == 1.0 and scores["spans_crf_spans_r"] == 1.0


@pytest.fixture(scope="module")
def trained_pipeline(tmp_path_factory):
    nlp = English()
    nlp.add_pipe("crf_ner")
    examples = [Example.from_dict(nlp.make_doc(t), a) for t, a in TRAIN_DATA]
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(12):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("pipeline")
    nlp.to_disk(path / "model")
    DocBin(docs=[eg.reference for eg in examples]).to_disk(path / "dev.spacy")
    return path


def test_evaluate_reports_span_scores_without_weighing_them(trained_pipeline):
    nlp = spacy.load(trained_pipeline / "model")
    assert nlp.config["training"]["score_weights"]["spans_crf_spans_f"] is None
    assert nlp.config["training"]["score_weights"]["ents_f"] == 1.0
    docs = list(DocBin().from_disk(trained_pipeline / "dev.spacy").get_docs(nlp.vocab))
    scores = nlp.evaluate([Example(nlp.make_doc(d.text), d) for d in docs])
    assert scores["spans_crf_spans_f"] is not None and scores["ents_f"] is not None


def test_find_threshold_tunes_span_threshold(trained_pipeline):
    best, score, scores = find_threshold(
        str(trained_pipeline / "model"),
        trained_pipeline / "dev.spacy",
        "crf_ner",
        "span_threshold",
        "spans_crf_spans_f",
        n_trials=5,
    )
    # a low threshold lets many overlapping spans in (low precision), a
    # threshold of 1.0 lets almost none in: the trials differ
    assert len(set(scores.values())) > 1
    assert score == max(scores.values()) and best in scores
