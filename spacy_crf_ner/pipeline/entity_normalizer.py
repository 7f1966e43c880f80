"""The ``entity_normalizer`` component: link ``Doc.ents`` to canonical IDs of a
knowledge base.

It sets ``Span.kb_id_`` on each entity whose best candidate scores at least
``threshold`` (otherwise the entity stays unlinked, i.e. NIL) and keeps the
top-k candidates ``(id, score, matched alias)`` for every entity, readable as
``span._.kb_candidates``. Candidates come from a
:class:`~spacy_crf_ner.kb.candidates.CandidateIndex` (exact normalized alias,
word order, char n-gram TF-IDF) with document-level help: in-text abbreviation
definitions (Schwartz & Hearst 2003), composite mentions ("breast and ovarian
cancer") and consistency between mentions of the same document. The KB and
its index are saved with the pipeline (msgpack and numpy arrays, no pickle).
The component has no trainable weights; its ``initialize`` loads the KB and
adds aliases from gold ``kb_id`` annotations of the training examples.
"""
import logging
import re
from itertools import repeat
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import numpy
import srsly
from spacy import util
from spacy.attrs import ENT_KB_ID
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_get_examples
from spacy.vocab import Vocab

from ..integrity import verify_checksums, write_checksums
from ..kb.abbreviations import abbreviation_map
from ..kb.candidates import Candidate, CandidateIndex, CandidateTuple, IndexConfig
from ..kb.knowledge_base import KnowledgeBase
from ..kb.normalize import NormalizationConfig
from ..kb.validation import FIX, ModelDataError
from ..kb.scoring import CANDIDATES_KEY, canonical_kb_id, score_normalization

logger = logging.getLogger("spacy_crf_ner")

# Written into the saved cfg: whether kb/ and index/ were saved with it.
_SAVED_KB = "saved_kb"

_SUBTYPE_RE = re.compile(r"^([A-Za-z][A-Za-z-]*?)-?([0-9]+[A-Za-z]?)$")
_COORDINATOR_RE = re.compile(r"\s(?:and|or|and/or|&)\s|/", re.I)
_CONJ_RE = re.compile(r"\s*(?:,\s*(?:and|or|and/or)\s+|,\s*|\s+(?:and|or|and/or|&)\s+|\s*/\s*)", re.I)
# Conjuncts that qualify the shared head instead of naming a disease of their
# own: "stage II and III colorectal carcinomas", "VHL-associated and sporadic
# RCCs", "RCC- and VHL-associated tumors" (a suspended hyphen).
_STAGE_RE = re.compile(r"^(?:stage|grade)s?\s+[0-9]+[a-d]?$|^(?:stage|grade)s?\s+[ivx]+[a-d]?$", re.I)
_MODIFIER_SUFFIX_RE = re.compile(r"(?:[-\s](?:associated|related|linked|dependent|induced)|-)$", re.I)
# Words that, coordinated, qualify one disease: "familial or sporadic
# retinoblastoma", "unilateral and bilateral retinoblastoma", "complete or
# partial LCAT deficiency" (each annotated with one ID in NCBI Disease train).
DEFAULT_COMPOSITE_MODIFIERS = [
    "familial", "sporadic", "hereditary", "inherited", "unilateral", "bilateral", "multifocal",
    "multicentric", "multi-centric", "complete", "partial", "subtotal", "sub-total", "total",
]


# An entity as a plain tuple: (start, end, label, kb_id, start_char, end_char).
# Plain tuples (of ints here, of strings and floats for candidates) are what
# the component keeps while it links a batch: the garbage collector stops
# tracking them at the first collection they live through, while NamedTuples
# and lists that outlive a few collections move into the oldest generation
# and make full collections, which walk every object spaCy and its
# dependencies hold, come sooner (benchmarks/compare_component_processes.py).
_Entity = Tuple[int, int, int, int, int, int]
# A mention's candidates, best first: ((id, score, matched alias), ...).
_Candidates = Tuple[CandidateTuple, ...]


def _entities(doc: Doc) -> List[_Entity]:
    """The entities of a doc (``doc.ents``), their attributes read once."""
    return [(e.start, e.end, e.label, e.kb_id, e.start_char, e.end_char) for e in doc.ents]


def _get_kb_candidates(span: Span) -> List[Tuple[str, float, str]]:
    store = span.doc.user_data.get(CANDIDATES_KEY) or {}
    return [tuple(c) for c in store.get(f"{span.start_char}:{span.end_char}", [])]  # type: ignore[misc]


if not Span.has_extension("kb_candidates"):
    Span.set_extension("kb_candidates", getter=_get_kb_candidates)


@Language.factory(
    "entity_normalizer",
    assigns=["doc.ents", "token.ent_kb_id"],
    requires=["doc.ents"],
    default_config={
        "threshold": 0.5,
        "top_k": 5,
        "type_map": {},
        "normalization": {},
        "index": {},
        "abbreviations": True,
        "composites": True,
        "composite_modifiers": DEFAULT_COMPOSITE_MODIFIERS,
        "doc_consistency": True,
        "harvest_aliases": True,
        "overwrite": True,
        "scorer": {"@scorers": "spacy-crf-ner.normalizer_scorer.v1"},
    },
    default_score_weights={
        "nel_micro_f": 1.0,
        "nel_micro_p": None,
        "nel_micro_r": None,
        "norm_acc_at_1": None,
        "norm_recall_at_k": None,
    },
)
def make_entity_normalizer(
    nlp: Language,
    name: str,
    threshold: float,
    top_k: int,
    type_map: Dict[str, List[str]],
    normalization: Dict[str, Any],
    index: Dict[str, Any],
    abbreviations: bool,
    composites: bool,
    composite_modifiers: List[str],
    doc_consistency: bool,
    harvest_aliases: bool,
    overwrite: bool,
    scorer: Optional[Callable],
) -> "EntityNormalizer":
    """Create an ``entity_normalizer``.

    threshold (float): Minimum score of the best candidate to set ``kb_id`` (NIL below).
    top_k (int): Candidates kept per entity in ``span._.kb_candidates``.
    type_map (Dict[str, List[str]]): NER label -> allowed KB types; labels not listed
        are unconstrained.
    normalization (Dict[str, Any]): Overrides of
        :class:`~spacy_crf_ner.kb.normalize.NormalizationConfig`.
    index (Dict[str, Any]): Overrides of :class:`~spacy_crf_ner.kb.candidates.IndexConfig`.
    abbreviations (bool): Resolve short forms defined in the document.
    composites (bool): Split coordinated mentions ("breast and ovarian cancer") that
        have no exact match and link each part.
    composite_modifiers (List[str]): Words that qualify the shared head when
        coordinated ("familial or sporadic retinoblastoma"): a coordination whose
        conjuncts before the last are such words (optionally with "non"), stages
        or grades ("stage II and III"), or end in "associated", "related",
        "linked", "dependent", "induced" (after a hyphen or a space) or a suspended
        hyphen is not split.
    doc_consistency (bool): Prefer IDs already linked with certainty in the document.
    harvest_aliases (bool): At initialize, add gold entity texts with a ``kb_id`` as aliases.
    overwrite (bool): Replace ``kb_id`` values already set on entities.
    scorer (Optional[Callable]): The scoring method.
    RETURNS (EntityNormalizer): The component.
    """
    return EntityNormalizer(
        nlp.vocab,
        name=name,
        threshold=threshold,
        top_k=top_k,
        type_map=type_map,
        normalization=normalization,
        index=index,
        abbreviations=abbreviations,
        composites=composites,
        composite_modifiers=composite_modifiers,
        doc_consistency=doc_consistency,
        harvest_aliases=harvest_aliases,
        overwrite=overwrite,
        scorer=scorer,
    )


def normalizer_score(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """Default scoring: see :func:`spacy_crf_ner.kb.scoring.score_normalization`.

    examples (Iterable[Example]): The examples.
    RETURNS (Dict[str, Any]): The scores.
    """
    return score_normalization(examples)


class EntityNormalizer(Pipe):
    """Link entities to IDs of a knowledge base by string similarity."""

    def __init__(
        self,
        vocab: Vocab,
        name: str = "entity_normalizer",
        *,
        threshold: float,
        top_k: int,
        type_map: Dict[str, List[str]],
        normalization: Dict[str, Any],
        index: Dict[str, Any],
        abbreviations: bool,
        composites: bool,
        composite_modifiers: Iterable[str] = tuple(DEFAULT_COMPOSITE_MODIFIERS),
        doc_consistency: bool,
        harvest_aliases: bool,
        overwrite: bool,
        scorer: Optional[Callable] = normalizer_score,
    ) -> None:
        """Initialize the component (see :func:`make_entity_normalizer` for the arguments)."""
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"entity_normalizer '{name}': top_k must be a positive integer, not {top_k!r}.")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold == threshold:
            raise ValueError(f"entity_normalizer '{name}': threshold must be a number, not {threshold!r}.")
        self.vocab = vocab
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "threshold": float(threshold),
            "top_k": int(top_k),
            "type_map": {k: list(v) for k, v in dict(type_map).items()},
            "normalization": NormalizationConfig.from_dict(dict(normalization)).to_dict(),
            "index": IndexConfig.from_dict(dict(index)).to_dict(),
            "abbreviations": bool(abbreviations),
            "composites": bool(composites),
            "composite_modifiers": [str(w).lower() for w in composite_modifiers],
            "doc_consistency": bool(doc_consistency),
            "harvest_aliases": bool(harvest_aliases),
            "overwrite": bool(overwrite),
        }
        self.kb: Optional[KnowledgeBase] = None
        self.index: Optional[CandidateIndex] = None

    # Applying

    def __call__(self, doc: Doc) -> Doc:
        """Link the entities of one document.

        doc (Doc): The document, with ``doc.ents`` set.
        RETURNS (Doc): The document, entities with ``kb_id`` and candidates.
        """
        ents, candidates = self._predict([doc])
        self._set_annotations([doc], ents, candidates)
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Link the entities of a stream of documents.

        stream (Iterable[Doc]): The documents.
        batch_size (int): Documents per batch.
        YIELDS (Doc): The documents, linked.
        """
        for docs in util.minibatch(stream, size=batch_size):
            ents, candidates = self._predict(docs)
            self._set_annotations(docs, ents, candidates)
            yield from docs

    def _require_index(self) -> CandidateIndex:
        if self.index is None:
            raise ValueError(
                f"entity_normalizer '{self.name}': no knowledge base loaded. Call nlp.initialize() "
                "with [initialize.components."
                f"{self.name}.kb_loader] set (e.g. @misc = \"spacy-crf-ner.load_kb.v1\"), or "
                "load a pipeline saved after initialization."
            )
        return self.index

    def _allowed(self, label: str) -> Optional[Set[str]]:
        types = self.cfg["type_map"].get(label)
        return set(types) if types is not None else None

    def predict(self, docs: Iterable[Doc]) -> List[List[List[Candidate]]]:
        """Candidates for every entity of every document; does not modify the docs.

        docs (Iterable[Doc]): The documents.
        RETURNS (List[List[List[Candidate]]]): Per doc, per entity, the candidates best first.
        """
        new = tuple.__new__
        return [
            [list(map(new, repeat(Candidate), cands)) for cands in doc_cands] for doc_cands in self._predict(docs)[1]
        ]

    def _predict(self, docs: Iterable[Doc]) -> Tuple[List[List[_Entity]], List[List[_Candidates]]]:
        """:meth:`predict`, also returning the entities it read, which
        :meth:`pipe` hands on to :meth:`_set_annotations` (reading
        ``doc.ents`` builds a Span and three Tokens per entity)."""
        index = self._require_index()
        cfg = self.cfg
        k = cfg["top_k"]
        docs = list(docs)
        queries: List[str] = []
        allowed: List[Optional[Set[str]]] = []
        labels: List[str] = []
        doc_rows: List[List[int]] = []  # per doc, the query row of each entity
        doc_ents: List[List[_Entity]] = []
        allowed_by_label: Dict[str, Optional[Set[str]]] = {}
        for doc in docs:
            # doc.text and Span.text build Token objects: read the text once and
            # slice it by character offsets.
            text = doc.text
            abbrs = (
                {a.short: a.long for a in abbreviation_map(text).values()}
                if cfg["abbreviations"] and "(" in text
                else {}
            )
            rows = []
            strings = doc.vocab.strings
            ents = _entities(doc)
            doc_ents.append(ents)
            for _, _, label_id, _, start_char, end_char in ents:
                label = strings[label_id]
                if label not in allowed_by_label:
                    allowed_by_label[label] = self._allowed(label)
                rows.append(len(queries))
                mention = text[start_char:end_char]
                queries.append(self._expand(mention, abbrs) if abbrs else mention)
                allowed.append(allowed_by_label[label])
                labels.append(label)
            doc_rows.append(rows)
        norm = index.normalizer
        keys = [norm(q) for q in queries]
        results = index.candidate_tuples(keys, k, allowed) if keys else []
        if cfg["composites"]:
            self._link_composites(index, queries, allowed, results, k)
        out: List[List[_Candidates]] = [[results[i] for i in rows] for rows in doc_rows]
        if cfg["doc_consistency"]:
            for d, rows in enumerate(doc_rows):
                # Same text and same label: a different label may carry a
                # different type constraint.
                out[d] = self._consistent(out[d], [(keys[i], labels[i]) for i in rows])
        return doc_ents, out

    @staticmethod
    def _expand(text: str, abbrs: Dict[str, str]) -> str:
        """Replace short forms defined in the document by their long forms."""
        if not abbrs:
            return text
        if text in abbrs:
            return abbrs[text]
        words = text.split()
        out = []
        changed = False
        for w in words:
            if w in abbrs:
                out.append(abbrs[w])
                changed = True
                continue
            # A defined short form with a numbered subtype: "MEN2" -> "<long form> type 2".
            m = _SUBTYPE_RE.match(w)
            if m and m.group(1) in abbrs:
                out.append(f"{abbrs[m.group(1)]} type {m.group(2)}")
                changed = True
                continue
            # Hyphenated words whose parts are defined: "IF-GLD"; a suspended
            # hyphen stays ("RCC- and VHL-associated tumors").
            if "-" in w:
                parts = w.split("-")
                if any(p in abbrs for p in parts):
                    expanded = " ".join(abbrs.get(p, p) for p in parts if p)
                    out.append(expanded + "-" if w.endswith("-") else expanded)
                    changed = True
                    continue
            out.append(w)
        return " ".join(out) if changed else text

    def _is_modifier(self, conjunct: str) -> bool:
        """Whether a conjunct qualifies the shared head ("familial", "non
        hereditary", "stage II", "VHL-associated", "RCC-") rather than
        naming a disease of its own."""
        text = conjunct.strip()
        if _STAGE_RE.match(text) or _MODIFIER_SUFFIX_RE.search(text):
            return True
        words = text.lower().split()
        if words and words[0] in ("non", "not"):
            words = words[1:]
        elif words and words[0].startswith("non-"):
            words[0] = words[0][4:]
        modifiers = self.cfg["composite_modifiers"]
        return bool(words) and all(w in modifiers for w in words)

    def _link_composites(
        self,
        index: CandidateIndex,
        queries: List[str],
        allowed: List[Optional[Set[str]]],
        results: List[_Candidates],
        k: int,
    ) -> None:
        """Split coordinations without an exact match and link their parts."""
        jobs: List[Tuple[int, List[List[str]]]] = []
        for i, q in enumerate(queries):
            if results[i] and results[i][0][1] >= 1.0:
                continue
            # A comma alone is no coordination: "Arthritis, Rheumatoid" is an
            # inverted name, which the index matches as it is.
            if not _COORDINATOR_RE.search(q):
                continue
            parts = [p for p in _CONJ_RE.split(q) if p.strip()]
            if len(parts) < 2 or all(self._is_modifier(p) for p in parts[:-1]):
                continue
            # The last conjunct carries the shared head: "breast and ovarian cancer"
            # -> "breast cancer", "ovarian cancer". Try each head length.
            last = parts[-1].split()
            readings: List[List[str]] = [parts]
            for n_head in range(1, len(last)):
                head = " ".join(last[-n_head:])
                readings.append([f"{p} {head}" for p in parts[:-1]] + [parts[-1]])
            jobs.append((i, readings))
        if not jobs:
            return
        flat = [part for _, readings in jobs for reading in readings for part in reading]
        flat_allowed = [allowed[i] for i, readings in jobs for reading in readings for _ in reading]
        norm = index.normalizer
        linked = index.candidate_tuples([norm(part) for part in flat], k, flat_allowed)
        pos = 0
        for i, readings in jobs:
            best: Optional[Tuple[float, List[CandidateTuple]]] = None
            for reading in readings:
                tops = [linked[pos + j][0] for j in range(len(reading)) if linked[pos + j]]
                pos += len(reading)
                if len(tops) < len(reading):
                    continue
                score = min(t[1] for t in tops)
                if best is None or score > best[0]:
                    best = (score, tops)
            if best is None:
                continue
            score, tops = best
            current = results[i][0][1] if results[i] else 0.0
            if score <= current:
                continue
            composite_id = "|".join(dict.fromkeys(t[0] for t in tops))
            composite = (composite_id, score, " | ".join(t[2] for t in tops))
            results[i] = (composite, *[c for c in results[i] if c[0] != composite_id])[:k]

    @staticmethod
    def _consistent(cands: List[_Candidates], keys: List[Tuple[str, str]]) -> List[_Candidates]:
        """Document-level consistency: a mention whose normalized text equals an
        earlier mention's takes the better-scored result of the two, and among
        tied candidates an ID that another mention matches exactly and
        unambiguously wins."""
        out = cands
        if len(set(keys)) < len(keys):  # some text repeats
            best_by_key: Dict[Tuple[str, str], _Candidates] = {}
            for c, key in zip(cands, keys):
                if c and (key not in best_by_key or c[0][1] > best_by_key[key][0][1]):
                    best_by_key[key] = c
            out = [best_by_key.get(key, c) for c, key in zip(cands, keys)]
        certain: Optional[Set[str]] = None
        for i, c in enumerate(out):
            if len(c) > 1 and c[0][1] == c[1][1]:
                if certain is None:
                    # Exact and unambiguous: not the arbitrary first of a tie.
                    certain = {x[0][0] for x in cands if x and x[0][1] >= 1.0 and (len(x) == 1 or x[1][1] < 1.0)}
                tied = [x for x in c if x[1] == c[0][1]]
                preferred = sorted(tied, key=lambda x: x[0] not in certain)  # type: ignore[operator]
                if out is cands:
                    out = list(cands)
                out[i] = (*preferred, *c[len(tied) :])
        return out

    def set_annotations(self, docs: Iterable[Doc], candidates: Sequence[Sequence[Sequence[Candidate]]]) -> None:
        """Write ``kb_id`` and the candidate lists into the docs.

        docs (Iterable[Doc]): The documents.
        candidates (Sequence[Sequence[Sequence[Candidate]]]): As returned by :meth:`predict`.
        """
        docs = list(docs)
        plain = [[tuple(map(tuple, cands)) for cands in doc_cands] for doc_cands in candidates]
        self._set_annotations(docs, [_entities(doc) for doc in docs], plain)  # type: ignore[arg-type]

    def _set_annotations(
        self, docs: Iterable[Doc], doc_ents: List[List[_Entity]], candidates: List[List[_Candidates]]
    ) -> None:
        """:meth:`set_annotations` with the entities :meth:`_predict` read."""
        threshold = self.cfg["threshold"]
        overwrite = self.cfg["overwrite"]
        for doc, ents, doc_cands in zip(docs, doc_ents, candidates):
            # Plain tuples, as _predict made them: the garbage collector stops
            # tracking them, so linked docs kept in memory do not make full
            # collections costlier.
            store: Dict[str, _Candidates] = {}
            if ents:
                # Only the KB IDs change: written through the token array,
                # which leaves the entities as they are (setting doc.ents
                # would rebuild every token and mark unset tokens O).
                # A list: assigning slices of a numpy array costs more.
                kb_ids = doc.to_array(ENT_KB_ID).tolist()
                add = doc.vocab.strings.add
                for (start, end, _, old_kb_id, start_char, end_char), cands in zip(ents, doc_cands):
                    store[f"{start_char}:{end_char}"] = cands
                    if overwrite or not old_kb_id:
                        kb_id = cands[0][0] if cands and cands[0][1] >= threshold else ""
                        kb_ids[start:end] = [add(kb_id)] * (end - start)
                doc.from_array([ENT_KB_ID], numpy.asarray(kb_ids, dtype=numpy.uint64))
            doc.user_data[CANDIDATES_KEY] = store

    # Initialization

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        kb_loader: Optional[Callable[[Vocab], KnowledgeBase]] = None,
    ) -> None:
        """Load the KB, add aliases from the training data and build the index.

        get_examples (Callable[[], Iterable[Example]]): Training examples; entities of
            the reference docs with a ``kb_id`` add their text as an alias of that ID
            (if ``harvest_aliases``).
        nlp (Optional[Language]): The pipeline.
        kb_loader (Optional[Callable[[Vocab], KnowledgeBase]]): Returns the KB, e.g.
            ``spacy-crf-ner.load_kb.v1``. Without it, the KB holds only harvested aliases.
        """
        validate_get_examples(get_examples, "EntityNormalizer.initialize")
        kb = kb_loader(self.vocab) if kb_loader is not None else KnowledgeBase()
        if not isinstance(kb, KnowledgeBase):
            raise ValueError(
                f"entity_normalizer '{self.name}': kb_loader returned {type(kb).__name__}, "
                "expected spacy_crf_ner.kb.KnowledgeBase. Use @misc = \"spacy-crf-ner.load_kb.v1\"."
            )
        if self.cfg["harvest_aliases"]:
            n = 0
            for eg in get_examples():
                for ent in eg.reference.ents:
                    if ent.kb_id_:
                        kb.add_alias(ent.text, canonical_kb_id(ent.kb_id_))
                        n += 1
            logger.info("entity_normalizer: %d aliases from gold kb_id annotations", n)
        if kb.n_aliases == 0:
            raise ValueError(
                f"entity_normalizer '{self.name}': the knowledge base is empty. Set "
                f"[initialize.components.{self.name}.kb_loader] or give training examples "
                "whose entities have kb_id."
            )
        self.set_kb(kb)

    def set_kb(self, kb: KnowledgeBase) -> None:
        """Use a knowledge base: build its candidate index with this component's settings.

        kb (KnowledgeBase): The knowledge base.
        """
        self.kb = kb
        self.index = CandidateIndex.build(
            kb,
            NormalizationConfig.from_dict(self.cfg["normalization"]),
            IndexConfig.from_dict(self.cfg["index"]),
        )

    # Serialization

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """Serialize the component, its KB and its index.

        exclude (Iterable[str]): Fields to leave out ("cfg", "kb").
        RETURNS (bytes): The data.
        """
        data: Dict[str, Any] = {}
        if "cfg" not in exclude:
            data["cfg"] = self.cfg
        if "kb" not in exclude and self.index is not None and self.kb is not None:
            data["kb"] = self.kb.to_dict()
            data["index"] = self.index.to_dict()
        return srsly.msgpack_dumps(data)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "EntityNormalizer":
        """Load the component from bytes.

        bytes_data (bytes): As returned by :meth:`to_bytes`.
        exclude (Iterable[str]): Fields to leave out.
        RETURNS (EntityNormalizer): The component.
        RAISES (ValueError): If the data is damaged; nothing is changed then.
        """
        try:
            data = srsly.msgpack_loads(bytes_data)
        except Exception as err:  # msgpack raises many types on damaged input
            raise ModelDataError(
                f"entity_normalizer '{self.name}': cannot read the saved data ({type(err).__name__}: {err}). {FIX}"
            ) from None
        if not isinstance(data, dict):
            raise ModelDataError(f"entity_normalizer '{self.name}': the saved data is not a mapping. {FIX}")
        cfg = None
        if "cfg" in data and "cfg" not in exclude:
            cfg = self._checked_cfg(data["cfg"], "the saved settings")
        kb = index = None
        if "kb" not in exclude:
            if ("kb" in data) != ("index" in data):
                raise ModelDataError(
                    f"entity_normalizer '{self.name}': the saved data has a knowledge base without its "
                    f"index or the reverse. {FIX}"
                )
            if "kb" in data:
                kb = KnowledgeBase.from_dict(data["kb"])
                index = CandidateIndex.from_dict(data["index"], kb)
        if cfg is not None:
            self.cfg.update(cfg)
        if kb is not None:
            self.kb, self.index = kb, index
        return self

    def _checked_cfg(self, cfg: Any, where: str) -> Dict[str, Any]:
        """Settings read from a saved cfg, checked as the factory checks them."""
        if not isinstance(cfg, dict):
            raise ModelDataError(f"entity_normalizer '{self.name}': {where} is not a mapping of settings. {FIX}")
        cfg = dict(cfg)
        cfg.pop(_SAVED_KB, None)
        unknown = sorted(set(cfg) - set(self.cfg))
        if unknown:
            raise ModelDataError(f"entity_normalizer '{self.name}': {where} has unknown settings {unknown}. {FIX}")
        try:
            merged = {**self.cfg, **cfg}
            checked = EntityNormalizer(self.vocab, self.name, scorer=self.scorer, **merged).cfg
        except (TypeError, ValueError, re.error) as err:
            raise ModelDataError(f"entity_normalizer '{self.name}': invalid settings in {where}: {err}. {FIX}") from None
        type_map = checked["type_map"]
        if not all(isinstance(k, str) and all(isinstance(t, str) for t in v) for k, v in type_map.items()):
            raise ModelDataError(f"entity_normalizer '{self.name}': {where}: type_map must map labels to lists of types. {FIX}")
        return checked

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        """Save to a directory: ``cfg``, ``kb/`` and ``index/`` (whenever a KB
        is set), and ``checksums.json`` of them all.

        path (Union[str, Path]): The directory.
        exclude (Iterable[str]): Fields to leave out ("cfg", "kb").
        """
        path = util.ensure_path(path)
        saved_kb = self.kb is not None and self.index is not None and "kb" not in exclude
        serialize: Dict[str, Callable[[Path], None]] = {
            "cfg": lambda p: srsly.write_json(p, {**self.cfg, _SAVED_KB: saved_kb}),
        }
        if saved_kb:
            kb, index = self.kb, self.index
            serialize["kb"] = lambda p: kb.to_disk(p)  # type: ignore[union-attr]
            serialize["index"] = lambda p: index.to_disk(p)  # type: ignore[union-attr]
        util.to_disk(path, serialize, exclude)
        write_checksums(path, [name for name in ("cfg", "kb", "index") if name not in exclude])

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "EntityNormalizer":
        """Load from a directory written by :meth:`to_disk`.

        path (Union[str, Path]): The directory.
        exclude (Iterable[str]): Fields to leave out.
        RETURNS (EntityNormalizer): The component.
        RAISES (ValueError): If a file is missing, damaged or invalid (naming
            it); nothing is changed then.
        """
        path = util.ensure_path(path)
        exclude = tuple(exclude)
        verify_checksums(path, f"entity_normalizer '{self.name}'", exclude)
        cfg = None
        saved_kb = None
        if "cfg" not in exclude and (path / "cfg").exists():
            try:
                raw = srsly.read_json(path / "cfg")
            except Exception as err:  # the JSON readers raise several types
                raise ModelDataError(f"entity_normalizer '{self.name}': cannot read {path / 'cfg'} ({err}). {FIX}") from None
            if isinstance(raw, dict):
                saved_kb = raw.get(_SAVED_KB)
            cfg = self._checked_cfg(raw, str(path / "cfg"))
        kb = index = None
        if "kb" not in exclude and saved_kb is not False:
            # saved_kb False: saved without a KB (folders left from an older save are stale).
            has_kb, has_index = (path / "kb").exists(), (path / "index").exists()
            if (saved_kb or has_kb or has_index) and not (has_kb and has_index):
                missing = path / ("kb" if not has_kb else "index")
                raise ModelDataError(
                    f"entity_normalizer '{self.name}': {missing} is missing: the component was saved "
                    "with a knowledge base and its candidate index. Re-save the pipeline, or "
                    f"re-initialize it with [initialize.components.{self.name}.kb_loader]."
                )
            if has_kb and has_index:
                kb = KnowledgeBase.from_disk(path / "kb")
                index = CandidateIndex.from_disk(path / "index", kb)
        if cfg is not None:
            self.cfg.update(cfg)
        if kb is not None:
            self.kb, self.index = kb, index
        return self


@util.registry.misc("spacy-crf-ner.load_kb.v1")
def create_kb_loader(
    path: str, format: str = "auto", columns: Optional[Dict[str, str]] = None
) -> Callable[[Vocab], KnowledgeBase]:
    """KB loader for ``[initialize.components.entity_normalizer.kb_loader]``.

    path (str): A directory written by ``build-kb`` / ``KnowledgeBase.to_disk``, or a
        JSONL, TSV or CSV file.
    format (str): For files: "jsonl", "tsv", "csv" or "auto" (from the suffix).
    columns (Optional[Dict[str, str]]): For tables: field -> header name.
    RETURNS (Callable[[Vocab], KnowledgeBase]): The loader.
    """

    def load(vocab: Vocab) -> KnowledgeBase:
        p = Path(path)
        if p.is_dir():
            return KnowledgeBase.from_disk(p)
        if not p.exists():
            raise FileNotFoundError(
                f"spacy-crf-ner.load_kb.v1: no knowledge base at {path}. Give a KB file "
                "(JSONL/TSV/CSV) or a directory made by `python -m spacy_crf_ner build-kb`."
            )
        return KnowledgeBase.from_file(p, format=format, columns=columns)

    return load
