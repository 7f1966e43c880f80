"""Typo index: the keys one edit away from a query (a deletion, insertion,
substitution or adjacent transposition), by symmetric-deletion lookup
(Garbe's SymSpell).

On large KBs the posting budget makes the n-gram search approximate; this
finds the one-typo neighbours it can miss. Strings are compared as UTF-8 bytes.
"""
from typing import Sequence, Tuple

import numpy

from .._numba import njit

# Keys of a query kept at most (the rest are left to the n-gram search).
MAX_TYPO_NEIGHBOURS = 8


class TypoIndex:
    """Keys within one edit of a query.

    keys (Sequence[str]): The indexed strings (normalized aliases).
    min_length (int): Keys and queries shorter than this (in UTF-8 bytes) are
        left out: one edit changes a short word too much.
    max_length (int): Longer keys and queries are looked up by halves.
    """

    def __init__(self, keys: Sequence[str], min_length: int, max_length: int) -> None:
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        self._buf, self._off = concat_utf8(keys)
        self._table, self._starts = _typo_table(self._buf, self._off, self.min_length, self.max_length)

    def neighbours(self, queries: Sequence[str]) -> numpy.ndarray:
        """Keys one edit away from each query ("" for none).

        queries (Sequence[str]): Normalized query strings.
        RETURNS (numpy.ndarray): Key rows, -1 padded, shape (len(queries), 8), int32.
        """
        out = numpy.full((len(queries), MAX_TYPO_NEIGHBOURS), -1, dtype=numpy.int32)
        if any(queries):
            q_buf, q_off = concat_utf8(queries)
            _typo_neighbours(
                q_buf, q_off, self._buf, self._off, self._table, self._starts,
                self.min_length, self.max_length, out,
            )
        return out


def concat_utf8(strings: Sequence[str]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """UTF-8 bytes of strings, concatenated, and their offsets.

    strings (Sequence[str]): The strings (a newline inside one reads as a space).
    RETURNS (Tuple[ndarray, ndarray]): uint8 bytes, int64 offsets (len(strings) + 1).
    """
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

