"""Candidates of a batch of mentions as arrays: the entities, the alias each
came through, the string evidence behind it (the features) and the
rule-based score, one function of the features (:func:`rule_scores`).

A scorer that learns from annotated data reads the same features
(:attr:`CandidateBatch.features`, columns named by :data:`FEATURES`).
"""
from itertools import islice
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy

# The string evidence per candidate, columns of CandidateBatch.features.
FEATURES = (
    # TF-IDF cosine of the mention and the alias's normal form (1 for exact and
    # word-order matches, whose n-gram sets are the mention's; fuzzy ones are
    # capped at MAX_FUZZY).
    "cosine",
    # The normal forms are equal.
    "exact",
    # The normal forms have the same words in another order.
    "word_order",
    # The alias is one edit away from the mention (typo index).
    "typo",
    # The (alias, entity) pair's count in the KB plus the training data: a prior.
    "prior_count",
    # Number agreement, filled in rows whose best candidate is no exact match
    # (where the rule-based score reads it); 0 elsewhere.
    # Both have numbers and they share none ("type 1" vs "type 2").
    "numbers_differ",
    # The mention has numbers, the alias none.
    "numbers_missing",
    # An identifier of the mention ("c7", "brca1") is missing from the alias.
    "identifier_missing",
)
COSINE, EXACT, WORD_ORDER, TYPO, PRIOR_COUNT, NUMBERS_DIFFER, NUMBERS_MISSING, IDENTIFIER_MISSING = range(
    len(FEATURES)
)
# Fuzzy scores stay below an exact match's 1.0.
MAX_FUZZY = 0.999
# Columns of CandidateBatch.data before the features.
ENTITY, PAIR, KEY, SCORE = range(4)
N_COLUMNS = 4 + len(FEATURES)


# A mention's candidates as plain (id, score, alias) tuples, best first.
PlainCandidates = Tuple[Tuple[str, float, str], ...]


class Candidate(NamedTuple):
    """One candidate entity for a mention."""

    id: str
    score: float
    alias: str


def rule_scores(features: numpy.ndarray, word_order_score: float, number_penalty: float) -> numpy.ndarray:
    """The rule-based score of candidates: 1 for an exact match, the
    word-order score for a word-order match, else the cosine; scores below 1
    are lowered by ``number_penalty`` when the numbers disagree, in rows
    whose first candidate scores below 1 (a mention with an exact match keeps
    its order).

    features (numpy.ndarray): (n, k, len(FEATURES)), best first in each row
        (by the search's order).
    word_order_score (float): Score of a word-order match.
    number_penalty (float): See :class:`~spacy_crf_ner.kb.index.IndexConfig`.
    RETURNS (numpy.ndarray): (n, k) float64 scores, rounded to 6 decimals.
    """
    f = features
    score = numpy.where(
        f[..., EXACT] > 0, 1.0, numpy.where(f[..., WORD_ORDER] > 0, word_order_score, f[..., COSINE])
    )
    score = numpy.round(score.astype(numpy.float32).astype(numpy.float64), 6)
    if number_penalty and f.shape[1]:
        penalized = (score < 1.0) & (score[:, :1] < 1.0)
        factor = numpy.where(f[..., NUMBERS_DIFFER] > 0, 1.0 - number_penalty, 1.0)
        factor = numpy.where(f[..., NUMBERS_MISSING] > 0, 1.0 - number_penalty / 2, factor)
        factor = numpy.where(f[..., IDENTIFIER_MISSING] > 0, factor * (1.0 - number_penalty), factor)
        score = numpy.where(penalized, numpy.round(score * factor, 6), score)
    return score


class CandidateBatch:
    """The candidates of a batch of mentions, best first: row i holds mention
    i's, -1 padded where it has fewer than k.

    data (Union[numpy.ndarray, Callable[[], numpy.ndarray]]): (n, k, 4 +
        len(FEATURES)) float64: entity row, pair row, key row, score, then the
        features; or a function that assembles them when first asked for.
    keys (List[str]): The normal form of each mention.
    ids (numpy.ndarray): The KB's entity IDs by row (object array).
    aliases (numpy.ndarray): The KB's alias texts by pair row (object array).
    rows (Optional[List[Tuple[Tuple[str, float, str], ...]]]): The rows as
        plain tuples, if known (the index's result cache keeps them).
    """

    def __init__(
        self,
        data: Union[numpy.ndarray, Callable[[], numpy.ndarray]],
        keys: List[str],
        ids: numpy.ndarray,
        aliases: numpy.ndarray,
        rows: Optional[List[PlainCandidates]] = None,
    ) -> None:
        self._data = data
        self.keys = keys
        self._ids = ids
        self._aliases = aliases
        self._rows = rows

    @property
    def data(self) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): (n, k, 4 + len(FEATURES)) candidate data, float64."""
        if not isinstance(self._data, numpy.ndarray):
            self._data = self._data()
        return self._data

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def entities(self) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): (n, k) KB entity rows, -1 padded (int64)."""
        return self.data[:, :, ENTITY].astype(numpy.int64)

    @property
    def pairs(self) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): (n, k) (alias, entity) pair rows each came through, -1 padded."""
        return self.data[:, :, PAIR].astype(numpy.int64)

    @property
    def scores(self) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): (n, k) rule-based scores (0 where padded)."""
        return self.data[:, :, SCORE]

    @property
    def features(self) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): (n, k, len(FEATURES)) string evidence, columns as FEATURES."""
        return self.data[:, :, 4:]

    def rows(self) -> List[PlainCandidates]:
        """RETURNS (List[Tuple[Tuple[str, float, str], ...]]): Per mention, its
        candidates best first as plain (id, score, alias) tuples."""
        if self._rows is None:
            self._rows = plain_rows(self.data, self._ids, self._aliases)
        return self._rows

    def to_lists(self) -> List[List[Candidate]]:
        """RETURNS (List[List[Candidate]]): Per mention, (id, score, alias) best first."""
        return [[Candidate(*c) for c in row] for row in self.rows()]

    def candidates(self, i: int) -> List[Candidate]:
        """i (int): A mention's row.
        RETURNS (List[Candidate]): Its candidates, best first.
        """
        row = self.data[i]
        row = row[row[:, ENTITY] >= 0]
        return [
            Candidate(self._ids[int(e)], float(s), self._aliases[int(p)])
            for e, p, s in zip(row[:, ENTITY], row[:, PAIR], row[:, SCORE])
        ]

    def feature_dict(self, i: int) -> List[Dict[str, Any]]:
        """i (int): A mention's row.
        RETURNS (List[Dict[str, Any]]): Its candidates' features by name (for inspection).
        """
        return [
            dict(zip(FEATURES, f.tolist()))
            for f, e in zip(self.data[i, :, 4:], self.data[i, :, ENTITY])
            if e >= 0
        ]


def plain_rows(data: numpy.ndarray, ids: numpy.ndarray, aliases: numpy.ndarray) -> List[PlainCandidates]:
    """Rows of candidate data as plain (id, score, alias) tuples.

    data (numpy.ndarray): (n, k, N_COLUMNS) rows, as CandidateBatch.data.
    ids (numpy.ndarray): The KB's entity IDs by row (object array).
    aliases (numpy.ndarray): The KB's alias texts by pair row (object array).
    RETURNS (List[Tuple[Tuple[str, float, str], ...]]): Per row, its candidates.
    """
    ents = data[:, :, ENTITY].astype(numpy.int64)
    valid = ents >= 0
    # One bulk lookup per column: a batch has thousands of candidates.
    flat = iter(
        list(
            zip(
                ids[ents[valid]].tolist(),
                data[:, :, SCORE][valid].tolist(),
                aliases[data[:, :, PAIR][valid].astype(numpy.int64)].tolist(),
            )
        )
    )
    return [tuple(islice(flat, c)) for c in valid.sum(axis=1).tolist()]


def empty_rows(n: int, k: int) -> numpy.ndarray:
    """RETURNS (numpy.ndarray): (n, k, N_COLUMNS) rows with no candidate."""
    data = numpy.zeros((n, k, N_COLUMNS), dtype=numpy.float64)
    data[:, :, ENTITY] = data[:, :, PAIR] = data[:, :, KEY] = -1
    return data
