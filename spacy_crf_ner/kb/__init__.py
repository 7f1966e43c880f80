"""Knowledge base, string normalization, abbreviations and candidate generation
for the ``entity_normalizer`` component."""
from .abbreviations import Abbreviation, abbreviation_map, find_abbreviations
from .candidates import Candidate, CandidateIndex, CandidateTuple, IndexConfig
from .knowledge_base import KBFormatError, KnowledgeBase
from .normalize import NormalizationConfig, Normalizer, normalize
from .scoring import ids_match, ids_match_strict, parse_kb_id, score_normalization

__all__ = [
    "Abbreviation",
    "Candidate",
    "CandidateIndex",
    "CandidateTuple",
    "IndexConfig",
    "KBFormatError",
    "KnowledgeBase",
    "NormalizationConfig",
    "Normalizer",
    "abbreviation_map",
    "find_abbreviations",
    "ids_match",
    "ids_match_strict",
    "normalize",
    "parse_kb_id",
    "score_normalization",
]
