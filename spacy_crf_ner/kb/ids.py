"""KB IDs: reading composite IDs and matching them.

IDs are compared as *concept sets*. A gold or predicted ``kb_id`` is read by
:func:`parse_kb_id` into alternatives separated by ``|``, each a set of
concepts joined by ``+``: ``"D001|D002"`` -> ``[{D001}, {D002}]`` and
``"D001+D002"`` -> ``[{D001, D002}]``. A prediction is correct when one of its
alternatives equals one of the gold alternatives (:func:`ids_match`): for
``|`` any listed ID counts, for ``+`` the whole combination is needed.
"""
from typing import FrozenSet, List


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
