"""Document-level consistency of linked mentions: mentions of one document
that read the same get the same result, and ties go to an ID the document
names unambiguously elsewhere."""
from typing import Dict, List, Sequence, Tuple

from .candidates import Candidate

Candidates = List[Candidate]


def consistent(cands: Sequence[Candidates], keys: Sequence[Tuple[str, str]]) -> List[Candidates]:
    """Document-level consistency: a mention whose (normal form, label) equals
    an earlier mention's takes the better-scored result of the two, and among
    tied candidates an ID that another mention matches exactly and
    unambiguously wins.

    cands (List[List[Candidate]]): Per mention of a document, its candidates.
    keys (List[Tuple[str, str]]): Per mention, its normal form and label.
    RETURNS (List[List[Candidate]]): The candidates, reordered where needed.
    """
    out = list(cands)
    if len(set(keys)) < len(keys):  # some text repeats
        best_by_key: Dict[Tuple[str, str], Candidates] = {}
        for c, key in zip(cands, keys):
            if c and (key not in best_by_key or c[0][1] > best_by_key[key][0][1]):
                best_by_key[key] = c
        out = [best_by_key.get(key, c) for c, key in zip(cands, keys)]
    # Exact and unambiguous: not the arbitrary first of a tie.
    certain = {x[0][0] for x in cands if x and x[0][1] >= 1.0 and (len(x) == 1 or x[1][1] < 1.0)}
    for i, c in enumerate(out):
        if len(c) > 1 and c[0][1] == c[1][1]:
            tied = [x for x in c if x[1] == c[0][1]]
            out[i] = sorted(tied, key=lambda x: x[0] not in certain) + list(c[len(tied) :])
    return out
