"""Evaluation of entity linking on gold data: acc@1, recall@k and spaCy's
``nel_micro_p/r/f``, either on the gold entity spans (``gold_mentions``: the
linker alone is measured) or on the entities the pipeline finds itself
(recognition and linking together).

The scores are the ``entity_normalizer``'s own scorer
(:func:`spacy_crf_ner.kb.scoring.score_normalization`), so they equal what
``spacy train`` and ``spacy evaluate`` report for the component.
"""
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from tqdm import tqdm

from .kb.scoring import ids_match, ids_match_strict, score_normalization

FACTORY = "entity_normalizer"


def find_linker(nlp: Language, component: Optional[str] = None) -> str:
    """The name of the pipeline's ``entity_normalizer``.

    nlp (Language): The pipeline.
    component (Optional[str]): A name to check, or None to find the only one.
    RETURNS (str): The component's name.
    """
    names = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == FACTORY]
    if component is not None:
        if component not in names:
            raise ValueError(
                f"[evaluate-linking] The pipeline has no {FACTORY} named '{component}' "
                f"(its {FACTORY} components: {names or 'none'}). Pass one of them with --component."
            )
        return component
    if len(names) != 1:
        raise ValueError(
            f"[evaluate-linking] Found {len(names)} {FACTORY} components in the pipeline "
            f"({names or 'none'}); " + ("add one and train it first." if not names else "choose one with --component.")
        )
    return names[0]


def _gold_spans(predicted: Doc, reference: Doc) -> List[Span]:
    """The reference entities on the predicted doc, labels kept, IDs removed."""
    spans = []
    for ent in reference.ents:
        span = predicted.char_span(ent.start_char, ent.end_char, label=ent.label_, alignment_mode="strict")
        if span is None:
            raise ValueError(
                f"[evaluate-linking] The gold entity '{ent.text}' ({ent.start_char}-{ent.end_char}) does not "
                "fall on token boundaries of the predicted doc. Evaluate on docs with the gold tokenization "
                "(a .spacy file read as spaCy's Corpus reads it)."
            )
        spans.append(span)
    return spans


def evaluate_linking(
    nlp: Language,
    examples: Iterable[Example],
    *,
    component: Optional[str] = None,
    gold_mentions: bool = False,
    k: int = 5,
    strict: bool = False,
    batch_size: int = 64,
    progress: bool = False,
) -> Dict[str, Any]:
    """Run the pipeline on the examples' predicted docs and score the links.

    nlp (Language): A pipeline with an ``entity_normalizer``.
    examples (Iterable[Example]): Gold docs whose entities carry ``kb_id``s; the
        predicted docs are annotated in place.
    component (Optional[str]): The linker's name, if the pipeline has several.
    gold_mentions (bool): Link the gold entity spans (the components that
        set ``doc.ents`` are skipped) instead of the pipeline's own entities.
    k (int): The k of recall@k.
    strict (bool): Require every concept of a composite gold ID.
    batch_size (int): Docs per batch.
    progress (bool): Show a progress bar.
    RETURNS (Dict[str, Any]): ``acc@1``, ``recall@k``, ``nel_micro_p/r/f``, the
        counts they come from, and ``acc@1`` per label.
    """
    if k < 1:
        raise ValueError(f"[evaluate-linking] k must be at least 1, got {k}.")
    linker = find_linker(nlp, component)
    examples = list(examples)
    n_ids = sum(1 for eg in examples for ent in eg.reference.ents if ent.kb_id_)
    if not n_ids:
        raise ValueError(
            "[evaluate-linking] The gold data has no entity with a kb_id, so there is nothing to score. "
            "Evaluate on docs whose entities carry IDs (e.g. from `python -m spacy_crf_ner convert-pubtator`)."
        )
    skip: List[str] = []
    if gold_mentions:
        for name in nlp.pipe_names:
            if name != linker and "doc.ents" in nlp.get_pipe_meta(name).assigns:
                skip.append(name)
        for eg in examples:
            eg.predicted.ents = _gold_spans(eg.predicted, eg.reference)
    docs = [eg.predicted for eg in examples]
    with nlp.select_pipes(disable=skip):
        stream = nlp.pipe(docs, batch_size=batch_size)
        done = list(tqdm(stream, total=len(docs), desc="Linking", unit="doc", disable=not progress, leave=False))
    examples = [Example(doc, eg.reference) for doc, eg in zip(done, examples)]
    scores = score_normalization(examples, k=k, strict=strict)
    per_label = _accuracy_by_label(examples, strict)
    return {
        "mentions": "gold" if gold_mentions else "predicted",
        "k": k,
        "strict": strict,
        "gold_ids": n_ids,
        "scored": sum(n for n, _ in per_label.values()),
        "acc@1": scores["norm_acc_at_1"],
        f"recall@{k}": scores["norm_recall_at_k"],
        "nel_micro_p": scores["nel_micro_p"],
        "nel_micro_r": scores["nel_micro_r"],
        "nel_micro_f": scores["nel_micro_f"],
        "acc@1_per_label": {
            label: {"acc@1": correct / n if n else 0.0, "n": n} for label, (n, correct) in sorted(per_label.items())
        },
    }


def _accuracy_by_label(examples: List[Example], strict: bool) -> Dict[str, List[int]]:
    """Per gold label: [gold mentions with an ID found as entities, correctly linked]."""
    match = ids_match_strict if strict else ids_match
    counts: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for eg in examples:
        predicted = {(e.start_char, e.end_char): e.kb_id_ for e in eg.predicted.ents}
        for gold in eg.reference.ents:
            if not gold.kb_id_ or (gold.start_char, gold.end_char) not in predicted:
                continue
            count = counts[gold.label_]
            count[0] += 1
            count[1] += int(match(predicted[(gold.start_char, gold.end_char)], gold.kb_id_))
    return dict(counts)
