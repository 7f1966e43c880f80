"""Scoring of entity normalization.

IDs are compared as *concept sets*. A gold or predicted ``kb_id`` is read by
:func:`parse_kb_id` into alternatives separated by ``|``, each a set of
concepts joined by ``+``: ``"D001|D002"`` -> ``[{D001}, {D002}]`` and
``"D001+D002"`` -> ``[{D001, D002}]``. A prediction is correct when one of its
alternatives equals one of the gold alternatives (:func:`ids_match`): for
``|`` any listed ID counts, for ``+`` the whole combination is needed.
"""
from functools import partial
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Tuple

from spacy.training import Example
from spacy.util import registry

CANDIDATES_KEY = "spacy_crf_ner.kb_candidates"


def parse_kb_id(kb_id: str) -> List[FrozenSet[str]]:
    """Read a possibly composite ID.

    kb_id (str): E.g. "D001", "D001|D002" or "OMIM:1+OMIM:2".
    RETURNS (List[FrozenSet[str]]): The alternatives, each a set of concept IDs.
    """
    out: List[FrozenSet[str]] = []
    for alt in kb_id.split("|"):
        parts = frozenset(p.strip() for p in alt.split("+") if p.strip())
        if parts and parts not in out:
            out.append(parts)
    return out


def canonical_kb_id(kb_id: str) -> str:
    """One spelling per composite ID: parts and alternatives sorted
    ("D2|D1" -> "D1|D2", "B+A" -> "A+B"), so that aliases harvested from
    differently ordered annotations count for the same KB entry.

    kb_id (str): An ID, possibly composite.
    RETURNS (str): The canonical spelling (a plain ID is returned unchanged).
    """
    if "|" not in kb_id and "+" not in kb_id:
        return kb_id
    return "|".join(sorted("+".join(sorted(alt)) for alt in parse_kb_id(kb_id)))


def ids_match(predicted: str, gold: str) -> bool:
    """Whether a predicted ID denotes the gold ID (see the module docstring).

    predicted (str): The predicted kb_id (may itself be composite).
    gold (str): The gold kb_id.
    RETURNS (bool): True if one predicted alternative equals one gold alternative.
    """
    if not predicted or not gold:
        return False
    gold_alts = parse_kb_id(gold)
    return any(alt in gold_alts for alt in parse_kb_id(predicted))


def ids_match_strict(predicted: str, gold: str) -> bool:
    """Stricter reading: the union of predicted concepts equals the union of gold
    concepts ("breast and ovarian cancer" needs both IDs).

    predicted (str): The predicted kb_id.
    gold (str): The gold kb_id.
    RETURNS (bool): Whether the concept sets are equal.
    """
    if not predicted or not gold:
        return False
    p = frozenset().union(*parse_kb_id(predicted))
    g = frozenset().union(*parse_kb_id(gold))
    return p == g


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


@registry.scorers("spacy-crf-ner.normalizer_scorer.v1")
def make_normalizer_scorer(k: int = 5, strict: bool = False) -> Callable[..., Dict[str, Any]]:
    """Registered scorer of the ``entity_normalizer`` component.

    k (int): The k of ``norm_recall_at_k``.
    strict (bool): Require all concepts of composite IDs.
    RETURNS (Callable): The scorer, called with examples.
    """

    # A partial of a module-level function, not a closure: the component
    # must pickle (spawned worker processes receive it pickled).
    return partial(score_normalization, k=k, strict=strict)
