"""Settings of the candidate index (:class:`~spacy_crf_ner.kb.index.CandidateIndex`),
the component's ``index`` setting."""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Tuple

import numpy


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
