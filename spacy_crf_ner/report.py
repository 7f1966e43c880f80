"""An HTML error report for an entity recognizer: per-type P/R/F, a
confusion table, and every error shown in its sentence with the wrong span
marked, grouped by kind of error and by label, with navigation.

The pipeline runs on the examples' own predicted docs (the corpus's tokens),
and the scores come from the pipeline's scorers, exactly as `spacy evaluate`
(`Language.evaluate`) computes them, so the numbers are the same.

Kinds of error, for each gold or predicted entity that is not an exact match:
- type: a prediction with the gold entity's exact span but another label;
- boundary: an overlapping prediction with another span (whatever its label);
- missed: a gold entity that no prediction overlaps;
- spurious: a prediction that overlaps no gold entity.
Predicted entities over tokens whose gold annotation is missing count
neither way, as in spaCy's entity scores.
"""
import html
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example

KINDS = ("boundary", "type", "missed", "spurious")
NONE = "—"
Ent = Tuple[int, int, str]
Pair = Tuple[Optional[Ent], Optional[Ent]]

# displaCy's entity colours, with a grey for other labels
COLORS = {
    "ORG": "#7aecec", "PRODUCT": "#bfeeb7", "GPE": "#feca74", "LOC": "#ff9561", "PERSON": "#aa9cfc",
    "PER": "#aa9cfc", "NORP": "#c887fb", "FAC": "#9cc9cc", "EVENT": "#ffeb80", "LAW": "#ff8197",
    "LANGUAGE": "#ff8197", "WORK_OF_ART": "#f0d0ff", "DATE": "#bfe1d9", "TIME": "#bfe1d9",
    "MONEY": "#e4e7d2", "QUANTITY": "#e4e7d2", "ORDINAL": "#e4e7d2", "CARDINAL": "#e4e7d2",
    "PERCENT": "#e4e7d2", "MISC": "#ddd",
}
PALETTE = ["#a6e3e9", "#ffd3b6", "#d5aaff", "#c3f0ca", "#ffe699", "#f4b6c2", "#cfd8dc", "#b5ead7"]

STYLE = """
:root{--err:#d62728}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;line-height:1.5}
main{max-width:1100px;margin:0 auto;padding:0 1em 3em}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #ddd;padding:.5em 1em;
 display:flex;flex-wrap:wrap;gap:.1em 1.2em}
nav a{white-space:nowrap;text-decoration:none}
nav a:hover{text-decoration:underline}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}
th{background:#f3f3f3}
.off{background:#fde2e2}.diag{background:#e2f5e2}
.groups{margin:.3em 0 1em;padding-left:1.2em}
.err-item{border-top:1px solid #e5e5e5;padding:.6em 0}
.err-head{font-size:.9em;color:#555;margin-bottom:.3em}
.err-head b{color:#222}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.2em 1.5em}
.side{font-size:.75em;text-transform:uppercase;letter-spacing:.05em;color:#777}
.sent{line-height:2.4}
.ent{border-radius:.35em;padding:.2em .3em;margin:0 .1em;-webkit-box-decoration-break:clone;
 box-decoration-break:clone}
.nw{white-space:nowrap}
.lbl{font-size:.65em;font-weight:bold;text-transform:uppercase;margin-left:.35em;vertical-align:middle}
.ent.wrong{outline:2.5px solid var(--err);outline-offset:1px}
.gap{text-decoration:underline wavy var(--err);text-underline-offset:4px}
.more{color:#777}
a.top{font-size:.8em;margin-left:.5em}
@media (max-width:700px){.pair{grid-template-columns:1fr}main{padding:0 .6em 2em}
 nav{font-size:.9em}td,th{padding:2px 5px}}
"""


def classify(gold: Iterable[Ent], pred: Iterable[Ent]) -> Dict[str, List[Pair]]:
    """Pair gold and predicted entities and sort the pairs into "correct" and
    the error kinds. Spans are (start token, end token, label)."""
    gold, pred = list(gold), list(pred)
    out: Dict[str, List[Pair]] = defaultdict(list)
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


def predict(nlp: Language, examples: Iterable[Example], batch_size: Optional[int] = None) -> List[Example]:
    """Run the pipeline on copies of the examples' predicted docs, as
    `Language.evaluate` does: the corpus's tokens, not a re-tokenized text."""
    examples = [Example(eg.predicted.copy(), eg.reference) for eg in examples]
    docs = nlp.pipe((eg.predicted for eg in examples), batch_size=batch_size or nlp.batch_size)
    for eg, doc in zip(examples, docs):
        eg.predicted = doc
    return examples


def aligned_predictions(eg: Example) -> List[Tuple[Ent, Ent]]:
    """Each predicted entity as (span on the gold tokens, span on the
    predicted tokens), skipping those over tokens with missing gold
    annotation, as spaCy's get_ner_prf does."""
    out = []
    for ent in eg.predicted.ents:
        indices = eg.alignment.x2y[ent.start : ent.end]
        if not len(indices):
            continue
        start, end = int(indices[0]), int(indices[-1]) + 1
        if all(token.ent_iob != 0 for token in eg.reference[start:end]):
            out.append(((start, end, ent.label_), (ent.start, ent.end, ent.label_)))
    return out


class _Error:
    def __init__(self, kind: str, index: int, gold: Optional[Ent], pred: Optional[Ent], pred_own: Optional[Ent]):
        self.kind = kind
        self.index = index
        self.gold = gold
        self.pred = pred  # on the gold tokens
        self.pred_own = pred_own  # on the predicted tokens

    @property
    def group(self) -> Tuple[str, str]:
        return (self.gold[2] if self.gold else NONE, self.pred[2] if self.pred else NONE)


def build_report(
    nlp: Language, examples: List[Example], title: str = "Entity errors", max_docs: int = 50
) -> str:
    """Run `nlp` on the examples and return the report as HTML.

    nlp (Language): The pipeline.
    examples (List[Example]): Gold examples, e.g. from spacy.training.Corpus.
    title (str): The page title.
    max_docs (int): Errors shown per kind and label pair (the counts are
        always complete).
    RETURNS (str): The HTML page.
    """
    scored = predict(nlp, examples)
    scores = Scorer(nlp=nlp).score(scored)
    counts: Counter = Counter()
    confusion: Counter = Counter()
    errors: Dict[str, List[_Error]] = defaultdict(list)
    for i, eg in enumerate(scored):
        if not eg.reference.has_annotation("ENT_IOB"):
            continue
        own = dict(aligned_predictions(eg))
        pairs = classify(_ents(eg.reference), list(own))
        for kind, kind_pairs in pairs.items():
            counts[kind] += len(kind_pairs)
            for g, p in kind_pairs:
                confusion[(g[2] if g else NONE, p[2] if p else NONE)] += 1
                if kind in KINDS:
                    errors[kind].append(_Error(kind, i, g, p, own.get(p) if p else None))
    labels = sorted(({k[0] for k in confusion} | {k[1] for k in confusion}) - {NONE}) + [NONE]
    colors = _colors(labels)
    e = html.escape
    p, r, f = (scores.get(f"ents_{k}") for k in "prf")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        "<nav id='top'><a href='#scores'>Scores</a><a href='#confusion'>Confusion</a>"
        + "".join(f"<a href='#{k}'>{k.capitalize()} ({counts[k]})</a>" for k in KINDS)
        + "</nav><main>",
        f"<h1>{e(title)}</h1>",
        f"<p id='scores'>{len(examples)} documents. Entity P {_pct(p)}, R {_pct(r)}, F {_pct(f)} "
        "(as <code>spacy evaluate</code> reports them).</p>",
        "<h2>Per type</h2><div class='scroll'><table><tr><th>type</th><th>P</th><th>R</th><th>F</th></tr>",
    ]
    for label, s in sorted((scores.get("ents_per_type") or {}).items()):
        parts.append(
            f"<tr><td>{e(label)}</td><td>{_pct(s['p'])}</td><td>{_pct(s['r'])}</td><td>{_pct(s['f'])}</td></tr>"
        )
    parts.append("</table></div><h2>Errors by kind</h2><div class='scroll'><table><tr>")
    parts.append("".join(f"<th>{k}</th>" for k in ("correct",) + KINDS) + "</tr><tr>")
    parts.append(
        f"<td>{counts['correct']}</td>" + "".join(f"<td><a href='#{k}'>{counts[k]}</a></td>" for k in KINDS)
    )
    parts.append("</tr></table></div>")
    parts.append(
        "<h2 id='confusion'>Confusion</h2><p>Rows: gold label; columns: predicted label "
        f"(exact or overlapping span). {NONE}: no entity.</p><div class='scroll'><table>"
        "<tr><th>gold \\ predicted</th>"
    )
    parts.append("".join(f"<th>{e(lab)}</th>" for lab in labels) + "</tr>")
    for g in labels:
        cells = []
        for q in labels:
            n = confusion[(g, q)]
            cls = "diag" if g == q else ("off" if n else "")
            cells.append(f"<td class='{cls}'>{n or ''}</td>")
        parts.append(f"<tr><th>{e(g)}</th>{''.join(cells)}</tr>")
    parts.append("</table></div>")
    for kind in KINDS:
        items = errors.get(kind, [])
        n_docs = len({err.index for err in items})
        parts.append(
            f"<h2 id='{kind}'>{kind.capitalize()} errors ({len(items)} in {n_docs} documents)"
            "<a class='top' href='#top'>top</a></h2>"
        )
        groups: Dict[Tuple[str, str], List[_Error]] = defaultdict(list)
        for err in items:
            groups[err.group].append(err)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        if ordered:
            parts.append("<ul class='groups'>")
            for n, (group, errs) in enumerate(ordered):
                parts.append(
                    f"<li><a href='#{kind}-{n}'>gold {e(group[0])} → predicted {e(group[1])}</a> ({len(errs)})</li>"
                )
            parts.append("</ul>")
        for n, (group, errs) in enumerate(ordered):
            parts.append(f"<h3 id='{kind}-{n}'>gold {e(group[0])} → predicted {e(group[1])} ({len(errs)})</h3>")
            for err in errs[:max_docs]:
                parts.append(_render_error(scored[err.index], err, colors))
            if len(errs) > max_docs:
                parts.append(f"<p class='more'>… and {len(errs) - max_docs} more (raise --max-docs to show them).</p>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _ents(doc: Doc) -> List[Ent]:
    return [(ent.start, ent.end, ent.label_) for ent in doc.ents]


def _colors(labels: List[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for n, label in enumerate(lab for lab in labels if lab != NONE):
        out[label] = COLORS.get(label.upper(), PALETTE[n % len(PALETTE)])
    return out


def _region(doc: Doc, start: int, end: int) -> Tuple[int, int]:
    """Character offsets of the sentence(s) holding tokens start..end (the
    whole doc if it has no sentence boundaries)."""
    if doc.has_annotation("SENT_START"):
        return doc[start].sent.start_char, doc[end - 1].sent.end_char
    return 0, len(doc.text)


def _render_error(eg: Example, err: _Error, colors: Dict[str, str]) -> str:
    gold_doc, pred_doc = eg.reference, eg.predicted
    anchor = err.gold or err.pred
    assert anchor is not None
    start, end = _region(gold_doc, anchor[0], anchor[1])
    if err.gold and err.pred:
        s2, e2 = _region(gold_doc, err.pred[0], err.pred[1])
        start, end = min(start, s2), max(end, e2)
    wrong_gold = _chars(gold_doc, err.gold) if err.gold else None
    wrong_pred = _chars(pred_doc, err.pred_own) if err.pred_own else None
    gold_ents = [(ent.start_char, ent.end_char, ent.label_) for ent in gold_doc.ents]
    pred_ents = [(ent.start_char, ent.end_char, ent.label_) for ent in pred_doc.ents]
    # a missing entity is marked where it should be; a spurious one where it is not
    gold_html = _render(gold_doc.text, start, end, gold_ents, colors, wrong_gold, gap=wrong_pred if not err.gold else None)
    pred_html = _render(pred_doc.text, start, end, pred_ents, colors, wrong_pred, gap=wrong_gold if not err.pred else None)
    head = _describe(err, gold_doc, pred_doc)
    return (
        f"<div class='err-item'><div class='err-head'>{head}</div><div class='pair'>"
        f"<div><div class='side'>gold</div><div class='sent'>{gold_html}</div></div>"
        f"<div><div class='side'>predicted</div><div class='sent'>{pred_html}</div></div></div></div>"
    )


def _chars(doc: Doc, ent: Ent) -> Tuple[int, int]:
    span = doc[ent[0] : ent[1]]
    return span.start_char, span.end_char


def _describe(err: _Error, gold_doc: Doc, pred_doc: Doc) -> str:
    e = html.escape
    g = f"<b>{e(err.gold[2])}</b> “{e(gold_doc[err.gold[0]:err.gold[1]].text)}”" if err.gold else "nothing"
    if err.pred_own:
        p = f"<b>{e(err.pred_own[2])}</b> “{e(pred_doc[err.pred_own[0]:err.pred_own[1]].text)}”"
    else:
        p = "nothing"
    return f"{err.kind}: gold {g}, predicted {p}"


def _render(
    text: str,
    start: int,
    end: int,
    ents: List[Tuple[int, int, str]],
    colors: Dict[str, str],
    wrong: Optional[Tuple[int, int]],
    gap: Optional[Tuple[int, int]] = None,
) -> str:
    """Text[start:end] with entity chips (text and label never wrap apart),
    the erroneous entity outlined, and `gap` (where the other side has an
    entity this side lacks) underlined."""
    e = html.escape
    marks: List[Tuple[int, int, str]] = []
    for s, t, label in sorted(ents):
        if s < start or t > end:
            continue
        cls = "ent wrong" if wrong == (s, t) else "ent"
        color = colors.get(label, "#ddd")
        # a long entity may wrap between its words, but its last word and
        # its label stay on one line
        head, _, last = text[s:t].rpartition(" ")
        head = f"{e(head)} " if head else ""
        marks.append(
            (
                s,
                t,
                f"<mark class='{cls}' style='background:{color}'>{head}"
                f"<span class='nw'>{e(last)}<span class='lbl'>{e(label)}</span></span></mark>",
            )
        )
    if gap is not None and not any(s < gap[1] and gap[0] < t for s, t, _ in marks):
        marks.append((gap[0], gap[1], f"<span class='gap' title='no entity here'>{e(text[gap[0]:gap[1]])}</span>"))
    out = []
    pos = start
    for s, t, rendered in sorted(marks):
        if s < pos:
            continue
        out.append(e(text[pos:s]))
        out.append(rendered)
        pos = t
    out.append(e(text[pos:end]))
    return "".join(out).replace("\n", "<br>")


def write_report(nlp: Language, examples: List[Example], path: Path, **kwargs: Any) -> Path:
    """Write the report of `build_report` to `path` (parents are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(nlp, examples, **kwargs), encoding="utf8")
    return path
