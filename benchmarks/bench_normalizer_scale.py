"""Benchmark 3: the entity normalizer on a generated KB of 1,000,000 aliases
(300,000 IDs).

Phase "build" writes the KB as JSONL, reads it, builds the candidate index
inside an ``entity_normalizer`` pipeline and saves the pipeline; phase "link"
(a fresh process, so its peak RSS is that of a loaded pipeline) loads it and
links generated mentions: exact aliases in other casing, aliases with typos,
and unknown strings (accuracy is also measured on aliases with two typos,
which the typo index cannot find and the posting budget decides). Run on
one core (numba and BLAS threads set to 1).

Usage: python benchmarks/bench_normalizer_scale.py [--work-dir DIR] [--n-ids 300000] [--n-aliases 1000000] [--rounds 3]

Each throughput is the best of --rounds timed rounds (all are in the JSON):
the machine is shared, and interference only ever slows a round down.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from _common import write_json  # noqa: E402  (after the thread settings: it imports numpy)

SUFFIXES = ["Inc.", "Corp.", "Ltd", "disease", "syndrome", "deficiency", "type 2", "protein"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def make_words(rng: random.Random, n: int) -> List[str]:
    onsets = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
              "br", "ch", "cl", "dr", "gr", "ph", "pl", "st", "th", "tr"]
    vowels = ["a", "e", "i", "o", "u", "y", "ae", "ia", "io", "ou"]
    codas = ["", "", "n", "s", "r", "l", "x", "m", "t"]
    words = set()
    while len(words) < n:
        k = rng.choice((2, 2, 3, 3, 4))
        words.add("".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(k)))
    return sorted(words)


def typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text))
    op = rng.randrange(3)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if op == 0:
        return text[:i] + text[i + 1 :]
    if op == 1:
        return text[:i] + letter + text[i + 1 :]
    return text[:i] + letter + text[i:]


def generate_kb(path: Path, n_ids: int, n_aliases: int, seed: int = 0) -> List[Tuple[str, str]]:
    """Write a JSONL KB; return (alias, id) pairs for sampling mentions."""
    rng = random.Random(seed)
    words = make_words(rng, 60_000)
    # Zipf-like word frequencies: low ranks are common.
    cum: List[float] = []
    acc = 0.0
    for r in range(len(words)):
        acc += 1.0 / (r + 10)
        cum.append(acc)
    entities: List[Dict] = []
    pairs: List[Tuple[str, str]] = []
    total = 0
    for i in range(n_ids):
        name_words = rng.choices(words, cum_weights=cum, k=rng.choice((1, 2, 2, 3, 3, 4)))
        name = " ".join(w.capitalize() for w in name_words)
        entities.append({"id": f"E{i:07d}", "name": name, "aliases": [], "types": [rng.choice(["ORG", "PER", "LOC", "DIS"])]})
        total += 1
    while total < n_aliases:
        ent = entities[rng.randrange(n_ids)]
        base = ent["name"]
        parts = base.split()
        kind = rng.randrange(5)
        if kind == 0 and len(parts) > 1:
            alias = f"{parts[-1]}, {' '.join(parts[:-1])}"
        elif kind == 1 and len(parts) > 1:
            alias = "".join(p[0] for p in parts).upper() + rng.choice("0123456789")
        elif kind == 2:
            alias = f"{base} {rng.choice(SUFFIXES)}"
        elif kind == 3:
            alias = " ".join(rng.choices(words, cum_weights=cum, k=rng.choice((2, 3))))
        else:
            alias = f"{base} {rng.choice(words)}"
        ent["aliases"].append(alias)
        total += 1
    with path.open("w", encoding="utf8") as f:
        for ent in entities:
            f.write(json.dumps(ent) + "\n")
            pairs.append((ent["name"], ent["id"]))
            pairs.extend((a, ent["id"]) for a in ent["aliases"])
    return pairs


def make_mentions(pairs: List[Tuple[str, str]], n: int, seed: int = 1) -> List[Tuple[str, str, str]]:
    """(text, gold id or '', kind): 50% exact (re-cased), 30% one typo, 20% unknown."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        r = rng.random()
        alias, entity_id = pairs[rng.randrange(len(pairs))]
        if r < 0.5:
            out.append((alias.upper() if rng.random() < 0.3 else alias, entity_id, "exact"))
        elif r < 0.8:
            out.append((typo(rng, alias) if len(alias) > 4 else alias, entity_id, "typo"))
        else:
            other = pairs[rng.randrange(len(pairs))][0]
            out.append((typo(rng, typo(rng, other[::-1])) if len(other) > 4 else "zzqx", "", "unknown"))
    return out


def phase_build(work: Path, n_ids: int, n_aliases: int) -> Dict:
    import spacy

    kb_path = work / "kb.jsonl"
    t0 = time.perf_counter()
    pairs = generate_kb(kb_path, n_ids, n_aliases)
    gen_s = time.perf_counter() - t0
    mentions = make_mentions(pairs, 100_000)
    (work / "mentions.json").write_text(json.dumps(mentions))
    del pairs
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_normalizer")
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(kb_path)}
    }
    t0 = time.perf_counter()
    from spacy_crf_ner.kb import KnowledgeBase

    kb = KnowledgeBase.from_file(kb_path)
    read_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    norm = nlp.get_pipe("entity_normalizer")
    norm.set_kb(kb)
    index_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    nlp.to_disk(work / "pipeline")
    save_s = time.perf_counter() - t2
    return {
        "n_ids": len(kb),
        "n_aliases": kb.n_aliases,
        "normalized_keys": len(norm.index.keys),
        "ngrams": len(norm.index.tfidf.vocab),
        "generate_s": round(gen_s, 1),
        "read_kb_s": round(read_s, 1),
        "build_index_s": round(index_s, 1),
        "build_total_s": round(read_s + index_s, 1),
        "save_s": round(save_s, 1),
        "disk_mb": round(dir_size_mb(work / "pipeline"), 1),
        "kb_jsonl_mb": round(kb_path.stat().st_size / 2**20, 1),
        "build_peak_rss_mb": round(peak_rss_mb(), 0),
    }


def make_docs(vocab, texts: List[str], n_doc: int = 20) -> List:
    """Docs of n_doc mentions each ("mention ; mention ; ..."), entities set by hand."""
    from spacy.tokens import Doc, Span

    docs = []
    for i in range(0, len(texts), n_doc):
        words, spaces, ents, pos = [], [], [], 0
        for t in texts[i : i + n_doc]:
            toks = t.split() or ["x"]
            ents.append((pos, pos + len(toks)))
            words.extend(toks + [";"])
            spaces.extend([True] * (len(toks) + 1))
            pos += len(toks) + 1
        doc = Doc(vocab, words=words, spaces=spaces)
        doc.ents = [Span(doc, s, e, label="ENT") for s, e in ents]
        docs.append(doc)
    return docs


def phase_link(
    work: Path, fuzzy_when_exact: bool, typo_index: bool = True, rounds: int = 3, posting_budget: int = 0
) -> Dict:
    import gc
    from dataclasses import replace

    import spacy

    t0 = time.perf_counter()
    nlp = spacy.load(work / "pipeline")
    load_s = time.perf_counter() - t0
    rss_loaded = peak_rss_mb()
    norm = nlp.get_pipe("entity_normalizer")
    index = norm.index
    default_config = replace(
        index.config,
        fuzzy_when_exact=fuzzy_when_exact,
        typo_index=typo_index,
        posting_budget=posting_budget or index.config.posting_budget,
    )
    # No result cache for the distinct streams: every mention is searched.
    uncached = replace(default_config, cache_size=0)
    mentions = [tuple(m) for m in json.loads((work / "mentions.json").read_text())]
    texts = [m[0] for m in mentions]
    index.config = uncached
    index.search(texts[:200], 5)  # compile
    out: Dict = {
        "load_s": round(load_s, 1),
        "rss_after_load_mb": round(rss_loaded, 0),
        "rounds": rounds,
        "posting_budget": default_config.posting_budget,
    }

    def rate(name: str, run, n: int, config) -> None:
        """Mentions per CPU second of this process (the machine is shared, so
        wall time overstates the cost), best of the rounds; each round starts
        with empty normalizer and result caches."""
        rates = []
        for _ in range(rounds):
            index.config = config  # assigning empties the result cache
            index.normalizer.clear_cache()
            c0 = time.process_time()
            run()
            rates.append(round(n / (time.process_time() - c0)))
        out[name] = max(rates)
        out[name + "_rounds"] = rates

    # Raw candidate generation, in batches of 1,000 mentions.
    def raw(selection: List[str]):
        return lambda: [index.search(selection[i : i + 1000], 5).to_lists() for i in range(0, len(selection), 1000)]

    rate("raw_mentions_per_cpu_s", raw(texts), len(texts), uncached)
    results = [c for batch in raw(texts)() for c in batch]
    for kind in ("exact", "typo", "unknown"):
        sel = [i for i, m in enumerate(mentions) if m[2] == kind]
        rate(f"raw_mentions_per_cpu_s_{kind}", raw([texts[j] for j in sel]), len(sel), uncached)
        if kind != "unknown":
            hits = sum(bool(results[j]) and results[j][0].id == mentions[j][1] for j in sel)
            out[f"acc@1_{kind}"] = round(hits / len(sel), 4)
            found = sum(any(c.id == mentions[j][1] for c in results[j]) for j in sel)
            out[f"recall@5_{kind}"] = round(found / len(sel), 4)
    # Accuracy only: the typo mentions with a second edit, which the typo
    # index cannot find; what the n-gram search (and its budget) recovers.
    rng = random.Random(3)
    typo2 = [(typo(rng, m[0]) if len(m[0]) > 5 else m[0], m[1]) for m in mentions if m[2] == "typo"][:10_000]
    index.config = uncached
    results2 = [
        c for i in range(0, len(typo2), 1000) for c in index.search([t for t, _ in typo2[i : i + 1000]], 5).to_lists()
    ]
    out["acc@1_two_typos"] = round(sum(bool(r) and r[0].id == g for r, (_, g) in zip(results2, typo2)) / len(typo2), 4)
    out["recall@5_two_typos"] = round(sum(any(c.id == g for c in r) for r, (_, g) in zip(results2, typo2)) / len(typo2), 4)
    # Through the component: docs of 20 mentions each, entities set by hand.
    docs = make_docs(nlp.vocab, texts)
    n_linked = sum(len(doc.ents) for doc in docs)
    linked = lambda ds: lambda: sum(1 for _ in norm.pipe(ds, batch_size=50))  # noqa: E731
    rate("component_mentions_per_cpu_s", linked(docs), n_linked, uncached)
    # A stream where mentions repeat as in real text (Zipf over the mention
    # list), with the default result cache.
    rng = random.Random(2)
    cum, acc = [], 0.0
    for r in range(len(texts)):
        acc += 1.0 / (r + 1)
        cum.append(acc)
    stream = rng.choices(range(len(texts)), cum_weights=cum, k=len(texts))
    out["zipf_unique_fraction"] = round(len(set(stream)) / len(stream), 3)
    zipf_docs = make_docs(nlp.vocab, [texts[j] for j in stream])
    n_zipf = sum(len(doc.ents) for doc in zipf_docs)
    rate("component_zipf_cached_mentions_per_cpu_s", linked(zipf_docs), n_zipf, default_config)
    # Deployment tip measured: gc.freeze() after loading keeps Python's cycle
    # collector from rescanning the loaded KB and libraries.
    gc.freeze()
    rate("component_mentions_per_cpu_s_gc_frozen", linked(docs), n_linked, uncached)
    rate("component_zipf_cached_mentions_per_cpu_s_gc_frozen", linked(zipf_docs), n_zipf, default_config)
    out["link_peak_rss_mb"] = round(peak_rss_mb(), 0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--n-ids", type=int, default=300_000)
    parser.add_argument("--n-aliases", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=["all", "build", "link"], default="all")
    parser.add_argument("--no-fuzzy-when-exact", action="store_true")
    parser.add_argument("--no-typo-index", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per measurement (best is reported)")
    parser.add_argument("--posting-budget", type=int, default=0, help="link phase: override the index's posting_budget")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="normalizer-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.phase == "build":
        print(json.dumps(phase_build(work, args.n_ids, args.n_aliases)))
        return
    if args.phase == "link":
        print(
            json.dumps(
                phase_link(work, not args.no_fuzzy_when_exact, not args.no_typo_index, args.rounds, args.posting_budget)
            )
        )
        return
    results: Dict = {}
    cmd = [sys.executable, __file__, "--work-dir", str(work), "--n-ids", str(args.n_ids), "--n-aliases", str(args.n_aliases)]
    build = subprocess.run(cmd + ["--phase", "build"], check=True, capture_output=True, text=True)
    results["build"] = json.loads(build.stdout.strip().splitlines()[-1])
    # The default settings; the exact-hit shortcut; the shortcut without the
    # typo index (the n-gram search alone); the shortcut with half the posting
    # budget (faster, fewer two-typo mentions found), each in a fresh process.
    runs = {
        "link_fuzzy_when_exact": [],
        "link_exact_shortcut": ["--no-fuzzy-when-exact"],
        "link_exact_shortcut_no_typo_index": ["--no-fuzzy-when-exact", "--no-typo-index"],
        "link_exact_shortcut_budget_5000": ["--no-fuzzy-when-exact", "--posting-budget", "5000"],
    }
    for name, extra in runs.items():
        link = subprocess.run(
            cmd + ["--phase", "link", "--rounds", str(args.rounds), *extra], check=True, capture_output=True, text=True
        )
        results[name] = json.loads(link.stdout.strip().splitlines()[-1])
    write_json(results, args.output)


if __name__ == "__main__":
    main()
