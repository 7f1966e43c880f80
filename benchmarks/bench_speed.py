"""Inference speed of trained pipelines, side by side in one run.

    python benchmarks/bench_speed.py DEV.spacy NAME=MODEL_DIR [NAME=MODEL_DIR ...] [--rounds 3]

Each round times every pipeline once on fresh gold-tokenized copies of the
dev docs (tokenization excluded), in turn, so that the machine's load falls
on all of them alike; the median over rounds is reported, with the speed
ratio against the last pipeline given.
"""
import argparse
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
    for _ in range(args.rounds):
        for name, nlp in pipelines.items():
            docs = [gold_tokenized(nlp.vocab, d) for d in gold]
            start = time.perf_counter()
            for _ in nlp.pipe(docs, batch_size=nlp.batch_size):
                pass
            times[name].append(time.perf_counter() - start)
    base = list(pipelines)[-1]
    base_wps = n_words / statistics.median(times[base])
    print(f"# Inference speed, {n_words:,} words, median of {args.rounds} rounds — {machine()}\n")
    print(f"| pipeline | words/s | ratio to {base} |")
    print("|---|---|---|")
    for name in pipelines:
        wps = n_words / statistics.median(times[name])
        print(f"| {name} | {wps:,.0f} | {wps / base_wps:.2f} |")


if __name__ == "__main__":
    main()
