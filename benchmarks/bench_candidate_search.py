"""Which search for the fuzzy TF-IDF step: measured on the pipeline written by
``bench_normalizer_scale.py`` (1M aliases) with its typo mentions.

* scipy: sparse matrix product ``Q @ M.T`` (queries x aliases) then top-k per
  row, the exhaustive sparse-product route;
* numba-exhaustive: the inverted-index kernel with no posting budget (same
  exact result as the product);
* numba-budget: the kernel with the default posting budget (approximate).

Reports CPU microseconds per query and how often the best cosine found equals
the exhaustive best.

Usage: python benchmarks/bench_candidate_search.py WORK_DIR [--n 2000]
"""
import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy
import spacy


def main(work: Path, n: int) -> dict:
    import scipy.sparse

    nlp = spacy.load(work / "pipeline")
    index = nlp.get_pipe("entity_normalizer").index
    mentions = json.loads((work / "mentions.json").read_text())
    texts = [m[0] for m in mentions if m[2] == "typo"][:n]
    keys = [index.normalizer(t) for t in texts]
    k = 8
    out = {"n_queries": len(keys), "n_keys": len(index.keys)}
    # scipy sparse product
    matrix = scipy.sparse.csr_matrix(
        (index.row_vals, index.row_cols, index.row_ptr), shape=(len(index.keys), len(index.vocab))
    )
    matrix_t = matrix.T.tocsr()
    q_ptr, q_cols, q_vals = index.vectorize(keys)
    queries = scipy.sparse.csr_matrix((q_vals, q_cols, q_ptr), shape=(len(keys), len(index.vocab)))
    c0 = time.process_time()
    top_scipy = []
    for i in range(0, len(keys), 100):
        prod = (queries[i : i + 100] @ matrix_t).tocsr()
        for r in range(prod.shape[0]):
            row = prod.getrow(r)
            top_scipy.append(float(row.data.max()) if row.nnz else 0.0)
    out["scipy_us_per_query"] = round(1e6 * (time.process_time() - c0) / len(keys), 1)
    for name, budget in (("numba_exhaustive", 2**62), ("numba_budget", index.config.posting_budget)):
        index.config = replace(index.config, posting_budget=budget)
        index.search_keys(keys[:10], k)
        c0 = time.process_time()
        _, scores = index.search_keys(keys, k)
        out[f"{name}_us_per_query"] = round(1e6 * (time.process_time() - c0) / len(keys), 1)
        # Ties are common, so compare the best score, not the key.
        out[f"{name}_finds_best_score"] = round(
            float(numpy.mean([abs(a - b) < 1e-5 for a, b in zip(scores[:, 0].tolist(), top_scipy)])), 4
        )
        out[f"{name}_posting_budget"] = budget
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(main(args.work_dir, args.n), indent=2))
