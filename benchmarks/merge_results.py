"""Merge the JSON results of several runs of one benchmark into one file.

    python benchmarks/merge_results.py OUT.json NAME=RESULT.json [NAME=RESULT.json ...]
        [--command "..."]

Writes ``{"machine": ..., "command": ..., "results": {NAME: <contents of RESULT.json>}}``,
e.g. the end-to-end NCBI benchmark, which runs once per NER component.
"""
import argparse
import json
from pathlib import Path

from _common import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("runs", nargs="+", help="NAME=RESULT.json")
    parser.add_argument("--command", default="", help="the command that produced the runs, for the record")
    args = parser.parse_args()
    results = {}
    for run in args.runs:
        name, sep, path = run.partition("=")
        if not sep:
            parser.error(f"expected NAME=RESULT.json, got {run!r}")
        results[name] = json.loads(Path(path).read_text())
    summary = {"machine": machine(), "command": args.command, "results": results}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
