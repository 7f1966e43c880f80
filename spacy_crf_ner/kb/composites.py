"""Composite mentions: a coordination that names several entities sharing a
head ("breast and ovarian cancer" -> "breast cancer", "ovarian cancer").

A coordination whose conjuncts before the last only qualify the head
("familial or sporadic retinoblastoma", "stage II and III carcinomas") names
one entity and is not split; which words and patterns qualify is domain data
(:class:`~spacy_crf_ner.kb.rules.NormalizerRules`).
"""
import re
from typing import List, Optional

from .rules import NormalizerRules

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
