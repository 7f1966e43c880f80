"""What the ``entity_normalizer`` leaves for the garbage collector's oldest
generation: the objects promoted into it while 20,000 of the scale
benchmark's mentions (docs of 20 entities set by hand, kept, no result
cache) are linked, counted by type, per mention. Objects that reach the
oldest generation count toward a full collection, which walks every tracked
object of the process (spaCy, numba and torch leave ~470,000).

Each revision runs in a fresh process: the working tree's and, with
``--before COMMIT``, an earlier commit's (imported as in
``compare_component_interleaved.py``). After loading, ``gc.freeze()`` moves
what exists to the permanent generation, so what appears in the oldest
generation afterwards was promoted during linking.

Usage: python benchmarks/bench_normalizer_gc_promotions.py WORK_DIR [--before COMMIT] [--n 20000] [--output FILE]
"""
import argparse
import gc
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_json  # noqa: E402


def run_one(work: Path, before: str, n: int) -> Dict:
    from compare_component_interleaved import scale_component

    with scale_component(work, before, n) as (component, docs):
        return promotions(component, docs)


def promotions(component, docs) -> Dict:
    gc.collect()
    gc.freeze()
    seen = set()
    promoted: Counter = Counter()

    def callback(phase: str, info: Dict) -> None:
        # After a collection of generation 1 or 2, what is new in the oldest
        # generation was promoted by it.
        if phase == "stop" and info["generation"] >= 1:
            for obj in gc.get_objects(2):
                if id(obj) not in seen:
                    seen.add(id(obj))
                    promoted[type(obj).__name__] += 1

    gc.callbacks.append(callback)
    linked = list(component.pipe(docs, batch_size=50))
    gc.callbacks.remove(callback)
    n_mentions = sum(len(doc.ents) for doc in linked)
    return {
        "mentions": n_mentions,
        "promoted_per_mention": round(sum(promoted.values()) / n_mentions, 2),
        "promoted_per_mention_by_type": {t: round(c / n_mentions, 3) for t, c in promoted.most_common(8)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--before", default="", help="also measure this commit")
    parser.add_argument("--n", type=int, default=20_000, help="mentions to link")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--one", choices=["before", "after"], default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.work_dir, args.before if args.one == "before" else "", args.n)))
        return
    summary: Dict = {}
    for name in (["before"] if args.before else []) + ["after"]:
        cmd = [sys.executable, __file__, str(args.work_dir), "--before", args.before, "--n", str(args.n), "--one", name]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        summary[args.before if name == "before" else "working tree"] = json.loads(done.stdout.strip().splitlines()[-1])
    write_json(summary, args.output)


if __name__ == "__main__":
    main()
