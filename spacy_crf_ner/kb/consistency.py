"""Document-level consistency of linked mentions: mentions of one document
that read the same get the same result, and ties go to an ID the document
names unambiguously elsewhere."""
from typing import Dict, List, Sequence, Tuple

# A mention's candidates, best first: (id, score, alias) tuples.
Candidates = Tuple[Tuple[str, float, str], ...]


def consistent(cands: Sequence[Candidates], keys: Sequence[Tuple[str, str]]) -> List[Candidates]:
    """Document-level consistency: a mention whose (normal form, label) equals
    an earlier mention's takes the better-scored result of the two, and among
    tied candidates an ID that another mention matches exactly and
    unambiguously wins.

    cands (Sequence[Tuple[Tuple[str, float, str], ...]]): Per mention of a
        document, its candidates, best first.
    keys (Sequence[Tuple[str, str]]): Per mention, its normal form and label.
    RETURNS (List[Tuple[Tuple[str, float, str], ...]]): The candidates, reordered where needed.
    """
    out = list(cands)
    if len(set(keys)) < len(keys):  # some text repeats
        best_by_key: Dict[Tuple[str, str], Candidates] = {}
        for c, key in zip(cands, keys):
            if c and (key not in best_by_key or c[0][1] > best_by_key[key][0][1]):
                best_by_key[key] = c
        out = [best_by_key.get(key, c) for c, key in zip(cands, keys)]
    certain = None
    for i, c in enumerate(out):
        if len(c) > 1 and c[0][1] == c[1][1]:
            if certain is None:
                # Exact and unambiguous: not the arbitrary first of a tie.
                certain = {x[0][0] for x in cands if x and x[0][1] >= 1.0 and (len(x) == 1 or x[1][1] < 1.0)}
            tied = [x for x in c if x[1] == c[0][1]]
            out[i] = (*sorted(tied, key=lambda x: x[0] not in certain), *c[len(tied) :])  # type: ignore[operator]
    return out
