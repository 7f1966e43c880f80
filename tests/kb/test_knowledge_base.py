import json
from pathlib import Path

import numpy
import pytest

from spacy_crf_ner.kb import KBFormatError, KnowledgeBase

RECORDS = [
    {"id": "Q1", "name": "International Business Machines", "aliases": ["IBM", "IBM Corp."], "types": ["ORG"]},
    {"id": "Q2", "name": "Apple Inc.", "aliases": ["Apple"], "types": ["ORG"], "description": "Computers"},
    {"id": "Q3", "name": "apple", "aliases": ["Apple"], "types": ["FOOD"]},
    {"id": "Q1", "name": "International Business Machines", "aliases": ["Big Blue"], "types": ["COMPANY"]},
]


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    return path


def test_read_jsonl_merges_duplicates(tmp_path):
    kb = KnowledgeBase.from_file(write_jsonl(tmp_path / "kb.jsonl", RECORDS))
    assert len(kb) == 3
    assert set(kb.get_aliases("Q1")) == {"International Business Machines", "IBM", "IBM Corp.", "Big Blue"}
    assert kb.types[kb.index_of("Q1")] == ("ORG", "COMPANY")
    assert kb.descriptions[kb.index_of("Q2")] == "Computers"
    # An alias of several IDs stays ambiguous.
    assert sorted(kb.entities_of_alias("Apple")) == ["Q2", "Q3"]


def test_read_tsv_and_csv(tmp_path):
    tsv = tmp_path / "kb.tsv"
    tsv.write_text("id\tname\taliases\ttypes\nQ1\tIBM\tBig Blue|IBM Corp.\tORG\nQ2\tApple Inc.\t\tORG|BRAND\n")
    kb = KnowledgeBase.from_file(tsv)
    assert set(kb.get_aliases("Q1")) == {"IBM", "Big Blue", "IBM Corp."}
    assert kb.types[kb.index_of("Q2")] == ("ORG", "BRAND")
    csv_path = tmp_path / "kb.csv"
    csv_path.write_text('ID,LABEL\nD1,"Arthritis, Rheumatoid"\nD1,RA\n')
    kb = KnowledgeBase.from_file(csv_path, columns={"id": "ID", "name": "LABEL"})
    assert len(kb) == 1
    assert set(kb.get_aliases("D1")) == {"Arthritis, Rheumatoid", "RA"}


@pytest.mark.parametrize(
    "line,message",
    [
        ('{"id": "Q9", "name": "X"', "invalid JSON"),
        ('["Q9", "X"]', "expected a JSON object"),
        ('{"name": "X"}', "missing or empty 'id'"),
        ('{"id": "Q9", "name": "X", "aliases": "Y"}', "'aliases' must be a list of strings"),
        ('{"id": "Q9"}', "neither a 'name' nor 'aliases'"),
        ('{"id": "Q9", "name": 3}', "'name' must be a string"),
    ],
)
def test_malformed_jsonl(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n\n" + line + "\n")
    with pytest.raises(KBFormatError) as err:
        KnowledgeBase.from_file(path)
    assert "bad.jsonl:3: " in str(err.value)
    assert message in str(err.value)


def test_malformed_tables(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("id\tname\nQ1\tIBM\nQ2\tApple\textra\n")
    with pytest.raises(KBFormatError, match=r"bad\.tsv:3: expected 2 TSV fields"):
        KnowledgeBase.from_file(path)
    path = tmp_path / "noheader.csv"
    path.write_text("ident,label\nQ1,IBM\n")
    with pytest.raises(KBFormatError, match=r"noheader\.csv:1: header has no 'id' column"):
        KnowledgeBase.from_file(path)
    with pytest.raises(ValueError, match="cannot tell the format"):
        KnowledgeBase.from_file(tmp_path / "kb.xml")


def test_add_alias_counts_and_merge():
    kb = KnowledgeBase()
    kb.add_entity("D1", "Wilson disease")
    kb.add_alias("WD", "D1")
    kb.add_alias("WD", "D1", count=2)
    kb.add_alias("hepatolenticular degeneration", "D2")  # unknown ID: created
    pair = kb.alias_texts.index("WD")
    assert kb.alias_counts[pair] == 3
    assert kb.names[kb.index_of("D2")] == "hepatolenticular degeneration"
    other = KnowledgeBase()
    other.add_entity("D1", "Wilson disease", aliases=["WD"], types=["C06"])
    kb.merge(other)
    assert kb.alias_counts[pair] == 4
    assert kb.types[kb.index_of("D1")] == ("C06",)


def test_disk_and_bytes_roundtrip(tmp_path):
    kb = KnowledgeBase.from_file(write_jsonl(tmp_path / "kb.jsonl", RECORDS))
    kb.add_alias("IBM", "Q1", count=5)
    kb.to_disk(tmp_path / "kb")
    files = sorted(p.name for p in (tmp_path / "kb").iterdir())
    assert files == ["alias_counts.npy", "alias_entities.npy", "strings.msgpack"]
    # Plain arrays: loading them never needs pickle.
    numpy.load(tmp_path / "kb" / "alias_entities.npy", allow_pickle=False)
    for loaded in (KnowledgeBase.from_disk(tmp_path / "kb"), KnowledgeBase.from_bytes(kb.to_bytes())):
        assert loaded.ids == kb.ids
        assert loaded.names == kb.names
        assert loaded.types == kb.types
        assert loaded.alias_texts == kb.alias_texts
        assert list(loaded.alias_entities) == list(kb.alias_entities)
        assert list(loaded.alias_counts) == list(kb.alias_counts)
        # A loaded KB can still grow.
        loaded.add_alias("IBM", "Q1")
        assert loaded.alias_counts[loaded.alias_texts.index("IBM")] == kb.alias_counts[kb.alias_texts.index("IBM")] + 1


def test_from_disk_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="build-kb"):
        KnowledgeBase.from_disk(tmp_path)


def test_build_kb_cli(tmp_path):
    from typer.testing import CliRunner

    from spacy_crf_ner.cli import app

    runner = CliRunner()
    src = write_jsonl(tmp_path / "kb.jsonl", RECORDS)
    result = runner.invoke(app, ["build-kb", str(src), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    kb = KnowledgeBase.from_disk(tmp_path / "out")
    assert sorted(kb.ids) == ["Q1", "Q2", "Q3"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "Q1", "name": "IBM"}\n{"id": "Q2", "aliases": "x"}\n')
    result = runner.invoke(app, ["build-kb", str(bad), str(tmp_path / "out2")])
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # the message may be wrapped
    assert "bad.jsonl:2" in output and "'aliases' must be a list" in output
    tsv = tmp_path / "mesh.tsv"
    tsv.write_text("MESH_ID\tMESH_NAME\tLEVEL\nD1\tArthritis, Rheumatoid\t1\nD1\tArthritis, Rheumatoid\t2\n")
    result = runner.invoke(
        app, ["build-kb", str(tsv), str(tmp_path / "mesh"), "--columns", '{"id": "MESH_ID", "name": "MESH_NAME"}']
    )
    assert result.exit_code == 0, result.output
    assert KnowledgeBase.from_disk(tmp_path / "mesh").ids == ["D1"]


@pytest.mark.parametrize("suffix", ["jsonl", "tsv", "csv"])
def test_undecodable_bytes_name_file_and_line(tmp_path, suffix):
    path = tmp_path / f"kb.{suffix}"
    good = {"jsonl": b'{"id": "Q1", "name": "IBM"}\n', "tsv": b"id\tname\nQ1\tIBM\n", "csv": b"id,name\nQ1,IBM\n"}[suffix]
    bad = {"jsonl": b'{"id": "Q2", "name": "Caf\xe9"}\n', "tsv": b"Q2\tCaf\xe9\n", "csv": b"Q2,Caf\xe9\n"}[suffix]
    path.write_bytes(good + bad)
    line = good.count(b"\n") + 1
    with pytest.raises(KBFormatError, match=rf"kb\.{suffix}:{line}: not UTF-8 .*column") as err:
        KnowledgeBase.from_file(path)
    assert "UTF-8" in str(err.value)


def test_tsv_quotes_are_plain_characters(tmp_path):
    """An unbalanced quote in a TSV cell never swallows the rows after it,
    and a quoted cell keeps its quotes."""
    path = tmp_path / "kb.tsv"
    path.write_text(
        'id\tname\taliases\n'
        'Q1\t"Big Blue\tIBM\n'
        'Q2\tApple\t\n'
        'Q3\t"Quoted"\t\n',
        encoding="utf8",
    )
    kb = KnowledgeBase.from_file(path)
    assert kb.ids == ["Q1", "Q2", "Q3"]
    assert kb.names == ['"Big Blue', "Apple", '"Quoted"']


def test_tsv_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "kb.tsv"
    path.write_bytes("\ufeffid\tname\r\nQ1\tIBM\r\n".encode("utf8"))
    kb = KnowledgeBase.from_file(path)
    assert kb.ids == ["Q1"] and kb.names == ["IBM"]


def test_csv_standard_quoting(tmp_path):
    """CSV keeps RFC 4180 quoting: quoted commas and doubled quotes, and a
    quoted line break inside one cell."""
    path = tmp_path / "kb.csv"
    path.write_text('id,name,aliases\nQ1,"Arthritis, Rheumatoid","RA|""RA"""\nQ2,"two\nlines",\nQ3,x,\n')
    kb = KnowledgeBase.from_file(path)
    assert kb.ids == ["Q1", "Q2", "Q3"]
    assert set(kb.get_aliases("Q1")) == {"Arthritis, Rheumatoid", "RA", '"RA"'}


def test_csv_unbalanced_quote_is_an_error(tmp_path):
    path = tmp_path / "kb.csv"
    path.write_text('id,name\nQ1,"IBM\nQ2,Apple\nQ3,"Quoted",x\n')
    with pytest.raises(KBFormatError, match=r"kb\.csv:2: malformed CSV row"):
        KnowledgeBase.from_file(path)
