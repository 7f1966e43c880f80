"""Fuzzing every component with nasty text: thousands of texts per default
run (hypothesis draws batches of texts, which are piped through small
briefly trained pipelines); more under --runslow. No exception, and the
invariants of tests/util.check_invariants hold."""

import random

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Span
from spacy.training import Example

from util import KB_RECORDS, NASTY, check_invariants, nasty_texts, ner_normalizer_pipeline, write_kb

BATCH = 25
EXAMPLES = 80  # 80 batches of 25: 2,000 texts per component
KB_IDS = {r["id"] for r in KB_RECORDS}

pieces = st.sampled_from(NASTY)
nasty_text = st.one_of(
    st.lists(pieces, max_size=25).map(" ".join),
    st.lists(pieces, max_size=25).map("".join),
    st.text(max_size=60),
)
batches = st.lists(nasty_text, min_size=BATCH, max_size=BATCH)
fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def ner_nlp(tmp_path_factory):
    return ner_normalizer_pipeline(write_kb(tmp_path_factory.mktemp("kb") / "kb.jsonl"), steps=10)


@pytest.fixture(scope="module")
def tagger_nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("crf_tagger")
    data = [("I like green eggs", ["N", "V", "J", "N"]), ("Eat blue ham", ["V", "J", "N"])]
    examples = [Example.from_dict(nlp.make_doc(t), {"tags": tags}) for t, tags in data]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(5):
        nlp.update(examples, sgd=optimizer)
    return nlp


def known_id(kb_id):
    """An ID of the KB, or a composite ("a+b") or alternatives ("a|b") of them."""
    return set(kb_id.replace("|", "+").split("+")) <= KB_IDS


def kb_ids_known(doc):
    for ent in doc.ents:
        assert not ent.kb_id_ or known_id(ent.kb_id_), ent.kb_id_


def run_ner(nlp, texts):
    with nlp.select_pipes(enable=["crf_ner"]):
        docs = list(nlp.pipe(texts, batch_size=BATCH))
    assert [d.text for d in docs] == texts
    for doc in docs:
        check_invariants(doc)


def run_normalizer(nlp, texts, seed):
    """Random entities (any label, any length) on each doc, then the normalizer."""
    rng = random.Random(seed)
    docs = []
    for doc in nlp.pipe(texts, disable=["crf_ner", "entity_normalizer"]):
        ents, i = [], 0
        while i < len(doc):
            n = rng.randint(1, 4)
            if rng.random() < 0.5 and i + n <= len(doc):
                ents.append(
                    Span(doc, i, i + n, label=rng.choice(["ORG", "LOC", "DISEASE", "MISC"]))
                )
            i += n
        doc.ents = ents
        docs.append(doc)
    normalizer = nlp.get_pipe("entity_normalizer")
    out = list(normalizer.pipe(docs, batch_size=BATCH))
    for doc in out:
        check_invariants(doc)
        kb_ids_known(doc)
        for ent in doc.ents:
            for cid, score, _ in ent._.kb_candidates:
                assert known_id(cid) and 0.0 <= score <= 1.0, (cid, score)


def run_tagger(nlp, texts):
    tagger = nlp.get_pipe("crf_tagger")
    for doc in nlp.pipe(texts, batch_size=BATCH):
        assert all(t.tag_ in tagger.labels for t in doc)


@fuzz_settings
@given(texts=batches)
def test_fuzz_crf_ner(ner_nlp, texts):
    run_ner(ner_nlp, texts)


@fuzz_settings
@given(texts=batches, seed=st.integers(0, 1000))
def test_fuzz_entity_normalizer(ner_nlp, texts, seed):
    run_normalizer(ner_nlp, texts, seed)


@fuzz_settings
@given(texts=batches)
def test_fuzz_crf_tagger(tagger_nlp, texts):
    run_tagger(tagger_nlp, texts)


def test_full_pipeline_on_nasty_texts(ner_nlp):
    """crf_ner then entity_normalizer, as users run them."""
    for doc in ner_nlp.pipe(nasty_texts(300, seed=1), batch_size=50):
        check_invariants(doc)
        kb_ids_known(doc)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_fuzz_long_run(ner_nlp, tagger_nlp, seed):
    texts = nasty_texts(5000, seed=seed, max_parts=200)
    run_ner(ner_nlp, texts)
    run_normalizer(ner_nlp, texts, seed)
    run_tagger(tagger_nlp, texts)
