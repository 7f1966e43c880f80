"""Corpus readers: PubTator files (e.g. the NCBI Disease corpus) to spaCy Docs.

A PubTator document is a title line ``PMID|t|...``, an abstract line
``PMID|a|...`` and annotation lines ``PMID<TAB>start<TAB>end<TAB>mention<TAB>
type<TAB>ids`` with character offsets into ``title + " " + abstract``. Each
annotation becomes an entity of ``Doc.ents`` whose ``kb_id_`` is the ID field
verbatim: ``D001943|D010051`` (several concepts, NCBI's ``|``) and
``OMIM:312080+OMIM:312920`` (a composite concept, NCBI's ``+``) are kept as
written; :func:`spacy_crf_ner.kb.scoring.parse_kb_id` reads them when scoring.
Tokens are split at entity boundaries that fall inside a token, so every
annotation is an exact token span.
"""
import logging
from pathlib import Path
from typing import Callable, Iterator, List, NamedTuple, Optional, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.vocab import Vocab

logger = logging.getLogger("spacy_crf_ner")


class PubTatorAnnotation(NamedTuple):
    """One mention of a PubTator document."""

    start: int
    end: int
    text: str
    type: str
    ids: str


class PubTatorDocument(NamedTuple):
    """A PubTator document: text is title + " " + abstract."""

    pmid: str
    title: str
    abstract: str
    annotations: List[PubTatorAnnotation]

    @property
    def text(self) -> str:
        return f"{self.title} {self.abstract}" if self.abstract else self.title


class PubTatorFormatError(ValueError):
    """A PubTator file could not be read; the message names file and line."""


def read_pubtator(path: Union[str, Path]) -> Iterator[PubTatorDocument]:
    """Read the documents of a PubTator file.

    path (Union[str, Path]): The file.
    YIELDS (PubTatorDocument): The documents, in file order.
    RAISES (PubTatorFormatError): On a malformed line or an annotation whose
        offsets do not match its text.
    """
    path = Path(path)
    pmid: Optional[str] = None
    title = ""
    abstract = ""
    anns: List[PubTatorAnnotation] = []

    def finish() -> Optional[PubTatorDocument]:
        if pmid is None:
            return None
        return PubTatorDocument(pmid, title, abstract, sorted(anns))

    with path.open(encoding="utf8") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                doc = finish()
                if doc is not None:
                    yield doc
                pmid, title, abstract, anns = None, "", "", []
                continue
            where = f"{path}:{lineno}"
            head = line.split("|", 2)
            if len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]:
                if pmid is not None and head[0] != pmid:
                    doc = finish()
                    if doc is not None:
                        yield doc
                    title, abstract, anns = "", "", []
                pmid = head[0]
                if head[1] == "t":
                    title = head[2]
                else:
                    abstract = head[2]
                continue
            fields = line.split("\t")
            if len(fields) < 5:
                raise PubTatorFormatError(
                    f"{where}: expected 'PMID|t|title', 'PMID|a|abstract' or a tab-separated "
                    f"annotation 'PMID start end mention type [ids]', got {line[:80]!r}."
                )
            if fields[0] != pmid:
                raise PubTatorFormatError(
                    f"{where}: annotation for PMID {fields[0]} inside document {pmid}."
                )
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise PubTatorFormatError(f"{where}: offsets must be integers, got {fields[1:3]}.") from None
            text = f"{title} {abstract}" if abstract else title
            if text[start:end].strip() != fields[3].strip():
                raise PubTatorFormatError(
                    f"{where}: mention {fields[3]!r} does not match the text at {start}:{end} "
                    f"({text[start:end]!r})."
                )
            ids = fields[5].strip() if len(fields) > 5 else ""
            anns.append(PubTatorAnnotation(start, end, fields[3], fields[4], ids))
    doc = finish()
    if doc is not None:
        yield doc


def pubtator_to_doc(
    vocab_or_nlp: Union[Vocab, Language],
    document: PubTatorDocument,
    label: Optional[str] = None,
) -> Doc:
    """Turn a PubTator document into a Doc with ents carrying ``kb_id``.

    vocab_or_nlp (Union[Vocab, Language]): A pipeline (its tokenizer is used) or a
        vocab (then a blank English tokenizer is used).
    document (PubTatorDocument): The document.
    label (Optional[str]): Entity label for all mentions; None keeps the type column
        (SpecificDisease, DiseaseClass, Modifier, CompositeMention for NCBI).
    RETURNS (Doc): The Doc; ``doc.user_data["pmid"]`` holds the PMID.
    """
    if isinstance(vocab_or_nlp, Language):
        tokenizer = vocab_or_nlp.tokenizer
        vocab = vocab_or_nlp.vocab
    else:
        vocab = vocab_or_nlp
        tokenizer = spacy.blank("en", vocab=vocab).tokenizer
    text = document.text
    anns = _drop_overlaps(document.annotations, document.pmid)
    cuts = {a.start for a in anns} | {a.end for a in anns}
    base = tokenizer(text)
    words: List[str] = []
    spaces: List[bool] = []
    for token in base:
        start, end = token.idx, token.idx + len(token.text)
        inner = sorted(c for c in cuts if start < c < end)
        bounds = [start, *inner, end]
        for i in range(len(bounds) - 1):
            words.append(text[bounds[i] : bounds[i + 1]])
            spaces.append(bool(token.whitespace_) if i == len(bounds) - 2 else False)
    doc = Doc(vocab, words=words, spaces=spaces)
    ents = []
    for a in anns:
        span = doc.char_span(a.start, a.end, label=label or a.type, kb_id=a.ids)
        if span is None:
            # Only leading/trailing whitespace inside the annotation can get here.
            span = doc.char_span(a.start, a.end, label=label or a.type, kb_id=a.ids, alignment_mode="contract")
        if span is None:
            logger.warning("PMID %s: cannot align mention %r at %d:%d; skipped", document.pmid, a.text, a.start, a.end)
            continue
        ents.append(span)
    doc.ents = ents
    doc.user_data["pmid"] = document.pmid
    return doc


def _drop_overlaps(anns: List[PubTatorAnnotation], pmid: str) -> List[PubTatorAnnotation]:
    kept: List[PubTatorAnnotation] = []
    for a in sorted(anns, key=lambda a: (a.start, -(a.end - a.start))):
        if kept and a.start < kept[-1].end:
            logger.warning("PMID %s: overlapping mention %r at %d:%d dropped", pmid, a.text, a.start, a.end)
            continue
        kept.append(a)
    return kept


def read_pubtator_docs(
    path: Union[str, Path],
    vocab_or_nlp: Union[Vocab, Language],
    label: Optional[str] = None,
    limit: int = 0,
) -> Iterator[Doc]:
    """Read a PubTator file as Docs.

    path (Union[str, Path]): The file.
    vocab_or_nlp (Union[Vocab, Language]): Pipeline or vocab, see :func:`pubtator_to_doc`.
    label (Optional[str]): One label for all entities, or None for the type column.
    limit (int): Stop after this many documents (0: all).
    YIELDS (Doc): The documents.
    """
    for i, document in enumerate(read_pubtator(path)):
        if limit and i >= limit:
            break
        yield pubtator_to_doc(vocab_or_nlp, document, label)


def convert_pubtator(
    input_path: Union[str, Path],
    output_path: Union[str, Path],
    label: Optional[str] = None,
    lang: str = "en",
) -> int:
    """Convert a PubTator file into a ``.spacy`` DocBin.

    input_path (Union[str, Path]): The PubTator file.
    output_path (Union[str, Path]): The ``.spacy`` file to write.
    label (Optional[str]): One label for all entities, or None for the type column.
    lang (str): Language of the blank tokenizer.
    RETURNS (int): The number of documents written.
    """
    nlp = spacy.blank(lang)
    db = DocBin(store_user_data=True)
    n = 0
    for doc in read_pubtator_docs(input_path, nlp, label):
        db.add(doc)
        n += 1
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(output_path)
    return n


@spacy.registry.readers("spacy-crf-ner.PubTatorCorpus.v1")
def create_pubtator_reader(
    path: str, label: Optional[str] = None, limit: int = 0
) -> Callable[[Language], Iterator[Example]]:
    """Corpus reader for configs: ``[corpora.train] @readers =
    "spacy-crf-ner.PubTatorCorpus.v1"``.

    path (str): The PubTator file.
    label (Optional[str]): One label for all entities (e.g. "Disease"), or None to keep
        the type column.
    limit (int): Stop after this many documents (0: all).
    RETURNS (Callable[[Language], Iterator[Example]]): The reader.
    """

    def read(nlp: Language) -> Iterator[Example]:
        if not Path(path).exists():
            raise FileNotFoundError(
                f"spacy-crf-ner.PubTatorCorpus.v1: no file at {path}. Set the corpus path in the "
                "config, e.g. --paths.train path/to/train.pubtator."
            )
        for doc in read_pubtator_docs(path, nlp, label, limit):
            yield Example(nlp.make_doc(doc.text), doc)

    return read
