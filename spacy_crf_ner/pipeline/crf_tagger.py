"""`crf_tagger`: token tags (Penn Treebank POS and the like) with a CRF."""
from typing import Callable, Iterable, List, Optional

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import Config, Model

from .base import CRFBatch, CRFSequenceLabeler

DEFAULT_CRF_TAGGER_MODEL = """
[model]
@architectures = "spacy-crf-ner.EmissionScorer.v1"
nO = null
dropout = 0.1

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""
ATTRS = {"tag": "TAG", "pos": "POS"}


@Language.factory(
    "crf_tagger",
    assigns=["token.tag"],
    default_config={
        "model": Config().from_str(DEFAULT_CRF_TAGGER_MODEL)["model"],
        "attr": "tag",
        "scorer": {"@scorers": "spacy-crf-ner.tagger_scorer.v1"},
    },
    default_score_weights={"tag_acc": 1.0},
)
def make_crf_tagger(
    nlp: Language, name: str, model: Model, attr: str, scorer: Optional[Callable]
) -> "CRFTagger":
    """Create a CRF tagger.

    model (Model[List[Doc], List[Floats2d]]): Emission scores followed by the
        CRF layer, e.g. spacy-crf-ner.EmissionScorer.v1.
    attr (str): The token attribute to predict and write: "tag" (token.tag_)
        or "pos" (token.pos_, Universal POS). With "pos", score on pos_acc.
    scorer (Optional[Callable]): The scoring method.
    """
    return CRFTagger(nlp.vocab, model, name, attr=attr, scorer=scorer)


class CRFTagger(CRFSequenceLabeler):
    """Token tagger whose tags are decoded jointly by Viterbi over a learned
    tag-transition matrix. Tokens with no gold tag are summed over in
    training, so partially tagged docs train correctly."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "crf_tagger",
        *,
        attr: str,
        scorer: Optional[Callable],
    ) -> None:
        """Initialize a CRF tagger. The settings' defaults are the factory's
        (`make_crf_tagger`), where they are described.

        vocab (Vocab): The shared vocabulary.
        model (Model[List[Doc], List[Floats2d]]): Emission scores followed by
            the CRF layer.
        name (str): The component instance name, used in messages and losses.
        """
        if attr not in ATTRS:
            raise ValueError(
                f"[{name}] Unsupported attr {attr!r}: crf_tagger writes 'tag' "
                "(token.tag_) or 'pos' (token.pos_)."
            )
        super().__init__(vocab, model, name, scheme="tags", scorer=scorer, attr=attr)

    def labels_from_example(self, example: Example) -> Iterable[str]:
        return [t for t in self.gold_tags_of(example.reference) if t]

    def gold_tags_of(self, doc: Doc) -> List[Optional[str]]:
        attr = self.cfg["attr"]
        return [getattr(token, f"{attr}_") or None for token in doc]

    def gold_tags(self, example: Example) -> List[Optional[str]]:
        tags = example.get_aligned(ATTRS[self.cfg["attr"]], as_string=True)
        return [t or None for t in tags]

    def set_annotations(self, docs: Iterable[Doc], batch: CRFBatch) -> None:
        tags = self.tags
        attr = f"{self.cfg['attr']}_"
        for doc, path in zip(docs, batch.paths):
            for token, k in zip(doc, path.tolist()):
                setattr(token, attr, tags[k])
