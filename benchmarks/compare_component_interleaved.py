"""The ``entity_normalizer`` component of two revisions in one process,
interleaved batch by batch: the working tree's and an earlier commit's
(extracted with ``git archive`` and imported as a separate package), each
with the index it loads itself from the same saved pipeline. Each batch of 50
documents (1,000 mentions) is linked by one revision and then the other, the
order alternating, and CPU time is summed per revision, so a slow spell of a
shared machine hits both alike. The first pass also checks that both
revisions return the same candidates.

Documents hold 20 mentions each, entities set by hand, as in
``bench_normalizer_scale.py``; the mentions are the scale benchmark's distinct
stream, every one searched (no result cache).

Build the pipeline once first (``bench_normalizer_scale.py --phase build
--work-dir WORK_DIR``).

Usage: python benchmarks/compare_component_interleaved.py WORK_DIR --before COMMIT [--passes 2] [--output FILE]
"""
import argparse
import contextlib
import importlib
import inspect
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
from typing import Any, Dict, Iterator, List, Optional, Tuple
from unittest import mock

import catalogue

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_json  # noqa: E402

SETTINGS = {"default": {}, "fuzzy_when_exact_false": {"fuzzy_when_exact": False}}


@contextlib.contextmanager
def unregistered() -> Iterator[None]:
    """Imports in this block register no factory or function: the earlier
    revision's modules carry the same names as the working tree's."""
    from spacy.language import Language

    keep = lambda *args, **kwargs: (lambda func: func)  # noqa: E731
    with mock.patch.object(Language, "factory", keep), mock.patch.object(
        catalogue.Registry, "__call__", lambda self, name, func=None: func if func is not None else (lambda f: f)
    ):
        yield


def import_before(commit: str, into: Path):
    """The commit's spacy_crf_ner as a package named spacy_crf_ner_before
    (its pipeline/__init__ left empty: only the normalizer is needed)."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "spacy_crf_ner"],
        check=True, capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    package = into / "spacy_crf_ner_before"
    (into / "spacy_crf_ner").rename(package)
    (package / "pipeline" / "__init__.py").write_text("")
    sys.path.insert(0, str(into))
    with unregistered():
        return importlib.import_module("spacy_crf_ner_before.pipeline.entity_normalizer")


def component_before(module, vocab, cfg: Dict, path: Path):
    """The earlier revision's EntityNormalizer with the settings it knows of
    ``cfg`` (settings added since are left out), loaded from ``path``."""
    known = inspect.signature(module.EntityNormalizer.__init__).parameters
    component = module.EntityNormalizer(vocab, "entity_normalizer", **{k: v for k, v in cfg.items() if k in known})
    component.from_disk(path)
    return component


@contextlib.contextmanager
def scale_component(work: Path, before: str = "", n: Optional[int] = None) -> Iterator[Tuple[Any, List]]:
    """The ``entity_normalizer`` of the pipeline saved in ``work`` (or, with
    ``before``, that commit's, reading the same saved index), result cache
    off, compiled, and docs of 20 of the scale benchmark's mentions each
    (the first ``n``), entities set by hand."""
    import spacy
    from bench_normalizer_scale import make_docs

    nlp = spacy.load(work / "pipeline")
    component = nlp.get_pipe("entity_normalizer")
    with tempfile.TemporaryDirectory(prefix="before-") as tmp:
        if before:
            old = import_before(before, Path(tmp))
            component = component_before(old, nlp.vocab, component.cfg, work / "pipeline" / "entity_normalizer")
        component.index.config = replace(component.index.config, cache_size=0)
        texts = [m[0] for m in json.loads((work / "mentions.json").read_text())][:n]
        docs = make_docs(nlp.vocab, texts)
        component.predict(docs[:2])  # compile, build the typo table
        component.index.normalizer._cache.clear()
        yield component, docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--before", required=True, help="commit to compare the working tree with")
    parser.add_argument("--passes", type=int, default=2, help="passes over the 100,000 mentions per setting")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    import spacy
    from bench_normalizer_scale import make_docs

    nlp = spacy.load(args.work_dir / "pipeline")
    after = nlp.get_pipe("entity_normalizer")
    with tempfile.TemporaryDirectory(prefix="before-") as tmp:
        old = import_before(args.before, Path(tmp))
        before = component_before(old, nlp.vocab, after.cfg, args.work_dir / "pipeline" / "entity_normalizer")
    texts = [m[0] for m in json.loads((args.work_dir / "mentions.json").read_text())]
    docs = make_docs(nlp.vocab, texts)
    batches = [docs[i : i + 50] for i in range(0, len(docs), 50)]
    components = {"before": before, "after": after}
    summary: Dict = {"before": args.before, "n_mentions": len(texts), "passes": args.passes, "settings": {}}
    for setting, change in SETTINGS.items():
        for component in components.values():
            index = component.index
            fields = set(index.config.__dataclass_fields__)
            index.config = replace(index.config, cache_size=0, **{k: v for k, v in change.items() if k in fields})
            component.predict(batches[0][:2])  # compile, build the typo table
        cpu = {"before": 0.0, "after": 0.0}
        differ = 0
        for p in range(args.passes):
            for b, batch in enumerate(batches):
                order = ["before", "after"] if (b + p) % 2 == 0 else ["after", "before"]
                for name in order:
                    component = components[name]
                    component.index.normalizer._cache.clear()
                    c0 = time.process_time()
                    for _ in component.pipe(batch, batch_size=50):
                        pass
                    cpu[name] += time.process_time() - c0
                if p == 0:
                    old_out, new_out = before.predict(batch), after.predict(batch)
                    differ += sum(o != n for od, nd in zip(old_out, new_out) for o, n in zip(od, nd))
        n = len(texts) * args.passes
        out = {name: round(n / cpu[name]) for name in cpu}
        out["ratio_after_before"] = round(out["after"] / out["before"], 3)
        out["mentions_with_other_candidates"] = differ
        summary["settings"][setting] = out
        print(setting, json.dumps(out), file=sys.stderr, flush=True)
    write_json(summary, args.output)


if __name__ == "__main__":
    main()
