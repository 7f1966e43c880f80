"""Where the entity normalizer's time and memory go on the scale benchmark's
KB, measured in one process on a pipeline saved by ``bench_normalizer_scale.py
--phase build``:

* typo table: entries and size, keys looked up by deletions and by halves;
* neighbour table: size, CPU time to build it again (and whether that gives
  the saved table), how often exact mentions still need the search, and the
  CPU µs per exact mention with and without the table, alternating every
  1,000 mentions;

* posting budget: the candidate search of unknown mentions (which read their
  whole budget) at several budgets, alternating every 1,000 mentions so that
  the machine's drift hits all alike; CPU µs per mention, in total and in the
  compiled kernel;
* garbage collector: collections per generation and their time (through
  ``gc.callbacks``) while 100,000 mentions go through the component in docs
  of 20 entities that are kept in memory, before and after ``gc.freeze()``.

Usage: python benchmarks/bench_normalizer_costs.py WORK_DIR [--budgets 10000 5000 2000] [--output FILE]
"""
import argparse
import gc
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List

import numpy

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import collector_stats, write_json  # noqa: E402
from bench_normalizer_scale import make_docs  # noqa: E402


def budget_costs(index, texts: List[str], budgets: List[int], passes: int = 2) -> Dict:
    import spacy_crf_ner.kb.candidates as candidates

    kernel = candidates._link
    spent: Dict[str, float] = {}
    current = [0]

    def timed_kernel(*args):
        c0 = time.process_time()
        out = kernel(*args)
        spent[f"kernel_{current[0]}"] = spent.get(f"kernel_{current[0]}", 0.0) + time.process_time() - c0
        return out

    configs = {b: replace(index.config, fuzzy_when_exact=False, cache_size=0, posting_budget=b) for b in budgets}
    index.candidates_batch(texts[:100], 5)
    candidates._link = timed_kernel
    try:
        for p in range(passes):
            for i in range(0, len(texts), 1000):
                order = list(configs.items())
                for budget, config in order if (i // 1000 + p) % 2 == 0 else order[::-1]:
                    index.config = config
                    index.normalizer._cache.clear()
                    current[0] = budget
                    c0 = time.process_time()
                    index.candidates_batch(texts[i : i + 1000], 5)
                    spent[f"total_{budget}"] = spent.get(f"total_{budget}", 0.0) + time.process_time() - c0
    finally:
        candidates._link = kernel
    n = passes * len(texts)
    return {f"{key}_us_per_mention": round(value / n * 1e6, 1) for key, value in sorted(spent.items())}


def neighbour_costs(index, texts: List[str], passes: int = 2) -> Dict:
    import spacy_crf_ner.kb.candidates as candidates

    saved = index._neighbours
    c0 = time.process_time()
    index._build_neighbours(False)
    build_s = time.process_time() - c0
    same = all(numpy.array_equal(a, b) for a, b in zip(saved, index._neighbours))
    index.config = replace(index.config, cache_size=0)
    kernel = candidates._link
    rows = {"table": 0, "searched_after_all": 0}

    def counting_kernel(*args):
        out = kernel(*args)
        table, unsettled = args[-6], args[-5]
        rows["table"] += int(table.sum())
        rows["searched_after_all"] += int(unsettled.sum())
        return out

    spent = {"with_table": 0.0, "without_table": 0.0}
    index.candidates_batch(texts[:100], 5)
    candidates._link = counting_kernel
    try:
        for p in range(passes):
            for i in range(0, len(texts), 1000):
                order = ["with_table", "without_table"]
                for name in order if (i // 1000 + p) % 2 == 0 else order[::-1]:
                    index._neighbours = saved if name == "with_table" else None
                    index.normalizer._cache.clear()
                    c0 = time.process_time()
                    index.candidates_batch(texts[i : i + 1000], 5)
                    spent[name] += time.process_time() - c0
    finally:
        candidates._link = kernel
        index._neighbours = saved
    n = len(texts) * passes
    return {
        "mb": round(sum(a.nbytes for a in saved) / 2**20, 1),
        "keys_with_more_than_stored": round(float(saved[2].mean()), 3),
        "build_cpu_s": round(build_s, 1),
        "rebuilt_equals_saved": same,
        "exact_mentions_from_table": rows["table"],
        "searched_after_all": rows["searched_after_all"],
        **{f"cpu_us_per_exact_mention_{k}": round(v / n * 1e6, 1) for k, v in spent.items()},
    }


def gc_costs(nlp, docs, n_mentions: int) -> Dict:
    norm = nlp.get_pipe("entity_normalizer")
    out = {}
    for label in ("as_loaded", "after_gc_freeze"):
        if label == "after_gc_freeze":
            gc.freeze()
        norm.index.normalizer._cache.clear()
        norm.index.config = norm.index.config  # empties the result cache
        tracked = len(gc.get_objects())
        with collector_stats() as stats:
            c0 = time.process_time()
            kept = list(norm.pipe(docs, batch_size=50))
            cpu = time.process_time() - c0
        out[label] = {
            "tracked_objects_before": tracked,
            "mentions_per_cpu_s": round(n_mentions / cpu),
            "collections_per_generation": list(stats["collections"]),
            "gc_us_per_mention_per_generation": [round(s / n_mentions * 1e6, 2) for s in stats["seconds"]],
        }
        del kept
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--budgets", type=int, nargs="+", default=[10000, 5000, 2000])
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    import spacy

    nlp = spacy.load(args.work_dir / "pipeline")
    index = nlp.get_pipe("entity_normalizer").index
    mentions = [tuple(m) for m in json.loads((args.work_dir / "mentions.json").read_text())]
    unknown = [m[0] for m in mentions if m[2] == "unknown"]
    index._ensure_typo_table()
    lengths = numpy.diff(index._key_off)
    low, high = index.config.typo_min_length, index.config.typo_max_length
    result: Dict = {
        "typo_table": {
            "entries": int(len(index._typo_table)),
            "mb": round((index._typo_table.nbytes + index._typo_starts.nbytes) / 2**20, 1),
            "keys_by_deletions": int(((lengths >= low) & (lengths <= high)).sum()),
            "keys_by_halves": int((lengths > high).sum()),
            "keys_too_short": int((lengths < low).sum()),
        },
        "neighbour_table": neighbour_costs(index, [m[0] for m in mentions if m[2] == "exact"][:20_000]),
        "posting_budget_unknown_mentions": budget_costs(index, unknown, args.budgets),
    }
    index.config = replace(index.config, fuzzy_when_exact=False, cache_size=0, posting_budget=10000)
    texts = [m[0] for m in mentions]
    docs = make_docs(nlp.vocab, texts)
    result["garbage_collector_component"] = gc_costs(nlp, docs, sum(len(d.ents) for d in docs))
    write_json(result, args.output)


if __name__ == "__main__":
    main()
