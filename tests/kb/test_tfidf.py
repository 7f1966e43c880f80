import random

import numpy
import pytest

from spacy_crf_ner.kb.tfidf import CharTfidf, gram_code, transpose
from tests.util import dense_tfidf, word_ngrams


def _dense(rows, n_cols):
    out = numpy.zeros((len(rows.ptr) - 1, n_cols))
    for i in range(len(rows.ptr) - 1):
        a, b = rows.ptr[i], rows.ptr[i + 1]
        assert list(rows.cols[a:b]) == sorted(rows.cols[a:b])
        out[i, rows.cols[a:b]] = rows.vals[a:b]
    return out


@pytest.mark.parametrize("sizes", [(3,), (2, 3), (1,), (4,), (5, 2)])
def test_vectors_equal_brute_force(sizes):
    """Fitted rows and query vectors give the brute-force cosines, on strings
    with non-ASCII letters, astral code points and every kind of whitespace
    str.split() knows; n-grams longer than three characters are hashed."""
    rng = random.Random(1)
    alphabet = "abcde é\u00e0\u4e2d\U0001F600\t\x1c\x85\u3000\u2028 "
    keys = list(dict.fromkeys("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(150)))
    keys = [k for k in keys if k.split()]
    queries = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16))) for _ in range(150)]
    queries += ["", " ", "  a  b ", "\u4e2d", keys[0]]
    tfidf = CharTfidf(sizes)
    rows = tfidf.fit_transform(keys)
    assert sorted(tfidf.vocab) == sorted(set().union(*(word_ngrams(k, sizes) for k in keys)))
    mat = _dense(rows, len(tfidf.vocab))
    q = _dense(tfidf.transform(queries), len(tfidf.vocab))
    numpy.testing.assert_allclose(q @ mat.T, dense_tfidf(keys, queries, sizes), atol=1e-5)
    numpy.testing.assert_allclose(numpy.linalg.norm(mat, axis=1), 1.0, rtol=1e-5)
    # A key's own vector, computed again, is its row.
    numpy.testing.assert_allclose(_dense(tfidf.transform(keys), len(tfidf.vocab)), mat, atol=1e-6)


def test_gram_codes():
    assert gram_code(" ab") == (((1 << 21 | 32) << 21 | 97) << 21) | 98
    codes = {gram_code(g) for g in ["abcd", "abce", "bacd", " abc", "abcde", "abc", "ab"]}
    assert len(codes) == 7 and all(0 <= c < 2**64 for c in codes)


def test_transpose():
    tfidf = CharTfidf((3,))
    rows = tfidf.fit_transform(["wilson disease", "wilson", "disease"])
    cols = transpose(rows, len(tfidf.vocab))
    numpy.testing.assert_array_equal(_dense(cols, 3).T, _dense(rows, len(tfidf.vocab)))
