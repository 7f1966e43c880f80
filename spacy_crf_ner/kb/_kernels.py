"""Compiled kernels of the candidate search (see :mod:`.index`).

numba is imported when a kernel is first called (:mod:`spacy_crf_ner._numba`).
The kernels take their arrays grouped in the named tuples below, which numba
passes as structs.
"""
from typing import NamedTuple

import numpy

from .._numba import njit


class Postings(NamedTuple):
    """The TF-IDF matrix of the keys, by rows (keys) and by columns (n-grams)."""

    row_ptr: numpy.ndarray  # int64 (n_keys + 1,)
    row_cols: numpy.ndarray  # int32 (nnz,)
    row_vals: numpy.ndarray  # float32 (nnz,)
    col_ptr: numpy.ndarray  # int64 (n_grams + 1,)
    col_rows: numpy.ndarray  # int32 (nnz,)
    col_vals: numpy.ndarray  # float32 (nnz,)


class KeyTable(NamedTuple):
    """From a normalized key to its (alias, entity) pairs and their entities."""

    key_ptr: numpy.ndarray  # int64 (n_keys + 1,)
    key_pairs: numpy.ndarray  # int32: pairs of key i are key_pairs[key_ptr[i]:key_ptr[i + 1]]
    pair_entities: numpy.ndarray  # int32 (n_pairs,)
    pair_counts: numpy.ndarray  # int32 (n_pairs,): prior counts
    entity_types: numpy.ndarray  # uint64 (n_entities,): one bit per type


class Neighbours(NamedTuple):
    """Per key, the fuzzy keys the search behind an exact match finds for it."""

    idx: numpy.ndarray  # int32 (n_keys, width), -1 padded
    val: numpy.ndarray  # float32 (n_keys, width): cosines
    more: numpy.ndarray  # bool (n_keys,): the search found more than width keys


class Queries(NamedTuple):
    """A batch of queries: TF-IDF rows and per-query search settings."""

    ptr: numpy.ndarray  # int64 (n + 1,)
    cols: numpy.ndarray  # int32
    vals: numpy.ndarray  # float32
    budget: numpy.ndarray  # int64 (n,): postings visited
    min_grams: numpy.ndarray  # int64 (n,): rarest n-grams read past the budget
    rescore: numpy.ndarray  # int64 (n,): keys rescored with the exact cosine
    forced_key: numpy.ndarray  # int64 (n,): exact or word-order key, -1 for none
    forced_score: numpy.ndarray  # float32 (n,): its score
    allowed: numpy.ndarray  # uint64 (n,): type bits
    k: numpy.ndarray  # int64 (n,): candidates wanted
    typo_keys: numpy.ndarray  # int32 (n, 8): keys one edit away, -1 padded
    from_table: numpy.ndarray  # bool (n,): read fuzzy keys from the neighbour table


class Limits(NamedTuple):
    """Scalars of a search."""

    n_rescore: int  # size of the rescoring buffer
    n_keys: int  # fuzzy keys expanded to entities per query
    max_fuzzy: float  # fuzzy scores stay below an exact match's 1.0
    allowed_all: numpy.uint64  # mask meaning "no type constraint"


class Scratch(NamedTuple):
    """Buffers reused between queries (zero or -1 between queries)."""

    acc: numpy.ndarray  # float32 (n_keys,): partial dot products
    q_dense: numpy.ndarray  # float32 (n_grams,): the query being scored
    ent_slot: numpy.ndarray  # int64 (n_entities,): slot of an entity in the candidate buffer


class Ranked(NamedTuple):
    """Output: the candidates of each query, best first, -1 padded."""

    ent: numpy.ndarray  # int64 (n, width)
    score: numpy.ndarray  # float32 (n, width)
    pair: numpy.ndarray  # int64 (n, width): the (alias, entity) pair it came through
    key: numpy.ndarray  # int64 (n, width): the key it came through
    unsettled: numpy.ndarray  # bool (n,): the neighbour table did not settle the row


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
def _scatter(a, b, q_cols, q_vals, q_dense, scale):  # pragma: no cover - compiled
    """q_dense[q_cols[a:b]] = scale * q_vals[a:b]: 1 writes the query, 0 clears it."""
    for i in range(a, b):
        q_dense[q_cols[i]] = scale * q_vals[i]


@njit(cache=True, nogil=True)
def _dot_dense(q_dense, m, r):  # pragma: no cover - compiled
    """Exact cosine of the query held densely in q_dense and key r: one pass over the
    key's columns with no branch (a sorted merge of the two columns mispredicts
    about every other step)."""
    s = 0.0
    for p in range(m.row_ptr[r], m.row_ptr[r + 1]):
        s += q_dense[m.row_cols[p]] * m.row_vals[p]
    return s


@njit(cache=True, nogil=True)
def fuzzy_keys(a, b, q_cols, q_vals, m, budget, min_grams, n_rescore, acc, q_dense, top_idx, top_val):  # pragma: no cover - compiled
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
        dfs[j] = m.col_ptr[c + 1] - m.col_ptr[c]
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
        for p in range(m.col_ptr[c], m.col_ptr[c + 1]):
            acc[m.col_rows[p]] += w * m.col_vals[p]
    # Keep the n_rescore best partial scores, reading the same posting lists
    # again and zeroing each sum once read: a second pass without branches in
    # the first beats recording which keys were touched (about 30 % faster on
    # a million aliases).
    n_top = 0
    threshold = 0.0
    for jj in range(n_used):
        c = q_cols[a + order[jj]]
        for p in range(m.col_ptr[c], m.col_ptr[c + 1]):
            r = m.col_rows[p]
            v = acc[r]
            if v > threshold:
                n_top = _insert_top(top_idx, top_val, n_top, n_rescore, r, v)
                if n_top == n_rescore:
                    threshold = top_val[n_top - 1]
            acc[r] = 0.0
    # Exact cosine of the survivors, re-sorted (insertion sort; n_top is small).
    for t in range(n_top):
        top_val[t] = _dot_dense(q_dense, m, top_idx[t])
    for t in range(1, n_top):
        _insert_top(top_idx, top_val, t, n_top, top_idx[t], top_val[t])
    return n_top


@njit(cache=True, nogil=True)
def rank(q, m, keys, nb, s, lim, out):  # pragma: no cover - compiled
    """Candidates of a batch of queries (q: Queries, m: Postings, keys: KeyTable,
    nb: Neighbours, s: Scratch, lim: Limits, out: Ranked).

    Per query: the forced (exact or word-order) key, then the fuzzy keys (the
    n-gram search's and the typo neighbours, ranked by cosine, capped at
    lim.max_fuzzy), expanded to entities, filtered by type bits; the best
    q.k[i] by (score, prior count, entity row), with the pair and the key each
    came through; -1 pads the rest of the row.

    A query with q.from_table set (a key exactly, with no query vector) reads
    its fuzzy keys from the neighbour table instead of searching. If the
    stored keys do not settle its top k and the search found more keys than
    were stored, its row is marked in out.unsettled (and left -1): the caller
    searches it."""
    n_q = q.forced_key.shape[0]
    top_idx = numpy.empty(lim.n_rescore, numpy.int64)
    top_val = numpy.empty(lim.n_rescore, numpy.float32)
    cap = 512
    c_ent = numpy.empty(cap, numpy.int64)
    c_score = numpy.empty(cap, numpy.float32)
    c_count = numpy.empty(cap, numpy.int64)
    c_pair = numpy.empty(cap, numpy.int64)
    c_key = numpy.empty(cap, numpy.int64)
    ent_slot = s.ent_slot
    for qi in range(n_q):
        k = q.k[qi]
        allowed = q.allowed[qi]
        constrained = allowed != lim.allowed_all
        n_c = 0
        a = q.ptr[qi]
        b = q.ptr[qi + 1]
        forced = q.forced_key[qi]
        from_table = q.from_table[qi]
        if from_table:
            # The stored keys are the search's, in its order, less the key itself.
            n_top = 0
            for t in range(nb.idx.shape[1]):
                if nb.idx[forced, t] < 0:
                    break
                top_idx[t] = nb.idx[forced, t]
                top_val[t] = nb.val[forced, t]
                n_top += 1
        else:
            _scatter(a, b, q.cols, q.vals, s.q_dense, 1.0)
            n_top = fuzzy_keys(
                a, b, q.cols, q.vals, m, q.budget[qi], q.min_grams[qi], q.rescore[qi],
                s.acc, s.q_dense, top_idx, top_val,
            )
            for u in range(q.typo_keys.shape[1]):
                r = q.typo_keys[qi, u]
                if r < 0:
                    break
                present = False
                for t in range(n_top):
                    if top_idx[t] == r:
                        present = True
                        break
                if not present:
                    v = _dot_dense(s.q_dense, m, r)
                    n_top = _insert_top(top_idx, top_val, n_top, q.rescore[qi], r, v)
            _scatter(a, b, q.cols, q.vals, s.q_dense, 0.0)
        n_top = min(n_top, lim.n_keys)
        # Keys come best first, so once k entities are in, a key scoring below
        # the score at which the k-th arrived cannot change the top k.
        kth_score = -1.0
        settled = False
        for t in range(-1, n_top):
            if t == -1:
                key = forced
                score = q.forced_score[qi]
                if key < 0:
                    continue
            else:
                key = top_idx[t]
                score = min(top_val[t], lim.max_fuzzy)
                if key == forced:
                    continue
            if score < kth_score:
                settled = True
                break
            for pp in range(keys.key_ptr[key], keys.key_ptr[key + 1]):
                pair = keys.key_pairs[pp]
                ent = keys.pair_entities[pair]
                if constrained and (keys.entity_types[ent] & allowed) == 0:
                    continue
                cnt = keys.pair_counts[pair]
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
        # The stored keys ran out before the top k was settled: no output.
        out.unsettled[qi] = from_table and not settled and nb.more[forced]
        if out.unsettled[qi]:
            n_c = 0
        # Selection of the k best by (score desc, count desc, entity asc).
        for j in range(out.ent.shape[1]):
            best = -1
            if j < k:
                for u in range(n_c):
                    if c_ent[u] < 0:
                        continue
                    if best < 0 or c_score[u] > c_score[best] or (
                        c_score[u] == c_score[best]
                        and (c_count[u] > c_count[best] or (c_count[u] == c_count[best] and c_ent[u] < c_ent[best]))
                    ):
                        best = u
            if best < 0:
                out.ent[qi, j] = -1
                out.score[qi, j] = 0.0
                out.pair[qi, j] = -1
                out.key[qi, j] = -1
            else:
                out.ent[qi, j] = c_ent[best]
                out.score[qi, j] = c_score[best]
                out.pair[qi, j] = c_pair[best]
                out.key[qi, j] = c_key[best]
                c_ent[best] = -1


@njit(cache=True, nogil=True)
def neighbour_rows(q_ptr, q_cols, q_vals, first, m, budget, n_keys, acc, q_dense, nb):  # pragma: no cover - compiled
    """Rows first, first + 1, ... of the neighbour table nb, one per query
    vector (the vectors of those keys): the keys that the search behind an
    exact match finds for the key (budget strict, n_keys rescored), in its
    order, less the key itself; the first nb.idx.shape[1] of them, -1 padded,
    and in nb.more whether there were more."""
    top_idx = numpy.empty(n_keys, numpy.int64)
    top_val = numpy.empty(n_keys, numpy.float32)
    width = nb.idx.shape[1]
    for i in range(q_ptr.shape[0] - 1):
        r = first + i
        a = q_ptr[i]
        b = q_ptr[i + 1]
        _scatter(a, b, q_cols, q_vals, q_dense, 1.0)
        n_top = fuzzy_keys(a, b, q_cols, q_vals, m, budget, 0, n_keys, acc, q_dense, top_idx, top_val)
        _scatter(a, b, q_cols, q_vals, q_dense, 0.0)
        n = 0
        nb.more[r] = False
        for t in range(min(n_top, n_keys)):
            if top_idx[t] == r:
                continue
            if n == width:
                nb.more[r] = True
                break
            nb.idx[r, n] = top_idx[t]
            nb.val[r, n] = top_val[t]
            n += 1
        for t in range(n, width):
            nb.idx[r, t] = -1
            nb.val[r, t] = 0.0
