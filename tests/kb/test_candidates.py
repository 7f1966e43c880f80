import gc
import random

import numpy
import pytest

from spacy_crf_ner.kb import Candidate, CandidateIndex, IndexConfig, KnowledgeBase, NormalizationConfig
from spacy_crf_ner.kb.normalize import char_ngrams


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
    assert index.candidates_batch(texts, 4) == [index.candidates(t, 4) for t in texts]


def test_serialization_roundtrip(kb, index, tmp_path):
    index.to_disk(tmp_path / "index")
    loaded = CandidateIndex.from_disk(tmp_path / "index", kb)
    other = CandidateIndex.from_dict(index.to_dict(), kb)
    texts = ["IBM", "Apple", "arthritis rheumatoid", "hepatolenticular degenration", "Lovelace"]
    expected = index.candidates_batch(texts, 5)
    assert loaded.candidates_batch(texts, 5) == expected
    assert other.candidates_batch(texts, 5) == expected


def _brute_force_cosine(index, query_key):
    """Dense TF-IDF cosine of a query against every key, written independently."""
    n_keys = len(index.keys)
    vocab = index.vocab
    dim = len(vocab)
    n_docs = n_keys
    df = numpy.zeros(dim)
    key_sets = [set(char_ngrams(k, 3)) for k in index.keys]
    for grams in key_sets:
        for g in grams:
            df[vocab[g]] += 1
    idf = numpy.log((1 + n_docs) / (1 + df)) + 1
    mat = numpy.zeros((n_keys, dim))
    for i, grams in enumerate(key_sets):
        for g in grams:
            mat[i, vocab[g]] = idf[vocab[g]]
    mat /= numpy.linalg.norm(mat, axis=1, keepdims=True)
    q = numpy.zeros(dim)
    extra = 0.0
    for g in set(char_ngrams(query_key, 3)):
        if g in vocab:
            q[vocab[g]] = idf[vocab[g]]
        else:
            extra += (numpy.log(1 + n_docs) + 1) ** 2
    q /= numpy.sqrt(q @ q + extra)
    return mat @ q


def test_fuzzy_scores_equal_brute_force():
    rng = random.Random(0)
    letters = "abcdefghij"
    kb = KnowledgeBase()
    for i in range(300):
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 7))) for _ in range(rng.randint(1, 3))]
        kb.add_entity(f"E{i}", " ".join(words))
    plain = NormalizationConfig(stop_suffixes=(), plurals=False)
    exhaustive = CandidateIndex.build(kb, plain, IndexConfig(posting_budget=2**62, word_order=False, inverted_names=False))
    budgeted = CandidateIndex.build(kb, plain, IndexConfig(posting_budget=50, word_order=False, inverted_names=False))
    hits = 0
    for _ in range(40):
        query = "".join(rng.choice(letters) for _ in range(rng.randint(4, 10)))
        scores = _brute_force_cosine(exhaustive, query)
        idx, sc = exhaustive.search_keys([query], 5)
        expected = numpy.sort(scores)[::-1][:5]
        numpy.testing.assert_allclose(sc[0][: len(expected)], expected, atol=1e-5)
        assert scores[idx[0][0]] == pytest.approx(expected[0], abs=1e-5)
        # With a posting budget the scores returned are still exact cosines.
        bidx, bsc = budgeted.search_keys([query], 5)
        valid = bidx[0] >= 0
        numpy.testing.assert_allclose(bsc[0][valid], scores[bidx[0][valid]], atol=1e-5)
        hits += int(bidx[0][0] == idx[0][0])
    assert hits >= 30  # the budget rarely changes the nearest key


def test_config_unknown_key():
    with pytest.raises(ValueError, match="unknown index setting"):
        IndexConfig.from_dict({"ngrams": 3})


def test_result_cache(kb):
    from dataclasses import replace

    index = CandidateIndex.build(kb, config=IndexConfig(cache_size=2))
    uncached = CandidateIndex.build(kb, config=IndexConfig(cache_size=0))
    texts = ["IBM", "Apple", "Internatonal Busines Machine", "Apple", "IBM"]
    for _ in range(2):
        assert index.candidates_batch(texts, 3) == uncached.candidates_batch(texts, 3)
        assert index.candidates("Apple", 3, {"FOOD"}) == uncached.candidates("Apple", 3, {"FOOD"})
    # Cache hits are Candidate objects too (the cache keeps plain tuples).
    hits = index.candidates_batch(["IBM", "Apple"], 3)
    assert all(type(c) is Candidate and c.id == c[0] for cands in hits for c in cands)
    assert len(index._result_cache) <= 2
    # New settings empty the cache: no stale results.
    index.config = replace(index.config, fuzzy=False)
    assert index._result_cache == {}
    assert index.candidates("Internatonal Busines Machine") == []


def _collect_twice():
    # A collection stops tracking the inner tuples; the outer one, which the
    # collector reaches first, on the next.
    gc.collect()
    gc.collect()


def test_candidate_tuples_are_untracked(kb):
    """candidate_tuples gives what candidates_normalized gives, as plain
    tuples the garbage collector stops tracking, from the cache too."""
    index = CandidateIndex.build(kb, config=IndexConfig(cache_size=10))
    keys = [index.normalizer(t) for t in ["IBM", "Internatonal Busines Machine", "Apple", "nothing like it"]]
    for _ in range(2):  # computed, then from the cache
        rows = index.candidate_tuples(keys, 3)
        assert [list(r) for r in rows] == [[tuple(c) for c in cands] for cands in index.candidates_normalized(keys, 3)]
        _collect_twice()
        assert all(type(r) is tuple and not gc.is_tracked(r) for r in rows)
        assert all(type(c) is tuple and not gc.is_tracked(c) for r in rows for c in r)


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


def _random_kb(n: int, seed: int = 0, letters: str = "abcdefghij") -> KnowledgeBase:
    rng = random.Random(seed)
    kb = KnowledgeBase()
    for i in range(n):
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 8))) for _ in range(rng.randint(1, 3))]
        kb.add_entity(f"E{i}", " ".join(words))
    return kb


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
    kb = _random_kb(2000, letters="abcdef")
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
        found = index.candidates_batch(queries, 3)
        return sum(any(c.id == g for c in cands) for cands, g in zip(found, golds)) / len(golds)

    # Other keys one edit away can tie with or beat the gold one: hence not 100 %.
    assert recall(with_typos) > 0.95
    assert recall(without) < recall(with_typos) - 0.2
    # Scores stay TF-IDF cosines, below an exact match's 1.0.
    assert all(0 < c[0].score < 1.0 for c in with_typos.candidates_batch(queries, 1) if c)


def test_typo_index_leaves_exhaustive_results_alone():
    kb = _random_kb(300, seed=1)
    plain = NormalizationConfig(stop_suffixes=(), plurals=False)
    settings = dict(word_order=False, inverted_names=False, posting_budget=2**62)
    a = CandidateIndex.build(kb, plain, IndexConfig(**settings))
    b = CandidateIndex.build(kb, plain, IndexConfig(typo_index=False, **settings))
    rng = random.Random(2)
    queries = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(4, 12))) for _ in range(50)]
    queries += [kb.alias_texts[i][:-1] for i in range(50)]
    for ca, cb in zip(a.candidates_batch(queries, 1), b.candidates_batch(queries, 1)):
        assert [c.score for c in ca] == pytest.approx([c.score for c in cb])


def test_typo_neighbours_kernel():
    from spacy_crf_ner.kb.candidates import _concat_utf8, _typo_neighbours, _typo_table

    keys = ["wilson disease", "wilsons disease", "wilson diseases", "wilosn disease", "wilson", "wilsen", "wi"]
    buf, off = _concat_utf8(keys)
    assert off.tolist()[-1] == len(buf) == sum(len(k) for k in keys)
    table, starts = _typo_table(buf, off, 5, 64)
    assert len(starts) == 2**4 + 1  # a small table gets few buckets
    assert starts[-1] == len(table) == sum(len(k) + 1 for k in keys if len(k) >= 5)
    queries = ["wilson disease", "wilsn", "xyz", "", "wílson"]
    q_buf, q_off = _concat_utf8(queries)
    out = numpy.full((len(queries), 8), -1, dtype=numpy.int32)
    counts = _typo_neighbours(q_buf, q_off, buf, off, table, starts, 5, 64, out)
    assert sorted(out[0, : counts[0]].tolist()) == [0, 1, 2, 3]
    assert sorted(out[1, : counts[1]].tolist()) == [4, 5]  # "wilsn" -> "wilson", "wilsen"
    assert counts[2] == counts[3] == 0
    # Bytes, not characters: "í" is two bytes, one substitution plus one
    # insertion away from "i" -- no match.
    assert counts[4] == 0


def _osa_within_one(x: bytes, y: bytes) -> bool:
    """One deletion, insertion, substitution or adjacent transposition at most (brute force)."""
    if x == y:
        return True
    variants = {y[:i] + y[i + 1 :] for i in range(len(y))}  # x is y with a deletion
    variants |= {y[:i] + bytes([c]) + y[i:] for i in range(len(y) + 1) for c in set(x)}
    variants |= {y[:i] + bytes([c]) + y[i + 1 :] for i in range(len(y)) for c in set(x)}
    variants |= {y[:i] + y[i + 1 : i + 2] + y[i : i + 1] + y[i + 2 :] for i in range(len(y) - 1)}
    return x in variants


def _middle_transposition(key: bytes, query: bytes) -> bool:
    """Whether query is key with the two bytes around its middle swapped."""
    half = len(key) // 2
    swapped = key[: half - 1] + key[half : half + 1] + key[half - 1 : half] + key[half + 1 :]
    return key != query and swapped == query


@pytest.mark.parametrize("max_len", [8, 12])
def test_typo_neighbours_kernel_by_halves_is_exact(max_len):
    """Keys longer than max_len are found by halves: every key within one edit
    is found (but for a transposition across the key's middle) and nothing else."""
    from spacy_crf_ner.kb.candidates import _concat_utf8, _typo_neighbours, _typo_table

    rng = random.Random(max_len)
    keys = list(dict.fromkeys("".join(rng.choice("abcd") for _ in range(rng.randint(3, 20))) for _ in range(400)))
    buf, off = _concat_utf8(keys)
    table, starts = _typo_table(buf, off, 3, max_len)
    queries = []
    for _ in range(600):
        key = rng.choice(keys)
        i = rng.randrange(len(key))
        edit = rng.randrange(4)
        if edit == 0:
            queries.append(key[:i] + key[i + 1 :])
        elif edit == 1:
            queries.append(key[:i] + rng.choice("abcd") + key[i:])
        elif edit == 2:
            queries.append(key[:i] + rng.choice("abcd") + key[i + 1 :])
        else:
            queries.append(key[:i] + key[i + 1 : i + 2] + key[i : i + 1] + key[i + 2 :])
    q_buf, q_off = _concat_utf8(queries)
    out = numpy.full((len(queries), 64), -1, dtype=numpy.int32)
    counts = _typo_neighbours(q_buf, q_off, buf, off, table, starts, 3, max_len, out)
    n_long = 0
    for qi, query in enumerate(queries):
        q = query.encode()
        found = set(out[qi, : counts[qi]].tolist())
        expected = {
            k for k, key in enumerate(keys)
            if len(q) >= 2 and _osa_within_one(q, key.encode())
            and not (len(key) > max_len and _middle_transposition(key.encode(), q))
        }
        assert found == expected, (query, [keys[k] for k in found ^ expected])
        n_long += any(len(keys[k]) > max_len for k in found)
    assert n_long > 100  # the half lookup was exercised


def test_deletion_hashes_match_hashing_the_deleted_string():
    from spacy_crf_ner.kb.candidates import _deletion_hashes

    text = b"hepatolenticular"
    buf = numpy.frombuffer(text, dtype=numpy.uint8)
    out = numpy.empty(len(text) + 1, dtype=numpy.uint64)
    _deletion_hashes(buf, 0, len(text), out)
    for i in range(len(text)):
        deleted = numpy.frombuffer(text[:i] + text[i + 1 :], dtype=numpy.uint8)
        one = numpy.empty(len(deleted) + 1, dtype=numpy.uint64)
        _deletion_hashes(deleted, 0, len(deleted), one)
        assert one[0] == out[1 + i]
    assert len(set(out.tolist())) == len(set(text[:i] + text[i + 1 :] for i in range(len(text)))) + 1


@pytest.mark.parametrize("ngram_sizes", [(3,), (2, 3), (1,), (3, 2, 1), (4,)])
def test_compiled_vectorizer_equals_python(ngram_sizes):
    """The compiled query vectorizer gives the Python one's rows exactly, on
    strings with non-ASCII letters, astral code points and every kind of
    whitespace str.split() knows."""
    rng = random.Random(1)
    alphabet = "abcde é\u00e0\u4e2d\U0001F600\t\x1c\x85\u3000\u2028 "
    kb = KnowledgeBase()
    for i in range(200):
        kb.add_entity(f"E{i}", "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))))
    plain = NormalizationConfig(stop_suffixes=(), plurals=False, punctuation=False)
    index = CandidateIndex.build(kb, plain, IndexConfig(ngram_sizes=ngram_sizes))
    assert (index._gram_codes is None) == (max(ngram_sizes) > 3)
    keys = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))) for _ in range(1000)]
    keys += ["", " ", "  a  b ", "\u4e2d"]
    compiled = index.vectorize(keys)
    python = index._vectorize_py(keys)
    numpy.testing.assert_array_equal(compiled[0], python[0])
    numpy.testing.assert_array_equal(compiled[1], python[1])
    numpy.testing.assert_allclose(compiled[2], python[2], rtol=1e-6)


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
    nb_idx, _, nb_more = index._neighbours
    assert nb_idx.shape == (len(index.keys), 8) and nb_more.any()
    searched = CandidateIndex.from_dict(index.to_dict(), kb)
    searched._neighbours = None
    texts = [kb.alias_texts[p] for p in range(kb.n_aliases)]
    assert all(index.normalizer(t) in index.exact for t in texts)
    beyond_table = 0
    for k in (1, 5, 12):
        for types in (None, {"T1"}, {"T0", "T2"}):
            allowed = [types] * len(texts)
            got = index.candidates_batch(texts, k, allowed)
            assert got == searched.candidates_batch(texts, k, allowed)
            for text, cands in zip(texts, got):
                row = index.exact[index.normalizer(text)]
                stored = set(nb_idx[row].tolist()) | {row}
                beyond_table += any(index.exact[index.normalizer(c.alias)] not in stored for c in cands)
    assert beyond_table > 0  # some rows were searched after all
    # The table is read: altered scores show.
    altered = CandidateIndex.from_dict(index.to_dict(), kb)
    altered._neighbours = (nb_idx, index._neighbours[1] * 0.5, nb_more)
    assert altered.candidates_batch(texts, 5) != index.candidates_batch(texts, 5)
    # Saved and loaded with the index; other settings fall back to the search.
    index.to_disk(tmp_path / "index")
    loaded = CandidateIndex.from_disk(tmp_path / "index", kb)
    assert all(numpy.array_equal(a, b) for a, b in zip(loaded._neighbours, index._neighbours))
    assert loaded.candidates_batch(texts, 5) == index.candidates_batch(texts, 5)
    from dataclasses import replace

    for other in (replace(index.config, posting_budget=500), replace(index.config, n_keys=4)):
        index.config = searched.config = other
        assert index.candidates_batch(texts, 5) == searched.candidates_batch(texts, 5)
