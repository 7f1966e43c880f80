"""Benchmark 1: entity normalization on NCBI Disease dev with gold mentions.

KB: MeSH disease descriptors (trees C and F) plus the mentions of the train
split as aliases of their gold IDs. Compares, on the same KB and the same
scoring (:func:`spacy_crf_ner.kb.ids.ids_match`):

* exact: lower-cased, whitespace-collapsed dictionary lookup;
* tfidf: scispaCy-style char-3-gram TF-IDF nearest neighbour (lower-casing only);
* ours: the ``entity_normalizer`` component.

Usage: python benchmarks/bench_normalizer_ncbi.py [DATA_DIR]
(DATA_DIR defaults to ../shared/data relative to the repository root.)
"""
import argparse
import json
import logging
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.tokens import Doc
from spacy.training import Example

from spacy_crf_ner.corpora import read_pubtator_docs
from spacy_crf_ner.kb import CandidateIndex, IndexConfig, KnowledgeBase, NormalizationConfig
from spacy_crf_ner.kb.ids import canonical_kb_id, ids_match, ids_match_strict, parse_kb_id

REPO = Path(__file__).resolve().parent.parent

# Word replacements of the benchmark configuration: British spellings, and
# the head nouns and adjectives that MeSH names use for what abstracts call
# "cancer", "renal", ... (MeSH says "Kidney Neoplasms" for "renal cancer").
NCBI_REPLACEMENTS = [
    ["^tumour$", "tumor"],
    ["^(.*)aemia$", "\\1emia"],
    ["^haem", "hem"],
    ["^oedema$", "edema"],
    ["^(.*)oea$", "\\1ea"],
    ["^oesophag", "esophag"],
    ["^leukaem", "leukem"],
    ["^(cancer|carcinoma|tumor|neoplasia|malignancy)$", "neoplasm"],
    ["^prostatic$", "prostate"],
    ["^renal$", "kidney"],
    ["^(anomaly|malformation)$", "abnormality"],
    ["^disorder$", "disease"],
]


def load_kb(data_dir: Path, train_docs: Sequence[Doc]) -> KnowledgeBase:
    kb = KnowledgeBase.from_file(
        data_dir / "mesh" / "mesh_descriptors_c_f_tree.tsv",
        format="tsv",
        columns={"id": "MESH_ID", "name": "MESH_NAME"},
    )
    for doc in train_docs:
        for ent in doc.ents:
            if ent.kb_id_:
                kb.add_alias(ent.text, ent.kb_id_)
    return kb


def gold_mentions(docs: Sequence[Doc]) -> List[Tuple[str, str]]:
    return [(ent.text, ent.kb_id_) for doc in docs for ent in doc.ents if ent.kb_id_]


def evaluate(
    predictions: Sequence[Sequence[str]], golds: Sequence[str], k: int = 5
) -> Dict[str, float]:
    n = len(golds)
    acc = sum(bool(p) and ids_match(p[0], g) for p, g in zip(predictions, golds)) / n
    strict = sum(bool(p) and ids_match_strict(p[0], g) for p, g in zip(predictions, golds)) / n
    rec = sum(any(ids_match(x, g) for x in p[:k]) for p, g in zip(predictions, golds)) / n
    return {"acc@1": acc, "acc@1_strict": strict, f"recall@{k}": rec}


def exact_baseline(kb: KnowledgeBase, texts: Sequence[str]) -> List[List[str]]:
    table: Dict[str, Counter] = defaultdict(Counter)
    for alias, e, count in zip(kb.alias_texts, kb.alias_entities, kb.alias_counts):
        table[" ".join(alias.lower().split())][kb.ids[e]] += count
    out = []
    for t in texts:
        hits = table.get(" ".join(t.lower().split()))
        out.append([i for i, _ in hits.most_common()] if hits else [])
    return out


def tfidf_baseline(kb: KnowledgeBase, texts: Sequence[str], k: int) -> List[List[str]]:
    plain = NormalizationConfig(
        nfkc=False, case_fold=True, strip_accents=False, punctuation=False, stop_suffixes=(), plurals=False,
        roman_numerals=False,
    )
    # Exhaustive search (no posting-list cut): the exact nearest neighbours.
    cfg = IndexConfig(
        inverted_names=False, word_order=False, posting_budget=2**62, fuzzy_when_exact=True, number_penalty=0.0
    )
    index = CandidateIndex.build(kb, plain, cfg)
    return [[c.id for c in cands] for cands in index.search(texts, k).to_lists()]


def ours(
    kb_path: Path, train_docs: Sequence[Doc], dev_docs: Sequence[Doc], k: int, settings: Dict
) -> Tuple[List[List[str]], float]:
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_normalizer", config=settings)
    examples = [Example(nlp.make_doc(d.text), d) for d in train_docs]
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {
            "@misc": "spacy-crf-ner.load_kb.v1",
            "path": str(kb_path),
            "format": "tsv",
            "columns": {"id": "MESH_ID", "name": "MESH_NAME"},
        }
    }
    nlp.initialize(lambda: examples)
    inputs = []
    for d in dev_docs:
        doc = nlp.make_doc(d.text)
        doc.ents = [doc.char_span(e.start_char, e.end_char, label=e.label_, alignment_mode="expand") for e in d.ents]
        inputs.append(doc)
    start = time.perf_counter()
    linked = list(nlp.get_pipe("entity_normalizer").pipe(inputs))
    elapsed = time.perf_counter() - start
    preds = []
    for doc, gold in zip(linked, dev_docs):
        for ent, g in zip(doc.ents, gold.ents):
            if not g.kb_id_:
                continue
            ids = [ent.kb_id_] if ent.kb_id_ else []
            ids += [c[0] for c in ent._.kb_candidates if c[0] not in ids]
            preds.append(ids[:k] if ent.kb_id_ else [""] + ids[: k - 1])
    return preds, elapsed


def rerank_ceiling(
    train_docs: Sequence[Doc], texts: Sequence[str], golds: Sequence[str], preds: Sequence[Sequence[str]], k: int
) -> Dict[str, float]:
    """How far reordering our top k could go: mentions whose gold ID is in the
    top k but not first, and how many of those are train aliases whose
    majority train ID is not the gold one (a reranker that learns from train
    would keep them wrong)."""
    train_ids: Dict[str, Counter] = defaultdict(Counter)
    for doc in train_docs:
        for ent in doc.ents:
            if ent.kb_id_:
                train_ids[" ".join(ent.text.lower().split())][ent.kb_id_] += 1
    first = sum(bool(p) and ids_match(p[0], g) for p, g in zip(preds, golds))
    movable = contradicted = 0
    for t, g, p in zip(texts, golds, preds):
        if (p and ids_match(p[0], g)) or not any(ids_match(x, g) for x in p[:k]):
            continue
        movable += 1
        seen = train_ids.get(" ".join(t.lower().split()))
        if seen and not ids_match(seen.most_common(1)[0][0], g):
            contradicted += 1
    n = len(golds)
    return {
        f"gold_in_top{k}_not_first": movable / n,
        f"gold_in_top{k}_not_first_train_majority_differs": contradicted / n,
        "rerank_ceiling_acc@1": (first + movable - contradicted) / n,
    }


DEFAULT_SETTINGS = {
    "threshold": 0.0,
    "normalization": {"replacements": NCBI_REPLACEMENTS},
    "rules": {"preset": "biomedical"},
}


# Each switches one part off, to show what it contributes.
ABLATIONS: Dict[str, Dict] = {
    "no_replacements": {"normalization": {}},
    "no_abbreviations": {"abbreviations": False},
    "no_composites": {"composites": False},
    "no_doc_consistency": {"doc_consistency": False},
    "no_inverted_names_word_order": {"index": {"inverted_names": False, "word_order": False}},
    "no_numbers": {"index": {"number_penalty": 0.0}, "normalization": {"replacements": NCBI_REPLACEMENTS, "roman_numerals": False}},
    "no_train_aliases": {"harvest_aliases": False},
    # The domain-neutral default rules instead of the biomedical preset.
    "no_preset": {"rules": {"preset": None}},
}


def main(data_dir: Path, k: int = 5, output: Optional[Path] = None, ablations: bool = True) -> Dict:
    nlp = spacy.blank("en")
    train_docs = list(read_pubtator_docs(data_dir / "ncbi_disease" / "train.pubtator", nlp))
    dev_docs = list(read_pubtator_docs(data_dir / "ncbi_disease" / "dev.pubtator", nlp))
    kb = load_kb(data_dir, train_docs)
    mentions = gold_mentions(dev_docs)
    texts = [m[0] for m in mentions]
    golds = [m[1] for m in mentions]
    results: Dict[str, Dict[str, float]] = {}
    results["exact"] = evaluate(exact_baseline(kb, texts), golds, k)
    results["tfidf_char3"] = evaluate(tfidf_baseline(kb, texts, k), golds, k)
    mesh = data_dir / "mesh" / "mesh_descriptors_c_f_tree.tsv"
    preds, elapsed = ours(mesh, train_docs, dev_docs, k, DEFAULT_SETTINGS)
    results["ours"] = evaluate(preds, golds, k)
    results["ours"]["seconds"] = elapsed
    ceiling = rerank_ceiling(train_docs, texts, golds, preds, k)
    if ablations:
        for name, settings in ABLATIONS.items():
            preds, _ = ours(mesh, train_docs, dev_docs, k, {**DEFAULT_SETTINGS, **settings})
            results[f"ours_{name}"] = evaluate(preds, golds, k)
    # What no method that trusts this KB can get right: gold IDs absent from it.
    absent = sum(
        not any(part in kb for alt in parse_kb_id(g) for part in alt) and canonical_kb_id(g) not in kb
        for g in golds
    )
    summary = {
        "n_mentions": len(golds),
        "kb_entities": len(kb),
        "kb_aliases": kb.n_aliases,
        "gold_id_not_in_kb": absent / len(golds),
        **ceiling,
        "results": results,
    }
    text = json.dumps(summary, indent=2)
    logging.getLogger("spacy_crf_ner").info(text)
    if output is not None:
        output.write_text(text + "\n", encoding="utf8")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--output", type=Path, default=None, help="Write the JSON summary here.")
    parser.add_argument("--no-ablations", action="store_true", help="Skip the runs with one part switched off.")
    args = parser.parse_args()
    summary = main(args.data_dir, args.k, args.output, not args.no_ablations)
    print(json.dumps(summary, indent=2))
