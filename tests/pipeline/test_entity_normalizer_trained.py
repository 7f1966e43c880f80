"""The trainable mode of entity_normalizer (a model set): training from gold
kb_ids, a mapping string similarity cannot make, save/load, errors; and
model = null left as it was."""
import json
import random
from pathlib import Path

import pytest
import spacy
from spacy.ml.models.tok2vec import build_hash_embed_cnn_tok2vec
from spacy.training import Example
from spacy.util import fix_random_seed, registry

import spacy_crf_ner.pipeline.entity_normalizer  # noqa: F401  (registers the factory)
from spacy_crf_ner.kb.validation import ModelDataError
from spacy_crf_ner.linking.ranker import build_candidate_ranker

# "Big Blue" and "the Redmond giant" share no character n-gram with the names
# of their IDs: only examples can teach them.
KB_RECORDS = [
    {"id": "Q1", "name": "International Business Machines", "aliases": ["IBM"], "types": ["ORG"]},
    {"id": "Q2", "name": "Apple Inc.", "aliases": ["Apple"], "types": ["ORG"]},
    {"id": "Q4", "name": "Microsoft", "aliases": ["MSFT"], "types": ["ORG"]},
    {"id": "Q5", "name": "Bluebird Airlines", "types": ["ORG"]},
]
TEMPLATES = ["Shares of {} rose sharply.", "Analysts said {} beat estimates.", "{} hired new engineers."]
MENTIONS = [("Big Blue", "Q1"), ("IBM", "Q1"), ("Apple", "Q2"), ("Microsoft", "Q4"), ("the Redmond giant", "Q4")]
SETTINGS = {"harvest_aliases": False, "threshold": 0.5}


@pytest.fixture(scope="module")
def kb_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "kb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in KB_RECORDS), encoding="utf8")
    return path


def make_ranker(**kwargs):
    tok2vec = build_hash_embed_cnn_tok2vec(
        pretrained_vectors=None, width=32, depth=1, embed_size=500, window_size=1, maxout_pieces=2,
        subword_features=True,
    )
    return build_candidate_ranker(tok2vec, width=32, n_buckets=5000, **kwargs)


def make_nlp(kb_path, model=True, settings=SETTINGS):
    nlp = spacy.blank("en")
    norm = nlp.add_pipe("entity_normalizer", config=settings)
    if model:
        # The component built as the factory builds it from a config with
        # @architectures = "spacy-crf-ner.CandidateRanker.v1".
        norm.model = make_ranker()
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(kb_path)}
    }
    return nlp


def example(nlp, template, mention, kb_id):
    text = template.format(mention)
    start = text.index(mention)
    ref = nlp.make_doc(text)
    ref.ents = [ref.char_span(start, start + len(mention), label="ORG", kb_id=kb_id)]
    return Example(nlp.make_doc(text), ref)


def train(nlp, n_steps=50, seed=0):
    fix_random_seed(seed)
    examples = [example(nlp, t, m, q) for t in TEMPLATES for m, q in MENTIONS]
    optimizer = nlp.initialize(lambda: examples)
    history = []
    for _ in range(n_steps):
        random.shuffle(examples)
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        history.append(losses["entity_normalizer"])
    return history


def link(nlp, text, mention):
    doc = nlp.make_doc(text)
    start = text.index(mention)
    doc.ents = [doc.char_span(start, start + len(mention), label="ORG")]
    doc = nlp(doc)
    return doc.ents[0].kb_id_, doc.ents[0]._.kb_candidates


@pytest.fixture(scope="module")
def trained(kb_path):
    nlp = make_nlp(kb_path)
    history = train(nlp)
    return nlp, history


def test_loss_goes_down(trained):
    _, history = trained
    assert history[-1] < history[0] / 3


def test_learns_what_string_similarity_cannot(trained, kb_path):
    nlp, _ = trained
    string_only = make_nlp(kb_path, model=False)
    string_only.initialize(lambda: [example(string_only, TEMPLATES[0], "Big Blue", "Q1")])
    text = "Yesterday {} announced its results."
    for mention, gold in (("Big Blue", "Q1"), ("the Redmond giant", "Q4")):
        assert link(string_only, text.format(mention), mention)[0] != gold
        kb_id, candidates = link(nlp, text.format(mention), mention)
        assert kb_id == gold, candidates
        assert candidates[0][1] >= 0.5
    # What strings decide is still linked.
    assert link(nlp, text.format("Apple"), "Apple")[0] == "Q2"


def test_save_load_roundtrip(trained, kb_path, tmp_path):
    nlp, _ = trained
    text = "Yesterday Big Blue and Microsoft announced results."
    expected = [link(nlp, text, m) for m in ("Big Blue", "Microsoft")]
    norm = nlp.get_pipe("entity_normalizer")
    norm.to_disk(tmp_path / "norm")
    assert (tmp_path / "norm" / "alias_embeddings.npy").exists()
    loaded = make_nlp(kb_path)
    loaded.get_pipe("entity_normalizer").from_disk(tmp_path / "norm")
    assert [link(loaded, text, m) for m in ("Big Blue", "Microsoft")] == expected
    from_bytes = make_nlp(kb_path)
    from_bytes.get_pipe("entity_normalizer").from_bytes(norm.to_bytes())
    assert [link(from_bytes, text, m) for m in ("Big Blue", "Microsoft")] == expected


def test_trained_pipeline_pickles(trained):
    """Worker processes started by spawn receive the pipeline pickled."""
    import pickle

    nlp, _ = trained
    text = "Yesterday Big Blue and Microsoft announced results."
    expected = [link(nlp, text, m) for m in ("Big Blue", "Microsoft")]
    copy = pickle.loads(pickle.dumps(nlp))
    assert [link(copy, text, m) for m in ("Big Blue", "Microsoft")] == expected


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_trained_pipeline_in_worker_processes(trained, tmp_path, method):
    """A trained normalizer loaded from disk links in worker processes as in one."""
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    nlp, _ = trained
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")

    def docs():
        for template in ("Yesterday {} announced results.", "Shares of {} fell."):
            for mention, _ in MENTIONS:
                text = template.format(mention)
                doc = loaded.make_doc(text)
                start = text.index(mention)
                doc.ents = [doc.char_span(start, start + len(mention), label="ORG")]
                yield doc

    def links(stream):
        return [[(e.kb_id_, [tuple(c) for c in e._.kb_candidates]) for e in doc.ents] for doc in stream]

    one = links(loaded.pipe(docs()))
    assert sum(kb_id != "" for doc in one for kb_id, _ in doc) >= 5
    previous = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(method, force=True)
    try:
        assert links(loaded.pipe(docs(), n_process=2, batch_size=3)) == one
    finally:
        multiprocessing.set_start_method(previous, force=True)


def test_model_null_is_the_string_normalizer(kb_path, tmp_path):
    nlp = make_nlp(kb_path, model=False)
    norm = nlp.get_pipe("entity_normalizer")
    assert norm.model is None and not norm.is_trainable
    nlp.initialize(lambda: [example(nlp, TEMPLATES[0], "IBM", "Q1")])
    eg = example(nlp, TEMPLATES[1], "Apple", "Q2")
    assert norm.update([eg], losses={}) == {}
    # The candidates are the index's, as before the model setting existed.
    for mention in ("IBM Corp", "Big Blue", "Microsoft"):
        expected = [tuple(c) for c in norm.index.search([mention], 5).rows()[0]]
        kb_id, candidates = link(nlp, f"Shares of {mention} rose.", mention)
        assert candidates == expected
        assert kb_id == (expected[0][0] if expected and expected[0][1] >= 0.5 else "")
    norm.to_disk(tmp_path / "norm")
    assert not (tmp_path / "norm" / "model").exists()
    assert not (tmp_path / "norm" / "alias_embeddings.npy").exists()


def test_partial_annotation_is_ignored(kb_path):
    nlp = make_nlp(kb_path)
    examples = [example(nlp, t, m, q) for t in TEMPLATES for m, q in MENTIONS]
    optimizer = nlp.initialize(lambda: examples)
    unannotated = example(nlp, TEMPLATES[0], "Big Blue", "")
    losses = nlp.get_pipe("entity_normalizer").update([unannotated], sgd=optimizer, losses={})
    assert losses == {"entity_normalizer": 0.0}


def test_errors_name_the_component_and_the_fix(kb_path, tmp_path):
    nlp = make_nlp(kb_path)
    no_ids = [example(nlp, TEMPLATES[0], "IBM", "")]
    with pytest.raises(ValueError, match=r"entity_normalizer 'entity_normalizer'.*kb_id.*model = null"):
        nlp.initialize(lambda: no_ids)
    with pytest.raises(ValueError, match="model must be a thinc Model"):
        spacy_crf_ner.pipeline.entity_normalizer.EntityNormalizer(
            nlp.vocab, "linker", model="ranker", threshold=0.5, top_k=5, type_map={}, normalization={},
            index={}, abbreviations=True, composites=True, doc_consistency=True, harvest_aliases=True,
            overwrite=True, rules={}, scorer=None,
        )
    with pytest.raises(ValueError, match="sparse_k must be an integer >= 0, not -1"):
        make_ranker(sparse_k=-1)
    string_only = make_nlp(kb_path, model=False)
    string_only.initialize(lambda: [example(string_only, TEMPLATES[0], "IBM", "Q1")])
    string_only.get_pipe("entity_normalizer").to_disk(tmp_path / "string_only")
    with pytest.raises(ModelDataError, match=r"model is missing.*spacy train.*model = null"):
        make_nlp(kb_path).get_pipe("entity_normalizer").from_disk(tmp_path / "string_only")


def train_config(config, kb_path, tmp_path, steps, **overrides):
    """`spacy train` a config on the MENTIONS examples into tmp_path / "out"."""
    from spacy.cli.train import train as spacy_train
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    examples = [example(nlp, t, m, q) for t in TEMPLATES for m, q in MENTIONS]
    DocBin(docs=[eg.reference for eg in examples], store_user_data=True).to_disk(tmp_path / "train.spacy")
    spacy_train(
        config,
        tmp_path / "out",
        overrides={
            "paths.train": str(tmp_path / "train.spacy"),
            "paths.dev": str(tmp_path / "train.spacy"),
            "paths.kb": str(kb_path),
            "training.max_steps": steps,
            "training.eval_frequency": steps // 2,
            "components.entity_normalizer.model.width": 32,
            **overrides,
        },
    )


def test_trains_from_config_with_spacy_train(kb_path, tmp_path):
    if not registry.has("architectures", "spacy-crf-ner.CandidateRanker.v1"):
        pytest.fail("spacy-crf-ner.CandidateRanker.v1 is not registered: reinstall the package (pip install -e .)")

    config = Path(__file__).resolve().parents[2] / "configs" / "normalizer_cnn.cfg"
    train_config(
        config, kb_path, tmp_path, steps=40,
        **{"components.entity_normalizer.harvest_aliases": False, "components.tok2vec.model.width": 32},
    )
    def link_with(model_dir, text, mention):
        trained = spacy.load(model_dir)
        doc = trained.make_doc(text)
        start = text.index(mention)
        doc.ents = [doc.char_span(start, start + len(mention), label="ORG")]
        for _, proc in trained.pipeline:
            doc = proc(doc)
        return doc.ents[0].kb_id_

    assert link_with(tmp_path / "out" / "model-last", "Yesterday Big Blue announced results.", "Big Blue") == "Q1"

    # The KB changes: rebuild-embeddings links to the new one without retraining.
    from typer.testing import CliRunner

    from spacy_crf_ner.cli import app

    new_kb = tmp_path / "new_kb.jsonl"
    new_kb.write_text(
        kb_path.read_text() + json.dumps({"id": "Q9", "name": "Zyntrax Holdings", "types": ["ORG"]}) + "\n"
    )
    result = CliRunner().invoke(
        app, ["rebuild-embeddings", str(tmp_path / "out" / "model-last"), str(tmp_path / "rebuilt"), "--kb", str(new_kb)]
    )
    assert result.exit_code == 0, result.output
    saved = tmp_path / "rebuilt" / "entity_normalizer" / "alias_embeddings.npy"
    import numpy

    assert numpy.load(saved).shape[0] == len(KB_RECORDS) + sum(len(r.get("aliases", [])) for r in KB_RECORDS) + 1
    assert link_with(tmp_path / "rebuilt", "Shares of Zyntrax Holdings fell.", "Zyntrax Holdings") == "Q9"
    result = CliRunner().invoke(app, ["rebuild-embeddings", str(tmp_path / "rebuilt"), str(tmp_path / "x"), "--kb", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1 and "no knowledge base at" in result.output


def test_trains_also_on_the_kb_without_harvested_aliases(kb_path):
    # Harvested, every training mention is an exact alias of its gold ID; half
    # of the batches see the KB as loaded, where "Big Blue" is not.
    nlp = make_nlp(kb_path, settings={**SETTINGS, "harvest_aliases": True})
    norm = nlp.get_pipe("entity_normalizer")
    examples = [example(nlp, t, m, q) for t in TEMPLATES for m, q in MENTIONS]
    nlp.initialize(lambda: examples)
    n_loaded = sum(1 + len(r.get("aliases", [])) for r in KB_RECORDS)
    index, _ = norm._ranking.harvest_free
    assert index.kb.n_aliases == n_loaded < norm.kb.n_aliases
    assert "Big Blue" in norm.kb.alias_texts and "Big Blue" not in index.kb.alias_texts
    seen = set()
    for _ in range(20):
        joiner = norm._training_joiner()
        seen.add(joiner.index.kb.n_aliases if joiner is not None else norm.kb.n_aliases)
        X, gold = norm._training_batch([examples[0]])
        assert (gold >= 0).all()
    assert seen == {n_loaded, norm.kb.n_aliases}


def test_context_from_a_shared_transformer(kb_path, tmp_path, tiny_transformer):
    """The ranker's context encoder can be a listener on the pipeline's
    transformer: `spacy train` trains both, and the pipeline links."""
    from spacy.util import load_config
    from thinc.api import Config

    configs = Path(__file__).resolve().parents[2] / "configs"
    config = load_config(configs / "normalizer_cnn.cfg")
    transformer = load_config(configs / "pipeline_trf.cfg")["components"]["transformer"]
    del config["components"]["tok2vec"]
    config["components"]["transformer"] = transformer
    config["nlp"]["pipeline"] = ["transformer", "entity_normalizer"]
    config["components"]["entity_normalizer"]["model"]["tok2vec"] = {
        "@architectures": "spacy-transformers.TransformerListener.v1",
        "grad_factor": 1.0,
        "upstream": "transformer",
        "pooling": {"@layers": "spacy-crf-ner.subword_pooling.v1", "mode": "mean"},
    }
    config["paths"]["transformer"] = str(tiny_transformer)
    Config(config).to_disk(tmp_path / "config.cfg")

    train_config(tmp_path / "config.cfg", kb_path, tmp_path, steps=30, **{"components.entity_normalizer.harvest_aliases": True})
    trained = spacy.load(tmp_path / "out" / "model-last")
    assert trained.pipe_names == ["transformer", "entity_normalizer"]
    assert list(trained.get_pipe("transformer").listener_map) == ["entity_normalizer"]
    # The context's gradients reached the shared transformer.
    import torch
    from transformers import BertModel

    before = BertModel.from_pretrained(str(tiny_transformer)).state_dict()
    after = trained.get_pipe("transformer").model.transformer.state_dict()
    changed = [k for k, v in before.items() if k in after and not torch.equal(v, after[k])]
    assert changed
    text = "Yesterday Big Blue announced results."
    doc = trained.make_doc(text)
    doc.ents = [doc.char_span(text.index("Big Blue"), text.index("Big Blue") + 8, label="ORG")]
    for _, proc in trained.pipeline:
        doc = proc(doc)
    assert doc.ents[0].kb_id_ == "Q1"
