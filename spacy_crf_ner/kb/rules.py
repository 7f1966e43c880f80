"""Domain rules of the ``entity_normalizer``, as data.

The mechanisms are generic (a coordination whose conjuncts only qualify the
shared head is not split; a defined short form with a numbered subtype is
expanded; some words that end in "s" are singular); what they apply to
depends on the domain. A preset is a JSON file of these fields shipped in
``spacy_crf_ner/kb/presets/``, chosen by the component's ``rules.preset``
setting; the default is no preset: domain-neutral. A published preset is
never edited (saved pipelines name it): changed rules get a new name.
"""
import json
import re
from dataclasses import asdict, dataclass, replace
from importlib import resources
from typing import Any, Dict, List, Sequence, Tuple

from .normalize import LEGACY_SINGULAR_WORDS

# What pipelines saved before the rules were settings applied (built in then).
LEGACY_PRESET = "biomedical"


def preset_names() -> List[str]:
    """RETURNS (List[str]): The names of the presets shipped with the package."""
    folder = resources.files("spacy_crf_ner.kb") / "presets"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


@dataclass(frozen=True)
class NormalizerRules:
    """Domain rules of the ``entity_normalizer``.

    composite_modifiers (Tuple[str, ...]): Words that qualify the shared head when
        coordinated ("familial or sporadic retinoblastoma"): a coordination whose
        conjuncts before the last are such words (optionally after "non") is not split.
    modifier_patterns (Tuple[str, ...]): Regular expressions; a conjunct matching one
        as a whole (case-insensitive) qualifies the head too ("stage II and III
        carcinomas"). A conjunct ending in a suspended hyphen ("RCC- and
        VHL-associated tumors") always does.
    subtype_expansion (str): How a defined short form followed by a number is
        expanded, e.g. "{long} type {number}" ("MEN2" -> "multiple endocrine
        neoplasia type 2" after "multiple endocrine neoplasia (MEN)"). Empty: not expanded.
    singular_words (Tuple[str, ...]): Words that end like plurals but are singular
        ("diabetes"), added to ``normalization.singular_words``.
    """

    composite_modifiers: Tuple[str, ...] = ()
    modifier_patterns: Tuple[str, ...] = ()
    subtype_expansion: str = ""
    singular_words: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("composite_modifiers", "modifier_patterns", "singular_words"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(w, str) for w in value):
                raise ValueError(f"entity_normalizer: rules {name} must be a list of strings, not {value!r}.")
        for pattern in self.modifier_patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"entity_normalizer: rules modifier_patterns: {pattern!r} is no regular expression ({err}).") from None
        if not isinstance(self.subtype_expansion, str):
            raise ValueError(f"entity_normalizer: rules subtype_expansion must be a string, not {self.subtype_expansion!r}.")
        if self.subtype_expansion:
            try:
                self.subtype_expansion.format(long="x", number="1")
            except (KeyError, IndexError, ValueError) as err:
                raise ValueError(
                    f"entity_normalizer: rules subtype_expansion {self.subtype_expansion!r} must use only "
                    f"{{long}} and {{number}} ({type(err).__name__}: {err})."
                ) from None

    @classmethod
    def from_dict(cls, cfg: Dict[str, Any]) -> "NormalizerRules":
        """cfg (Dict[str, Any]): Field values (lists for the tuples).
        RETURNS (NormalizerRules): The rules.
        RAISES (ValueError): On an unknown field or a bad value.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"entity_normalizer: unknown rules setting(s) {unknown}. Use only {sorted(known)}.")
        default = cls()
        return cls(
            composite_modifiers=_strings(cfg.get("composite_modifiers", default.composite_modifiers)),
            modifier_patterns=_strings(cfg.get("modifier_patterns", default.modifier_patterns)),
            subtype_expansion=cfg.get("subtype_expansion", default.subtype_expansion),
            singular_words=_strings(cfg.get("singular_words", default.singular_words)),
        )

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): JSON-serializable settings."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def merge(self, other: "NormalizerRules") -> "NormalizerRules":
        """other (NormalizerRules): Rules to add (lists are joined, a non-empty
        subtype_expansion replaces this one's).
        RETURNS (NormalizerRules): The union.
        """
        return NormalizerRules(
            composite_modifiers=tuple(dict.fromkeys(self.composite_modifiers + other.composite_modifiers)),
            modifier_patterns=tuple(dict.fromkeys(self.modifier_patterns + other.modifier_patterns)),
            subtype_expansion=other.subtype_expansion or self.subtype_expansion,
            singular_words=tuple(dict.fromkeys(self.singular_words + other.singular_words)),
        )


def _strings(value: Any) -> Tuple[str, ...]:
    """A list of strings as a tuple; anything else is left for the check in __post_init__."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def load_preset(name: str) -> NormalizerRules:
    """The rules of a preset shipped with the package.

    name (str): The preset's name, e.g. "biomedical".
    RETURNS (NormalizerRules): Its rules.
    RAISES (ValueError): If there is no such preset.
    """
    names = preset_names()
    if name not in names:
        raise ValueError(
            f"entity_normalizer: no rules preset {name!r}. Use one of {names}, or null and give "
            "the rules as lists in [components.entity_normalizer.rules]."
        )
    text = (resources.files("spacy_crf_ner.kb") / "presets" / f"{name}.json").read_text(encoding="utf8")
    return _from_json(json.loads(text), f"preset {name!r}")


def resolve_rules(cfg: Dict[str, Any]) -> NormalizerRules:
    """The rules of an ``entity_normalizer``'s ``rules`` setting: a preset's
    (``"preset"``: a name or None) joined with the lists given beside it.

    cfg (Dict[str, Any]): The setting, e.g. ``{"preset": "biomedical"}``.
    RETURNS (NormalizerRules): The rules.
    RAISES (ValueError): On an unknown preset or setting, or a bad value.
    """
    cfg = dict(cfg)
    preset = cfg.pop("preset", None)
    if preset is not None and not isinstance(preset, str):
        raise ValueError(f"entity_normalizer: rules preset must be a name or null, not {preset!r}.")
    extra = NormalizerRules.from_dict(cfg)
    return load_preset(preset).merge(extra) if preset else extra


def legacy_rules(composite_modifiers: Sequence[str]) -> Dict[str, Any]:
    """The ``rules`` setting that reproduces the rules built in before rules
    were settings, with these composite modifiers.

    composite_modifiers (Sequence[str]): The modifiers the old settings listed.
    RETURNS (Dict[str, Any]): The setting.
    """
    rules = replace(load_preset(LEGACY_PRESET), composite_modifiers=tuple(composite_modifiers))
    return {"preset": None, **rules.to_dict()}


def upgrade_settings(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """An ``entity_normalizer``'s saved settings, as saved before ``rules`` and
    ``normalization.singular_words`` existed, turned into the settings that
    reproduce what those versions did; newer settings are returned as they are.

    cfg (Dict[str, Any]): The saved settings.
    RETURNS (Dict[str, Any]): The settings.
    """
    cfg = dict(cfg)
    if "rules" not in cfg:
        cfg["rules"] = legacy_rules(cfg.pop("composite_modifiers", load_preset(LEGACY_PRESET).composite_modifiers))
    normalization = cfg.get("normalization")
    if isinstance(normalization, dict) and "singular_words" not in normalization:
        cfg["normalization"] = {**normalization, "singular_words": list(LEGACY_SINGULAR_WORDS)}
    return cfg


def _from_json(data: Any, where: str) -> NormalizerRules:
    if not isinstance(data, dict):
        raise ValueError(f"entity_normalizer: {where} must hold a JSON object of rules.")
    data = {k: v for k, v in data.items() if k != "description"}
    try:
        return NormalizerRules.from_dict(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"entity_normalizer: {where}: {err}") from None
