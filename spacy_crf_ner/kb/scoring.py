"""Scoring of entity normalization: spaCy's entity-linking metrics
(``nel_micro_p/r/f``) plus accuracy at 1 and recall at k, with IDs compared by
:func:`~spacy_crf_ner.kb.ids.ids_match`."""
from functools import partial
from typing import Any, Callable, Dict, Iterable, Tuple

from spacy.training import Example

# parse_kb_id and canonical_kb_id were defined here before ids.py: still importable.
from .ids import canonical_kb_id, ids_match, ids_match_strict, parse_kb_id  # noqa: F401

CANDIDATES_KEY = "spacy_crf_ner.kb_candidates"


def _prf(tp: int, fp: int, fn: int) -> Tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score_normalization(
    examples: Iterable[Example], k: int = 5, strict: bool = False, **cfg: Any
) -> Dict[str, Any]:
    """Score linked entities against gold entities with ``kb_id`` set.

    ``nel_micro_p/r/f``: (span, ID) pairs, as spaCy's entity linker scores them:
    a predicted entity with a ``kb_id`` that matches a gold span with a
    ``kb_id`` is a true positive if the IDs match, else a false positive and a
    false negative; a gold span with an ID that no prediction links is a false
    negative; predicted entities on spans without gold IDs are ignored.
    ``norm_acc_at_1``: among gold spans with an ID that are predicted as
    entities, the share whose top prediction matches. ``norm_recall_at_k``: the
    share with a matching ID among the top-k candidates.

    examples (Iterable[Example]): Predicted and reference docs.
    k (int): The k of recall@k.
    strict (bool): Use :func:`ids_match_strict` instead of :func:`ids_match`.
    RETURNS (Dict[str, Any]): The scores.
    """
    match: Callable[[str, str], bool] = ids_match_strict if strict else ids_match
    tp = fp = fn = 0
    n_gold = n_top1 = n_topk = 0
    for eg in examples:
        pred_doc = eg.predicted
        cands_by_span: Dict[Any, Any] = pred_doc.user_data.get(CANDIDATES_KEY, {}) or {}
        pred_by_span = {(e.start_char, e.end_char): e for e in pred_doc.ents}
        for gold in eg.reference.ents:
            if not gold.kb_id_:
                continue
            key = (gold.start_char, gold.end_char)
            pred = pred_by_span.get(key)
            if pred is None or not pred.kb_id_:
                fn += 1
            elif match(pred.kb_id_, gold.kb_id_):
                tp += 1
            else:
                fp += 1
                fn += 1
            if pred is not None:
                n_gold += 1
                if pred.kb_id_ and match(pred.kb_id_, gold.kb_id_):
                    n_top1 += 1
                cands = cands_by_span.get(_span_key(pred), [])
                if any(match(c[0], gold.kb_id_) for c in cands[:k]):
                    n_topk += 1
    p, r, f = _prf(tp, fp, fn)
    return {
        "nel_micro_p": p,
        "nel_micro_r": r,
        "nel_micro_f": f,
        "norm_acc_at_1": n_top1 / n_gold if n_gold else 0.0,
        "norm_recall_at_k": n_topk / n_gold if n_gold else 0.0,
    }


def span_id_prf(examples: Iterable[Example], strict: bool = False) -> Dict[str, float]:
    """End-to-end (span, ID) micro P/R/F: a predicted entity is correct when its
    offsets equal a gold entity's and its ID matches; every predicted entity
    with an ID counts (unlike ``nel_micro_*``).

    examples (Iterable[Example]): Predicted and reference docs.
    strict (bool): Use :func:`ids_match_strict`.
    RETURNS (Dict[str, float]): span_id_p, span_id_r, span_id_f.
    """
    match = ids_match_strict if strict else ids_match
    tp = n_pred = n_gold = 0
    for eg in examples:
        gold = {(e.start_char, e.end_char): e.kb_id_ for e in eg.reference.ents if e.kb_id_}
        n_gold += len(gold)
        for e in eg.predicted.ents:
            if not e.kb_id_:
                continue
            n_pred += 1
            g = gold.get((e.start_char, e.end_char))
            if g is not None and match(e.kb_id_, g):
                tp += 1
    p, r, f = _prf(tp, n_pred - tp, n_gold - tp)
    return {"span_id_p": p, "span_id_r": r, "span_id_f": f}


def _span_key(span: Any) -> str:
    return f"{span.start_char}:{span.end_char}"


def make_normalizer_scorer(k: int = 5, strict: bool = False) -> Callable[..., Dict[str, Any]]:
    """The ``entity_normalizer``'s scorer, ``spacy-crf-ner.normalizer_scorer.v1``
    (registered by its entry point).

    k (int): The k of ``norm_recall_at_k``.
    strict (bool): Require all concepts of composite IDs.
    RETURNS (Callable): The scorer, called with examples.
    """

    # A partial of a module-level function, not a closure: the component
    # must pickle (spawned worker processes receive it pickled).
    return partial(score_normalization, k=k, strict=strict)
