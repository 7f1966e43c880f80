"""The link phase of ``bench_normalizer_scale.py`` for two revisions of the
package, side by side: the working tree and an earlier commit, alternating
(A B B A per repetition, so a slow spell of a shared machine hits both), on
the same saved pipeline and mentions. Reports each run and the after/before
ratio of every throughput.

Build the pipeline once first (``bench_normalizer_scale.py --phase build
--work-dir WORK_DIR``); the saved format must be one both revisions read.

Usage: python benchmarks/compare_normalizer_scale.py WORK_DIR --before COMMIT [--repeats 2] [--output FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

from _common import write_json

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_normalizer_scale.py"
SETTINGS = {"default": [], "fuzzy_when_exact_false": ["--no-fuzzy-when-exact"]}


def link(work: Path, package_root: Path, extra: List[str]) -> Dict:
    # The script's own folder comes first on sys.path, then PYTHONPATH: the
    # package is imported from package_root, not from the installed one.
    env = dict(os.environ, PYTHONPATH=str(package_root), NUMBA_NUM_THREADS="1")
    cmd = [sys.executable, str(SCRIPT), "--work-dir", str(work), "--phase", "link", "--rounds", "1", *extra]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--before", required=True, help="commit to compare the working tree with")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    work = args.work_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="before-") as tmp:
        before = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.before], check=True)
        try:
            runs: Dict[str, Dict[str, List[Dict]]] = {s: {"before": [], "after": []} for s in SETTINGS}
            for r in range(args.repeats):
                for setting, extra in SETTINGS.items():
                    order = [("before", before), ("after", ROOT)]
                    for name, root in order if r % 2 == 0 else order[::-1]:
                        runs[setting][name].append(link(work, root, extra))
                        print(f"{setting} {name} run {r + 1} done", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=True)
    summary: Dict = {"before": args.before, "runs": runs, "ratios": {}}
    for setting, by in runs.items():
        summary["ratios"][setting] = {
            key: [round(a[key] / b[key], 2) for a, b in zip(by["after"], by["before"])]
            for key in by["after"][0]
            if "per_cpu_s" in key and not key.endswith("_rounds")
        }
    write_json(summary, args.output)


if __name__ == "__main__":
    main()
