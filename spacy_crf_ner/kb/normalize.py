"""String normalization for alias matching.

Every alias in a knowledge base and every mention is passed through the same
:func:`normalize` function, so two strings match exactly when their normal
forms are equal. The steps, each switchable in :class:`NormalizationConfig`:
Unicode NFKC, case folding, accent stripping, punctuation to spaces, whitespace
collapsing, token replacements (e.g. British to American spelling), removal of
stop-suffixes ("Inc.", "Corp.") and light plural handling (an S-stemmer after
Harman 1991).
"""
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import AbstractSet, Any, Dict, FrozenSet, Iterable, List, Tuple

import regex

_PUNCT_RE = re.compile(r"[^\w\s]|_", re.UNICODE)
_POSSESSIVE_RE = re.compile(r"(?<=\w)['\u2019]s\b", re.UNICODE)
_DOTTED_RE = re.compile(r"\b(?:\w\.){2,}(?:\w\b)?", re.UNICODE)
_SPACE_RE = re.compile(r"\s+", re.UNICODE)

DEFAULT_STOP_SUFFIXES: Tuple[str, ...] = (
    "inc",
    "inc.",
    "incorporated",
    "corp",
    "corp.",
    "corporation",
    "co",
    "co.",
    "company",
    "ltd",
    "ltd.",
    "limited",
    "llc",
    "plc",
    "gmbh",
    "ag",
    "s.a.",
    "sa",
)


# Singular nouns that end like plurals, of any domain; a domain adds its own
# (NormalizationConfig.singular_words, e.g. the biomedical preset's "diabetes").
DEFAULT_SINGULAR_WORDS: Tuple[str, ...] = ("series", "species", "news", "lens")
# The words built in before singular_words was a setting: what indexes saved
# then were normalized with.
LEGACY_SINGULAR_WORDS: Tuple[str, ...] = (
    "diabetes", "herpes", "rabies", "scabies", "series", "species", "measles", "mumps",
    "rickets", "aids", "news", "lens", "pancreas", "mucus", "virus", "tetanus",
)


@dataclass(frozen=True)
class NormalizationConfig:
    """Settings of :func:`normalize`.

    nfkc (bool): Apply Unicode NFKC (folds ligatures, full-width forms, superscripts).
    case_fold (bool): Apply ``str.casefold``.
    strip_accents (bool): Remove combining marks after NFD decomposition.
    punctuation (bool): Replace punctuation by spaces ("beta-catenin" -> "beta catenin").
    stop_suffixes (Tuple[str, ...]): Trailing words removed when something remains
        ("IBM Corp." -> "ibm"). Compared after the other steps.
    plurals (bool): Singularize each word with an S-stemmer ("tumours" -> "tumour").
    replacements (Tuple[Tuple[str, str], ...]): Regular expression substitutions applied
        to each word after the other word-level steps, e.g. ``("^tumour$", "tumor")``.
    roman_numerals (bool): Write Roman numerals after "type", "class", "grade", "stage",
        "group", "phase" or "factor" in digits ("type IIA" -> "type 2a").
    singular_words (Tuple[str, ...]): Words that end like plurals but are singular
        ("series"), left alone by ``plurals``.
    """

    nfkc: bool = True
    case_fold: bool = True
    strip_accents: bool = True
    punctuation: bool = True
    stop_suffixes: Tuple[str, ...] = DEFAULT_STOP_SUFFIXES
    plurals: bool = True
    replacements: Tuple[Tuple[str, str], ...] = ()
    roman_numerals: bool = True
    singular_words: Tuple[str, ...] = DEFAULT_SINGULAR_WORDS

    @classmethod
    def from_dict(cls, cfg: Dict[str, Any]) -> "NormalizationConfig":
        """Create a config from a (JSON-like) dict, e.g. a config section.

        cfg (Dict[str, Any]): Keys are field names; unknown keys raise ValueError.
        RETURNS (NormalizationConfig): The config.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(
                f"entity_normalizer: unknown normalization setting(s) {unknown}. "
                f"Use only {sorted(known)}."
            )
        values = dict(cfg)
        for name in ("stop_suffixes", "singular_words"):
            if name in values:
                if isinstance(values[name], str) or not all(isinstance(w, str) for w in values[name]):
                    raise ValueError(f"entity_normalizer: normalization {name} must be a list of strings, not {values[name]!r}.")
                values[name] = tuple(values[name])
        if "replacements" in values:
            pairs = values["replacements"]
            if not isinstance(pairs, (list, tuple)) or not all(
                isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in pairs
            ):
                raise ValueError(
                    "entity_normalizer: normalization replacements must be a list of "
                    f"[pattern, replacement] pairs, not {pairs!r}."
                )
            values["replacements"] = tuple(tuple(pair) for pair in pairs)
            for pattern, repl in values["replacements"]:
                compile_replacement(pattern, repl)
        return cls(**values)

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): JSON-serializable settings."""
        data = asdict(self)
        data["stop_suffixes"] = list(self.stop_suffixes)
        data["singular_words"] = list(self.singular_words)
        data["replacements"] = [list(pair) for pair in self.replacements]
        return data


# Seconds one replacement pattern may take on one word. Replacements come
# from a pipeline's saved settings: a pattern that backtracks catastrophically
# must not hang whoever loads the pipeline.
REPLACEMENT_TIMEOUT = 0.05


def compile_replacement(pattern: Any, repl: Any) -> Any:
    """Compile a replacement pattern with the `regex` module (whose matching
    takes a time limit), checking the pair.

    RAISES (ValueError): If the pair is not two strings or does not compile.
    """
    if not isinstance(pattern, str) or not isinstance(repl, str):
        raise ValueError(
            f"entity_normalizer: a replacement is a [pattern, replacement] pair of strings, "
            f"not {[pattern, repl]!r}."
        )
    try:
        compiled = regex.compile(pattern)
        compiled.sub(repl, "", timeout=REPLACEMENT_TIMEOUT)
    except (regex.error, IndexError, TimeoutError) as err:
        raise ValueError(f"entity_normalizer: invalid replacement {[pattern, repl]!r}: {err}.") from None
    return compiled


def strip_accents(text: str) -> str:
    """Remove combining marks ("Sjögren" -> "Sjogren").

    text (str): The input.
    RETURNS (str): The text without combining characters.
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def singularize(word: str, invariant: AbstractSet[str] = frozenset(DEFAULT_SINGULAR_WORDS)) -> str:
    """Light plural handling: the S-stemmer of Harman (1991), with guards for
    Latin/Greek singulars ending in -is, -us, -ss ("polyposis", "mellitus").

    word (str): A lower-cased word.
    invariant (AbstractSet[str]): Singular words that end like plurals, returned as they are.
    RETURNS (str): The singular form, or the word itself.
    """
    # Every rule below needs a final "s": most words end otherwise.
    if word[-1:] != "s" or len(word) <= 3 or not word.isalpha() or word in invariant:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes", "ses", "xes")):
        return word[:-1]
    if word.endswith("ses") and not word.endswith(("sses", "uses")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss", "is", "ys")):
        return word[:-1]
    return word


_NUMBERED_WORDS = frozenset(["type", "class", "grade", "stage", "group", "phase", "factor"])
_ROMAN_RE = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})([a-e]?)$")
_ROMAN_VALUES = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9}


def _roman_to_digits(word: str) -> str:
    """ "iia" -> "2a", "xiv" -> "14"; anything else unchanged."""
    m = _ROMAN_RE.match(word)
    if m is None or not (m.group(1) or m.group(2)):
        return word
    value = 10 * len(m.group(1)) + _ROMAN_VALUES.get(m.group(2), 0)
    return f"{value}{m.group(3)}"


def numbers(normal_form: str) -> FrozenSet[str]:
    """The numbers of a normal form, used to tell "type 1" from "type 2" or
    "C7 deficiency" from "C9 deficiency", where character n-grams barely
    differ: the leading digits of words that start with a digit ("type 2a" ->
    "2") and whole words that start with a letter and contain a digit
    (identifiers: "c9", "brca1").

    normal_form (str): A normalized string.
    RETURNS (FrozenSet[str]): The numbers and identifiers.
    """
    out = set()
    for word in normal_form.split():
        if word[0].isdigit():
            m = _LEADING_DIGITS_RE.match(word)
            if m:
                out.add(m.group())
        elif any(c.isdigit() for c in word):
            out.add(word)
    return frozenset(out)


_LEADING_DIGITS_RE = re.compile(r"\d+")


# Normal forms remembered per Normalizer (mentions repeat, and the
# component normalizes each mention twice: for the search and for
# document-level consistency).
_CACHE_SIZE = 200_000


class Normalizer:
    """Callable normalizer with precompiled settings.

    config (NormalizationConfig): The settings.
    """

    def __init__(self, config: NormalizationConfig) -> None:
        self.config = config
        self._suffixes = frozenset(
            self._basic(s).strip() for s in config.stop_suffixes if self._basic(s).strip()
        )
        # Longest suffix in words (after punctuation removal "s.a." is "s a").
        self._suffix_words = max((len(s.split()) for s in self._suffixes), default=0)
        self._replacements: List[Tuple[Any, str]] = [
            (compile_replacement(pattern, repl), repl) for pattern, repl in config.replacements
        ]
        self._singular = frozenset(w.casefold() for w in config.singular_words)
        self._cache: Dict[str, str] = {}

    def _basic(self, text: str) -> str:
        cfg = self.config
        if cfg.nfkc:
            text = unicodedata.normalize("NFKC", text)
        if cfg.case_fold:
            text = text.casefold()
        if cfg.strip_accents:
            text = strip_accents(text)
        # Each substitution runs only where its pattern can match: most
        # strings are letters, digits and spaces alone.
        if cfg.punctuation and not text.replace(" ", "").isalnum():
            # "Wilson's disease" -> "wilson disease", not "wilson s disease".
            if "'" in text or "\u2019" in text:
                text = _POSSESSIVE_RE.sub("", text)
            # Dotted acronyms: "I.B.M." -> "ibm", not "i b m".
            if "." in text:
                text = _DOTTED_RE.sub(lambda m: m.group().replace(".", ""), text)
            text = _PUNCT_RE.sub(" ", text)
        return text

    def words(self, text: str) -> List[str]:
        """Normalize ``text`` and return its words.

        text (str): The input string.
        RETURNS (List[str]): The normalized words.
        """
        words = self._basic(text).split()
        if self._suffixes:
            # A suffix list may contain multi-word entries after punctuation
            # removal ("s.a." -> "s a"), so compare growing tails.
            while len(words) > 1:
                if words[-1] in self._suffixes:
                    words = words[:-1]
                elif self._suffix_words > 1 and len(words) > 2 and " ".join(words[-2:]) in self._suffixes:
                    words = words[:-2]
                else:
                    break
        if self.config.plurals:
            # singularize needs a final "s": most words end otherwise.
            words = [singularize(w, self._singular) if w[-1] == "s" else w for w in words]
        if self.config.roman_numerals and not _NUMBERED_WORDS.isdisjoint(words[:-1]):
            words = [
                _roman_to_digits(w) if i and words[i - 1] in _NUMBERED_WORDS else w
                for i, w in enumerate(words)
            ]
        if self._replacements:
            out = []
            for w in words:
                for pattern, repl in self._replacements:
                    try:
                        w = pattern.sub(repl, w, timeout=REPLACEMENT_TIMEOUT)
                    except TimeoutError:
                        raise ValueError(
                            f"entity_normalizer: the replacement pattern {pattern.pattern!r} took more "
                            f"than {REPLACEMENT_TIMEOUT} s on the word {w[:80]!r} (catastrophic "
                            "backtracking, e.g. a nested quantifier such as '(a+)+'). Rewrite the pattern "
                            "in [components.entity_normalizer.normalization] replacements and re-save "
                            "the pipeline."
                        ) from None
                    except (regex.error, IndexError) as err:
                        raise ValueError(
                            f"entity_normalizer: the replacement of pattern {pattern.pattern!r} failed on "
                            f"the word {w[:80]!r}: {err}. Fix it in [components.entity_normalizer."
                            "normalization] replacements and re-save the pipeline."
                        ) from None
                out.extend(w.split())
            words = out
        return words

    def clear_cache(self) -> None:
        """Forget the normal forms remembered so far."""
        self._cache.clear()

    def __call__(self, text: str) -> str:
        """Normalize a string.

        text (str): The input string.
        RETURNS (str): The normal form: words joined by single spaces.
        """
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        result = " ".join(self.words(text))
        # Emptied when full, as the index's result cache is: a long-running
        # process keeps caching the strings it currently sees.
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[text] = result
        return result


def normalize(text: str, config: NormalizationConfig = NormalizationConfig()) -> str:
    """Normalize a string with the given settings (see :class:`NormalizationConfig`).

    text (str): The input string.
    config (NormalizationConfig): The settings.
    RETURNS (str): The normal form.
    """
    return Normalizer(config)(text)


def sorted_key(normal_form: str) -> str:
    """Word-order-insensitive key: the words of a normal form, sorted.

    Makes inverted names ("Arthritis, Rheumatoid") meet their natural order
    ("rheumatoid arthritis").

    normal_form (str): A string returned by :func:`normalize`.
    RETURNS (str): The sorted words joined by spaces.
    """
    return " ".join(sorted(normal_form.split()))


def invert_name(name: str) -> List[str]:
    """Variants of an inverted name "X, Y" (MeSH style): "Y X".

    "Arthritis, Juvenile Rheumatoid" -> ["Juvenile Rheumatoid Arthritis"]. Names
    with several commas ("Diabetes Mellitus, Type 2") are turned around the
    first comma only.

    name (str): A raw name.
    RETURNS (List[str]): Zero or one variant.
    """
    if "," not in name:
        return []
    head, _, rest = name.partition(",")
    head, rest = head.strip(), rest.strip()
    if not head or not rest:
        return []
    return [f"{rest.replace(',', '')} {head}"]


def char_ngrams(normal_form: str, n: int) -> List[str]:
    """Character n-grams of each word padded with one space on both sides
    (scikit-learn's ``char_wb`` analyzer).

    normal_form (str): A normalized string.
    n (int): The n-gram length.
    RETURNS (List[str]): The n-grams, with repetitions.
    """
    grams: List[str] = []
    for word in normal_form.split():
        padded = f" {word} "
        if len(padded) <= n:
            grams.append(padded)
            continue
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def unique(items: Iterable[str]) -> List[str]:
    """Remove duplicates, keeping the first occurrence's position.

    items (Iterable[str]): The items.
    RETURNS (List[str]): The distinct items in order.
    """
    return list(dict.fromkeys(items))
