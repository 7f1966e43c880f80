"""Saving and loading the ``entity_normalizer``: its settings, KB, candidate
index and, in the trained mode, its model and alias embeddings, as msgpack
bytes or a directory with ``checksums.json`` (no pickle). Whatever is read
is checked before the component takes any of it.
"""
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Union

import numpy
import srsly
from spacy import util

from ..integrity import verify_checksums, write_checksums
from ..kb.index import CandidateIndex
from ..kb.knowledge_base import KnowledgeBase
from ..kb.rules import upgrade_settings
from ..kb.validation import FIX, ModelDataError
from ..linking.alias_embeddings import AliasEmbeddings

if TYPE_CHECKING:
    from .entity_normalizer import EntityNormalizer

# Written into the saved cfg: whether kb/ and index/ were saved with it.
SAVED_KB = "saved_kb"
# The trained mode's alias embeddings (float16 .npy).
EMBEDDINGS = "alias_embeddings.npy"


def to_bytes(norm: "EntityNormalizer", *, exclude: Iterable[str] = tuple()) -> bytes:
    """The data of :meth:`EntityNormalizer.to_bytes`."""
    data: Dict[str, Any] = {}
    if "cfg" not in exclude:
        data["cfg"] = norm.cfg
    if "kb" not in exclude and norm.index is not None and norm.kb is not None:
        data["kb"] = norm.kb.to_dict()
        data["index"] = norm.index.to_dict()
    if norm.model is not None and "model" not in exclude:
        data["model"] = norm.model.to_bytes()
        embeddings = norm._current_embeddings()
        if embeddings is not None:
            data["alias_embeddings"] = embeddings.to_list()
    return srsly.msgpack_dumps(data)


def from_bytes(norm: "EntityNormalizer", bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "EntityNormalizer":
    """Load ``norm`` from bytes (:meth:`EntityNormalizer.from_bytes`)."""
    try:
        data = srsly.msgpack_loads(bytes_data)
    except Exception as err:  # msgpack raises many types on damaged input
        raise ModelDataError(
            f"entity_normalizer '{norm.name}': cannot read the saved data ({type(err).__name__}: {err}). {FIX}"
        ) from None
    if not isinstance(data, dict):
        raise ModelDataError(f"entity_normalizer '{norm.name}': the saved data is not a mapping. {FIX}")
    cfg = None
    if "cfg" in data and "cfg" not in exclude:
        cfg = checked_cfg(norm, data["cfg"], "the saved settings")
    kb = index = None
    if "kb" not in exclude:
        if ("kb" in data) != ("index" in data):
            raise ModelDataError(
                f"entity_normalizer '{norm.name}': the saved data has a knowledge base without its "
                f"index or the reverse. {FIX}"
            )
        if "kb" in data:
            kb = KnowledgeBase.from_dict(data["kb"])
            index = CandidateIndex.from_dict(data["index"], kb)
    embeddings = None
    if norm.model is not None and "model" not in exclude and "model" in data:
        norm.model.from_bytes(data["model"])
        if "alias_embeddings" in data:
            raw, shape = data["alias_embeddings"]
            vectors = numpy.frombuffer(raw, dtype=numpy.float16).reshape(shape)
            embeddings = AliasEmbeddings.checked(vectors, kb.n_aliases if kb is not None else None, "the saved data")
    return norm._loaded(cfg, kb, index, embeddings)


def checked_cfg(norm: "EntityNormalizer", cfg: Any, where: str) -> Dict[str, Any]:
    """Settings read from a saved cfg, checked as the factory checks them."""
    from .entity_normalizer import EntityNormalizer  # imported here: the modules import each other

    if not isinstance(cfg, dict):
        raise ModelDataError(f"entity_normalizer '{norm.name}': {where} is not a mapping of settings. {FIX}")
    cfg = upgrade_settings(cfg)
    cfg.pop(SAVED_KB, None)
    unknown = sorted(set(cfg) - set(norm.cfg))
    if unknown:
        raise ModelDataError(f"entity_normalizer '{norm.name}': {where} has unknown settings {unknown}. {FIX}")
    try:
        merged = {**norm.cfg, **cfg}
        checked = EntityNormalizer(norm.vocab, norm.name, scorer=norm.scorer, **merged).cfg
    except (TypeError, ValueError, re.error) as err:
        raise ModelDataError(f"entity_normalizer '{norm.name}': invalid settings in {where}: {err}. {FIX}") from None
    type_map = checked["type_map"]
    if not all(isinstance(k, str) and all(isinstance(t, str) for t in v) for k, v in type_map.items()):
        raise ModelDataError(f"entity_normalizer '{norm.name}': {where}: type_map must map labels to lists of types. {FIX}")
    return checked


def to_disk(norm: "EntityNormalizer", path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
    """Save ``norm`` to a directory (:meth:`EntityNormalizer.to_disk`)."""
    path = Path(path)
    saved_kb = norm.kb is not None and norm.index is not None and "kb" not in exclude
    serialize: Dict[str, Callable[[Path], None]] = {
        "cfg": lambda p: srsly.write_json(p, {**norm.cfg, SAVED_KB: saved_kb}),
    }
    if saved_kb:
        kb, index = norm.kb, norm.index
        serialize["kb"] = lambda p: kb.to_disk(p)  # type: ignore[union-attr]
        serialize["index"] = lambda p: index.to_disk(p)  # type: ignore[union-attr]
    model = norm.model
    if model is not None:
        serialize["model"] = lambda p: model.to_disk(p)
        embeddings = norm._current_embeddings() if saved_kb else None
        if embeddings is not None:
            serialize[EMBEDDINGS] = lambda p: embeddings.to_disk(p)
    util.to_disk(path, serialize, exclude)
    write_checksums(path, [name for name in ("cfg", "kb", "index", "model", EMBEDDINGS) if name not in exclude])


def from_disk(norm: "EntityNormalizer", path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "EntityNormalizer":
    """Load ``norm`` from a directory (:meth:`EntityNormalizer.from_disk`)."""
    path = Path(path)
    exclude = tuple(exclude)
    verify_checksums(path, f"entity_normalizer '{norm.name}'", exclude)
    cfg = None
    saved_kb = None
    if "cfg" not in exclude and (path / "cfg").exists():
        try:
            raw = srsly.read_json(path / "cfg")
        except Exception as err:  # the JSON readers raise several types
            raise ModelDataError(f"entity_normalizer '{norm.name}': cannot read {path / 'cfg'} ({err}). {FIX}") from None
        if isinstance(raw, dict):
            saved_kb = raw.get(SAVED_KB)
        cfg = checked_cfg(norm, raw, str(path / "cfg"))
    kb = index = None
    if "kb" not in exclude and saved_kb is not False:
        # saved_kb False: saved without a KB (folders left from an older save are stale).
        has_kb, has_index = (path / "kb").exists(), (path / "index").exists()
        if (saved_kb or has_kb or has_index) and not (has_kb and has_index):
            missing = path / ("kb" if not has_kb else "index")
            raise ModelDataError(
                f"entity_normalizer '{norm.name}': {missing} is missing: the component was saved "
                "with a knowledge base and its candidate index. Re-save the pipeline, or "
                f"re-initialize it with [initialize.components.{norm.name}.kb_loader]."
            )
        if has_kb and has_index:
            kb = KnowledgeBase.from_disk(path / "kb")
            index = CandidateIndex.from_disk(path / "index", kb)
    embeddings = None
    if norm.model is not None and "model" not in exclude:
        if not (path / "model").exists():
            raise ModelDataError(
                f"entity_normalizer '{norm.name}': {path / 'model'} is missing: the component has a "
                "model (its config sets one), but was saved without it. Train it with `spacy train`, "
                f"or set [components.{norm.name}] model = null for the string-only normalizer."
            )
        norm.model.from_disk(path / "model")
        if (path / EMBEDDINGS).exists():
            n_pairs = kb.n_aliases if kb is not None else None
            embeddings = AliasEmbeddings.from_disk(path / EMBEDDINGS, n_pairs)
    return norm._loaded(cfg, kb, index, embeddings)
