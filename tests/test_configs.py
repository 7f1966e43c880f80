"""Every shipped config trains a few steps through spaCy's own training
entry point, and the trained pipeline loads and predicts."""
import pickle
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin
from spacy.training import Example

CONFIGS = Path(__file__).parent.parent / "configs"

TRAIN_DATA = [
    ("Who is Shaka Khan ?", [(2, 4, "PERSON")], ["WP", "VBZ", "NNP", "NNP", "."]),
    ("I like London and Berlin .", [(2, 3, "LOC"), (4, 5, "LOC")], ["PRP", "VBP", "NNP", "CC", "NNP", "."]),
    ("Sarah flew to Paris .", [(0, 1, "PERSON"), (3, 4, "LOC")], ["NNP", "VBD", "TO", "NNP", "."]),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    nlp = spacy.blank("en")
    db = DocBin()
    for text, ents, tags in TRAIN_DATA:
        doc = nlp.make_doc(text)
        ref = Example.from_dict(doc, {"tags": tags, "entities": [
            (doc[s].idx, doc[e - 1].idx + len(doc[e - 1]), label) for s, e, label in ents
        ]}).reference
        db.add(ref)
    path = tmp_path_factory.mktemp("corpus") / "train.spacy"
    db.to_disk(path)
    return path


def train_config(name, corpus, out, extra=None):
    overrides = {
        "paths.train": str(corpus),
        "paths.dev": str(corpus),
        "training.max_steps": 6,
        "training.eval_frequency": 3,
    }
    overrides.update(extra or {})
    train(CONFIGS / name, out, overrides=overrides)
    nlp = spacy.load(out / "model-last")
    doc = nlp("Shaka Khan flew to London .")
    # Spawned worker processes receive the pipeline pickled.
    copy = pickle.loads(pickle.dumps(nlp))("Shaka Khan flew to London .")
    assert [(e.start, e.end, e.label_) for e in copy.ents] == [(e.start, e.end, e.label_) for e in doc.ents]
    assert [t.tag_ for t in copy] == [t.tag_ for t in doc]
    return nlp, doc


def test_cnn_config(corpus, tmp_path):
    nlp, doc = train_config("crf_ner_cnn.cfg", corpus, tmp_path)
    assert nlp.pipe_names == ["crf_ner"]
    assert set(nlp.get_pipe("crf_ner").labels) == {"LOC", "PERSON"}
    assert all(0 <= e._.crf_confidence <= 1 for e in doc.ents)


def test_bilstm_config(corpus, tmp_path):
    nlp, doc = train_config("crf_ner_bilstm.cfg", corpus, tmp_path)
    assert nlp.pipe_names == ["crf_ner"]
    assert len(doc) == 6


@pytest.mark.parametrize("pooling", ["mean", "first"])
def test_transformer_config(corpus, tmp_path, tiny_transformer, pooling):
    nlp, doc = train_config(
        "crf_ner_trf.cfg",
        corpus,
        tmp_path,
        {"paths.transformer": str(tiny_transformer), "vars.pooling": pooling},
    )
    assert nlp.pipe_names == ["transformer", "crf_ner"]
    assert list(nlp.get_pipe("transformer").listener_map) == ["crf_ner"]
    assert nlp.get_pipe("crf_ner").model.get_ref("tok2vec").layers[0].upstream_name == "transformer"


def test_joint_config_shares_one_transformer(corpus, tmp_path, tiny_transformer):
    nlp, doc = train_config(
        "joint_trf.cfg", corpus, tmp_path, {"paths.transformer": str(tiny_transformer)}
    )
    assert nlp.pipe_names == ["transformer", "crf_tagger", "crf_ner"]
    assert all(t.tag_ for t in doc)
    trf = nlp.get_pipe("transformer")
    assert sorted(trf.listener_map) == ["crf_ner", "crf_tagger"]
    assert {lsn.upstream_name for lsn in trf.listeners} == {"transformer"}


def test_tagger_config(corpus, tmp_path):
    nlp, doc = train_config("crf_tagger_cnn.cfg", corpus, tmp_path)
    assert nlp.pipe_names == ["crf_tagger"]
    assert "NNP" in nlp.get_pipe("crf_tagger").labels
    assert all(t.tag_ for t in doc)
