"""The candidates the ranker scores: the index's sparse top-k joined with the
dense top-k of the alias embeddings, one row per mention, each candidate an
entity with the pair (alias) it came through and its string features.

Feature columns (:data:`JOINED_FEATURES`): the index's
:data:`~spacy_crf_ner.kb.candidates.FEATURES` (prior count as log(1 + count)),
the index's rule-based score, and whether the candidate came from the sparse
search, from the dense search. Candidates only the dense search found get
the string evidence that is cheap to compute for one pair: TF-IDF cosine,
exact and word-order match, prior count.
In training the gold entity is added to a row that lacks it (through its
alias nearest to the mention), so that the retrieval loss has the gold alias;
such a candidate comes from neither search (both flags 0), and the ranking
loss leaves it out (see ``trained.ranking_loss``).
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Set

import numpy

from ..kb.candidates import COSINE, EXACT, FEATURES, PRIOR_COUNT, WORD_ORDER
from ..kb.ids import canonical_kb_id, ids_match, parse_kb_id
from ..kb.index import CandidateIndex
from ..kb.normalize import sorted_key
from .alias_embeddings import AliasEmbeddings

JOINED_FEATURES = (*FEATURES, "rule_score", "from_sparse", "from_dense")
N_JOINED = len(JOINED_FEATURES)
_RULE, FROM_SPARSE, FROM_DENSE = len(FEATURES), len(FEATURES) + 1, len(FEATURES) + 2


class JoinedCandidates(NamedTuple):
    """The candidates of a batch of mentions, -1 padded to the longest row."""

    entities: numpy.ndarray  # (n, K) int64 KB entity rows
    pairs: numpy.ndarray  # (n, K) int64 pair rows (the alias each came through)
    features: numpy.ndarray  # (n, K, N_JOINED) float32
    gold: numpy.ndarray  # (n,) int64: column of the gold candidate, -1 if none (or not asked)

    @property
    def mask(self) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): (n, K) bool, True where a candidate is."""
        return self.entities >= 0


class CandidateJoiner:
    """Joins sparse and dense candidates over one index and its alias embeddings.

    index (CandidateIndex): The candidate index (and its KB).
    embeddings (AliasEmbeddings): The KB's alias embeddings.
    """

    def __init__(self, index: CandidateIndex, embeddings: AliasEmbeddings) -> None:
        self.index = index
        self.embeddings = embeddings
        kb = index.kb
        entity_bits = index.key_table.entity_types
        self.pair_entities = numpy.asarray(kb.alias_entities, dtype=numpy.int64)
        self.pair_bits = entity_bits[self.pair_entities] if len(self.pair_entities) else numpy.zeros(0, numpy.uint64)
        self.pair_counts = numpy.asarray(kb.alias_counts, dtype=numpy.float32)
        order = numpy.argsort(self.pair_entities, kind="stable")
        bounds = numpy.searchsorted(self.pair_entities[order], numpy.arange(len(kb.ids) + 1))
        self._entity_pairs = (order, bounds)
        self._alias_keys: Dict[int, str] = {}

    def entity_pairs(self, entity: int) -> numpy.ndarray:
        """entity (int): A KB entity row.
        RETURNS (numpy.ndarray): Its pair rows.
        """
        order, bounds = self._entity_pairs
        return order[bounds[entity] : bounds[entity + 1]]

    def _alias_key(self, pair: int) -> str:
        key = self._alias_keys.get(pair)
        if key is None:
            key = self._alias_keys[pair] = self.index.normalizer(self.index.kb.alias_texts[pair])
        return key

    def join(
        self,
        mentions: Sequence[str],
        allowed: Sequence[Optional[Set[str]]],
        vectors: numpy.ndarray,
        sparse_k: int,
        dense_k: int,
        golds: Optional[Sequence[str]] = None,
    ) -> JoinedCandidates:
        """The joined candidates of a batch of mentions.

        mentions (Sequence[str]): The mention texts (abbreviations expanded).
        allowed (Sequence[Optional[Set[str]]]): Per mention, the allowed KB types.
        vectors (numpy.ndarray): (n, width) the mentions' encoder vectors.
        sparse_k (int): Candidates from the index.
        dense_k (int): Candidates from the alias embeddings (0: none).
        golds (Optional[Sequence[str]]): Gold IDs (training): each row gets its
            gold entity, added if missing; "" for none.
        RETURNS (JoinedCandidates): The candidates.
        """
        index = self.index
        n = len(mentions)
        batch = index.search(mentions, sparse_k, allowed)
        data = batch.data
        s_ents = data[:, :, 0].astype(numpy.int64)
        s_pairs = data[:, :, 1].astype(numpy.int64)
        s_feats = data[:, :, 4:].astype(numpy.float32)
        s_scores = data[:, :, 3].astype(numpy.float32)
        d_pairs = (
            self.embeddings.search(vectors, dense_k, [index.allowed_bits(a) for a in allowed], self.pair_bits)
            if dense_k > 0 and len(self.embeddings)
            else numpy.full((n, 0), -1, dtype=numpy.int64)
        )
        rows: List[List[int]] = []
        row_pairs: List[List[int]] = []
        row_feats: List[List[numpy.ndarray]] = []
        gold_cols = numpy.full(n, -1, dtype=numpy.int64)
        cosine_jobs: List[tuple] = []
        for i in range(n):
            ents: List[int] = []
            pairs: List[int] = []
            feats: List[numpy.ndarray] = []
            seen: Dict[int, int] = {}
            for e, p, f, s in zip(s_ents[i], s_pairs[i], s_feats[i], s_scores[i]):
                if e < 0:
                    break
                seen[int(e)] = len(ents)
                row = numpy.zeros(N_JOINED, dtype=numpy.float32)
                row[: len(FEATURES)] = f
                row[PRIOR_COUNT] = numpy.log1p(f[PRIOR_COUNT])
                row[_RULE] = s
                row[FROM_SPARSE] = 1.0
                ents.append(int(e))
                pairs.append(int(p))
                feats.append(row)
            extra = [int(p) for p in d_pairs[i] if p >= 0]
            for p in extra:
                e = int(self.pair_entities[p])
                col = seen.get(e)
                if col is not None:
                    feats[col][FROM_DENSE] = 1.0
                    continue
                seen[e] = len(ents)
                ents.append(e)
                pairs.append(p)
                row = numpy.zeros(N_JOINED, dtype=numpy.float32)
                row[FROM_DENSE] = 1.0
                feats.append(row)
                cosine_jobs.append((i, len(ents) - 1, p))
            if golds is not None and golds[i]:
                col = next((j for j, e in enumerate(ents) if ids_match(index.kb.ids[e], golds[i])), -1)
                if col < 0:
                    e = self._gold_entity(golds[i])
                    if e >= 0:
                        candidates = self.entity_pairs(e)
                        sims = self.embeddings.vectors[candidates] @ vectors[i] if len(self.embeddings) else None
                        p = int(candidates[int(numpy.argmax(sims))]) if sims is not None else int(candidates[0])
                        ents.append(e)
                        pairs.append(p)
                        feats.append(numpy.zeros(N_JOINED, dtype=numpy.float32))
                        col = len(ents) - 1
                        cosine_jobs.append((i, col, p))
                gold_cols[i] = col
            rows.append(ents)
            row_pairs.append(pairs)
            row_feats.append(feats)
        width = max((len(r) for r in rows), default=0)
        entities = numpy.full((n, width), -1, dtype=numpy.int64)
        pair_rows = numpy.full((n, width), -1, dtype=numpy.int64)
        features = numpy.zeros((n, width, N_JOINED), dtype=numpy.float32)
        for i, (ents, pairs, feats) in enumerate(zip(rows, row_pairs, row_feats)):
            entities[i, : len(ents)] = ents
            pair_rows[i, : len(pairs)] = pairs
            if feats:
                features[i, : len(feats)] = numpy.stack(feats)
        if cosine_jobs:
            self._string_evidence(batch.keys, cosine_jobs, features)
        return JoinedCandidates(entities, pair_rows, features, gold_cols)

    def _gold_entity(self, gold: str) -> int:
        """The KB row of a gold ID: the ID as written (canonical), else its first alternative in the KB."""
        kb = self.index.kb
        e = kb.index_of(canonical_kb_id(gold))
        if e >= 0:
            return e
        for alt in parse_kb_id(gold):
            e = kb.index_of("+".join(sorted(alt)))
            if e >= 0:
                return e
        return -1

    def _string_evidence(self, keys: Sequence[str], jobs: List[tuple], features: numpy.ndarray) -> None:
        """Fill cosine, exact, word order and prior count of candidates the index did not find."""
        tfidf = self.index.tfidf
        mention_keys = [keys[i] for i, _, _ in jobs]
        alias_keys = [self._alias_key(p) for _, _, p in jobs]
        a, b = tfidf.transform(mention_keys), tfidf.transform(alias_keys)
        for r, ((i, col, p), mk, ak) in enumerate(zip(jobs, mention_keys, alias_keys)):
            ra = dict(zip(a.cols[a.ptr[r] : a.ptr[r + 1]].tolist(), a.vals[a.ptr[r] : a.ptr[r + 1]].tolist()))
            cos = sum(ra.get(c, 0.0) * v for c, v in zip(b.cols[b.ptr[r] : b.ptr[r + 1]].tolist(), b.vals[b.ptr[r] : b.ptr[r + 1]].tolist()))
            exact = bool(mk) and mk == ak
            features[i, col, COSINE] = 1.0 if exact else min(cos, 0.999)
            features[i, col, EXACT] = float(exact)
            features[i, col, WORD_ORDER] = float(not exact and " " in mk and sorted_key(mk) == sorted_key(ak))
            features[i, col, PRIOR_COUNT] = numpy.log1p(self.pair_counts[p])
