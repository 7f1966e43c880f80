"""Shared helpers for the benchmark scripts: corpus conversion, training
through spaCy's CLI in a subprocess, timing, and the machine line."""
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import spacy
from spacy.tokens import Doc, DocBin

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, spaCy {spacy.__version__}, {date.today()}"


def write_json(result: Dict, output: Optional[Path]) -> None:
    """Print a benchmark's result as JSON, and write it to ``output`` if given."""
    text = json.dumps(result, indent=2)
    print(text)
    if output:
        output.write_text(text + "\n")


def convert_conll(src: Path, out_dir: Path, n_sents: int = 10) -> Path:
    """CoNLL-2003 (IOB1) to .spacy with spaCy's own converter (cached)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{src.stem}.spacy"
    if not out.exists():
        subprocess.run(
            [sys.executable, "-m", "spacy", "convert", str(src), str(out_dir), "-c", "ner", "-n", str(n_sents)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out


def conll_training(args, corpus: Path) -> Tuple[Path, Dict[str, str]]:
    """Convert CoNLL-2003 train/dev from args.data_dir into `corpus` and
    return the dev path and the `spacy train` overrides every system shares:
    the data, the step budget, the evaluation frequency, no early stopping."""
    train_path = convert_conll(args.data_dir / "conll2003" / "train.iob", corpus)
    dev_path = convert_conll(args.data_dir / "conll2003" / "dev.iob", corpus)
    return dev_path, {
        "paths.train": str(train_path),
        "paths.dev": str(dev_path),
        "training.max_steps": str(args.steps),
        "training.eval_frequency": str(args.eval_frequency),
        "training.patience": "0",
        "gpu-id": str(args.gpu_id),
    }


def train_all(jobs: List[Tuple[Path, Path, Dict[str, str]]], parallel: bool) -> List[Path]:
    """Run `spacy train` for each (config, output dir, overrides), all at
    once when `parallel`, and return each best model's directory. Runs whose
    model-last already exists (finished) are skipped. Logs go to OUTPUT/train.log."""
    procs = []
    for config, output, overrides in jobs:
        if (output / "model-last").exists():  # written when a run has finished
            continue
        cmd = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output)]
        for key, value in overrides.items():
            cmd += [f"--{key}", str(value)]
        output.mkdir(parents=True, exist_ok=True)
        log = (output / "train.log").open("w")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        procs.append((proc, output))
        if not parallel:
            proc.wait()
    for proc, output in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"Training failed: see {output / 'train.log'}")
    return [output / "model-best" for _, output, _ in jobs]


def load_docs(path: Path, vocab) -> List[Doc]:
    return list(DocBin().from_disk(path).get_docs(vocab))


def gold_tokenized(vocab, doc: Doc) -> Doc:
    """A fresh doc with the gold tokens: spaCy's Corpus does the same for
    corpora without whitespace information (CoNLL), so scores match
    `spacy evaluate` and the training log."""
    return Doc(vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])


def words_per_second(nlp, docs: List[Doc], repeats: int = 2, batch_size: Optional[int] = None) -> float:
    """Inference speed on fresh copies of `docs` (tokenization excluded)."""
    n_words = sum(len(d) for d in docs)
    best = float("inf")
    for _ in range(repeats):
        fresh = [gold_tokenized(nlp.vocab, d) for d in docs]
        start = time.perf_counter()
        for _ in nlp.pipe(fresh, batch_size=batch_size or nlp.batch_size):
            pass
        best = min(best, time.perf_counter() - start)
    return n_words / best
