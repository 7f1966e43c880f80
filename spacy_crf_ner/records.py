"""Records in, annotated records out: the engine-agnostic core of annotation.

Local `annotate`, the Ray engine (`spacy_crf_ner.distributed`) and any other
engine (a Spark `mapInPandas` or Dask `map_partitions` function) share these
functions, so that every engine writes the same records and reports the same
errors:

- `parse_jsonl_line` turns one raw input line into a record or a reason;
- `check_record` says why a record cannot be annotated (or None);
- `annotate_records` runs `nlp.pipe` over records and yields output records;
- `annotate_table` does the same for a pyarrow Table or pandas DataFrame and
  returns a typed Arrow table plus one error per rejected row;
- `entity_type` and `token_type` are the Arrow types of the output columns.
"""
import json
import logging
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, TypeVar

from spacy.language import Language
from spacy.tokens import Doc, Span

logger = logging.getLogger("spacy_crf_ner")

Context = TypeVar("Context")


def _arrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise ImportError("Typed (Arrow/Parquet) output needs pyarrow: pip install pyarrow") from None
    return pyarrow


def entity_type() -> Any:
    """The Arrow type of one entity: a struct with character offsets, label,
    text, confidence, KB ID and KB candidates (a list of id/score/alias)."""
    pa = _arrow()
    candidate = pa.struct([("id", pa.string()), ("score", pa.float64()), ("alias", pa.string())])
    return pa.struct(
        [
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("label", pa.string()),
            ("text", pa.string()),
            ("confidence", pa.float64()),
            ("kb_id", pa.string()),
            ("candidates", pa.list_(candidate)),
        ]
    )


def token_type() -> Any:
    """The Arrow type of one token: text, character offsets, tag and POS."""
    pa = _arrow()
    return pa.struct(
        [
            ("text", pa.string()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("tag", pa.string()),
            ("pos", pa.string()),
        ]
    )


def error_record(reason: str, *, source: Optional[str] = None, line: Optional[int] = None,
                 row: Optional[int] = None) -> Dict[str, Any]:
    """One error record: where the input was (file and line or row) and why
    it was not annotated."""
    return {"source": source, "line": line, "row": row, "reason": reason}


def check_record(record: Any, text_column: str = "text") -> Optional[str]:
    """Why `record` cannot be annotated, or None if it can.

    record (Any): A parsed input record.
    text_column (str): The key that holds the text.
    RETURNS (Optional[str]): The reason, or None.
    """
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    if text_column not in record or record[text_column] is None:
        return f'no "{text_column}" value'
    if not isinstance(record[text_column], str):
        return f'"{text_column}" is not a string (got {type(record[text_column]).__name__})'
    return None


def parse_jsonl_line(raw: bytes, text_column: str = "text") -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """Parse one raw JSONL line.

    raw (bytes): The line, with or without its line break.
    text_column (str): The key that holds the text.
    RETURNS (Tuple[Optional[dict], Optional[str]]): (record, None) for a valid
        line, (None, reason) for an invalid one, (None, None) for a blank line.
    """
    try:
        line = raw.decode("utf8")
    except UnicodeDecodeError as err:
        return None, f"undecodable bytes (not UTF-8: {err.reason} at byte {err.start})"
    if not line.strip():
        return None, None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return None, f"not valid JSON ({err.msg} at column {err.colno})"
    reason = check_record(record, text_column)
    if reason is not None:
        return None, reason
    return record, None


def entity_record(ent: Span) -> Dict[str, Any]:
    """The output record of one entity (see `entity_type`)."""
    candidates = None
    if Span.has_extension("kb_candidates"):
        candidates = [
            {"id": c[0], "score": float(c[1]), "alias": c[2]} for c in (ent._.kb_candidates or [])
        ]
    confidence = ent._.crf_confidence if Span.has_extension("crf_confidence") else None
    return {
        "text": ent.text,
        "label": ent.label_,
        "start": ent.start_char,
        "end": ent.end_char,
        "confidence": None if confidence is None else float(confidence),
        "kb_id": ent.kb_id_ or None,
        "candidates": candidates,
    }


def doc_record(doc: Doc, record: Dict[str, Any], text_column: str = "text", tokens: bool = True) -> Dict[str, Any]:
    """The output record of one doc: the input's other fields, the text, the
    entities and (if `tokens`) the tokens with their tags."""
    out = {k: v for k, v in record.items() if k != text_column}
    out[text_column] = doc.text
    out["entities"] = [entity_record(ent) for ent in doc.ents]
    if tokens:
        out["tokens"] = [
            {"text": t.text, "start": t.idx, "end": t.idx + len(t), "tag": t.tag_ or None, "pos": t.pos_ or None}
            for t in doc
        ]
    return out


def annotate_records(
    nlp: Language,
    items: Iterable[Tuple[Dict[str, Any], Context]],
    *,
    text_column: str = "text",
    tokens: bool = True,
    batch_size: int = 64,
    n_process: int = 1,
) -> Iterator[Tuple[Dict[str, Any], Context]]:
    """Annotate valid records (see `check_record`) with `nlp.pipe`.

    items (Iterable[Tuple[dict, Any]]): (record, context) pairs; the context
        (e.g. a line number) is passed through untouched.
    text_column (str): The key that holds the text.
    tokens (bool): Include the tokens and their tags.
    batch_size (int): Texts per batch for `nlp.pipe`.
    n_process (int): Processes for `nlp.pipe`.
    YIELDS (Tuple[dict, Any]): (output record, context), in input order.
    """
    pairs = ((record[text_column], (record, context)) for record, context in items)
    docs = nlp.pipe(pairs, as_tuples=True, batch_size=batch_size, n_process=n_process)
    for doc, (record, context) in docs:
        yield doc_record(doc, record, text_column, tokens), context


def _column(values: List[Any], name: str) -> Any:
    """An Arrow array for a column carried through from JSONL: typed by
    inference, or JSON strings when its values mix types."""
    pa = _arrow()
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        logger.warning("Field %r mixes types; it is written as JSON strings", name)
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string())


def records_to_table(records: List[Dict[str, Any]], *, text_column: str = "text", tokens: bool = True,
                     carried: Optional[Any] = None) -> Any:
    """A typed Arrow table of output records.

    records (List[dict]): Output records from `doc_record`.
    text_column (str): The key that holds the text.
    tokens (bool): Whether the records have tokens.
    carried (Optional[pyarrow.Table]): The input's other columns for these
        records, already typed (from a Parquet input); None infers them from
        the records (JSONL input).
    RETURNS (pyarrow.Table): Carried columns, then text, entities (and tokens).
    """
    pa = _arrow()
    own = [text_column, "entities"] + (["tokens"] if tokens else [])
    arrays: Dict[str, Any] = {}
    if carried is not None:
        for name in carried.column_names:
            arrays[name] = carried.column(name)
    else:
        names: List[str] = []
        for record in records:
            names.extend(k for k in record if k not in own and k not in names)
        for name in names:
            arrays[name] = _column([r.get(name) for r in records], name)
    arrays[text_column] = pa.array([r[text_column] for r in records], pa.string())
    arrays["entities"] = pa.array([r["entities"] for r in records], pa.list_(entity_type()))
    if tokens:
        arrays["tokens"] = pa.array([r["tokens"] for r in records], pa.list_(token_type()))
    return pa.table(arrays)


def annotate_table(
    nlp: Language,
    table: Any,
    *,
    text_column: str = "text",
    tokens: bool = True,
    batch_size: int = 64,
    source: Optional[str] = None,
    first_row: int = 0,
) -> Tuple[Any, List[Dict[str, Any]]]:
    """Annotate a pyarrow Table or pandas DataFrame (one text per row).

    The input's other columns are carried through with their types. Rows whose
    text is missing or not a string become error records.

    nlp (Language): The pipeline.
    table (Union[pyarrow.Table, pandas.DataFrame]): The input rows.
    text_column (str): The column that holds the text.
    tokens (bool): Include the tokens and their tags.
    batch_size (int): Texts per batch for `nlp.pipe`.
    source (Optional[str]): The input's name, for error records.
    first_row (int): The row number of the table's first row in the source.
    RETURNS (Tuple[pyarrow.Table, List[dict]]): The annotated rows and the
        error records (source, row, reason).
    """
    pa = _arrow()
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if text_column not in table.column_names:
        raise ValueError(
            f"[annotate] The input {source or 'table'} has no column {text_column!r} "
            f"(columns: {', '.join(table.column_names)}). Set the text column (--text-column)."
        )
    texts = table.column(text_column)
    is_string = pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)
    values = texts.to_pylist()
    errors: List[Dict[str, Any]] = []
    keep: List[int] = []
    for i, value in enumerate(values):
        reason = check_record({text_column: value}, text_column) if is_string or value is None else (
            f'"{text_column}" is not a string (column type {texts.type})'
        )
        if reason is None:
            keep.append(i)
        else:
            errors.append(error_record(reason, source=source, row=first_row + i))
    carried = table.drop_columns([text_column]).take(pa.array(keep, pa.int64()))
    items = (({text_column: values[i]}, i) for i in keep)
    records = [r for r, _ in annotate_records(nlp, items, text_column=text_column, tokens=tokens,
                                              batch_size=batch_size)]
    return records_to_table(records, text_column=text_column, tokens=tokens, carried=carried), errors
