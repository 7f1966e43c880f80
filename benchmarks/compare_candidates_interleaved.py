"""Candidate search of two revisions in one process, interleaved batch by
batch: the working tree's ``spacy_crf_ner.kb`` and an earlier commit's
(extracted with ``git archive`` and imported as a separate package), on the
same saved index, KB and mentions. Each batch of 1,000 mentions is searched
by one revision and then the other (the order alternating), and CPU time is
summed per revision, so a slow spell of a shared machine hits both alike;
this is finer than ``compare_normalizer_scale.py``, which alternates whole
processes minutes apart.

Build the pipeline once first (``bench_normalizer_scale.py --phase build
--work-dir WORK_DIR``). Both revisions must read the saved index.

Usage: python benchmarks/compare_candidates_interleaved.py WORK_DIR --before COMMIT [--passes 2] [--output FILE]
"""
import argparse
import importlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from _common import write_json  # noqa: E402  (after the thread settings: it imports numpy)

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {
    "default": {},
    "fuzzy_when_exact_false": {"fuzzy_when_exact": False},
    "fuzzy_when_exact_false_budget_5000": {"fuzzy_when_exact": False, "posting_budget": 5000},
}


def import_before(commit: str, into: Path):
    """The commit's spacy_crf_ner/kb as a package named kb_before (its
    __init__ left empty: only the candidate index is needed)."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "spacy_crf_ner/kb"],
        check=True, capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    package = into / "kb_before"
    (into / "spacy_crf_ner" / "kb").rename(package)
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(into))
    return importlib.import_module("kb_before.candidates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--before", required=True, help="commit to compare the working tree with")
    parser.add_argument("--passes", type=int, default=2, help="passes over the 100,000 mentions per setting")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    import spacy

    with tempfile.TemporaryDirectory(prefix="before-") as tmp:
        old = import_before(args.before, Path(tmp))
        nlp = spacy.load(args.work_dir / "pipeline")
        after_index = nlp.get_pipe("entity_normalizer").index
        kb = after_index.kb
        before_index = old.CandidateIndex.from_disk(args.work_dir / "pipeline" / "entity_normalizer" / "index", kb)
    mentions = [tuple(m) for m in json.loads((args.work_dir / "mentions.json").read_text())]
    texts = [m[0] for m in mentions]
    batches = [texts[i : i + 1000] for i in range(0, len(texts), 1000)]
    indexes = {"before": before_index, "after": after_index}
    summary: Dict = {"before": args.before, "n_mentions": len(texts), "passes": args.passes, "settings": {}}
    for setting, change in SETTINGS.items():
        for index in indexes.values():
            fields = set(index.config.__dataclass_fields__)
            index.config = replace(index.config, cache_size=0, **{k: v for k, v in change.items() if k in fields})
            index.candidates_batch(batches[0][:50], 5)  # compile, build the typo table
        cpu = {"before": 0.0, "after": 0.0}
        results: Dict[str, List] = {"before": [], "after": []}
        for p in range(args.passes):
            for b, batch in enumerate(batches):
                order = ["before", "after"] if (b + p) % 2 == 0 else ["after", "before"]
                for name in order:
                    index = indexes[name]
                    index.normalizer._cache.clear()
                    c0 = time.process_time()
                    found = index.candidates_batch(batch, 5)
                    cpu[name] += time.process_time() - c0
                    if p == 0:
                        results[name].extend(found)
        n = len(texts) * args.passes
        out = {name: round(n / cpu[name]) for name in cpu}
        for name, found in results.items():
            for kind in ("exact", "typo"):
                sel = [j for j, m in enumerate(mentions) if m[2] == kind]
                out[f"acc@1_{kind}_{name}"] = round(
                    sum(bool(found[j]) and found[j][0].id == mentions[j][1] for j in sel) / len(sel), 4
                )
        out["ratio_after_before"] = round(out["after"] / out["before"], 2)
        summary["settings"][setting] = out
        print(setting, json.dumps(out), file=sys.stderr, flush=True)
    write_json(summary, args.output)


if __name__ == "__main__":
    main()
