"""Benchmark: the trainable entity_normalizer on NCBI Disease dev, gold mentions.

KB: MeSH disease descriptors (trees C and F) plus the train split's mentions
as aliases of their gold IDs (harvested at initialize), as in
bench_normalizer_ncbi.py. In the same run, on the same KB and scoring
(``evaluate-linking --gold-mentions``, i.e. the component's scorer):

* string: the string-only normalizer (model = null), default settings;
* trained: configs/normalizer_cnn.cfg trained by ``spacy train`` with each
  seed (mean ± sd over seeds), scored with its model-best (selected on dev,
  the only split used here); and its CPU throughput in mentions/s on the dev
  docs with gold mentions (one process, best of 2): of the pipeline (tok2vec
  over every token + normalizer) and of the normalizer alone.

``--preset biomedical`` runs both with the biomedical rules preset (data a
user can choose), else no domain rules.

Usage: python benchmarks/bench_normalizer_trained.py [DATA_DIR] [--seeds 0 1 2]
    [--max-steps 2000] [--preset biomedical] [--output JSON]
(DATA_DIR defaults to ../shared/data relative to the repository root.)
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import spacy
from spacy.tokens import DocBin
from spacy.training import Example

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, gold_tokenized, load_docs, machine, train_all, write_json  # noqa: E402

from spacy_crf_ner.corpora import read_pubtator_docs  # noqa: E402
from spacy_crf_ner.evaluate_linking import evaluate_linking  # noqa: E402
from spacy_crf_ner.kb import KnowledgeBase  # noqa: E402
from spacy_crf_ner.linking.gold_mentions import with_gold_mentions  # noqa: E402


def prepare(data_dir: Path, work: Path) -> Dict[str, Path]:
    """train/dev .spacy and the MeSH KB directory under `work` (cached)."""
    work.mkdir(parents=True, exist_ok=True)
    paths = {"train": work / "train.spacy", "dev": work / "dev.spacy", "kb": work / "kb"}
    nlp = spacy.blank("en")
    for split in ("train", "dev"):
        if not paths[split].exists():
            docs = read_pubtator_docs(data_dir / "ncbi_disease" / f"{split}.pubtator", nlp, label="Disease")
            DocBin(docs=list(docs), store_user_data=True).to_disk(paths[split])
    if not paths["kb"].exists():
        KnowledgeBase.from_file(
            data_dir / "mesh" / "mesh_descriptors_c_f_tree.tsv",
            format="tsv",
            columns={"id": "MESH_ID", "name": "MESH_NAME"},
        ).to_disk(paths["kb"])
    return paths


def dev_examples(nlp, path: Path) -> List[Example]:
    return [Example(gold_tokenized(nlp.vocab, d), d) for d in load_docs(path, nlp.vocab)]


def string_only(paths: Dict[str, Path], preset: Optional[str], k: int) -> Dict:
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_normalizer", config={"rules": {"preset": preset}})
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(paths["kb"])}
    }
    train = [Example(d.copy(), d) for d in load_docs(paths["train"], nlp.vocab)]
    nlp.initialize(lambda: train)
    return evaluate_linking(nlp, dev_examples(nlp, paths["dev"]), gold_mentions=True, k=k)


def mentions_per_second(nlp, path: Path, repeats: int = 2) -> Dict[str, float]:
    """Linking speed on the dev docs with gold mentions: of the whole
    pipeline (the tok2vec over every token included) and of the
    entity_normalizer alone (what it adds to a pipeline whose tok2vec an
    entity recognizer already runs)."""
    refs = load_docs(path, nlp.vocab)
    n = sum(len(d.ents) for d in refs)
    best = {"pipeline": float("inf"), "normalizer": float("inf")}
    linker = nlp.get_pipe("entity_normalizer")
    for _ in range(repeats):
        docs = [with_gold_mentions(Example(d, d)).predicted for d in refs]
        start = time.perf_counter()
        with nlp.select_pipes(disable=["entity_normalizer"]):
            docs = list(nlp.pipe(docs, batch_size=64))
        middle = time.perf_counter()
        for _ in linker.pipe(docs, batch_size=64):
            pass
        end = time.perf_counter()
        best = {"pipeline": min(best["pipeline"], end - start), "normalizer": min(best["normalizer"], end - middle)}
    return {key: n / seconds for key, seconds in best.items()}


def summary(values: List[float]) -> Dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "runs": values,
    }


def main(args: argparse.Namespace) -> Dict:
    paths = prepare(args.data_dir, args.work_dir / "corpus")
    k = args.k
    result: Dict = {
        "benchmark": "trainable entity_normalizer, NCBI Disease dev, gold mentions",
        "command": "python benchmarks/bench_normalizer_trained.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "config": str(args.config.relative_to(REPO)) if args.config.is_relative_to(REPO) else str(args.config),
        "max_steps": args.max_steps,
        "preset": args.preset,
        "seeds": args.seeds,
    }
    base = string_only(paths, args.preset, k)
    result["string"] = {"acc@1": base["acc@1"], f"recall@{k}": base[f"recall@{k}"]}
    jobs = []
    for seed in args.seeds:
        overrides = {
            "paths.train": str(paths["train"]),
            "paths.dev": str(paths["dev"]),
            "paths.kb": str(paths["kb"]),
            "system.seed": str(seed),
            "training.max_steps": str(args.max_steps),
            "training.eval_frequency": str(args.eval_frequency),
            "training.patience": "0",
            "components.entity_normalizer.rules.preset": args.preset or "null",
        }
        jobs.append((args.config, args.work_dir / f"{args.preset or 'no_rules'}_seed{seed}", overrides))
    runs = []
    for model_dir in train_all(jobs, parallel=False):
        nlp = spacy.load(model_dir)
        scores = evaluate_linking(nlp, dev_examples(nlp, paths["dev"]), gold_mentions=True, k=k)
        speed = mentions_per_second(nlp, paths["dev"])
        runs.append(
            {
                "acc@1": scores["acc@1"],
                f"recall@{k}": scores[f"recall@{k}"],
                "mentions/s (pipeline)": speed["pipeline"],
                "mentions/s (normalizer)": speed["normalizer"],
            }
        )
    result["trained"] = {key: summary([r[key] for r in runs]) for key in runs[0]}
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, nargs="?", default=REPO.parent / "shared" / "data")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "normalizer_cnn.cfg")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--eval-frequency", type=int, default=200)
    parser.add_argument("--preset", default=None, help="rules preset of both systems, e.g. biomedical")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--work-dir", type=Path, default=REPO / "benchmarks" / "runs" / "normalizer_trained")
    parser.add_argument("--output", type=Path, default=None)
    write_json(main(parser.parse_args()), parser.parse_args().output)
