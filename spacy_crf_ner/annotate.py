"""Annotate JSONL texts with a pipeline: JSONL in, JSONL out.

Each input line is an object with a "text" string (other keys, such as an
"id", are copied to the output). Each output line holds the text, its
entities (text, label, character offsets, confidence, kb_id, candidates) and
its tokens' tags. Malformed input lines are reported with their line number
and skipped; the others are annotated.
"""
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span

logger = logging.getLogger("spacy_crf_ner")


@dataclass
class AnnotateStats:
    """What `annotate_jsonl` did: lines read, annotated and skipped (with the
    line number and reason of each skipped line)."""

    read: int = 0
    written: int = 0
    skipped: List[Tuple[int, str]] = field(default_factory=list)


def read_texts(path: Path, stats: AnnotateStats) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Yield (text, record) for each valid line; record malformed ones."""
    with Path(path).open("r", encoding="utf8") as file_:
        for line_no, line in enumerate(file_, start=1):
            if not line.strip():
                continue
            stats.read += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                reason = f"not valid JSON ({err.msg} at column {err.colno})"
            else:
                if not isinstance(record, dict):
                    reason = f"expected a JSON object, got {type(record).__name__}"
                elif not isinstance(record.get("text"), str):
                    reason = 'no "text" string'
                else:
                    yield record["text"], record
                    continue
            stats.skipped.append((line_no, reason))
            logger.warning("%s line %d skipped: %s", path, line_no, reason)


def entity_record(ent: Span) -> Dict[str, Any]:
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


def doc_record(doc: Doc, record: Dict[str, Any]) -> Dict[str, Any]:
    out = {k: v for k, v in record.items() if k != "text"}
    out["text"] = doc.text
    out["entities"] = [entity_record(ent) for ent in doc.ents]
    out["tokens"] = [
        {"text": t.text, "start": t.idx, "end": t.idx + len(t), "tag": t.tag_ or None, "pos": t.pos_ or None}
        for t in doc
    ]
    return out


def annotate_jsonl(
    nlp: Language,
    input_path: Path,
    output_path: Path,
    *,
    n_process: int = 1,
    batch_size: int = 64,
    progress: bool = True,
) -> AnnotateStats:
    """Annotate every valid line of `input_path` into `output_path`.

    n_process (int): Processes for `nlp.pipe`.
    batch_size (int): Texts per batch for `nlp.pipe`.
    RETURNS (AnnotateStats): Counts and the skipped lines.
    """
    from tqdm import tqdm

    stats = AnnotateStats()
    pairs = read_texts(input_path, stats)
    docs = nlp.pipe(pairs, as_tuples=True, n_process=n_process, batch_size=batch_size)
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    with Path(output_path).open("w", encoding="utf8") as out:
        for doc, record in tqdm(docs, desc="annotate", unit="doc", disable=not progress):
            out.write(json.dumps(doc_record(doc, record), ensure_ascii=False) + "\n")
            stats.written += 1
    return stats


def format_doc(record: Dict[str, Any], width: Optional[int] = 28) -> str:
    """A short human-readable rendering of one output record."""
    lines = [record["text"]]
    for ent in record["entities"]:
        conf = "" if ent["confidence"] is None else f" p={ent['confidence']:.3f}"
        kb = f" -> {ent['kb_id']}" if ent["kb_id"] else ""
        lines.append(f"    {ent['label']:<8} {ent['text']!r:<{width}}{conf}{kb}")
    return "\n".join(lines)
