"""Composite mentions: a coordination that names several entities sharing a
head ("breast and ovarian cancer" -> "breast cancer", "ovarian cancer").

A coordination whose conjuncts before the last only qualify the head
("familial or sporadic retinoblastoma", "stage II and III carcinomas") names
one entity and is not split; which words and patterns qualify is domain data
(:class:`~spacy_crf_ner.kb.rules.NormalizerRules`).
"""
import re
from typing import TYPE_CHECKING, List, MutableSequence, Optional, Sequence, Set, Tuple

from .candidates import PlainCandidates
from .rules import NormalizerRules

if TYPE_CHECKING:
    from .index import CandidateIndex

# A comma alone is no coordination: "Arthritis, Rheumatoid" is an inverted
# name, which the index matches as it is.
_COORDINATOR_RE = re.compile(r"\s(?:and|or|and/or|&)\s|/", re.I)
_CONJ_RE = re.compile(r"\s*(?:,\s*(?:and|or|and/or)\s+|,\s*|\s+(?:and|or|and/or|&)\s+|\s*/\s*)", re.I)


class CompositeSplitter:
    """Readings of coordinated mentions.

    rules (NormalizerRules): Which conjuncts qualify the head.
    """

    def __init__(self, rules: NormalizerRules) -> None:
        self.modifiers = frozenset(w.lower() for w in rules.composite_modifiers)
        self.patterns = [re.compile(p, re.I) for p in rules.modifier_patterns]

    def is_modifier(self, conjunct: str) -> bool:
        """Whether a conjunct qualifies the shared head ("familial", "non
        hereditary", "RCC-") rather than naming an entity of its own.

        conjunct (str): One conjunct of a coordination.
        RETURNS (bool): Whether it is a modifier.
        """
        text = conjunct.strip()
        # A suspended hyphen: "RCC- and VHL-associated tumors".
        if text.endswith("-") or any(p.fullmatch(text) for p in self.patterns):
            return True
        words = text.lower().split()
        if words and words[0] in ("non", "not"):
            words = words[1:]
        elif words and words[0].startswith("non-"):
            words[0] = words[0][4:]
        return bool(words) and all(w in self.modifiers for w in words)

    def readings(self, mention: str) -> Optional[List[List[str]]]:
        """The ways to read a coordination as several mentions.

        mention (str): The mention text.
        RETURNS (Optional[List[List[str]]]): Per reading, its parts: the
            conjuncts, then each conjunct with the last one's final 1, 2, ...
            words as its head. None if the mention is no coordination of entities.
        """
        if not _COORDINATOR_RE.search(mention):
            return None
        parts = [p for p in _CONJ_RE.split(mention) if p.strip()]
        if len(parts) < 2 or all(self.is_modifier(p) for p in parts[:-1]):
            return None
        last = parts[-1].split()
        readings: List[List[str]] = [parts]
        for n_head in range(1, len(last)):
            head = " ".join(last[-n_head:])
            readings.append([f"{p} {head}" for p in parts[:-1]] + [parts[-1]])
        return readings

    def link(
        self,
        index: "CandidateIndex",
        mentions: Sequence[str],
        allowed: Sequence[Optional[Set[str]]],
        results: MutableSequence[PlainCandidates],
        k: int,
    ) -> None:
        """Link the parts of coordinated mentions without an exact match: a
        reading whose parts all link, with a better lowest score than the
        mention's own best candidate, replaces it by a composite candidate
        ("D2|D3", the lowest score, "breast cancer | ovarian cancer").

        index (CandidateIndex): The index.
        mentions (Sequence[str]): The mention texts.
        allowed (Sequence[Optional[Set[str]]]): Per mention, its type filter.
        results (MutableSequence[Tuple[Tuple[str, float, str], ...]]): Per
            mention, its candidates; changed in place.
        k (int): Candidates kept per mention.
        """
        jobs: List[Tuple[int, List[List[str]]]] = []
        for i, mention in enumerate(mentions):
            if results[i] and results[i][0][1] >= 1.0:
                continue
            readings = self.readings(mention)
            if readings:
                jobs.append((i, readings))
        if not jobs:
            return
        parts = [part for _, readings in jobs for reading in readings for part in reading]
        parts_allowed = [allowed[i] for i, readings in jobs for reading in readings for _ in reading]
        linked = index.search(parts, k, parts_allowed).rows()
        pos = 0
        for i, readings in jobs:
            best: Optional[Tuple[float, List[Tuple[str, float, str]]]] = None
            for reading in readings:
                tops = [linked[pos + j][0] for j in range(len(reading)) if linked[pos + j]]
                pos += len(reading)
                if len(tops) == len(reading):
                    score = min(t[1] for t in tops)
                    if best is None or score > best[0]:
                        best = (score, tops)
            current = results[i][0][1] if results[i] else 0.0
            if best is None or best[0] <= current:
                continue
            score, tops = best
            composite_id = "|".join(dict.fromkeys(t[0] for t in tops))
            composite = (composite_id, score, " | ".join(t[2] for t in tops))
            results[i] = (composite, *[c for c in results[i] if c[0] != composite_id])[:k]
