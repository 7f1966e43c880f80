"""A linear-chain conditional random field as a Thinc layer.

Lafferty, McCallum & Pereira (2001), "Conditional Random Fields: Probabilistic
Models for Segmenting and Labeling Sequence Data". The layer holds a learned
transition matrix plus start and end scores over K tags; emission scores come
from the model below it. Given emissions x (T, K) for a sequence, the
probability of a tag path y is

    p(y | x) = exp(start[y_0] + sum_t x[t, y_t] + sum_t trans[y_{t-1}, y_t]
                   + end[y_{T-1}]) / Z(x)

The tag scheme's constraints (`schemes.allowed_transitions`) are added as
-inf to transitions, start and end before any computation, so they hold in the
likelihood and in Viterbi alike, and the masked entries never get a gradient.

The layer's forward pass is the identity on the emissions: what it adds is the
structured loss (`crf_loss`, exact negative log-likelihood by the forward
algorithm, whose gradient is marginals minus gold counts), decoding
(`crf_decode`, Viterbi) and the forward-backward pass behind the posteriors
(`posteriors.py`: token marginals and exact span probabilities). Missing gold tags (-1) are summed
over: the loss is log Z minus log Z constrained to the known tags, so partially
annotated sequences train without teaching "O".

On CPU the work runs in compiled kernels (`_kernels.py`); on GPU (cupy) the
same quantities are computed in log space with array operations, vectorized
over batch and tags and looping over time only.
"""
from functools import lru_cache
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy
from thinc.api import Model
from thinc.types import Floats2d, Ints1d

from ..schemes import allowed_transitions

NEG_INF = -numpy.inf
InT = List[Floats2d]
OutT = List[Floats2d]


def build_crf(scheme: str = "BIO", nO: Optional[int] = None) -> Model[InT, OutT]:
    """A CRF layer over `nO` tags with the constraints of `scheme`.

    The tag names are set by the component (`set_crf_tags`) before the model
    is initialized; they and the scheme decide the constraints.
    """
    return Model(
        "crf",
        forward,
        init=init,
        dims={"nO": nO},
        params={"transitions": None, "start": None, "end": None},
        attrs={"scheme": scheme, "tags": []},
    )


def forward(model: Model[InT, OutT], X: InT, is_train: bool) -> Tuple[OutT, Callable]:
    # The emissions pass through; the CRF's own gradients come from crf_loss.
    return X, lambda dY: dY


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[Any] = None) -> None:
    if not model.has_dim("nO") or model.get_dim("nO") is None:
        if model.attrs["tags"]:
            model.set_dim("nO", len(model.attrs["tags"]))
        elif X:
            model.set_dim("nO", X[0].shape[1])
    nO = model.get_dim("nO")
    model.set_param("transitions", model.ops.alloc2f(nO, nO))
    model.set_param("start", model.ops.alloc1f(nO))
    model.set_param("end", model.ops.alloc1f(nO))


def set_crf_tags(model: Model, tags: Sequence[str], scheme: str) -> None:
    """Tell the CRF layer its tag inventory and scheme (before initialize)."""
    model.attrs["tags"] = list(tags)
    model.attrs["scheme"] = scheme
    if model.has_dim("nO") and model.get_dim("nO") not in (None, len(tags)):
        raise ValueError(
            f"The CRF layer was built for {model.get_dim('nO')} tags but was given "
            f"{len(tags)}. Re-initialize the pipeline after changing labels."
        )


def resize_crf(model: Model, tags: Sequence[str], scheme: str) -> Model:
    """A new CRF layer over `tags` that keeps the transition, start and end
    scores of every tag it shares (by name) with `model`; scores involving a
    new tag start at 0, and the scheme's constraints are recomputed from the
    new tags. A new layer (not a resized one) so that an optimizer's state for
    the old parameters does not clash with the new shapes.

    model (Model): An initialized CRF layer.
    tags (Sequence[str]): The new tag inventory.
    scheme (str): The tag scheme.
    RETURNS (Model): The new, initialized CRF layer.
    """
    old_tags = list(model.attrs["tags"])
    new = build_crf(scheme=scheme, nO=len(tags))
    set_crf_tags(new, tags, scheme)
    new.initialize()
    old_index = {tag: i for i, tag in enumerate(old_tags)}
    pairs = [(i, old_index[t]) for i, t in enumerate(tags) if t in old_index]
    if pairs:
        ops = model.ops
        new_i = ops.xp.asarray([i for i, _ in pairs])
        old_i = ops.xp.asarray([j for _, j in pairs])
        W: Any = new.get_param("transitions").copy()
        old_W: Any = model.get_param("transitions")
        W[new_i[:, None], new_i[None, :]] = old_W[old_i[:, None], old_i[None, :]]
        new.set_param("transitions", W)
        for name in ("start", "end"):
            p = new.get_param(name).copy()
            p[new_i] = model.get_param(name)[old_i]
            new.set_param(name, p)
    new.name = model.name
    return new


@lru_cache(maxsize=64)
def _masks(scheme: str, tags: Tuple[str, ...]) -> Tuple[numpy.ndarray, ...]:
    trans, start, end = allowed_transitions(scheme, tags)
    for arr in (trans, start, end):
        arr.setflags(write=False)
    return trans, start, end


def constrained_scores(model: Model) -> Tuple[Any, Any, Any]:
    """The transition (K, K), start (K,) and end (K,) scores with -inf where
    the tag scheme forbids them, as float64 arrays of the model's backend."""
    xp = model.ops.xp
    tags = model.attrs["tags"]
    K = model.get_dim("nO")
    if len(tags) != K:
        raise ValueError(f"The CRF layer has {K} outputs but {len(tags)} tag names.")
    m_trans, m_start, m_end = (xp.asarray(m) for m in _masks(model.attrs["scheme"], tuple(tags)))
    W = model.get_param("transitions").astype("float64")
    s = model.get_param("start").astype("float64")
    e = model.get_param("end").astype("float64")
    return (
        xp.where(m_trans, W, NEG_INF),
        xp.where(m_start, s, NEG_INF),
        xp.where(m_end, e, NEG_INF),
    )


def pad(xp: Any, seqs: Sequence[Any], K: Optional[int] = None, fill: Any = 0.0, dtype: str = "float64") -> Any:
    """Stack (T_i, K) (or (T_i,) with K=None) arrays into a padded (B, T, K)
    (or (B, T)) array of `dtype`."""
    lengths = {len(s) for s in seqs}
    if len(lengths) == 1 and seqs:
        # shape: (B, T, K)
        return xp.stack(seqs).astype(dtype, copy=False)
    T = max(lengths, default=0)
    shape = (len(seqs), T) if K is None else (len(seqs), T, K)
    out = xp.full(shape, fill, dtype=dtype)
    for b, s in enumerate(seqs):
        out[b, : len(s)] = s
    return out


# ---------------------------------------------------------------------------
# Array-backend (numpy/cupy) implementation in log space. Used on GPU, and on
# CPU for the rare sequences whose scaled computation underflows.


def _logsumexp(xp: Any, x: Any, axis: int) -> Any:
    m = x.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    with numpy.errstate(divide="ignore"):
        return xp.log(xp.exp(x - m).sum(axis=axis)) + m.squeeze(axis)


def log_forward_backward(
    xp: Any, em: Any, lengths: Any, trans: Any, start: Any, end: Any
) -> Tuple[Any, ...]:
    """Exact forward-backward in log space for a padded batch.

    RETURNS: log_z (B,), marginals (B, T, K), xi (K, K) summed over the batch,
        start and end counts (K,), log_alpha and log_beta (B, T, K).
    """
    B, T, K = em.shape
    # shape: (B, T)
    mask = xp.arange(T)[None, :] < lengths[:, None]
    # shape: (B, T, K)
    log_alpha = xp.full((B, T, K), NEG_INF)
    log_beta = xp.full((B, T, K), NEG_INF)
    if T == 0:
        z = xp.zeros((K,))
        return xp.zeros((B,)), log_alpha, xp.zeros((K, K)), z, z, log_alpha, log_beta
    log_alpha[:, 0] = start + em[:, 0]
    for t in range(1, T):
        # shape: (B, K, K) -> (B, K)
        step = _logsumexp(xp, log_alpha[:, t - 1, :, None] + trans[None], axis=1) + em[:, t]
        # Past the end of a sequence alpha is carried, so that the last column
        # holds every sequence's final alpha.
        log_alpha[:, t] = xp.where(mask[:, t, None], step, log_alpha[:, t - 1])
    # shape: (B,)
    log_z = _logsumexp(xp, log_alpha[:, T - 1] + end[None], axis=1)
    log_beta[:, T - 1] = end[None]
    for t in range(T - 2, -1, -1):
        nxt = (em[:, t + 1] + log_beta[:, t + 1])[:, None, :]
        step = _logsumexp(xp, trans[None] + nxt, axis=2)
        log_beta[:, t] = xp.where(mask[:, t + 1, None], step, end[None])
    finite = xp.isfinite(log_z)
    lz = xp.where(finite, log_z, 0.0)
    live = mask & finite[:, None]
    # shape: (B, T, K)
    marg = xp.where(live[:, :, None], xp.exp(log_alpha + log_beta - lz[:, None, None]), 0.0)
    log_alpha = xp.where(mask[:, :, None], log_alpha, NEG_INF)
    log_beta = xp.where(mask[:, :, None], log_beta, NEG_INF)
    if T > 1:
        # shape: (B, T-1, K, K)
        lx = (
            log_alpha[:, :-1, :, None]
            + trans[None, None]
            + (em[:, 1:] + log_beta[:, 1:])[:, :, None, :]
            - lz[:, None, None, None]
        )
        xi = xp.where(live[:, 1:, None, None], xp.exp(lx), 0.0).sum(axis=(0, 1))
    else:
        xi = xp.zeros((K, K))
    last = xp.maximum(lengths - 1, 0)
    d_start = marg[:, 0].sum(axis=0)
    d_end = marg[xp.arange(B), last].sum(axis=0)
    log_z = xp.where(lengths > 0, log_z, 0.0)
    return log_z, marg, xi, d_start, d_end, log_alpha, log_beta


def log_viterbi(xp: Any, em: Any, lengths: Any, trans: Any, start: Any, end: Any) -> Tuple[Any, Any]:
    """Viterbi over a padded batch, backtracking the whole batch at once."""
    B, T, K = em.shape
    paths = xp.zeros((B, T), dtype="int64")
    if T == 0:
        return paths, xp.zeros((B,))
    # shape: (B, T, K)
    back = xp.zeros((B, T, K), dtype="int64")
    keep = xp.arange(K)[None, :]
    score = start[None] + em[:, 0]
    for t in range(1, T):
        # shape: (B, K, K)
        cand = score[:, :, None] + trans[None]
        arg = cand.argmax(axis=1)
        step = xp.take_along_axis(cand, arg[:, None, :], axis=1)[:, 0] + em[:, t]
        live = (t < lengths)[:, None]
        # Past the end, each tag points to itself so the backtrack stays put.
        back[:, t] = xp.where(live, arg, keep)
        score = xp.where(live, step, score)
    final = score + end[None]
    best_tag = final.argmax(axis=1)
    best = final[xp.arange(B), best_tag]
    paths[:, T - 1] = best_tag
    for t in range(T - 1, 0, -1):
        paths[:, t - 1] = back[xp.arange(B), t, paths[:, t]]
    best = xp.where(lengths > 0, best, 0.0)
    return paths, best


def log_path_scores(
    xp: Any, em: Any, lengths: Any, tags: Any, trans: Any, start: Any, end: Any
) -> Tuple[Any, Any, Any, Any, Any]:
    """Score of a given tag path per sequence, with its transition, start and
    end counts and its one-hot emission counts (B, T, K)."""
    B, T, K = em.shape
    rows = xp.arange(B)
    # shape: (B, T)
    mask = xp.arange(T)[None, :] < lengths[:, None]
    safe = xp.where(mask, tags, 0)
    # shape: (B, T, K)
    one_hot = ((safe[:, :, None] == xp.arange(K)[None, None, :]) & mask[:, :, None]).astype(
        "float64"
    )
    score = xp.where(one_hot > 0, em, 0.0).sum(axis=(1, 2))
    has = lengths > 0
    last = xp.maximum(lengths - 1, 0)
    score = score + xp.where(has, start[safe[:, 0]] + end[safe[rows, last]], 0.0)
    d_start = (one_hot[:, 0] * has[:, None]).sum(axis=0)
    d_end = (one_hot[rows, last] * has[:, None]).sum(axis=0)
    if T > 1:
        score = score + xp.where(mask[:, 1:], trans[safe[:, :-1], safe[:, 1:]], 0.0).sum(axis=1)
        # shape: (K, K)
        counts = xp.einsum("bti,btj->ij", one_hot[:, :-1], one_hot[:, 1:])
    else:
        counts = xp.zeros((K, K))
    return score, counts, d_start, d_end, one_hot


# ---------------------------------------------------------------------------
# Batch entry points: dispatch to the compiled kernels on CPU.


def _on_cpu(xp: Any) -> bool:
    return xp is numpy


def _forward_backward(
    xp: Any, em: Any, lengths: Any, trans: Any, start: Any, end: Any, tables: bool
) -> Tuple[Any, ...]:
    B, T, K = em.shape
    if not _on_cpu(xp):
        return log_forward_backward(xp, em, lengths, trans, start, end)
    from . import _kernels

    marg = numpy.zeros((B, T, K))
    xi = numpy.zeros((K, K))
    d_start = numpy.zeros((K,))
    d_end = numpy.zeros((K,))
    shape = (B, T, K) if tables else (0, 0, 0)
    la = numpy.full(shape, NEG_INF)
    lb = numpy.full(shape, NEG_INF)
    log_z, ok = _kernels.forward_backward(
        em, lengths, trans, start, end, marg, xi, d_start, d_end, la, lb
    )
    if not ok.all():
        # Recompute the sequences whose scaled values underflowed, exactly.
        bad = numpy.flatnonzero(~ok)
        sub_em = em[bad]
        sub = log_forward_backward(numpy, sub_em, lengths[bad], trans, start, end)
        log_z[bad] = sub[0]
        marg[bad] = sub[1]
        xi += sub[2]
        d_start += sub[3]
        d_end += sub[4]
        if tables:
            la[bad] = sub[5]
            lb[bad] = sub[6]
    return log_z, marg, xi, d_start, d_end, la, lb


def _prepare(model: Model, emissions: Sequence[Floats2d], allowed: Optional[Sequence[Any]]):
    xp = model.ops.xp
    K = model.get_dim("nO")
    trans, start, end = constrained_scores(model)
    for i, x in enumerate(emissions):
        if x.ndim != 2 or x.shape[1] != K:
            raise ValueError(
                f"CRF: emission scores for sequence {i} have shape {x.shape}, "
                f"expected (length, {K})."
            )
    em = pad(xp, list(emissions), K)
    if allowed is not None:
        mask = pad(xp, list(allowed), K, fill=1, dtype="bool")
        em = xp.where(mask, em, NEG_INF)
    lengths = xp.asarray([len(x) for x in emissions], dtype="int64")
    return xp, em, lengths, trans, start, end


def crf_loss(
    model: Model, emissions: Sequence[Floats2d], gold: Sequence[Ints1d], accumulate: bool = True
) -> Tuple[float, List[Floats2d]]:
    """Negative log-likelihood of gold tags, summed over the batch, and its
    gradient with respect to the emissions. With `accumulate`, the gradients
    of the transition, start and end scores are added to the layer's.

    gold (Sequence[Ints1d]): Tag indices per token, -1 where the tag is
        unknown (the loss then sums over every tag allowed there).
    RETURNS (Tuple[float, List[Floats2d]]): The loss and d_emissions.
    """
    xp, em, lengths, trans, start, end = _prepare(model, emissions, None)
    B, T, K = em.shape
    if B == 0:
        return 0.0, []
    for b, g in enumerate(gold):
        if len(g) != len(emissions[b]):
            raise ValueError(
                f"CRF: gold sequence {b} has {len(g)} tags for {len(emissions[b])} tokens."
            )
    # shape: (B, T)
    tags = pad(xp, [xp.asarray(g) for g in gold], fill=-1, dtype="int64")
    log_z, marg, xi, d_start, d_end, _, _ = _forward_backward(
        xp, em, lengths, trans, start, end, False
    )
    partial = ((tags < 0) & (xp.arange(T)[None, :] < lengths[:, None])).any(axis=1)
    part_rows = xp.flatnonzero(partial)
    d_em = marg
    gold_z = xp.zeros((B,))
    if len(part_rows) < B:
        # Fully annotated sequences: the gold term is one path's score.
        every = len(part_rows) == 0
        rows = slice(None) if every else xp.flatnonzero(~partial)
        sub_em, sub_len, sub_tags = (em, lengths, tags) if every else (em[rows], lengths[rows], tags[rows])
        if _on_cpu(xp):
            from . import _kernels

            gk = numpy.zeros((K, K))
            gs = numpy.zeros((K,))
            ge = numpy.zeros((K,))
            sub_d = d_em if every else numpy.zeros(sub_em.shape)
            scores = _kernels.path_scores(
                sub_em, sub_len, sub_tags, trans, start, end, gk, gs, ge, sub_d
            )
            if not every:
                d_em[rows] += sub_d
        else:
            scores, gk, gs, ge, one_hot = log_path_scores(
                xp, sub_em, sub_len, sub_tags, trans, start, end
            )
            d_em[rows] -= one_hot
        gold_z[rows] = scores
        xi = xi - gk
        d_start = d_start - gs
        d_end = d_end - ge
    if len(part_rows):
        sub_tags = tags[part_rows]
        # The gold "emissions": -inf for every tag other than a known gold tag.
        known = sub_tags >= 0
        keep = (~known)[:, :, None] | (xp.arange(K)[None, None, :] == sub_tags[:, :, None])
        gem = xp.where(keep, em[part_rows], NEG_INF)
        g_z, g_marg, g_xi, g_s, g_e, _, _ = _forward_backward(
            xp, gem, lengths[part_rows], trans, start, end, False
        )
        gold_z[part_rows] = g_z
        d_em[part_rows] -= g_marg
        xi = xi - g_xi
        d_start = d_start - g_s
        d_end = d_end - g_e
    losses = log_z - gold_z
    if not bool(xp.isfinite(losses).all()):
        bad = int(xp.flatnonzero(~xp.isfinite(losses))[0])
        names = model.attrs["tags"]
        seq = [names[int(i)] if i >= 0 else None for i in tags[bad, : int(lengths[bad])]]
        raise ValueError(
            f"CRF: the gold tags of sequence {bad} are impossible under the "
            f"{model.attrs['scheme']} constraints: {seq}. Check that entity "
            "annotations are well-formed (e.g. IOB1 data converted with "
            "`spacy convert -c ner`)."
        )
    if accumulate:
        dtype = model.get_param("transitions").dtype
        model.inc_grad("transitions", xi.astype(dtype))
        model.inc_grad("start", d_start.astype(dtype))
        model.inc_grad("end", d_end.astype(dtype))
    d_em = d_em.astype(emissions[0].dtype)
    d_list = [d_em[b, :n] for b, n in enumerate(lengths.tolist())]
    return float(losses.sum()), d_list


def crf_decode(
    model: Model, emissions: Sequence[Floats2d], allowed: Optional[Sequence[Any]] = None
) -> List[Ints1d]:
    """The most probable tag path per sequence (Viterbi), optionally forced
    through `allowed` (T_i, K) boolean masks of the tags allowed per token."""
    xp, em, lengths, trans, start, end = _prepare(model, emissions, allowed)
    if _on_cpu(xp):
        from . import _kernels

        paths, _ = _kernels.viterbi(em, lengths, trans, start, end)
    else:
        paths, _ = log_viterbi(xp, em, lengths, trans, start, end)
    return [paths[b, : int(lengths[b])] for b in range(len(emissions))]
