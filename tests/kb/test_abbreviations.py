import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_crf_ner.kb.abbreviations import abbreviation_map, best_long_form, find_abbreviations


@pytest.mark.parametrize(
    "text,short,long",
    [
        ("Patients with Wilson disease (WD) were studied.", "WD", "Wilson disease"),
        ("Hereditary hemochromatosis (HH) is common.", "HH", "Hereditary hemochromatosis"),
        ("mutations of adenomatous polyposis coli (APC), a protein", "APC", "adenomatous polyposis coli"),
        ("in insulin-dependent diabetes mellitus (IDDM) patients", "IDDM", "insulin-dependent diabetes mellitus"),
        ("The HPRT (hypoxanthine phosphoribosyltransferase) gene", "HPRT", "hypoxanthine phosphoribosyltransferase"),
    ],
)
def test_definitions(text, short, long):
    found = find_abbreviations(text)
    assert [(a.short, a.long) for a in found] == [(short, long)]
    a = found[0]
    assert text[a.short_start : a.short_end] == short
    assert text[a.long_start : a.long_end] == long


@pytest.mark.parametrize(
    "text",
    ["in 12 patients (10%)", "was significant (p < 0.05)", "a gene (see below for details and more)", "cancer (ABC)"],
)
def test_no_definition(text):
    assert find_abbreviations(text) == []


def test_best_long_form():
    assert best_long_form("WD", "patients with Wilson disease") == "Wilson disease"
    assert best_long_form("XYZ", "Wilson disease") is None


def test_first_definition_wins():
    text = "Wilson disease (WD) ... Waardenburg deafness (WD)."
    assert abbreviation_map(text)["WD"].long == "Wilson disease"


def test_hyphenated_short_form_parts():
    text = "Hereditary hyperparathyroidism-jaw tumor syndrome (HPT-JT) is rare. HPT and JT were seen."
    found = {k: v.long for k, v in abbreviation_map(text).items()}
    assert found["HPT-JT"] == "hyperparathyroidism-jaw tumor syndrome"
    assert found["HPT"] == "hyperparathyroidism"
    assert found["JT"] == "jaw tumor syndrome"
    text = "adult onset globoid cell leukodystrophy (Krabbe disease; AO-GLD) in patients"
    found = {k: v.long for k, v in abbreviation_map(text).items()}
    assert found["GLD"] == "globoid cell leukodystrophy"
    assert found["AO"] == "adult onset"


def test_long_text_with_many_parentheses_is_linear(monkeypatch):
    """Boundaries are searched once per text, not once per parenthesis (which
    made texts with many parentheses quadratic)."""
    import spacy_crf_ner.kb.abbreviations as abbreviations

    calls = []
    pattern = abbreviations._BOUNDARY_RE

    class Counting:
        def finditer(self, *args):
            calls.append(args[1:])
            return pattern.finditer(*args)

    monkeypatch.setattr(abbreviations, "_BOUNDARY_RE", Counting())
    text = "Wilson disease (WD) and more words here " * 2000
    found = abbreviations.find_abbreviations(text)
    assert len(found) == 2000 and {a.long for a in found} == {"Wilson disease"}
    assert len(calls) == 1


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab (.;)[]: \n!?AB", max_size=60))
def test_window_start_is_the_last_boundary_before_the_parenthesis(text):
    import spacy_crf_ner.kb.abbreviations as abbreviations

    ends = [b.end() for b in abbreviations._BOUNDARY_RE.finditer(text)]
    for m in abbreviations._PAREN_RE.finditer(text):
        before = list(abbreviations._BOUNDARY_RE.finditer(text, 0, m.start()))
        want = before[-1].end() if before else 0
        got = max([e for e in ends if e <= m.start()], default=0)
        assert got == want


def test_expand():
    from spacy_crf_ner.kb.abbreviations import expand

    long_forms = {"WD": "Wilson disease", "HLD": "hepatolenticular degeneration", "RCC": "renal cell carcinoma"}
    assert expand("WD", long_forms) == "Wilson disease"
    assert expand("WD-HLD patients", long_forms) == "Wilson disease hepatolenticular degeneration patients"
    # A suspended hyphen stays.
    assert expand("RCC- and VHL-associated tumors", long_forms) == "renal cell carcinoma- and VHL-associated tumors"
    # Numbered subtypes only with a template (a domain rule).
    assert expand("WD2 carriers", long_forms) == "WD2 carriers"
    assert expand("WD2 carriers", long_forms, "{long} type {number}") == "Wilson disease type 2 carriers"
    assert expand("nothing here", long_forms) == "nothing here"
