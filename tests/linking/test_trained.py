"""The trained mode's loss (spacy_crf_ner/linking/trained.py)."""
import numpy
from thinc.api import NumpyOps

from spacy_crf_ner.linking.candidates import FROM_DENSE, FROM_SPARSE, N_JOINED
from spacy_crf_ner.linking.ranker import RankerInput, RankerOutput
from spacy_crf_ner.linking.trained import ranking_loss, softmax


def inputs(found_by_search):
    """Two mentions, three candidates each; the gold (column 0) of the first
    came from the sparse search, that of the second from ``found_by_search``."""
    features = numpy.zeros((2, 3, N_JOINED), dtype=numpy.float32)
    features[:, 1:, FROM_SPARSE] = 1.0
    features[0, 0, FROM_SPARSE] = 1.0
    if found_by_search:
        features[1, 0, FROM_DENSE] = 1.0
    return RankerInput(
        docs=[], spans=numpy.zeros((2, 3), dtype=numpy.int64), mentions=["a", "b"], features=features,
        mask=numpy.ones((2, 3), dtype=bool), alias_index=numpy.asarray([[0, 1, 2], [3, 1, 2]]),
    )


def test_gold_that_no_search_found_trains_retrieval_not_ranking():
    ops = NumpyOps()
    scores = numpy.asarray([[0.5, 1.0, -1.0], [0.2, 2.0, 0.0]], dtype=numpy.float32)
    retrieval = numpy.asarray([[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.3]], dtype=numpy.float32)
    gold = numpy.asarray([0, 0])
    output = RankerOutput(ops.asarray2f(scores), ops.asarray2f(retrieval))
    loss_found, d_found = ranking_loss(ops, output, gold, inputs(found_by_search=True))
    loss_added, d_added = ranking_loss(ops, output, gold, inputs(found_by_search=False))
    # The first mention's ranking gradient is the same; the second's is zero
    # when its gold was only added for training.
    expected = softmax(scores, None)
    expected[:, 0] -= 1.0
    assert numpy.allclose(d_found.scores, expected / 2)
    assert numpy.allclose(d_added.scores[0], expected[0] / 2) and not d_added.scores[1].any()
    assert loss_added < loss_found
    # The retrieval term (the mention against its gold alias) is trained in both.
    assert numpy.allclose(d_found.retrieval, d_added.retrieval) and d_added.retrieval[1].any()
