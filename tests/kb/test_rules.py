import json

import pytest

from spacy_crf_ner.kb.rules import NormalizerRules, load_preset, preset_names, resolve_rules


def test_default_is_domain_neutral():
    rules = resolve_rules({"preset": None})
    assert rules == NormalizerRules() and rules.to_dict()["composite_modifiers"] == []


def test_biomedical_preset():
    assert "biomedical" in preset_names()
    rules = load_preset("biomedical")
    assert "familial" in rules.composite_modifiers and "diabetes" in rules.singular_words
    assert rules.subtype_expansion == "{long} type {number}"
    # Lists beside a preset are added to it.
    more = resolve_rules({"preset": "biomedical", "composite_modifiers": ["acquired"]})
    assert more.composite_modifiers == rules.composite_modifiers + ("acquired",)
    assert NormalizerRules.from_dict(json.loads(json.dumps(more.to_dict()))) == more


@pytest.mark.parametrize(
    "cfg,match",
    [
        ({"preset": "legal"}, "no rules preset 'legal'.*biomedical"),
        ({"preset": 3}, "preset must be a name"),
        ({"modifier": []}, "unknown rules setting"),
        ({"modifier_patterns": ["("]}, "no regular expression"),
        ({"composite_modifiers": "familial"}, "list of strings"),
        ({"subtype_expansion": "{long} {kind}"}, "only {long} and {number}"),
    ],
)
def test_errors_name_the_setting(cfg, match):
    with pytest.raises(ValueError, match=match):
        resolve_rules(cfg)
