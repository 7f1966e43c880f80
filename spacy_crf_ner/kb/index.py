"""The candidate index: exact normalized alias, word-order-insensitive alias,
then fuzzy character n-gram TF-IDF cosine, expanded to KB entities.

The fuzzy step is the method of scispaCy's linker (char 3-grams, TF-IDF,
cosine), searched with an inverted index over n-grams instead of an
approximate nearest-neighbour index: each query adds up the weights of the
aliases in the posting lists of its n-grams, rarest n-grams first, and stops
adding n-grams once ``posting_budget`` postings were visited (frequent
n-grams add little weight and cost the most), then rescores the best
``n_rescore`` aliases with the exact cosine. A typo index adds the aliases
one edit away, which a starved search can miss. Expansion to entities, type
filtering and ranking by (score, prior count) happen in one compiled kernel
(:mod:`._kernels`). One batch API, :meth:`CandidateIndex.search`, returns a
:class:`~.candidates.CandidateBatch`: the candidates with their features.
"""
import logging
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import numpy
import srsly

from . import _kernels
from .candidates import (
    COSINE, EXACT, IDENTIFIER_MISSING, MAX_FUZZY, N_COLUMNS, NUMBERS_DIFFER, NUMBERS_MISSING, PRIOR_COUNT, TYPO,
    WORD_ORDER, Candidate, CandidateBatch, PlainCandidates, empty_rows, plain_rows, rule_scores,
)
from .index_config import IndexConfig
from .knowledge_base import KnowledgeBase, read_msgpack_dict, read_npy
from .normalize import LEGACY_SINGULAR_WORDS, NormalizationConfig, Normalizer, invert_name, numbers, sorted_key
from .tfidf import CSR, CharTfidf, transpose
from .typo import TypoIndex
from .validation import FIX, ModelDataError, Where, validate_index

# IndexConfig is defined in index_config.py and belongs to this API.
__all__ = ["CandidateIndex", "IndexConfig"]

logger = logging.getLogger("spacy_crf_ner")

_HAS_DIGIT_RE = re.compile(r"\d")
_ALL_BITS = (1 << 64) - 1
_OVERFLOW_BIT = 1 << 63
# Neighbours stored per key for the search behind an exact match.
_NEIGHBOURS = 8





class CandidateIndex:
    """Exact, word-order and TF-IDF candidate generator over a KB's aliases.

    Make one with :meth:`build` or :meth:`from_disk`; query it with
    :meth:`search`. An instance reuses scratch arrays between queries: use
    one instance per thread.
    """

    _ARRAYS = ("key_ptr", "key_pairs", "idf", "row_ptr", "row_cols", "row_vals")
    _NEIGHBOUR_ARRAYS = ("neighbour_keys", "neighbour_scores", "neighbour_more")

    def __init__(
        self,
        kb: KnowledgeBase,
        normalization: NormalizationConfig,
        config: IndexConfig,
        keys: List[str],
        key_table: Tuple[numpy.ndarray, numpy.ndarray],
        tfidf: CharTfidf,
        rows: CSR,
        neighbours: Optional[Tuple[_kernels.Neighbours, Tuple[int, int]]] = None,
    ) -> None:
        """Assemble an index from its parts (use :meth:`build` or :meth:`from_disk`)."""
        self.kb = kb
        self.normalization = normalization
        self.normalizer = Normalizer(normalization)
        self.keys = keys
        self.tfidf = tfidf
        self.rows = rows
        self.exact: Dict[str, int] = {key: i for i, key in enumerate(keys)}
        self.by_word_order: Dict[str, int] = {}
        self.postings = _kernels.Postings(*rows, *transpose(rows, len(tfidf.vocab)))
        types = sorted({t for ts in kb.types for t in ts})
        # One bit per entity type (63 types at most; the rest share the last
        # bit and are checked exactly). Entities without types match no type
        # constraint.
        self.type_bits: Dict[str, int] = {t: 1 << i for i, t in enumerate(types[:63])}
        self._overflow_types = len(types) > 63
        entity_bits = numpy.zeros(len(kb.types), dtype=numpy.uint64)
        for e, ts in enumerate(kb.types):
            entity_bits[e] = sum({self.type_bits.get(t, _OVERFLOW_BIT) for t in ts})
        self.key_table = _kernels.KeyTable(
            key_table[0], key_table[1],
            numpy.asarray(kb.alias_entities, dtype=numpy.int32),
            numpy.asarray(kb.alias_counts, dtype=numpy.int32),
            entity_bits,
        )
        self.scratch = _kernels.Scratch(
            numpy.zeros(max(len(keys), 1), dtype=numpy.float32),
            numpy.zeros(max(len(tfidf.vocab), 1), dtype=numpy.float32),
            numpy.full(max(len(kb.ids), 1), -1, dtype=numpy.int64),
        )
        self._ids = _object_array(kb.ids)
        self._aliases = _object_array(kb.alias_texts)
        self._key_numbers: Dict[int, frozenset] = {}
        self.neighbours: Optional[_kernels.Neighbours] = None
        self._neighbour_params: Tuple[int, int] = (0, 0)
        if neighbours is not None:
            self.neighbours, self._neighbour_params = neighbours
        self._typo: Optional[TypoIndex] = None
        self.config = config

    @property
    def config(self) -> IndexConfig:
        """The search settings; assigning new ones empties the result cache."""
        return self._config

    @config.setter
    def config(self, value: IndexConfig) -> None:
        self._config = value
        # (normal form, type bits, k) -> the row as an array and as plain tuples.
        self._cache: Dict[Tuple[str, int, int], Tuple[numpy.ndarray, PlainCandidates]] = {}
        self.by_word_order = {}
        if value.word_order:
            for i, key in enumerate(self.keys):
                if " " in key:
                    self.by_word_order.setdefault(sorted_key(key), i)
        lengths = (value.typo_min_length, value.typo_max_length)
        if not value.typo_index:
            self._typo = None
        elif self._typo is None or (self._typo.min_length, self._typo.max_length) != lengths:
            self._typo = TypoIndex(self.keys, *lengths)

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
        norm = Normalizer(normalization)
        key_to_pairs: Dict[str, List[int]] = {}
        pairs: Iterable[int] = range(kb.n_aliases)
        if progress:
            from tqdm import tqdm

            pairs = tqdm(pairs, desc="Normalizing aliases", unit=" aliases")
        for pair in pairs:
            text = kb.alias_texts[pair]
            forms = [text, *invert_name(text)] if config.inverted_names else [text]
            for form in forms:
                key = norm(form)
                if key:
                    lst = key_to_pairs.setdefault(key, [])
                    if not lst or lst[-1] != pair:
                        lst.append(pair)
        keys = list(key_to_pairs)
        lengths = numpy.fromiter(map(len, key_to_pairs.values()), dtype=numpy.int64, count=len(keys))
        key_ptr = numpy.zeros(len(keys) + 1, dtype=numpy.int64)
        numpy.cumsum(lengths, out=key_ptr[1:])
        key_pairs = numpy.fromiter(
            (p for v in key_to_pairs.values() for p in v), dtype=numpy.int32, count=int(key_ptr[-1])
        )
        tfidf = CharTfidf(config.ngram_sizes)
        rows = tfidf.fit_transform(keys)
        self = cls(kb, normalization, config, keys, (key_ptr, key_pairs), tfidf, rows)
        self._build_neighbours(progress)
        logger.info(
            "Built candidate index: %d aliases, %d normalized keys, %d n-grams",
            kb.n_aliases, len(keys), len(tfidf.vocab),
        )
        return self

    def _strict_params(self) -> Tuple[int, int]:
        """Budget and keys rescored of the search behind an exact match."""
        return max(int(self.config.posting_budget) // 10, 1), int(self.config.n_keys)

    def _build_neighbours(self, progress: bool) -> None:
        """The neighbour table: for each key, the fuzzy keys that the search
        behind an exact match finds for it (with ``fuzzy_when_exact``, every
        exact match runs that search). A mention that is a key exactly reads
        them instead of searching; the results are the same (see
        :func:`._kernels.rank`). 8 keys per key: 64 bytes."""
        if not (self.config.fuzzy and self.config.fuzzy_when_exact) or not self.keys:
            return
        n = len(self.keys)
        budget, n_keys = self._strict_params()
        width = min(_NEIGHBOURS, n_keys)
        nb = _kernels.Neighbours(
            numpy.empty((n, width), dtype=numpy.int32),
            numpy.empty((n, width), dtype=numpy.float32),
            numpy.empty(n, dtype=numpy.bool_),
        )
        starts: Iterable[int] = range(0, n, 20_000)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Neighbours of keys", unit=" x20k keys")
        for first in starts:
            q = self.tfidf.transform(self.keys[first : first + 20_000])
            _kernels.neighbour_rows(
                q.ptr, q.cols, q.vals, first, self.postings, budget, n_keys,
                self.scratch.acc, self.scratch.q_dense, nb,
            )
        self.neighbours, self._neighbour_params = nb, (budget, n_keys)

    # Querying

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

    def candidates(self, text: str, k: int = 5, allowed_types: Optional[Set[str]] = None) -> List[Candidate]:
        """Candidates for one mention, best first: ``search([text]).candidates(0)``.

        text (str): The mention text.
        k (int): The maximum number of candidates.
        allowed_types (Optional[Set[str]]): If given, only entities with one of these types.
        RETURNS (List[Candidate]): (id, score, matched alias), best first.
        """
        return self.search([text], k, [allowed_types]).candidates(0)

    def search(
        self,
        texts: Sequence[str],
        k: int = 5,
        allowed_types: Optional[Sequence[Optional[Set[str]]]] = None,
    ) -> CandidateBatch:
        """Candidates for a batch of mentions, with their features.

        texts (Sequence[str]): Mention texts (normalized here, with :attr:`normalizer`).
        k (int): The maximum number of candidates per mention.
        allowed_types (Optional[Sequence[Optional[Set[str]]]]): Per mention, the allowed
            entity types (None: no constraint).
        RETURNS (CandidateBatch): Per mention, the candidates best first.
        """
        norm = self.normalizer
        keys = [norm(t) for t in texts]
        types: Sequence[Optional[Set[str]]] = allowed_types if allowed_types is not None else [None] * len(keys)
        bits = [self.allowed_bits(a) for a in types]
        cache, cache_size = self._cache, self.config.cache_size
        # Each distinct (key, type filter) is looked up or searched once; the
        # last row of the table is the empty row of an empty key.
        unique: Dict[Tuple[str, int], int] = {}
        first: List[int] = []  # a mention of each
        inverse: List[int] = []
        for i, (key, b) in enumerate(zip(keys, bits)):
            j = unique.setdefault((key, b), len(first)) if key else -1
            if j == len(first):
                first.append(i)
            inverse.append(j)
        arrays: List[numpy.ndarray] = [empty_rows(1, k)[0]] * (len(first) + 1)
        plain: List[PlainCandidates] = [()] * (len(first) + 1)
        pairs = list(unique)
        todo: List[int] = []
        for j, pair in enumerate(pairs):
            hit = cache.get((*pair, k)) if cache_size else None
            if hit is None:
                todo.append(j)
            else:
                arrays[j], plain[j] = hit
        if todo:
            computed = self._search(
                [pairs[j][0] for j in todo], k, [pairs[j][1] for j in todo], [types[first[j]] for j in todo]
            )
            for j, row, plain_row in zip(todo, computed, plain_rows(computed, self._ids, self._aliases)):
                arrays[j], plain[j] = row, plain_row
            if cache_size:
                if len(cache) + len(todo) > cache_size:
                    cache.clear()
                for j in todo[: cache_size - len(cache)]:
                    cache[(*pairs[j], k)] = (arrays[j], plain[j])

        def data() -> numpy.ndarray:
            # Assembled when asked for: the component reads the plain rows only.
            return numpy.stack(arrays)[inverse]

        return CandidateBatch(data, keys, self._ids, self._aliases, [plain[j] for j in inverse])

    def _search(
        self, keys: Sequence[str], k: int, bits: Sequence[int], types: Sequence[Optional[Set[str]]]
    ) -> numpy.ndarray:
        """Rows of :meth:`search` for distinct non-empty keys, (n, k, N_COLUMNS)."""
        cfg = self.config
        n = len(keys)
        budget = numpy.full(n, int(cfg.posting_budget), dtype=numpy.int64)
        # Postings of the two rarest n-grams are read even past the budget: a
        # query needs some recall. Not behind a match (below): there the
        # budget is strict, else common n-grams alone cost thousands of postings.
        min_grams = numpy.full(n, 2, dtype=numpy.int64)
        n_rescore = max(int(cfg.n_rescore), int(cfg.n_keys))
        rescore = numpy.full(n, n_rescore, dtype=numpy.int64)
        forced: List[int] = []
        forced_scores: List[float] = []
        fuzzy_list: List[bool] = []
        exact, by_word_order = self.exact, self.by_word_order
        for key in keys:
            hit = exact.get(key)
            score = 1.0
            if hit is None and cfg.word_order and " " in key:
                hit = by_word_order.get(sorted_key(key))
                score = cfg.word_order_score
            forced.append(-1 if hit is None else hit)
            forced_scores.append(0.0 if hit is None else score)
            fuzzy_list.append(cfg.fuzzy and (cfg.fuzzy_when_exact or hit is None))
        forced_key = numpy.asarray(forced, dtype=numpy.int64)
        forced_score = numpy.asarray(forced_scores, dtype=numpy.float32)
        forced_exact = numpy.asarray([key in exact for key in keys], dtype=numpy.bool_)
        fuzzy = numpy.asarray(fuzzy_list, dtype=numpy.bool_)
        typo_keys = numpy.full((n, 8), -1, dtype=numpy.int32)
        if self._typo is not None:
            typo_keys = self._typo.neighbours(
                [key if f and hit < 0 else "" for key, f, hit in zip(keys, fuzzy_list, forced)]
            )
        # Behind an exact match, or a typo neighbour (one edit away is as good
        # as a fuzzy match gets), the n-gram search only fills the list: a
        # tenth of the budget, strictly, only the keys expanded rescored.
        strict = fuzzy & ((forced_key >= 0) | (typo_keys[:, 0] >= 0))
        budget[strict], min_grams[strict], rescore[strict] = self._strict_params()[0], 0, int(cfg.n_keys)
        # The neighbour table holds what that search finds for each key with
        # the settings it was built with: such rows need no vector.
        from_table = numpy.zeros(n, dtype=numpy.bool_)
        if self.neighbours is not None and self._neighbour_params == self._strict_params():
            from_table = fuzzy & forced_exact
        has_numbers = fuzzy & numpy.fromiter(
            (bool(cfg.number_penalty and _HAS_DIGIT_RE.search(key)) for key in keys), dtype=numpy.bool_, count=n
        )
        filtered = numpy.asarray([self._overflow_types and t is not None for t in types], dtype=numpy.bool_)
        # Over-fetch where the number check may reorder candidates or the
        # exact type check may drop some.
        k_fetch = 4 * k if filtered.any() else 2 * k
        q_k = numpy.where(has_numbers | filtered, k_fetch, k).astype(numpy.int64)
        nb = self.neighbours if self.neighbours is not None else _NO_NEIGHBOURS
        limits = _kernels.Limits(n_rescore, int(cfg.n_keys), MAX_FUZZY, numpy.uint64(_ALL_BITS))
        allowed = numpy.asarray(bits, dtype=numpy.uint64)

        def rank(rows: numpy.ndarray, table: numpy.ndarray) -> _kernels.Ranked:
            search = (fuzzy[rows] & ~table).tolist()
            vectors = self.tfidf.transform([keys[i] if f else "" for i, f in zip(rows.tolist(), search)])
            q = _kernels.Queries(
                *vectors, budget[rows], min_grams[rows], rescore[rows], forced_key[rows], forced_score[rows],
                allowed[rows], q_k[rows], typo_keys[rows], table,
            )
            m = len(rows)
            out = _kernels.Ranked(
                numpy.empty((m, k_fetch), dtype=numpy.int64), numpy.empty((m, k_fetch), dtype=numpy.float32),
                numpy.empty((m, k_fetch), dtype=numpy.int64), numpy.empty((m, k_fetch), dtype=numpy.int64),
                numpy.zeros(m, dtype=numpy.bool_),
            )
            if m:
                _kernels.rank(q, self.postings, self.key_table, nb, self.scratch, limits, out)
            return out

        out = rank(numpy.arange(n), from_table)
        # Rows the stored neighbours did not settle: searched.
        unsettled = numpy.flatnonzero(out.unsettled)
        if len(unsettled):
            again = rank(unsettled, numpy.zeros(len(unsettled), dtype=numpy.bool_))
            for whole, part in zip(out[:4], again[:4]):
                whole[unsettled] = part
        c_ent, c_pair, c_key, cosine = out.ent, out.pair, out.key, out.score
        # Types past the 63 with a bit of their own share the last bit: checked here.
        for i in numpy.flatnonzero(filtered).tolist():
            allowed_i: Set[str] = types[i]  # type: ignore[assignment]
            keep = numpy.asarray([e >= 0 and not allowed_i.isdisjoint(self.kb.types[e]) for e in c_ent[i].tolist()])
            for arr in (c_ent, c_pair, c_key, cosine):
                arr[i] = _compact(arr[i], keep)
        valid = c_ent >= 0
        data = numpy.zeros((n, k_fetch, N_COLUMNS), dtype=numpy.float64)
        data[:, :, 0], data[:, :, 1], data[:, :, 2] = c_ent, c_pair, c_key
        f = data[:, :, 4:]
        forced = valid & (c_key == forced_key[:, None])
        f[..., EXACT] = forced & forced_exact[:, None]
        f[..., WORD_ORDER] = forced & ~forced_exact[:, None]
        f[..., COSINE] = numpy.where(forced, 1.0, cosine)
        f[..., TYPO] = valid & (c_key[:, :, None] == typo_keys[:, None, :]).any(axis=2)
        f[..., PRIOR_COUNT] = numpy.where(valid, self.key_table.pair_counts[c_pair], 0)
        # Filled where the rule-based score reads them: rows with numbers
        # whose best candidate is no exact match.
        for i in numpy.flatnonzero(has_numbers & (cosine[:, 0] < 1.0)).tolist():
            self._number_features(numbers(keys[i]), c_key[i], f[i])
        scores = rule_scores(f, cfg.word_order_score, cfg.number_penalty)
        # Ties keep the kernel's order (prior count, then entity row).
        order = numpy.argsort(numpy.where(valid, -scores, numpy.inf), axis=1, kind="stable")
        data[:, :, 3] = scores
        data = numpy.take_along_axis(data, order[:, :, None], axis=1)[:, :k]
        data[~(data[:, :, 0] >= 0)] = empty_rows(1, 1)[0, 0]
        return data

    def _number_features(self, q_numbers: frozenset, keys: numpy.ndarray, f: numpy.ndarray) -> None:
        """Fill the number features of one row (keys: the key of each candidate)."""
        identifiers = [x for x in q_numbers if not x[0].isdigit()]
        for j, key in enumerate(keys.tolist()):
            if key < 0:
                break
            a_numbers = self._key_numbers.get(key)
            if a_numbers is None:
                a_numbers = self._key_numbers[key] = numbers(self.keys[key])
            f[j, NUMBERS_DIFFER] = bool(a_numbers) and a_numbers.isdisjoint(q_numbers)
            f[j, NUMBERS_MISSING] = not a_numbers
            f[j, IDENTIFIER_MISSING] = any(x not in a_numbers for x in identifiers)

    # Serialization

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The index (without the KB) as msgpack-serializable data."""
        data: Dict[str, Any] = {
            "normalization": self.normalization.to_dict(),
            "config": self.config.to_dict(),
            "keys": self.keys,
            "vocab": list(self.tfidf.vocab),
            "key_ptr": self.key_table.key_ptr,
            "key_pairs": self.key_table.key_pairs,
            "idf": self.tfidf.idf,
            "row_ptr": self.rows.ptr,
            "row_cols": self.rows.cols,
            "row_vals": self.rows.vals,
        }
        if self.neighbours is not None:
            data["neighbour_params"] = list(self._neighbour_params)
            data.update(zip(self._NEIGHBOUR_ARRAYS, self.neighbours))
        return data

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
        normalization = dict(data["normalization"])
        # Saved before singular_words was a setting: the words then built in.
        normalization.setdefault("singular_words", list(LEGACY_SINGULAR_WORDS))
        try:
            norm_cfg = NormalizationConfig.from_dict(normalization)
        except (TypeError, ValueError) as err:
            raise ModelDataError(f"entity_normalizer: invalid settings in {where('normalization')}: {err}. {FIX}") from None
        try:
            config = IndexConfig.from_dict(data["config"])
        except (TypeError, ValueError) as err:
            raise ModelDataError(f"entity_normalizer: invalid settings in {where('config')}: {err}. {FIX}") from None
        tfidf = CharTfidf(config.ngram_sizes)
        tfidf.set_vocab(data["vocab"], data["idf"], len(data["keys"]))
        rows = CSR(data["row_ptr"], data["row_cols"], data["row_vals"])
        neighbours = None
        # Indexes saved without a neighbour table search behind exact matches.
        if "neighbour_params" in data:
            nb = _kernels.Neighbours(*(data[name] for name in cls._NEIGHBOUR_ARRAYS))
            neighbours = (nb, (int(data["neighbour_params"][0]), int(data["neighbour_params"][1])))
        return cls(kb, norm_cfg, config, data["keys"], (data["key_ptr"], data["key_pairs"]), tfidf, rows, neighbours)

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


_NO_NEIGHBOURS = _kernels.Neighbours(
    numpy.full((1, 1), -1, dtype=numpy.int32), numpy.zeros((1, 1), dtype=numpy.float32), numpy.zeros(1, dtype=numpy.bool_)
)


def _compact(row: numpy.ndarray, keep: numpy.ndarray) -> numpy.ndarray:
    """The kept entries of a row first, -1 after."""
    out = numpy.full_like(row, -1)
    kept = row[keep.astype(numpy.bool_)]
    out[: len(kept)] = kept
    return out


def _object_array(strings: Sequence[str]) -> numpy.ndarray:
    """A 1-d numpy array of object references to the strings."""
    out = numpy.empty(len(strings), dtype=object)
    out[:] = strings
    return out
