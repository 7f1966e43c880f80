"""What `crf_ner` and `crf_tagger` share: a TrainablePipe whose model ends in
the CRF layer, trained by the CRF's exact negative log-likelihood and decoded
by Viterbi under the tag scheme's constraints."""
import logging
import math
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, cast

import numpy
import srsly
from spacy import util
from spacy.errors import Errors
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d, Ints1d

from ..layers.crf import crf_decode, crf_loss, set_crf_tags
from ..layers.posteriors import CRFPosteriors
from ..integrity import verify_checksums, write_checksums
from ..schemes import normalize_scheme, tag_names

_RESAVE = "The file is damaged or from another version: re-save the pipeline, or re-train the component."

logger = logging.getLogger("spacy_crf_ner")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    return a == b


def _show(value: Any) -> str:
    return repr(round(value, 10)) if isinstance(value, float) else repr(value)


@dataclass
class CRFBatch:
    """What `predict` returns for a batch of docs, one entry per doc: the
    best tag path, the emission scores (on the model's backend) and the tags
    allowed per token (None: every tag), plus the posteriors of the batch when
    the component computes them (`crf_ner` does, at its temperature)."""

    paths: List[Ints1d]
    scores: List[Floats2d]
    allowed: List[Optional[numpy.ndarray]]
    posteriors: Optional[CRFPosteriors] = None

    def __len__(self) -> int:
        return len(self.paths)

    def masks(self) -> Optional[List[numpy.ndarray]]:
        """The allowed tags per doc as (T_i, K) boolean masks, or None when
        no doc is constrained."""
        if all(a is None for a in self.allowed):
            return None
        return [
            a if a is not None else numpy.ones(s.shape, dtype=bool) for a, s in zip(self.allowed, self.scores)
        ]

    def select(self, index: Iterable[int]) -> "CRFBatch":
        """The predictions of the docs at `index`, without posteriors."""
        index = list(index)
        return CRFBatch(
            [self.paths[i] for i in index], [self.scores[i] for i in index], [self.allowed[i] for i in index]
        )

    def extend(self, other: "CRFBatch") -> None:
        """Append the predictions of `other`'s docs; the posteriors, which
        belong to one batch, are dropped."""
        self.paths.extend(other.paths)
        self.scores.extend(other.scores)
        self.allowed.extend(other.allowed)
        self.posteriors = None


class CRFSequenceLabeler(TrainablePipe):
    """Base class of the CRF components. Subclasses say how gold tags are read
    from an Example (`gold_tags`), which tags are allowed per token at
    prediction time (`decode_constraints`) and how tags are written to a Doc
    (`set_annotations`)."""

    # Keys of self.cfg that come from the component's config (so from the
    # arguments of spacy.load(..., config=...)) rather than from the saved cfg,
    # which only restores what training learned (labels, scheme).
    settings: Tuple[str, ...] = ()

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str,
        *,
        scheme: str,
        scorer: Optional[Callable],
        **cfg: Any,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {"labels": [], "scheme": scheme, **cfg}
        self._tag_index: Dict[str, int] = {}
        # The teacher of `rehearse`: a copy of the model, set by
        # nlp.resume_training().
        self._rehearsal_model: Optional[Model] = None

    # -- labels ----------------------------------------------------------
    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    @property
    def tags(self) -> List[str]:
        """The CRF's tag inventory (its output columns)."""
        return tag_names(self.cfg["scheme"], self.labels)

    @property
    def crf(self) -> Model:
        return self.model.get_ref("crf")

    def add_label(self, label: str) -> int:
        """Add a label. On an initialized component the model grows: the
        output layer gets the new tags' columns and the CRF their transitions,
        the tag scheme's constraints are recomputed, and every existing tag
        keeps its weights, so training can continue (as with spaCy's `ner`).

        label (str): The label to add.
        RETURNS (int): 0 if the label is already present, otherwise 1.
        """
        if not isinstance(label, str):
            raise ValueError(Errors.E187)
        if label in self.labels:
            return 0
        initialized = self.crf.has_param("transitions") and self.crf.get_param("transitions") is not None
        if initialized and not self.model.has_ref("output"):
            raise ValueError(
                f"[{self.name}] Cannot add label {label!r} to the initialized model "
                f"{self.model.name!r}: it has no 'output' layer to resize. Give all labels "
                f"before `nlp.initialize()` (or in [initialize.components.{self.name}.labels])."
            )
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        self._tag_index = {}
        if initialized:
            from ..architectures import resize_emission_scorer

            resize_emission_scorer(self.model, self.tags, self.cfg["scheme"])
        return 1

    def tag_index(self) -> Dict[str, int]:
        if not self._tag_index:
            self._tag_index = {t: i for i, t in enumerate(self.tags)}
        return self._tag_index

    # -- to be provided by subclasses --------------------------------------
    def gold_tags(self, example: Example) -> List[Optional[str]]:
        raise NotImplementedError

    def labels_from_example(self, example: Example) -> Iterable[str]:
        raise NotImplementedError

    def decode_constraints(self, doc: Doc) -> Optional[numpy.ndarray]:
        return None

    # -- prediction -------------------------------------------------------
    def predict(self, docs: Iterable[Doc]) -> CRFBatch:
        """Score the docs and decode the best tag path of each (Viterbi under
        the scheme's constraints and `decode_constraints`), without changing
        the docs.

        docs (Iterable[Doc]): The documents to predict.
        RETURNS (CRFBatch): Paths, emission scores and constraints per doc.
        """
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            K = len(self.tags)
            ops = self.model.ops
            return CRFBatch(
                [ops.alloc1i(len(doc)) for doc in docs],
                [ops.alloc2f(len(doc), K) for doc in docs],
                [None] * len(docs),
            )
        scores = self.model.predict(docs)
        batch = CRFBatch([], scores, [self.decode_constraints(doc) for doc in docs])
        paths = crf_decode(self.crf, scores, batch.masks())
        batch.paths = [self.model.ops.to_numpy(p) for p in paths]
        return batch

    # -- training ---------------------------------------------------------
    def _gold_indices(self, examples: Iterable[Example]) -> List[Ints1d]:
        index = self.tag_index()
        out = []
        for eg in examples:
            tags = self.gold_tags(eg)
            ids = numpy.full(len(tags), -1, dtype="int64")
            for i, tag in enumerate(tags):
                if tag is None:
                    continue
                if tag not in index:
                    raise ValueError(
                        f"[{self.name}] The gold tag {tag!r} of token {i} "
                        f"({eg.predicted[i].text!r}) in {eg.predicted.text[:60]!r} is not "
                        f"one of this component's tags. Add its label with "
                        f"`nlp.get_pipe({self.name!r}).add_label()` (before or after "
                        "initializing), or let `initialize` infer the labels from the training data."
                    )
                ids[i] = index[tag]
            out.append(cast(Ints1d, ids))
        return out

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_scores = crf_loss(self.crf, scores, self._gold_indices(examples), accumulate=True)
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def rehearse(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Keep the model close to what it predicted before training resumed
        (against "catastrophic forgetting"): the teacher is the copy of the
        model that `nlp.resume_training()` made, and the student is trained
        on the teacher's best (Viterbi) tag paths for the examples' texts, by
        the same CRF loss as `update`. Tags the teacher does not know (labels
        added since) are never its answer; the gold annotations are not used.

        examples (Iterable[Example]): Examples whose predicted docs are tagged
            by the teacher.
        drop (float): The dropout rate.
        sgd (Optional[Optimizer]): The optimizer.
        losses (Optional[Dict[str, float]]): Losses to add to, by component.
        RETURNS (Dict[str, float]): The updated losses.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.rehearse")
        if self._rehearsal_model is None:
            raise ValueError(
                f"[{self.name}] rehearse needs a teacher model: call `nlp.resume_training()` "
                "before `nlp.rehearse()` (it keeps a copy of the current model), or train "
                "with `nlp.update()` on examples that include the old annotations."
            )
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return losses
        teacher_crf = self._rehearsal_model.get_ref("crf")
        teacher_tags = list(teacher_crf.attrs["tags"])
        index = self.tag_index()
        to_student = numpy.asarray([index[t] for t in teacher_tags], dtype="int64")
        teacher_paths = crf_decode(teacher_crf, self._rehearsal_model.predict(docs))
        gold = [to_student[self.model.ops.to_numpy(path)] for path in teacher_paths]
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update(docs)
        loss, d_scores = crf_loss(self.crf, scores, gold, accumulate=True)
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.get_loss")
        return crf_loss(self.crf, scores, self._gold_indices(examples), accumulate=False)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Initialize the component for training. Labels come from `labels`
        (e.g. [initialize.components.NAME.labels]), or from the training data.
        """
        validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        if labels is not None:
            self.cfg["labels"] = []
            for label in labels:
                self._add_label_unchecked(label)
        elif not self.labels:
            found: Set[str] = set()
            for eg in get_examples():
                found.update(self.labels_from_example(eg))
            for label in sorted(found):
                self._add_label_unchecked(label)
        if not self.labels:
            raise ValueError(
                f"[{self.name}] No labels: the training data has no annotations for "
                f"this component and none were given. Check the corpus, or set "
                f"[initialize.components.{self.name}.labels]."
            )
        self._tag_index = {}
        tags = self.tags
        set_crf_tags(self.crf, tags, self.cfg["scheme"])
        self.crf.set_dim("nO", len(tags), force=True)
        self.model.get_ref("output").set_dim("nO", len(tags), force=True)
        doc_sample = [eg.reference for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)

    def _add_label_unchecked(self, label: str) -> None:
        if label not in self.cfg["labels"]:
            self.cfg["labels"].append(label)
            self.vocab.strings.add(label)

    # -- serialization ----------------------------------------------------
    def _load_cfg(self, saved: Dict[str, Any]) -> None:
        """Take the saved cfg, except the settings, which keep the values the
        component was built with from the pipeline's config: that is what
        `spacy.load(path, config={"components": {NAME: {...}}})` and
        `spacy find-threshold` change, and `nlp.config` shows."""
        current = {key: self.cfg[key] for key in self.settings if key in self.cfg}
        for key, value in current.items():
            if key in saved and not _same(saved[key], value):
                # A temperature differing from the config's comes from a
                # pipeline calibrated before `calibrate` wrote the config.
                log = logger.warning if key == "temperature" else logger.info
                log(
                    "[%s] Using %s = %s from the pipeline's config, not the %s in its saved cfg. "
                    "To keep the saved value, set [components.%s] %s = %s in config.cfg.",
                    self.name, key, _show(value), _show(saved[key]), self.name, key, _show(saved[key]),
                )
        self.cfg.update(saved)
        self.cfg.update(current)

    def _restore_tags(self) -> None:
        self._tag_index = {}
        if self.labels:
            set_crf_tags(self.crf, self.tags, self.cfg["scheme"])

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        serialize = {
            "cfg": lambda: srsly.json_dumps(self.cfg),
            "vocab": lambda: self.vocab.to_bytes(exclude=exclude),
            "model": lambda: self.model.to_bytes(),
        }
        return util.to_bytes(serialize, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "CRFSequenceLabeler":
        def load_cfg(b: bytes) -> None:
            try:
                cfg = srsly.json_loads(b)
            except Exception as err:  # the JSON readers raise several types
                raise ValueError(f"[{self.name}] cannot read the saved settings ({err}). {_RESAVE}") from None
            self._check_cfg(cfg, "the saved settings")
            self._load_cfg(cfg)

        def load_model(b: bytes) -> None:
            try:
                self.model.from_bytes(b)
            except Exception as err:  # msgpack and thinc raise many types on damaged input
                raise ValueError(
                    f"[{self.name}] cannot load the saved weights ({type(err).__name__}: {err}). {_RESAVE}"
                ) from None

        deserialize: Dict[str, Callable[[bytes], Any]] = {
            "cfg": load_cfg,
            "vocab": lambda b: self.vocab.from_bytes(b, exclude=exclude),
            "model": load_model,
        }
        try:
            util.from_bytes(bytes_data, deserialize, exclude)
        except Exception as err:  # msgpack raises many types on damaged input
            if str(err).startswith(f"[{self.name}]"):
                raise
            raise ValueError(
                f"[{self.name}] cannot read the saved data ({type(err).__name__}: {err}). {_RESAVE}"
            ) from None
        self._restore_tags()
        return self

    def to_disk(self, path: Path, *, exclude: Iterable[str] = tuple()) -> None:
        path = util.ensure_path(path)
        serialize = {
            "cfg": lambda p: srsly.write_json(p, self.cfg),
            "vocab": lambda p: self.vocab.to_disk(p, exclude=exclude),
            "model": lambda p: p.open("wb").write(self.model.to_bytes()),
        }
        util.to_disk(path, serialize, exclude)
        write_checksums(path, [name for name in ("cfg", "model") if name not in exclude])

    def from_disk(self, path: Path, *, exclude: Iterable[str] = tuple()) -> "CRFSequenceLabeler":
        path = util.ensure_path(path)
        verify_checksums(path, self.name, exclude)

        def load_cfg(p: Path) -> None:
            try:
                cfg = srsly.read_json(p)
            except Exception as err:  # the JSON readers raise several types
                raise ValueError(f"[{self.name}] cannot read {p} ({err}). {_RESAVE}") from None
            self._check_cfg(cfg, p)
            self._load_cfg(cfg)

        def load_model(p: Path) -> None:
            try:
                with p.open("rb") as file_:
                    self.model.from_bytes(file_.read())
            except AttributeError:
                raise ValueError(Errors.E149) from None
            except FileNotFoundError:
                raise ValueError(f"[{self.name}] {p} is missing. {_RESAVE}") from None
            except Exception as err:  # msgpack and thinc raise many types on damaged input
                raise ValueError(
                    f"[{self.name}] cannot load the weights in {p} ({type(err).__name__}: {err}). {_RESAVE}"
                ) from None

        deserialize: Dict[str, Callable[[Path], Any]] = {
            "cfg": load_cfg,
            "vocab": lambda p: self.vocab.from_disk(p, exclude=exclude),
            "model": load_model,
        }
        util.from_disk(path, deserialize, exclude)
        self._restore_tags()
        return self

    def _check_cfg(self, cfg: Any, where: Any) -> None:
        """Check settings read from a saved `cfg` before using them."""
        if not isinstance(cfg, dict):
            raise ValueError(f"[{self.name}] {where} does not hold a mapping of settings. {_RESAVE}")
        labels = cfg.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(v, str) and v for v in labels):
            raise ValueError(f"[{self.name}] {where}: 'labels' must be a list of non-empty strings. {_RESAVE}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"[{self.name}] {where}: 'labels' repeats a label. {_RESAVE}")
        scheme = cfg.get("scheme", self.cfg["scheme"])
        try:
            if not isinstance(scheme, str):
                raise ValueError(f"'scheme' must be a string, not {scheme!r}")
            normalize_scheme(scheme)
        except ValueError as err:
            raise ValueError(f"[{self.name}] {where}: {err}. {_RESAVE}") from None
        for key, low, high in (("span_threshold", 0.0, 1.0), ("temperature", 0.0, float("inf"))):
            if key in cfg:
                value = cfg[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                    raise ValueError(f"[{self.name}] {where}: invalid {key} {value!r}. {_RESAVE}")
        if "temperature" in cfg and not cfg["temperature"] > 0:
            raise ValueError(f"[{self.name}] {where}: temperature must be positive. {_RESAVE}")
