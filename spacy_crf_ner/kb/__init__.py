"""Knowledge base, string normalization, abbreviations, domain rules and
candidate generation for the ``entity_normalizer`` component. Nothing here
needs spaCy except :mod:`.scoring`; numba is imported when a compiled kernel
first runs."""
from .abbreviations import Abbreviation, abbreviation_map, find_abbreviations
from .candidates import FEATURES, Candidate, CandidateBatch, rule_scores
from .ids import canonical_kb_id, ids_match, ids_match_strict, parse_kb_id
from .index import CandidateIndex, IndexConfig
from .knowledge_base import KBFormatError, KnowledgeBase
from .normalize import NormalizationConfig, Normalizer, normalize
from .rules import NormalizerRules, load_preset

__all__ = [
    "Abbreviation",
    "Candidate",
    "CandidateBatch",
    "CandidateIndex",
    "FEATURES",
    "IndexConfig",
    "KBFormatError",
    "KnowledgeBase",
    "NormalizationConfig",
    "Normalizer",
    "NormalizerRules",
    "abbreviation_map",
    "canonical_kb_id",
    "find_abbreviations",
    "ids_match",
    "ids_match_strict",
    "load_preset",
    "normalize",
    "parse_kb_id",
    "rule_scores",
]
