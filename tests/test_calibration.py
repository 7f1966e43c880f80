import numpy
import pytest
import spacy
from spacy.lang.en import English
from spacy.training import Example
from spacy.util import make_tempdir

from spacy_crf_ner.calibration import (
    collect_predictions,
    entity_confidences,
    expected_calibration_error,
    fit_temperature,
    set_temperature,
)

TRAIN_DATA = [
    ("Who is Shaka Khan?", {"entities": [(7, 17, "PERSON")]}),
    ("I like London and Berlin.", {"entities": [(7, 13, "LOC"), (18, 24, "LOC")]}),
    ("Sarah flew to Paris.", {"entities": [(0, 5, "PERSON"), (14, 19, "LOC")]}),
]


@pytest.fixture(scope="module")
def nlp_examples():
    nlp = English()
    nlp.add_pipe("crf_ner")
    examples = [Example.from_dict(nlp.make_doc(t), a) for t, a in TRAIN_DATA]
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    return nlp, examples


def test_ece():
    conf = numpy.asarray([0.95, 0.95, 0.55, 0.55])
    correct = numpy.asarray([True, True, True, False])
    # bin 9: conf .95, acc 1.0 -> .05; bin 5: conf .55, acc .5 -> .05
    assert expected_calibration_error(conf, correct) == pytest.approx(0.05)
    assert expected_calibration_error(numpy.asarray([]), numpy.asarray([], dtype=bool)) == 0.0


def test_temperature_softens_without_changing_entities(nlp_examples):
    nlp, examples = nlp_examples
    ner = nlp.get_pipe("crf_ner")
    data = collect_predictions(nlp, examples)
    assert [len(s) for s in data.spans] == [1, 2, 2]
    assert all(all(c) for c in data.correct)
    c1, _ = entity_confidences(ner, data, 1.0)
    c3, _ = entity_confidences(ner, data, 3.0)
    assert (c3 < c1).all()
    # the pipeline's own confidences follow its temperature setting
    text = TRAIN_DATA[2][0]
    before = [(e.text, e._.crf_confidence) for e in nlp(text).ents]
    set_temperature(nlp, "crf_ner", 3.0)
    after = [(e.text, e._.crf_confidence) for e in nlp(text).ents]
    assert [t for t, _ in before] == [t for t, _ in after]
    assert all(a[1] < b[1] for a, b in zip(after, before))
    with make_tempdir() as d:
        nlp.to_disk(d)
        reloaded = spacy.load(d)
        assert reloaded.get_pipe("crf_ner").cfg["temperature"] == 3.0
        assert [e._.crf_confidence for e in reloaded(text).ents] == pytest.approx([c for _, c in after])
    set_temperature(nlp, "crf_ner", 1.0)


def test_fit_temperature_prefers_confident_when_all_correct(nlp_examples):
    nlp, examples = nlp_examples
    ner = nlp.get_pipe("crf_ner")
    data = collect_predictions(nlp, examples)
    # every prediction is right, so the sharpest temperature on the grid wins
    assert fit_temperature(ner, data, grid=[0.5, 1.0, 2.0, 4.0]) <= 1.0
    # flag every prediction wrong: now the softest temperature wins
    data.correct = [[False] * len(c) for c in data.correct]
    assert fit_temperature(ner, data, grid=[0.5, 1.0, 2.0, 4.0]) >= 2.0
