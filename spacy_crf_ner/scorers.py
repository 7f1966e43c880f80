"""Scorers registered for spaCy: the CRF components report spaCy's own
metric names (ents_p/r/f/per_type, spans_<key>_p/r/f/per_type as spancat
names them, tag_acc or pos_acc)."""
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple

from spacy.scorer import PRFScore, Scorer, get_ner_prf
from spacy.tokens import Doc
from spacy.training import Example


def ner_score(examples: Iterable[Example], *, spans_key: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
    """Entity precision, recall and F-score, overall and per type (ents_*),
    and, when `spans_key` is set, the same for the probable spans in
    doc.spans[spans_key] (spans_<key>_*), as spaCy's spancat names them.

    examples (Iterable[Example]): The examples to score.
    spans_key (Optional[str]): The key of the predicted span group, or None.
    RETURNS (Dict[str, Any]): The scores.
    """
    examples = list(examples)
    scores = get_ner_prf(examples, **kwargs)
    if spans_key:
        scores.update(span_score(examples, spans_key))
    return scores


def span_score(examples: Iterable[Example], spans_key: str) -> Dict[str, Any]:
    """Precision, recall and F-score of the predicted doc.spans[spans_key]
    against the gold entities (or the gold doc.spans[spans_key] where the
    reference has that group), overall and per type, under the keys
    spans_<key>_p/r/f/per_type. Spans may overlap. As for ents_*, a predicted
    span over tokens whose gold entity annotation is missing counts neither
    way, and references with no entity annotation are skipped.

    examples (Iterable[Example]): The examples to score.
    spans_key (str): The key of the span group.
    RETURNS (Dict[str, Any]): The scores.
    """
    attr = f"spans_{spans_key}"
    total = PRFScore()
    per_type: Dict[str, PRFScore] = {}
    for eg in examples:
        gold_doc = eg.reference
        from_group = spans_key in gold_doc.spans
        if not from_group and not gold_doc.has_annotation("ENT_IOB"):
            continue
        gold_spans = gold_doc.spans[spans_key] if from_group else gold_doc.ents
        gold: Set[Tuple[str, int, int]] = {(s.label_, s.start, s.end) for s in gold_spans}
        pred: Set[Tuple[str, int, int]] = set()
        for span in eg.predicted.spans.get(spans_key, []):
            indices = eg.alignment.x2y[span.start : span.end]
            if not len(indices):
                continue
            start, end = int(indices[0]), int(indices[-1]) + 1
            if not from_group and not _annotated(gold_doc, start, end):
                continue
            pred.add((span.label_, start, end))
        for label in {s[0] for s in gold | pred}:
            prf = per_type.setdefault(label, PRFScore())
            prf.score_set({s for s in pred if s[0] == label}, {s for s in gold if s[0] == label})
        total.score_set(pred, gold)
    if not len(total):
        return {f"{attr}_p": None, f"{attr}_r": None, f"{attr}_f": None, f"{attr}_per_type": None}
    return {
        f"{attr}_p": total.precision,
        f"{attr}_r": total.recall,
        f"{attr}_f": total.fscore,
        f"{attr}_per_type": {label: prf.to_dict() for label, prf in sorted(per_type.items())},
    }


def _annotated(doc: Doc, start: int, end: int) -> bool:
    return all(token.ent_iob != 0 for token in doc[start:end])


def make_ner_scorer() -> Callable:
    return ner_score


def tagger_score(examples: Iterable[Example], *, attr: str = "tag", **kwargs: Any) -> Dict[str, Any]:
    """Token accuracy of `attr` ("tag" gives tag_acc, "pos" gives pos_acc)."""
    kwargs.pop("labels", None)
    kwargs.pop("scheme", None)
    return Scorer.score_token_attr(examples, attr, **kwargs)


def make_tagger_scorer() -> Callable:
    return tagger_score
