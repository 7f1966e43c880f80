"""Candidate generation: exact normalized alias, word-order-insensitive alias,
then fuzzy character n-gram TF-IDF cosine.

The fuzzy step is the method of scispaCy's linker (char 3-grams, TF-IDF,
cosine), searched with an inverted index over n-grams instead of an
approximate nearest-neighbour index: each query adds up the weights of the
aliases in the posting lists of its n-grams (a sparse matrix-vector product
done column by column), rarest n-grams first, and stops adding n-grams once
``posting_budget`` postings were visited (frequent n-grams add little weight
and cost the most), then rescores the best ``n_rescore`` aliases with the
exact cosine. Expansion to entities, type filtering and ranking by (score,
prior count) happen in the same numba kernel, and so does building the
query vectors, so the Python work per mention is normalization and one dict
lookup. See BENCHMARKS for the measurements behind this choice.
"""
import logging
import re
from dataclasses import asdict, dataclass
from itertools import islice, repeat
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

import numpy
import srsly
from .._numba import njit

from .knowledge_base import KnowledgeBase, read_msgpack_dict, read_npy
from .normalize import NormalizationConfig, Normalizer, invert_name, numbers, sorted_key
from .validation import FIX, ModelDataError, Where, validate_index

logger = logging.getLogger("spacy_crf_ner")


class Candidate(NamedTuple):
    """One candidate entity for a mention."""

    id: str
    score: float
    alias: str


# A candidate as a plain tuple (id, score, alias), and a mention's candidates
# as a plain tuple of those: what CandidateIndex.candidate_tuples returns and
# the entity_normalizer keeps. The garbage collector stops tracking plain
# tuples of strings and floats at the first collection they live through; it
# never stops tracking lists or NamedTuples, so results kept as those move
# into the oldest generation and make full collections come sooner.
CandidateTuple = Tuple[str, float, str]


@dataclass(frozen=True)
class IndexConfig:
    """Settings of :class:`CandidateIndex`.

    ngram_sizes (Tuple[int, ...]): Character n-gram lengths of the TF-IDF vectors.
    inverted_names (bool): Also index "Y X" for an alias "X, Y" (MeSH style).
    word_order (bool): Match aliases whose words are a permutation of the mention's.
    word_order_score (float): Score given to a word-order match.
    fuzzy (bool): Use the TF-IDF step at all.
    fuzzy_when_exact (bool): Also run the TF-IDF step when an exact match exists
        (fills the top-k list). Its result for each alias is computed when the
        index is built and saved with it (8 keys per normalized alias, 64 bytes
        each), so at query time it costs little.
    posting_budget (int): Postings visited per query when gathering fuzzy candidates,
        rarest n-grams first (the two rarest n-grams are always used). Bounds the
        cost per mention on large KBs; a very large value gives exhaustive search.
        A mention with an exact match or a typo neighbour reads a tenth of it,
        strictly (no n-gram whose postings would pass it): the search only fills
        its candidate list.
    n_rescore (int): Aliases rescored with the exact cosine per query.
    n_keys (int): Nearest normalized aliases expanded to entities per query.
    typo_index (bool): Also find aliases one edit away from the mention (a deletion,
        insertion, substitution or adjacent transposition; symmetric-deletion lookup,
        Garbe's SymSpell) and rescore them with the TF-IDF cosine. On large KBs the
        posting budget makes the n-gram search approximate; this finds the
        one-typo neighbours it can miss.
    typo_min_length (int): Aliases and mentions shorter than this (in UTF-8 bytes)
        are left out of the typo lookup: one edit changes a short word too much.
    typo_max_length (int): Longer aliases and mentions are looked up by halves
        instead: one edit leaves the first or the second half of a string intact,
        so a longer alias is stored under a hash of each half (two entries, where
        the deletion variants take length + 1 entries of 8 bytes).
    number_penalty (float): Fuzzy scores are multiplied by ``1 - number_penalty`` when
        mention and alias both contain numbers and they differ ("type 1" vs "type 2"),
        and by ``1 - number_penalty / 2`` when only the mention has numbers.
    cache_size (int): Results remembered per (normalized mention, type filter, k); real
        text repeats mentions. 0 disables the cache; when full it is emptied.
    """

    ngram_sizes: Tuple[int, ...] = (3,)
    inverted_names: bool = True
    word_order: bool = True
    word_order_score: float = 0.97
    fuzzy: bool = True
    fuzzy_when_exact: bool = True
    posting_budget: int = 10000
    n_rescore: int = 32
    n_keys: int = 16
    typo_index: bool = True
    typo_min_length: int = 5
    typo_max_length: int = 40
    number_penalty: float = 0.1
    cache_size: int = 100_000

    def __post_init__(self) -> None:
        # The kernels size their buffers from these: out-of-range values would
        # make them index outside the buffers.
        ints = ("posting_budget", "n_rescore", "n_keys", "typo_min_length", "typo_max_length")
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
                raise ValueError(f"entity_normalizer: index setting {name} must be a positive integer, not {value!r}.")
        if isinstance(self.cache_size, bool) or not isinstance(self.cache_size, (int, numpy.integer)) or self.cache_size < 0:
            raise ValueError(f"entity_normalizer: index setting cache_size must be an integer >= 0, not {self.cache_size!r}.")
        if self.typo_min_length > self.typo_max_length:
            raise ValueError("entity_normalizer: index setting typo_min_length must not exceed typo_max_length.")
        if not self.ngram_sizes or not all(isinstance(n, (int, numpy.integer)) and n >= 1 for n in self.ngram_sizes):
            raise ValueError(f"entity_normalizer: index setting ngram_sizes must be positive integers, not {self.ngram_sizes!r}.")
        for name in ("word_order_score", "number_penalty"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"entity_normalizer: index setting {name} must be in [0, 1], not {value!r}.")

    @classmethod
    def from_dict(cls, cfg: Dict[str, Any]) -> "IndexConfig":
        """cfg (Dict[str, Any]): Field values.
        RETURNS (IndexConfig): The config.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(
                f"entity_normalizer: unknown index setting(s) {unknown}. Use only {sorted(known)}."
            )
        values = dict(cfg)
        if "ngram_sizes" in values:
            values["ngram_sizes"] = tuple(int(n) for n in values["ngram_sizes"])
        return cls(**values)

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): JSON-serializable settings."""
        data = asdict(self)
        data["ngram_sizes"] = list(self.ngram_sizes)
        return data


# Numba kernels


@njit(cache=True, nogil=True)
def _csr_to_csc(row_ptr, row_cols, row_vals, n_cols):  # pragma: no cover - compiled
    n_rows = row_ptr.shape[0] - 1
    counts = numpy.zeros(n_cols + 1, numpy.int64)
    for p in range(row_cols.shape[0]):
        counts[row_cols[p] + 1] += 1
    col_ptr = numpy.cumsum(counts)
    fill = col_ptr[:-1].copy()
    col_rows = numpy.empty(row_cols.shape[0], numpy.int32)
    col_vals = numpy.empty(row_cols.shape[0], numpy.float32)
    for r in range(n_rows):
        for p in range(row_ptr[r], row_ptr[r + 1]):
            c = row_cols[p]
            col_rows[fill[c]] = r
            col_vals[fill[c]] = row_vals[p]
            fill[c] += 1
    return col_ptr, col_rows, col_vals


@njit(cache=True, nogil=True)
def _insert_top(top_idx, top_val, n_top, cap, r, v):  # pragma: no cover - compiled
    """Insert (r, v) into the first n_top entries, sorted by value descending and
    holding at most cap; returns the new count."""
    if n_top == cap and v <= top_val[n_top - 1]:
        return n_top
    pos = n_top if n_top < cap else cap - 1
    while pos > 0 and top_val[pos - 1] < v:
        top_val[pos] = top_val[pos - 1]
        top_idx[pos] = top_idx[pos - 1]
        pos -= 1
    top_val[pos] = v
    top_idx[pos] = r
    return n_top + 1 if n_top < cap else n_top


@njit(cache=True, nogil=True)
def _fuzzy_keys(
    a, b, q_cols, q_vals, col_ptr, col_rows, col_vals, row_ptr, row_cols, row_vals,
    budget, min_grams, n_rescore, acc, q_dense, top_idx, top_val,
):  # pragma: no cover - compiled
    """Nearest keys of one query (q_cols[a:b], already scattered into q_dense);
    returns how many are in top_idx/top_val, sorted by exact cosine, best first."""
    if b == a:
        return 0
    # Rare n-grams first: they carry most of the weight and have short
    # posting lists. Stop adding n-grams once the postings visited exceed the
    # budget (the min_grams rarest are always used), which bounds the cost per query.
    dfs = numpy.empty(b - a, numpy.int64)
    for j in range(b - a):
        c = q_cols[a + j]
        dfs[j] = col_ptr[c + 1] - col_ptr[c]
    order = numpy.argsort(dfs)
    visited = 0
    n_used = 0
    for jj in range(b - a):
        j = order[jj]
        if jj >= min_grams and visited + dfs[j] > budget:
            break
        visited += dfs[j]
        n_used += 1
        c = q_cols[a + j]
        w = q_vals[a + j]
        for p in range(col_ptr[c], col_ptr[c + 1]):
            acc[col_rows[p]] += w * col_vals[p]
    # Keep the n_rescore best partial scores (insertion into a small sorted
    # buffer), reading the same posting lists again and zeroing each sum once
    # read: a second pass without branches in the first beats recording
    # which keys were touched (about 30 % faster on a million aliases).
    n_top = 0
    threshold = 0.0
    for jj in range(n_used):
        c = q_cols[a + order[jj]]
        for p in range(col_ptr[c], col_ptr[c + 1]):
            r = col_rows[p]
            v = acc[r]
            if v > threshold:
                n_top = _insert_top(top_idx, top_val, n_top, n_rescore, r, v)
                if n_top == n_rescore:
                    threshold = top_val[n_top - 1]
            acc[r] = 0.0
    # Exact cosine of the survivors.
    for t in range(n_top):
        top_val[t] = _dot_dense(q_dense, row_ptr, row_cols, row_vals, top_idx[t])
    # Re-sort by exact score (insertion sort; n_top is small).
    for t in range(1, n_top):
        _insert_top(top_idx, top_val, t, n_top, top_idx[t], top_val[t])
    return n_top


# Query vectors. An n-gram of up to three characters is one uint64 code: a
# leading 1 bit, then 21 bits per code point (below 0x110000), so codes are
# unique and the vocabulary is a sorted code array searched by bisection.
_MAX_CODED_GRAM = 3


def _gram_code(gram: str) -> int:
    code = 1
    for ch in gram:
        code = (code << 21) | ord(ch)
    return code


@njit(cache=True, nogil=True)
def _is_space(c):  # pragma: no cover - compiled
    """Whether code point c is whitespace to Python's str.split()."""
    return (
        (9 <= c <= 13) or (28 <= c <= 32) or c == 133 or c == 160 or c == 5760
        or (8192 <= c <= 8202) or c == 8232 or c == 8233 or c == 8239 or c == 8287 or c == 12288
    )


@njit(cache=True, nogil=True)
def _vectorize_spans(cps, starts, ends, ns, gram_codes, gram_cols, idf, unknown_sq, out_ptr, out_cols, out_vals):  # pragma: no cover - compiled
    """TF-IDF rows of the strings cps[starts[i]:ends[i]] (code points), as
    CandidateIndex.vectorize computes them: the set of n-grams of each
    space-padded word, known ones weighted by idf, unknown ones counted in the
    norm at unknown_sq, columns sorted. Returns the number of entries written."""
    n_keys = starts.shape[0]
    max_len = 0
    for i in range(n_keys):
        max_len = max(max_len, ends[i] - starts[i])
    # A key of L code points has at most (L + 1) / 2 words, so at most 2 L + 1
    # padded positions, each starting one n-gram per size.
    scratch = numpy.empty(ns.shape[0] * (2 * max_len + 1) + 1, numpy.uint64)
    known = numpy.empty(scratch.shape[0], numpy.int64)
    n_out = 0
    out_ptr[0] = 0
    for i in range(n_keys):
        a = starts[i]
        b = ends[i]
        m = 0
        p = a
        while p < b:
            while p < b and _is_space(cps[p]):
                p += 1
            if p == b:
                break
            w0 = p
            while p < b and not _is_space(cps[p]):
                p += 1
            # The word is cps[w0:p], padded with a space on each side.
            padded = p - w0 + 2
            for n in ns:
                span = min(n, padded)
                for s in range(padded - span + 1):
                    code = numpy.uint64(1)
                    for t in range(s, s + span):
                        q = w0 + t - 1
                        c = 32 if q < w0 or q >= p else cps[q]
                        code = (code << numpy.uint64(21)) | numpy.uint64(c)
                    scratch[m] = code
                    m += 1
        grams = numpy.sort(scratch[:m])
        n_unique = 0
        n_known = 0
        for j in range(m):
            if j and grams[j] == grams[j - 1]:
                continue
            n_unique += 1
            pos = numpy.searchsorted(gram_codes, grams[j])
            if pos < gram_codes.shape[0] and gram_codes[pos] == grams[j]:
                known[n_known] = gram_cols[pos]
                n_known += 1
        cols = numpy.sort(known[:n_known])
        sq = 0.0
        for j in range(n_known):
            w = numpy.float64(idf[cols[j]])
            sq += w * w
        sq += (n_unique - n_known) * unknown_sq
        inv = 1.0 / sq**0.5 if sq > 0 else 1.0
        for j in range(n_known):
            out_cols[n_out] = cols[j]
            out_vals[n_out] = numpy.float64(idf[cols[j]]) * inv
            n_out += 1
        out_ptr[i + 1] = n_out
    return n_out


# Typo index: every key (of typo_min_length to typo_max_length bytes) is
# stored under a 32-bit polynomial hash of itself and of each of its
# single-byte deletions, in one sorted uint64 array (hash << 32 | key); a
# query looks up the same variants of itself, so a key one deletion,
# insertion, substitution or adjacent transposition away shares a variant
# with it. A longer key is stored under two entries only: a hash of its
# first half and one of its second half, each mixed with its length. One
# edit leaves one of the halves intact, so a query looks up its own prefix
# and suffix of the same lengths, for each key length one edit allows (an
# adjacent transposition across the middle changes both halves: the n-gram
# search is left to find that key). Hash collisions and two-edit pairs are
# removed by an exact check.
# Keys checked per query variant: bounds the work for variants that many
# short keys share.
_TYPO_PROBE = 64
_HASH_BASE = numpy.uint64(1000003)
_LOW32 = numpy.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def _deletion_hashes(buf, a, b, out):  # pragma: no cover - compiled
    """Hashes of buf[a:b] (out[0]) and of it without byte i (out[1 + i]), in O(length):
    h(s without i) = h(s[:i]) * base**(n - 1 - i) + sum(s[j] * base**(n - 1 - j), j > i),
    all modulo 2**32 (uint64 arithmetic wraps modulo 2**64)."""
    n = b - a
    # suffix[i] = sum over j >= i of s[j] * base**(n - 1 - j); power = base**(n - 1 - i)
    suffix = numpy.zeros(n + 1, numpy.uint64)
    powers = numpy.empty(n + 1, numpy.uint64)
    power = numpy.uint64(1)
    for i in range(n - 1, -1, -1):
        powers[i] = power
        suffix[i] = (suffix[i + 1] + numpy.uint64(buf[a + i]) * power) & _LOW32
        power = (power * _HASH_BASE) & _LOW32
    prefix = numpy.uint64(0)
    for i in range(n):
        out[1 + i] = (prefix * powers[i] + suffix[i + 1]) & _LOW32
        prefix = (prefix * _HASH_BASE + numpy.uint64(buf[a + i])) & _LOW32
    out[0] = prefix


@njit(cache=True, nogil=True)
def _half_hash(buf, a, b, length, second):  # pragma: no cover - compiled
    """Hash of buf[a:b], one half of a key of the given length (second: 0 for
    the first half, 1 for the second), finished with MurmurHash3's fmix32."""
    h = numpy.uint64(0)
    for i in range(a, b):
        h = (h * _HASH_BASE + numpy.uint64(buf[i])) & _LOW32
    h = (h ^ ((numpy.uint64(length) * numpy.uint64(2) + numpy.uint64(second)) * numpy.uint64(0x9E3779B1))) & _LOW32
    h ^= h >> numpy.uint64(16)
    h = (h * numpy.uint64(0x85EBCA6B)) & _LOW32
    h ^= h >> numpy.uint64(13)
    h = (h * numpy.uint64(0xC2B2AE35)) & _LOW32
    h ^= h >> numpy.uint64(16)
    return h


@njit(cache=True, nogil=True)
def _typo_table(buf, off, min_len, max_len):  # pragma: no cover - compiled
    n = off.shape[0] - 1
    total = 0
    for k in range(n):
        length = off[k + 1] - off[k]
        if min_len <= length <= max_len:
            total += length + 1
        elif length > max_len:
            total += 2
    table = numpy.empty(total, numpy.uint64)
    hashes = numpy.empty(max_len + 1, numpy.uint64)
    t = 0
    for k in range(n):
        a = off[k]
        b = off[k + 1]
        if b - a > max_len:
            half = (b - a) // 2
            table[t] = (_half_hash(buf, a, a + half, b - a, 0) << numpy.uint64(32)) | numpy.uint64(k)
            table[t + 1] = (_half_hash(buf, a + half, b, b - a, 1) << numpy.uint64(32)) | numpy.uint64(k)
            t += 2
            continue
        if b - a < min_len:
            continue
        _deletion_hashes(buf, a, b, hashes)
        for j in range(b - a + 1):
            table[t] = (hashes[j] << numpy.uint64(32)) | numpy.uint64(k)
            t += 1
    table.sort()
    # Where each bucket of the top hash bits starts: a lookup reads one
    # bucket (about 16 entries) instead of a binary search's cache misses
    # over the whole table. 2**bits buckets, bits from 4 to 20 (8 MB).
    bits = 4
    while bits < 20 and (16 << bits) < total:
        bits += 1
    starts = numpy.zeros((1 << bits) + 1, numpy.int64)
    shift = numpy.uint64(64 - bits)
    for t in range(total):
        starts[numpy.int64(table[t] >> shift) + 1] += 1
    for b in range(1 << bits):
        starts[b + 1] += starts[b]
    return table, starts


@njit(cache=True, nogil=True)
def _within_one_edit(x, xa, xb, y, ya, yb):  # pragma: no cover - compiled
    """Whether x[xa:xb] and y[ya:yb] differ by at most one deletion, insertion,
    substitution or adjacent transposition."""
    lx = xb - xa
    ly = yb - ya
    if lx - ly > 1 or ly - lx > 1:
        return False
    i = 0
    while i < lx and i < ly and x[xa + i] == y[ya + i]:
        i += 1
    j = 0
    while j < lx - i and j < ly - i and x[xb - 1 - j] == y[yb - 1 - j]:
        j += 1
    # What differs is x[xa+i : xb-j] against y[ya+i : yb-j].
    dx = lx - i - j
    dy = ly - i - j
    if dx <= 1 and dy <= 1:
        return True
    return dx == 2 and dy == 2 and x[xa + i] == y[ya + i + 1] and x[xa + i + 1] == y[ya + i]


@njit(cache=True, nogil=True)
def _typo_neighbours(q_buf, q_off, buf, off, table, starts, min_len, max_len, out):  # pragma: no cover - compiled
    """Keys within one edit of each query (q_buf[q_off[i]:q_off[i+1]]), at most
    out.shape[1] per query, -1 padded; returns how many each query got."""
    n_q = q_off.shape[0] - 1
    cap = out.shape[1]
    # The query's deletion variants (up to max_len + 2), then up to six half hashes.
    hashes = numpy.empty(max_len + 9, numpy.uint64)
    bits = 0
    while (1 << bits) < starts.shape[0] - 1:
        bits += 1
    shift = numpy.uint64(32 - bits)
    counts = numpy.zeros(n_q, numpy.int64)
    for qi in range(n_q):
        a = q_off[qi]
        b = q_off[qi + 1]
        for j in range(cap):
            out[qi, j] = -1
        if b == a:
            continue
        n_hashes = 0
        if min_len - 1 <= b - a <= max_len + 1:
            _deletion_hashes(q_buf, a, b, hashes)
            n_hashes = b - a + 1
        # Keys stored by halves: lengths from max_len + 1, one edit from the query's.
        for length in range(max(b - a - 1, max_len + 1), b - a + 2):
            half = length // 2
            # Edited in its second half: the key starts with the query's first half bytes.
            hashes[n_hashes] = _half_hash(q_buf, a, a + half, length, 0)
            # Edited in its first half: it ends with the query's last length - half bytes.
            hashes[n_hashes + 1] = _half_hash(q_buf, b - (length - half), b, length, 1)
            n_hashes += 2
        n = 0
        for v in range(n_hashes):
            if n == cap:
                break
            h = hashes[v]
            bucket = numpy.int64(h >> shift)
            pos = starts[bucket]
            end = starts[bucket + 1]
            while pos < end and (table[pos] >> numpy.uint64(32)) < h:
                pos += 1
            probe = 0
            while pos < end and (table[pos] >> numpy.uint64(32)) == h and probe < _TYPO_PROBE and n < cap:
                key = numpy.int64(table[pos] & _LOW32)
                pos += 1
                probe += 1
                seen = False
                for u in range(n):
                    if out[qi, u] == key:
                        seen = True
                        break
                if seen or not _within_one_edit(q_buf, a, b, buf, off[key], off[key + 1]):
                    continue
                out[qi, n] = key
                n += 1
        counts[qi] = n
    return counts


@njit(cache=True, nogil=True)
def _scatter(a, b, q_cols, q_vals, q_dense, scale):  # pragma: no cover - compiled
    """q_dense[q_cols[a:b]] = scale * q_vals[a:b]: 1 writes the query, 0 clears it."""
    for i in range(a, b):
        q_dense[q_cols[i]] = scale * q_vals[i]


@njit(cache=True, nogil=True)
def _dot_dense(q_dense, row_ptr, row_cols, row_vals, r):  # pragma: no cover - compiled
    """Exact cosine of the query held densely in q_dense and key r: one pass over the
    key's columns with no branch (a sorted merge of the two columns mispredicts
    about every other step)."""
    s = 0.0
    for p in range(row_ptr[r], row_ptr[r + 1]):
        s += q_dense[row_cols[p]] * row_vals[p]
    return s


@njit(cache=True, nogil=True)
def _link(
    q_ptr, q_cols, q_vals, q_budget, q_min_grams, q_rescore, forced_key, forced_score, q_allowed, q_allowed_all,
    col_ptr, col_rows, col_vals, row_ptr, row_cols, row_vals,
    key_ptr, key_pairs, pair_entities, pair_counts, entity_types,
    n_rescore, n_keys, max_score_fuzzy, q_k, acc, q_dense, ent_slot, typo_keys,
    nb_idx, nb_val, nb_more, q_table, unsettled,
    out_ent, out_score, out_pair, out_key,
):  # pragma: no cover - compiled
    """Candidates of a batch of queries: forced (exact) keys plus fuzzy keys
    (the n-gram search's and the typo neighbours in typo_keys, -1 padded, all
    ranked by cosine), expanded to entities, filtered by type bits, best q_k[i]
    of query i by (score, prior count), with the pair and the key each came
    through; -1 pads the rest of its output rows.

    A query with q_table set (a key exactly, with no query vector) reads its
    fuzzy keys from the neighbour table (see :func:`_neighbour_table`)
    instead of searching. If the entities of the stored keys do not settle
    its top q_k and the search found more keys than were stored, its row is
    marked in unsettled (and left -1): the caller searches it."""
    n_q = forced_key.shape[0]
    top_idx = numpy.empty(n_rescore, numpy.int64)
    top_val = numpy.empty(n_rescore, numpy.float32)
    cap = 512
    c_ent = numpy.empty(cap, numpy.int64)
    c_score = numpy.empty(cap, numpy.float32)
    c_count = numpy.empty(cap, numpy.int64)
    c_pair = numpy.empty(cap, numpy.int64)
    c_key = numpy.empty(cap, numpy.int64)
    for qi in range(n_q):
        k = q_k[qi]
        allowed = q_allowed[qi]
        constrained = allowed != q_allowed_all
        n_c = 0
        a = q_ptr[qi]
        b = q_ptr[qi + 1]
        from_table = q_table[qi]
        if from_table:
            # The stored keys are the search's, in its order, less the key itself.
            fk = forced_key[qi]
            n_top = 0
            for t in range(nb_idx.shape[1]):
                if nb_idx[fk, t] < 0:
                    break
                top_idx[t] = nb_idx[fk, t]
                top_val[t] = nb_val[fk, t]
                n_top += 1
        else:
            _scatter(a, b, q_cols, q_vals, q_dense, 1.0)
            n_top = _fuzzy_keys(
                a, b, q_cols, q_vals, col_ptr, col_rows, col_vals,
                row_ptr, row_cols, row_vals, q_budget[qi], q_min_grams[qi], q_rescore[qi], acc, q_dense,
                top_idx, top_val,
            )
            for u in range(typo_keys.shape[1]):
                r = typo_keys[qi, u]
                if r < 0:
                    break
                present = False
                for t in range(n_top):
                    if top_idx[t] == r:
                        present = True
                        break
                if present:
                    continue
                v = _dot_dense(q_dense, row_ptr, row_cols, row_vals, r)
                n_top = _insert_top(top_idx, top_val, n_top, q_rescore[qi], r, v)
            _scatter(a, b, q_cols, q_vals, q_dense, 0.0)
        n_top = min(n_top, n_keys)
        # Keys come best first, so once k entities are in, a key scoring below
        # the score at which the k-th arrived cannot change the top k.
        kth_score = -1.0
        settled = False
        for t in range(-1, n_top):
            if t == -1:
                key = forced_key[qi]
                score = forced_score[qi]
                if key < 0:
                    continue
            else:
                key = top_idx[t]
                score = min(top_val[t], max_score_fuzzy)
                if key == forced_key[qi]:
                    continue
            if score < kth_score:
                settled = True
                break
            for pp in range(key_ptr[key], key_ptr[key + 1]):
                pair = key_pairs[pp]
                ent = pair_entities[pair]
                if constrained and (entity_types[ent] & allowed) == 0:
                    continue
                cnt = pair_counts[pair]
                found = ent_slot[ent]
                if found >= 0:
                    if score > c_score[found] or (score == c_score[found] and cnt > c_count[found]):
                        c_score[found] = score
                        c_count[found] = cnt
                        c_pair[found] = pair
                        c_key[found] = key
                elif n_c < cap:
                    ent_slot[ent] = n_c
                    c_ent[n_c] = ent
                    c_score[n_c] = score
                    c_count[n_c] = cnt
                    c_pair[n_c] = pair
                    c_key[n_c] = key
                    n_c += 1
                    if n_c == k:
                        kth_score = score
        for u in range(n_c):
            ent_slot[c_ent[u]] = -1
        # The stored keys ran out before the top q_k was settled: no output.
        unsettled[qi] = from_table and not settled and nb_more[forced_key[qi]]
        if unsettled[qi]:
            n_c = 0
        # Selection of the k best by (score desc, count desc, entity asc).
        for j in range(out_ent.shape[1]):
            best = -1
            if j >= k:
                out_ent[qi, j] = -1
                out_score[qi, j] = 0.0
                out_pair[qi, j] = -1
                out_key[qi, j] = -1
                continue
            for u in range(n_c):
                if c_ent[u] < 0:
                    continue
                if best < 0:
                    best = u
                    continue
                if c_score[u] > c_score[best] or (
                    c_score[u] == c_score[best]
                    and (c_count[u] > c_count[best] or (c_count[u] == c_count[best] and c_ent[u] < c_ent[best]))
                ):
                    best = u
            if best < 0:
                out_ent[qi, j] = -1
                out_score[qi, j] = 0.0
                out_pair[qi, j] = -1
                out_key[qi, j] = -1
            else:
                out_ent[qi, j] = c_ent[best]
                out_score[qi, j] = c_score[best]
                out_pair[qi, j] = c_pair[best]
                out_key[qi, j] = c_key[best]
                c_ent[best] = -1


@njit(cache=True, nogil=True)
def _neighbour_table(
    q_ptr, q_cols, q_vals, first, col_ptr, col_rows, col_vals, row_ptr, row_cols, row_vals,
    budget, n_keys, acc, q_dense, nb_idx, nb_val, nb_more,
):  # pragma: no cover - compiled
    """Rows first, first + 1, ... of the neighbour table, one per query vector
    (the vectors of those keys): the keys that the search behind an exact
    match finds for the key (budget strict, n_keys rescored), in its order,
    less the key itself; the first nb_idx.shape[1] of them, -1 padded, and in
    nb_more whether there were more."""
    top_idx = numpy.empty(n_keys, numpy.int64)
    top_val = numpy.empty(n_keys, numpy.float32)
    m = nb_idx.shape[1]
    for i in range(q_ptr.shape[0] - 1):
        r = first + i
        a = q_ptr[i]
        b = q_ptr[i + 1]
        _scatter(a, b, q_cols, q_vals, q_dense, 1.0)
        n_top = _fuzzy_keys(
            a, b, q_cols, q_vals, col_ptr, col_rows, col_vals,
            row_ptr, row_cols, row_vals, budget, 0, n_keys, acc, q_dense, top_idx, top_val,
        )
        _scatter(a, b, q_cols, q_vals, q_dense, 0.0)
        n = 0
        nb_more[r] = False
        for t in range(min(n_top, n_keys)):
            if top_idx[t] == r:
                continue
            if n == m:
                nb_more[r] = True
                break
            nb_idx[r, n] = top_idx[t]
            nb_val[r, n] = top_val[t]
            n += 1
        for t in range(n, m):
            nb_idx[r, t] = -1
            nb_val[r, t] = 0.0


_HAS_DIGIT_RE = re.compile(r"\d")
_ALL_BITS = (1 << 64) - 1
_OVERFLOW_BIT = 1 << 63
# Fuzzy scores stay below an exact match's 1.0.
_MAX_FUZZY = 0.999
# Neighbours stored per key for the search behind an exact match.
_NEIGHBOURS = 8
_NO_NEIGHBOURS = (
    numpy.full((1, 1), -1, dtype=numpy.int32),
    numpy.zeros((1, 1), dtype=numpy.float32),
    numpy.zeros(1, dtype=numpy.bool_),
)


@njit(cache=True, nogil=True)
def _search_batch(
    q_ptr, q_cols, q_vals, col_ptr, col_rows, col_vals, row_ptr, row_cols, row_vals,
    budget, n_rescore, acc, q_dense, out_idx, out_score,
):  # pragma: no cover - compiled
    top_idx = numpy.empty(n_rescore, numpy.int64)
    top_val = numpy.empty(n_rescore, numpy.float32)
    k = out_idx.shape[1]
    for qi in range(q_ptr.shape[0] - 1):
        a = q_ptr[qi]
        b = q_ptr[qi + 1]
        _scatter(a, b, q_cols, q_vals, q_dense, 1.0)
        n_top = _fuzzy_keys(
            a, b, q_cols, q_vals, col_ptr, col_rows, col_vals,
            row_ptr, row_cols, row_vals, budget, 2, n_rescore, acc, q_dense, top_idx, top_val,
        )
        _scatter(a, b, q_cols, q_vals, q_dense, 0.0)
        for j in range(min(k, n_top)):
            out_idx[qi, j] = top_idx[j]
            out_score[qi, j] = top_val[j]


class CandidateIndex:
    """Exact, word-order and TF-IDF candidate generator over a KB's aliases.

    Build with :meth:`build`; query with :meth:`candidates` or
    :meth:`candidates_batch`. An instance reuses scratch arrays between
    queries: use one instance per thread.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        normalization: NormalizationConfig,
        config: IndexConfig,
    ) -> None:
        self.kb = kb
        self.normalization = normalization
        self.config = config
        self.normalizer = Normalizer(normalization)
        self.keys: List[str] = []
        self.key_ptr = numpy.zeros(1, dtype=numpy.int64)
        self.key_pairs = numpy.zeros(0, dtype=numpy.int32)
        self.vocab: Dict[str, int] = {}
        self.idf = numpy.zeros(0, dtype=numpy.float32)
        self.row_ptr = numpy.zeros(1, dtype=numpy.int64)
        self.row_cols = numpy.zeros(0, dtype=numpy.int32)
        self.row_vals = numpy.zeros(0, dtype=numpy.float32)
        self._finish()

    # Building

    @classmethod
    def build(
        cls,
        kb: KnowledgeBase,
        normalization: NormalizationConfig = NormalizationConfig(),
        config: IndexConfig = IndexConfig(),
        progress: bool = False,
    ) -> "CandidateIndex":
        """Normalize all aliases of a KB and build the exact and TF-IDF indexes.

        kb (KnowledgeBase): The knowledge base.
        normalization (NormalizationConfig): String normalization settings.
        config (IndexConfig): Index settings.
        progress (bool): Show progress bars.
        RETURNS (CandidateIndex): The index.
        """
        self = cls.__new__(cls)
        self.kb = kb
        self.normalization = normalization
        self.config = config
        self.normalizer = Normalizer(normalization)
        norm = self.normalizer
        key_to_pairs: Dict[str, List[int]] = {}
        pairs: Iterable[int] = range(kb.n_aliases)
        if progress:
            from tqdm import tqdm

            pairs = tqdm(pairs, desc="Normalizing aliases", unit=" aliases")
        texts = kb.alias_texts
        for pair in pairs:
            text = texts[pair]
            forms = [text]
            if config.inverted_names:
                forms.extend(invert_name(text))
            for form in forms:
                key = norm(form)
                if key:
                    lst = key_to_pairs.setdefault(key, [])
                    if not lst or lst[-1] != pair:
                        lst.append(pair)
        norm._cache.clear()
        self.keys = list(key_to_pairs)
        lengths = numpy.fromiter((len(v) for v in key_to_pairs.values()), dtype=numpy.int64, count=len(self.keys))
        self.key_ptr = numpy.zeros(len(self.keys) + 1, dtype=numpy.int64)
        numpy.cumsum(lengths, out=self.key_ptr[1:])
        self.key_pairs = numpy.fromiter(
            (p for v in key_to_pairs.values() for p in v), dtype=numpy.int32, count=int(self.key_ptr[-1])
        )
        del key_to_pairs
        self._build_tfidf(progress)
        self._finish()
        self._build_neighbours(progress)
        logger.info(
            "Built candidate index: %d aliases, %d normalized keys, %d n-grams",
            kb.n_aliases, len(self.keys), len(self.vocab),
        )
        return self

    def _build_tfidf(self, progress: bool) -> None:
        ns = self.config.ngram_sizes
        vocab: Dict[str, int] = {}
        cols: List[int] = []
        ptr = [0]
        keys: Iterable[str] = self.keys
        if progress:
            from tqdm import tqdm

            keys = tqdm(keys, desc="Vectorizing aliases", unit=" keys")
        setdefault = vocab.setdefault
        for key in keys:
            row = sorted({setdefault(g, len(vocab)) for g in _grams(key, ns)})
            cols.extend(row)
            ptr.append(len(cols))
        # Counts are recomputed with a second pass only where an n-gram repeats
        # within a key; here tf is binary for speed and compactness (repeated
        # 3-grams inside one alias are rare and carry little information).
        self.vocab = vocab
        self.row_ptr = numpy.asarray(ptr, dtype=numpy.int64)
        self.row_cols = numpy.asarray(cols, dtype=numpy.int32)
        n_docs = len(self.keys)
        df = numpy.bincount(self.row_cols, minlength=len(vocab)).astype(numpy.float64)
        # Smooth idf as in scikit-learn's TfidfVectorizer.
        self.idf = (numpy.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(numpy.float32)
        vals = self.idf[self.row_cols].astype(numpy.float32)
        sq = numpy.add.reduceat(vals.astype(numpy.float64) ** 2, self.row_ptr[:-1]) if len(vals) else numpy.zeros(0)
        lengths = numpy.diff(self.row_ptr)
        sq = numpy.where(lengths > 0, sq, 1.0)
        norms = numpy.sqrt(sq).astype(numpy.float32)
        self.row_vals = vals / numpy.repeat(norms, lengths)

    def _finish(self) -> None:
        """Derive the lookup tables and the column-major copy of the TF-IDF matrix."""
        self.exact: Dict[str, int] = {key: i for i, key in enumerate(self.keys)}
        self.by_word_order: Dict[str, int] = {}
        if self.config.word_order:
            for i, key in enumerate(self.keys):
                if " " in key:
                    self.by_word_order.setdefault(sorted_key(key), i)
        self.col_ptr, self.col_rows, self.col_vals = _csr_to_csc(
            self.row_ptr, self.row_cols, self.row_vals, len(self.vocab)
        )
        self.max_idf = float(numpy.log(1.0 + len(self.keys)) + 1.0)
        # The compiled vectorizer codes n-grams of up to three characters.
        self._gram_codes: Optional[numpy.ndarray] = None
        if max(self.config.ngram_sizes, default=0) <= _MAX_CODED_GRAM:
            codes = numpy.fromiter(map(_gram_code, self.vocab), dtype=numpy.uint64, count=len(self.vocab))
            order = numpy.argsort(codes)
            self._gram_codes = codes[order]
            self._gram_cols = order.astype(numpy.int32)
        self._idf_list: List[float] = self.idf.tolist()
        self._acc = numpy.zeros(max(len(self.keys), 1), dtype=numpy.float32)
        # The query being scored, over the n-gram vocabulary (zero between queries).
        self._q_dense = numpy.zeros(max(len(self.vocab), 1), dtype=numpy.float32)
        # Entity -> slot in the per-query candidate buffer (-1: none); reset after each query.
        self._ent_slot = numpy.full(max(len(self.kb.ids), 1), -1, dtype=numpy.int64)
        # Values as candidate_tuples returns them, which the garbage collector
        # stops tracking: a full cache adds nothing to the cost of a full
        # collection, and a hit is returned as it is.
        self._result_cache: Dict[Tuple[str, int, int], Tuple[CandidateTuple, ...]] = {}
        # Built with the index and saved with it (see _build_neighbours).
        self._neighbours: Optional[Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]] = None
        self._neighbour_params: Tuple[int, int] = (0, 0)
        # Derived like the tables above (not saved); rebuilt if the settings change.
        self._typo_table: Optional[numpy.ndarray] = None
        self._typo_lengths = (0, 0)
        if self.config.typo_index:
            self._ensure_typo_table()
        # The KB's strings by row, for gathering a batch's candidates at once.
        self._id_objects = _object_array(self.kb.ids)
        self._alias_objects = _object_array(self.kb.alias_texts)
        self.pair_entities = numpy.asarray(self.kb.alias_entities, dtype=numpy.int32)
        self.pair_counts = numpy.asarray(self.kb.alias_counts, dtype=numpy.int32)
        # One bit per entity type (63 types at most; the rest share the last bit
        # and are checked exactly in Python). Entities without types match no
        # type constraint.
        all_types = sorted({t for ts in self.kb.types for t in ts})
        self.type_bits: Dict[str, int] = {t: 1 << i for i, t in enumerate(all_types[:63])}
        self._overflow_types = len(all_types) > 63
        bits = numpy.zeros(len(self.kb.types), dtype=numpy.uint64)
        for e, ts in enumerate(self.kb.types):
            b = 0
            for t in ts:
                b |= self.type_bits.get(t, _OVERFLOW_BIT)
            bits[e] = b
        self.entity_type_bits = bits

    def _strict_params(self) -> Tuple[int, int]:
        """Budget and keys rescored of the search behind an exact match."""
        return max(int(self.config.posting_budget) // 10, 1), int(self.config.n_keys)

    def _build_neighbours(self, progress: bool) -> None:
        """The neighbour table: for each key, the fuzzy keys that the search
        behind an exact match finds for it (with ``fuzzy_when_exact``, every
        exact match runs that search). A mention that is a key exactly reads
        them instead of searching; the results are the same (see
        :func:`_link`). 8 keys per key: 64 bytes."""
        if not (self.config.fuzzy and self.config.fuzzy_when_exact) or not self.keys:
            return
        n = len(self.keys)
        budget, n_keys = self._strict_params()
        width = min(_NEIGHBOURS, n_keys)
        nb_idx = numpy.empty((n, width), dtype=numpy.int32)
        nb_val = numpy.empty((n, width), dtype=numpy.float32)
        nb_more = numpy.empty(n, dtype=numpy.bool_)
        starts: Iterable[int] = range(0, n, 20_000)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Neighbours of keys", unit=" x20k keys")
        for first in starts:
            q_ptr, q_cols, q_vals = self.vectorize(self.keys[first : first + 20_000])
            _neighbour_table(
                q_ptr, q_cols, q_vals, first, self.col_ptr, self.col_rows, self.col_vals,
                self.row_ptr, self.row_cols, self.row_vals, budget, n_keys, self._acc, self._q_dense,
                nb_idx, nb_val, nb_more,
            )
        self._neighbours = (nb_idx, nb_val, nb_more)
        self._neighbour_params = (budget, n_keys)

    @property
    def config(self) -> IndexConfig:
        """The search settings; assigning new ones empties the result cache."""
        return self._config

    @config.setter
    def config(self, value: IndexConfig) -> None:
        self._config = value
        self._result_cache = {}

    # Querying

    def vectorize(self, keys: Sequence[str]) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        """TF-IDF vectors of normalized strings as CSR arrays (sorted columns,
        unit length; n-grams unknown to the index count in the length).

        keys (Sequence[str]): Normalized strings.
        RETURNS (Tuple[ndarray, ndarray, ndarray]): ptr, cols, vals.
        """
        if self._gram_codes is None or max(self.config.ngram_sizes, default=0) > _MAX_CODED_GRAM:
            return self._vectorize_py(keys)
        ns = numpy.asarray(self.config.ngram_sizes, dtype=numpy.int64)
        joined = "\n".join(keys)
        cps = numpy.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=numpy.uint32)
        lengths = numpy.fromiter(map(len, keys), dtype=numpy.int64, count=len(keys))
        ends = numpy.cumsum(lengths + 1) - 1
        starts = ends - lengths
        bound = len(ns) * (2 * len(cps) + len(keys)) + 1
        out_ptr = numpy.empty(len(keys) + 1, dtype=numpy.int64)
        out_cols = numpy.empty(bound, dtype=numpy.int32)
        out_vals = numpy.empty(bound, dtype=numpy.float32)
        n_out = _vectorize_spans(
            cps, starts, ends, ns, self._gram_codes, self._gram_cols, self.idf, self.max_idf**2,
            out_ptr, out_cols, out_vals,
        )
        return out_ptr, out_cols[:n_out], out_vals[:n_out]

    def _vectorize_py(self, keys: Sequence[str]) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        """:meth:`vectorize` for n-grams longer than the compiled path codes."""
        ptr = [0]
        cols: List[int] = []
        vals: List[float] = []
        vocab_get = self.vocab.get
        idf = self._idf_list
        unknown_sq = self.max_idf**2
        ns = self.config.ngram_sizes
        for key in keys:
            if key:
                grams = set(_grams(key, ns))
                known = sorted(c for c in map(vocab_get, grams) if c is not None)
                weights = [idf[c] for c in known]
                sq = sum(w * w for w in weights) + (len(grams) - len(known)) * unknown_sq
                inv = 1.0 / sq**0.5 if sq > 0 else 1.0
                cols.extend(known)
                vals.extend([w * inv for w in weights])
            ptr.append(len(cols))
        return (
            numpy.asarray(ptr, dtype=numpy.int64),
            numpy.asarray(cols, dtype=numpy.int32),
            numpy.asarray(vals, dtype=numpy.float32),
        )

    def search_keys(self, keys: Sequence[str], k: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Nearest normalized aliases by char n-gram TF-IDF cosine.

        keys (Sequence[str]): Normalized query strings.
        k (int): How many neighbours per query.
        RETURNS (Tuple[ndarray, ndarray]): Key indices (-1 pads) and cosines, shape (len(keys), k).
        """
        q_ptr, q_cols, q_vals = self.vectorize(keys)
        out_idx = numpy.full((len(keys), k), -1, dtype=numpy.int64)
        out_score = numpy.zeros((len(keys), k), dtype=numpy.float32)
        if len(keys) and len(self.keys):
            _search_batch(
                q_ptr, q_cols, q_vals, self.col_ptr, self.col_rows, self.col_vals,
                self.row_ptr, self.row_cols, self.row_vals,
                int(self.config.posting_budget), max(int(self.config.n_rescore), k),
                self._acc, self._q_dense, out_idx, out_score,
            )
        return out_idx, out_score

    def allowed_bits(self, allowed_types: Optional[Set[str]]) -> int:
        """Type filter of a query as a bit mask over :attr:`type_bits`.

        allowed_types (Optional[Set[str]]): Allowed types, or None for all.
        RETURNS (int): The mask (all bits set for no constraint).
        """
        if allowed_types is None:
            return _ALL_BITS
        bits = 0
        for t in allowed_types:
            bits |= self.type_bits.get(t, _OVERFLOW_BIT)
        return bits

    def candidates(
        self, text: str, k: int = 5, allowed_types: Optional[Set[str]] = None
    ) -> List[Candidate]:
        """Candidates for one mention, best first.

        text (str): The mention text.
        k (int): The maximum number of candidates.
        allowed_types (Optional[Set[str]]): If given, only entities with one of these types.
        RETURNS (List[Candidate]): (id, score, matched alias), best first.
        """
        return self.candidates_batch([text], k, [allowed_types])[0]

    def candidates_batch(
        self,
        texts: Sequence[str],
        k: int = 5,
        allowed_types: Optional[Sequence[Optional[Set[str]]]] = None,
    ) -> List[List[Candidate]]:
        """Candidates for many mentions at once (one kernel call for the fuzzy step).

        texts (Sequence[str]): Mention texts.
        k (int): The maximum number of candidates per mention.
        allowed_types (Optional[Sequence[Optional[Set[str]]]]): Per mention, the allowed
            entity types (None: no constraint).
        RETURNS (List[List[Candidate]]): Per mention, (id, score, matched alias) best first.
        """
        norm = self.normalizer
        return self.candidates_normalized([norm(t) for t in texts], k, allowed_types)

    def candidates_normalized(
        self,
        keys: Sequence[str],
        k: int = 5,
        allowed_types: Optional[Sequence[Optional[Set[str]]]] = None,
    ) -> List[List[Candidate]]:
        """:meth:`candidates_batch` for mentions already normalized with
        :attr:`normalizer` (a caller that needs the normal forms too computes
        them once).

        keys (Sequence[str]): Normal forms of the mention texts.
        k (int): The maximum number of candidates per mention.
        allowed_types (Optional[Sequence[Optional[Set[str]]]]): Per mention, the allowed
            entity types (None: no constraint).
        RETURNS (List[List[Candidate]]): Per mention, (id, score, matched alias) best first.
        """
        new = tuple.__new__
        return [list(map(new, repeat(Candidate), row)) for row in self.candidate_tuples(keys, k, allowed_types)]

    def candidate_tuples(
        self,
        keys: Sequence[str],
        k: int = 5,
        allowed_types: Optional[Sequence[Optional[Set[str]]]] = None,
    ) -> List[Tuple[CandidateTuple, ...]]:
        """:meth:`candidates_normalized` as plain tuples, for callers that keep
        many results: the garbage collector stops tracking plain tuples of
        strings and floats, but not lists or :class:`Candidate` objects.

        keys (Sequence[str]): Normal forms of the mention texts.
        k (int): The maximum number of candidates per mention.
        allowed_types (Optional[Sequence[Optional[Set[str]]]]): Per mention, the allowed
            entity types (None: no constraint).
        RETURNS (List[Tuple[Tuple[str, float, str], ...]]): Per mention, (id, score,
            matched alias) best first.
        """
        cfg = self.config
        bits = (
            [_ALL_BITS] * len(keys)
            if allowed_types is None
            else [self.allowed_bits(a) for a in allowed_types]
        )
        cache = self._result_cache
        results: List[Optional[Tuple[CandidateTuple, ...]]] = [None] * len(keys)
        if cfg.cache_size:
            for i, (key, b) in enumerate(zip(keys, bits)):
                results[i] = cache.get((key, b, k))
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            computed = self._candidates_uncached(
                [keys[i] for i in todo],
                k,
                [bits[i] for i in todo],
                [allowed_types[i] for i in todo] if allowed_types is not None else None,
            )
            if cfg.cache_size and len(cache) + len(todo) > cfg.cache_size:
                cache.clear()
            for i, cands in zip(todo, computed):
                results[i] = cands
                if len(cache) < cfg.cache_size:
                    cache[(keys[i], bits[i], k)] = cands
        return [r for r in results if r is not None]

    def _candidates_uncached(
        self,
        keys: Sequence[str],
        k: int,
        bits: Sequence[int],
        allowed_types: Optional[Sequence[Optional[Set[str]]]],
    ) -> List[Tuple[CandidateTuple, ...]]:
        cfg = self.config
        n = len(keys)
        forced_key = numpy.full(n, -1, dtype=numpy.int64)
        forced_score = numpy.zeros(n, dtype=numpy.float32)
        q_budget = numpy.full(n, int(cfg.posting_budget), dtype=numpy.int64)
        # Postings of the two rarest n-grams are read even past the budget:
        # a query needs some recall. Not behind a match (below): there the
        # budget is strict, else common n-grams alone cost thousands of postings.
        q_min_grams = numpy.full(n, 2, dtype=numpy.int64)
        n_rescore = max(int(cfg.n_rescore), int(cfg.n_keys))
        q_rescore = numpy.full(n, n_rescore, dtype=numpy.int64)
        fuzzy_keys: List[str] = [""] * n
        exact = self.exact
        for i, key in enumerate(keys):
            if not key:
                continue
            hit = exact.get(key)
            if hit is not None:
                forced_key[i] = hit
                forced_score[i] = 1.0
            elif cfg.word_order and " " in key:
                hit = self.by_word_order.get(sorted_key(key))
                if hit is not None:
                    forced_key[i] = hit
                    forced_score[i] = cfg.word_order_score
            if cfg.fuzzy and (cfg.fuzzy_when_exact or hit is None):
                fuzzy_keys[i] = key
                if hit is not None:
                    # The fuzzy step only fills the list behind an exact hit:
                    # a tenth of the budget, strictly (no n-gram whose postings
                    # exceed it), only the keys expanded rescored.
                    q_budget[i] = max(int(cfg.posting_budget) // 10, 1)
                    q_min_grams[i] = 0
                    q_rescore[i] = int(cfg.n_keys)
        typo_keys = self._typo_keys(
            [key if key and forced_key[i] < 0 else "" for i, key in enumerate(fuzzy_keys)]
        )
        # One edit away is as good as a fuzzy match gets: the n-gram search
        # only fills the list behind it, as behind an exact hit.
        has_typo_neighbour = typo_keys[:, 0] >= 0
        q_budget[has_typo_neighbour] = max(int(cfg.posting_budget) // 10, 1)
        q_min_grams[has_typo_neighbour] = 0
        q_rescore[has_typo_neighbour] = int(cfg.n_keys)
        # The neighbour table holds what the search behind an exact match
        # finds with the settings it was built with: such rows need no vector.
        q_table = numpy.zeros(n, dtype=numpy.bool_)
        if self._neighbours is not None and self._neighbour_params == self._strict_params():
            q_table = numpy.logical_and(forced_score >= 1.0, [bool(key) for key in fuzzy_keys])
        q_allowed = numpy.asarray(bits, dtype=numpy.uint64)
        # Over-fetch where the number check may reorder candidates or the
        # exact type check (types past the 63 with a bit) may drop some.
        k_fetch = 2 * k if allowed_types is None or not self._overflow_types else k * 4
        filtered = [
            allowed_types is not None and self._overflow_types and allowed_types[i] is not None for i in range(n)
        ]
        has_numbers = [bool(cfg.number_penalty and key and _HAS_DIGIT_RE.search(key)) for key in fuzzy_keys]
        q_k = numpy.where(numpy.logical_or(filtered, has_numbers), k_fetch, k).astype(numpy.int64)
        nb_idx, nb_val, nb_more = self._neighbours if self._neighbours is not None else _NO_NEIGHBOURS

        def link(rows: Optional[numpy.ndarray], table: numpy.ndarray) -> Tuple[numpy.ndarray, ...]:
            """The kernel on some rows (None: all), their vectors computed here."""
            sel = (lambda a: a) if rows is None else (lambda a: a[rows])  # noqa: E731
            selected = fuzzy_keys if rows is None else [fuzzy_keys[i] for i in rows.tolist()]
            q_ptr, q_cols, q_vals = self.vectorize(["" if t else key for key, t in zip(selected, table.tolist())])
            m = len(selected)
            out = (
                numpy.empty((m, k_fetch), dtype=numpy.int64),
                numpy.empty((m, k_fetch), dtype=numpy.float32),
                numpy.empty((m, k_fetch), dtype=numpy.int64),
                numpy.empty((m, k_fetch), dtype=numpy.int64),
            )
            unsettled = numpy.zeros(m, dtype=numpy.bool_)
            if m:
                _link(
                    q_ptr, q_cols, q_vals, sel(q_budget), sel(q_min_grams), sel(q_rescore),
                    sel(forced_key), sel(forced_score), sel(q_allowed), numpy.uint64(_ALL_BITS),
                    self.col_ptr, self.col_rows, self.col_vals, self.row_ptr, self.row_cols, self.row_vals,
                    self.key_ptr, self.key_pairs, self.pair_entities, self.pair_counts, self.entity_type_bits,
                    n_rescore, int(cfg.n_keys),
                    _MAX_FUZZY, sel(q_k), self._acc, self._q_dense, self._ent_slot, sel(typo_keys),
                    nb_idx, nb_val, nb_more, table, unsettled, *out,
                )
            return (*out, unsettled)

        out_ent, out_score, out_pair, out_key, unsettled = link(None, q_table)
        # Rows the stored neighbours did not settle: searched.
        rows = numpy.flatnonzero(unsettled)
        if len(rows):
            searched = link(rows, numpy.zeros(len(rows), dtype=numpy.bool_))
            for whole, part in zip((out_ent, out_score, out_pair, out_key), searched):
                whole[rows] = part
        # Rows with no number check or exact type check to make take their
        # first k candidates, built in bulk; the others are redone below. The
        # number check only reorders fuzzy candidates: a row led by an exact
        # match skips it.
        head_ent = out_ent[:, :k]
        valid = head_ent >= 0
        flat = iter(
            list(
                zip(
                    self._id_objects[head_ent[valid]].tolist(),
                    out_score[:, :k][valid].astype(numpy.float64).round(6).tolist(),
                    self._alias_objects[out_pair[:, :k][valid]].tolist(),
                )
            )
        )
        results = [tuple(islice(flat, c)) for c in valid.sum(axis=1).tolist()]
        top_score = out_score[:, 0] if k_fetch else numpy.zeros(n, dtype=numpy.float32)
        redo = numpy.logical_or(filtered, numpy.logical_and(has_numbers, top_score < 1.0))
        for i in numpy.flatnonzero(redo).tolist():
            results[i] = self._row_candidates(
                out_ent[i], out_score[i], out_pair[i], out_key[i], k,
                allowed_types[i] if filtered[i] else None,  # type: ignore[index]
                numbers(fuzzy_keys[i]) if has_numbers[i] else frozenset(),
            )
        return results

    def _row_candidates(
        self,
        ents: numpy.ndarray,
        scores: numpy.ndarray,
        pairs: numpy.ndarray,
        keys: numpy.ndarray,
        k: int,
        allowed: Optional[Set[str]],
        q_numbers: FrozenSet[str],
    ) -> Tuple[CandidateTuple, ...]:
        """The candidates of one row of over-fetched kernel output, for a mention
        whose numbers may reorder them or whose types need an exact check."""
        ids = self.kb.ids
        types = self.kb.types
        alias_texts = self.kb.alias_texts
        cands: List[CandidateTuple] = []
        matched: List[str] = []  # the normalized alias each candidate came through
        rows = zip(ents.tolist(), scores.astype(numpy.float64).round(6).tolist(), pairs.tolist(), keys.tolist())
        for e, sc, pr, key in rows:
            if e < 0:
                break
            if allowed is not None and not allowed.intersection(types[e]):
                continue
            cands.append((ids[e], sc, alias_texts[pr]))
            matched.append(self.keys[key])
        if q_numbers and cands and cands[0][1] < 1.0:
            cands = self._check_numbers(cands, q_numbers, matched)
        return tuple(cands[:k])

    def _typo_keys(self, keys: Sequence[str]) -> numpy.ndarray:
        """Keys one edit away from each query ("" for none), -1 padded, (len(keys), 8)."""
        out = numpy.full((len(keys), 8), -1, dtype=numpy.int32)
        if not self.config.typo_index or not any(keys):
            return out
        self._ensure_typo_table()
        q_buf, q_off = _concat_utf8(keys)
        _typo_neighbours(
            q_buf, q_off, self._key_buf, self._key_off, self._typo_table, self._typo_starts,
            int(self.config.typo_min_length), int(self.config.typo_max_length), out,
        )
        return out

    def _ensure_typo_table(self) -> None:
        """Build the typo table (seconds for a million keys)."""
        lengths = (self.config.typo_min_length, self.config.typo_max_length)
        if self._typo_table is not None and self._typo_lengths == lengths:
            return
        self._key_buf, self._key_off = _concat_utf8(self.keys)
        self._typo_table, self._typo_starts = _typo_table(
            self._key_buf, self._key_off, int(lengths[0]), int(lengths[1])
        )
        self._typo_lengths = lengths

    def _check_numbers(
        self, cands: List[CandidateTuple], q_numbers: FrozenSet[str], matched: Sequence[str]
    ) -> List[CandidateTuple]:
        """Lower fuzzy scores of aliases whose numbers differ from the mention's
        (matched: the normalized alias each candidate came through)."""
        penalty = self.config.number_penalty
        out = []
        for (cid, score, alias), key in zip(cands, matched):
            if score < 1.0:
                a_numbers = numbers(key)
                if a_numbers and not (a_numbers & q_numbers):
                    score *= 1.0 - penalty
                elif not a_numbers:
                    score *= 1.0 - penalty / 2
                # An identifier of the mention ("c7") missing from the alias.
                if any(not n[0].isdigit() and n not in a_numbers for n in q_numbers):
                    score *= 1.0 - penalty
            out.append((cid, round(score, 6), alias))
        # Stable: ties keep the kernel's order (prior count, then entity row).
        return sorted(out, key=lambda c: -c[1])

    # Serialization

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The index (without the KB) as msgpack-serializable data."""
        return {
            "normalization": self.normalization.to_dict(),
            "config": self.config.to_dict(),
            "keys": self.keys,
            "vocab": list(self.vocab),
            "key_ptr": self.key_ptr,
            "key_pairs": self.key_pairs,
            "idf": self.idf,
            "row_ptr": self.row_ptr,
            "row_cols": self.row_cols,
            "row_vals": self.row_vals,
            **(
                {
                    "neighbour_params": list(self._neighbour_params),
                    **dict(zip(self._NEIGHBOUR_ARRAYS, self._neighbours)),
                }
                if self._neighbours is not None
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any], kb: KnowledgeBase, where: Optional[Where] = None) -> "CandidateIndex":
        """data (Dict[str, Any]): As returned by :meth:`to_dict`.
        kb (KnowledgeBase): The KB the index was built from.
        where (Optional[Callable[[str], str]]): Names the source of a field in
            errors (e.g. its file).
        RETURNS (CandidateIndex): The index.
        RAISES (ModelDataError): If the data is not a valid index of this KB.
        """
        where = where or (lambda field: f"candidate index data (field '{field}')")
        data = validate_index(data, kb.n_aliases, where)
        self = cls.__new__(cls)
        self.kb = kb
        try:
            self.normalization = NormalizationConfig.from_dict(data["normalization"])
        except (TypeError, ValueError) as err:
            raise ModelDataError(f"entity_normalizer: invalid settings in {where('normalization')}: {err}. {FIX}") from None
        try:
            self.config = IndexConfig.from_dict(data["config"])
        except (TypeError, ValueError) as err:
            raise ModelDataError(f"entity_normalizer: invalid settings in {where('config')}: {err}. {FIX}") from None
        self.normalizer = Normalizer(self.normalization)
        self.keys = data["keys"]
        self.vocab = {g: i for i, g in enumerate(data["vocab"])}
        for name in ("key_ptr", "key_pairs", "idf", "row_ptr", "row_cols", "row_vals"):
            setattr(self, name, data[name])
        self._finish()
        # Indexes saved without a neighbour table search behind exact matches.
        if "neighbour_params" in data:
            self._neighbours = tuple(data[name] for name in cls._NEIGHBOUR_ARRAYS)  # type: ignore[assignment]
            self._neighbour_params = tuple(data["neighbour_params"])  # type: ignore[assignment]
        return self

    _ARRAYS = ("key_ptr", "key_pairs", "idf", "row_ptr", "row_cols", "row_vals")
    _NEIGHBOUR_ARRAYS = ("neighbour_keys", "neighbour_scores", "neighbour_more")

    def to_disk(self, path: Union[str, Path]) -> None:
        """Save to a directory: ``index.msgpack`` (strings, settings) and ``.npy`` arrays.

        path (Union[str, Path]): The directory (created if missing).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        for name in self._ARRAYS + self._NEIGHBOUR_ARRAYS:
            if name in data:
                numpy.save(path / f"{name}.npy", data.pop(name), allow_pickle=False)
        srsly.write_msgpack(path / "index.msgpack", data)

    @classmethod
    def from_disk(cls, path: Union[str, Path], kb: KnowledgeBase) -> "CandidateIndex":
        """path (Union[str, Path]): A directory written by :meth:`to_disk`.
        kb (KnowledgeBase): The KB the index was built from.
        RETURNS (CandidateIndex): The index.
        RAISES (ModelDataError): If a file is missing, unreadable or invalid.
        """
        path = Path(path)
        data = read_msgpack_dict(path / "index.msgpack")
        arrays = cls._ARRAYS + (cls._NEIGHBOUR_ARRAYS if "neighbour_params" in data else ())
        for name in arrays:
            data[name] = read_npy(path / f"{name}.npy")
        return cls.from_dict(
            data, kb, lambda field: str(path / (f"{field}.npy" if field in arrays else "index.msgpack"))
        )


def _object_array(strings: Sequence[str]) -> numpy.ndarray:
    """A 1-d numpy array of object references to the strings."""
    out = numpy.empty(len(strings), dtype=object)
    out[:] = strings
    return out


def _concat_utf8(strings: Sequence[str]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """UTF-8 bytes of strings, concatenated, and their offsets."""
    if not strings:
        return numpy.zeros(0, dtype=numpy.uint8), numpy.zeros(1, dtype=numpy.int64)
    joined = "\n".join(strings)
    if joined.count("\n") != len(strings) - 1:  # newlines inside (normalized keys have none)
        joined = "\n".join(s.replace("\n", " ") for s in strings)
    buf = numpy.frombuffer(joined.encode("utf8") + b"\n", dtype=numpy.uint8)
    ends = numpy.flatnonzero(buf == 10)
    off = numpy.zeros(len(strings) + 1, dtype=numpy.int64)
    off[1:] = ends - numpy.arange(len(strings))
    return numpy.ascontiguousarray(buf[buf != 10]), off


def _grams(key: str, ns: Sequence[int]) -> List[str]:
    grams: List[str] = []
    for word in key.split():
        padded = f" {word} "
        for n in ns:
            if len(padded) <= n:
                grams.append(padded)
            else:
                grams.extend([padded[i : i + n] for i in range(len(padded) - n + 1)])
    return grams
