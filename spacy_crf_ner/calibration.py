"""Calibration of `crf_ner` entity probabilities.

A CRF trained to convergence tends to be overconfident: its entities'
probabilities average higher than their precision. Temperature scaling (Guo et
al. 2017) divides every CRF score by one number T before normalizing; T > 1
softens the probabilities and leaves the predicted entities unchanged. The
temperature is fitted on held-out data (never the training data) by
minimizing the log loss of "this predicted entity is correct" with a bounded
1-D optimiser over log T, and stored as the component's `temperature` setting
in the pipeline's config.
"""
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from .pipeline.base import CRFBatch
from .pipeline.crf_ner import CRFEntityRecognizer
from .schemes import SpanTuple


@dataclass
class EntityPredictions:
    """A `crf_ner` component's predictions for a set of docs (paths, emission
    scores and constraints), the entities it predicted and whether each
    matches the gold exactly."""

    predictions: CRFBatch = field(default_factory=lambda: CRFBatch([], [], []))
    spans: List[List[SpanTuple]] = field(default_factory=list)
    correct: List[List[bool]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.spans)

    def subset(self, index: Sequence[int]) -> "EntityPredictions":
        """The predictions for the docs at `index`."""
        return EntityPredictions(
            self.predictions.select(index),
            [self.spans[i] for i in index],
            [self.correct[i] for i in index],
        )


def crf_ner_component(nlp: Language, name: str) -> CRFEntityRecognizer:
    """The pipeline's component `name`, which must be a crf_ner.

    nlp (Language): The pipeline.
    name (str): The component's name.
    RETURNS (CRFEntityRecognizer): The component.
    """
    pipe = nlp.get_pipe(name)
    if not isinstance(pipe, CRFEntityRecognizer):
        raise ValueError(
            f"[{name}] Calibration needs a crf_ner component, but {name!r} is a {type(pipe).__name__}. "
            f"Name the crf_ner component of the pipeline ({nlp.pipe_names})."
        )
    return pipe


def collect_predictions(
    nlp: Language, examples: Iterable[Example], component: str = "crf_ner", batch_size: int = 64
) -> EntityPredictions:
    """Run the pipeline up to `component` on the examples' predicted docs and
    record the component's predictions and predicted entities."""
    ner = crf_ner_component(nlp, component)
    before = [proc for name, proc in nlp.pipeline[: nlp.pipe_names.index(component)]]
    out = EntityPredictions()
    examples = list(examples)
    for i in range(0, len(examples), batch_size):
        batch = examples[i : i + batch_size]
        docs: List[Doc] = [eg.predicted.copy() for eg in batch]
        for proc in before:
            # Components made with @Language.component are functions of a doc.
            pipe = getattr(proc, "pipe", None)
            docs = list(pipe(docs)) if pipe is not None else [proc(doc) for doc in docs]
        predictions = ner.predict(docs)
        for eg, spans in zip(batch, ner.predicted_spans(predictions)):
            gold = {
                (s.start, s.end, s.label_)
                for s in (eg.get_aligned_spans_y2x(eg.reference.ents, allow_overlap=False))
            }
            out.spans.append(spans)
            out.correct.append([span in gold for span in spans])
        out.predictions.extend(predictions)
    return out


def entity_confidences(
    ner: CRFEntityRecognizer,
    data: EntityPredictions,
    temperature: Optional[float] = None,
    batch_size: int = 256,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Confidence and correctness of every predicted entity at `temperature`
    (default: the component's), from `CRFEntityRecognizer.span_probabilities`."""
    confs: List[float] = []
    for i in range(0, len(data), batch_size):
        index = range(i, min(i + batch_size, len(data)))
        probs = ner.span_probabilities(
            data.predictions.select(index), data.spans[i : i + batch_size], temperature=temperature
        )
        confs.extend(p for doc in probs for p in doc)
    correct = [c for doc in data.correct for c in doc]
    return numpy.asarray(confs), numpy.asarray(correct, dtype=bool)


def expected_calibration_error(conf: numpy.ndarray, correct: numpy.ndarray, n_bins: int = 10) -> float:
    """ECE with `n_bins` equal-width bins: the mean |confidence - accuracy|
    per bin, weighted by the bin's share of entities."""
    if not len(conf):
        return 0.0
    bins = numpy.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for k in range(n_bins):
        sel = bins == k
        if sel.any():
            ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return float(ece)


def log_loss(conf: numpy.ndarray, correct: numpy.ndarray) -> float:
    p = numpy.clip(conf, 1e-7, 1 - 1e-7)
    return float(-numpy.mean(numpy.where(correct, numpy.log(p), numpy.log1p(-p))))


def fit_temperature(
    ner: CRFEntityRecognizer,
    data: EntityPredictions,
    bounds: Tuple[float, float] = (0.05, 20.0),
    tol: float = 1e-4,
) -> float:
    """The temperature that minimizes the log loss of entity correctness on
    `data`, found by a bounded 1-D search (Brent's method) over
    log-temperature.

    ner (CRFEntityRecognizer): The component whose CRF scores the entities.
    data (EntityPredictions): Predictions on held-out data, from
        `collect_predictions`.
    bounds (Tuple[float, float]): The lowest and highest temperature allowed.
    tol (float): Tolerance on log-temperature.
    RETURNS (float): The fitted temperature.
    """
    from scipy.optimize import minimize_scalar

    n_entities = sum(len(spans) for spans in data.spans)
    if n_entities == 0:
        raise ValueError(
            f"[{ner.name}] Cannot fit a temperature: the component predicts no entities on the "
            f"{len(data.spans)} held-out docs, so there is nothing to calibrate. Use held-out data "
            "with gold entities on which the pipeline finds entities."
        )
    lo, hi = bounds
    if not 0 < lo < hi:
        raise ValueError(f"[{ner.name}] Temperature bounds must satisfy 0 < low < high, not {bounds}.")

    def loss(log_t: float) -> float:
        return log_loss(*entity_confidences(ner, data, float(numpy.exp(log_t))))

    result = minimize_scalar(
        loss, bounds=(numpy.log(lo), numpy.log(hi)), method="bounded", options={"xatol": tol}
    )
    return float(numpy.exp(result.x))


def check_calibration_data(ner: CRFEntityRecognizer, examples: Sequence[Example]) -> None:
    """Refuse held-out data with no gold entities: calibrating on it would
    push every confidence towards 0."""
    if not any(len(eg.reference.ents) for eg in examples):
        raise ValueError(
            f"[{ner.name}] The calibration data ({len(examples)} docs) has no gold entities. "
            "Calibrate on held-out data annotated with entities (e.g. the dev set), "
            "never on the training data."
        )


def set_temperature(nlp: Language, component: str, temperature: float) -> None:
    """Store a fitted temperature in the component and in the pipeline's
    config ([components.NAME] temperature), so that the saved config.cfg
    holds it and loading the pipeline restores it."""
    if not temperature > 0:
        raise ValueError(f"[{component}] temperature must be positive, not {temperature}.")
    # 6 significant digits survive the JSON of the saved cfg unchanged
    temperature = float(f"{temperature:.6g}")
    crf_ner_component(nlp, component).temperature = temperature
    # nlp.config is rebuilt from the pipe configs on every access
    nlp.get_pipe_config(component)["temperature"] = temperature
