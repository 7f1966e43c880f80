"""Posteriors of the CRF for a batch: token marginals and exact span
probabilities from one forward-backward pass (see `crf.py` for the model).

A span's probability is the probability that the CRF labels exactly its
tokens as one entity of its label: the path mass through the span's tag
sequence, computed from the forward and backward scores. `probable_spans`
finds every span above a threshold in time linear in the length of the
sequence.
"""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy
from thinc.api import Model
from thinc.types import Floats2d

from ..schemes import continuation_tags, entity_tags
from .crf import NEG_INF, _forward_backward, _prepare


class CRFPosteriors:
    """Forward-backward results for a batch: token marginals and exact span
    probabilities. Arrays are padded (B, T, K) on the model's backend.

    temperature (float): Divides every score before normalizing (temperature
        scaling, Guo et al. 2017): > 1 softens overconfident probabilities.
        The most probable path is the same at any temperature.
    """

    def __init__(
        self,
        model: Model,
        emissions: Sequence[Floats2d],
        allowed: Optional[Sequence[Any]] = None,
        temperature: float = 1.0,
    ) -> None:
        if not temperature > 0:
            raise ValueError(f"CRF: temperature must be positive, not {temperature}.")
        xp, em, lengths, trans, start, end = _prepare(model, emissions, allowed)
        if temperature != 1.0:
            em, trans, start, end = (a / temperature for a in (em, trans, start, end))
        self.xp = xp
        self.temperature = temperature
        self.tags: List[str] = list(model.attrs["tags"])
        self.scheme: str = model.attrs["scheme"]
        self.lengths = lengths
        self.em = em
        self.trans, self.start, self.end = trans, start, end
        out = _forward_backward(xp, em, lengths, trans, start, end, True)
        self.log_z, self.marginals, _, _, _, self.log_alpha, self.log_beta = out
        self._index = {t: i for i, t in enumerate(self.tags)}
        self._paths: Dict[Tuple[int, str], Tuple[List[int], List[int]]] = {}
        self.search_steps = 0

    def token_marginals(self, b: int) -> Floats2d:
        """P(tag of token t = k) for sequence b, shape (T_b, K)."""
        return self.marginals[b, : int(self.lengths[b])]

    def path_log_prob(self, b: int, start: int, path: Sequence[int], close: Sequence[int] = ()) -> float:
        """log P(tokens start.. start+len(path)-1 have exactly these tags, and
        the next token's tag is not in `close`)."""
        xp = self.xp
        n = len(path)
        end_tok = start + n - 1
        L = int(self.lengths[b])
        if not n or start < 0 or end_tok >= L:
            raise ValueError(f"Span ({start}, {end_tok + 1}) is outside sequence {b} of length {L}.")
        idx = xp.asarray(path)
        # alpha at the first token, then the path's transitions and emissions
        score = self.log_alpha[b, start, idx[0]]
        if n > 1:
            score = score + (self.trans[idx[:-1], idx[1:]] + self.em[b, start + 1 + xp.arange(n - 1), idx[1:]]).sum()
        if end_tok == L - 1:
            score = score + self.end[idx[-1]]
        else:
            nxt = self.trans[idx[-1]] + self.em[b, end_tok + 1] + self.log_beta[b, end_tok + 1]
            if close:
                nxt = nxt.copy()
                nxt[xp.asarray(list(close))] = NEG_INF
            m = nxt.max()
            if m > NEG_INF:
                score = score + m + xp.log(xp.exp(nxt - m).sum())
            else:
                score = score + m
        return float(score - self.log_z[b])

    def span_prob(self, b: int, start: int, end: int, label: str) -> float:
        """Exact probability that tokens [start, end) form one entity `label`
        (no more, no less) under the tag scheme."""
        key = (end - start, label)
        if key not in self._paths:
            path = [self._index[t] for t in entity_tags(self.scheme, end - start, label)]
            close = [self._index[t] for t in continuation_tags(self.scheme, label) if t in self._index]
            self._paths[key] = (path, close)
        path, close = self._paths[key]
        return float(numpy.exp(self.path_log_prob(b, start, path, close)))


    def probable_spans(
        self, b: int, labels: Sequence[str], threshold: float
    ) -> List[Tuple[float, int, int, str]]:
        """Every span of sequence b whose probability is at least `threshold`,
        with that probability, found exactly in time linear in the length.

        From each token the search extends a candidate entity one token at a
        time and stops as soon as P(an entity of the label opens at `start`
        and still covers the token just added) drops below the threshold. That
        probability bounds every longer span from `start`, and it can only
        shrink as the span grows, so no span that passes is missed. For one
        label and one token, these events are disjoint across starts (a token
        is covered by at most one entity), so at most 1 / threshold starts are
        still extending at any token: the work is at most
        len(labels) / threshold steps per token, each O(1) given the
        forward-backward tables. The number of steps taken is kept in
        `self.search_steps`.

        b (int): The sequence in the batch.
        labels (Sequence[str]): The entity labels to search.
        threshold (float): The probability threshold, > 0.
        RETURNS (List[Tuple[float, int, int, str]]): (probability, start, end,
            label), sorted by start, end and label.
        """
        if not threshold > 0:
            raise ValueError(f"CRF: the span threshold must be positive, not {threshold}.")
        if self.scheme not in ("BIO", "BILUO"):
            raise ValueError(f"CRF: spans need an entity scheme, not {self.scheme!r}.")
        L = int(self.lengths[b])
        self.search_steps = 0
        found: List[Tuple[float, int, int, str]] = []
        if L == 0:
            return found
        xp = self.xp
        to_np = (lambda a: a) if xp is numpy else (lambda a: a.get())
        la = to_np(self.log_alpha[b, :L])
        lb = to_np(self.log_beta[b, :L])
        em = to_np(self.em[b, :L])
        trans = to_np(self.trans)
        end_scores = to_np(self.end)
        lz = float(self.log_z[b])
        if not math.isfinite(lz):
            return found
        # Stop only clearly below the threshold, so that rounding in the
        # incremental sums can never cut a span that passes.
        log_stop = math.log(threshold) + math.log1p(-1e-9)
        log_keep = math.log(threshold)
        for label in labels:
            if self.scheme == "BIO":
                found.extend(self._spans_bio(la, lb, em, trans, end_scores, lz, label, log_stop, log_keep))
            else:
                found.extend(self._spans_biluo(la, lb, em, trans, lz, label, log_stop, log_keep))
        found.sort(key=lambda x: (x[1], x[2], x[3]))
        return found

    def _spans_bio(
        self, la: Any, lb: Any, em: Any, trans: Any, end_scores: Any, lz: float, label: str, log_stop: float, log_keep: float
    ) -> List[Tuple[float, int, int, str]]:
        """`probable_spans` for one label under BIO: the chain B-X I-X ... I-X
        from `start` is one path, and an entity ends where the next tag is not
        I-X."""
        index = self._index
        iB, iI = index[f"B-{label}"], index[f"I-{label}"]
        L = la.shape[0]
        # close[t, k]: log of the mass after token t given tag k there, without
        # the entity continuing (the next tag is not I-X).
        nxt = trans[None, [iB, iI], :] + (em[1:] + lb[1:])[:, None, :]
        nxt[:, :, iI] = NEG_INF
        with numpy.errstate(divide="ignore", invalid="ignore"):
            m = nxt.max(axis=2, keepdims=True)
            m_safe = numpy.where(numpy.isfinite(m), m, 0.0)
            close = numpy.log(numpy.exp(nxt - m_safe).sum(axis=2)) + m_safe[:, :, 0]
        close = numpy.concatenate([close, end_scores[[iB, iI]][None, :]], axis=0)
        close_b, close_i = close[:, 0].tolist(), close[:, 1].tolist()
        alpha_b = la[:, iB].tolist()
        beta_i = lb[:, iI].tolist()
        em_i = em[:, iI].tolist()
        t_bi, t_ii = float(trans[iB, iI]), float(trans[iI, iI])
        out = []
        with numpy.errstate(invalid="ignore"):
            opens = numpy.flatnonzero(la[:, iB] + lb[:, iB] - lz >= log_stop).tolist()
        steps = L
        for start in opens:
            chain = alpha_b[start]
            p = chain + close_b[start] - lz
            if p >= log_keep:
                out.append((math.exp(p), start, start + 1, label))
            step = t_bi
            for t in range(start + 1, L):
                chain = chain + step + em_i[t]
                step = t_ii
                steps += 1
                if not chain + beta_i[t] - lz >= log_stop:
                    break
                p = chain + close_i[t] - lz
                if p >= log_keep:
                    out.append((math.exp(p), start, t + 1, label))
        self.search_steps += steps
        return out

    def _spans_biluo(
        self, la: Any, lb: Any, em: Any, trans: Any, lz: float, label: str, log_stop: float, log_keep: float
    ) -> List[Tuple[float, int, int, str]]:
        """`probable_spans` for one label under BILUO: U-X alone, or the chain
        B-X I-X ... I-X continued by I-X (still open) or closed by L-X."""
        index = self._index
        iB, iI, iL, iU = (index[f"{p}-{label}"] for p in "BILU")
        L = la.shape[0]
        alpha_b, alpha_u = la[:, iB].tolist(), la[:, iU].tolist()
        beta_i = lb[:, iI].tolist()
        beta_l, beta_u = lb[:, iL].tolist(), lb[:, iU].tolist()
        em_i, em_l = em[:, iI].tolist(), em[:, iL].tolist()
        t_bi, t_bl = float(trans[iB, iI]), float(trans[iB, iL])
        t_ii, t_il = float(trans[iI, iI]), float(trans[iI, iL])
        out = []
        with numpy.errstate(invalid="ignore"):
            opens = numpy.flatnonzero(
                numpy.logaddexp(la[:, iB] + lb[:, iB], la[:, iU] + lb[:, iU]) - lz >= log_stop
            ).tolist()
        steps = L
        for start in opens:
            chain = alpha_b[start]
            single = alpha_u[start] + beta_u[start]
            p = single - lz
            if p >= log_keep:
                out.append((math.exp(p), start, start + 1, label))
            to_i, to_l = t_bi, t_bl
            for t in range(start + 1, L):
                closed = chain + to_l + em_l[t]
                chain = chain + to_i + em_i[t]
                to_i, to_l = t_ii, t_il
                steps += 1
                closed = closed + beta_l[t]
                if not _logaddexp(chain + beta_i[t], closed) - lz >= log_stop:
                    break
                p = closed - lz
                if p >= log_keep:
                    out.append((math.exp(p), start, t + 1, label))
        self.search_steps += steps
        return out


def _logaddexp(a: float, b: float) -> float:
    m = a if a > b else b
    if m == NEG_INF or m != m:
        return m
    return m + math.log(math.exp(a - m) + math.exp(b - m))
