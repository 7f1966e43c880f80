"""``spacy-crf-ner.GoldMentionsCorpus.v1``: spaCy's ``.spacy`` corpus reader
whose predicted docs carry the reference entities (label kept, ``kb_id``
removed) on the reference tokenization, so that a pipeline without an
entity recognizer can train and be scored on entity linking alone, as
``evaluate-linking --gold-mentions`` scores it.

Use it for ``[corpora.dev]`` (and ``[corpora.train]``) of a pipeline whose
``entity_normalizer`` links entities that another process found.
"""
from pathlib import Path
from typing import Callable, Iterator, Union

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Corpus, Example


def with_gold_mentions(eg: Example) -> Example:
    """An example whose predicted doc has the reference's words and entities, without IDs.

    eg (Example): The example.
    RETURNS (Example): The new example (the reference is shared).
    """
    ref = eg.reference
    doc = Doc(ref.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref])
    doc.ents = [Span(doc, ent.start, ent.end, label=ent.label_) for ent in ref.ents]
    return Example(doc, ref)


def create_gold_mentions_reader(
    path: Union[str, Path], max_length: int = 0, limit: int = 0
) -> Callable[[Language], Iterator[Example]]:
    """The reader (registered as ``spacy-crf-ner.GoldMentionsCorpus.v1`` by its entry point).

    path (Union[str, Path]): A ``.spacy`` file or a directory of them.
    max_length (int): Skip docs longer than this many tokens (0: no limit).
    limit (int): Read at most this many docs (0: all).
    RETURNS (Callable[[Language], Iterator[Example]]): The reader.
    """
    corpus = Corpus(path, gold_preproc=False, max_length=max_length, limit=limit)

    def read(nlp: Language) -> Iterator[Example]:
        for eg in corpus(nlp):
            yield with_gold_mentions(eg)

    return read
