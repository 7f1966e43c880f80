"""Annotation throughput: one process, nlp.pipe with n_process=2, and the Ray
engine with 1 and 2 workers, on the same documents in one run.

    python benchmarks/bench_distributed.py [--model DIR] [--docs 20000] [--data-dir ../shared/data]
        [--batch-size 64] [--output benchmarks/results/distributed.json]

Documents: CoNLL-2003 train sentences from --data-dir (conll2003/train.iob),
or generated sentences without it; --docs of them, written to one JSONL file.
Pipeline: --model, or a CNN crf_ner pipeline built here (its weights are
initialized, not trained: speed does not depend on them).

Each engine annotates the whole file (JSONL out for local runs, Parquet shards
for Ray). Reported per engine: wall-clock seconds and docs/s; for Ray, the
local cluster's start time and each worker's model load time apart, and docs/s
without worker start and model load (from the first shard's start to the last
shard's end; local runs load the model before their timing starts). The
ratios compare Ray with 2 workers to Ray with 1 worker and to n_process=2. The
per-worker rate gives the workers needed for 10 M documents in an hour.
"""
import argparse
import json
import math
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from _common import machine, write_json

FIRST = ["Sarah", "Ahmed", "Li", "Maria", "John", "Olga", "Kofi", "Anna", "Pedro", "Yuki"]
LAST = ["Smith", "Khan", "Wang", "Garcia", "Brown", "Ivanova", "Mensah", "Rossi", "Silva", "Tanaka"]
PLACES = ["Paris", "Berlin", "Lagos", "Lima", "Osaka", "Cairo", "Oslo", "Quito", "Hanoi", "Perth"]
ORGS = ["Acme Corp", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises"]
TEMPLATES = [
    "{p} flew from {c} to {c2} on Monday to meet the board of {o} about the merger.",
    "According to {o}, {p} will open a new office in {c} next spring, hiring about 200 people.",
    "The minister said on Tuesday that {p} had visited {c} and {c2} before the talks with {o} collapsed.",
    "{o} shares fell 3 percent in {c} after {p} warned that profits would be lower than expected.",
]


def generated(n: int, seed: int = 0) -> List[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        c, c2 = rng.sample(PLACES, 2)
        texts.append(rng.choice(TEMPLATES).format(p=person, c=c, c2=c2, o=rng.choice(ORGS)))
    return texts


def conll_sentences(path: Path, n: int) -> List[str]:
    texts, words = [], []
    for line in path.read_text(encoding="utf8").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if len(words) > 3:
                texts.append(" ".join(words))
            words = []
        else:
            words.append(line.split()[0])
    if not texts:
        raise ValueError(f"No sentences in {path}")
    return [texts[i % len(texts)] for i in range(n)]  # cycles when n exceeds the corpus


def build_model(path: Path) -> Path:
    from spacy.lang.en import English
    from spacy.training import Example

    nlp = English()
    nlp.add_pipe("crf_ner")
    text = generated(1)[0]
    doc = nlp.make_doc(text)
    examples = [Example.from_dict(doc, {"entities": [(0, len(doc[0].text), "PER")]})]
    nlp.initialize(get_examples=lambda: examples)
    nlp.to_disk(path)
    return path


def run_local(model: str, src: Path, out: Path, n_process: int, batch_size: int) -> Dict:
    import spacy

    from spacy_crf_ner.annotate import annotate_file

    start = time.perf_counter()
    nlp = spacy.load(model)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    stats = annotate_file(nlp, src, out, n_process=n_process, batch_size=batch_size, progress=False)
    seconds = time.perf_counter() - start
    return {"docs": stats.written, "seconds": seconds, "docs_per_s": stats.written / seconds, "load_s": load_s}


def run_ray(model: str, src: Path, out: Path, workers: int, batch_size: int, shard_bytes: int) -> Dict:
    from spacy_crf_ner.distributed import annotate_ray

    start = time.perf_counter()
    stats = annotate_ray(model, str(src), str(out), workers=workers, batch_size=batch_size,
                         shard_bytes=shard_bytes, progress=False)
    seconds = time.perf_counter() - start
    per_worker = [w["records"] / w["seconds"] for w in stats.workers if w["seconds"]]
    return {
        "docs": stats.written,
        "seconds": seconds,
        "docs_per_s": stats.written / seconds,
        "processing_s": stats.processing_s,
        "docs_per_s_excl_load": stats.written / max(stats.processing_s, 1e-9),
        "load_s": [round(w["load_s"], 2) for w in stats.workers],
        "rss_mb": [round(w["rss_mb"]) for w in stats.workers],
        "per_worker_docs_per_s": per_worker,
        "shards": stats.shards,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="pipeline directory (default: a CNN crf_ner built here)")
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--data-dir", type=Path, default=None, help="read CoNLL-2003 sentences from here")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    import ray

    work = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    try:
        model = args.model or str(build_model(work / "model"))
        if args.data_dir:
            texts, source = conll_sentences(args.data_dir / "conll2003" / "train.iob", args.docs), "CoNLL-2003 train"
        else:
            texts, source = generated(args.docs), "generated sentences"
        src = work / "docs.jsonl"
        src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
        results: Dict[str, Dict] = {}
        results["one process"] = run_local(model, src, work / "one.jsonl", 1, args.batch_size)
        results["n_process=2"] = run_local(model, src, work / "two.jsonl", 2, args.batch_size)
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        cluster_start = time.perf_counter() - start
        shard_bytes = max(1, src.stat().st_size // 32)
        for workers in (1, 2):
            results[f"Ray, {workers} worker{'s' if workers > 1 else ''}"] = run_ray(
                model, src, work / f"ray{workers}", workers, args.batch_size, shard_bytes)
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ray1, ray2, np2 = results["Ray, 1 worker"], results["Ray, 2 workers"], results["n_process=2"]
    rate = max(ray1["per_worker_docs_per_s"])
    summary = {
        "machine": machine(),
        "docs": args.docs,
        "source": source,
        "model": args.model or "CNN crf_ner (built by the benchmark)",
        "batch_size": args.batch_size,
        "ray_cluster_start_s": cluster_start,
        "results": results,
        "ratio_ray2_to_ray1": ray2["docs_per_s"] / ray1["docs_per_s"],
        "ratio_ray2_to_n_process2": ray2["docs_per_s"] / np2["docs_per_s"],
        "ratio_ray2_to_ray1_excl_load": ray2["docs_per_s_excl_load"] / ray1["docs_per_s_excl_load"],
        "ratio_ray2_to_n_process2_excl_load": ray2["docs_per_s_excl_load"] / np2["docs_per_s"],
        "per_worker_docs_per_s": rate,
        "workers_for_10M_docs_per_hour": math.ceil(10_000_000 / 3600 / rate),
    }
    print(f"# Annotation throughput, {args.docs:,} docs ({source}) — {machine()}\n")
    print(f"Ray local cluster start: {cluster_start:.1f}s (not included below)\n")
    print("| engine | seconds | docs/s | docs/s excl. model load | model load (s) |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        excl = r.get("docs_per_s_excl_load", r["docs_per_s"])
        load = r["load_s"] if isinstance(r["load_s"], list) else round(r["load_s"], 2)
        print(f"| {name} | {r['seconds']:.1f} | {r['docs_per_s']:,.0f} | {excl:,.0f} | {load} |")
    print(f"\nRay 2 workers / Ray 1 worker: {summary['ratio_ray2_to_ray1']:.2f} "
          f"(excl. model load {summary['ratio_ray2_to_ray1_excl_load']:.2f}); "
          f"Ray 2 workers / n_process=2: {summary['ratio_ray2_to_n_process2']:.2f} "
          f"(excl. model load {summary['ratio_ray2_to_n_process2_excl_load']:.2f})")
    print(f"Per-worker rate {rate:,.0f} docs/s: {summary['workers_for_10M_docs_per_hour']} workers "
          "for 10 M such docs in an hour\n")
    write_json(summary, args.output)


if __name__ == "__main__":
    main()
