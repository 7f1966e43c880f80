"""CoNLL-2003 POS (column 2, Penn Treebank tags): crf_tagger against spaCy's
built-in tagger, same tok2vec settings and step budget, in one run.

    python benchmarks/bench_conll_pos.py --data-dir ../shared/data [--steps 2000] [--parallel]

Reports dev tag accuracy and inference words/s for both.
"""
import argparse
import json
from pathlib import Path

import spacy
from spacy.training import Example

from _common import REPO, conll_training, gold_tokenized, load_docs, machine, train_all, words_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work-dir", type=Path, default=REPO / "benchmarks" / "runs" / "conll_pos")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-frequency", type=int, default=500)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "crf_tagger_cnn.cfg")
    parser.add_argument("--baseline", type=Path, default=REPO / "benchmarks" / "configs" / "spacy_tagger_cnn.cfg")
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--parallel", action="store_true", help="train both at once (one core each)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    dev_path, common = conll_training(args, args.work_dir.parent / "conll_ner" / "corpus")
    systems = {"crf_tagger": args.config, "tagger": args.baseline}
    jobs = [(cfg, args.work_dir / name, dict(common)) for name, cfg in systems.items()]
    results = {}
    for name, best in zip(systems, train_all(jobs, args.parallel)):
        nlp = spacy.load(best)
        gold = load_docs(dev_path, nlp.vocab)
        scores = nlp.evaluate([Example(gold_tokenized(nlp.vocab, d), d) for d in gold])
        results[name] = {"tag_acc": scores["tag_acc"], "words_per_second": words_per_second(nlp, gold)}
    print(f"# CoNLL-2003 dev POS (PTB tags), {args.steps} steps — {machine()}\n")
    print("| system | tag accuracy | words/s |")
    print("|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {100 * r['tag_acc']:.2f} | {r['words_per_second']:.0f} |")
    a, b = results["crf_tagger"], results["tagger"]
    print(f"\ncrf_tagger − tagger: {100 * (a['tag_acc'] - b['tag_acc']):+.2f} accuracy, "
          f"speed ratio {a['words_per_second'] / b['words_per_second']:.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine(), "steps": args.steps, "results": results}, indent=2))


if __name__ == "__main__":
    main()
