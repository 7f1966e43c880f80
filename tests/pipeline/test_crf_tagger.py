import pytest
import spacy
from spacy.lang.en import English
from spacy.training import Example
from spacy.util import make_tempdir

from util import TAG_DATA, make_examples


def test_overfitting():
    nlp = English()
    tagger = nlp.add_pipe("crf_tagger")
    examples = make_examples(nlp, TAG_DATA)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    assert tagger.labels == ("J", "N", "V")
    for _ in range(50):
        losses = nlp.update(examples, sgd=optimizer)
    assert losses["crf_tagger"] < 0.5
    doc = nlp("I like blue eggs")
    assert [t.tag_ for t in doc] == ["N", "V", "J", "N"]
    assert nlp.evaluate(examples)["tag_acc"] == 1.0
    texts = ["I like blue eggs", "Eat green ham"]
    assert [[t.tag_ for t in d] for d in nlp.pipe(texts)] == [[t.tag_ for t in nlp(x)] for x in texts]
    with make_tempdir() as d:
        nlp.to_disk(d)
        nlp2 = spacy.load(d)
        assert [t.tag_ for t in nlp2("I like blue eggs")] == ["N", "V", "J", "N"]


def test_pos_attr():
    nlp = English()
    nlp.add_pipe("crf_tagger", config={"attr": "pos"})
    data = [("I like eggs", {"pos": ["PRON", "VERB", "NOUN"]}), ("Eat ham", {"pos": ["VERB", "NOUN"]})]
    examples = make_examples(nlp, data)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(50):
        nlp.update(examples, sgd=optimizer)
    assert [t.pos_ for t in nlp("I like ham")] == ["PRON", "VERB", "NOUN"]
    assert nlp.evaluate(examples)["pos_acc"] == 1.0


def test_missing_tags_train():
    nlp = English()
    nlp.add_pipe("crf_tagger")
    data = TAG_DATA + [("I like ham", {"tags": ["N", "", "N"]})]
    examples = make_examples(nlp, data)
    assert examples[-1].get_aligned("TAG", as_string=True)[1] in (None, "")
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(50):
        nlp.update(examples, sgd=optimizer)
    assert [t.tag_ for t in nlp("I like ham")] == ["N", "V", "N"]


def test_no_labels_and_bad_attr():
    nlp = English()
    nlp.add_pipe("crf_tagger")
    examples = [Example.from_dict(nlp.make_doc("No tags"), {})]
    with pytest.raises(ValueError, match=r"\[crf_tagger\] No labels"):
        nlp.initialize(get_examples=lambda: examples)
    with pytest.raises(ValueError, match="Unsupported attr 'lemma'"):
        English().add_pipe("crf_tagger", config={"attr": "lemma"})


def test_explicit_labels():
    nlp = English()
    tagger = nlp.add_pipe("crf_tagger")
    for label in ("V", "N", "J"):
        tagger.add_label(label)
    nlp.initialize(get_examples=lambda: make_examples(nlp, TAG_DATA))
    assert tagger.labels == ("V", "N", "J")


def test_add_label_after_initialize():
    nlp = English()
    tagger = nlp.add_pipe("crf_tagger")
    examples = make_examples(nlp, TAG_DATA)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    assert tagger.add_label("D") == 1
    assert tagger.tags == ["J", "N", "V", "D"]
    assert tagger.crf.get_param("transitions").shape == (4, 4)
    assert [t.tag_ for t in nlp("I like blue eggs")] == ["N", "V", "J", "N"]
    examples += make_examples(nlp, [("Eat the ham", {"tags": ["V", "D", "N"]})])
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    assert [t.tag_ for t in nlp("Eat the eggs")] == ["V", "D", "N"]
