import random

import numpy
import pytest

from spacy_crf_ner.kb.typo import TypoIndex, _deletion_hashes, _typo_neighbours, _typo_table, concat_utf8


def test_neighbours():
    keys = ["wilson disease", "wilsons disease", "wilson diseases", "wilosn disease", "wilson", "wilsen", "wi"]
    buf, off = concat_utf8(keys)
    assert off.tolist()[-1] == len(buf) == sum(len(k) for k in keys)
    index = TypoIndex(keys, 5, 64)
    assert len(index._starts) == 2**4 + 1  # a small table gets few buckets
    assert index._starts[-1] == len(index._table) == sum(len(k) + 1 for k in keys if len(k) >= 5)
    out = index.neighbours(["wilson disease", "wilsn", "xyz", "", "wílson"])
    assert out.shape == (5, 8)
    assert sorted(x for x in out[0].tolist() if x >= 0) == [0, 1, 2, 3]
    assert sorted(x for x in out[1].tolist() if x >= 0) == [4, 5]  # "wilsn" -> "wilson", "wilsen"
    # Bytes, not characters: "í" is two bytes, one substitution plus one
    # insertion away from "i" -- no match.
    assert (out[2:] == -1).all()


def _osa_within_one(x: bytes, y: bytes) -> bool:
    """One deletion, insertion, substitution or adjacent transposition at most (brute force)."""
    if x == y:
        return True
    variants = {y[:i] + y[i + 1 :] for i in range(len(y))}
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
def test_neighbours_equal_brute_force(max_len):
    """Every key within one edit is found (but for a transposition across the
    middle of a key longer than max_len, which is looked up by halves) and
    nothing else (all neighbours: the kernel with a wide output)."""
    rng = random.Random(max_len)
    keys = list(dict.fromkeys("".join(rng.choice("abcd") for _ in range(rng.randint(3, 20))) for _ in range(200)))
    buf, off = concat_utf8(keys)
    table, starts = _typo_table(buf, off, 3, max_len)
    queries = []
    for _ in range(150):
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
    q_buf, q_off = concat_utf8(queries)
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
    assert n_long > 25  # the half lookup was exercised


def test_deletion_hashes_match_hashing_the_deleted_string():
    text = b"hepatolenticular"
    buf = numpy.frombuffer(text, dtype=numpy.uint8)
    out = numpy.empty(len(text) + 1, dtype=numpy.uint64)
    _deletion_hashes(buf, 0, len(text), out)
    for i in range(len(text)):
        deleted = numpy.frombuffer(text[:i] + text[i + 1 :], dtype=numpy.uint8)
        one = numpy.empty(len(deleted) + 1, dtype=numpy.uint64)
        _deletion_hashes(deleted, 0, len(deleted), one)
        assert one[0] == out[1 + i]
