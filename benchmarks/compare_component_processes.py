"""The ``entity_normalizer`` component of two revisions, each in fresh
processes run one after the other (before, after, before, after, ...): the
working tree's and an earlier commit's (imported as in
``compare_component_interleaved.py``). Each process loads the pipeline saved
by ``bench_normalizer_scale.py --phase build``, links the scale benchmark's
100,000 distinct mentions (docs of 20 entities set by hand, no result
cache) and keeps the linked docs, as ``docs = list(nlp.pipe(texts))`` does.

Use it for what one process cannot compare: the garbage collector's
collections are global to a process, so in the interleaved comparison the
objects one revision leaves would bring collections that both revisions pay
for. Each process reports mentions per CPU second and, through
``gc.callbacks``, collections per generation and their time; the summary
gives the median per revision and the ratio of the medians, and checks that
both revisions wrote the same KB IDs and candidates.

Usage: python benchmarks/compare_component_processes.py WORK_DIR --before COMMIT [--repeats 3] [--output FILE]
"""
import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import collector_stats, write_json  # noqa: E402


def run_one(work: Path, before: str) -> Dict:
    """One process: link the mentions with the working tree's component, or
    with that of the commit ``before`` if given."""
    from compare_component_interleaved import scale_component
    from spacy.tokens import Doc

    with scale_component(work, before) as (component, docs):
        with collector_stats() as stats:
            c0 = time.process_time()
            linked: List[Doc] = list(component.pipe(docs, batch_size=50))
            cpu = time.process_time() - c0
    n = sum(len(doc.ents) for doc in linked)
    digest = hashlib.sha256()
    for doc in linked:
        for ent in doc.ents:
            digest.update(repr((ent.kb_id_, ent._.kb_candidates)).encode("utf8"))
    return {
        "mentions_per_cpu_s": round(n / cpu),
        "collections_per_generation": stats["collections"],
        "gc_us_per_mention_per_generation": [round(s / n * 1e6, 2) for s in stats["seconds"]],
        "tracked_objects_after": len(gc.get_objects()),
        "output_sha256": digest.hexdigest(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--before", required=True, help="commit to compare the working tree with")
    parser.add_argument("--repeats", type=int, default=3, help="processes per revision")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--one", choices=["before", "after"], default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.work_dir, args.before if args.one == "before" else "")))
        return
    runs: Dict[str, List[Dict]] = {"before": [], "after": []}
    for r in range(args.repeats):
        for name in ("before", "after") if r % 2 == 0 else ("after", "before"):
            cmd = [sys.executable, __file__, str(args.work_dir), "--before", args.before, "--one", name]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    summary: Dict = {"before": args.before, "repeats": args.repeats}
    for name, results in runs.items():
        summary[name] = {
            "median_mentions_per_cpu_s": statistics.median(x["mentions_per_cpu_s"] for x in results),
            "median_gc_us_per_mention": statistics.median(
                sum(x["gc_us_per_mention_per_generation"]) for x in results
            ),
            "runs": results,
        }
    summary["ratio_after_before"] = round(
        summary["after"]["median_mentions_per_cpu_s"] / summary["before"]["median_mentions_per_cpu_s"], 3
    )
    summary["same_output"] = len({x["output_sha256"] for results in runs.values() for x in results}) == 1
    write_json(summary, args.output)


if __name__ == "__main__":
    main()
