"""Corpus readers: PubTator files (e.g. the NCBI Disease corpus) and
token-per-line IOB files (e.g. CoNLL-2003) to spaCy Docs.

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
from typing import Callable, Iterator, List, NamedTuple, Optional, Tuple, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.vocab import Vocab

from .schemes import find_invalid_tag, iob1_to_bio, tags_to_spans

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


class IOBFormatError(ValueError):
    """A token-per-line IOB file could not be read; the message names the
    file, the line, the document and the token."""


def read_iob_docs(
    path: Union[str, Path],
    vocab: Vocab,
    scheme: str = "IOB1",
    tag_column: int = -1,
    n_sents: int = 10,
) -> Iterator[Doc]:
    """Read a token-per-line file with entity tags, checking every tag.

    One token per line, columns separated by whitespace, the tag in
    `tag_column`; a blank line ends a sentence and a ``-DOCSTART-`` line a
    document. Unlike ``spacy convert -c ner``, which reads ``X-LOC`` or
    ``B_LOC`` as a LOC entity and an I-X that no entity precedes as a new
    entity, a tag that `scheme` cannot interpret is an error.

    path (Union[str, Path]): The file (UTF-8).
    vocab (Vocab): The vocab of the Docs.
    scheme (str): "IOB1" (CoNLL-2003: I-X may open an entity), "BIO" (IOB2) or
        "BILUO" (BIOES).
    tag_column (int): The column of the tag (-1: the last).
    n_sents (int): Sentences per Doc within a document (0: a document is one Doc).
    YIELDS (Doc): Docs with the words and entities of the file.
    RAISES (IOBFormatError): Naming file, line, document and token.
    """
    path = Path(path)
    bio = scheme.upper() == "IOB1"
    sents: List[List[Tuple[int, str, str]]] = []
    sent: List[Tuple[int, str, str]] = []
    n_doc = 0

    def flush_sent() -> None:
        nonlocal sent
        if sent:
            sents.append(sent)
            sent = []

    def make_docs() -> Iterator[Doc]:
        nonlocal sents, n_doc
        size = n_sents if n_sents > 0 else max(len(sents), 1)
        for first in range(0, len(sents), size):
            group = sents[first : first + size]
            n_doc += 1
            words: List[str] = []
            tags: List[str] = []
            for k, s in enumerate(group):
                bad = find_invalid_tag([t for _, _, t in s], scheme)
                if bad is not None:
                    i, why = bad
                    lineno, word, tag = s[i]
                    raise IOBFormatError(
                        f"{path}:{lineno}: invalid tag {tag!r} of token {word!r} in document {n_doc} "
                        f"(sentence {first + k + 1}): {why}. Fix the tag, or read the file "
                        f"with the scheme it uses (scheme = IOB1, BIO or BILUO)."
                    )
                words.extend(w for _, w, _ in s)
                tags.extend(iob1_to_bio([t for _, _, t in s]) if bio else [t for _, _, t in s])
            doc = Doc(vocab, words=words, spaces=[True] * len(words))
            spans = tags_to_spans(tags, "BILUO" if scheme.upper() in ("BILUO", "BIOES") else "BIO")
            doc.ents = [Span(doc, s, e, label=label) for s, e, label in spans]
            yield doc
        sents = []

    if not path.exists():
        raise FileNotFoundError(f"No IOB file at {path}. Set the corpus path in the config.")
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").strip()
            except UnicodeDecodeError as err:
                raise IOBFormatError(f"{path}:{lineno}: not UTF-8 (column {err.start + 1}). Save the file as UTF-8.") from None
            if not line:
                flush_sent()
                continue
            cols = line.split()
            if cols[0] == "-DOCSTART-":
                flush_sent()
                yield from make_docs()
                continue
            if len(cols) < 2:
                raise IOBFormatError(f"{path}:{lineno}: expected a token and a tag, got {line!r}.")
            try:
                tag = cols[tag_column]
            except IndexError:
                raise IOBFormatError(f"{path}:{lineno}: no column {tag_column} in {line!r}.") from None
            sent.append((lineno, cols[0], tag))
    flush_sent()
    yield from make_docs()


def create_iob_reader(
    path: str, scheme: str = "IOB1", tag_column: int = -1, n_sents: int = 10
) -> Callable[[Language], Iterator[Example]]:
    """Corpus reader for token-per-line IOB files (CoNLL-2003, WNUT-17) that
    checks every tag: ``[corpora.train] @readers = "spacy-crf-ner.IOBCorpus.v1"``.
    See :func:`read_iob_docs` for the arguments.

    RETURNS (Callable[[Language], Iterator[Example]]): The reader.
    """
    find_invalid_tag([], scheme)  # an unknown scheme fails when the config is read

    def read(nlp: Language) -> Iterator[Example]:
        for doc in read_iob_docs(path, nlp.vocab, scheme, tag_column, n_sents):
            words = [t.text for t in doc]
            yield Example(Doc(nlp.vocab, words=words, spaces=[True] * len(words)), doc)

    return read
