import numpy
import pytest
import spacy
import srsly
from spacy.lang.en import English
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import make_tempdir

from spacy_crf_ner.calibration import (
    check_calibration_data,
    collect_predictions,
    entity_confidences,
    expected_calibration_error,
    fit_temperature,
    log_loss,
    set_temperature,
)
from util import ENT_DATA, make_examples, train

@pytest.fixture(scope="module")
def nlp_examples():
    nlp = English()
    nlp.add_pipe("crf_ner")
    examples = make_examples(nlp)
    train(nlp, examples, steps=30)
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
    assert [len(s) for s in data.spans] == [1, 2, 2, 0]
    assert all(all(c) for c in data.correct)
    c1, _ = entity_confidences(ner, data, 1.0)
    c3, _ = entity_confidences(ner, data, 3.0)
    assert (c3 < c1).all()
    # the pipeline's own confidences follow its temperature setting
    text = ENT_DATA[2][0]
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
    # every prediction is right, so sharper is better
    assert fit_temperature(ner, data) <= 1.0
    # flag every prediction wrong: now softer is better
    data.correct = [[False] * len(c) for c in data.correct]
    assert fit_temperature(ner, data) >= 2.0


def test_fit_temperature_finds_the_minimum(nlp_examples):
    nlp, examples = nlp_examples
    ner = nlp.get_pipe("crf_ner")
    data = collect_predictions(nlp, examples)
    # one right, the others wrong: an interior optimum
    data.correct = [[i == 0 for i, _ in enumerate(c)] for c in data.correct]
    fitted = fit_temperature(ner, data)
    grid = numpy.geomspace(0.05, 20.0, 200)
    losses = [log_loss(*entity_confidences(ner, data, t)) for t in grid]
    assert 0.05 < fitted < 20.0
    assert log_loss(*entity_confidences(ner, data, fitted)) <= min(losses) + 1e-6


def test_fit_temperature_refuses_no_entities(nlp_examples):
    nlp, examples = nlp_examples
    ner = nlp.get_pipe("crf_ner")
    data = collect_predictions(nlp, examples)
    empty = data.subset([])
    with pytest.raises(ValueError, match=r"\[crf_ner\] Cannot fit a temperature"):
        fit_temperature(ner, empty)
    no_gold = [Example.from_dict(nlp.make_doc("Nothing here."), {"entities": []})]
    with pytest.raises(ValueError, match=r"\[crf_ner\] The calibration data .* has no gold entities"):
        check_calibration_data(ner, no_gold)


def test_calibrate_command_writes_the_config(nlp_examples, tmp_path):
    from typer.testing import CliRunner

    from spacy_crf_ner.cli import app

    nlp, examples = nlp_examples
    nlp.to_disk(tmp_path / "model")
    # flag all but the first entity wrong so the temperature moves off 1.0
    dev = DocBin(docs=[eg.reference for eg in examples])
    dev.to_disk(tmp_path / "dev.spacy")
    result = CliRunner().invoke(app, ["calibrate", str(tmp_path / "model"), str(tmp_path / "dev.spacy"), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    saved = spacy.util.load_config(tmp_path / "out" / "config.cfg")
    loaded = spacy.load(tmp_path / "out")
    ner = loaded.get_pipe("crf_ner")
    assert saved["components"]["crf_ner"]["temperature"] == ner.cfg["temperature"] != 1.0
    assert srsly.read_json(tmp_path / "out" / "crf_ner" / "cfg")["temperature"] == ner.cfg["temperature"]
    # the same predictions as the calibrated pipeline in memory
    calibrated = spacy.load(tmp_path / "model")
    set_temperature(calibrated, "crf_ner", ner.cfg["temperature"])
    text = ENT_DATA[1][0]
    assert [e._.crf_confidence for e in loaded(text).ents] == pytest.approx(
        [e._.crf_confidence for e in calibrated(text).ents]
    )
    # data without entities is refused with one clear message
    DocBin(docs=[nlp.make_doc("Nothing here.")]).to_disk(tmp_path / "empty.spacy")
    result = CliRunner().invoke(app, ["calibrate", str(tmp_path / "model"), str(tmp_path / "empty.spacy"), str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "no gold entities" in result.output
    assert not (tmp_path / "x").exists()


@Language.component("test_calibration_identity")
def _identity(doc):
    return doc


def test_collect_predictions_runs_function_components_and_checks_the_name(nlp_examples):
    nlp, examples = nlp_examples
    expected = collect_predictions(nlp, examples).spans
    nlp.add_pipe("test_calibration_identity", first=True)
    try:
        assert collect_predictions(nlp, examples).spans == expected
        with pytest.raises(ValueError, match=r"\[test_calibration_identity\] Calibration needs a crf_ner"):
            collect_predictions(nlp, examples, component="test_calibration_identity")
    finally:
        nlp.remove_pipe("test_calibration_identity")
