"""`crf_ner`: named entity recognition with a linear-chain CRF."""
import logging
from typing import Callable, Iterable, List, Optional, Sequence

import numpy
from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import Config, Model

from ..layers.posteriors import CRFPosteriors
from ..schemes import (
    SpanTuple,
    biluo_to_scheme,
    continuation_tags,
    entity_tags,
    normalize_scheme,
    tags_to_spans,
)
from .base import CRFBatch, CRFSequenceLabeler

DEFAULT_CRF_NER_MODEL = """
[model]
@architectures = "spacy-crf-ner.EmissionScorer.v1"
nO = null
dropout = 0.1

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""

logger = logging.getLogger("spacy_crf_ner")

CONFIDENCE_ATTR = "crf_confidence"
if not Span.has_extension(CONFIDENCE_ATTR):
    Span.set_extension(CONFIDENCE_ATTR, default=None)


@Language.factory(
    "crf_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "span._.crf_confidence"],
    default_config={
        "model": Config().from_str(DEFAULT_CRF_NER_MODEL)["model"],
        "scheme": "BILUO",
        "spans_key": "crf_spans",
        "span_threshold": 0.1,
        "temperature": 1.0,
        "scorer": {"@scorers": "spacy-crf-ner.ner_scorer.v1"},
    },
    default_score_weights={
        "ents_f": 1.0,
        "ents_p": 0.0,
        "ents_r": 0.0,
        "ents_per_type": None,
        # Reported for `spacy find-threshold` and `spacy evaluate`, never
        # weighed into the training score.
        "spans_crf_spans_f": None,
        "spans_crf_spans_p": None,
        "spans_crf_spans_r": None,
        "spans_crf_spans_per_type": None,
    },
)
def make_crf_ner(
    nlp: Language,
    name: str,
    model: Model,
    scheme: str,
    spans_key: Optional[str],
    span_threshold: float,
    temperature: float,
    scorer: Optional[Callable],
) -> "CRFEntityRecognizer":
    """Create a CRF entity recognizer.

    model (Model[List[Doc], List[Floats2d]]): Emission scores followed by the
        CRF layer, e.g. spacy-crf-ner.EmissionScorer.v1.
    scheme (str): "BIO" or "BILUO" (= "BIOES"): the tags the CRF predicts and
        whose constraints it enforces in training and decoding.
    spans_key (Optional[str]): If set, every span whose probability is at least
        `span_threshold` is stored in doc.spans[spans_key], with its probability
        in the group's attrs["scores"], and scored as spans_<key>_p/r/f. None
        to skip.
    span_threshold (float): The probability threshold for doc.spans. Tune it
        with `spacy find-threshold MODEL DATA crf_ner span_threshold
        spans_crf_spans_f`.
    temperature (float): Divides the CRF's scores when computing probabilities
        (not when decoding); > 1 softens overconfident probabilities. Fit it on
        held-out data with `spacy_crf_ner.calibration.fit_temperature`.
    scorer (Optional[Callable]): The scoring method.
    """
    return CRFEntityRecognizer(
        nlp.vocab,
        model,
        name,
        scheme=scheme,
        spans_key=spans_key,
        span_threshold=span_threshold,
        temperature=temperature,
        scorer=scorer,
    )


class CRFEntityRecognizer(CRFSequenceLabeler):
    """Entity recognizer: the CRF predicts BIO or BILUO tags, decoded into
    Doc.ents; each entity's exact probability goes to Span._.crf_confidence.

    Entities already on the Doc (from an entity_ruler, say) are kept, and
    decoding is forced to agree with them.
    """

    # Settings that the config given at load time decides, not the saved cfg.
    settings = ("spans_key", "span_threshold", "temperature")

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "crf_ner",
        *,
        scheme: str,
        spans_key: Optional[str],
        span_threshold: float,
        temperature: float,
        scorer: Optional[Callable],
    ) -> None:
        """Initialize a CRF entity recognizer. The settings' defaults are the
        factory's (`make_crf_ner`), where they are described.

        vocab (Vocab): The shared vocabulary.
        model (Model[List[Doc], List[Floats2d]]): Emission scores followed by
            the CRF layer.
        name (str): The component instance name, used in messages and losses.
        """
        scheme = normalize_scheme(scheme)
        if scheme == "tags":
            raise ValueError(f"[{name}] crf_ner needs an entity scheme, 'BIO' or 'BILUO', not 'tags'.")
        if not 0.0 <= span_threshold <= 1.0:
            raise ValueError(f"[{name}] span_threshold must be in [0, 1], not {span_threshold}.")
        if not temperature > 0:
            raise ValueError(f"[{name}] temperature must be positive, not {temperature}.")
        super().__init__(
            vocab,
            model,
            name,
            scheme=scheme,
            scorer=scorer,
            spans_key=spans_key,
            span_threshold=span_threshold,
            temperature=temperature,
        )

    @property
    def temperature(self) -> float:
        """The temperature that divides the CRF's scores when computing
        probabilities (not when decoding). Set it to a fitted value with
        `spacy_crf_ner.calibration.set_temperature`, which also writes it to
        the pipeline's config."""
        return self.cfg["temperature"]

    @temperature.setter
    def temperature(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"[{self.name}] temperature must be positive, not {value}.")
        self.cfg["temperature"] = value

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Initialize for training (see `CRFSequenceLabeler.initialize`), and
        warn about gold entities over whitespace tokens: crf_ner tags those
        tokens O when predicting, so such entities can never be predicted."""
        super().initialize(get_examples, nlp=nlp, labels=labels)
        count = 0
        first = None
        for i, eg in enumerate(get_examples()):
            for ent in eg.reference.ents:
                if any(t.is_space for t in ent):
                    count += 1
                    if first is None:
                        first = (i, ent.text, ent.label_)
        if first is not None:
            logger.warning(
                "[%s] %d gold entities cover whitespace tokens (the first: %r, %s, in example %d). "
                "crf_ner tags whitespace tokens O when predicting, so these entities can never be "
                "predicted as annotated. Remove the line breaks or extra spaces inside entities, "
                "or end the entities before them.",
                self.name, count, first[1], first[2], first[0],
            )

    def labels_from_example(self, example: Example) -> Iterable[str]:
        return [ent.label_ for ent in example.reference.ents]

    def gold_tags(self, example: Example) -> List[Optional[str]]:
        return biluo_to_scheme(example.get_aligned_ner(), self.cfg["scheme"])

    def decode_constraints(self, doc: Doc) -> Optional[numpy.ndarray]:
        """Tokens of preset entities must keep their tags; whitespace tokens
        are outside any entity."""
        # Read the flags as an array: iterating Tokens costs more than decoding.
        spaces = doc.to_array("IS_SPACE").astype(bool) if len(doc) else numpy.zeros(0, dtype=bool)
        if not doc.ents and not spaces.any():
            return None
        index = self.tag_index()
        scheme = self.cfg["scheme"]
        allowed = numpy.ones((len(doc), len(index)), dtype=bool)
        allowed[spaces] = False
        allowed[spaces, index["O"]] = True
        for ent in doc.ents:
            allowed[ent.start : ent.end] = False
            if ent.label_ not in self.labels:
                # Not ours to predict: the CRF sees O there, and the entity is
                # put back as it was in set_annotations.
                allowed[ent.start : ent.end, index["O"]] = True
                continue
            path = entity_tags(scheme, len(ent), ent.label_)
            for k, tag in enumerate(path):
                allowed[ent.start + k, index[tag]] = True
            if ent.end < len(doc):
                for tag in continuation_tags(scheme, ent.label_):
                    allowed[ent.end, index[tag]] = False
        return allowed

    def predict(self, docs: Iterable[Doc]) -> CRFBatch:
        """Decode the best tag path of each doc, and compute the posteriors
        that give every entity its probability (at the component's
        temperature).

        docs (Iterable[Doc]): The documents to predict.
        RETURNS (CRFBatch): Paths, emission scores, constraints and posteriors.
        """
        batch = super().predict(docs)
        batch.posteriors = self._posteriors(batch, self.temperature)
        return batch

    def predicted_spans(self, batch: CRFBatch) -> List[List[SpanTuple]]:
        """The entities of each doc's best tag path, as token offsets. Preset
        entities of the component's labels are among them, as decoding is
        forced to agree with them.

        batch (CRFBatch): The output of `predict`.
        RETURNS (List[List[Tuple[int, int, str]]]): (start, end, label) per
            entity, per doc.
        """
        tags = self.tags
        scheme = self.cfg["scheme"]
        return [tags_to_spans([tags[k] for k in path], scheme) for path in batch.paths]

    def span_probabilities(
        self,
        batch: CRFBatch,
        spans: Sequence[Sequence[SpanTuple]],
        *,
        temperature: Optional[float] = None,
    ) -> List[List[float]]:
        """The exact probability, under the CRF, that each span is one entity
        of its label, no more and no less: the value `set_annotations` writes
        to Span._.crf_confidence. At another temperature than the
        component's, the probabilities are computed from the batch's emission
        scores again, without running the model; the best paths do not depend
        on the temperature.

        batch (CRFBatch): The output of `predict` for the docs.
        spans (Sequence[Sequence[Tuple[int, int, str]]]): (start, end, label)
            token spans per doc, e.g. from `predicted_spans`.
        temperature (Optional[float]): The temperature to compute the
            probabilities at. Defaults to the component's `temperature`.
        RETURNS (List[List[float]]): One probability per span, per doc.
        """
        if len(spans) != len(batch):
            raise ValueError(
                f"[{self.name}] span_probabilities got spans for {len(spans)} docs and predictions "
                f"for {len(batch)}. Pass one list of spans per doc of the batch."
            )
        if temperature is None:
            temperature = self.temperature
        post = batch.posteriors
        if post is None or post.temperature != temperature:
            post = self._posteriors(batch, temperature)
        if post is None:
            # No doc has a token, so no span has a probability to give.
            if any(len(s) for s in spans):
                raise ValueError(f"[{self.name}] span_probabilities got spans for docs without tokens.")
            return [[] for _ in spans]
        return [[post.span_prob(b, s, e, label) for s, e, label in doc_spans] for b, doc_spans in enumerate(spans)]

    def _posteriors(self, batch: CRFBatch, temperature: float) -> Optional[CRFPosteriors]:
        if not any(len(path) for path in batch.paths):
            return None
        return CRFPosteriors(self.crf, batch.scores, batch.masks(), temperature)

    def set_annotations(self, docs: Iterable[Doc], batch: CRFBatch) -> None:
        docs = list(docs)
        key = self.cfg["spans_key"]
        new_spans: List[List[Span]] = []
        for doc, spans in zip(docs, self.predicted_spans(batch)):
            preset = {(e.start, e.end, e.label_): e for e in doc.ents}
            ents: List[Span] = []
            new: List[Span] = []
            for start, end, label in spans:
                if (start, end, label) in preset:
                    ents.append(preset.pop((start, end, label)))
                else:
                    span = Span(doc, start, end, label=label)
                    ents.append(span)
                    new.append(span)
            ents.extend(preset.values())
            doc.set_ents(sorted(ents, key=lambda s: s.start), default="outside")
            new_spans.append(new)
        post = batch.posteriors
        if post is not None:
            probs = self.span_probabilities(batch, [[(s.start, s.end, s.label_) for s in new] for new in new_spans])
            for new, doc_probs in zip(new_spans, probs):
                for span, prob in zip(new, doc_probs):
                    span._.set(CONFIDENCE_ATTR, prob)
        if key:
            for b, doc in enumerate(docs):
                if post is not None:
                    doc.spans[key] = self._probable_spans(doc, post, b)
                else:
                    doc.spans[key] = SpanGroup(doc, name=key, attrs={"scores": []})

    def _probable_spans(self, doc: Doc, post: CRFPosteriors, b: int) -> SpanGroup:
        """Every span with probability >= span_threshold, found exactly in time
        linear in the length of the doc (see `CRFPosteriors.probable_spans`:
        at most len(labels) / span_threshold steps per token)."""
        threshold = max(self.cfg["span_threshold"], 1e-12)
        key = self.cfg["spans_key"]
        found = post.probable_spans(b, self.labels, threshold)
        spans = [Span(doc, s, e, label=label) for _, s, e, label in found]
        scores = numpy.asarray([p for p, _, _, _ in found], dtype="float32")
        return SpanGroup(doc, name=key, spans=spans, attrs={"scores": scores})
