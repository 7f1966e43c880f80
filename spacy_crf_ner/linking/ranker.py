"""``spacy-crf-ner.CandidateRanker.v1``: the model of the trainable
``entity_normalizer``.

Per mention and candidate, one score from

* the string features of the candidate (:data:`.candidates.JOINED_FEATURES`);
* the dense similarity of the mention and the candidate's alias, both embedded
  by the string encoder (:mod:`.encoder`);
* the fit of the mention's context to the candidate's alias: the pipeline's
  token vectors (a tok2vec, or a listener on a shared tok2vec or
  transformer) averaged over the mention and over its document, projected to
  the encoder's width, dot the alias vector;

combined by a small MLP plus a linear term. The scores of a mention's
candidates are trained with a softmax (so a probability comes out, and NIL is
a threshold on it); in training the encoder also learns, by a softmax of each
mention against all candidate aliases of the batch, to put the mention next
to its gold alias (which is what the dense search needs).

The candidates' alias vectors come from the encoder in training (so it
learns), and from the stored alias embeddings when predicting (fast).
Everything runs on ``model.ops``: numpy on CPU, cupy on GPU.
"""
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import Linear, Model, Relu, add, chain
from thinc.types import Floats2d

from .candidates import N_JOINED
from .encoder import build_string_encoder

# Scale of the in-batch retrieval softmax over cosines.
RETRIEVAL_SCALE = 20.0


class RankerInput(NamedTuple):
    """A batch of mentions and their candidates."""

    docs: List[Doc]
    spans: numpy.ndarray  # (n, 3) int: doc position, start token, end token
    mentions: List[str]  # the mention texts
    features: numpy.ndarray  # (n, K, N_JOINED) float32
    mask: numpy.ndarray  # (n, K) bool
    alias_index: numpy.ndarray  # (n, K) rows of alias_texts / alias_vectors, -1 pad
    alias_texts: Optional[List[str]] = None  # distinct candidate aliases, encoded here (training)
    alias_vectors: Optional[numpy.ndarray] = None  # or their stored vectors (prediction)


class RankerOutput(NamedTuple):
    """Scores of a batch."""

    scores: Floats2d  # (n, K) candidate scores (logits; padding unmasked)
    retrieval: Optional[Floats2d]  # (n, u) mention x candidate-alias logits (training only)


def build_candidate_ranker(
    tok2vec: Model[List[Doc], List[Floats2d]],
    width: int = 128,
    n_buckets: int = 100_000,
    ngram_sizes: List[int] = [3, 4],
    hidden_width: int = 32,
    sparse_k: int = 10,
    dense_k: int = 10,
) -> Model[RankerInput, RankerOutput]:
    """The candidate ranker (see the module docstring).

    tok2vec (Model[List[Doc], List[Floats2d]]): The token encoder of the context.
    width (int): Width of the string encoder's vectors (and of the alias embeddings).
    n_buckets (int): Rows of the string encoder's hashed embedding table.
    ngram_sizes (List[int]): Character n-gram lengths of the string encoder.
    hidden_width (int): Hidden width of the scorer over the features.
    sparse_k (int): Candidates per mention from the string index.
    dense_k (int): Candidates per mention from the alias embeddings.
    RETURNS (Model[RankerInput, RankerOutput]): The model.
    """
    for name, value in (("sparse_k", sparse_k), ("dense_k", dense_k)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"spacy-crf-ner.CandidateRanker.v1: {name} must be an integer >= 0, not {value!r}.")
    if sparse_k + dense_k < 1:
        raise ValueError("spacy-crf-ner.CandidateRanker.v1: sparse_k + dense_k must be at least 1; set sparse_k = 10.")
    encoder = build_string_encoder(width, n_buckets, ngram_sizes)
    context = Linear(nO=width)
    n_inputs = N_JOINED + 2
    scorer = add(chain(Relu(nO=hidden_width, nI=n_inputs), Linear(nO=1, nI=hidden_width)), Linear(nO=1, nI=n_inputs))
    model: Model[RankerInput, RankerOutput] = Model(
        "candidate_ranker",
        _forward,
        init=_init,
        layers=[tok2vec, encoder, context, scorer],
        refs={"tok2vec": tok2vec, "encoder": encoder, "context": context, "scorer": scorer},
        attrs={"sparse_k": sparse_k, "dense_k": dense_k},
        dims={"nO": width},
    )
    return model


def _init(model: Model, X: Optional[RankerInput] = None, Y: Any = None) -> None:
    tok2vec, encoder, context, scorer = (model.get_ref(n) for n in ("tok2vec", "encoder", "context", "scorer"))
    docs = X.docs if X is not None else None
    tok2vec.initialize(X=docs)
    encoder.initialize(X=(X.mentions or ["a"]) if X is not None else ["a"])
    if not context.has_dim("nI") or context.get_dim("nI") is None:
        if tok2vec.has_dim("nO") and tok2vec.get_dim("nO"):
            context.set_dim("nI", 2 * tok2vec.get_dim("nO"))
        elif docs:
            context.set_dim("nI", 2 * tok2vec.predict(docs[:1])[0].shape[1])
        else:
            raise ValueError(
                "entity_normalizer: cannot infer the width of the tok2vec's output: give it nO, "
                "or initialize the component with training examples."
            )
    context.initialize()
    scorer.initialize()


def _context_features(model: Model, tokvecs: List[Floats2d], spans: numpy.ndarray) -> Tuple[Floats2d, Callable]:
    """Mean token vector of each mention and of its document, concatenated."""
    ops: Any = model.ops
    width = tokvecs[0].shape[1] if tokvecs else 0
    n = spans.shape[0]
    out = ops.alloc2f(n, 2 * width)
    doc_means = [tv.mean(axis=0) if tv.shape[0] else ops.alloc1f(width) for tv in tokvecs]
    for i, (d, s, e) in enumerate(spans.tolist()):
        out[i, :width] = tokvecs[d][s:e].mean(axis=0)
        out[i, width:] = doc_means[d]

    def backprop(d_out: Floats2d) -> List[Floats2d]:
        d_tokvecs = [ops.alloc2f(*tv.shape) for tv in tokvecs]
        for i, (d, s, e) in enumerate(spans.tolist()):
            d_tokvecs[d][s:e] += d_out[i, :width] / (e - s)
            if tokvecs[d].shape[0]:
                d_tokvecs[d] += d_out[i, width:] / tokvecs[d].shape[0]
        return d_tokvecs

    return out, backprop


def _forward(model: Model, X: RankerInput, is_train: bool) -> Tuple[RankerOutput, Callable]:
    ops: Any = model.ops
    xp = ops.xp
    tok2vec, encoder, context, scorer = (model.get_ref(n) for n in ("tok2vec", "encoder", "context", "scorer"))
    n, k = X.mask.shape
    tokvecs, bp_tok2vec = tok2vec(X.docs, is_train)
    ctx_in, bp_ctx_in = _context_features(model, tokvecs, X.spans)
    ctx, bp_ctx = context(ctx_in, is_train)  # (n, D)
    mention_vecs, bp_mentions = encoder(X.mentions, is_train)  # (n, D)
    if X.alias_vectors is not None:
        unique = ops.asarray2f(X.alias_vectors.astype(numpy.float32))
        bp_unique: Optional[Callable] = None
    else:
        unique, bp_unique = encoder(X.alias_texts or [], is_train)
    index = ops.asarray(numpy.maximum(X.alias_index, 0))
    alias_vecs = unique[index.ravel()].reshape((n, k, -1)) if unique.shape[0] else ops.alloc3f(n, k, ctx.shape[1])
    dense = (mention_vecs[:, None, :] * alias_vecs).sum(axis=2)  # (n, K)
    fit = (ctx[:, None, :] * alias_vecs).sum(axis=2)  # (n, K)
    inputs = xp.concatenate(
        [ops.asarray3f(X.features), dense[:, :, None], fit[:, :, None]], axis=2
    ).reshape((n * k, -1))
    flat, bp_scorer = scorer(inputs, is_train)
    scores = flat.reshape((n, k))
    retrieval = None
    if is_train and X.alias_texts is not None:
        retrieval = RETRIEVAL_SCALE * (mention_vecs @ unique.T)

    def backprop(d_out: RankerOutput) -> RankerInput:
        d_inputs = bp_scorer(d_out.scores.reshape((n * k, 1))).reshape((n, k, -1))
        d_dense = d_inputs[:, :, -2]
        d_fit = d_inputs[:, :, -1]
        d_mentions = (d_dense[:, :, None] * alias_vecs).sum(axis=1)
        d_ctx = (d_fit[:, :, None] * alias_vecs).sum(axis=1)
        d_alias = d_dense[:, :, None] * mention_vecs[:, None, :] + d_fit[:, :, None] * ctx[:, None, :]
        d_alias *= ops.asarray(X.mask)[:, :, None]
        if bp_unique is not None:
            d_unique = ops.alloc2f(*unique.shape)
            ops.scatter_add(d_unique, index.ravel(), d_alias.reshape((n * k, -1)))
            if d_out.retrieval is not None:
                d_mentions += RETRIEVAL_SCALE * (d_out.retrieval @ unique)
                d_unique += RETRIEVAL_SCALE * (d_out.retrieval.T @ mention_vecs)
            bp_unique(d_unique)
        bp_mentions(d_mentions)
        bp_tok2vec(bp_ctx_in(bp_ctx(d_ctx)))
        return X

    return RankerOutput(scores, retrieval), backprop
