from ..multiprocess import install as _install_process_settings
from .crf_ner import CRFEntityRecognizer, make_crf_ner
from .crf_tagger import CRFTagger, make_crf_tagger

# Fast Doc serialization and fork-safe torch in worker processes (see
# spacy_crf_ner.multiprocess): every pipeline with one of our components
# imports this package.
_install_process_settings()

__all__ = ["CRFEntityRecognizer", "CRFTagger", "make_crf_ner", "make_crf_tagger"]
