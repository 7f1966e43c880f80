import random
from dataclasses import replace

import numpy
import pytest

from spacy_crf_ner.kb import CandidateIndex, IndexConfig, KnowledgeBase, NormalizationConfig
from spacy_crf_ner.kb._kernels import Neighbours
from spacy_crf_ner.kb.candidates import COSINE, KEY
from tests.util import dense_tfidf, random_kb


def lists(index, texts, k=5, allowed=None):
    return index.search(texts, k, allowed).to_lists()


@pytest.fixture(scope="module")
def kb():
    kb = KnowledgeBase()
    kb.add_entity("Q1", "International Business Machines", ["IBM", "IBM Corp.", "Big Blue"], ["ORG"])
    kb.add_entity("Q2", "Apple Inc.", ["Apple"], ["ORG"])
    kb.add_entity("Q3", "apple", ["Apple", "apples"], ["FOOD"])
    kb.add_entity("D1", "Wilson Disease", ["hepatolenticular degeneration"], ["DISEASE"])
    kb.add_entity("D2", "Arthritis, Rheumatoid", [], ["DISEASE"])
    kb.add_entity("D3", "Arthritis", [], ["DISEASE"])
    kb.add_entity("P1", "Ada Lovelace", ["Augusta Ada King"], ["PER"])
    kb.add_alias("Apple", "Q2", count=3)  # seen 3 times in training data: a stronger prior
    return kb


@pytest.fixture(scope="module")
def index(kb):
    return CandidateIndex.build(kb)


def test_ibm_example(index):
    for text in ("IBM", "International Business Machines", "IBM Corp.", "ibm corp", "I.B.M. Corp"):
        cands = index.candidates(text)
        assert cands[0].id == "Q1", text
    assert index.candidates("IBM Corp.")[0].score == 1.0


def test_exact_and_inverted_names(index):
    best = index.candidates("rheumatoid arthritis")[0]
    assert best.id == "D2" and best.score == 1.0 and best.alias == "Arthritis, Rheumatoid"
    assert index.candidates("Wilson's diseases")[0].id == "D1"


def test_fuzzy(index):
    cands = index.candidates("hepatolenticular degenerations syndrome")
    assert cands[0].id == "D1"
    assert 0.5 < cands[0].score < 1.0
    cands = index.candidates("Internatonal Busines Machine")
    assert cands[0].id == "Q1" and cands[0].score < 1.0


def test_ambiguous_alias_ranked_by_prior(index):
    cands = index.candidates("Apple", k=5)
    assert [c.id for c in cands[:2]] == ["Q2", "Q3"]
    assert cands[0].score == cands[1].score == 1.0


def test_type_filter(index):
    assert [c.id for c in index.candidates("Apple", k=5, allowed_types={"FOOD"})][:1] == ["Q3"]
    assert all(c.id != "Q2" for c in index.candidates("Apple", k=5, allowed_types={"FOOD"}))
    assert index.candidates("Ada Lovelace", allowed_types={"ORG"}) == [] or all(
        c.id != "P1" for c in index.candidates("Ada Lovelace", allowed_types={"ORG"})
    )
    assert index.candidates("Ada Lovelace", allowed_types={"PER", "ORG"})[0].id == "P1"


def test_unknown_and_empty(index):
    cands = index.candidates("zzzz qqqq")
    assert all(c.score < 0.3 for c in cands)
    assert index.candidates("") == []
    assert index.candidates("  ...  ") == []


def test_top_k_sorted_and_unique(index):
    cands = index.candidates("arthritis", k=3)
    assert len(cands) <= 3
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)
    assert len({c.id for c in cands}) == len(cands)
    assert cands[0].id == "D3"


def test_batch_equals_single(index):
    texts = ["IBM", "Apple", "rheumatoid arthritis", "Wilsons disease", "unknown thing"]
    assert lists(index, texts, 4) == [index.candidates(t, 4) for t in texts]


def test_serialization_roundtrip(kb, index, tmp_path):
    index.to_disk(tmp_path / "index")
    loaded = CandidateIndex.from_disk(tmp_path / "index", kb)
    other = CandidateIndex.from_dict(index.to_dict(), kb)
    texts = ["IBM", "Apple", "arthritis rheumatoid", "hepatolenticular degenration", "Lovelace"]
    expected = lists(index, texts, 5)
    assert lists(loaded, texts, 5) == expected
    assert lists(other, texts, 5) == expected


def test_config_unknown_key():
    with pytest.raises(ValueError, match="unknown index setting"):
        IndexConfig.from_dict({"ngrams": 3})


def test_result_cache(kb):
    index = CandidateIndex.build(kb, config=IndexConfig(cache_size=2))
    uncached = CandidateIndex.build(kb, config=IndexConfig(cache_size=0))
    texts = ["IBM", "Apple", "Internatonal Busines Machine", "Apple", "IBM"]
    for _ in range(2):
        a, b = index.search(texts, 3), uncached.search(texts, 3)
        numpy.testing.assert_array_equal(a.data, b.data)
        assert index.candidates("Apple", 3, {"FOOD"}) == uncached.candidates("Apple", 3, {"FOOD"})
    assert 0 < len(index._cache) <= 2
    # New settings empty the cache: no stale results.
    index.config = replace(index.config, fuzzy=False)
    assert index._cache == {}
    assert index.candidates("Internatonal Busines Machine") == []


def test_fuzzy_scores_are_exact_cosines():
    """The cosine of every fuzzy candidate equals a dense brute-force TF-IDF
    cosine; exhaustive search finds the nearest key, and a posting budget
    rarely changes it."""
    kb = random_kb(300, seed=0, letters="abcdefghij")
    plain = NormalizationConfig(stop_suffixes=(), plurals=False)
    settings = dict(word_order=False, inverted_names=False, typo_index=False, number_penalty=0.0)
    exhaustive = CandidateIndex.build(kb, plain, IndexConfig(posting_budget=2**62, **settings))
    budgeted = CandidateIndex.build(kb, plain, IndexConfig(posting_budget=50, **settings))
    rng = random.Random(0)
    queries = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(4, 10))) for _ in range(40)]
    queries = [q for q in queries if q not in exhaustive.exact]
    scores = dense_tfidf(exhaustive.keys, queries)  # (queries, keys)
    hits = 0
    for index in (exhaustive, budgeted):
        batch = index.search(queries, 5)
        for i, row in enumerate(batch.data):
            keys = row[:, KEY].astype(int)
            valid = keys >= 0
            numpy.testing.assert_allclose(row[valid, 4 + COSINE], scores[i, keys[valid]], atol=1e-5)
            if index is exhaustive:
                assert row[0, 4 + COSINE] == pytest.approx(scores[i].max(), abs=1e-5)
            else:
                hits += int(scores[i, keys[0]] == pytest.approx(scores[i].max(), abs=1e-6))
    assert hits >= 0.75 * len(queries)


def test_numbers_and_identifiers_rank_candidates():
    kb = KnowledgeBase()
    kb.add_entity("T1", "Diabetes Mellitus, Type 1")
    kb.add_entity("T2", "Diabetes Mellitus, Type 2")
    kb.add_entity("C9", "C9 deficiency")
    kb.add_entity("INH", "inherited deficiency")
    index = CandidateIndex.build(kb)
    assert index.candidates("type II diabetes mellitus")[0].id == "T2"
    assert index.candidates("type 1 diabetes")[0].id == "T1"
    # "c9" is an identifier of the mention: an alias without it loses score
    # twice (no numbers at all: 1 - p/2; identifier missing: 1 - p); the alias
    # that has it keeps its cosine.
    plain = CandidateIndex.build(kb, config=IndexConfig(number_penalty=0.0))
    before = {c.id: c.score for c in plain.candidates("inherited C9 deficiency")}
    after = {c.id: c.score for c in index.candidates("inherited C9 deficiency")}
    assert after["C9"] == pytest.approx(before["C9"])
    assert after["INH"] == pytest.approx(before["INH"] * 0.95 * 0.9, abs=1e-5)


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s[:2] + s[3:],  # deletion
        lambda s: s[:2] + "z" + s[2:],  # insertion
        lambda s: s[:2] + "z" + s[3:],  # substitution
        lambda s: s[:1] + s[2] + s[1] + s[3:],  # adjacent transposition
    ],
)
def test_typo_index_finds_what_a_starved_search_misses(edit):
    # Six letters: n-grams are shared by many keys, as in a large KB, and a
    # posting budget of 1 (the two rarest n-grams) often misses the key.
    kb = random_kb(2000, letters="abcdef")
    plain = NormalizationConfig(stop_suffixes=(), plurals=False)
    settings = dict(word_order=False, inverted_names=False, posting_budget=1, n_rescore=4, n_keys=4)
    with_typos = CandidateIndex.build(kb, plain, IndexConfig(**settings))
    without = CandidateIndex.build(kb, plain, IndexConfig(typo_index=False, **settings))
    queries, golds = [], []
    for i in range(kb.n_aliases):
        query = edit(kb.alias_texts[i])
        if len(kb.alias_texts[i]) >= 6 and query not in with_typos.exact:
            queries.append(query)
            golds.append(kb.ids[kb.alias_entities[i]])

    def recall(index):
        found = lists(index, queries, 3)
        return sum(any(c.id == g for c in cands) for cands, g in zip(found, golds)) / len(golds)

    # Other keys one edit away can tie with or beat the gold one: hence not 100 %.
    assert recall(with_typos) > 0.95
    assert recall(without) < recall(with_typos) - 0.2
    # Scores stay TF-IDF cosines, below an exact match's 1.0.
    assert all(0 < c[0].score < 1.0 for c in lists(with_typos, queries, 1) if c)


def test_typo_index_leaves_exhaustive_results_alone():
    kb = random_kb(300, seed=1)
    plain = NormalizationConfig(stop_suffixes=(), plurals=False)
    settings = dict(word_order=False, inverted_names=False, posting_budget=2**62)
    a = CandidateIndex.build(kb, plain, IndexConfig(**settings))
    b = CandidateIndex.build(kb, plain, IndexConfig(typo_index=False, **settings))
    rng = random.Random(2)
    queries = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(4, 12))) for _ in range(50)]
    queries += [kb.alias_texts[i][:-1] for i in range(50)]
    for ca, cb in zip(lists(a, queries, 1), lists(b, queries, 1)):
        assert [c.score for c in ca] == pytest.approx([c.score for c in cb])


def _dense_kb(seed: int) -> KnowledgeBase:
    """Keys with many close neighbours, shared aliases, numbers and types."""
    rng = random.Random(seed)
    kb = KnowledgeBase()
    for i in range(600):
        words = ["".join(rng.choice("abcd") for _ in range(rng.randint(3, 6))) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.2:
            words.append(str(rng.randint(1, 3)))
        kb.add_entity(f"E{i}", " ".join(words), types=[f"T{i % 3}"])
    for i in range(0, 600, 7):  # aliases shared by two entities
        kb.add_alias(kb.names[i], f"E{(i + 1) % 600}")
    return kb


@pytest.mark.parametrize("seed", [0, 1])
def test_neighbour_table_gives_the_search_results(seed, tmp_path):
    """Behind an exact match, the stored neighbours give what the search
    gives: for any k, type filter and number check (the kernel searches when
    the stored keys do not settle the top k)."""
    kb = _dense_kb(seed)
    index = CandidateIndex.build(kb, config=IndexConfig(posting_budget=3000, cache_size=0))
    nb_idx, _, nb_more = index.neighbours
    assert nb_idx.shape == (len(index.keys), 8) and nb_more.any()
    searched = CandidateIndex.from_dict(index.to_dict(), kb)
    searched.neighbours = None
    texts = [kb.alias_texts[p] for p in range(kb.n_aliases)]
    assert all(index.normalizer(t) in index.exact for t in texts)
    beyond_table = 0
    for k in (1, 5, 12):
        for types in (None, {"T1"}, {"T0", "T2"}):
            allowed = [types] * len(texts)
            got = lists(index, texts, k, allowed)
            assert got == lists(searched, texts, k, allowed)
            for text, cands in zip(texts, got):
                row = index.exact[index.normalizer(text)]
                stored = set(nb_idx[row].tolist()) | {row}
                beyond_table += any(index.exact[index.normalizer(c.alias)] not in stored for c in cands)
    assert beyond_table > 0  # some rows were searched after all
    # The table is read: altered scores show.
    altered = CandidateIndex.from_dict(index.to_dict(), kb)
    altered.neighbours = Neighbours(nb_idx, index.neighbours.val * 0.5, nb_more)
    assert lists(altered, texts, 5) != lists(index, texts, 5)
    # Saved and loaded with the index; other settings fall back to the search.
    index.to_disk(tmp_path / "index")
    loaded = CandidateIndex.from_disk(tmp_path / "index", kb)
    assert all(numpy.array_equal(a, b) for a, b in zip(loaded.neighbours, index.neighbours))
    assert lists(loaded, texts, 5) == lists(index, texts, 5)
    for other in (replace(index.config, posting_budget=500), replace(index.config, n_keys=4)):
        index.config = searched.config = other
        assert lists(index, texts, 5) == lists(searched, texts, 5)
