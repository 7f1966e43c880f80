import pytest

from spacy_crf_ner.kb.composites import CompositeSplitter
from spacy_crf_ner.kb.rules import NormalizerRules, load_preset

BIOMEDICAL = CompositeSplitter(load_preset("biomedical"))
NEUTRAL = CompositeSplitter(NormalizerRules())


@pytest.mark.parametrize(
    "conjunct,expected",
    [
        ("familial", True),
        ("non hereditary", True),
        ("non-familial", True),
        ("stage II", True),
        ("grades 3", True),
        ("VHL-associated", True),
        ("drug induced", True),
        ("RCC-", True),
        ("von Hippel-Lindau disease-associated", True),
        ("von Hippel-Lindau associated", True),  # "VHL-associated", VHL expanded
        ("breast", False),
        ("C6", False),
        ("type 1", False),  # subtypes are distinct diseases
        ("hyperparathyroidism", False),
        ("stage", False),
        ("ovarian", False),
    ],
)
def test_is_modifier(conjunct, expected):
    assert BIOMEDICAL.is_modifier(conjunct) is expected


def test_readings():
    assert BIOMEDICAL.readings("breast and ovarian cancer") == [
        ["breast", "ovarian cancer"],
        ["breast cancer", "ovarian cancer"],
    ]
    # A comma alone is no coordination (an inverted name).
    assert BIOMEDICAL.readings("Arthritis, Rheumatoid") is None
    assert BIOMEDICAL.readings("familial or sporadic retinoblastoma") is None
    assert BIOMEDICAL.readings("stage II and III colorectal carcinomas") is None
    assert BIOMEDICAL.readings("RCC- and VHL-associated tumors") is None
    # Without the domain's words only the suspended hyphen is a modifier.
    assert NEUTRAL.readings("familial or sporadic retinoblastoma") is not None
    assert NEUTRAL.readings("RCC- and VHL-associated tumors") is None


def test_link_makes_composite_candidates():
    from spacy_crf_ner.kb import CandidateIndex, KnowledgeBase

    kb = KnowledgeBase()
    kb.add_entity("D2", "Breast Neoplasms", ["breast cancer"])
    kb.add_entity("D3", "Ovarian Neoplasms", ["ovarian cancer"])
    kb.add_entity("R1", "Retinoblastoma", ["sporadic retinoblastoma", "familial retinoblastoma"])
    index = CandidateIndex.build(kb)
    mentions = ["breast and ovarian cancer", "familial or sporadic retinoblastoma", "breast cancer"]
    results = index.search(mentions, 3).rows()
    exact = results[2]
    BIOMEDICAL.link(index, mentions, [None] * 3, results, 3)
    assert results[0][0] == ("D2|D3", 1.0, "breast cancer | ovarian cancer")
    assert results[1][0][0] == "R1" and "|" not in results[1][0][0]
    assert results[2] is exact  # an exact match is left alone
