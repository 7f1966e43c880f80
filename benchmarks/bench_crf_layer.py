"""CRF layer speed against pytorch-crf, same shapes, one thread, one run.

    python benchmarks/bench_crf_layer.py [--repeats 20] [--output FILE.json]

Reports microseconds per sequence for negative log-likelihood + gradient
(emissions and transitions) and for Viterbi decoding, and the speed ratio.
Both sides use full gold paths and full-length masks, K=17 (CoNLL BIO tags).
"""
import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy  # noqa: E402
import torch  # noqa: E402
from torchcrf import CRF  # noqa: E402

from spacy_crf_ner.layers.crf import build_crf, crf_decode, crf_loss, set_crf_tags  # noqa: E402
from spacy_crf_ner.schemes import tag_names  # noqa: E402

SHAPES = [(64, 40, 17), (8, 512, 17)]


def timeit(fn, repeats):
    fn()  # warm-up (and numba compilation / cache load)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--output", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    labels = ["PER", "LOC", "ORG", "MISC", "A", "B", "C", "D"]
    tags = tag_names("BIO", labels)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 thread, {date.today()}"
    results = []
    print(f"# CRF layer vs pytorch-crf — {machine}")
    print("| B, T, K | task | pytorch-crf µs/seq | spacy-crf-ner µs/seq | speed-up |")
    print("|---|---|---|---|---|")
    for B, T, K in SHAPES:
        assert K == len(tags)
        rng = numpy.random.default_rng(0)
        em = rng.normal(size=(B, T, K)).astype("float32")
        # Torch side: constraints are not part of pytorch-crf.
        tcrf = CRF(K, batch_first=True)
        t_em = torch.tensor(em, requires_grad=True)
        t_mask = torch.ones(B, T, dtype=torch.bool)
        # Our side: BIO constraints on; gold paths are valid under them.
        model = build_crf("BIO")
        set_crf_tags(model, tags, "BIO")
        model.initialize()
        xs = list(em)
        gold = crf_decode(model, xs)
        t_tags = torch.tensor(numpy.stack(gold))

        def torch_nll():
            t_em.grad = None
            tcrf.zero_grad()
            (-tcrf(t_em, t_tags, mask=t_mask)).backward()

        def torch_decode():
            with torch.no_grad():
                tcrf.decode(t_em, mask=t_mask)

        def ours_nll():
            crf_loss(model, xs, gold)

        def ours_decode():
            crf_decode(model, xs)

        for task, theirs, ours in (("NLL + gradient", torch_nll, ours_nll),
                                   ("Viterbi decode", torch_decode, ours_decode)):
            t_theirs = timeit(theirs, args.repeats) / B * 1e6
            t_ours = timeit(ours, args.repeats) / B * 1e6
            print(f"| {B}, {T}, {K} | {task} | {t_theirs:.1f} | {t_ours:.1f} | "
                  f"{t_theirs / t_ours:.1f}× |")
            results.append({"shape": [B, T, K], "task": task, "pytorch_crf_us_per_seq": t_theirs,
                            "spacy_crf_ner_us_per_seq": t_ours, "speed_up": t_theirs / t_ours})
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        summary = {"machine": machine, "repeats": args.repeats, "results": results}
        args.output.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
