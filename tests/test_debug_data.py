from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from typer.testing import CliRunner

from spacy_crf_ner.cli import app
from spacy_crf_ner.debug_data import check_iob_file, debug_data

CONFIGS = Path(__file__).parent.parent / "configs"


def _doc(nlp, words, ents, spaces=None, missing=()):
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    doc.set_ents([Span(doc, s, e, label) for s, e, label in ents], default="outside")
    if missing:
        doc.set_ents([], missing=[doc[i : i + 1] for i in missing], default="unmodified")
    return doc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    nlp = spacy.blank("en")
    path = tmp_path_factory.mktemp("corpus")
    train = [
        _doc(nlp, ["Shaka", "Khan", "flew", "to", "Paris", "."], [(0, 2, "PERSON"), (4, 5, "LOC")]),
        # an entity over a whitespace token inside it
        _doc(nlp, ["Sarah", "\n", "Smith", "came", "."], [(0, 3, "PERSON")], spaces=[False, False, True, True, False]),
        # partially annotated: 2 tokens missing
        _doc(nlp, ["I", "like", "London", "and", "Berlin", "."], [(2, 3, "LOC")], missing=(4, 5)),
        # an entity crossing a sentence boundary
        _doc(nlp, ["He", "met", "Ann", ".", "Lee", "left"], [(2, 5, "PERSON")]),
    ]
    train[3][4].is_sent_start = True
    for i in range(1, 4):
        train[3][i].is_sent_start = False
    dev = [_doc(nlp, ["Acme", "hired", "Bob"], [(0, 1, "ORG"), (2, 3, "PERSON")])]
    DocBin(docs=train).to_disk(path / "train.spacy")
    DocBin(docs=dev).to_disk(path / "dev.spacy")
    return path


def test_debug_data_reports_crf_ner_checks(corpus):
    overrides = {"paths.train": str(corpus / "train.spacy"), "paths.dev": str(corpus / "dev.spacy")}
    found = debug_data(CONFIGS / "crf_ner_cnn.cfg", overrides=overrides, silent=True)["crf_ner"]
    assert found["labels"] == {"LOC": 2, "PERSON": 3}
    assert found["dev_labels_unseen"] == ["ORG"]
    assert found["missing_values"] == 2
    assert found["ents_over_whitespace"] == 1
    assert found["boundary_cross_ents"] == 1
    assert found["missing_tokens"] == 2 and found["partially_annotated_docs"] == 1
    assert found["partial_share"] == pytest.approx(2 / 23)
    assert found["invalid_tag_sequences"] == 0
    assert "docs_longer_than_window" not in found  # no transformer


def test_invalid_tag_sequences_after_alignment(tmp_path):
    from spacy.training import Example

    from spacy_crf_ner.debug_data import invalid_tag_sequences

    nlp = spacy.blank("en")
    # the gold entity ends inside the predicted token "Khan's": aligned as
    # B-PERSON followed by a missing value, which is fine
    eg = Example.from_dict(nlp.make_doc("Shaka Khan flew"), {"entities": [(0, 10, "PERSON")]})
    assert invalid_tag_sequences([eg], "BILUO", ["PERSON"]) == []


    class Aligned:
        """Gold tags as an aligner could hand them over (spaCy's Doc refuses
        to hold such a sequence)."""

        def __init__(self, tags):
            self.reference = nlp.make_doc("Shaka Khan flew to Paris")
            self.tags = tags

        def get_aligned_ner(self):
            return self.tags

    bad = Aligned(["I-PERSON", "L-PERSON", "O", None, "B-PERSON"])
    found = invalid_tag_sequences([bad], "BILUO", ["PERSON"])
    assert found == [
        "<start> -> I-PERSON at token 0 ('Shaka') in 'Shaka Khan flew to Paris'",
        "B-PERSON -> <end> at token 4 ('Paris') in 'Shaka Khan flew to Paris'",
    ]
    # BIO: I-X after a missing value is not counted
    assert invalid_tag_sequences([Aligned(["O", None, "I-PERSON", "O", "O"])], "BIO", ["PERSON"]) == []


def test_iob_file_check(tmp_path):
    from wasabi import Printer

    path = tmp_path / "train.iob"
    path.write_text("-DOCSTART- O\n\nEU I-ORG\nrejects O\nGerman I-MISC\ncall O\n\nPeter B-PER\nBlackburn I-PER\nX Q-PER\n")
    found = check_iob_file(path, Printer(no_print=True))
    assert found == {"tags": 7, "invalid_bio": 2, "malformed": 1}
    path.write_text("EU|B-ORG rejects|O German|B-MISC call|I-MISC\n")
    assert check_iob_file(path, Printer(no_print=True)) == {"tags": 4, "invalid_bio": 0, "malformed": 0}


def test_debug_data_command(corpus, tmp_path):
    iob = tmp_path / "x.iob"
    iob.write_text("EU I-ORG\nrejects O\n")
    result = CliRunner().invoke(
        app,
        [
            "debug-data",
            str(CONFIGS / "crf_ner_cnn.cfg"),
            "--iob",
            str(iob),
            "--paths.train",
            str(corpus / "train.spacy"),
            "--paths.dev",
            str(corpus / "dev.spacy"),
        ],
    )
    assert result.exit_code == 1, result.output  # checks failed, as spacy debug data exits
    assert "Named Entity Recognition: crf_ner" in result.output
    assert "never seen in training" in result.output and "ORG" in result.output
    assert "contain a whitespace token" in result.output
    assert "have no NER annotation" in result.output
    assert "invalid BIO" in result.output
    assert "errors" in result.output.split("Summary")[-1]


def test_debug_data_reports_reader_drops(tmp_path):
    from spacy.util import load_config

    pubtator = tmp_path / "train.pubtator"
    pubtator.write_text(
        "1|t|Breast cancer and ovarian cancer.\n"
        "1|a|Breast cancer risk.\n"
        "1\t0\t13\tBreast cancer\tDisease\tD1\n"
        "1\t7\t13\tcancer\tDisease\tD2\n"
        "1\t18\t32\tovarian cancer\tDisease\tD3\n"
        "\n"
    )
    config = load_config(CONFIGS / "crf_ner_cnn.cfg")
    for name in ("train", "dev"):
        config["corpora"][name] = {"@readers": "spacy-crf-ner.PubTatorCorpus.v1", "path": str(pubtator)}
    config.to_disk(tmp_path / "config.cfg")
    found = debug_data(tmp_path / "config.cfg", silent=True)
    # read twice (train and dev), one overlapping mention dropped each time
    assert found["reader"]["dropped_overlapping"] == 2
    assert found["crf_ner"]["labels"] == {"Disease": 2}


def test_transformer_window():
    pytest.importorskip("spacy_transformers")
    from spacy.util import load_config

    from spacy_crf_ner.debug_data import transformer_window

    trf = load_config(CONFIGS / "crf_ner_trf.cfg")

    trf["components"]["transformer"]["model"]["get_spans"]["window"] = 4
    nlp = spacy.util.load_model_from_config(trf, auto_fill=True)
    assert transformer_window(nlp) == 4


def test_docs_longer_than_window(corpus):
    from spacy.training import Corpus
    from wasabi import Printer

    from spacy_crf_ner.debug_data import check_crf_ner

    nlp = spacy.blank("en")
    nlp.add_pipe("crf_ner")
    train = list(Corpus(corpus / "train.spacy")(nlp))
    dev = list(Corpus(corpus / "dev.spacy")(nlp))
    nlp.initialize(lambda: train)
    found = check_crf_ner(nlp, "crf_ner", train, dev, Printer(no_print=True), window=5)
    # train docs of 6, 5, 6 and 6 tokens; the dev doc has 3
    assert found["docs_longer_than_window"] == 3 and found["window_unit"] == "tokens"


def test_docs_longer_than_window_in_pieces(tiny_transformer, tmp_path):
    """With a transformer, docs are measured in its subword pieces."""
    from spacy.training import Example
    from wasabi import Printer

    from spacy_crf_ner.debug_data import check_crf_ner, piece_counter

    config = spacy.util.load_config(
        CONFIGS / "crf_ner_trf.cfg", overrides={"paths.transformer": str(tiny_transformer)}, interpolate=True
    )
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    # "Shaka" is in the tiny vocabulary as characters: s ##h ##a ##k ##a
    egs = [Example.from_dict(nlp.make_doc("Shaka Khan"), {"entities": [(0, 10, "PERSON")]})]
    # a component without a model before the transformer is passed over
    nlp.add_pipe("entity_ruler", first=True)
    nlp.initialize(lambda: egs)
    count = piece_counter(nlp)
    assert count(nlp.make_doc("Shaka Khan")) > 2
    found = check_crf_ner(nlp, "crf_ner", egs, egs, Printer(no_print=True), window=3)
    assert found["window_unit"] == "subword pieces" and found["docs_longer_than_window"] == 2
