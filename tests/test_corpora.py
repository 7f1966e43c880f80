from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_crf_ner.corpora import (
    PubTatorFormatError,
    convert_pubtator,
    create_pubtator_reader,
    read_pubtator,
    read_pubtator_docs,
)
from spacy_crf_ner.kb.scoring import canonical_kb_id, ids_match, ids_match_strict, parse_kb_id

TITLE = "Wilson disease and HPRT-deficient cells."
ABSTRACT = "Breast and ovarian cancer in WD patients. X-linked immunodeficiency disease is rare."
# Offsets are into TITLE + " " + ABSTRACT.
TEXT = f"{TITLE} {ABSTRACT}"


def _ann(mention: str, type_: str, ids: str, occurrence: int = 0) -> str:
    start = -1
    for _ in range(occurrence + 1):
        start = TEXT.index(mention, start + 1)
    return f"123\t{start}\t{start + len(mention)}\t{mention}\t{type_}\t{ids}"


PUBTATOR = "\n".join(
    [
        f"123|t|{TITLE}",
        f"123|a|{ABSTRACT}",
        _ann("Wilson disease", "SpecificDisease", "D006527"),
        _ann("HPRT", "Modifier", "OMIM:300322"),
        _ann("Breast and ovarian cancer", "CompositeMention", "D001943|D010051"),
        _ann("WD", "SpecificDisease", "D006527"),
        _ann("X-linked immunodeficiency disease", "DiseaseClass", "D007153+D040181"),
        "",
        "456|t|Second document.",
        "456|a|No mentions here.",
        "",
    ]
)


@pytest.fixture
def pubtator_file(tmp_path) -> Path:
    path = tmp_path / "corpus.pubtator"
    path.write_text(PUBTATOR, encoding="utf8")
    return path


def test_read_pubtator(pubtator_file):
    docs = list(read_pubtator(pubtator_file))
    assert [d.pmid for d in docs] == ["123", "456"]
    assert docs[0].text == TEXT
    assert [a.ids for a in docs[0].annotations] == [
        "D006527", "OMIM:300322", "D001943|D010051", "D006527", "D007153+D040181"
    ]
    assert docs[1].annotations == []


def test_docs_with_kb_ids(pubtator_file):
    nlp = spacy.blank("en")
    doc = next(read_pubtator_docs(pubtator_file, nlp))
    assert doc.text == TEXT
    got = [(e.text, e.label_, e.kb_id_) for e in doc.ents]
    assert got == [
        ("Wilson disease", "SpecificDisease", "D006527"),
        ("HPRT", "Modifier", "OMIM:300322"),  # split out of the token "HPRT-deficient"
        ("Breast and ovarian cancer", "CompositeMention", "D001943|D010051"),
        ("WD", "SpecificDisease", "D006527"),
        ("X-linked immunodeficiency disease", "DiseaseClass", "D007153+D040181"),
    ]
    assert doc.user_data["pmid"] == "123"
    one_label = next(read_pubtator_docs(pubtator_file, nlp, label="Disease"))
    assert {e.label_ for e in one_label.ents} == {"Disease"}


def test_offset_mismatch_error(tmp_path):
    path = tmp_path / "bad.pubtator"
    path.write_text(f"1|t|{TITLE}\n1|a|{ABSTRACT}\n1\t0\t6\tWilsonX\tDisease\tD1\n")
    with pytest.raises(PubTatorFormatError, match=r"bad\.pubtator:3: mention 'WilsonX' does not match"):
        list(read_pubtator(path))
    path.write_text(f"1|t|{TITLE}\nnot an annotation\n")
    with pytest.raises(PubTatorFormatError, match=r"bad\.pubtator:2: expected"):
        list(read_pubtator(path))


def test_convert_to_docbin(pubtator_file, tmp_path):
    out = tmp_path / "out" / "corpus.spacy"
    assert convert_pubtator(pubtator_file, out, label="Disease") == 2
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(out).get_docs(nlp.vocab))
    assert [e.kb_id_ for e in docs[0].ents][2] == "D001943|D010051"
    assert docs[0].user_data["pmid"] == "123"


def test_registered_reader(pubtator_file):
    reader = spacy.registry.readers.get("spacy-crf-ner.PubTatorCorpus.v1")
    assert reader is create_pubtator_reader
    nlp = spacy.blank("en")
    examples = list(reader(str(pubtator_file), label="Disease")(nlp))
    assert len(examples) == 2
    eg = examples[0]
    assert eg.predicted.text == eg.reference.text == TEXT
    assert len(eg.reference.ents) == 5
    # The gold entities project onto the predicted tokenization for training.
    biluo = eg.get_aligned_ner()
    assert biluo.count("U-Disease") + biluo.count("B-Disease") >= 4


def test_reader_missing_file(tmp_path):
    nlp = spacy.blank("en")
    with pytest.raises(FileNotFoundError, match="PubTatorCorpus.v1: no file"):
        list(create_pubtator_reader(str(tmp_path / "missing.pubtator"))(nlp))


@pytest.mark.parametrize(
    "kb_id,expected",
    [
        ("D001", [frozenset({"D001"})]),
        ("D001|D002", [frozenset({"D001"}), frozenset({"D002"})]),
        ("OMIM:1+OMIM:2", [frozenset({"OMIM:1", "OMIM:2"})]),
        ("D1|D2+D3", [frozenset({"D1"}), frozenset({"D2", "D3"})]),
    ],
)
def test_parse_kb_id(kb_id, expected):
    assert parse_kb_id(kb_id) == expected


def test_id_matching():
    # "|": any listed ID counts.
    assert ids_match("D001943", "D001943|D010051")
    assert ids_match("D010051|D001943", "D001943|D010051")
    # "+": the whole combination is needed, in any order.
    assert not ids_match("D007153", "D007153+D040181")
    assert ids_match("D040181+D007153", "D007153+D040181")
    assert not ids_match("", "D1")
    # Strict: the concept sets must be equal.
    assert not ids_match_strict("D001943", "D001943|D010051")
    assert ids_match_strict("D010051|D001943", "D001943|D010051")


def test_canonical_kb_id():
    assert canonical_kb_id("D001") == "D001"
    assert canonical_kb_id("D010051|D001943") == "D001943|D010051"
    assert canonical_kb_id("OMIM:2+OMIM:1") == "OMIM:1+OMIM:2"
    assert canonical_kb_id("D3|D2+D1") == "D1+D2|D3"


def test_convert_pubtator_cli(pubtator_file, tmp_path):
    from typer.testing import CliRunner

    from spacy_crf_ner.cli import app

    out = tmp_path / "corpus.spacy"
    result = CliRunner().invoke(app, ["convert-pubtator", str(pubtator_file), str(out), "--label", "Disease"])
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert len(docs) == 2 and {e.label_ for e in docs[0].ents} == {"Disease"}


IOB = """-DOCSTART- O

Alice B-PER
visited O
New B-LOC
York I-LOC
. O

Bob B-PER
left O

-DOCSTART- O

Carol B-PER
"""


def test_iob_reader_reads_documents(tmp_path):
    from spacy.lang.en import English

    from spacy_crf_ner.corpora import create_iob_reader

    path = tmp_path / "train.iob"
    path.write_text(IOB, encoding="utf8")
    examples = list(create_iob_reader(str(path), scheme="BIO")(English()))
    assert len(examples) == 2
    ref = examples[0].reference
    assert [(e.text, e.label_) for e in ref.ents] == [("Alice", "PER"), ("New York", "LOC"), ("Bob", "PER")]
    assert [t.text for t in examples[0].predicted] == [t.text for t in ref]


@pytest.mark.parametrize(
    "bad,scheme,token",
    [("X-LOC", "IOB1", "York"), ("B_LOC", "BIO", "York"), ("I-X", "BIO", "York")],
)
def test_iob_reader_rejects_tags_it_cannot_interpret(tmp_path, bad, scheme, token):
    """spacy convert -c ner reads these as entities (X-LOC and B_LOC as LOC,
    I-X after O as a new entity of a new label X); the reader refuses them,
    naming the file, line, document and token."""
    from spacy.lang.en import English

    from spacy_crf_ner.corpora import IOBFormatError, create_iob_reader

    path = tmp_path / "train.iob"
    path.write_text(IOB.replace("York I-LOC", f"York {bad}").replace("New B-LOC", "New O"), encoding="utf8")
    with pytest.raises(IOBFormatError) as err:
        list(create_iob_reader(str(path), scheme=scheme)(English()))
    message = str(err.value)
    assert "train.iob:6:" in message and repr(bad) in message and repr(token) in message and "document 1" in message


def test_iob_reader_undecodable_and_unknown_scheme(tmp_path):
    from spacy.lang.en import English

    from spacy_crf_ner.corpora import IOBFormatError, create_iob_reader

    path = tmp_path / "train.iob"
    path.write_bytes(b"Alice B-PER\nCaf\xe9 O\n")
    with pytest.raises(IOBFormatError, match=r"train\.iob:2: not UTF-8"):
        list(create_iob_reader(str(path))(English()))
    with pytest.raises(ValueError, match="Unknown tag scheme"):
        create_iob_reader(str(path), scheme="IOB9")
