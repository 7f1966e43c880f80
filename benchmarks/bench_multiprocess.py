"""Throughput with worker processes, and the cold start of a fresh process.

    python benchmarks/bench_multiprocess.py --data-dir ../shared/data [--steps 600] [--rounds 3]

Trains (once, in --work-dir) three CNN pipelines on CoNLL-2003 with the
same tok2vec settings and step budget: `crf_ner`, spaCy's `ner`, and a full
pipeline (`crf_tagger` + `crf_ner` + `entity_normalizer` with a KB of the
training set's entity names). Then, in fresh processes:

* **Throughput**: `nlp.pipe(texts)` against `nlp.pipe(texts, n_process=2)`
  on the same texts, back to back in one process (their order alternating
  between rounds), on two sets: 6,000 sentences of the training file
  (batches of 64), and the dev set's 216 articles (one document per
  -DOCSTART-, about 240 words each) four times over (batches of 8). Reported: docs/s
  (median over rounds) and the ratio n_process=2 / one process, per round;
  and where the CPU time goes, in ms per doc: the one process; with
  n_process=2, the workers (annotation and `Doc.to_bytes`) and the parent
  (sending texts, `Doc.from_bytes`). On 2 cores the ratio cannot exceed
  2 x (1 process) / (workers + parent).
  Each pipeline is also run with `SPACY_CRF_NER_MSGPACK_CACHE=0`, which
  shows what srsly's per-call registry look-up cost before the cache
  (spacy_crf_ner/multiprocess.py).
* **Cold start** (each pipeline, spaCy's `ner` included as the reference):
  a new process imports spaCy, loads the pipeline and
  annotates one sentence, with an empty numba cache folder, then again with
  the folder the first run filled; in this interpreter's environment and in
  that of each interpreter given to --cold-python (e.g. a virtual environment with only
  `pip install spacy-crf-ner`, where spaCy does not import transformers).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Dict, List

from _common import REPO, conll_training, machine, train_all, write_json

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import spacy
    model, texts_path, order, batch_size = sys.argv[1:5]
    texts = json.load(open(texts_path))
    nlp = spacy.load(model)
    list(nlp.pipe(texts[:50]))  # kernels loaded, caches warm
    out = {}
    for n_process in [int(n) for n in order.split(",")]:
        before, start = os.times(), time.perf_counter()
        n = sum(1 for _ in nlp.pipe(texts, n_process=n_process, batch_size=int(batch_size)))
        seconds, after = time.perf_counter() - start, os.times()
        parent = after.user + after.system - before.user - before.system
        workers = after.children_user + after.children_system - before.children_user - before.children_system
        out[n_process] = {"docs_per_s": n / seconds, "parent_cpu_ms": 1000 * parent / n, "worker_cpu_ms": 1000 * workers / n}
    print(json.dumps(out))
    """
)

COLD = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    import json, sys
    import spacy
    t1 = time.perf_counter()
    nlp = spacy.load(sys.argv[1])
    t2 = time.perf_counter()
    nlp("Peter Blackburn flew from Brussels to London on Friday .")
    t3 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first_doc": t3 - t2, "total": t3 - t0}))
    """
)


def read_conll(path: Path) -> List[List[List[str]]]:
    """Documents (split at -DOCSTART-) of sentences of words."""
    docs: List[List[List[str]]] = [[]]
    sentence: List[str] = []
    for line in path.read_text(encoding="utf8").splitlines():
        parts = line.split()
        if not parts:
            if sentence:
                docs[-1].append(sentence)
                sentence = []
        elif parts[0] == "-DOCSTART-":
            if docs[-1]:
                docs.append([])
        else:
            sentence.append(parts[0])
    if sentence:
        docs[-1].append(sentence)
    return [d for d in docs if d]


def conll_entities(path: Path) -> set:
    """(text, label) of every entity of an IOB1 file (a type change or a B-
    tag starts a new one)."""
    found, words, label = set(), [], None
    for line in path.read_text(encoding="utf8").splitlines() + [""]:
        parts = line.split()
        tag = parts[-1] if parts and parts[0] != "-DOCSTART-" else "O"
        prefix, _, kind = tag.partition("-")
        if words and (tag == "O" or prefix == "B" or kind != label):
            found.add((" ".join(words), label))
            words, label = [], None
        if tag != "O":
            words.append(parts[0])
            label = kind
    return found


def build_full_pipeline(ner_dir: Path, tagger_dir: Path, train_iob: Path, out: Path) -> Path:
    """crf_tagger + crf_ner + entity_normalizer, the KB made of the training
    set's entity names (one ID per distinct name and type)."""
    import spacy

    from spacy_crf_ner.kb.knowledge_base import KnowledgeBase

    if (out / "config.cfg").exists():
        return out
    nlp = spacy.load(ner_dir)
    tagger_nlp = spacy.load(tagger_dir)
    nlp.add_pipe("crf_tagger", source=tagger_nlp, before="crf_ner")
    normalizer = nlp.add_pipe("entity_normalizer")
    kb = KnowledgeBase()
    for i, (name, label) in enumerate(sorted(conll_entities(train_iob))):
        kb.add_entity(f"E{i}", name, types=[label])
    normalizer.set_kb(kb)
    nlp.to_disk(out)
    return out


def environment(python: str) -> str:
    """Which transformer packages the interpreter's environment has: spaCy
    imports every installed factory, so they weigh on every load."""
    code = "import importlib.util as u; print(','.join(n for n in ('spacy_transformers', 'spacy_curated_transformers') if u.find_spec(n)))"
    found = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    return f"with {found.replace(',', ', ')}" if found else "CNN-only install"


def throughput(model: Path, texts: Path, order: str, cache: bool, batch_size: int) -> Dict[int, Dict[str, float]]:
    """Per number of processes: docs/s, and CPU ms per doc in the parent
    process and in the worker processes."""
    env = {**os.environ, "SPACY_CRF_NER_MSGPACK_CACHE": "1" if cache else "0"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(model), str(texts), order, str(batch_size)],
        capture_output=True, text=True, env=env, check=True,
    )
    return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def cold_start(python: str, model: Path, cache_dir: str) -> Dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([python, "-c", COLD, str(model)], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work-dir", type=Path, default=REPO / "benchmarks" / "runs" / "multiprocess")
    parser.add_argument("--steps", type=int, default=600, help="training steps of each pipeline")
    parser.add_argument("--eval-frequency", type=int, default=300)
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=64, help="nlp.pipe batch size for sentences")
    parser.add_argument("--batch-size-articles", type=int, default=8, help="nlp.pipe batch size for articles")
    parser.add_argument("--article-repeats", type=int, default=4, help="times the dev articles are repeated")
    parser.add_argument("--cold-rounds", type=int, default=2)
    parser.add_argument(
        "--cold-python", nargs="*", default=[],
        help="more interpreters whose environments the cold start is measured in, besides this one's "
        "(e.g. one with only the CNN install)",
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    work = args.work_dir
    _, common = conll_training(args, work / "corpus")
    configs = {
        "crf_ner": REPO / "configs" / "crf_ner_cnn.cfg",
        "crf_tagger": REPO / "configs" / "crf_tagger_cnn.cfg",
        "ner": REPO / "benchmarks" / "configs" / "spacy_ner_cnn.cfg",
    }
    best = dict(zip(configs, train_all([(cfg, work / name, dict(common)) for name, cfg in configs.items()], True)))
    train_iob = args.data_dir / "conll2003" / "train.iob"
    models = {
        "crf_ner": best["crf_ner"],
        "crf_tagger + crf_ner + entity_normalizer": build_full_pipeline(
            best["crf_ner"], best["crf_tagger"], train_iob, work / "full"
        ),
        "spaCy ner": best["ner"],
    }
    sentences = [" ".join(s) for d in read_conll(train_iob) for s in d][: args.sentences]
    articles = [" ".join(" ".join(s) for s in d) for d in read_conll(args.data_dir / "conll2003" / "dev.iob")]
    articles *= args.article_repeats
    sets = {}
    for name, texts in {"sentences": sentences, "articles": articles}.items():
        path = work / f"{name}.json"
        path.write_text(json.dumps(texts))
        sets[name] = (path, len(texts), sum(len(t.split()) for t in texts) / len(texts))

    results: Dict = {"machine": machine(), "steps": args.steps, "rounds": args.rounds, "throughput": {}, "cold_start": {}}
    runs = [(s, m, True) for s in sets for m in models] + [("sentences", m, False) for m in models]
    raw: Dict = {f"{s} | {m} | cache {'on' if c else 'off'}": [] for s, m, c in runs}
    for r in range(args.rounds):
        order = "1,2" if r % 2 == 0 else "2,1"
        for s, m, c in runs:
            start = time.perf_counter()
            batch_size = args.batch_size if s == "sentences" else args.batch_size_articles
            rates = throughput(models[m], sets[s][0], order, c, batch_size)
            raw[f"{s} | {m} | cache {'on' if c else 'off'}"].append(rates)
            one, two = rates[1]["docs_per_s"], rates[2]["docs_per_s"]
            print(f"round {r + 1} {s:9} {m:42} cache {'on ' if c else 'off'} 1: {one:7.0f} "
                  f"2: {two:7.0f} docs/s ratio {two / one:.2f} ({time.perf_counter() - start:.0f}s)",
                  file=sys.stderr, flush=True)
    for key, rounds in raw.items():
        ratios = [x[2]["docs_per_s"] / x[1]["docs_per_s"] for x in rounds]
        results["throughput"][key] = {
            "docs_per_s_1": statistics.median(x[1]["docs_per_s"] for x in rounds),
            "docs_per_s_2": statistics.median(x[2]["docs_per_s"] for x in rounds),
            "ratio_median": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)],
            # Where the CPU time goes (median ms per doc): one process; with
            # n_process=2, the workers (annotation + Doc.to_bytes) and the parent
            # (sending texts, Doc.from_bytes).
            "cpu_ms_per_doc": {
                "1 process": statistics.median(x[1]["parent_cpu_ms"] for x in rounds),
                "n_process=2 workers": statistics.median(x[2]["worker_cpu_ms"] for x in rounds),
                "n_process=2 parent": statistics.median(x[2]["parent_cpu_ms"] for x in rounds),
            },
        }
    for python in [sys.executable, *args.cold_python]:
        for m in models:
            runs_cold = []
            for _ in range(args.cold_rounds):
                with tempfile.TemporaryDirectory() as cache_dir:
                    uncached = cold_start(python, models[m], cache_dir)
                    runs_cold.append({"uncached": uncached, "cached": cold_start(python, models[m], cache_dir)})
            results["cold_start"][f"{m} | {environment(python)}"] = {
                kind: {phase: statistics.median(r[kind][phase] for r in runs_cold) for phase in runs_cold[0][kind]}
                for kind in ("uncached", "cached")
            }
    results["sets"] = {name: {"docs": n, "words_per_doc": round(w, 1)} for name, (_, n, w) in sets.items()}

    print(f"# nlp.pipe: one process vs n_process=2 — {machine()}\n")
    print("| texts | pipeline | msgpack cache | 1 process docs/s | n_process=2 docs/s | ratio (median, range) "
          "| CPU ms/doc: 1 process | n_process=2 workers | parent |")
    print("|---|---|---|---:|---:|---|---:|---:|---:|")
    for key, r in results["throughput"].items():
        s, m, c = key.split(" | ")
        cpu = r["cpu_ms_per_doc"]
        print(f"| {s} | {m} | {c.split()[-1]} | {r['docs_per_s_1']:,.0f} | {r['docs_per_s_2']:,.0f} | "
              f"{r['ratio_median']:.2f} ({r['ratio_range'][0]:.2f}–{r['ratio_range'][1]:.2f}) | "
              f"{cpu['1 process']:.3f} | {cpu['n_process=2 workers']:.3f} | {cpu['n_process=2 parent']:.3f} |")
    print("\n| pipeline | environment | numba cache | import spaCy s | load s | first doc s | total s |")
    print("|---|---|---|---:|---:|---:|---:|")
    for key, kinds in results["cold_start"].items():
        m, env = key.split(" | ")
        for kind, t in kinds.items():
            print(f"| {m} | {env} | {kind} | {t['import']:.2f} | {t['load']:.2f} | {t['first_doc']:.2f} | "
                  f"{t['total']:.2f} |")
    write_json(results, args.output)


if __name__ == "__main__":
    main()
