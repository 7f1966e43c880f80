"""CoNLL-2003 English NER: crf_ner against spaCy's built-in ner, same tok2vec
settings and step budget, trained and scored in one run.

    python benchmarks/bench_conll_ner.py --data-dir ../shared/data [--steps 2000] [--parallel]
        [--config configs/crf_ner_cnn.cfg --baseline benchmarks/configs/spacy_ner_cnn.cfg]

Trains crf_ner with BILUO and with BIO tags and the built-in ner, then
reports dev entity P/R/F (per type too), inference words/s, and the expected
calibration error of crf_ner's entity confidences (10 equal-width bins; an
entity is correct when its span and label match the gold exactly), as
trained and with a temperature fitted on one half of dev and measured on the
other (both ways, averaged). Dev docs use the gold tokens, as spaCy's
Corpus does for CoNLL data, so scores match `spacy evaluate`.
Results are printed as Markdown and written to --out as JSON.
"""
import argparse
import json
from pathlib import Path
from typing import Dict

import numpy
import spacy
from spacy.training import Example

from spacy_crf_ner.calibration import (
    collect_predictions,
    entity_confidences,
    expected_calibration_error,
    fit_temperature,
)

from _common import REPO, conll_training, gold_tokenized, load_docs, machine, train_all, words_per_second


def calibration(nlp, examples) -> Dict[str, float]:
    """ECE of crf_ner entity confidences as trained (T = 1), and with
    temperature scaling cross-fitted on dev: T fitted on one half of the dev
    documents and measured on the other, both ways, averaged."""
    ner = nlp.get_pipe("crf_ner")
    data = collect_predictions(nlp, examples)
    conf, correct = entity_confidences(ner, data, 1.0)
    res = {
        "ece": expected_calibration_error(conf, correct),
        "n_entities": int(len(conf)),
        "mean_confidence": float(conf.mean()),
        "precision": float(correct.mean()),
    }
    halves = [list(range(0, len(data), 2)), list(range(1, len(data), 2))]
    eces, temps = [], []
    for fit_on, test_on in (halves, halves[::-1]):
        t = fit_temperature(ner, data.subset(fit_on))
        c, y = entity_confidences(ner, data.subset(test_on), t)
        eces.append(expected_calibration_error(c, y))
        temps.append(t)
    res["ece_temperature_cross_fitted"] = float(numpy.mean(eces))
    res["temperatures"] = temps
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work-dir", type=Path, default=REPO / "benchmarks" / "runs" / "conll_ner")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-frequency", type=int, default=500)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "crf_ner_cnn.cfg")
    parser.add_argument("--baseline", type=Path, default=REPO / "benchmarks" / "configs" / "spacy_ner_cnn.cfg")
    parser.add_argument("--systems", default="crf_ner-BILUO,crf_ner-BIO,ner")
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--parallel", action="store_true", help="train all systems at once (one core each)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    dev_path, common = conll_training(args, args.work_dir / "corpus")
    systems = args.systems.split(",")
    jobs = []
    for system in systems:
        overrides = dict(common)
        if system.startswith("crf_ner"):
            config = args.config
            overrides["components.crf_ner.scheme"] = system.split("-")[1]
        else:
            config = args.baseline
        jobs.append((config, args.work_dir / system, overrides))
    bests = train_all(jobs, args.parallel)
    results = {}
    for system, best in zip(systems, bests):
        nlp = spacy.load(best)
        gold = load_docs(dev_path, nlp.vocab)
        examples = [Example(gold_tokenized(nlp.vocab, d), d) for d in gold]
        scores = nlp.evaluate(examples)
        wps = words_per_second(nlp, gold)
        res = {
            "ents_p": scores["ents_p"],
            "ents_r": scores["ents_r"],
            "ents_f": scores["ents_f"],
            "ents_per_type": scores["ents_per_type"],
            "words_per_second": wps,
        }
        if system.startswith("crf_ner"):
            res["calibration"] = calibration(nlp, examples)
        results[system] = res
    print(f"# CoNLL-2003 dev NER, {args.steps} steps — {machine()}\n")
    print("| system | P | R | F | words/s | ECE (T = 1) | ECE (T fitted, cross-fitted on dev) |")
    print("|---|---|---|---|---|---|---|")
    for system, r in results.items():
        cal = r.get("calibration", {})
        ece = f"{cal['ece']:.3f}" if cal else ""
        ece_t = (f"{cal['ece_temperature_cross_fitted']:.3f} (T = "
                 + ", ".join(f"{t:.2f}" for t in cal["temperatures"]) + ")") if cal else ""
        print(f"| {system} | {100*r['ents_p']:.2f} | {100*r['ents_r']:.2f} | {100*r['ents_f']:.2f} | "
              f"{r['words_per_second']:.0f} | {ece} | {ece_t} |")
    types = sorted(next(iter(results.values()))["ents_per_type"])
    print("\n| system | " + " | ".join(f"{t} F" for t in types) + " |")
    print("|---|" + "---|" * len(types))
    for system, r in results.items():
        print(f"| {system} | " + " | ".join(f"{100*r['ents_per_type'][t]['f']:.2f}" for t in types) + " |")
    if "ner" in results:
        for system, r in results.items():
            if system != "ner":
                print(f"\n{system} − ner: {100*(r['ents_f'] - results['ner']['ents_f']):+.2f} F, "
                      f"speed ratio {r['words_per_second'] / results['ner']['words_per_second']:.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine(), "steps": args.steps, "results": results}, indent=2))


if __name__ == "__main__":
    main()
