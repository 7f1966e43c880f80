from .crf_ner import CRFEntityRecognizer, make_crf_ner
from .crf_tagger import CRFTagger, make_crf_tagger

__all__ = ["CRFEntityRecognizer", "CRFTagger", "make_crf_ner", "make_crf_tagger"]
