import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_crf_ner.kb.normalize import (
    NormalizationConfig,
    Normalizer,
    char_ngrams,
    invert_name,
    normalize,
    singularize,
    sorted_key,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Wilson Disease", "wilson disease"),
        ("  Wilson\t disease ", "wilson disease"),
        ("Sjögren's syndrome", "sjogren syndrome"),
        ("ＩＢＭ", "ibm"),  # full-width letters: NFKC
        ("ﬁbrosis", "fibrosis"),  # ligature: NFKC
        ("beta-catenin", "beta catenin"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # case folding, not lower()
        ("IBM Corp.", "ibm"),
        ("Apple Inc", "apple"),
        ("Acme Co. Ltd.", "acme"),
        ("Corp.", "corp"),  # a suffix alone is kept
        ("skin tumours", "skin tumour"),
        ("abnormalities", "abnormality"),
        ("familial adenomatous polyposis", "familial adenomatous polyposis"),
        ("diabetes mellitus", "diabete mellitus"),
        ("a series of lenses", "a series of lense"),
        ("colon cancers", "colon cancer"),
    ],
)
def test_normalize_default(text, expected):
    assert normalize(text) == expected


def test_normalize_switches():
    cfg = NormalizationConfig(case_fold=False, plurals=False, stop_suffixes=(), strip_accents=False)
    assert normalize("IBM Corp. tumours", cfg) == "IBM Corp tumours"
    assert normalize("Sjögren", cfg) == "Sjögren"
    cfg = NormalizationConfig(punctuation=False)
    assert normalize("beta-catenin", cfg) == "beta-catenin"


def test_normalize_replacements():
    cfg = NormalizationConfig(replacements=(("^tumour$", "tumor"), ("^(cancer|carcinoma)$", "neoplasm")))
    assert normalize("Skin Tumours", cfg) == "skin tumor"
    assert normalize("breast carcinoma", cfg) == "breast neoplasm"


def test_config_from_dict_roundtrip():
    cfg = NormalizationConfig.from_dict({"plurals": False, "stop_suffixes": ["gmbh"], "replacements": [["a", "b"]]})
    assert cfg.plurals is False
    assert cfg.stop_suffixes == ("gmbh",)
    assert NormalizationConfig.from_dict(cfg.to_dict()) == cfg


def test_config_unknown_key():
    with pytest.raises(ValueError, match="entity_normalizer.*unknown normalization setting.*lowercase"):
        NormalizationConfig.from_dict({"lowercase": True})


@pytest.mark.parametrize(
    "word,expected",
    [("cases", "case"), ("diseases", "disease"), ("studies", "study"), ("mellitus", "mellitus"),
     ("class", "class"), ("diagnosis", "diagnosis"), ("was", "was"), ("cells", "cell")],
)
def test_singularize(word, expected):
    assert singularize(word) == expected


def test_invert_name_and_sorted_key():
    assert invert_name("Arthritis, Juvenile Rheumatoid") == ["Juvenile Rheumatoid Arthritis"]
    assert invert_name("Diabetes Mellitus, Type 2") == ["Type 2 Diabetes Mellitus"]
    assert invert_name("Wilson Disease") == []
    assert sorted_key("rheumatoid arthritis") == sorted_key("arthritis rheumatoid")


def test_char_ngrams():
    assert char_ngrams("ab cde", 3) == [" ab", "ab ", " cd", "cde", "de "]
    assert char_ngrams("a", 3) == [" a "]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F), max_size=40))
def test_normal_form_shape(text):
    norm = Normalizer(NormalizationConfig())
    out = norm(text)
    assert out == out.strip()
    assert "  " not in out
    assert out == out.casefold()
    # Case and surrounding punctuation never change the normal form.
    assert norm(f"({text}).") == out


def test_numbers_and_roman_numerals():
    from spacy_crf_ner.kb.normalize import numbers

    assert normalize("von Willebrand disease type IID") == "von willebrand disease type 2d"
    assert normalize("Diabetes Mellitus, Type II") == "diabetes mellitu type 2" or normalize(
        "Diabetes Mellitus, Type II"
    ).endswith("type 2")
    assert normalize("type A") == "type a"  # a letter alone is not a numeral
    assert normalize("type IID", NormalizationConfig(roman_numerals=False)) == "type iid"
    assert numbers("type 2a c9 deficiency brca1 x") == {"2", "c9", "brca1"}
    assert numbers("no numbers") == frozenset()


def _basic_reference(text: str) -> str:
    """Every step of Normalizer._basic applied unconditionally."""
    import unicodedata

    from spacy_crf_ner.kb.normalize import _DOTTED_RE, _POSSESSIVE_RE, _PUNCT_RE, strip_accents

    text = strip_accents(unicodedata.normalize("NFKC", text).casefold())
    text = _POSSESSIVE_RE.sub("", text)
    text = _DOTTED_RE.sub(lambda m: m.group().replace(".", ""), text)
    return _PUNCT_RE.sub(" ", text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ9 _'\u2019.,-/é\u00b2\t\u3000\u0130ﬁ"), max_size=16) | st.text(max_size=16))
def test_basic_skips_only_substitutions_that_cannot_match(text):
    assert Normalizer(NormalizationConfig())._basic(text) == _basic_reference(text)


def test_cache_is_emptied_when_full(monkeypatch):
    import importlib

    # The package exports a function named normalize, which hides the module.
    monkeypatch.setattr(importlib.import_module("spacy_crf_ner.kb.normalize"), "_CACHE_SIZE", 3)
    norm = Normalizer(NormalizationConfig())
    for text in ["A", "B", "C", "D"]:
        assert norm(text) == text.lower()
    # Full at three strings: the fourth emptied it, then was added.
    assert norm._cache == {"D": "d"}
    assert norm("D") == "d" and norm("Wilson's Disease") == "wilson disease"


def test_backtracking_replacement_is_stopped():
    """Replacements come from a saved pipeline's settings: a pattern that
    backtracks catastrophically stops with an error naming it, in well under
    a second, instead of hanging."""
    import time

    from spacy_crf_ner.kb.normalize import NormalizationConfig, Normalizer

    norm = Normalizer(NormalizationConfig.from_dict({"replacements": [["(a|aa)+$", "x"]]}))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"replacement pattern '\(a\|aa\)\+\$' took more than"):
        norm("a" * 40 + "b")
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("pairs", [[["(", "x"]], [["a"]], "ab", [[1, "x"]]])
def test_bad_replacements_fail_when_read(pairs):
    from spacy_crf_ner.kb.normalize import NormalizationConfig

    with pytest.raises(ValueError, match="replacement"):
        NormalizationConfig.from_dict({"replacements": pairs})


def test_singular_words_are_a_setting():
    """Domain words that end like plurals come from settings (the biomedical
    preset lists "diabetes"); the default knows only words of any domain."""
    config = NormalizationConfig(singular_words=("diabetes", "series"))
    assert normalize("Diabetes mellitus series", config) == "diabetes mellitus series"
    assert NormalizationConfig.from_dict({"singular_words": ["mumps"]}).singular_words == ("mumps",)
    with pytest.raises(ValueError, match="singular_words must be a list of strings"):
        NormalizationConfig.from_dict({"singular_words": "mumps"})
