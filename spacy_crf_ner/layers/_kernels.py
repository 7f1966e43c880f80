"""Compiled CPU kernels for the CRF (numba).

The forward-backward kernel works in scaled probability space (Rabiner 1989):
each step exponentiates emissions once, multiplies by exp(transitions) and
renormalizes, keeping the log of every scale. That turns the inner K x K loop
into multiply-adds instead of log-sum-exp, which is what makes it fast. A
sequence whose scaled values underflow (scores apart by more than ~700 within
one position) is flagged in `ok`, and the caller recomputes it exactly in log
space. Viterbi works in max-plus log space and needs no exponentials at all.

All kernels take padded arrays: emissions (B, T, K) with -inf where a tag is
not allowed, lengths (B,), and transition/start/end scores with -inf where the
tag scheme forbids a transition. numba is imported when a kernel is first
called (see spacy_crf_ner._numba), which happens only when the CRF runs on CPU.
"""
import math

from .._numba import njit
import numpy

NEG_INF = -numpy.inf


@njit(cache=True, nogil=True, fastmath={"contract", "arcp", "reassoc"})
def _exp_shifted(x: numpy.ndarray, out: numpy.ndarray) -> float:
    """out = exp(x - max(x)); returns max(x) (-inf if all of x is -inf)."""
    m = NEG_INF
    for j in range(x.shape[0]):
        if x[j] > m:
            m = x[j]
    if m == NEG_INF:
        out[:] = 0.0
        return m
    for j in range(x.shape[0]):
        out[j] = math.exp(x[j] - m)
    return m


@njit(cache=True, nogil=True, fastmath={"contract", "arcp", "reassoc"})
def forward_backward(
    em, lengths, trans, start, end, marg, xi, d_start, d_end, log_alpha, log_beta
):
    """Log partition function per sequence, token marginals (marg,
    (B, T, K)), expected transition counts summed over the batch (xi),
    expected start/end counts (d_start, d_end) and, optionally, log
    alpha/beta tables.

    `log_alpha`/`log_beta` are filled only when they have the shape of `em`
    (pass (0, 0, 0) arrays to skip them). Returns (log_z (B,), ok (B,)).
    """
    B, T, K = em.shape
    want_tables = log_alpha.shape[0] == B and B > 0
    log_z = numpy.zeros(B)
    ok = numpy.ones(B, dtype=numpy.bool_)
    # Shifted exponentials of the transition scores: E = exp(trans - m_trans)
    m_trans = NEG_INF
    for i in range(K):
        for j in range(K):
            if trans[i, j] > m_trans:
                m_trans = trans[i, j]
    E = numpy.zeros((K, K))
    if m_trans > NEG_INF:
        for i in range(K):
            for j in range(K):
                E[i, j] = math.exp(trans[i, j] - m_trans)
    S = numpy.empty(K)
    m_start = _exp_shifted(start, S)
    F = numpy.empty(K)
    m_end = _exp_shifted(end, F)
    alpha = numpy.empty((T, K))
    beta = numpy.empty((T, K))
    P = numpy.empty((T, K))
    m_em = numpy.empty(T)
    scale = numpy.empty(T + 1)
    tmp = numpy.empty(K)
    for b in range(B):
        L = lengths[b]
        if L == 0:
            continue
        feasible = m_start > NEG_INF and m_end > NEG_INF and (L == 1 or m_trans > NEG_INF)
        for t in range(L):
            m_em[t] = _exp_shifted(em[b, t], P[t])
            if m_em[t] == NEG_INF:
                feasible = False
        if not feasible:
            log_z[b] = NEG_INF
            continue
        # Forward pass, renormalizing every step.
        s = 0.0
        for j in range(K):
            alpha[0, j] = S[j] * P[0, j]
            s += alpha[0, j]
        scale[0] = s
        underflow = False
        for t in range(1, L):
            prev = scale[t - 1]
            if not prev > 0.0:
                underflow = True
                break
            for j in range(K):
                alpha[t - 1, j] /= prev
                tmp[j] = 0.0
            for i in range(K):
                a = alpha[t - 1, i]
                if a != 0.0:
                    for j in range(K):
                        tmp[j] += a * E[i, j]
            s = 0.0
            for j in range(K):
                v = tmp[j] * P[t, j]
                alpha[t, j] = v
                s += v
            scale[t] = s
        prev = scale[L - 1]
        if underflow or not prev > 0.0:
            ok[b] = False
            continue
        s = 0.0
        for j in range(K):
            alpha[L - 1, j] /= prev
            s += alpha[L - 1, j] * F[j]
        scale[L] = s
        if not s > 0.0:
            ok[b] = False
            continue
        total = m_start + m_end + (L - 1) * m_trans
        for t in range(L):
            total += m_em[t] + math.log(scale[t])
        total += math.log(scale[L])
        log_z[b] = total
        # Backward pass with the forward pass's scales, fused with the
        # expected transition counts xi (one sweep over E per step).
        for j in range(K):
            beta[L - 1, j] = F[j] / scale[L]
        for t in range(L - 2, -1, -1):
            inv_c = 1.0 / scale[t + 1]
            for j in range(K):
                tmp[j] = P[t + 1, j] * beta[t + 1, j] * inv_c
            for i in range(K):
                a = alpha[t, i]
                s = 0.0
                if a != 0.0:
                    for j in range(K):
                        v = E[i, j] * tmp[j]
                        s += v
                        xi[i, j] += a * v
                else:
                    for j in range(K):
                        s += E[i, j] * tmp[j]
                beta[t, i] = s
        for t in range(L):
            for j in range(K):
                marg[b, t, j] = alpha[t, j] * beta[t, j]
        for j in range(K):
            d_start[j] += marg[b, 0, j]
            d_end[j] += marg[b, L - 1, j]
        if want_tables:
            # log alpha_t = log(alpha_hat_t) + sum of log scales up to t;
            # log beta_t = log(beta_hat_t) + sum of log scales after t.
            cum = m_start
            for t in range(L):
                cum += m_em[t] + math.log(scale[t])
                if t > 0:
                    cum += m_trans
                for j in range(K):
                    a = alpha[t, j]
                    log_alpha[b, t, j] = math.log(a) + cum if a > 0.0 else NEG_INF
            rest = total - cum
            for t in range(L - 1, -1, -1):
                for j in range(K):
                    v = beta[t, j]
                    log_beta[b, t, j] = math.log(v) + rest if v > 0.0 else NEG_INF
                if t > 0:
                    rest += m_em[t] + math.log(scale[t]) + m_trans
    return log_z, ok


@njit(cache=True, nogil=True, fastmath={"contract", "arcp", "reassoc"})
def path_scores(em, lengths, tags, trans, start, end, counts, d_start, d_end, d_em):
    """Score of one given tag path per sequence, accumulating its transition,
    start and end counts, and writing its one-hot emission counts to d_em
    with a minus sign (so d_em + marginals is the emission gradient)."""
    B = em.shape[0]
    out = numpy.zeros(B)
    for b in range(B):
        L = lengths[b]
        if L == 0:
            continue
        prev = tags[b, 0]
        s = start[prev] + em[b, 0, prev]
        d_start[prev] += 1.0
        d_em[b, 0, prev] -= 1.0
        for t in range(1, L):
            cur = tags[b, t]
            s += trans[prev, cur] + em[b, t, cur]
            counts[prev, cur] += 1.0
            d_em[b, t, cur] -= 1.0
            prev = cur
        s += end[prev]
        d_end[prev] += 1.0
        out[b] = s
    return out


@njit(cache=True, nogil=True, fastmath={"contract", "arcp", "reassoc"})
def viterbi(em, lengths, trans, start, end):
    """Best path per sequence (B, T) and its score (B,). Positions past a
    sequence's length hold 0; a sequence with no allowed path scores -inf."""
    B, T, K = em.shape
    paths = numpy.zeros((B, T), dtype=numpy.int64)
    best = numpy.full(B, NEG_INF)
    back = numpy.empty((T, K), dtype=numpy.int32)
    score = numpy.empty(K)
    nxt = numpy.empty(K)
    for b in range(B):
        L = lengths[b]
        if L == 0:
            best[b] = 0.0
            continue
        for j in range(K):
            score[j] = start[j] + em[b, 0, j]
        for t in range(1, L):
            for j in range(K):
                m = NEG_INF
                arg = 0
                for i in range(K):
                    v = score[i] + trans[i, j]
                    if v > m:
                        m = v
                        arg = i
                nxt[j] = m + em[b, t, j]
                back[t, j] = arg
            for j in range(K):
                score[j] = nxt[j]
        m = NEG_INF
        arg = 0
        for j in range(K):
            v = score[j] + end[j]
            if v > m:
                m = v
                arg = j
        best[b] = m
        paths[b, L - 1] = arg
        for t in range(L - 1, 0, -1):
            arg = back[t, arg]
            paths[b, t - 1] = arg
    return paths, best
