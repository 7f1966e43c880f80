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
