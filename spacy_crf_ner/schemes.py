"""Tag schemes as pure functions: tag inventories, spans <-> tags, and the
transition constraints that the CRF applies in training and decoding.

Internally the CRF uses BIO or BILUO (also known as BIOES). IOB1, the scheme
of the CoNLL-2003 files, is accepted on input and converted to BIO. spaCy's
own aligned gold tags (``Example.get_aligned_ner()``) are BILUO with ``None``
for missing values, and are converted with ``biluo_to_scheme``.

A ``None`` tag means "unknown": the CRF sums over every tag allowed there.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy

OUT = "O"
# A span as (start token, end token exclusive, label)
SpanTuple = Tuple[int, int, str]


def normalize_scheme(scheme: str) -> str:
    """Return the canonical name of a scheme (BIOES is BILUO) or raise a
    ValueError that says which schemes exist."""
    name = scheme.upper() if scheme.lower() != "tags" else "tags"
    if name == "BIOES":
        return "BILUO"
    if name not in ("BIO", "BILUO", "tags"):
        raise ValueError(
            f"Unknown tag scheme {scheme!r}: use one of 'BIO', 'BILUO' "
            "(also called 'BIOES') for entities or 'tags' for plain token tags."
        )
    return name


def tag_names(scheme: str, labels: Sequence[str]) -> List[str]:
    """The tag inventory for a scheme and a set of labels, in a fixed order:
    "O" first, then each label's tags. For the "tags" scheme the labels are the
    tags themselves.

    scheme (str): "BIO", "BILUO"/"BIOES" or "tags".
    labels (Sequence[str]): Entity labels, or token tags for "tags".
    RETURNS (List[str]): The tag names, indexed as the CRF's output columns.
    """
    scheme = normalize_scheme(scheme)
    if scheme == "tags":
        return list(labels)
    prefixes = "BI" if scheme == "BIO" else "BILU"
    return [OUT] + [f"{p}-{label}" for label in labels for p in prefixes]


def split_tag(tag: str) -> Tuple[str, str]:
    """Split "B-PER" into ("B", "PER"); "O" gives ("O", "")."""
    if tag == OUT:
        return OUT, ""
    prefix, sep, label = tag.partition("-")
    if not sep or prefix not in ("B", "I", "L", "U", "E", "S") or not label:
        raise ValueError(
            f"Invalid entity tag {tag!r}: expected 'O' or a prefix B, I, L, U "
            "(or E, S) followed by '-' and a label, e.g. 'B-PER'."
        )
    return {"E": "L", "S": "U"}.get(prefix, prefix), label


def allowed_transitions(
    scheme: str, tags: Sequence[str]
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Which tag may follow which, and which may start or end a sequence.

    The CRF adds these as hard masks (-inf) to its transition, start and end
    scores, in the likelihood and in Viterbi alike, and never trains them.

    scheme (str): "BIO", "BILUO"/"BIOES" or "tags" (no constraints).
    tags (Sequence[str]): The tag inventory, e.g. from `tag_names`.
    RETURNS (Tuple[ndarray, ndarray, ndarray]): Boolean arrays `trans` of shape
        (K, K) where trans[i, j] says tag j may follow tag i, `start` (K,) and
        `end` (K,).
    """
    scheme = normalize_scheme(scheme)
    n = len(tags)
    trans = numpy.ones((n, n), dtype=bool)
    start = numpy.ones((n,), dtype=bool)
    end = numpy.ones((n,), dtype=bool)
    if scheme == "tags":
        return trans, start, end
    parts = [split_tag(t) for t in tags]
    for i, (p_i, l_i) in enumerate(parts):
        if scheme == "BIO":
            # An entity never opens with I-X: I-X only continues B-X or I-X.
            start[i] = p_i != "I"
        else:
            # An entity opens with B-X or U-X and closes with L-X or U-X.
            start[i] = p_i in (OUT, "B", "U")
            end[i] = p_i in (OUT, "L", "U")
        for j, (p_j, l_j) in enumerate(parts):
            if scheme == "BIO":
                # I-X may only follow B-X or I-X of the same label.
                trans[i, j] = p_j != "I" or (p_i in ("B", "I") and l_i == l_j)
            elif p_i in ("B", "I"):
                # B-X and I-X may only be followed by I-X or L-X.
                trans[i, j] = p_j in ("I", "L") and l_i == l_j
            else:
                # After O, L-X or U-X a new entity starts (B, U) or O follows.
                trans[i, j] = p_j in (OUT, "B", "U")
    return trans, start, end


def spans_to_tags(
    length: int, spans: Iterable[SpanTuple], scheme: str
) -> List[str]:
    """Encode non-overlapping spans as tags for `length` tokens.

    length (int): The number of tokens.
    spans (Iterable[Tuple[int, int, str]]): (start, end exclusive, label).
    scheme (str): "BIO" or "BILUO"/"BIOES".
    RETURNS (List[str]): One tag per token.
    """
    scheme = normalize_scheme(scheme)
    tags = [OUT] * length
    for start, end, label in spans:
        if not 0 <= start < end <= length:
            raise ValueError(f"Span ({start}, {end}, {label!r}) is outside 0..{length}.")
        if any(t != OUT for t in tags[start:end]):
            raise ValueError(f"Span ({start}, {end}, {label!r}) overlaps another span.")
        if scheme == "BILUO" and end - start == 1:
            tags[start] = f"U-{label}"
            continue
        tags[start] = f"B-{label}"
        for k in range(start + 1, end):
            tags[k] = f"I-{label}"
        if scheme == "BILUO":
            tags[end - 1] = f"L-{label}"
    return tags


def entity_tags(scheme: str, length: int, label: str) -> List[str]:
    """The tags of one entity of `length` tokens, e.g. B-X I-X L-X."""
    scheme = normalize_scheme(scheme)
    if scheme == "BILUO":
        if length == 1:
            return [f"U-{label}"]
        return [f"B-{label}"] + [f"I-{label}"] * (length - 2) + [f"L-{label}"]
    return [f"B-{label}"] + [f"I-{label}"] * (length - 1)


def tags_to_spans(tags: Sequence[str], scheme: str) -> List[SpanTuple]:
    """Decode tags into spans. Valid sequences (as the constrained CRF emits)
    decode exactly; invalid ones are repaired the way conlleval reads them:
    an I-X that does not continue an X entity opens a new one.

    tags (Sequence[str]): One tag per token, in BIO, BILUO or IOB1.
    scheme (str): "BIO", "BILUO"/"BIOES".
    RETURNS (List[Tuple[int, int, str]]): (start, end exclusive, label).
    """
    normalize_scheme(scheme)
    spans: List[SpanTuple] = []
    cur_start: Optional[int] = None
    cur_label = ""
    for k, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        continues = cur_start is not None and label == cur_label and prefix in ("I", "L")
        if cur_start is not None and not continues:
            spans.append((cur_start, k, cur_label))
            cur_start = None
        if prefix == OUT:
            continue
        if cur_start is None:
            cur_start, cur_label = k, label
        if prefix in ("L", "U"):
            spans.append((cur_start, k + 1, cur_label))
            cur_start = None
    if cur_start is not None:
        spans.append((cur_start, len(tags), cur_label))
    return spans


def iob1_to_bio(tags: Sequence[str]) -> List[str]:
    """Convert IOB1 (CoNLL-2003: I-X may open an entity, B-X only separates two
    adjacent entities of one type) to BIO, where every entity opens with B-X."""
    out: List[str] = []
    prev_label = ""
    for tag in tags:
        prefix, label = split_tag(tag)
        if prefix == "I" and label != prev_label:
            prefix = "B"
        out.append(OUT if prefix == OUT else f"{prefix}-{label}")
        prev_label = label
    return out


_BILUO_TO_BIO = {"U": "B", "L": "I"}


def biluo_to_scheme(tags: Sequence[Optional[str]], scheme: str) -> List[Optional[str]]:
    """Convert BILUO tags with missing values (spaCy's aligned gold) to the
    CRF's scheme, keeping `None` (and spaCy's "-") as missing."""
    scheme = normalize_scheme(scheme)
    out: List[Optional[str]] = []
    for tag in tags:
        if tag is None or tag == "-" or tag == "":
            out.append(None)
        elif scheme == "BIO" and tag != OUT:
            prefix, label = split_tag(tag)
            prefix = _BILUO_TO_BIO.get(prefix, prefix)
            out.append(f"{prefix}-{label}")
        else:
            out.append(tag)
    return out


def continuation_tags(scheme: str, label: str) -> List[str]:
    """The tags that would extend an entity of `label` into the next token, so
    that scoring a span can require it to end where it ends. In BILUO an entity
    closes with L-X or U-X, after which the constraints already forbid I-X."""
    scheme = normalize_scheme(scheme)
    return [f"I-{label}"] if scheme == "BIO" else []


INPUT_SCHEMES = ("IOB1", "BIO", "BILUO")


def find_invalid_tag(tags: Sequence[str], scheme: str) -> Optional[Tuple[int, str]]:
    """The first tag that a tag scheme cannot interpret, and why.

    Tags must be "O" or a prefix, "-" and a label. "IOB1" (CoNLL-2003) takes
    prefixes B and I, and lets I-X open an entity; "BIO" (also called IOB2)
    takes B and I, and I-X only continues B-X or I-X; "BILUO" (or "BIOES")
    takes B, I, L, U (E, S), with every entity opened by B or U and closed by
    L or U.

    tags (Sequence[str]): One tag per token.
    scheme (str): "IOB1", "BIO"/"IOB2" or "BILUO"/"BIOES".
    RETURNS (Optional[Tuple[int, str]]): (token index, reason), or None if
        every tag is valid.
    """
    name = scheme.upper()
    name = {"IOB2": "BIO", "BIOES": "BILUO"}.get(name, name)
    if name not in INPUT_SCHEMES:
        raise ValueError(f"Unknown tag scheme {scheme!r}: use 'IOB1', 'BIO' (IOB2) or 'BILUO' (BIOES).")
    prefixes = ("B", "I") if name != "BILUO" else ("B", "I", "L", "U", "E", "S")
    open_label: Optional[str] = None  # the label of an entity that the next tag may continue
    for i, tag in enumerate(tags):
        if tag == OUT:
            if name == "BILUO" and open_label is not None:
                return i - 1, f"entity {open_label!r} is not closed by L-{open_label} or U-{open_label}"
            open_label = None
            continue
        prefix, sep, label = tag.partition("-")
        if not sep or prefix not in prefixes or not label or label.strip() != label:
            return i, (
                f"{tag!r} is not 'O' or one of the prefixes {'/'.join(prefixes)}, '-' and a label "
                f"(e.g. 'B-PER')"
            )
        prefix = {"E": "L", "S": "U"}.get(prefix, prefix)
        if name == "BIO" and prefix == "I" and open_label != label:
            return i, f"{tag!r} does not continue a {label} entity (BIO entities open with B-{label})"
        if name == "BILUO":
            if prefix in ("I", "L") and open_label != label:
                return i, f"{tag!r} does not continue a {label} entity (BILUO entities open with B- or U-)"
            if prefix in ("B", "U") and open_label is not None:
                return i - 1, f"entity {open_label!r} is not closed by L-{open_label} or U-{open_label}"
            open_label = label if prefix in ("B", "I") else None
        else:
            open_label = label
    if name == "BILUO" and open_label is not None:
        return len(tags) - 1, f"entity {open_label!r} is not closed by L-{open_label} or U-{open_label}"
    return None
