"""``spacy-crf-ner.load_kb.v1``: the KB loader of the ``entity_normalizer``'s
``[initialize.components.entity_normalizer.kb_loader]``."""
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Optional

from .knowledge_base import KnowledgeBase

if TYPE_CHECKING:
    from spacy.vocab import Vocab


def create_kb_loader(
    path: str, format: str = "auto", columns: Optional[Dict[str, str]] = None
) -> Callable[["Vocab"], KnowledgeBase]:
    """``spacy-crf-ner.load_kb.v1`` (registered by its entry point): the KB loader of
    ``[initialize.components.entity_normalizer.kb_loader]``.

    path (str): A directory written by ``build-kb`` / ``KnowledgeBase.to_disk``, or a
        JSONL, TSV or CSV file.
    format (str): For files: "jsonl", "tsv", "csv" or "auto" (from the suffix).
    columns (Optional[Dict[str, str]]): For tables: field -> header name.
    RETURNS (Callable[[Vocab], KnowledgeBase]): The loader.
    """

    def load(vocab: "Vocab") -> KnowledgeBase:
        p = Path(path)
        if p.is_dir():
            return KnowledgeBase.from_disk(p)
        if not p.exists():
            raise FileNotFoundError(
                f"spacy-crf-ner.load_kb.v1: no knowledge base at {path}. Give a KB file "
                "(JSONL/TSV/CSV) or a directory made by `python -m spacy_crf_ner build-kb`."
            )
        return KnowledgeBase.from_file(p, format=format, columns=columns)

    return load
