"""Benchmark 2: NER + normalization end to end on NCBI Disease dev.

Trains an NER component (``crf_ner`` by default) on the train split with one
label, "Disease", then adds an ``entity_normalizer`` whose KB is MeSH (trees C
and F) plus the train mentions as aliases, and scores the dev split:

* entity P/R/F (spaCy's ``ents_*``: exact span and label);
* (span, ID) P/R/F: a predicted entity counts when its offsets equal a gold
  entity's and its ID matches (:func:`spacy_crf_ner.kb.scoring.span_id_prf`);
* ``nel_micro_*``, accuracy@1 and recall@5 on the gold spans that NER found.

Usage:
  python benchmarks/bench_ncbi_end_to_end.py [DATA_DIR] [--config configs/crf_ner_cnn.cfg | none]
      [--ner-factory crf_ner] [--max-steps 0] [--work-dir DIR]

The PubTator files are converted to DocBins (label "Disease") and passed as
``paths.train`` / ``paths.dev``, so ``--config`` can be any config that reads
``spacy.Corpus.v1`` from them (e.g. configs/crf_ner_cnn.cfg); without it, a
minimal config with ``--ner-factory`` and its default model is used. DATA_DIR defaults to ../shared/data relative to the
repository root.
"""
import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Dict, Optional

import spacy
from spacy.training import Example

from spacy_crf_ner.corpora import convert_pubtator, read_pubtator_docs
from spacy_crf_ner.kb.scoring import score_normalization, span_id_prf
from spacy_crf_ner.kb.loader import create_kb_loader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_json  # noqa: E402
from bench_normalizer_ncbi import DEFAULT_SETTINGS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
logger = logging.getLogger("spacy_crf_ner")

MINIMAL_CONFIG = """
[paths]
train = null
dev = null

[system]
seed = 0

[nlp]
lang = "en"
pipeline = ["ner"]
batch_size = 64

[components]

[components.ner]
factory = "{factory}"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}

[training]
max_steps = 4000
eval_frequency = 500
patience = 2000
"""


def train_ner(
    data_dir: Path, work: Path, config: Optional[Path], factory: str, max_steps: int
) -> Path:
    from spacy.cli.init_config import fill_config
    from spacy.cli.train import train

    base = work / "base.cfg"
    if config is not None:
        base.write_text(config.read_text(encoding="utf8"), encoding="utf8")
    else:
        base.write_text(MINIMAL_CONFIG.format(factory=factory), encoding="utf8")
    filled = work / "config.cfg"
    fill_config(filled, base, silent=True)
    # The PubTator files become DocBins with one label, so any config that
    # reads spacy.Corpus.v1 from ${paths.train} / ${paths.dev} trains on them.
    for split in ("train", "dev"):
        convert_pubtator(data_dir / "ncbi_disease" / f"{split}.pubtator", work / f"{split}.spacy", label="Disease")
    overrides: Dict[str, object] = {
        "paths.train": str(work / "train.spacy"),
        "paths.dev": str(work / "dev.spacy"),
    }
    if max_steps:
        overrides["training.max_steps"] = max_steps
    train(filled, work / "ner", overrides=overrides)
    best = work / "ner" / "model-best"
    return best if best.exists() else work / "ner" / "model-last"


def main(data_dir: Path, config: Optional[Path], factory: str, max_steps: int, work: Path) -> Dict:
    work.mkdir(parents=True, exist_ok=True)
    model = train_ner(data_dir, work, config, factory, max_steps)
    nlp = spacy.load(model)
    nlp.add_pipe("entity_normalizer", config=DEFAULT_SETTINGS)
    kb_loader = create_kb_loader(
        str(data_dir / "mesh" / "mesh_descriptors_c_f_tree.tsv"),
        format="tsv",
        columns={"id": "MESH_ID", "name": "MESH_NAME"},
    )
    train_docs = list(read_pubtator_docs(data_dir / "ncbi_disease" / "train.pubtator", nlp, label="Disease"))
    examples = [Example(nlp.make_doc(d.text), d) for d in train_docs]
    # Only the normalizer is initialized: the trained NER keeps its weights.
    nlp.get_pipe("entity_normalizer").initialize(lambda: examples, nlp=nlp, kb_loader=kb_loader)
    dev_docs = list(read_pubtator_docs(data_dir / "ncbi_disease" / "dev.pubtator", nlp, label="Disease"))
    predicted = list(nlp.pipe(d.text for d in dev_docs))
    dev_examples = [Example(p, g) for p, g in zip(predicted, dev_docs)]
    from spacy.scorer import Scorer

    ents = Scorer.score_spans(dev_examples, "ents")
    summary = {
        "ner_factory": factory if config is None else str(config),
        "ents_p": ents["ents_p"],
        "ents_r": ents["ents_r"],
        "ents_f": ents["ents_f"],
        **span_id_prf(dev_examples),
        **score_normalization(dev_examples),
    }
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument(
        "--config", default=str(REPO / "configs" / "crf_ner_cnn.cfg"),
        help="NER training config; 'none' (or a missing file) uses a minimal config with --ner-factory",
    )
    parser.add_argument("--ner-factory", default="crf_ner")
    parser.add_argument("--max-steps", type=int, default=0, help="Override training.max_steps (0: keep)")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ncbi-e2e-"))
    config = Path(args.config) if args.config.lower() != "none" and Path(args.config).exists() else None
    result = main(args.data_dir, config, args.ner_factory, args.max_steps, work)
    write_json(result, args.output)
