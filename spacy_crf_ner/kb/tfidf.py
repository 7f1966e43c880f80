"""Character n-gram TF-IDF vectors of normalized strings, as scispaCy's linker
uses them (scikit-learn's ``char_wb`` analyzer, smooth idf, unit length).

One vectorizer: :meth:`CharTfidf.fit` reads the n-grams of the KB's keys with
:func:`~spacy_crf_ner.kb.normalize.char_ngrams`; :meth:`CharTfidf.transform`
turns query strings into CSR rows with one compiled kernel that codes each
n-gram as an integer (see :func:`gram_code`), so the Python work per query is
encoding the batch once.
"""
from typing import Dict, List, NamedTuple, Sequence

import numpy

from .._numba import njit
from .normalize import char_ngrams

# An n-gram of up to three characters is one uint64 code: a leading 1 bit,
# then 21 bits per code point (below 0x110000), so those codes are exact.
# Longer n-grams get a 64-bit FNV-1a hash of their code points: two of them
# collide with odds of about n**2 / 2**64 for n distinct n-grams.
_MAX_EXACT_GRAM = 3
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1


def gram_code(gram: str) -> int:
    """The integer code of an n-gram, as the compiled vectorizer computes it.

    gram (str): The n-gram.
    RETURNS (int): Its code (an unsigned 64-bit value).
    """
    if len(gram) <= _MAX_EXACT_GRAM:
        code = 1
        for ch in gram:
            code = (code << 21) | ord(ch)
        return code
    code = _FNV_OFFSET
    for ch in gram:
        code = ((code ^ ord(ch)) * _FNV_PRIME) & _MASK64
    return code


class CSR(NamedTuple):
    """Rows of a sparse matrix: row i is ``cols[ptr[i]:ptr[i + 1]]`` (sorted)
    with the values ``vals[ptr[i]:ptr[i + 1]]``."""

    ptr: numpy.ndarray  # int64, (n_rows + 1,)
    cols: numpy.ndarray  # int32, (nnz,)
    vals: numpy.ndarray  # float32, (nnz,)


class CharTfidf:
    """TF-IDF over the character n-grams of a fixed set of strings (binary
    term frequency: repeated n-grams within one alias are rare and add little).

    ngram_sizes (Sequence[int]): The n-gram lengths.
    """

    def __init__(self, ngram_sizes: Sequence[int]) -> None:
        self.ngram_sizes = tuple(int(n) for n in ngram_sizes)
        self.vocab: List[str] = []
        self.idf = numpy.zeros(0, dtype=numpy.float32)
        # Squared weight of an n-gram no key has: counted in a query's length.
        self.unknown_sq = 1.0
        self._codes = numpy.zeros(0, dtype=numpy.uint64)
        self._cols = numpy.zeros(0, dtype=numpy.int32)

    def fit_transform(self, keys: Sequence[str]) -> CSR:
        """Learn the vocabulary and idf of ``keys`` and return their vectors.

        keys (Sequence[str]): Normalized strings, the documents.
        RETURNS (CSR): Their unit-length TF-IDF rows.
        """
        vocab: Dict[str, int] = {}
        setdefault = vocab.setdefault
        cols: List[int] = []
        ptr = [0]
        for key in keys:
            grams = [g for n in self.ngram_sizes for g in char_ngrams(key, n)]
            cols.extend(sorted({setdefault(g, len(vocab)) for g in grams}))
            ptr.append(len(cols))
        row_ptr = numpy.asarray(ptr, dtype=numpy.int64)
        row_cols = numpy.asarray(cols, dtype=numpy.int32)
        df = numpy.bincount(row_cols, minlength=len(vocab)).astype(numpy.float64)
        # Smooth idf, as scikit-learn's TfidfVectorizer.
        idf = (numpy.log((1.0 + len(keys)) / (1.0 + df)) + 1.0).astype(numpy.float32)
        vals = idf[row_cols]
        lengths = numpy.diff(row_ptr)
        sq = numpy.add.reduceat(vals.astype(numpy.float64) ** 2, row_ptr[:-1]) if len(vals) else numpy.zeros(0)
        norms = numpy.sqrt(numpy.where(lengths > 0, sq, 1.0)).astype(numpy.float32)
        self.set_vocab(list(vocab), idf, len(keys))
        return CSR(row_ptr, row_cols, vals / numpy.repeat(norms, lengths))

    def set_vocab(self, vocab: List[str], idf: numpy.ndarray, n_docs: int) -> None:
        """Use a vocabulary and idf learned before (a loaded index).

        vocab (List[str]): The n-grams, by column.
        idf (numpy.ndarray): Their idf, float32.
        n_docs (int): The number of strings they were learned from.
        """
        self.vocab = vocab
        self.idf = idf
        # The idf of an n-gram in no key.
        self.unknown_sq = float(numpy.log(1.0 + n_docs) + 1.0) ** 2
        codes = numpy.fromiter(map(gram_code, vocab), dtype=numpy.uint64, count=len(vocab))
        order = numpy.argsort(codes)
        self._codes = codes[order]
        self._cols = order.astype(numpy.int32)

    def transform(self, keys: Sequence[str]) -> CSR:
        """TF-IDF vectors of normalized strings: unit length, n-grams unknown
        to the vocabulary counted in the length.

        keys (Sequence[str]): Normalized strings.
        RETURNS (CSR): Their rows.
        """
        ns = numpy.asarray(self.ngram_sizes, dtype=numpy.int64)
        joined = "\n".join(keys)
        cps = numpy.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=numpy.uint32)
        lengths = numpy.fromiter(map(len, keys), dtype=numpy.int64, count=len(keys))
        ends = numpy.cumsum(lengths + 1) - 1
        starts = ends - lengths
        # A key of L code points has at most 2 L + 1 padded positions, each
        # starting one n-gram per size.
        bound = len(ns) * (2 * len(cps) + len(keys)) + 1
        ptr = numpy.empty(len(keys) + 1, dtype=numpy.int64)
        cols = numpy.empty(bound, dtype=numpy.int32)
        vals = numpy.empty(bound, dtype=numpy.float32)
        n_out = _vectorize(cps, starts, ends, ns, self._codes, self._cols, self.idf, self.unknown_sq, ptr, cols, vals)
        return CSR(ptr, cols[:n_out], vals[:n_out])


@njit(cache=True, nogil=True)
def _is_space(c):  # pragma: no cover - compiled
    """Whether code point c is whitespace to Python's str.split()."""
    return (
        (9 <= c <= 13) or (28 <= c <= 32) or c == 133 or c == 160 or c == 5760
        or (8192 <= c <= 8202) or c == 8232 or c == 8233 or c == 8239 or c == 8287 or c == 12288
    )


@njit(cache=True, nogil=True)
def _code(cps, w0, p, s, span):  # pragma: no cover - compiled
    """gram_code of the n-gram at position s of the word cps[w0:p] padded
    with one space on each side."""
    if span <= 3:
        code = numpy.uint64(1)
        for t in range(s, s + span):
            q = w0 + t - 1
            c = 32 if q < w0 or q >= p else cps[q]
            code = (code << numpy.uint64(21)) | numpy.uint64(c)
        return code
    code = numpy.uint64(14695981039346656037)
    for t in range(s, s + span):
        q = w0 + t - 1
        c = 32 if q < w0 or q >= p else cps[q]
        code = (code ^ numpy.uint64(c)) * numpy.uint64(1099511628211)
    return code


@njit(cache=True, nogil=True)
def _vectorize(cps, starts, ends, ns, codes, code_cols, idf, unknown_sq, out_ptr, out_cols, out_vals):  # pragma: no cover - compiled
    """TF-IDF rows of the strings cps[starts[i]:ends[i]] (code points): the
    set of n-grams of each space-padded word, known ones weighted by idf,
    unknown ones counted in the norm at unknown_sq, columns sorted. Returns
    the number of entries written."""
    n_keys = starts.shape[0]
    max_len = 0
    for i in range(n_keys):
        max_len = max(max_len, ends[i] - starts[i])
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
            padded = p - w0 + 2
            for n in ns:
                span = min(n, padded)
                for s in range(padded - span + 1):
                    scratch[m] = _code(cps, w0, p, s, span)
                    m += 1
        grams = numpy.sort(scratch[:m])
        n_unique = 0
        n_known = 0
        for j in range(m):
            if j and grams[j] == grams[j - 1]:
                continue
            n_unique += 1
            pos = numpy.searchsorted(codes, grams[j])
            if pos < codes.shape[0] and codes[pos] == grams[j]:
                known[n_known] = code_cols[pos]
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


def transpose(rows: CSR, n_cols: int) -> CSR:
    """The same matrix by columns (posting lists: the rows holding each column).

    rows (CSR): The rows.
    n_cols (int): The number of columns.
    RETURNS (CSR): ptr over columns, the row of each entry, its value.
    """
    return CSR(*_csr_to_csc(rows.ptr, rows.cols, rows.vals, n_cols))


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

