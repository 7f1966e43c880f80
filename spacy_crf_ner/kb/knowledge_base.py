"""An in-memory knowledge base of entities and their aliases.

Entities have a string ID, a preferred name, types and an optional description.
Aliases map surface strings to entity IDs; an alias may name several entities
(it stays ambiguous and all of them become candidates). Each (alias, entity)
pair carries a count: 1 for an alias listed in the KB file, plus one for each
time it was seen in training data, which serves as a prior to rank the
entities of an ambiguous alias.

Saved with :meth:`KnowledgeBase.to_disk` as msgpack (strings) and ``.npy``
arrays (integers), never as pickled Python objects.
"""
import csv
import json
import logging
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy
import srsly

from .validation import FIX, ModelDataError, Where, validate_kb

logger = logging.getLogger("spacy_crf_ner")

KB_FORMATS = ("jsonl", "tsv", "csv")
_TABLE_FIELDS = ("id", "name", "aliases", "types", "description")


class KBFormatError(ValueError):
    """A knowledge base file could not be read. The message names the file,
    the line number and what is wrong."""


class KnowledgeBase:
    """Entities (ID, name, types, description) and aliases.

    Construct empty and fill with :meth:`add_entity` / :meth:`add_alias`, or
    read a file with :meth:`from_file`.
    """

    def __init__(self) -> None:
        self.ids: List[str] = []
        self.names: List[str] = []
        # Tuples, not lists: the garbage collector stops tracking tuples of
        # strings, which matters with hundreds of thousands of entities.
        self.types: List[Tuple[str, ...]] = []
        self.descriptions: List[str] = []
        self._id_to_index: Dict[str, int] = {}
        # Parallel lists, one item per distinct (alias text, entity) pair.
        self.alias_texts: List[str] = []
        self.alias_entities: List[int] = []
        self.alias_counts: List[int] = []
        # Built on first use: a loaded KB that only serves lookups never needs it.
        self._pair_index: Optional[Dict[Tuple[str, int], int]] = {}

    def __len__(self) -> int:
        """RETURNS (int): The number of entities."""
        return len(self.ids)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._id_to_index

    @property
    def n_aliases(self) -> int:
        """RETURNS (int): The number of distinct (alias, entity) pairs."""
        return len(self.alias_texts)

    def index_of(self, entity_id: str) -> int:
        """entity_id (str): An entity ID.
        RETURNS (int): Its row, or -1 if absent.
        """
        return self._id_to_index.get(entity_id, -1)

    def add_entity(
        self,
        entity_id: str,
        name: str,
        aliases: Iterable[str] = (),
        types: Iterable[str] = (),
        description: str = "",
    ) -> int:
        """Add an entity, or merge into the entity with the same ID: its
        aliases and types are added, the first name and description are kept
        (a different name becomes an alias).

        entity_id (str): The canonical ID.
        name (str): The preferred name, also added as an alias.
        aliases (Iterable[str]): Other names.
        types (Iterable[str]): Type labels, e.g. "ORG" or a MeSH tree root.
        description (str): Optional free text.
        RETURNS (int): The entity's row.
        """
        index = self._id_to_index.get(entity_id)
        if index is None:
            index = len(self.ids)
            self._id_to_index[entity_id] = index
            self.ids.append(entity_id)
            self.names.append(name)
            self.types.append(())
            self.descriptions.append(description)
        elif description and not self.descriptions[index]:
            self.descriptions[index] = description
        if not self.names[index]:
            self.names[index] = name
        for t in types:
            if t and t not in self.types[index]:
                self.types[index] = self.types[index] + (t,)
        if name:
            self._add_pair(name, index, 1)
        for alias in aliases:
            if alias:
                self._add_pair(alias, index, 1)
        return index

    def add_alias(self, alias: str, entity_id: str, count: int = 1) -> None:
        """Add an alias of an entity; an entity unknown so far is created with
        the alias as its name.

        alias (str): The surface string.
        entity_id (str): The entity ID.
        count (int): How much to add to the pair's count (its prior weight).
        """
        index = self._id_to_index.get(entity_id)
        if index is None:
            index = self.add_entity(entity_id, alias)
            count -= 1
        self._add_pair(alias, index, count)

    def _add_pair(self, alias: str, index: int, count: int) -> None:
        if self._pair_index is None:
            self._pair_index = {
                (a, e): i for i, (a, e) in enumerate(zip(self.alias_texts, self.alias_entities))
            }
        key = (alias, index)
        pair = self._pair_index.get(key)
        if pair is None:
            self._pair_index[key] = len(self.alias_texts)
            self.alias_texts.append(alias)
            self.alias_entities.append(index)
            self.alias_counts.append(max(count, 1))
        else:
            self.alias_counts[pair] += count

    def get_aliases(self, entity_id: str) -> List[str]:
        """entity_id (str): An entity ID.
        RETURNS (List[str]): Its aliases (the name included).
        """
        index = self.index_of(entity_id)
        return [a for a, e in zip(self.alias_texts, self.alias_entities) if e == index]

    def entities_of_alias(self, alias: str) -> List[str]:
        """alias (str): A surface string (compared verbatim).
        RETURNS (List[str]): The IDs of the entities it names.
        """
        return [self.ids[e] for a, e in zip(self.alias_texts, self.alias_entities) if a == alias]

    def merge(self, other: "KnowledgeBase") -> None:
        """Add all entities and aliases of another KB (same-ID entities merge).

        other (KnowledgeBase): The KB to add.
        """
        for i, entity_id in enumerate(other.ids):
            self.add_entity(entity_id, other.names[i], (), other.types[i], other.descriptions[i])
        for alias, e, count in zip(other.alias_texts, other.alias_entities, other.alias_counts):
            index = self.add_entity(other.ids[e], other.names[e])
            self._add_pair(alias, index, count)

    # Reading files

    @classmethod
    def from_file(
        cls,
        path: Union[str, Path],
        format: str = "auto",
        columns: Optional[Dict[str, str]] = None,
        list_separator: str = "|",
        progress: bool = False,
    ) -> "KnowledgeBase":
        """Read a KB from JSONL, TSV or CSV.

        JSONL: one object per line, ``{"id", "name", "aliases": [...], "types":
        [...], "description"?}``. TSV/CSV: a header row naming the columns
        ``id``, ``name`` and optionally ``aliases``, ``types`` (lists joined by
        ``list_separator``) and ``description``.

        path (Union[str, Path]): The file.
        format (str): "jsonl", "tsv", "csv" or "auto" (from the file suffix).
        columns (Optional[Dict[str, str]]): For tables, field -> header name, e.g.
            ``{"id": "MESH_ID", "name": "MESH_NAME"}``.
        list_separator (str): Separator of list cells in tables.
        progress (bool): Show a progress bar.
        RETURNS (KnowledgeBase): The KB; rows with the same ID are merged.
        """
        path = Path(path)
        fmt = resolve_format(path, format)
        kb = cls()
        if fmt == "jsonl":
            records = iter_jsonl(path)
        else:
            records = iter_table(path, fmt, columns=columns, list_separator=list_separator)
        if progress:
            from tqdm import tqdm

            records = tqdm(records, desc=f"Reading {path.name}", unit=" rows")
        for rec in records:
            kb.add_entity(
                rec["id"], rec["name"], rec["aliases"], rec["types"], rec["description"]
            )
        logger.info(
            "Read %d entities, %d aliases from %s", len(kb), kb.n_aliases, path
        )
        return kb

    # Serialization

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): msgpack-serializable data (lists and numpy arrays)."""
        return {
            "ids": self.ids,
            "names": self.names,
            "types": [list(t) for t in self.types],
            "descriptions": self.descriptions,
            "alias_texts": self.alias_texts,
            "alias_entities": numpy.asarray(self.alias_entities, dtype=numpy.int32),
            "alias_counts": numpy.asarray(self.alias_counts, dtype=numpy.int32),
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any], where: Optional[Where] = None) -> "KnowledgeBase":
        """data (Dict[str, Any]): As returned by :meth:`to_dict`.
        where (Optional[Callable[[str], str]]): Names the source of a field in
            errors (e.g. its file).
        RETURNS (KnowledgeBase): The KB.
        RAISES (ModelDataError): If the data is not a valid KB.
        """
        data = validate_kb(data, where or (lambda field: f"knowledge base data (field '{field}')"))
        kb = cls()
        kb.ids = data["ids"]
        kb.names = data["names"]
        kb.types = [tuple(t) for t in data["types"]]
        kb.descriptions = data["descriptions"]
        kb._id_to_index = {entity_id: i for i, entity_id in enumerate(kb.ids)}
        kb.alias_texts = data["alias_texts"]
        kb.alias_entities = data["alias_entities"].tolist()
        kb.alias_counts = data["alias_counts"].tolist()
        kb._pair_index = None
        return kb

    def to_bytes(self) -> bytes:
        """RETURNS (bytes): The KB as msgpack."""
        return srsly.msgpack_dumps(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> "KnowledgeBase":
        """data (bytes): As returned by :meth:`to_bytes`.
        RETURNS (KnowledgeBase): The KB.
        """
        return cls.from_dict(srsly.msgpack_loads(data))

    def to_disk(self, path: Union[str, Path]) -> None:
        """Save to a directory: ``strings.msgpack`` and ``.npy`` arrays.

        path (Union[str, Path]): The directory (created if missing).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        numpy.save(path / "alias_entities.npy", data.pop("alias_entities"), allow_pickle=False)
        numpy.save(path / "alias_counts.npy", data.pop("alias_counts"), allow_pickle=False)
        srsly.write_msgpack(path / "strings.msgpack", data)

    @classmethod
    def from_disk(cls, path: Union[str, Path]) -> "KnowledgeBase":
        """path (Union[str, Path]): A directory written by :meth:`to_disk`.
        RETURNS (KnowledgeBase): The KB.
        RAISES (ModelDataError): If a file is missing, unreadable or invalid.
        """
        path = Path(path)
        if not (path / "strings.msgpack").exists():
            raise FileNotFoundError(
                f"entity_normalizer: no knowledge base in {path} (strings.msgpack missing). "
                "Build one with `python -m spacy_crf_ner build-kb KB_FILE OUT_DIR`, or re-save "
                "the pipeline."
            )
        data = read_msgpack_dict(path / "strings.msgpack")
        for name in ("alias_entities", "alias_counts"):
            data[name] = read_npy(path / f"{name}.npy")
        files = {"alias_entities": "alias_entities.npy", "alias_counts": "alias_counts.npy"}
        return cls.from_dict(data, lambda field: str(path / files.get(field, "strings.msgpack")))


def read_msgpack_dict(path: Path) -> Dict[str, Any]:
    """A msgpack file holding a mapping, or a ModelDataError naming it."""
    try:
        data = srsly.read_msgpack(path)
    except FileNotFoundError:
        raise ModelDataError(f"entity_normalizer: {path} is missing. {FIX}") from None
    except Exception as err:  # msgpack raises many types on damaged input
        raise ModelDataError(f"entity_normalizer: cannot read {path} ({type(err).__name__}: {err}). {FIX}") from None
    if not isinstance(data, dict):
        raise ModelDataError(f"entity_normalizer: {path} does not hold a mapping. {FIX}")
    return dict(data)


def read_npy(path: Path) -> numpy.ndarray:
    """A .npy array (never pickled objects), or a ModelDataError naming it."""
    try:
        return numpy.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelDataError(f"entity_normalizer: {path} is missing. {FIX}") from None
    except Exception as err:  # damaged headers or data raise several types
        raise ModelDataError(f"entity_normalizer: cannot read {path} ({type(err).__name__}: {err}). {FIX}") from None


def resolve_format(path: Path, format: str) -> str:
    """Pick the KB file format.

    path (Path): The file.
    format (str): "auto", "jsonl", "tsv" or "csv".
    RETURNS (str): The format.
    """
    if format != "auto":
        if format not in KB_FORMATS:
            raise ValueError(
                f"entity_normalizer: unknown KB format '{format}' for {path}. "
                f"Use one of {KB_FORMATS} or 'auto'."
            )
        return format
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if suffix in ("tsv", "tab", "txt"):
        return "tsv"
    if suffix == "csv":
        return "csv"
    raise ValueError(
        f"entity_normalizer: cannot tell the format of {path} from its suffix. "
        f"Pass format= one of {KB_FORMATS}."
    )


def _string_list(value: Any, field: str, where: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KBFormatError(f"{where}: '{field}' must be a list of strings, got {value!r}.")
    return [v for v in value if v.strip()]


def iter_lines(path: Path) -> Iterator[Tuple[int, str]]:
    """The lines of a UTF-8 text file (a leading byte order mark dropped),
    numbered from 1, without their line break.

    RAISES (KBFormatError): On bytes that are not UTF-8, naming file and line.
    """
    with Path(path).open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise KBFormatError(
                    f"{path}:{lineno}: not UTF-8 (byte {raw[err.start:err.start + 1]!r} at column "
                    f"{err.start + 1}). Save the file as UTF-8."
                ) from None
            yield lineno, line.rstrip("\r\n")


def iter_jsonl(path: Path) -> Iterator[Dict[str, Any]]:
    """Read KB records from a JSONL file.

    path (Path): The file.
    YIELDS (Dict[str, Any]): Records with keys id, name, aliases, types, description.
    RAISES (KBFormatError): On a malformed line, naming file and line number.
    """
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise KBFormatError(f"{where}: invalid JSON ({err.msg} at column {err.colno}).") from None
        if not isinstance(obj, dict):
            raise KBFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}.")
        yield _check_record(obj, where)


def _check_record(obj: Dict[str, Any], where: str) -> Dict[str, Any]:
    entity_id = obj.get("id")
    if not isinstance(entity_id, str) or not entity_id.strip():
        raise KBFormatError(f"{where}: missing or empty 'id' (a non-empty string is required).")
    name = obj.get("name", "")
    if name is None:
        name = ""
    if not isinstance(name, str):
        raise KBFormatError(f"{where}: 'name' must be a string, got {name!r}.")
    aliases = _string_list(obj.get("aliases"), "aliases", where)
    if not name.strip() and not aliases:
        raise KBFormatError(f"{where}: entity '{entity_id}' has neither a 'name' nor 'aliases'.")
    description = obj.get("description") or ""
    if not isinstance(description, str):
        raise KBFormatError(f"{where}: 'description' must be a string, got {description!r}.")
    return {
        "id": entity_id.strip(),
        "name": name.strip(),
        "aliases": [a.strip() for a in aliases],
        "types": [t.strip() for t in _string_list(obj.get("types"), "types", where)],
        "description": description,
    }


def iter_table(
    path: Path,
    fmt: str,
    columns: Optional[Dict[str, str]] = None,
    list_separator: str = "|",
) -> Iterator[Dict[str, Any]]:
    """Read KB records from a TSV or CSV file with a header row.

    TSV is plain tab-separated text: each line is one row, split at tabs,
    and quotes are ordinary characters (a cell cannot hold a tab or a line
    break). CSV follows RFC 4180 as Python's ``csv`` module reads it: a cell
    in double quotes may hold commas and line breaks, and ``""`` inside it
    is one quote; a row may therefore span several lines, and an unbalanced
    quote is reported with the line where its row starts.

    path (Path): The file.
    fmt (str): "tsv" or "csv".
    columns (Optional[Dict[str, str]]): field -> header name overrides.
    list_separator (str): Separator inside the aliases and types cells.
    YIELDS (Dict[str, Any]): Records with keys id, name, aliases, types, description.
    RAISES (KBFormatError): On a missing header column, a malformed row or
        bytes that are not UTF-8, naming file and line.
    """
    columns = dict(columns or {})
    rows = _tsv_rows(path) if fmt == "tsv" else _csv_rows(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise KBFormatError(f"{path}:1: empty file, expected a header row.") from None
    positions: Dict[str, int] = {}
    for field in _TABLE_FIELDS:
        name = columns.get(field, field)
        if name in header:
            positions[field] = header.index(name)
    for field in ("id", "name"):
        if field not in positions:
            raise KBFormatError(
                f"{path}:1: header has no '{columns.get(field, field)}' column "
                f"(found {header}). Name the columns id, name[, aliases, types, "
                "description] or pass columns={...}."
            )
    for lineno, row in rows:
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"{path}:{lineno}"
        if len(row) != len(header):
            raise KBFormatError(
                f"{where}: expected {len(header)} {fmt.upper()} fields as in the header, "
                f"got {len(row)}."
            )
        obj: Dict[str, Any] = {
            "id": row[positions["id"]],
            "name": row[positions["name"]],
        }
        for field in ("aliases", "types"):
            if field in positions:
                cell = row[positions[field]]
                obj[field] = [v for v in cell.split(list_separator)] if cell else []
        if "description" in positions:
            obj["description"] = row[positions["description"]]
        yield _check_record(obj, where)


def _tsv_rows(path: Path) -> Iterator[Tuple[int, List[str]]]:
    """(line number, cells) of a tab-separated file, without quote processing."""
    for lineno, line in iter_lines(path):
        yield lineno, line.split("\t")


def _csv_rows(path: Path) -> Iterator[Tuple[int, List[str]]]:
    """(line number where the row starts, cells) of a CSV file."""
    lines = iter_lines(path)
    numbers: List[int] = []

    def text() -> Iterator[str]:
        for lineno, line in lines:
            numbers.append(lineno)
            yield line + "\n"

    reader = csv.reader(text(), delimiter=",", strict=True)
    while True:
        first = len(numbers) + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise KBFormatError(
                f"{path}:{first}: malformed CSV row ({err}); a cell that starts with a double "
                "quote must end with one, and quotes inside it are doubled (\"\")."
            ) from None
        yield first, row
