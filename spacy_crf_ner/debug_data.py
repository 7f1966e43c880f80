"""`python -m spacy_crf_ner debug-data CONFIG`: what `spacy debug data` checks
for spaCy's `ner`, for every `crf_ner` component of a training config, plus
what a CRF needs: tag sequences its scheme forbids, gold entities over
whitespace tokens (the CRF never predicts those), mentions a reader dropped,
docs longer than the transformer's window, and how much of the data is only
partially annotated. `spacy debug data` only looks at components whose
factory is "ner", so it says nothing about `crf_ner`.
"""
import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, cast

from spacy import util
from spacy.cli.debug_data import (
    NEW_LABEL_THRESHOLD,
    _compile_gold,
    _format_labels,
    _get_examples_without_label,
)
from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry, resolve_dot_names
from wasabi import MESSAGES, Printer

from .schemes import allowed_transitions, biluo_to_scheme, split_tag, tag_names

if TYPE_CHECKING:
    from .pipeline.crf_ner import CRFEntityRecognizer

LOGGER_NAME = "spacy_crf_ner"


class _ReaderLog(logging.Handler):
    """Collects what readers log (e.g. the PubTator reader's dropped
    overlapping mentions) while the corpora are read."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def debug_data(
    config_path: Path,
    *,
    overrides: Optional[Dict[str, Any]] = None,
    iob_paths: Sequence[Path] = (),
    verbose: bool = False,
    silent: bool = False,
) -> Dict[str, Any]:
    """Check a training config's corpora for its crf_ner components.

    config_path (Path): The training config.
    overrides (Optional[Dict[str, Any]]): Config overrides, e.g.
        {"paths.train": "train.spacy"}.
    iob_paths (Sequence[Path]): IOB/BIO files (CoNLL columns, tag last) to
        check for tag sequences that BIO forbids, before `spacy convert`.
    verbose (bool): Print the label counts and the first offending examples.
    silent (bool): Print nothing, only return the findings.
    RETURNS (Dict[str, Any]): The findings, by component name (and "iob" for
        the IOB files, "reader" for what the readers reported, "summary" for
        the numbers of passed checks, warnings and errors).
    """
    msg = Printer(no_print=silent)
    config = util.load_config(config_path, overrides=overrides or {}, interpolate=False)
    nlp = util.load_model_from_config(config)
    resolved = nlp.config.interpolate()
    T = registry.resolve(resolved["training"], schema=ConfigSchemaTraining)
    ner_names = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory == "crf_ner"]
    findings: Dict[str, Any] = {}
    if iob_paths:
        msg.divider("IOB/BIO input")
        findings["iob"] = {str(p): check_iob_file(p, msg, verbose=verbose) for p in iob_paths}
    if not ner_names:
        msg.warn(f"No crf_ner component in {config_path}: pipeline {nlp.pipe_names}")
        findings["summary"] = summary(msg)
        return findings
    train_corpus, dev_corpus = resolve_dot_names(resolved, [T["train_corpus"], T["dev_corpus"]])
    handler = _ReaderLog()
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    try:
        train = list(train_corpus(nlp))
        dev = list(dev_corpus(nlp))
    finally:
        logger.removeHandler(handler)
    msg.divider("Data")
    msg.text(f"{len(train)} training docs, {len(dev)} evaluation docs")
    findings["reader"] = reader_messages(handler.messages, msg, verbose=verbose)
    nlp.initialize(lambda: train)
    msg.good("Pipeline can be initialized with the training data")
    window = transformer_window(nlp)
    for name in ner_names:
        msg.divider(f"Named Entity Recognition: {name} (crf_ner)")
        findings[name] = check_crf_ner(nlp, name, train, dev, msg, window=window, verbose=verbose)
    findings["summary"] = summary(msg)
    return findings


def summary(msg: Printer) -> Dict[str, int]:
    """Print and return the numbers of passed checks, warnings and errors, as
    `spacy debug data` ends."""
    counts = {
        "passed": msg.counts[MESSAGES.GOOD],
        "warnings": msg.counts[MESSAGES.WARN],
        "errors": msg.counts[MESSAGES.FAIL],
    }
    msg.divider("Summary")
    if counts["passed"]:
        msg.good(f"{counts['passed']} {'check' if counts['passed'] == 1 else 'checks'} passed")
    if counts["warnings"]:
        msg.warn(f"{counts['warnings']} {'warning' if counts['warnings'] == 1 else 'warnings'}")
    if counts["errors"]:
        msg.fail(f"{counts['errors']} {'error' if counts['errors'] == 1 else 'errors'}")
    return counts


def check_crf_ner(
    nlp: Language,
    name: str,
    train: Sequence[Example],
    dev: Sequence[Example],
    msg: Printer,
    *,
    window: Optional[int] = None,
    verbose: bool = False,
) -> Dict[str, Any]:
    """spaCy's NER checks (labels, missing values, whitespace and
    sentence-crossing entities, low counts, no negative examples) and the
    CRF's own, for one crf_ner component."""
    ner = cast("CRFEntityRecognizer", nlp.get_pipe(name))
    gold_train = _compile_gold(train, ["ner"], nlp, make_proj=True)
    gold_dev = _compile_gold(dev, ["ner"], nlp, make_proj=True)
    counts: Counter = gold_train["ner"]
    labels = {label for label in counts if label not in ("O", "-", None, "")}
    dev_labels = {label for label in gold_dev["ner"] if label not in ("O", "-", None, "")}
    n_tokens, n_missing, n_partial_docs = partial_annotation(train)
    out: Dict[str, Any] = {
        "labels": dict((label, counts[label]) for label in sorted(labels)),
        # spaCy's count skips the None that get_aligned_ner gives for missing
        # tokens, so count them here
        "missing_values": n_missing,
        "ws_ents": gold_train["ws_ents"],
        "boundary_cross_ents": gold_train["boundary_cross_ents"],
        "dev_labels_unseen": sorted(dev_labels - labels),
        "model_labels_unseen": sorted(set(ner.labels) - labels),
        "low_count_labels": sorted(label for label in labels if counts[label] <= NEW_LABEL_THRESHOLD),
        "labels_without_negatives": [],
    }
    msg.info(f"{len(ner.labels)} label(s), scheme {ner.cfg['scheme']}")
    msg.text(f"{out['missing_values']} missing value(s) (tokens with '-' label)")
    msg.text(
        "Labels in train data: " + _format_labels([(lb, counts[lb]) for lb in sorted(labels)], counts=True),
        show=verbose,
    )
    if out["model_labels_unseen"]:
        msg.warn(
            "Some labels of the component are not in the train data; they will not be learned: "
            f"{_format_labels(out['model_labels_unseen'])}"
        )
    if out["dev_labels_unseen"]:
        msg.fail(
            "Labels in the evaluation data never seen in training (always counted as missed): "
            f"{_format_labels(out['dev_labels_unseen'])}"
        )
    else:
        msg.good("All evaluation labels occur in the training data")
    for label in out["low_count_labels"]:
        msg.warn(f"Low number of examples for label '{label}' ({counts[label]})")
        if _get_examples_without_label(train, label, "ner") == 0:
            out["labels_without_negatives"].append(label)
            msg.warn(f"No examples for texts WITHOUT label '{label}'")
    if not out["low_count_labels"]:
        msg.good("Good amount of examples for all labels")
    if out["ws_ents"]:
        msg.fail(f"{out['ws_ents']} invalid whitespace entity spans (starting or ending with whitespace)")
    else:
        msg.good("No entities consisting of or starting/ending with whitespace")
    if out["boundary_cross_ents"]:
        msg.warn(f"{out['boundary_cross_ents']} entity span(s) crossing sentence boundaries")
    else:
        msg.good("No entities crossing sentence boundaries")

    inner = entities_over_whitespace(train)
    out["ents_over_whitespace"] = len(inner)
    if inner:
        msg.fail(
            f"{len(inner)} gold entities contain a whitespace token: {name} forces whitespace "
            "tokens to O, so it can never predict them. Fix the tokenization or the spans."
        )
        _examples(msg, inner, verbose)
    else:
        msg.good("No gold entities over whitespace tokens")

    invalid = invalid_tag_sequences(train, ner.cfg["scheme"], list(ner.labels))
    out["invalid_tag_sequences"] = len(invalid)
    if invalid:
        msg.fail(
            f"{len(invalid)} gold tag transitions that the {ner.cfg['scheme']} scheme forbids, "
            "after aligning the gold entities to the tokens (often entities split by the "
            "tokenizer); the CRF cannot learn them."
        )
        _examples(msg, invalid, verbose)
    else:
        msg.good(f"All gold tag sequences are valid {ner.cfg['scheme']}")

    share = n_missing / n_tokens if n_tokens else 0.0
    out.update(tokens=n_tokens, missing_tokens=n_missing, partial_share=share, partially_annotated_docs=n_partial_docs)
    if n_missing:
        msg.info(
            f"{share:.1%} of training tokens ({n_missing:,} of {n_tokens:,}) have no NER annotation, "
            f"in {n_partial_docs:,} docs: {name} sums over every tag there (partial annotation) "
            "instead of teaching O"
        )
    else:
        msg.good("All training tokens are annotated")

    if window:
        count = piece_counter(nlp)
        unit = "subword pieces" if count is not None else "tokens"
        lengths = [count(eg.predicted) if count is not None else len(eg.predicted) for eg in list(train) + list(dev)]
        long_docs = [n for n in lengths if n > window]
        out["docs_longer_than_window"] = len(long_docs)
        out["window_unit"] = unit
        if long_docs:
            msg.warn(
                f"{len(long_docs)} docs have more {unit} than the transformer's window of {window} "
                f"(the longest has {max(long_docs)}): they are split into overlapping windows, and "
                "an entity at a window edge sees only part of its context"
            )
        else:
            msg.good(f"No doc is longer than the transformer's window ({window} {unit})")
    return out


def entities_over_whitespace(examples: Iterable[Example]) -> List[str]:
    """Gold entities with a whitespace token anywhere in them."""
    found = []
    for eg in examples:
        for ent in eg.reference.ents:
            if any(token.is_space for token in ent):
                found.append(f"{ent.text!r} ({ent.label_}) in {eg.reference.text[:60]!r}")
    return found


def invalid_tag_sequences(examples: Iterable[Example], scheme: str, labels: List[str]) -> List[str]:
    """Adjacent gold tags, as the component trains on them, that `scheme`
    forbids (missing values break the sequence and are skipped)."""
    tags = tag_names(scheme, labels)
    index = {t: i for i, t in enumerate(tags)}
    trans, start, end = allowed_transitions(scheme, tags)
    found = []
    for eg in examples:
        gold = biluo_to_scheme(eg.get_aligned_ner(), scheme)
        prev: Optional[str] = None
        after_missing = False
        for i, tag in enumerate(gold):
            if tag is None or tag not in index:
                prev, after_missing = None, True
                continue
            if prev is None:
                bad = not after_missing and not start[index[tag]]
            else:
                bad = not trans[index[prev], index[tag]]
            if bad:
                found.append(_where(eg, i, prev or "<start>", tag))
            prev, after_missing = tag, False
        if prev is not None and not end[index[prev]]:
            found.append(_where(eg, len(gold) - 1, prev, "<end>"))
    return found


def _where(eg: Example, i: int, prev: str, tag: str) -> str:
    return f"{prev} -> {tag} at token {i} ({eg.reference[i].text!r}) in {eg.reference.text[:60]!r}"


def partial_annotation(examples: Iterable[Example]) -> Tuple[int, int, int]:
    """(tokens, tokens without NER annotation, docs with some of those)."""
    n_tokens = n_missing = n_docs = 0
    for eg in examples:
        gold = eg.get_aligned_ner()
        missing = sum(1 for tag in gold if tag is None or tag == "-")
        n_tokens += len(gold)
        n_missing += missing
        n_docs += bool(missing)
    return n_tokens, n_missing, n_docs


def transformer_window(nlp: Language) -> Optional[int]:
    """The span window of the pipeline's transformer (spacy-transformers'
    strided_spans or spacy-curated-transformers' WithStridedSpans), if any."""
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        if factory not in ("transformer", "curated_transformer"):
            continue
        model_cfg = nlp.config["components"][name].get("model", {})
        for key in ("get_spans", "with_spans"):
            window = model_cfg.get(key, {}).get("window") if isinstance(model_cfg.get(key), dict) else None
            if window:
                return int(window)
    return None


def piece_counter(nlp: Language) -> Optional[Callable[[Doc], int]]:
    """The number of subword pieces of a doc, by the pipeline's initialized
    transformer tokenizer (spacy-transformers or spacy-curated-transformers),
    or None when there is none to ask (then tokens are counted: at most as
    many as the pieces)."""
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        # Components without a model (an entity_ruler, say) have no pieces.
        model = getattr(nlp.get_pipe(name), "model", None)
        if model is None:
            continue
        try:
            if factory == "transformer":
                tokenizer = model.tokenizer
                if tokenizer is None:
                    continue
                return lambda doc: len(tokenizer(doc.text, add_special_tokens=False)["input_ids"])
            if factory == "curated_transformer":
                encoder = model.get_ref("piece_encoder")
                return lambda doc: int(encoder.predict([doc])[0].dataXd.shape[0])
        except (AttributeError, KeyError, ValueError):
            continue
    return None


def reader_messages(messages: List[str], msg: Printer, verbose: bool = False) -> Dict[str, Any]:
    """Sort what the readers logged: mentions dropped as overlapping, mentions
    that could not be aligned to tokens, anything else."""
    dropped = [m for m in messages if "overlapping mention" in m]
    unaligned = [m for m in messages if "cannot align" in m]
    other = [m for m in messages if m not in dropped and m not in unaligned]
    if dropped:
        msg.warn(f"The reader dropped {len(dropped)} overlapping mention(s): crf_ner keeps one entity per token")
        _examples(msg, dropped, verbose)
    if unaligned:
        msg.warn(f"The reader skipped {len(unaligned)} mention(s) it could not align to tokens")
        _examples(msg, unaligned, verbose)
    for m in other[:5]:
        msg.warn(f"Reader: {m}")
    if not dropped and not unaligned:
        msg.good("The readers dropped no mentions")
    return {"dropped_overlapping": len(dropped), "unaligned": len(unaligned), "other": other}


def check_iob_file(path: Path, msg: Printer, verbose: bool = False) -> Dict[str, Any]:
    """Tag sequences in an IOB file (CoNLL columns, tag last; blank lines end
    sentences, -DOCSTART- lines are skipped) that BIO forbids: I-X not after
    B-X or I-X. Such files are IOB1 (CoNLL-2003 style, where I-X may open an
    entity), which `spacy convert -c ner` reads correctly; in a file meant to
    be BIO they are errors. Malformed tags are reported with their line."""
    opened = malformed = 0
    examples: List[str] = []
    bad_lines: List[str] = []
    n_tags = 0
    for line_no, prev, tag, token in _iob_tags(path):
        n_tags += 1
        try:
            prefix, label = split_tag(tag)
        except ValueError:
            malformed += 1
            bad_lines.append(f"{path}:{line_no}: {tag!r}")
            continue
        if prefix == "I":
            prev_label = None
            if prev is not None:
                try:
                    p_prefix, prev_label = split_tag(prev)
                    if p_prefix not in ("B", "I"):
                        prev_label = None
                except ValueError:
                    prev_label = None
            if prev_label != label:
                opened += 1
                examples.append(f"{path}:{line_no}: {prev or '<start>'} -> {tag} ({token!r})")
    if malformed:
        msg.fail(f"{path}: {malformed} malformed tag(s) (expected O or B-/I-/L-/U-/E-/S- + label)")
        _examples(msg, bad_lines, True)
    if opened:
        msg.warn(
            f"{path}: {opened} of {n_tags:,} tags are I-X without a preceding B-X/I-X of the same "
            "label: invalid BIO (the file is IOB1, CoNLL-2003 style; `spacy convert -c ner` reads "
            "it as such)"
        )
        _examples(msg, examples, verbose)
    elif not malformed:
        msg.good(f"{path}: {n_tags:,} tags, valid BIO")
    return {"tags": n_tags, "invalid_bio": opened, "malformed": malformed}


def _iob_tags(path: Path) -> Iterator[Tuple[int, Optional[str], str, str]]:
    """(line number, previous tag or None at a sentence start, tag, token)
    for CoNLL columns (token first, tag last) and for spaCy's
    one-sentence-per-line word|tag (or word|pos|tag) format."""
    prev: Optional[str] = None
    with Path(path).open(encoding="utf8") as file_:
        for line_no, line in enumerate(file_, 1):
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-" or parts[0].startswith("-DOCSTART-|"):
                prev = None
                continue
            if all("|" in part for part in parts):
                prev = None
                for part in parts:
                    fields = part.split("|")
                    yield line_no, prev, fields[-1], fields[0]
                    prev = fields[-1]
                prev = None
                continue
            yield line_no, prev, parts[-1], parts[0]
            prev = parts[-1]


def _examples(msg: Printer, lines: List[str], verbose: bool, n: int = 5) -> None:
    for line in lines[: (len(lines) if verbose else n)]:
        msg.text(f"  {line}")
    if not verbose and len(lines) > n:
        msg.text(f"  ... {len(lines) - n} more (--verbose shows all)")
