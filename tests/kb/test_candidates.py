import numpy
import pytest

from spacy_crf_ner.kb import FEATURES, CandidateIndex, IndexConfig, KnowledgeBase, rule_scores
from spacy_crf_ner.kb.candidates import COSINE, EXACT, IDENTIFIER_MISSING, NUMBERS_MISSING, WORD_ORDER


@pytest.fixture(scope="module")
def index():
    kb = KnowledgeBase()
    kb.add_entity("D1", "Wilson Disease", ["hepatolenticular degeneration"])
    kb.add_entity("D2", "Arthritis, Rheumatoid")
    kb.add_entity("T1", "Diabetes Mellitus, Type 1")
    kb.add_entity("C9", "C9 deficiency")
    kb.add_alias("Wilson Disease", "D1", count=4)
    return CandidateIndex.build(kb)


def test_features_name_the_evidence(index):
    batch = index.search(["Wilson disease", "degeneration hepatolenticular", "Wilsn disease", "nothing", ""], 3)
    assert batch.data.shape == (5, 3, 4 + len(FEATURES)) and batch.keys[0] == "wilson disease"
    exact, word_order, typo, nothing, empty = (batch.feature_dict(i) for i in range(5))
    assert exact[0]["exact"] == 1 and exact[0]["cosine"] == 1 and exact[0]["prior_count"] == 5
    assert word_order[0]["word_order"] == 1 and word_order[0]["exact"] == 0
    assert typo[0]["typo"] == 1 and typo[0]["exact"] == typo[0]["word_order"] == 0
    assert 0 < typo[0]["cosine"] < 1
    assert empty == [] and batch.candidates(4) == []
    assert all(f["exact"] == 0 for f in nothing)
    # The batch's scores are the rule-based function of its features.
    cfg = index.config
    scores = rule_scores(batch.features, cfg.word_order_score, cfg.number_penalty)
    valid = batch.entities >= 0
    numpy.testing.assert_array_equal(scores[valid], batch.scores[valid])
    assert batch.to_lists() == [batch.candidates(i) for i in range(5)]
    assert [c.id for c in batch.candidates(0)][:1] == ["D1"]


def test_number_features(index):
    batch = index.search(["type 2 diabetes mellitus", "inherited C9 deficiency"], 4)
    first = dict(zip((c.id for c in batch.candidates(0)), batch.feature_dict(0)))
    assert first["T1"]["numbers_differ"] == 1
    second = dict(zip((c.id for c in batch.candidates(1)), batch.feature_dict(1)))
    assert second["C9"]["identifier_missing"] == 0 and second["D1"]["identifier_missing"] == 1
    assert second["D1"]["numbers_missing"] == 1


def test_rule_scores():
    f = numpy.zeros((3, 2, len(FEATURES)))
    f[0, 0, EXACT] = 1
    f[0, 1, COSINE] = 0.5
    f[0, 1, NUMBERS_MISSING] = 1  # behind an exact match: not penalized
    f[1, 0, WORD_ORDER] = 1
    f[1, 1, COSINE] = 0.5
    f[1, 1, NUMBERS_MISSING] = f[1, 1, IDENTIFIER_MISSING] = 1
    f[2, 0, COSINE] = 0.8
    scores = rule_scores(f, 0.97, 0.1)
    numpy.testing.assert_allclose(scores, [[1.0, 0.5], [0.97, round(0.5 * 0.95 * 0.9, 6)], [0.8, 0.0]])
    numpy.testing.assert_allclose(rule_scores(f, 0.9, 0.0)[1], [0.9, 0.5])


def test_numbers_reorder_candidates():
    kb = KnowledgeBase()
    kb.add_entity("T1", "Diabetes Mellitus, Type 1")
    kb.add_entity("T2", "Diabetes Mellitus, Type 2")
    index = CandidateIndex.build(kb, config=IndexConfig(word_order=False))
    plain = CandidateIndex.build(kb, config=IndexConfig(word_order=False, number_penalty=0.0))
    cands = index.candidates("diabetes mellitus type 2 disease")
    assert cands[0].id == "T2" and cands[1].score < plain.candidates("diabetes mellitus type 2 disease")[1].score
