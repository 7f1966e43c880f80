"""In-document abbreviation detection after Schwartz & Hearst (2003),
"A simple algorithm for identifying abbreviation definitions in biomedical
text", PSB 2003.

A definition is a long form followed by a short form in parentheses,
"Wilson disease (WD)", or the reverse, "WD (Wilson disease)". The long form is
the shortest span of preceding words in which the characters of the short form
appear in order, the first one starting a word.
"""
import re
from bisect import bisect_right
from typing import Dict, List, NamedTuple, Optional, Tuple

_PAREN_RE = re.compile(r"\(([^()]{1,120})\)")
_WORD_RE = re.compile(r"\S+")
# A definition does not reach back across these.
_BOUNDARY_RE = re.compile(r"[.;:!?]\s|[()\[\]]")


class Abbreviation(NamedTuple):
    """An abbreviation definition found in a text (character offsets)."""

    short: str
    short_start: int
    short_end: int
    long: str
    long_start: int
    long_end: int


def _is_short_form(text: str) -> bool:
    if not (2 <= len(text) <= 10):
        return False
    if len(text.split()) > 2:
        return False
    if not any(c.isalpha() for c in text):
        return False
    return text[0].isalnum()


def best_long_form(short: str, long: str) -> Optional[str]:
    """Schwartz & Hearst's match: the shortest suffix of ``long`` that contains
    the characters of ``short`` in order, right to left, with the first
    character of ``short`` starting a word.

    short (str): The short form, e.g. "WD".
    long (str): The words before the parenthesis.
    RETURNS (Optional[str]): The long form, or None if the characters do not match.
    """
    s_index = len(short) - 1
    l_index = len(long) - 1
    while s_index >= 0:
        c = short[s_index].lower()
        if not c.isalnum():
            s_index -= 1
            continue
        while (l_index >= 0 and long[l_index].lower() != c) or (
            s_index == 0 and l_index > 0 and long[l_index - 1].isalnum()
        ):
            l_index -= 1
        if l_index < 0:
            return None
        l_index -= 1
        s_index -= 1
    start = long.rfind(" ", 0, l_index + 1) + 1
    return long[start:]


def _initials_long_form(short: str, words: List[str]) -> Optional[str]:
    """Prefer the words whose initials spell the short form ("Hereditary
    hemochromatosis (HH)"), where the character match alone would stop at the
    shorter "hemochromatosis"."""
    letters = [c.lower() for c in short if c.isalpha()]
    if not letters or len(letters) != len([c for c in short if c.isalnum()]):
        return None
    n = len(letters)
    if len(words) < n:
        return None
    tail = words[-n:]
    if all(w[:1].lower() == c for w, c in zip(tail, letters)):
        return " ".join(tail)
    return None


def _candidate(
    text: str, short: str, s_start: int, window_end: int, window_start: int
) -> Optional[Abbreviation]:
    window = text[window_start:window_end]
    words = list(_WORD_RE.finditer(window))
    max_words = min(len(short) + 5, len(short) * 2)
    if not words:
        return None
    first = words[max(0, len(words) - max_words)].start()
    long_text = window[first:].rstrip()
    found = _initials_long_form(short, [w.group() for w in words]) or best_long_form(
        short, long_text
    )
    if found is None:
        return None
    found = found.strip()
    if len(found) <= len(short) or short.lower() in found.lower().split():
        return None
    if len(found.split()) > max_words:
        return None
    l_start = window_start + first + long_text.rfind(found)
    return Abbreviation(short, s_start, s_start + len(short), found, l_start, l_start + len(found))


def find_abbreviations(text: str) -> List[Abbreviation]:
    """All abbreviation definitions of a text, in order of appearance.

    text (str): The text, e.g. ``doc.text``.
    RETURNS (List[Abbreviation]): The definitions.
    """
    found: List[Abbreviation] = []
    # Where each sentence or bracket boundary ends, found once: a boundary
    # never reaches into the "(" after it, so those before a parenthesis are
    # the ones a search that stops there would find.
    boundary_ends = [b.end() for b in _BOUNDARY_RE.finditer(text)]
    for m in _PAREN_RE.finditer(text):
        inner = m.group(1)
        inner_stripped = inner.strip()
        # Text before "(" up to a sentence or bracket boundary.
        before_end = m.start()
        last = bisect_right(boundary_ends, before_end) - 1
        window_start = boundary_ends[last] if last >= 0 else 0
        # "(SF)", "(SF; other text)" or "(other text; SF)": try each chunk.
        abbr = None
        for chunk in re.split(r"[;,]\s", inner_stripped):
            short = chunk.strip()
            if _is_short_form(short):
                s_start = m.start(1) + inner.find(short)
                abbr = _candidate(text, short, s_start, before_end, window_start)
                if abbr is not None:
                    break
        if abbr is not None:
            found.append(abbr)
            continue
        # Reverse pattern: "SF (long form)".
        words_before = list(_WORD_RE.finditer(text, window_start, before_end))
        if words_before and len(inner_stripped.split()) > 1:
            w = words_before[-1]
            short = w.group().strip(",")
            if _is_short_form(short) and best_long_form(short, inner_stripped) is not None:
                long = best_long_form(short, inner_stripped) or ""
                if len(long) > len(short) and len(long.split()) <= min(len(short) + 5, len(short) * 2):
                    l_start = m.start(1) + inner.find(long)
                    found.append(
                        Abbreviation(short, w.start(), w.start() + len(short), long, l_start, l_start + len(long))
                    )
    return found


def split_definition(abbr: Abbreviation) -> List[Tuple[str, str]]:
    """Definitions of the parts of a hyphenated short form: "HPT-JT" defined as
    "hyperparathyroidism-jaw tumor syndrome" gives "HPT" -> "hyperparathyroidism"
    and "JT" -> "jaw tumor syndrome", so later mentions of a part alone ("HPT",
    "primary HPT") resolve too. Parts are matched right to left with
    :func:`best_long_form` on the long form's words (split at spaces and hyphens).

    abbr (Abbreviation): A definition.
    RETURNS (List[Tuple[str, str]]): (part, long form of the part); empty if the
        short form has no hyphen or a part does not match.
    """
    parts = [p for p in abbr.short.split("-")]
    if len(parts) < 2 or any(len(p) < 2 or not p[0].isalnum() for p in parts):
        return []
    rest = " ".join(re.split(r"[\s-]+", abbr.long)).strip()
    out: List[Tuple[str, str]] = []
    for i, part in enumerate(reversed(parts)):
        found = best_long_form(part, rest)
        last = i == len(parts) - 1
        if found is None or len(found) <= len(part):
            return []
        if last:
            found = rest  # the first part takes all remaining words
        rest = rest[: len(rest) - len(found)].strip()
        if not last and not rest:
            return []
        out.append((part, found))
    return out


def abbreviation_map(text: str) -> Dict[str, Abbreviation]:
    """Short form -> its first definition in the text, plus the parts of
    hyphenated short forms (see :func:`split_definition`).

    text (str): The text.
    RETURNS (Dict[str, Abbreviation]): The definitions by short form.
    """
    out: Dict[str, Abbreviation] = {}
    found = find_abbreviations(text)
    for abbr in found:
        out.setdefault(abbr.short, abbr)
    for abbr in found:
        for part, long in split_definition(abbr):
            if part not in out:
                out[part] = abbr._replace(short=part, long=long)
    return out


# A short form with a numbered subtype: "MEN2", "MEN-2a".
_SUBTYPE_RE = re.compile(r"^([A-Za-z][A-Za-z-]*?)-?([0-9]+[A-Za-z]?)$")


def expand(text: str, long_forms: Dict[str, str], subtype_expansion: str = "") -> str:
    """Replace the short forms defined in a document by their long forms.

    A word that is a short form, or a hyphenated word whose parts are ("IF-GLD";
    a suspended hyphen stays: "RCC- and ..."), is replaced; with
    ``subtype_expansion`` (e.g. "{long} type {number}"), so is a short form
    followed by a number ("MEN2").

    text (str): A mention.
    long_forms (Dict[str, str]): Short form -> long form.
    subtype_expansion (str): Template of a numbered short form, or "" for none.
    RETURNS (str): The expanded mention (``text`` itself if nothing changed).
    """
    if not long_forms:
        return text
    if text in long_forms:
        return long_forms[text]
    out = []
    changed = False
    for w in text.split():
        if w in long_forms:
            out.append(long_forms[w])
            changed = True
            continue
        m = _SUBTYPE_RE.match(w) if subtype_expansion else None
        if m and m.group(1) in long_forms:
            out.append(subtype_expansion.format(long=long_forms[m.group(1)], number=m.group(2)))
            changed = True
            continue
        if "-" in w:
            parts = w.split("-")
            if any(p in long_forms for p in parts):
                expanded = " ".join(long_forms.get(p, p) for p in parts if p)
                out.append(expanded + "-" if w.endswith("-") else expanded)
                changed = True
                continue
        out.append(w)
    return " ".join(out) if changed else text
