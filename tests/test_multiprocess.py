"""Worker processes: the full CNN pipeline gives identical results under
fork and spawn, pickles, serializes Docs without catalogue look-ups, and a
torch encoder does not hang a forked worker."""
import json
import multiprocessing
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import Doc

import spacy_crf_ner.pipeline  # noqa: F401  (installs the process settings)
from spacy_crf_ner.multiprocess import CachedRegistryLookup
from util import tagged_examples, train

KB = [
    {"id": "P1", "name": "Shaka Khan", "types": ["PERSON"]},
    {"id": "L1", "name": "London", "types": ["LOC"]},
    {"id": "L2", "name": "Berlin", "types": ["LOC"]},
    {"id": "L3", "name": "Paris", "types": ["LOC"]},
]
TEXTS = ["Shaka Khan flew to London .", "I like Berlin and Paris .", "Who is Sarah ?", "Nothing ."] * 6


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    """crf_tagger + crf_ner + entity_normalizer on CNN encoders, trained a
    little and saved."""
    tmp = tmp_path_factory.mktemp("pipeline")
    kb = tmp / "kb.jsonl"
    kb.write_text("".join(json.dumps(r) + "\n" for r in KB), encoding="utf8")
    nlp = spacy.blank("en")
    nlp.add_pipe("crf_tagger")
    nlp.add_pipe("crf_ner")
    nlp.add_pipe("entity_normalizer", config={"threshold": 0.5})
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(kb)}
    }
    train(nlp, tagged_examples(nlp), steps=30)
    nlp.to_disk(tmp / "model")
    return tmp / "model"


def signature(doc: Doc):
    ents = [
        (e.start, e.end, e.label_, e.kb_id_, e._.crf_confidence, [tuple(c) for c in e._.kb_candidates])
        for e in doc.ents
    ]
    spans = {key: [(s.start, s.end, s.label_) for s in group] for key, group in doc.spans.items()}
    scores = {key: list(map(float, group.attrs.get("scores", []))) for key, group in doc.spans.items()}
    return ents, [t.tag_ for t in doc], spans, scores


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes_give_the_same_results(pipeline_dir, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    nlp = spacy.load(pipeline_dir)
    one = [signature(doc) for doc in nlp.pipe(TEXTS)]
    assert any(ents for ents, *_ in one)
    previous = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(method, force=True)
    try:
        two = [signature(doc) for doc in nlp.pipe(TEXTS, n_process=2, batch_size=4)]
    finally:
        multiprocessing.set_start_method(previous, force=True)
    assert two == one


def test_pipeline_pickles(pipeline_dir):
    nlp = spacy.load(pipeline_dir)
    copy = pickle.loads(pickle.dumps(nlp))
    assert [signature(d) for d in copy.pipe(TEXTS[:4])] == [signature(d) for d in nlp.pipe(TEXTS[:4])]


def test_doc_serialization_skips_the_registry_lookup(pipeline_dir, monkeypatch):
    """Once cached, serializing our Docs (span group, user_data) asks
    catalogue nothing."""
    from srsly import msgpack

    calls = []
    for registry in (msgpack.msgpack_encoders, msgpack.msgpack_decoders):
        cached = registry.get_all
        assert isinstance(cached, CachedRegistryLookup)
        lookup = cached._lookup
        monkeypatch.setattr(cached, "_lookup", lambda lookup=lookup: calls.append(1) or lookup())
    nlp = spacy.load(pipeline_dir)
    docs = list(nlp.pipe(TEXTS))
    assert docs[0].spans and docs[0].user_data
    calls.clear()
    for doc in docs:
        copy = Doc(nlp.vocab).from_bytes(doc.to_bytes())
        assert signature(copy) == signature(doc)
    assert calls == []


def test_registry_lookup_sees_new_and_replaced_decoders():
    import catalogue
    from srsly import msgpack

    key = ("srsly", "msgpack_decoders", "spacy_crf_ner_test")
    data = srsly.msgpack_dumps({"__test__": 1})
    assert srsly.msgpack_loads(data) == {"__test__": 1}

    def decoder(name):
        def decode(obj, chain=None):
            if isinstance(obj, dict) and "__test__" in obj:
                return name
            return obj if chain is None else chain(obj)

        return decode

    try:
        msgpack.msgpack_decoders.register("spacy_crf_ner_test", func=decoder("first"))
        assert srsly.msgpack_loads(data) == "first"
        msgpack.msgpack_decoders.register("spacy_crf_ner_test", func=decoder("second"))
        assert srsly.msgpack_loads(data) == "second"
    finally:
        catalogue.REGISTRY.pop(key, None)
    assert srsly.msgpack_loads(data) == {"__test__": 1}


def test_torch_encoder_does_not_hang_a_forked_worker(tmp_path):
    """A BiLSTM pipeline that ran in the parent, then nlp.pipe(n_process=2)
    under fork: the workers used to wait forever on torch's thread pool.
    (SPACY_CRF_NER_ONE_THREAD_WORKERS=0 brings the hang back.)"""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    code = textwrap.dedent(
        """
        import multiprocessing, spacy
        multiprocessing.set_start_method("fork", force=True)
        nlp = spacy.blank("en")
        nlp.add_pipe("crf_ner", config={"model": {"tok2vec": {
            "@architectures": "spacy-crf-ner.BiLSTMCharCNN.v1", "width": 16, "depth": 1,
            "embed_size": 100, "char_width": 8, "char_window": 1, "max_chars": 10, "dropout": 0.0}}})
        nlp.get_pipe("crf_ner").add_label("PERSON")
        nlp.initialize()
        texts = ["Shaka Khan flew to London ."] * 40
        one = [[(e.start, e.end) for e in d.ents] for d in nlp.pipe(texts)]
        two = [[(e.start, e.end) for e in d.ents] for d in nlp.pipe(texts, n_process=2, batch_size=5)]
        assert one == two
        print("done")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "done"


def _thread_counts():
    from threadpoolctl import threadpool_info

    return sorted({info["num_threads"] for info in threadpool_info()})


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_use_one_thread(method):
    """N workers on N cores, each with a pool of N BLAS threads, made
    n_process=2 slower than one process."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    import numpy  # noqa: F401  (loads OpenBLAS in the parent)

    with multiprocessing.get_context(method).Pool(1) as pool:
        assert pool.apply(_thread_counts) in ([], [1])
