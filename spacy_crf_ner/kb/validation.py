"""Checks of the knowledge base and candidate index data read from disk or
bytes, before any of it reaches the compiled kernels.

The kernels index arrays without bounds checks, so a damaged or hand-edited
file could make them read or write outside an array. Every array is checked
for its dtype, shape, monotone row pointers and index ranges, and the
cross-references between the KB and the index (alias -> entity row, key ->
alias pair, n-gram column -> vocabulary, neighbour -> key) are checked
against the sizes of the tables they point into. A failed check raises
:class:`ModelDataError` naming the file and the fix.
"""

from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy

FIX = (
    "The file is damaged or was not written by this version of spacy-crf-ner: re-save the "
    "pipeline, or rebuild the knowledge base (`python -m spacy_crf_ner build-kb`) and "
    "re-initialize the entity_normalizer."
)

# Names a field's source: the file it was read from (or the bytes' field).
Where = Callable[[str], str]


class ModelDataError(ValueError):
    """Data of a saved knowledge base, index or model is invalid. The message
    names the file and the fix."""


def fail(where: Where, field: str, what: str) -> ModelDataError:
    return ModelDataError(f"entity_normalizer: invalid {field} in {where(field)}: {what}. {FIX}")


def string_list(data: Dict[str, Any], field: str, where: Where) -> List[str]:
    """data[field] as a list of strings."""
    if field not in data:
        raise fail(where, field, "missing")
    value = data[field]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise fail(where, field, "expected a list of strings")
    return list(value)


def array(
    data: Dict[str, Any],
    field: str,
    where: Where,
    dtype: Any,
    ndim: int = 1,
    length: Optional[int] = None,
) -> numpy.ndarray:
    """data[field] as a C-contiguous array of exactly `dtype` and `ndim`
    dimensions (and `length` rows if given)."""
    if field not in data:
        raise fail(where, field, "missing")
    value = data[field]
    if isinstance(value, (list, tuple)):
        try:
            value = numpy.asarray(value)
        except (ValueError, TypeError):
            raise fail(where, field, "not an array") from None
        if value.size == 0:
            value = value.astype(dtype)
    if not isinstance(value, numpy.ndarray):
        raise fail(where, field, f"expected an array, got {type(value).__name__}")
    want = numpy.dtype(dtype)
    if value.dtype != want:
        # Integer arrays of another width are accepted if their values fit.
        if want.kind in "iu" and value.dtype.kind in "iu":
            info = numpy.iinfo(want)
            if value.size and (value.min() < info.min or value.max() > info.max):
                raise fail(where, field, f"values do not fit {want}")
        elif not (want.kind == "f" and value.dtype.kind == "f"):
            raise fail(where, field, f"dtype {value.dtype}, expected {want}")
        value = value.astype(want)
    if value.ndim != ndim:
        raise fail(where, field, f"{value.ndim} dimensions, expected {ndim}")
    if length is not None and value.shape[0] != length:
        raise fail(where, field, f"{value.shape[0]} rows, expected {length}")
    if want.kind == "f" and not numpy.isfinite(value).all():
        raise fail(where, field, "values that are not finite")
    return numpy.ascontiguousarray(value)


def in_range(
    values: numpy.ndarray, low: int, high: int, field: str, where: Where, target: str
) -> None:
    """All values in [low, high): indices into `target`."""
    if values.size and (int(values.min()) < low or int(values.max()) >= high):
        raise fail(where, field, f"indices outside {low}..{high - 1} ({target})")


def row_pointers(
    ptr: numpy.ndarray, n_rows: int, n_items: int, field: str, where: Where, items: str
) -> None:
    """A CSR row pointer: n_rows + 1 entries from 0 to n_items, never decreasing."""
    if ptr.shape[0] != n_rows + 1:
        raise fail(where, field, f"{ptr.shape[0]} entries, expected {n_rows + 1}")
    if ptr[0] != 0 or ptr[-1] != n_items:
        raise fail(where, field, f"must run from 0 to {n_items} (the length of {items})")
    if n_rows and (numpy.diff(ptr) < 0).any():
        raise fail(where, field, "row pointers that decrease")


def unique(values: Sequence[str], field: str, where: Where) -> None:
    if len(set(values)) != len(values):
        raise fail(where, field, "repeated entries")


def validate_kb(data: Dict[str, Any], where: Where) -> Dict[str, Any]:
    """Check the fields of ``KnowledgeBase.to_dict`` and return them, arrays
    with their dtypes."""
    if not isinstance(data, dict):
        raise fail(where, "ids", "expected a mapping of fields")
    out: Dict[str, Any] = {}
    out["ids"] = string_list(data, "ids", where)
    n = len(out["ids"])
    unique(out["ids"], "ids", where)
    for field in ("names", "descriptions"):
        out[field] = string_list(data, field, where)
        if len(out[field]) != n:
            raise fail(where, field, f"{len(out[field])} entries for {n} entities")
    types = data.get("types")
    if (
        not isinstance(types, (list, tuple))
        or len(types) != n
        or not all(
            isinstance(t, (list, tuple)) and all(isinstance(s, str) for s in t) for t in types
        )
    ):
        raise fail(where, "types", f"expected {n} lists of strings")
    out["types"] = types
    out["alias_texts"] = string_list(data, "alias_texts", where)
    n_pairs = len(out["alias_texts"])
    out["alias_entities"] = array(data, "alias_entities", where, numpy.int32, length=n_pairs)
    in_range(out["alias_entities"], 0, n, "alias_entities", where, "the KB's entity rows")
    out["alias_counts"] = array(data, "alias_counts", where, numpy.int32, length=n_pairs)
    return out


def validate_index(data: Dict[str, Any], n_aliases: int, where: Where) -> Dict[str, Any]:
    """Check the arrays of ``CandidateIndex.to_dict`` against each other and
    against a KB with `n_aliases` (alias, entity) pairs; return them with
    their dtypes. The settings are checked by their own classes."""
    if not isinstance(data, dict):
        raise fail(where, "keys", "expected a mapping of fields")
    out: Dict[str, Any] = {}
    for field in ("normalization", "config"):
        if not isinstance(data.get(field), dict):
            raise fail(where, field, "expected a mapping of settings")
        out[field] = data[field]
    out["keys"] = keys = string_list(data, "keys", where)
    unique(keys, "keys", where)
    out["vocab"] = vocab = string_list(data, "vocab", where)
    unique(vocab, "vocab", where)
    out["key_ptr"] = array(data, "key_ptr", where, numpy.int64)
    out["key_pairs"] = array(data, "key_pairs", where, numpy.int32)
    row_pointers(out["key_ptr"], len(keys), len(out["key_pairs"]), "key_ptr", where, "key_pairs")
    in_range(
        out["key_pairs"], 0, n_aliases, "key_pairs", where, "the KB's aliases: index and KB differ"
    )
    out["idf"] = array(data, "idf", where, numpy.float32, length=len(vocab))
    out["row_ptr"] = array(data, "row_ptr", where, numpy.int64)
    out["row_cols"] = array(data, "row_cols", where, numpy.int32)
    out["row_vals"] = array(data, "row_vals", where, numpy.float32, length=len(out["row_cols"]))
    row_pointers(out["row_ptr"], len(keys), len(out["row_cols"]), "row_ptr", where, "row_cols")
    in_range(out["row_cols"], 0, len(vocab), "row_cols", where, "the n-gram vocabulary")
    if "neighbour_params" in data:
        params = data["neighbour_params"]
        if (
            not isinstance(params, (list, tuple))
            or len(params) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in params)
        ):
            raise fail(where, "neighbour_params", "expected two positive integers")
        out["neighbour_params"] = list(params)
        nb_keys = array(data, "neighbour_keys", where, numpy.int32, ndim=2, length=len(keys))
        if nb_keys.shape[1] > params[1]:
            raise fail(
                where,
                "neighbour_keys",
                f"{nb_keys.shape[1]} columns for {params[1]} keys per query",
            )
        in_range(nb_keys, -1, len(keys), "neighbour_keys", where, "the index's keys")
        out["neighbour_keys"] = nb_keys
        nb_scores = array(data, "neighbour_scores", where, numpy.float32, ndim=2, length=len(keys))
        if nb_scores.shape != nb_keys.shape:
            raise fail(
                where, "neighbour_scores", f"shape {nb_scores.shape}, expected {nb_keys.shape}"
            )
        out["neighbour_scores"] = nb_scores
        out["neighbour_more"] = array(data, "neighbour_more", where, numpy.bool_, length=len(keys))
    return out
