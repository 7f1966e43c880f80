"""A string encoder that needs no word vectors: hashed character n-grams and
words of the lower-cased string, embedded (thinc's ``HashEmbed``), averaged,
one Maxout layer and unit length. The same encoder embeds mentions and KB
aliases, so the aliases' vectors can be computed once and searched by dot
product (:mod:`.alias_embeddings`).
"""
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy
from spacy.strings import get_string_id
from thinc.api import HashEmbed, Maxout, Model, Ragged, chain, reduce_mean, with_array
from thinc.types import Floats2d

# Strings whose n-gram keys are remembered (aliases repeat across batches).
_CACHE_SIZE = 200_000


def string_keys(text: str, ngram_sizes: Sequence[int]) -> numpy.ndarray:
    """The hashed features of a string: its lower-cased words and the
    character n-grams of each word padded with spaces, plus one key every
    string has (so that the empty string has a vector).

    text (str): The string.
    ngram_sizes (Sequence[int]): The n-gram lengths.
    RETURNS (numpy.ndarray): uint64 keys, one per feature occurrence.
    """
    keys = [get_string_id("\x00")]
    for word in text.lower().split():
        keys.append(get_string_id("w:" + word))
        padded = f" {word} "
        for n in ngram_sizes:
            keys.extend(get_string_id(padded[i : i + n]) for i in range(max(len(padded) - n + 1, 1)))
    return numpy.asarray(keys, dtype=numpy.uint64)


def featurize_strings(ngram_sizes: Sequence[int]) -> Model[List[str], Ragged]:
    """A layer from strings to their hashed feature keys, one segment per string."""
    return Model("string_features", _featurize_forward, attrs={"ngram_sizes": list(ngram_sizes)})


# Feature keys of recently seen strings, per n-gram setting: aliases and
# mentions repeat. Module-level (not a closure of the layer) so that the
# model pickles, as worker processes under spawn need.
_KEY_CACHES: Dict[Tuple[int, ...], Dict[str, numpy.ndarray]] = {}


def _featurize_forward(model: Model, texts: List[str], is_train: bool) -> Tuple[Ragged, Callable]:
    sizes = tuple(model.attrs["ngram_sizes"])
    cache = _KEY_CACHES.setdefault(sizes, {})
    arrays = []
    for text in texts:
        keys = cache.get(text)
        if keys is None:
            keys = string_keys(text, sizes)
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[text] = keys
        arrays.append(keys)
    lengths = numpy.asarray([len(a) for a in arrays], dtype="int32")
    data = numpy.concatenate(arrays) if arrays else numpy.zeros((0,), dtype=numpy.uint64)
    ops: Any = model.ops
    ragged = Ragged(ops.asarray(data), ops.asarray1i(lengths))
    return ragged, _no_gradient


def _no_gradient(d_ragged: Ragged) -> List[str]:
    return []


def unit_length() -> Model[Floats2d, Floats2d]:
    """A layer that scales each row to unit length."""
    return Model("unit_length", _unit_length_forward)


def _unit_length_forward(model: Model, X: Floats2d, is_train: bool) -> Tuple[Floats2d, Callable]:
    norms = model.ops.xp.sqrt((X * X).sum(axis=1, keepdims=True)) + 1e-8
    Y = X / norms

    def backprop(dY: Floats2d) -> Floats2d:
        return (dY - Y * (Y * dY).sum(axis=1, keepdims=True)) / norms

    return Y, backprop


def build_string_encoder(
    width: int = 128, n_buckets: int = 100_000, ngram_sizes: Sequence[int] = (3, 4), seed: int = 17
) -> Model[List[str], Floats2d]:
    """The mention/alias encoder: strings -> unit vectors of ``width``.

    width (int): The embedding width.
    n_buckets (int): Rows of the hashed embedding table.
    ngram_sizes (Sequence[int]): Character n-gram lengths.
    seed (int): Seed of the hash embedding.
    RETURNS (Model[List[str], Floats2d]): The encoder.
    """
    model: Model[List[str], Floats2d] = chain(
        featurize_strings(ngram_sizes),
        with_array(HashEmbed(nO=width, nV=n_buckets, seed=seed)),
        reduce_mean(),
        Maxout(nO=width, nI=width, nP=2, normalize=False),
        unit_length(),
    )
    model.name = "string_encoder"
    return model
