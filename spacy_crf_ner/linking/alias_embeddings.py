"""The embeddings of every (alias, entity) pair of a KB, made by the mention
encoder, and their dense search: the top pairs of each mention vector by dot
product (the vectors have unit length, so this is cosine), filtered by the
index's entity type bits.

They are computed at initialize, again when the encoder changed (after
training, before saving), and by ``python -m spacy_crf_ner
rebuild-embeddings`` when the KB changed. Saved as float16 (an alias of a
128-wide encoder takes 256 bytes: 1 M aliases take 256 MB); held as float32
in memory for the search.
"""
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy
from thinc.api import Model
from tqdm import tqdm

from ..kb.validation import FIX, ModelDataError

logger = logging.getLogger("spacy_crf_ner")

_ALL_BITS = (1 << 64) - 1
# Mentions are searched in chunks whose score matrix stays below this many cells.
_MAX_CELLS = 1 << 24


class AliasEmbeddings:
    """Unit vectors of a KB's alias texts, one row per (alias, entity) pair.

    vectors (numpy.ndarray): (n_pairs, width); held as float32 rounded to
        float16, the precision they are saved with, so that a loaded pipeline
        links as the one that saved it.
    """

    def __init__(self, vectors: numpy.ndarray) -> None:
        self.vectors = numpy.ascontiguousarray(numpy.asarray(vectors).astype(numpy.float16), dtype=numpy.float32)

    def prefix(self, n: int) -> "AliasEmbeddings":
        """The embeddings of the first ``n`` pairs, sharing this one's memory.

        n (int): The number of pairs.
        RETURNS (AliasEmbeddings): The view.
        """
        view = AliasEmbeddings.__new__(AliasEmbeddings)
        view.vectors = self.vectors[:n]
        return view

    def __len__(self) -> int:
        return self.vectors.shape[0]

    @property
    def width(self) -> int:
        """RETURNS (int): The vector width."""
        return int(self.vectors.shape[1])

    @classmethod
    def build(
        cls, encoder: Model, alias_texts: Sequence[str], *, batch_size: int = 4096, progress: bool = False
    ) -> "AliasEmbeddings":
        """Embed every alias text with the encoder.

        encoder (Model[List[str], Floats2d]): The string encoder (initialized).
        alias_texts (Sequence[str]): The KB's alias texts by pair row.
        batch_size (int): Texts per encoder call.
        progress (bool): Show a progress bar.
        RETURNS (AliasEmbeddings): The embeddings.
        """
        # Each distinct text is encoded once.
        distinct = list(dict.fromkeys(alias_texts))
        row = {t: i for i, t in enumerate(distinct)}
        width = encoder.get_dim("nO")
        out = numpy.zeros((len(distinct), width), dtype=numpy.float32)
        starts = range(0, len(distinct), batch_size)
        for start in tqdm(starts, desc="Alias embeddings", unit="batch", disable=not progress):
            batch = distinct[start : start + batch_size]
            out[start : start + len(batch)] = encoder.ops.to_numpy(encoder.predict(batch))
        logger.info("entity_normalizer: embedded %d alias texts (%d pairs)", len(distinct), len(alias_texts))
        index = numpy.fromiter((row[t] for t in alias_texts), dtype=numpy.int64, count=len(alias_texts))
        return cls(out[index] if len(alias_texts) else numpy.zeros((0, width), dtype=numpy.float32))

    def search(
        self, queries: numpy.ndarray, k: int, allowed_bits: Sequence[int], pair_bits: numpy.ndarray
    ) -> numpy.ndarray:
        """The top pairs of each query vector.

        queries (numpy.ndarray): (n, width) query vectors.
        k (int): Pairs per query.
        allowed_bits (Sequence[int]): Per query, the type bits it accepts (all
            bits set: no constraint).
        pair_bits (numpy.ndarray): (n_pairs,) uint64 type bits of each pair's entity.
        RETURNS (numpy.ndarray): (n, k) pair rows best first, -1 padded.
        """
        n, n_pairs = queries.shape[0], len(self)
        k = min(k, n_pairs)
        out = numpy.full((n, max(k, 0)), -1, dtype=numpy.int64)
        if n == 0 or k <= 0:
            return out
        queries = numpy.asarray(queries, dtype=numpy.float32)
        masks: Dict[int, numpy.ndarray] = {}
        chunk = max(1, _MAX_CELLS // max(n_pairs, 1))
        for start in range(0, n, chunk):
            scores = queries[start : start + chunk] @ self.vectors.T
            for r in range(scores.shape[0]):
                bits = int(allowed_bits[start + r])
                if bits != _ALL_BITS:
                    mask = masks.get(bits)
                    if mask is None:
                        mask = masks[bits] = (pair_bits & numpy.uint64(bits)) == 0
                    scores[r, mask] = -numpy.inf
            top = numpy.argpartition(-scores, k - 1, axis=1)[:, :k]
            order = numpy.argsort(-numpy.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
            top = numpy.take_along_axis(top, order, axis=1)
            top[~numpy.isfinite(numpy.take_along_axis(scores, top, axis=1))] = -1
            out[start : start + chunk] = top
        return out

    def to_disk(self, path: Union[str, Path]) -> None:
        """Save as a float16 ``.npy`` file.

        path (Union[str, Path]): The file.
        """
        with Path(path).open("wb") as f:
            numpy.save(f, self.vectors.astype(numpy.float16), allow_pickle=False)

    @classmethod
    def from_disk(cls, path: Union[str, Path], n_pairs: Optional[int] = None) -> "AliasEmbeddings":
        """Load a file written by :meth:`to_disk`.

        path (Union[str, Path]): The file.
        n_pairs (Optional[int]): The KB's number of pairs, to check against.
        RETURNS (AliasEmbeddings): The embeddings.
        """
        try:
            vectors = numpy.load(Path(path), allow_pickle=False)
        except Exception as err:  # numpy raises several types on damaged files
            raise ModelDataError(f"entity_normalizer: cannot read the alias embeddings {path} ({err}). {FIX}") from None
        return cls.checked(vectors, n_pairs, str(path))

    @classmethod
    def checked(cls, vectors: numpy.ndarray, n_pairs: Optional[int], where: str) -> "AliasEmbeddings":
        """Embeddings from an array read from ``where``, checked."""
        if vectors.ndim != 2 or not numpy.issubdtype(vectors.dtype, numpy.floating):
            raise ModelDataError(f"entity_normalizer: {where} is not a 2-d float array of alias embeddings. {FIX}")
        if n_pairs is not None and vectors.shape[0] != n_pairs:
            raise ModelDataError(
                f"entity_normalizer: {where} has {vectors.shape[0]} alias embeddings for a KB of {n_pairs} "
                "aliases: the KB changed after they were computed. Run `python -m spacy_crf_ner "
                "rebuild-embeddings MODEL OUT`."
            )
        return cls(vectors)

    def to_list(self) -> List[bytes]:
        """RETURNS (List[bytes]): The float16 data and its shape, for msgpack."""
        return [self.vectors.astype(numpy.float16).tobytes(), list(self.vectors.shape)]  # type: ignore[list-item]
