"""Scorers registered for spaCy: the CRF components report spaCy's own
metric names (ents_p/r/f/per_type, tag_acc or pos_acc)."""
from typing import Any, Callable, Dict, Iterable

from spacy.scorer import Scorer, get_ner_prf
from spacy.training import Example
from spacy.util import registry


def ner_score(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """Entity precision, recall and F-score, overall and per type."""
    return get_ner_prf(examples, **kwargs)


@registry.scorers("spacy-crf-ner.ner_scorer.v1")
def make_ner_scorer() -> Callable:
    return ner_score


def tagger_score(examples: Iterable[Example], *, attr: str = "tag", **kwargs: Any) -> Dict[str, Any]:
    """Token accuracy of `attr` ("tag" gives tag_acc, "pos" gives pos_acc)."""
    kwargs.pop("labels", None)
    kwargs.pop("scheme", None)
    return Scorer.score_token_attr(examples, attr, **kwargs)


@registry.scorers("spacy-crf-ner.tagger_scorer.v1")
def make_tagger_scorer() -> Callable:
    return tagger_score
