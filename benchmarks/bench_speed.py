"""Inference speed of trained pipelines, side by side in one run.

    python benchmarks/bench_speed.py DEV.spacy NAME=MODEL_DIR [NAME=MODEL_DIR ...] [--rounds 3]

Each round times every pipeline once on fresh gold-tokenized copies of the
dev docs (tokenization excluded), in turn, so that the machine's load falls
on all of them alike; the order of the pipelines is reversed every other
round, so that a slow drift of the load does not favour the one timed first.
Reported: words/s from the median time over rounds, and the speed ratio
against the last pipeline given, computed per round (the two timings of a
round are seconds apart and share the machine's load) with its median and
range over rounds.

With ``--breakdown N``, N more rounds time each component on its own
(``component.pipe`` over the whole batch, in pipeline order), which
separates the components that differ from a shared encoder's noise.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import spacy

from _common import gold_tokenized, load_docs, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dev", type=Path)
    parser.add_argument("models", nargs="+", help="NAME=MODEL_DIR")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N dev docs")
    parser.add_argument("--breakdown", type=int, default=0, help="rounds of per-component timing")
    parser.add_argument("--output", type=Path, default=None, help="also write the timings as JSON here")
    args = parser.parse_args()
    pipelines = {}
    for item in args.models:
        name, _, path = item.partition("=")
        pipelines[name] = spacy.load(path)
    first = next(iter(pipelines.values()))
    gold = load_docs(args.dev, first.vocab)
    if args.limit:
        gold = gold[: args.limit]
    n_words = sum(len(d) for d in gold)
    for nlp in pipelines.values():  # warm-up: compiled kernels, caches
        list(nlp.pipe([gold_tokenized(nlp.vocab, d) for d in gold[:20]]))
    times = {name: [] for name in pipelines}
    names = list(pipelines)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            nlp = pipelines[name]
            docs = [gold_tokenized(nlp.vocab, d) for d in gold]
            start = time.perf_counter()
            for _ in nlp.pipe(docs, batch_size=nlp.batch_size):
                pass
            times[name].append(time.perf_counter() - start)
    base = names[-1]
    print(f"# Inference speed, {n_words:,} words, {args.rounds} rounds — {machine()}\n")
    print(f"| pipeline | words/s (median) | ratio to {base}, median of rounds | range over rounds |")
    print("|---|---|---|---|")
    summary = {"machine": machine(), "n_words": n_words, "rounds": args.rounds, "seconds": times, "ratio": {}}
    for name in names:
        wps = n_words / statistics.median(times[name])
        ratios = [b / t for t, b in zip(times[name], times[base])]
        summary["ratio"][name] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
        print(f"| {name} | {wps:,.0f} | {statistics.median(ratios):.3f} | {min(ratios):.3f}–{max(ratios):.3f} |")
    if args.breakdown:
        parts = {name: {} for name in names}
        for r in range(args.breakdown):
            for name in names if r % 2 == 0 else names[::-1]:
                nlp = pipelines[name]
                docs = [gold_tokenized(nlp.vocab, d) for d in gold]
                for comp_name, proc in nlp.pipeline:
                    start = time.perf_counter()
                    docs = list(proc.pipe(docs, batch_size=nlp.batch_size))
                    parts[name].setdefault(comp_name, []).append(time.perf_counter() - start)
        print(f"\nPer component, seconds for {n_words:,} words, median of {args.breakdown} rounds:\n")
        print("| pipeline | " + " | ".join("component" for _ in range(max(len(p) for p in parts.values()))) + " |")
        print("|---|" + "---|" * max(len(p) for p in parts.values()))
        for name in names:
            cells = [f"{c}: {statistics.median(t):.2f} s" for c, t in parts[name].items()]
            print(f"| {name} | " + " | ".join(cells) + " |")
        summary["component_seconds"] = parts
    if args.output:
        args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
