"""The CRF layer against brute force over every tag path."""
import itertools

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from thinc.api import NumpyOps

from spacy_crf_ner.layers.crf import (
    build_crf,
    constrained_scores,
    crf_decode,
    crf_loss,
    log_forward_backward,
    log_viterbi,
    set_crf_tags,
)
from spacy_crf_ner.layers.posteriors import CRFPosteriors
from spacy_crf_ner.schemes import allowed_transitions, tag_names, tags_to_spans

NEG_INF = -numpy.inf


def make_crf(scheme, labels, seed=0, scale=1.0):
    tags = tag_names(scheme, labels)
    model = build_crf(scheme)
    set_crf_tags(model, tags, scheme)
    model.initialize()
    rng = numpy.random.default_rng(seed)
    K = len(tags)
    model.set_param("transitions", (rng.normal(size=(K, K)) * scale).astype("float32"))
    model.set_param("start", (rng.normal(size=(K,)) * scale).astype("float32"))
    model.set_param("end", (rng.normal(size=(K,)) * scale).astype("float32"))
    return model, tags


def path_score(x, path, trans, start, end):
    s = start[path[0]] + end[path[-1]] + sum(x[t, k] for t, k in enumerate(path))
    return s + sum(trans[a, b] for a, b in zip(path, path[1:]))


def all_paths(x, model, allowed=None):
    trans, start, end = (numpy.asarray(a) for a in constrained_scores(model))
    T, K = x.shape
    out = []
    for path in itertools.product(range(K), repeat=T):
        if allowed is not None and not all(allowed[t, k] for t, k in enumerate(path)):
            continue
        out.append((path, path_score(x, path, trans, start, end)))
    return out


def brute_log_z(x, model, allowed=None):
    scores = numpy.array([s for _, s in all_paths(x, model, allowed)])
    finite = scores[numpy.isfinite(scores)]
    if not len(finite):
        return NEG_INF
    m = finite.max()
    return m + numpy.log(numpy.exp(finite - m).sum())


def brute_marginals(x, model):
    T, K = x.shape
    lz = brute_log_z(x, model)
    marg = numpy.zeros((T, K))
    for path, s in all_paths(x, model):
        if numpy.isfinite(s):
            p = numpy.exp(s - lz)
            for t, k in enumerate(path):
                marg[t, k] += p
    return marg


SCHEMES = [("BIO", ["PER", "LOC"]), ("BILUO", ["PER"]), ("tags", ["A", "B", "C"])]


@pytest.mark.parametrize("scheme,labels", SCHEMES)
@pytest.mark.parametrize("T", [1, 2, 4])
def test_loss_matches_brute_force(scheme, labels, T):
    model, tags = make_crf(scheme, labels)
    K = len(tags)
    rng = numpy.random.default_rng(T)
    x = rng.normal(size=(T, K)).astype("float32")
    # pick a gold path with finite score
    paths = [p for p, s in all_paths(x, model) if numpy.isfinite(s)]
    gold = numpy.asarray(paths[rng.integers(len(paths))])
    loss, d_x = crf_loss(model, [x], [gold])
    trans, start, end = (numpy.asarray(a) for a in constrained_scores(model))
    expected = brute_log_z(x, model) - path_score(x, gold, trans, start, end)
    assert loss == pytest.approx(expected, rel=1e-5, abs=1e-5)
    # gradient: marginals minus one-hot gold
    want = brute_marginals(x, model)
    want[numpy.arange(T), gold] -= 1.0
    numpy.testing.assert_allclose(d_x[0], want, atol=1e-5)


@pytest.mark.parametrize("scheme,labels", SCHEMES)
def test_param_gradients_match_finite_differences(scheme, labels):
    model, tags = make_crf(scheme, labels, seed=3)
    K = len(tags)
    rng = numpy.random.default_rng(5)
    xs = [rng.normal(size=(T, K)).astype("float32") for T in (3, 1, 4)]
    golds = [crf_decode(model, [x])[0] for x in xs]
    golds[2] = golds[2].copy()
    golds[2][1] = -1  # one missing tag: partial annotation
    model.finish_update  # noqa: B018 - params exist
    crf_loss(model, xs, golds)
    for name in ("transitions", "start", "end"):
        grad = model.get_grad(name).copy()
        param = model.get_param(name).astype("float64")
        mask = {"transitions": 0, "start": 1, "end": 2}[name]
        allowed = allowed_transitions(scheme, tags)[mask]
        num = numpy.zeros_like(param)
        eps = 1e-3
        for idx in numpy.ndindex(param.shape):
            if not allowed[idx]:
                continue
            vals = []
            for sign in (1, -1):
                p = param.copy()
                p[idx] += sign * eps
                model.set_param(name, p.astype("float32"))
                vals.append(crf_loss(model, xs, golds, accumulate=False)[0])
            num[idx] = (vals[0] - vals[1]) / (2 * eps)
            model.set_param(name, param.astype("float32"))
        numpy.testing.assert_allclose(grad, num, atol=2e-2)
        # forbidden transitions get no gradient
        assert numpy.all(grad[~allowed] == 0)


@pytest.mark.parametrize("scheme,labels", SCHEMES)
def test_partial_annotation_sums_over_missing_tags(scheme, labels):
    model, tags = make_crf(scheme, labels, seed=1)
    K = len(tags)
    x = numpy.random.default_rng(2).normal(size=(4, K)).astype("float32")
    best = crf_decode(model, [x])[0]
    gold = best.copy()
    gold[1] = -1
    gold[2] = -1
    allowed = numpy.ones((4, K), dtype=bool)
    for t in (0, 3):
        allowed[t] = False
        allowed[t, gold[t]] = True
    loss, d_x = crf_loss(model, [x], [gold])
    expected = brute_log_z(x, model) - brute_log_z(x, model, allowed)
    assert loss == pytest.approx(expected, abs=1e-5)
    # all missing: loss is zero, gradient is zero
    loss0, d0 = crf_loss(model, [x], [numpy.full(4, -1)])
    assert loss0 == pytest.approx(0.0, abs=1e-6)
    numpy.testing.assert_allclose(d0[0], 0.0, atol=1e-6)


@pytest.mark.parametrize("scheme,labels", SCHEMES)
def test_viterbi_and_marginals_match_brute_force(scheme, labels):
    model, tags = make_crf(scheme, labels, seed=4)
    K = len(tags)
    rng = numpy.random.default_rng(6)
    for T in (1, 3, 4):
        x = rng.normal(size=(T, K)).astype("float32")
        best = max(all_paths(x, model), key=lambda ps: ps[1])[0]
        assert list(crf_decode(model, [x])[0]) == list(best)
        post = CRFPosteriors(model, [x])
        numpy.testing.assert_allclose(post.token_marginals(0), brute_marginals(x, model), atol=1e-6)
        assert float(post.log_z[0]) == pytest.approx(brute_log_z(x, model), abs=1e-6)


@pytest.mark.parametrize("scheme", ["BIO", "BILUO"])
def test_span_probabilities_match_brute_force(scheme):
    model, tags = make_crf(scheme, ["PER", "LOC"], seed=7)
    K = len(tags)
    x = numpy.random.default_rng(8).normal(size=(4, K)).astype("float32") * 2
    post = CRFPosteriors(model, [x])
    lz = brute_log_z(x, model)
    probs = {}
    for path, s in all_paths(x, model):
        if not numpy.isfinite(s):
            continue
        for span in tags_to_spans([tags[k] for k in path], scheme):
            probs[span] = probs.get(span, 0.0) + numpy.exp(s - lz)
    for start in range(4):
        for end in range(start + 1, 5):
            for label in ("PER", "LOC"):
                want = probs.get((start, end, label), 0.0)
                assert post.span_prob(0, start, end, label) == pytest.approx(want, abs=1e-6)
    # every token is inside some entity with probability 1 - P(O)
    marg = post.token_marginals(0)
    for t in range(4):
        inside = sum(p for (s, e, _), p in probs.items() if s <= t < e)
        assert inside == pytest.approx(1 - marg[t, 0], abs=1e-6)


@pytest.mark.parametrize("scheme,labels", SCHEMES)
def test_batched_equals_one_at_a_time(scheme, labels):
    model, tags = make_crf(scheme, labels, seed=9)
    K = len(tags)
    rng = numpy.random.default_rng(10)
    xs = [rng.normal(size=(T, K)).astype("float32") for T in (5, 0, 1, 7, 3)]
    golds = [crf_decode(model, [x])[0] if len(x) else numpy.zeros(0, dtype=int) for x in xs]
    batch_loss, batch_d = crf_loss(model, xs, golds, accumulate=False)
    single = [crf_loss(model, [x], [g], accumulate=False) for x, g in zip(xs, golds)]
    assert batch_loss == pytest.approx(sum(s[0] for s in single), abs=1e-4)
    for d, (_, sd) in zip(batch_d, single):
        numpy.testing.assert_allclose(d, sd[0], atol=1e-6)
    paths = crf_decode(model, xs)
    for x, p in zip(xs, paths):
        assert list(p) == list(crf_decode(model, [x])[0])
    assert len(paths[1]) == 0


def test_empty_batch():
    model, _ = make_crf("BIO", ["PER"])
    assert crf_loss(model, [], []) == (0.0, [])
    assert crf_decode(model, []) == []


def test_long_sequence_is_stable():
    model, tags = make_crf("BILUO", ["PER", "LOC", "ORG"], seed=11)
    K = len(tags)
    x = numpy.random.default_rng(12).normal(size=(5000, K)).astype("float32") * 5
    gold = crf_decode(model, [x])[0]
    loss, d = crf_loss(model, [x], [gold])
    assert numpy.isfinite(loss) and loss >= -1e-6
    assert numpy.isfinite(d[0]).all()
    post = CRFPosteriors(model, [x])
    numpy.testing.assert_allclose(post.token_marginals(0).sum(axis=1), 1.0, atol=1e-6)


def test_underflow_falls_back_to_exact_log_space():
    # Emission gaps far beyond exp's range: the scaled kernel underflows and
    # the exact log-space path must take over.
    model, tags = make_crf("BIO", ["PER"], seed=13)
    K = len(tags)
    x = numpy.zeros((3, K), dtype="float32")
    x[0, tags.index("I-PER")] = 3000.0  # forbidden at the start: huge but unusable
    x[1, tags.index("I-PER")] = 3000.0
    gold = crf_decode(model, [x])[0]
    loss, d = crf_loss(model, [x], [gold])
    trans, start, end = constrained_scores(model)
    lengths = numpy.asarray([3])
    ref = log_forward_backward(numpy, x.astype("float64")[None], lengths, trans, start, end)
    gscore = path_score(x.astype("float64"), gold, *(numpy.asarray(a) for a in (trans, start, end)))
    assert loss == pytest.approx(float(ref[0][0]) - gscore, abs=1e-6)
    numpy.testing.assert_allclose(d[0] + numpy.eye(K)[gold], ref[1][0], atol=1e-6)


@pytest.mark.parametrize("scheme,labels", SCHEMES)
def test_log_space_backend_matches_kernels(scheme, labels):
    """The array (GPU) path and the compiled path agree."""
    model, tags = make_crf(scheme, labels, seed=14)
    K = len(tags)
    rng = numpy.random.default_rng(15)
    xs = [rng.normal(size=(T, K)) for T in (4, 1, 6)]
    trans, start, end = constrained_scores(model)
    em = numpy.zeros((3, 6, K))
    for b, x in enumerate(xs):
        em[b, : len(x)] = x
    lengths = numpy.asarray([4, 1, 6])
    ref = log_forward_backward(numpy, em, lengths, trans, start, end)
    post = CRFPosteriors(model, xs)
    numpy.testing.assert_allclose(post.log_z, ref[0], atol=1e-8)
    numpy.testing.assert_allclose(post.marginals, ref[1], atol=1e-8)
    finite = numpy.isfinite(ref[5])
    numpy.testing.assert_allclose(post.log_alpha[finite], ref[5][finite], atol=1e-8)
    paths, _ = log_viterbi(numpy, em, lengths, trans, start, end)
    for b, p in enumerate(crf_decode(model, xs)):
        assert list(p) == list(paths[b, : len(p)])


@settings(max_examples=60, deadline=None)
@given(
    scheme=st.sampled_from(["BIO", "BILUO"]),
    seed=st.integers(0, 10**6),
    T=st.integers(1, 12),
    scale=st.floats(0.1, 20.0),
)
def test_constrained_decoding_never_emits_invalid_sequences(scheme, seed, T, scale):
    model, tags = make_crf(scheme, ["PER", "LOC", "ORG"], seed=seed % 1000, scale=scale)
    rng = numpy.random.default_rng(seed)
    x = (rng.normal(size=(T, len(tags))) * scale).astype("float32")
    path = crf_decode(model, [x])[0]
    trans, start, end = allowed_transitions(scheme, tags)
    assert start[path[0]] and end[path[-1]]
    assert all(trans[a, b] for a, b in zip(path, path[1:]))


def test_decode_with_forced_tags():
    model, tags = make_crf("BIO", ["PER", "LOC"], seed=16)
    K = len(tags)
    x = numpy.random.default_rng(17).normal(size=(5, K)).astype("float32")
    allowed = numpy.ones((5, K), dtype=bool)
    allowed[1:3] = False
    allowed[1, tags.index("B-LOC")] = True
    allowed[2, tags.index("I-LOC")] = True
    path = crf_decode(model, [x], [allowed])[0]
    assert [tags[k] for k in path[1:3]] == ["B-LOC", "I-LOC"]
    best = max(all_paths(x, model, allowed), key=lambda ps: ps[1])[0]
    assert list(path) == list(best)


def test_crf_layer_is_identity_and_serializes():
    model, tags = make_crf("BIO", ["PER"], seed=18)
    ops = NumpyOps()
    X = [ops.alloc2f(3, len(tags)) + 1]
    Y, backprop = model.begin_update(X)
    assert Y is X and backprop(X) is X
    data = model.to_bytes()
    other = build_crf("BIO")
    set_crf_tags(other, tags, "BIO")
    other.initialize()
    other.from_bytes(data)
    numpy.testing.assert_array_equal(other.get_param("transitions"), model.get_param("transitions"))
    assert other.attrs["tags"] == tags


@pytest.mark.parametrize("scheme,labels", SCHEMES)
def test_array_backend_entry_points_match_kernels(monkeypatch, scheme, labels):
    """crf_loss, crf_decode and CRFPosteriors on the array (GPU) code path,
    run here with numpy, give what the compiled CPU path gives."""
    from spacy_crf_ner.layers import crf as crf_module

    model, tags = make_crf(scheme, labels, seed=19)
    K = len(tags)
    rng = numpy.random.default_rng(20)
    xs = [rng.normal(size=(T, K)).astype("float32") for T in (4, 0, 1, 6)]
    golds = [crf_decode(model, [x])[0] if len(x) else numpy.zeros(0, dtype=int) for x in xs]
    golds[3] = golds[3].copy()
    golds[3][2] = -1
    allowed = [numpy.ones((len(x), K), dtype=bool) for x in xs]
    allowed[0][1] = False
    allowed[0][1, 0] = True
    want_loss, want_d = crf_loss(model, xs, golds, accumulate=False)
    want_paths = crf_decode(model, xs, allowed)
    want_post = CRFPosteriors(model, xs, allowed, temperature=2.0)
    monkeypatch.setattr(crf_module, "_on_cpu", lambda xp: False)
    loss, d = crf_loss(model, xs, golds, accumulate=False)
    assert loss == pytest.approx(want_loss, abs=1e-5)
    for a, b in zip(d, want_d):
        numpy.testing.assert_allclose(a, b, atol=1e-5)
    assert [list(p) for p in crf_decode(model, xs, allowed)] == [list(p) for p in want_paths]
    post = CRFPosteriors(model, xs, allowed, temperature=2.0)
    numpy.testing.assert_allclose(post.log_z, want_post.log_z, atol=1e-6)
    numpy.testing.assert_allclose(post.marginals, want_post.marginals, atol=1e-6)


@pytest.mark.gpu
def test_gpu_matches_cpu():
    cupy = pytest.importorskip("cupy")
    from thinc.api import CupyOps

    model, tags = make_crf("BILUO", ["PER", "LOC"], seed=21)
    K = len(tags)
    xs = [numpy.random.default_rng(22).normal(size=(T, K)).astype("float32") for T in (5, 1, 7)]
    golds = crf_decode(model, xs)
    want_loss, want_d = crf_loss(model, xs, golds, accumulate=False)
    gpu = build_crf("BILUO")
    gpu.ops = CupyOps()
    set_crf_tags(gpu, tags, "BILUO")
    gpu.initialize()
    gpu.from_bytes(model.to_bytes())
    loss, d = crf_loss(gpu, [cupy.asarray(x) for x in xs], [cupy.asarray(g) for g in golds], accumulate=False)
    assert loss == pytest.approx(want_loss, abs=1e-4)
    numpy.testing.assert_allclose(cupy.asnumpy(d[0]), want_d[0], atol=1e-5)
    paths = crf_decode(gpu, [cupy.asarray(x) for x in xs])
    assert [list(cupy.asnumpy(p)) for p in paths] == [list(p) for p in golds]


def test_resize_crf_maps_tags_by_name():
    from spacy_crf_ner.layers.crf import build_crf, constrained_scores, resize_crf, set_crf_tags

    old_tags = ["O", "B-PER", "I-PER"]
    crf = build_crf(scheme="BIO", nO=3)
    set_crf_tags(crf, old_tags, "BIO")
    crf.initialize()
    rng = numpy.random.default_rng(0)
    crf.set_param("transitions", rng.normal(size=(3, 3)).astype("float32"))
    crf.set_param("start", rng.normal(size=3).astype("float32"))
    crf.set_param("end", rng.normal(size=3).astype("float32"))
    new_tags = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    new = resize_crf(crf, new_tags, "BIO")
    assert new is not crf and new.get_dim("nO") == 5 and new.attrs["tags"] == new_tags
    old_i = {t: i for i, t in enumerate(old_tags)}
    for a, t in enumerate(new_tags):
        for b, u in enumerate(new_tags):
            want = crf.get_param("transitions")[old_i[t], old_i[u]] if t in old_i and u in old_i else 0.0
            assert new.get_param("transitions")[a, b] == want
        if t in old_i:
            assert new.get_param("start")[a] == crf.get_param("start")[old_i[t]]
            assert new.get_param("end")[a] == crf.get_param("end")[old_i[t]]
    trans, start, _ = constrained_scores(new)
    assert trans[3, 2] == -numpy.inf  # B-PER -> I-LOC
    assert start[2] == -numpy.inf


def brute_span_probs(x, model, tags, scheme):
    lz = brute_log_z(x, model)
    probs = {}
    for path, s in all_paths(x, model):
        if numpy.isfinite(s):
            for span in tags_to_spans([tags[k] for k in path], scheme):
                probs[span] = probs.get(span, 0.0) + numpy.exp(s - lz)
    return probs


@pytest.mark.parametrize("scheme", ["BIO", "BILUO"])
@pytest.mark.parametrize("seed", range(6))
def test_probable_spans_match_brute_force(scheme, seed):
    labels = ["PER", "LOC"]
    model, tags = make_crf(scheme, labels, seed=seed, scale=0.5 + seed % 3)
    rng = numpy.random.default_rng(100 + seed)
    T = 1 + seed % 5
    x = (rng.normal(size=(T, len(tags))) * (0.3 + seed % 2)).astype("float32")
    probs = brute_span_probs(x, model, tags, scheme)
    post = CRFPosteriors(model, [x])
    for threshold in (0.5, 0.1, 0.02, 1e-4):
        got = {(s, e, label): p for p, s, e, label in post.probable_spans(0, labels, threshold)}
        for span, p in got.items():
            assert p == pytest.approx(probs[span], abs=1e-6)
        want = {span for span, p in probs.items() if p >= threshold + 1e-6}
        assert want <= set(got)
        assert all(probs[span] >= threshold - 1e-6 for span in got)


def old_probable_spans(post, b, labels, threshold, scheme, tags):
    """The exhaustive search this module replaced: extend while the inside
    marginals pass the threshold, computing each candidate's probability."""
    begin, inside = {}, {}
    for i, tag in enumerate(tags):
        if tag != "O":
            (begin if tag[0] in "BU" else inside).setdefault(tag[2:], []).append(i)
    marg = post.token_marginals(b)
    n = len(marg)
    found = []
    for label in labels:
        p_begin = marg[:, begin[label]].sum(axis=1)
        p_inside = marg[:, inside[label]].sum(axis=1)
        for start in numpy.flatnonzero(p_begin >= threshold).tolist():
            end = start + 1
            while True:
                p = post.span_prob(b, start, end, label)
                if p >= threshold:
                    found.append((p, start, end, label))
                if end >= n or p_inside[end] < threshold:
                    break
                end += 1
    return found


@pytest.mark.parametrize("scheme", ["BIO", "BILUO"])
def test_probable_spans_match_old_search(scheme):
    labels = ["PER", "LOC", "ORG"]
    model, tags = make_crf(scheme, labels, seed=3, scale=0.3)
    rng = numpy.random.default_rng(4)
    xs = [(rng.normal(size=(T, len(tags))) * 0.5).astype("float32") for T in (40, 1, 25)]
    allowed = [numpy.ones((len(x), len(tags)), dtype=bool) for x in xs]
    allowed[0][10] = False
    allowed[0][10, 0] = True  # a token forced to O, as crf_ner does for whitespace
    post = CRFPosteriors(model, xs, allowed, temperature=1.7)
    for b in range(len(xs)):
        for threshold in (0.3, 0.05, 0.01):
            new = post.probable_spans(b, labels, threshold)
            old = old_probable_spans(post, b, labels, threshold, scheme, tags)
            near = lambda p: abs(p - threshold) < 1e-7  # noqa: E731
            assert {(s, e, l) for p, s, e, l in new if not near(p)} == {
                (s, e, l) for p, s, e, l in old if not near(p)
            }
            old_p = {(s, e, l): p for p, s, e, l in old}
            for p, s, e, label in new:
                assert p == pytest.approx(old_p[(s, e, label)], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("scheme", ["BIO", "BILUO"])
def test_probable_spans_linear_work_on_uncertain_sequence(scheme):
    """Where every token may begin or continue an entity, the exhaustive
    search extended every start to the end (quadratic); the bounded search
    takes at most len(labels) / threshold steps per token."""
    labels = ["PER", "LOC"]
    model, tags = make_crf(scheme, labels, scale=0.0)
    T = 3000
    x = numpy.zeros((T, len(tags)), dtype="float32")
    x[:, 0] = -10.0  # never O: every token is in some entity
    post = CRFPosteriors(model, [x])
    threshold = 0.1
    found = post.probable_spans(0, labels, threshold)
    assert found
    assert post.search_steps <= T * (1 + len(labels) / threshold)
    # what the exhaustive search would have visited: every start to the end
    marg = post.token_marginals(0)
    assert (marg[:, 1:].reshape(T, len(labels), -1).sum(axis=2) >= threshold).all()
