"""An HTML error report for an entity recognizer: per-type P/R/F, a
confusion table, and displaCy renderings of gold and predicted entities for
every document with an error, grouped by kind of error.

Kinds of error, for each gold or predicted entity that is not an exact match:
- type: a prediction with the gold entity's exact span but another label;
- boundary: an overlapping prediction with another span (whatever its label);
- missed: a gold entity that no prediction overlaps;
- spurious: a prediction that overlaps no gold entity.
"""
import html
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from spacy import displacy
from spacy.language import Language
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc
from spacy.training import Example

KINDS = ("boundary", "type", "missed", "spurious")
NONE = "—"
Ent = Tuple[int, int, str]


def classify(gold: Iterable[Ent], pred: Iterable[Ent]) -> Dict[str, List[Tuple[Optional[Ent], Optional[Ent]]]]:
    """Pair gold and predicted entities and sort the pairs into "correct" and
    the error kinds. Spans are (start token, end token, label)."""
    gold, pred = list(gold), list(pred)
    out: Dict[str, List[Tuple[Optional[Ent], Optional[Ent]]]] = defaultdict(list)
    used = set()
    for g in gold:
        exact = [p for p in pred if p[:2] == g[:2]]
        overlapping = [p for p in pred if p[0] < g[1] and g[0] < p[1]]
        if exact:
            p = exact[0]
            out["correct" if p[2] == g[2] else "type"].append((g, p))
            used.add(p)
        elif overlapping:
            for p in overlapping:
                out["boundary"].append((g, p))
                used.add(p)
        else:
            out["missed"].append((g, None))
    for p in pred:
        if p not in used and not any(p[0] < g[1] and g[0] < p[1] for g in gold):
            out["spurious"].append((None, p))
    return out


def _region(doc: Doc, ent: Ent) -> Tuple[int, int]:
    """Character offsets of the sentence holding an entity (the whole doc if
    it has no sentence boundaries)."""
    if doc.has_annotation("SENT_START"):
        sent = doc[ent[0]].sent
        return sent.start_char, sent.end_char
    return 0, len(doc.text)


def _ents(doc: Doc) -> List[Ent]:
    return [(e.start, e.end, e.label_) for e in doc.ents]


def _render(doc: Doc, title: str) -> str:
    data = {
        "text": doc.text,
        "ents": [{"start": e.start_char, "end": e.end_char, "label": e.label_} for e in doc.ents],
        "title": title,
    }
    return displacy.render(data, style="ent", manual=True, page=False, jupyter=False)


def build_report(nlp: Language, examples: List[Example], title: str = "Entity errors", max_docs: int = 50) -> str:
    """Run `nlp` on the examples' texts and return the report as HTML.

    max_docs (int): Sentences rendered per kind of error (the counts are
        always complete). Each error is shown in its gold sentence (the whole
        document when the gold docs have no sentence boundaries).
    """
    preds = list(nlp.pipe([eg.reference.text for eg in examples]))
    scored = [Example(pred, eg.reference) for pred, eg in zip(preds, examples)]
    prf = get_ner_prf(scored)
    counts: Counter = Counter()
    confusion: Counter = Counter()
    by_kind: Dict[str, List[Tuple[int, Tuple[int, int]]]] = defaultdict(list)
    for i, (pred, eg) in enumerate(zip(preds, examples)):
        gold_doc = eg.reference
        # predicted token offsets mapped to the gold tokens through characters
        pred_ents = []
        for e in pred.ents:
            span = gold_doc.char_span(e.start_char, e.end_char, label=e.label_, alignment_mode="expand")
            if span is not None:
                pred_ents.append((span.start, span.end, e.label_))
        pairs = classify(_ents(gold_doc), pred_ents)
        for kind, items in pairs.items():
            counts[kind] += len(items)
            for g, p in items:
                confusion[(g[2] if g else NONE, p[2] if p else NONE)] += 1
            if kind in KINDS:
                for region in sorted({_region(gold_doc, g or p) for g, p in items}):
                    by_kind[kind].append((i, region))
    labels = sorted(({k[0] for k in confusion} | {k[1] for k in confusion}) - {NONE}) + [NONE]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
        "th{background:#f3f3f3}.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em;border-bottom:1px solid #ddd;padding:0.5em 0}"
        "h3{margin-bottom:0.2em}.off{background:#fde2e2}.diag{background:#e2f5e2}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(examples)} documents. Entity P {100 * prf['ents_p']:.2f}, "
        f"R {100 * prf['ents_r']:.2f}, F {100 * prf['ents_f']:.2f}.</p>",
        "<h2>Per type</h2><table><tr><th>type</th><th>P</th><th>R</th><th>F</th></tr>",
    ]
    for label, s in sorted((prf.get("ents_per_type") or {}).items()):
        parts.append(
            f"<tr><td>{html.escape(label)}</td><td>{100 * s['p']:.2f}</td>"
            f"<td>{100 * s['r']:.2f}</td><td>{100 * s['f']:.2f}</td></tr>"
        )
    parts.append("</table><h2>Errors by kind</h2><table><tr>")
    parts.append("".join(f"<th>{k}</th>" for k in ("correct",) + KINDS) + "</tr><tr>")
    parts.append("".join(f"<td>{counts[k]}</td>" for k in ("correct",) + KINDS) + "</tr></table>")
    parts.append(
        "<h2>Confusion</h2><p>Rows: gold label; columns: predicted label "
        f"(exact or overlapping span). {NONE}: no entity.</p><table><tr><th>gold \\ predicted</th>"
    )
    parts.append("".join(f"<th>{html.escape(lab)}</th>" for lab in labels) + "</tr>")
    for g in labels:
        cells = []
        for p in labels:
            n = confusion[(g, p)]
            cls = "diag" if g == p else ("off" if n else "")
            cells.append(f"<td class='{cls}'>{n or ''}</td>")
        parts.append(f"<tr><th>{html.escape(g)}</th>{''.join(cells)}</tr>")
    parts.append("</table>")
    for kind in KINDS:
        regions = by_kind.get(kind, [])
        n_docs = len({i for i, _ in regions})
        parts.append(f"<h2 id='{kind}'>{kind.capitalize()} errors ({counts[kind]} in {n_docs} documents)</h2>")
        for i, (start, end) in regions[:max_docs]:
            gold = examples[i].reference.char_span(start, end, alignment_mode="expand")
            pred = preds[i].char_span(start, end, alignment_mode="expand")
            parts.append("<div class='pair'>")
            parts.append(f"<div><h3>gold</h3>{_render(gold.as_doc(), '')}</div>")
            parts.append(f"<div><h3>predicted</h3>{_render(pred.as_doc(), '')}</div>")
            parts.append("</div>")
        if len(regions) > max_docs:
            parts.append(f"<p>… and {len(regions) - max_docs} more sentences.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(nlp: Language, examples: List[Example], path: Path, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(nlp, examples, **kwargs), encoding="utf8")
    return path
