"""The string encoder: unit vectors, features of similar strings shared, gradients."""
import numpy

from spacy_crf_ner.linking.encoder import build_string_encoder, string_keys


def test_unit_vectors_and_similar_strings_closer():
    encoder = build_string_encoder(width=32, n_buckets=5000)
    encoder.initialize(X=["a"])
    Y = encoder.predict(["breast cancer", "breast cancers", "Wilson disease", ""])
    assert numpy.allclose((Y * Y).sum(axis=1), 1.0, atol=1e-5)
    assert Y[0] @ Y[1] > Y[0] @ Y[2]


def test_keys_are_case_insensitive_and_stable():
    assert numpy.array_equal(string_keys("Big Blue", (3,)), string_keys("big blue", (3,)))
    assert len(string_keys("", (3, 4))) == 1


def test_backprop_reaches_the_embedding_table():
    encoder = build_string_encoder(width=8, n_buckets=100)
    encoder.initialize(X=["a"])
    Y, backprop = encoder.begin_update(["big blue"])
    backprop(numpy.ones_like(Y) - Y)
    grads = [encoder.layers[1].layers[0].get_grad("E")]
    assert numpy.abs(grads[0]).sum() > 0
