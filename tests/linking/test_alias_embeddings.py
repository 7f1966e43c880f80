"""Alias embeddings: dense search with type filters, float16 storage, checks."""
import numpy
import pytest

from spacy_crf_ner.kb.validation import ModelDataError
from spacy_crf_ner.linking.alias_embeddings import AliasEmbeddings
from spacy_crf_ner.linking.encoder import build_string_encoder

ALL = (1 << 64) - 1


def test_search_ranks_by_cosine_and_filters_types():
    vectors = numpy.eye(4, dtype=numpy.float32)
    emb = AliasEmbeddings(vectors)
    queries = numpy.asarray([[0.9, 0.1, 0, 0], [0.9, 0.1, 0, 0]], dtype=numpy.float32)
    pair_bits = numpy.asarray([1, 2, 2, 0], dtype=numpy.uint64)
    top = emb.search(queries, 2, [ALL, 2], pair_bits)
    assert top[0].tolist() == [0, 1]
    # Type bit 2 only: pair 0 (bit 1) and pair 3 (no types) are out.
    assert top[1].tolist() == [1, 2]
    assert emb.search(queries, 3, [4, 4], pair_bits).tolist() == [[-1, -1, -1]] * 2


def test_saved_as_float16_and_checked(tmp_path):
    encoder = build_string_encoder(width=16, n_buckets=1000)
    encoder.initialize(X=["a"])
    emb = AliasEmbeddings.build(encoder, ["Big Blue", "IBM", "Big Blue"])
    assert emb.vectors.shape == (3, 16)
    assert numpy.array_equal(emb.vectors[0], emb.vectors[2])
    emb.to_disk(tmp_path / "emb.npy")
    assert numpy.load(tmp_path / "emb.npy").dtype == numpy.float16
    assert numpy.array_equal(AliasEmbeddings.from_disk(tmp_path / "emb.npy", 3).vectors, emb.vectors)
    with pytest.raises(ModelDataError, match="3 alias embeddings for a KB of 4 aliases.*rebuild-embeddings"):
        AliasEmbeddings.from_disk(tmp_path / "emb.npy", 4)
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ModelDataError, match="cannot read the alias embeddings"):
        AliasEmbeddings.from_disk(tmp_path / "bad.npy")


def test_prefix_shares_memory():
    emb = AliasEmbeddings(numpy.eye(3, dtype=numpy.float32))
    view = emb.prefix(2)
    assert len(view) == 2 and view.vectors.base is emb.vectors
