"""The ``entity_normalizer`` component: link ``Doc.ents`` to canonical IDs of a
knowledge base.

It sets ``Span.kb_id_`` on each entity whose best candidate scores at least
``threshold`` (otherwise the entity stays unlinked, i.e. NIL) and keeps the
top-k candidates ``(id, score, matched alias)`` for every entity, readable as
``span._.kb_candidates``. Candidates come from a
:class:`~spacy_crf_ner.kb.index.CandidateIndex` (exact normalized alias,
word order, char n-gram TF-IDF, typos) with document-level help: in-text
abbreviation definitions (Schwartz & Hearst 2003), composite mentions
("breast and ovarian cancer") and consistency between mentions of the same
document. Domain rules are data (``rules``, e.g. the "biomedical" preset).
The KB and its index are saved with the pipeline (msgpack and numpy arrays,
no pickle). Its ``initialize`` loads the KB and adds aliases from gold
``kb_id`` annotations of the training examples.

With ``model = null`` (the default) the component has no trainable weights
and ranks candidates by string similarity. With a ``model``
(``spacy-crf-ner.CandidateRanker.v1``) it is trained by ``spacy train`` from
the gold ``kb_id`` of the reference entities: candidates from the index and
from a learned mention encoder are ranked by a scorer over their string
evidence and the mention's context (:mod:`spacy_crf_ner.linking`,
docs/design/learned-normalizer.md).
"""
import contextlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import numpy
from spacy import util
from spacy.attrs import ENT_KB_ID
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..kb.abbreviations import abbreviation_map, expand
from ..kb.composites import CompositeSplitter
from ..kb.consistency import consistent
from ..kb.ids import canonical_kb_id
from ..kb.index import CandidateIndex, IndexConfig
from ..kb.knowledge_base import KnowledgeBase
from ..kb.normalize import NormalizationConfig
from ..kb.rules import legacy_rules, resolve_rules
from ..kb.scoring import CANDIDATES_KEY
from ..linking.alias_embeddings import AliasEmbeddings
from ..linking.candidates import CandidateJoiner
from ..linking.ranker import RankerInput, RankerOutput
from ..linking.trained import (
    Candidates,
    TrainedRanking,
    gold_entities,
    initialize_model,
    ranking_loss,
    select_rows,
)
from . import normalizer_storage as storage

logger = logging.getLogger("spacy_crf_ner")

DEFAULT_CONFIG_STR = """
[entity_normalizer]
threshold = 0.5
top_k = 5
type_map = {}
normalization = {}
index = {}
abbreviations = true
composites = true
doc_consistency = true
harvest_aliases = true
overwrite = true
model = null

[entity_normalizer.rules]
preset = null

[entity_normalizer.scorer]
@scorers = "spacy-crf-ner.normalizer_scorer.v1"
"""
DEFAULT_CONFIG = Config().from_str(DEFAULT_CONFIG_STR)["entity_normalizer"]


def _get_kb_candidates(span: Span) -> List[Tuple[str, float, str]]:
    store = span.doc.user_data.get(CANDIDATES_KEY) or {}
    return [tuple(c) for c in store.get(f"{span.start_char}:{span.end_char}", [])]  # type: ignore[misc]


if not Span.has_extension("kb_candidates"):
    Span.set_extension("kb_candidates", getter=_get_kb_candidates)


@Language.factory(
    "entity_normalizer",
    assigns=["doc.ents", "token.ent_kb_id"],
    requires=["doc.ents"],
    default_config=DEFAULT_CONFIG,
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
    doc_consistency: bool,
    harvest_aliases: bool,
    overwrite: bool,
    rules: Dict[str, Any],
    scorer: Optional[Callable],
    model: Optional[Model] = None,
    composite_modifiers: Optional[List[str]] = None,
) -> "EntityNormalizer":
    """Create an ``entity_normalizer``.

    threshold (float): Minimum score of the best candidate to set ``kb_id`` (NIL below).
    top_k (int): Candidates kept per entity in ``span._.kb_candidates``.
    type_map (Dict[str, List[str]]): NER label -> allowed KB types; labels not listed
        are unconstrained.
    normalization (Dict[str, Any]): Overrides of
        :class:`~spacy_crf_ner.kb.normalize.NormalizationConfig`.
    index (Dict[str, Any]): Overrides of :class:`~spacy_crf_ner.kb.index.IndexConfig`.
    abbreviations (bool): Resolve short forms defined in the document.
    composites (bool): Split coordinated mentions ("breast and ovarian cancer") that
        have no exact match and link each part.
    doc_consistency (bool): Prefer IDs already linked with certainty in the document.
    harvest_aliases (bool): At initialize, add gold entity texts with a ``kb_id`` as aliases.
    overwrite (bool): Replace ``kb_id`` values already set on entities.
    rules (Dict[str, Any]): Domain rules: ``preset`` (a preset shipped with the package,
        e.g. "biomedical", or null) and lists added to it, the fields of
        :class:`~spacy_crf_ner.kb.rules.NormalizerRules`.
    scorer (Optional[Callable]): The scoring method.
    model (Optional[Model]): A candidate ranker to train
        (``spacy-crf-ner.CandidateRanker.v1``), or None to rank by string similarity.
    composite_modifiers (Optional[List[str]]): Only in configs written before
        ``rules`` existed: the then built-in biomedical rules with these modifiers.
    RETURNS (EntityNormalizer): The component.
    """
    if composite_modifiers is not None:
        logger.warning(
            "entity_normalizer '%s': composite_modifiers is a setting of configs written before "
            "[components.%s.rules]; applying the rules those versions had built in (preset "
            "\"biomedical\" with these modifiers). Set rules.preset and rules.composite_modifiers instead.",
            name, name,
        )
        rules = legacy_rules(composite_modifiers)
    return EntityNormalizer(
        nlp.vocab,
        name,
        threshold=threshold,
        top_k=top_k,
        type_map=type_map,
        normalization=normalization,
        index=index,
        abbreviations=abbreviations,
        composites=composites,
        doc_consistency=doc_consistency,
        harvest_aliases=harvest_aliases,
        overwrite=overwrite,
        rules=rules,
        scorer=scorer,
        model=model,
    )


class EntityNormalizer(Pipe):
    """Link entities to IDs of a knowledge base by string similarity."""

    def __init__(
        self,
        vocab: Vocab,
        name: str,
        *,
        threshold: float,
        top_k: int,
        type_map: Dict[str, List[str]],
        normalization: Dict[str, Any],
        index: Dict[str, Any],
        abbreviations: bool,
        composites: bool,
        doc_consistency: bool,
        harvest_aliases: bool,
        overwrite: bool,
        rules: Dict[str, Any],
        scorer: Optional[Callable],
        model: Optional[Model] = None,
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
            "doc_consistency": bool(doc_consistency),
            "harvest_aliases": bool(harvest_aliases),
            "overwrite": bool(overwrite),
            "rules": {"preset": None, **dict(rules)},
        }
        self._set_rules()
        self.kb: Optional[KnowledgeBase] = None
        self.index: Optional[CandidateIndex] = None
        if model is not None and not isinstance(model, Model):
            raise ValueError(
                f"entity_normalizer '{name}': model must be a thinc Model (e.g. "
                f"@architectures = \"spacy-crf-ner.CandidateRanker.v1\") or null, not {type(model).__name__}."
            )
        self.model = model
        # The trained mode's alias embeddings and candidate joiners.
        self._ranking = TrainedRanking()

    def _set_rules(self) -> None:
        self.rules = resolve_rules(self.cfg["rules"])
        self._splitter = CompositeSplitter(self.rules)

    # Applying

    def __call__(self, doc: Doc) -> Doc:
        """Link the entities of one document.

        doc (Doc): The document, with ``doc.ents`` set.
        RETURNS (Doc): The document, entities with ``kb_id`` and candidates.
        """
        error_handler = self.get_error_handler()
        try:
            self.set_annotations([doc], self.predict([doc]))
            return doc
        except Exception as e:
            error_handler(self.name, self, [doc], e)
            return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Link the entities of a stream of documents.

        stream (Iterable[Doc]): The documents.
        batch_size (int): Documents per batch.
        YIELDS (Doc): The documents, linked.
        """
        error_handler = self.get_error_handler()
        for docs in util.minibatch(stream, size=batch_size):
            try:
                self.set_annotations(docs, self.predict(docs))
                yield from docs
            except Exception as e:
                error_handler(self.name, self, docs, e)

    def _require_index(self) -> CandidateIndex:
        if self.index is None:
            raise ValueError(
                f"entity_normalizer '{self.name}': no knowledge base loaded. Call nlp.initialize() "
                "with [initialize.components."
                f"{self.name}.kb_loader] set (e.g. @misc = \"spacy-crf-ner.load_kb.v1\"), or "
                "load a pipeline saved after initialization."
            )
        return self.index

    def predict(self, docs: Iterable[Doc]) -> List[List[Candidates]]:
        """Candidates for every entity of every document; does not modify the docs.

        docs (Iterable[Doc]): The documents.
        RETURNS (List[List[Tuple[Tuple[str, float, str], ...]]]): Per doc, per
            entity, its candidates best first as (id, score, alias) tuples:
            plain tuples, which linked docs keep (docs/design/normalizer.md).
        """
        index = self._require_index()
        cfg = self.cfg
        docs = list(docs)
        mentions, allowed, labels, n_ents = self._mentions(docs, [list(doc.ents) for doc in docs])
        if self.model is None:
            batch = index.search(mentions, cfg["top_k"], allowed)
            results = batch.rows()
            keys = batch.keys
        else:
            results = self._ranking.rank(self._require_model(), index, docs, mentions, allowed, cfg["top_k"])
            keys = [index.normalizer(m) for m in mentions]
        if cfg["composites"]:
            self._splitter.link(index, mentions, allowed, results, cfg["top_k"])
        out: List[List[Candidates]] = []
        start = 0
        for n in n_ents:
            doc_results = results[start : start + n]
            if cfg["doc_consistency"]:
                # Same text and same label: a different label may carry a
                # different type constraint.
                doc_results = consistent(doc_results, list(zip(keys[start : start + n], labels[start : start + n])))
            out.append(doc_results)
            start += n
        return out

    def _mentions(
        self, docs: Sequence[Doc], ents_of_docs: Sequence[Sequence[Span]]
    ) -> Tuple[List[str], List[Optional[Set[str]]], List[str], List[int]]:
        """The mention texts (short forms defined in the document expanded),
        type filters and labels of entities, and the number per doc."""
        cfg = self.cfg
        subtypes = self.rules.subtype_expansion
        mentions: List[str] = []
        allowed: List[Optional[Set[str]]] = []
        labels: List[str] = []
        n_ents: List[int] = []
        type_map: Dict[str, Optional[Set[str]]] = {}
        for doc, ents in zip(docs, ents_of_docs):
            # Span.text builds Token objects: slice the doc's text instead.
            text = doc.text
            long_forms = (
                {a.short: a.long for a in abbreviation_map(text).values()}
                if cfg["abbreviations"] and "(" in text and ents
                else {}
            )
            for ent in ents:
                mention = text[ent.start_char : ent.end_char]
                mentions.append(expand(mention, long_forms, subtypes) if long_forms else mention)
                label = ent.label_
                labels.append(label)
                if label not in type_map:
                    types = cfg["type_map"].get(label)
                    type_map[label] = set(types) if types is not None else None
                allowed.append(type_map[label])
            n_ents.append(len(ents))
        return mentions, allowed, labels, n_ents

    # The trained mode

    @property
    def is_trainable(self) -> bool:
        """RETURNS (bool): Whether the component has a model to train."""
        return self.model is not None

    def _require_model(self) -> Model:
        if self.model is None:
            raise ValueError(f"entity_normalizer '{self.name}': this component has no model (model = null).")
        return self.model

    def rebuild_embeddings(self, *, progress: bool = False) -> None:
        """Compute the embeddings of every KB alias with the current encoder
        (after training, or when the KB changed).

        progress (bool): Show a progress bar.
        """
        self._ranking.rebuild(self._require_model(), self._require_index(), progress=progress)

    @property
    def alias_embeddings(self) -> Optional[AliasEmbeddings]:
        """RETURNS (Optional[AliasEmbeddings]): The trained mode's embeddings of the
        KB's aliases, None until computed."""
        return self._ranking.alias_embeddings

    def _training_batch(self, examples: Sequence[Example]) -> Tuple[RankerInput, numpy.ndarray]:
        """The model's input for the reference entities with a gold ``kb_id``
        (on the predicted docs) and each one's gold column."""
        docs, ents_of_docs, golds = gold_entities(examples)
        mentions, allowed, _, _ = self._mentions(docs, ents_of_docs)
        return self._ranking.training_batch(
            self._require_model(), self._require_index(), docs, ents_of_docs, mentions, allowed, golds
        )

    def _training_joiner(self) -> Optional[CandidateJoiner]:
        """For half of the training batches, the candidate joiner of the KB
        without the harvested aliases; None: the full KB's (see
        :meth:`TrainedRanking.training_joiner`)."""
        return self._ranking.training_joiner(self._require_model(), self._require_index())

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of examples: the reference entities with a gold
        ``kb_id`` are linked on the predicted docs (entities without one are
        ignored). Without a model, nothing is learned.

        examples (Iterable[Example]): The batch.
        drop (float): The dropout rate.
        sgd (Optional[Optimizer]): The optimizer; None to only accumulate gradients.
        losses (Optional[Dict[str, float]]): Losses by component, updated.
        RETURNS (Dict[str, float]): The losses.
        """
        if losses is None:
            losses = {}
        if self.model is None:
            return losses
        examples = list(examples)
        validate_examples(examples, "EntityNormalizer.update")
        losses.setdefault(self.name, 0.0)
        set_dropout_rate(self.model, drop)
        X, gold = self._training_batch(examples)
        keep = gold >= 0
        if not keep.any():
            return losses
        X = select_rows(X, keep)
        output, backprop = self.model.begin_update(X)
        loss, d_output = self.get_loss(examples, output, gold=gold[keep], inputs=X)
        backprop(d_output)
        if sgd is not None:
            self.finish_update(sgd)
        self._ranking.stale = True
        losses[self.name] += loss
        return losses

    def get_loss(
        self,
        examples: Iterable[Example],
        scores: RankerOutput,
        *,
        gold: Optional[numpy.ndarray] = None,
        inputs: Optional[RankerInput] = None,
    ) -> Tuple[float, RankerOutput]:
        """The softmax cross-entropy of the gold candidate of each mention, plus,
        in training, that of the gold alias among the batch's candidate aliases.

        examples (Iterable[Example]): The batch.
        scores (RankerOutput): The model's output for it.
        gold (Optional[numpy.ndarray]): Gold column per mention (computed from
            the examples if not given).
        inputs (Optional[RankerInput]): The model's input (computed if not given).
        RETURNS (Tuple[float, RankerOutput]): The loss and its gradient.
        """
        model = self._require_model()
        if gold is None or inputs is None:
            inputs, gold = self._training_batch(list(examples))
            keep = gold >= 0
            inputs, gold = select_rows(inputs, keep), gold[keep]
        return ranking_loss(model.ops, scores, gold, inputs)

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the accumulated gradients.

        sgd (Optimizer): The optimizer.
        """
        self._require_model().finish_update(sgd)
        self._ranking.stale = True

    def create_optimizer(self) -> Optimizer:
        """RETURNS (Optimizer): spaCy's default optimizer."""
        return util.create_default_optimizer()

    @contextlib.contextmanager
    def use_params(self, params: Dict) -> Iterator[None]:
        """Use other parameter values (e.g. the averages) inside the block;
        the alias embeddings follow them.

        params (Dict): The parameter values by id.
        """
        if self.model is None:
            yield
            return
        self._ranking.stale = True
        with self.model.use_params(params):
            yield
        self._ranking.stale = True

    def set_annotations(self, docs: Iterable[Doc], candidates: Sequence[Sequence[Candidates]]) -> None:
        """Write ``kb_id`` and the candidate lists into the docs.

        docs (Iterable[Doc]): The documents.
        candidates (Sequence[Sequence[Tuple[Tuple[str, float, str], ...]]]): As
            returned by :meth:`predict`.
        """
        threshold = self.cfg["threshold"]
        overwrite = self.cfg["overwrite"]
        for doc, doc_cands in zip(docs, candidates):
            store: Dict[str, Candidates] = {}
            ents = doc.ents
            if ents:
                # Only the KB IDs change: written through the token array,
                # which leaves the entities as they are (setting doc.ents
                # would mark tokens with missing annotation O).
                kb_ids: Any = doc.to_array(ENT_KB_ID)  # 1-d uint64 (the stubs say 2-d floats)
                for ent, cands in zip(ents, doc_cands):
                    store[f"{ent.start_char}:{ent.end_char}"] = cands
                    if overwrite or not ent.kb_id:
                        kb_id = cands[0][0] if cands and cands[0][1] >= threshold else ""
                        kb_ids[ent.start : ent.end] = doc.vocab.strings.add(kb_id)
                doc.from_array([ENT_KB_ID], kb_ids)
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
        # The trained mode also trains on the KB as loaded (see _training_joiner);
        # harvested aliases come after its entities and pairs, so it is a prefix.
        harvest_free = (
            KnowledgeBase.from_dict(kb.to_dict())
            if self.model is not None and self.cfg["harvest_aliases"] and kb.n_aliases
            else None
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
        if harvest_free is not None and harvest_free.n_aliases < kb.n_aliases:
            self._ranking.harvest_free = (self._build_index(harvest_free), None)
        if self.model is not None:
            self._initialize_model(get_examples)

    def _initialize_model(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        """Initialize the model on a sample of the training examples and embed the KB's aliases."""
        initialize_model(self._require_model(), get_examples, self.name)
        self.rebuild_embeddings(progress=True)

    def set_kb(self, kb: KnowledgeBase) -> None:
        """Use a knowledge base: build its candidate index with this component's settings.

        kb (KnowledgeBase): The knowledge base.
        """
        self.kb = kb
        self.index = self._build_index(kb)
        # The trained mode embeds the new KB's aliases when it next needs them.
        self._ranking.reset()

    def _build_index(self, kb: KnowledgeBase) -> CandidateIndex:
        """The candidate index of a KB with this component's settings."""
        normalization = NormalizationConfig.from_dict(self.cfg["normalization"])
        singular = tuple(dict.fromkeys(normalization.singular_words + self.rules.singular_words))
        return CandidateIndex.build(
            kb, replace(normalization, singular_words=singular), IndexConfig.from_dict(self.cfg["index"])
        )

    # Serialization

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """Serialize the component, its KB and its index.

        exclude (Iterable[str]): Fields to leave out ("cfg", "kb", "model").
        RETURNS (bytes): The data.
        """
        return storage.to_bytes(self, exclude=exclude)

    def _current_embeddings(self) -> Optional[AliasEmbeddings]:
        """The alias embeddings to save: recomputed if the encoder changed since."""
        if self.model is None:
            return None
        return self._ranking.current_embeddings(self.model, self.index)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "EntityNormalizer":
        """Load the component from bytes.

        bytes_data (bytes): As returned by :meth:`to_bytes`.
        exclude (Iterable[str]): Fields to leave out.
        RETURNS (EntityNormalizer): The component.
        RAISES (ValueError): If the data is damaged; nothing is changed then.
        """
        return storage.from_bytes(self, bytes_data, exclude=exclude)

    def _loaded(
        self,
        cfg: Optional[Dict[str, Any]],
        kb: Optional[KnowledgeBase],
        index: Optional[CandidateIndex],
        embeddings: Optional[AliasEmbeddings] = None,
    ) -> "EntityNormalizer":
        """Take what was read, once all of it was read and checked."""
        if cfg is not None:
            self.cfg.update(cfg)
            self._set_rules()
        if kb is not None:
            self.kb, self.index = kb, index
            self._ranking.joiner = None
        if embeddings is not None:
            self._ranking.set_embeddings(embeddings)
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        """Save to a directory: ``cfg``, ``kb/`` and ``index/`` (whenever a KB
        is set), and ``checksums.json`` of them all.

        path (Union[str, Path]): The directory.
        exclude (Iterable[str]): Fields to leave out ("cfg", "kb").
        """
        storage.to_disk(self, path, exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "EntityNormalizer":
        """Load from a directory written by :meth:`to_disk`.

        path (Union[str, Path]): The directory.
        exclude (Iterable[str]): Fields to leave out.
        RETURNS (EntityNormalizer): The component.
        RAISES (ValueError): If a file is missing, damaged or invalid (naming
            it); nothing is changed then.
        """
        return storage.from_disk(self, path, exclude=exclude)
