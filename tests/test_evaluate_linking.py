import json

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_crf_ner.cli import app
from spacy_crf_ner.evaluate_linking import evaluate_linking, find_linker
from spacy.training import Corpus

from util import write_kb

GOLD = [
    ("IBM and Apple opened offices in London.", [(0, 3, "ORG", "Q1"), (8, 13, "ORG", "Q2"), (32, 38, "LOC", "L1")]),
    ("Londres is big.", [(0, 7, "LOC", "L1")]),
    ("Wilson disease struck.", [(0, 14, "DISEASE", "D1")]),
    # linked to the wrong entry (Q2) whatever the pipeline does: scores must count it wrong
    ("Apple shares fell.", [(0, 5, "ORG", "Q1")]),
    # an entity without a gold ID counts neither way
    ("Nobody saw Bob.", [(11, 14, "PER", "")]),
]


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("linking")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    nlp.add_pipe("entity_normalizer", config={"threshold": 0.3, "harvest_aliases": False})
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(write_kb(tmp / "kb.jsonl"))}
    }
    nlp.initialize()
    ruler.add_patterns(
        [{"label": "ORG", "pattern": "IBM"}, {"label": "ORG", "pattern": "Apple"}, {"label": "LOC", "pattern": "London"}]
    )
    nlp.to_disk(tmp / "model")
    db = DocBin(store_user_data=True)
    for text, ents in GOLD:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label=label, kb_id=kb_id) for s, e, label, kb_id in ents]
        db.add(doc)
    db.to_disk(tmp / "gold.spacy")
    return tmp / "model", tmp / "gold.spacy"


def _examples(model, data):
    nlp = spacy.load(model)
    return nlp, list(Corpus(data)(nlp))


def test_gold_mentions_link_every_gold_span(model_and_data):
    nlp, examples = _examples(*model_and_data)
    scores = evaluate_linking(nlp, examples, gold_mentions=True, k=5)
    # 6 gold IDs, all scored; all right but "Apple" -> Q1 (linked to Q2)
    assert scores["gold_ids"] == 6 and scores["scored"] == 6
    assert scores["acc@1"] == pytest.approx(5 / 6)
    assert scores["nel_micro_p"] == pytest.approx(5 / 6)
    assert scores["nel_micro_r"] == pytest.approx(5 / 6)
    assert scores["recall@5"] >= scores["acc@1"]
    assert scores["acc@1_per_label"]["DISEASE"] == {"acc@1": 1.0, "n": 1}
    assert scores["acc@1_per_label"]["ORG"] == {"acc@1": pytest.approx(2 / 3), "n": 3}
    # the gold ents were linked, not the ruler's: Londres and Wilson disease got IDs
    linked = {e.text: e.kb_id_ for eg in examples for e in eg.predicted.ents}
    assert linked["Londres"] == "L1" and linked["Wilson disease"] == "D1"


def test_predicted_mentions_score_recognition_and_linking(model_and_data):
    nlp, examples = _examples(*model_and_data)
    scores = evaluate_linking(nlp, examples, gold_mentions=False)
    # the ruler finds IBM, Apple, London and the second Apple: 4 of 6 gold IDs
    assert scores["scored"] == 4
    assert scores["acc@1"] == pytest.approx(3 / 4)
    assert scores["nel_micro_p"] == pytest.approx(3 / 4)
    assert scores["nel_micro_r"] == pytest.approx(3 / 6)


def test_errors_name_the_fix(model_and_data, tmp_path):
    nlp, examples = _examples(*model_and_data)
    with pytest.raises(ValueError, match="no entity_normalizer named 'linker'"):
        find_linker(nlp, "linker")
    with pytest.raises(ValueError, match="add one and train it first"):
        find_linker(spacy.blank("en"))
    for eg in examples:
        eg.reference.ents = [e for e in eg.reference.ents if not e.kb_id_]
    with pytest.raises(ValueError, match="no entity with a kb_id"):
        evaluate_linking(nlp, examples)


def test_cli_writes_json(model_and_data, tmp_path):
    model, data = model_and_data
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(app, ["evaluate-linking", str(model), str(data), "--gold-mentions", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "acc@1" in result.output
    scores = json.loads(out.read_text())
    assert scores["mentions"] == "gold" and scores["acc@1"] == pytest.approx(5 / 6)
    result = CliRunner().invoke(app, ["evaluate-linking", str(model), str(data), "--component", "nope"])
    assert result.exit_code == 1 and "--component" in result.output
