"""Every shipped config trains a few steps through spaCy's own training
entry point, and the trained pipeline loads and predicts."""
import pickle
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin

from util import tagged_examples

CONFIGS = Path(__file__).parent.parent / "configs"

@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    nlp = spacy.blank("en")
    db = DocBin(docs=[eg.reference for eg in tagged_examples(nlp)])
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


CURATED_NUMPY_BUG = (
    "spacy-curated-transformers 0.3.x cannot update its transformer with numpy >= 2.4 "
    "(float() of a 1-element array in CuratedTransformer's loss); install numpy<2.4"
)


def _numpy_version():
    import numpy

    return tuple(int(x) for x in numpy.__version__.split(".")[:2])


@pytest.mark.skipif(_numpy_version() >= (2, 4), reason=CURATED_NUMPY_BUG)
def test_curated_transformer_config(corpus, tmp_path):
    """crf_ner (last-layer listener, mean pooling) and crf_tagger (scalar
    weighting listener, first-subword pooling) on one tiny random
    spacy-curated-transformers BERT, built offline, trained through
    `spacy train` with configs/crf_ner_curated.cfg."""
    pytest.importorskip("spacy_curated_transformers")
    from spacy.util import load_config

    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.?"))
    pieces += chars + [f"##{c}" for c in chars] + ["who", "is", "like", "and", "to"]
    (tmp_path / "tiny.wordpieces").write_text("\n".join(pieces) + "\n")
    config = load_config(CONFIGS / "crf_ner_curated.cfg")
    config["components"]["transformer"]["all_layer_outputs"] = True
    config["components"]["transformer"]["model"].update(
        {"vocab_size": len(pieces), "hidden_width": 32, "intermediate_width": 37,
         "num_attention_heads": 2, "num_hidden_layers": 2, "max_position_embeddings": 128}
    )
    # offline: the tiny vocabulary, random weights
    config["initialize"]["components"]["transformer"] = {
        "piecer_loader": {
            "@model_loaders": "spacy-curated-transformers.WordpieceLoader.v1",
            "path": str(tmp_path / "tiny.wordpieces"),
        }
    }
    config["nlp"]["pipeline"] = ["transformer", "crf_tagger", "crf_ner"]
    config["components"]["crf_tagger"] = {
        "factory": "crf_tagger",
        "model": {
            "@architectures": "spacy-crf-ner.EmissionScorer.v1",
            "init_W": {"@initializers": "glorot_uniform_init.v1"},
            "tok2vec": {
                "@architectures": "spacy-curated-transformers.ScalarWeightingListener.v1",
                "width": "${components.transformer.model.hidden_width}",
                "weighting": {
                    "@architectures": "spacy-curated-transformers.ScalarWeight.v1",
                    "num_layers": "${components.transformer.model.num_hidden_layers}",
                },
                "pooling": {"@layers": "spacy-crf-ner.subword_pooling.v1", "mode": "first"},
            },
        },
    }
    config["training"]["score_weights"]["tag_acc"] = 0.5
    config.to_disk(tmp_path / "curated.cfg")
    overrides = {
        "paths.train": str(corpus),
        "paths.dev": str(corpus),
        "training.max_steps": 6,
        "training.eval_frequency": 3,
        "training.optimizer.learn_rate.warmup_steps": 2,
    }
    train(tmp_path / "curated.cfg", tmp_path / "out", overrides=overrides)
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert nlp.pipe_names == ["transformer", "crf_tagger", "crf_ner"]
    assert set(nlp.get_pipe("crf_ner").labels) == {"LOC", "PERSON"}
    listeners = nlp.get_pipe("transformer").listener_map
    assert set(listeners) == {"crf_tagger", "crf_ner"}
    assert {lsn.name for lsns in listeners.values() for lsn in lsns} == {
        "last_transformer_layer_listener",
        "scalar_weighting_listener",
    }
    doc = nlp("Shaka Khan flew to London .")
    assert len(doc) == 6 and all(t.tag_ for t in doc)
    assert all(0 <= e._.crf_confidence <= 1 for e in doc.ents)
    # debug-data measures docs in the transformer's pieces
    from spacy_crf_ner.debug_data import piece_counter

    assert piece_counter(nlp)(doc) > len(doc)
