"""Fill the cache of compiled kernels before a deployment starts its workers.

numba compiles a kernel the first time it is called with a given type
signature and keeps the machine code on disk (spacy_crf_ner._numba says
where), so only the first process on a machine pays for compiling. Running a
few texts through a pipeline compiles exactly the kernels that pipeline
uses: the CRF's decoding and marginals for crf_ner and crf_tagger, the
candidate search for entity_normalizer.
"""
import logging
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Sequence, Union, cast

from spacy.language import Language

if TYPE_CHECKING:
    from spacy.pipeline import EntityRuler

    from .pipeline.crf_ner import CRFEntityRecognizer
    from .pipeline.crf_tagger import CRFTagger
    from .pipeline.entity_normalizer import EntityNormalizer

logger = logging.getLogger("spacy_crf_ner")

SAMPLE_TEXTS = [
    "Sarah Jane Smith flew from Paris to New York on Friday .",
    "IBM and the International Business Machines Corp. reported results .",
    "Patients with breast and ovarian cancer ( BOC ) were treated .",
    "",
    "x",
]


def kernel_cache_folders() -> List[str]:
    """The folders where the package's compiled kernels that were set up in
    this process keep their machine code."""
    import sys

    from ._numba import LazyKernel

    folders = set()
    modules = [m for name, m in list(sys.modules.items()) if name.startswith("spacy_crf_ner.") and m is not None]
    for module in modules:
        for value in vars(module).values():
            # A module's kernels are LazyKernels until the first call, then
            # numba dispatchers in the module's namespace.
            if isinstance(value, LazyKernel):
                dispatcher = value.dispatcher
            elif type(value).__module__.startswith("numba."):
                dispatcher = value
            else:
                continue
            cache = getattr(dispatcher, "_cache", None)
            path = getattr(cache, "cache_path", None)
            if path:
                folders.add(str(path))
    return sorted(folders)


def warm_up(nlp: Language, texts: Optional[Sequence[str]] = None) -> float:
    """Run texts through the pipeline, which compiles (or loads from the
    cache) every kernel its components use.

    nlp (Language): The pipeline.
    texts (Optional[Sequence[str]]): Texts to annotate; a few built-in
        sentences by default.
    RETURNS (float): The seconds it took.
    """
    start = time.perf_counter()
    for _ in nlp.pipe(list(texts) if texts is not None else SAMPLE_TEXTS):
        pass
    return time.perf_counter() - start


def sample_pipeline() -> Language:
    """crf_tagger, crf_ner and entity_normalizer on CNN encoders, untrained,
    with a two-entry KB, and an entity_ruler that gives crf_ner preset
    entities (so that the normalizer has mentions to link): enough to run
    every kernel of the package once."""
    import spacy

    from .kb.knowledge_base import KnowledgeBase

    nlp = spacy.blank("en")
    cast("CRFTagger", nlp.add_pipe("crf_tagger")).add_label("NN")
    ruler = cast("EntityRuler", nlp.add_pipe("entity_ruler"))
    cast("CRFEntityRecognizer", nlp.add_pipe("crf_ner")).add_label("ENT")
    nlp.initialize()
    normalizer = cast("EntityNormalizer", nlp.add_pipe("entity_normalizer"))  # its KB is set below
    ruler.add_patterns([{"label": "ENT", "pattern": "IBM"}, {"label": "ENT", "pattern": "Paris"}])
    kb = KnowledgeBase()
    kb.add_entity("Q1", "International Business Machines", aliases=["IBM"])
    kb.add_entity("Q2", "Paris")
    normalizer.set_kb(kb)
    return nlp


def warm_up_models(models: Iterable[Union[str, Path]], texts: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Load each pipeline (a package name or a directory) and warm it up; the
    package's sample pipeline when none is given.

    models (Iterable[Union[str, Path]]): Package names or directories.
    texts (Optional[Sequence[str]]): Texts to annotate (see `warm_up`).
    RETURNS (Dict[str, float]): Seconds to load and warm up each pipeline.
    """
    import spacy

    out: Dict[str, float] = {}
    models = list(models)
    loaders: Dict[str, Callable[[], Language]] = {str(model): partial(spacy.load, model) for model in models}
    if not loaders:
        loaders["sample pipeline"] = sample_pipeline
    for name, load in loaders.items():
        # Loading can run kernels too (the normalizer's index derives its
        # typo table when it is loaded), so it is timed as well.
        start = time.perf_counter()
        warm_up(load(), texts)
        out[name] = time.perf_counter() - start
    return out
