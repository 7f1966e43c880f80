"""Compiled kernels are set up on first use, and work without a writable
cache folder."""
import logging

from spacy_crf_ner._numba import LazyKernel, njit


@njit(nogil=True)
def _inner(x):
    return x + 1


@njit(nogil=True)
def _outer(x):
    return _inner(x) * 2


def test_kernels_calling_each_other():
    assert isinstance(_outer, LazyKernel) or callable(_outer)
    assert _outer(3) == 8
    # The module's kernels are numba dispatchers now.
    assert not isinstance(globals()["_inner"], LazyKernel)
    assert _inner(1) == 2


def test_no_writable_cache_folder_compiles_with_a_warning(monkeypatch, caplog):
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])

    def double(x):
        return 2 * x

    kernel = LazyKernel(double, {"cache": True})
    with caplog.at_level(logging.WARNING, logger="spacy_crf_ner"):
        assert kernel(4) == 8
    assert "NUMBA_CACHE_DIR" in caplog.text
