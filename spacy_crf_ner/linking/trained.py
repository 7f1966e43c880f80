"""The trained mode's state and machinery of the ``entity_normalizer``: the
embeddings of the KB's aliases under the current encoder (recomputed when the
encoder changed), the candidate joiner over them and, in training, the joiner
over the KB without the aliases harvested from the training data; the
model's input for a batch of mentions, their ranking, and the loss.
See docs/design/learned-normalizer.md.
"""
import random
from typing import Any, Callable, Iterable, List, Optional, Sequence, Set, Tuple

import numpy
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import Model

from ..kb.index import CandidateIndex
from .alias_embeddings import AliasEmbeddings
from .candidates import FROM_DENSE, FROM_SPARSE, CandidateJoiner, JoinedCandidates
from .ranker import RankerInput, RankerOutput

# A mention's candidates, best first, as (id, score, alias) tuples.
Candidates = Tuple[Tuple[str, float, str], ...]


class TrainedRanking:
    """The alias embeddings of one KB and the candidate joiners over them.

    The model and the candidate index are the component's and given to each
    method; :meth:`reset` forgets what was computed for a former KB.
    """

    def __init__(self) -> None:
        """Initialize without embeddings."""
        # The KB's alias embeddings, whether the encoder changed since they
        # were computed, and the candidate joiner over them.
        self.alias_embeddings: Optional[AliasEmbeddings] = None
        self.stale = False
        self.joiner: Optional[CandidateJoiner] = None
        # In training: the index of the KB without harvested aliases, and its joiner.
        self.harvest_free: Optional[Tuple[CandidateIndex, Optional[CandidateJoiner]]] = None

    def reset(self) -> None:
        """Forget the embeddings and joiners (the KB changed): the embeddings
        are computed when next needed."""
        self.alias_embeddings = None
        self.joiner = None
        self.harvest_free = None

    def set_embeddings(self, embeddings: AliasEmbeddings) -> None:
        """Use embeddings read from a saved pipeline.

        embeddings (AliasEmbeddings): The embeddings of the KB's aliases.
        """
        self.alias_embeddings, self.stale, self.joiner = embeddings, False, None

    def rebuild(self, model: Model, index: CandidateIndex, *, progress: bool = False) -> None:
        """Compute the embeddings of every KB alias with the current encoder.

        model (Model): The candidate ranker.
        index (CandidateIndex): The candidate index of the KB.
        progress (bool): Show a progress bar.
        """
        self.alias_embeddings = AliasEmbeddings.build(model.get_ref("encoder"), index.kb.alias_texts, progress=progress)
        self.stale = False
        self.joiner = None

    def current_embeddings(self, model: Model, index: Optional[CandidateIndex]) -> Optional[AliasEmbeddings]:
        """The alias embeddings to save: recomputed if the encoder changed since.

        model (Model): The candidate ranker.
        index (Optional[CandidateIndex]): The candidate index, None if no KB is set.
        RETURNS (Optional[AliasEmbeddings]): The embeddings, None if never computed.
        """
        if index is not None and self.stale:
            self.rebuild(model, index)
        return self.alias_embeddings

    def require_joiner(self, model: Model, index: CandidateIndex, current: bool = True) -> CandidateJoiner:
        """The candidate joiner over the alias embeddings, recomputed if the
        encoder changed since (``current``); in training, the dense candidates
        come from the embeddings of the last evaluation or initialization."""
        if self.alias_embeddings is None or (current and self.stale):
            self.rebuild(model, index)
        if self.joiner is None:
            assert self.alias_embeddings is not None
            self.joiner = CandidateJoiner(index, self.alias_embeddings)
        return self.joiner

    def ranker_input(
        self,
        model: Model,
        index: CandidateIndex,
        docs: Sequence[Doc],
        spans: numpy.ndarray,
        mentions: List[str],
        allowed: Sequence[Optional[Set[str]]],
        golds: Optional[Sequence[str]] = None,
        joiner: Optional[CandidateJoiner] = None,
    ) -> Tuple[RankerInput, JoinedCandidates]:
        """The model's input for these mentions: their joined candidates; the
        candidates' alias texts (training, ``golds`` given) or stored vectors."""
        if joiner is None:
            joiner = self.require_joiner(model, index, current=golds is None)
        vectors = model.ops.to_numpy(model.get_ref("encoder").predict(mentions)) if mentions else None
        joined = joiner.join(
            mentions, allowed, vectors if vectors is not None else numpy.zeros((0, 1), dtype=numpy.float32),
            model.attrs["sparse_k"], model.attrs["dense_k"], golds,
        )
        distinct, inverse = numpy.unique(numpy.maximum(joined.pairs, 0), return_inverse=True)
        alias_index = numpy.where(joined.mask, inverse.reshape(joined.pairs.shape), -1)
        texts = joiner.index.kb.alias_texts
        X = RankerInput(
            docs=list(docs),
            spans=spans,
            mentions=mentions,
            features=joined.features,
            mask=joined.mask,
            alias_index=alias_index,
            alias_texts=[texts[p] for p in distinct.tolist()] if golds is not None else None,
            alias_vectors=None if golds is not None else joiner.embeddings.vectors[distinct],
        )
        return X, joined

    def rank(
        self,
        model: Model,
        index: CandidateIndex,
        docs: Sequence[Doc],
        mentions: List[str],
        allowed: List[Optional[Set[str]]],
        top_k: int,
    ) -> List[Candidates]:
        """Per mention (the entities of the docs), its candidates ranked by the
        model, best first, scored by probability."""
        if not mentions:
            return []
        spans = numpy.asarray(
            [(i, ent.start, ent.end) for i, doc in enumerate(docs) for ent in doc.ents], dtype=numpy.int64
        ).reshape((-1, 3))
        X, joined = self.ranker_input(model, index, docs, spans, mentions, allowed)
        probs = softmax(model.ops.to_numpy(model.predict(X).scores), joined.mask)
        kb = index.kb
        mask = joined.mask
        results: List[Candidates] = []
        for i in range(len(mentions)):
            order = [j for j in numpy.argsort(-probs[i], kind="stable").tolist() if mask[i, j]][:top_k]
            results.append(
                tuple(
                    (kb.ids[joined.entities[i, j]], round(float(probs[i, j]), 6), kb.alias_texts[joined.pairs[i, j]])
                    for j in order
                )
            )
        return results

    def training_batch(
        self,
        model: Model,
        index: CandidateIndex,
        docs: Sequence[Doc],
        ents_of_docs: Sequence[Sequence[Span]],
        mentions: List[str],
        allowed: Sequence[Optional[Set[str]]],
        golds: Sequence[str],
    ) -> Tuple[RankerInput, numpy.ndarray]:
        """The model's input for the gold entities (from :func:`gold_entities`)
        and each one's gold column."""
        spans = numpy.asarray(
            [(i, ent.start, ent.end) for i, ents in enumerate(ents_of_docs) for ent in ents], dtype=numpy.int64
        ).reshape((-1, 3))
        X, joined = self.ranker_input(model, index, docs, spans, mentions, allowed, golds, self.training_joiner(model, index))
        return X, joined.gold

    def training_joiner(self, model: Model, index: CandidateIndex) -> Optional[CandidateJoiner]:
        """For half of the training batches, the candidates of the KB without
        the aliases harvested from the training data: there, every training
        mention is an exact alias of its gold ID, which mentions of new text
        are not, and a ranker trained only on that would learn to trust exact
        matches more than it should. None: the full KB's."""
        if self.harvest_free is None or random.random() >= 0.5:
            return None
        embeddings = self.require_joiner(model, index, current=False).embeddings
        free_index, joiner = self.harvest_free
        if joiner is None or joiner.embeddings.vectors.base is not embeddings.vectors:
            joiner = CandidateJoiner(free_index, embeddings.prefix(free_index.kb.n_aliases))
            self.harvest_free = (free_index, joiner)
        return joiner


def initialize_model(model: Model, get_examples: Callable[[], Iterable[Example]], name: str) -> None:
    """Initialize the candidate ranker on a sample of the training examples.

    model (Model): The candidate ranker.
    get_examples (Callable[[], Iterable[Example]]): The training examples.
    name (str): The component's name, for errors.
    RAISES (ValueError): If no example has a reference entity with a ``kb_id``.
    """
    sample: List[Example] = []
    for eg in get_examples():
        if any(ent.kb_id_ for ent in eg.reference.ents):
            sample.append(eg)
        if len(sample) >= 10:
            break
    if not sample:
        raise ValueError(
            f"entity_normalizer '{name}': a trainable normalizer (model set) needs training "
            "examples whose reference entities have a kb_id; none of the examples has one. Annotate "
            f"kb_id on the entities of the training data, or set [components.{name}] model = null."
        )
    docs = [eg.predicted for eg in sample]
    mentions = [ent.text for eg in sample for ent in eg.reference.ents if ent.kb_id_]
    model.initialize(
        X=RankerInput(
            docs=docs,
            spans=numpy.zeros((0, 3), dtype=numpy.int64),
            mentions=mentions,
            features=numpy.zeros((0, 0, 0), dtype=numpy.float32),
            mask=numpy.zeros((0, 0), dtype=bool),
            alias_index=numpy.zeros((0, 0), dtype=numpy.int64),
        )
    )


def gold_entities(examples: Sequence[Example]) -> Tuple[List[Doc], List[List[Span]], List[str]]:
    """The reference entities with a gold ``kb_id``, as spans of the predicted docs.

    examples (Sequence[Example]): The batch.
    RETURNS (Tuple[List[Doc], List[List[Span]], List[str]]): The predicted docs,
        their gold entities per doc, and the gold IDs of all, in order.
    """
    docs = [eg.predicted for eg in examples]
    ents_of_docs: List[List[Span]] = []
    golds: List[str] = []
    for eg in examples:
        ents = []
        for ent in eg.reference.ents:
            if not ent.kb_id_:
                continue  # partial annotation: no gold ID, no training signal
            span = eg.predicted.char_span(ent.start_char, ent.end_char, label=ent.label_)
            if span is None:
                continue  # not on token boundaries of the predicted doc
            ents.append(span)
            golds.append(ent.kb_id_)
        ents_of_docs.append(ents)
    return docs, ents_of_docs, golds


def ranking_loss(ops: Any, scores: RankerOutput, gold: numpy.ndarray, inputs: RankerInput) -> Tuple[float, RankerOutput]:
    """The softmax cross-entropy of the gold candidate of each mention, plus,
    in training, that of the gold alias among the batch's candidate aliases.

    ops (Ops): The model's ops.
    scores (RankerOutput): The model's output.
    gold (numpy.ndarray): Gold column per mention (all >= 0).
    inputs (RankerInput): The model's input.
    RETURNS (Tuple[float, RankerOutput]): The loss and its gradient.
    """
    n = max(len(gold), 1)
    rows = numpy.arange(len(gold))
    probs = softmax(ops.to_numpy(scores.scores), inputs.mask)
    # A gold candidate that neither search found was added for the retrieval
    # term; ranking it would teach the scorer that candidates from no search
    # are right, which never happens at prediction time.
    found = inputs.features[rows, gold][:, [FROM_SPARSE, FROM_DENSE]].any(axis=1)
    loss = float(-numpy.log(probs[rows, gold] + 1e-12)[found].sum() / n)
    d_scores = probs
    d_scores[rows, gold] -= 1.0
    d_scores[~found] = 0.0
    d_retrieval = None
    if scores.retrieval is not None:
        r_probs = softmax(ops.to_numpy(scores.retrieval), None)
        targets = inputs.alias_index[rows, gold]
        loss += float(-numpy.log(r_probs[rows, targets] + 1e-12).sum() / n)
        r_probs[rows, targets] -= 1.0
        d_retrieval = ops.asarray2f(r_probs / n)
    return loss, RankerOutput(ops.asarray2f(d_scores / n), d_retrieval)


def softmax(scores: numpy.ndarray, mask: Optional[numpy.ndarray]) -> numpy.ndarray:
    """Row-wise softmax; entries outside ``mask`` get probability 0."""
    scores = numpy.asarray(scores, dtype=numpy.float64)
    if mask is not None:
        scores = numpy.where(mask, scores, -numpy.inf)
    if scores.shape[1] == 0:
        return scores
    top = scores.max(axis=1, keepdims=True)
    top[~numpy.isfinite(top)] = 0.0
    exp = numpy.exp(scores - top)
    return exp / numpy.maximum(exp.sum(axis=1, keepdims=True), 1e-300)


def select_rows(X: RankerInput, keep: numpy.ndarray) -> RankerInput:
    """The model input for the mentions where ``keep`` is True (all docs stay:
    a listener needs the batch it was given)."""
    return X._replace(
        spans=X.spans[keep],
        mentions=[m for m, k in zip(X.mentions, keep.tolist()) if k],
        features=X.features[keep],
        mask=X.mask[keep],
        alias_index=X.alias_index[keep],
    )
