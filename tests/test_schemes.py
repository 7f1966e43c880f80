import pytest

from spacy_crf_ner.schemes import (
    allowed_transitions,
    biluo_to_scheme,
    iob1_to_bio,
    spans_to_tags,
    tag_names,
    tags_to_spans,
)


def test_tag_names():
    assert tag_names("BIO", ["PER"]) == ["O", "B-PER", "I-PER"]
    assert tag_names("BIOES", ["PER"]) == ["O", "B-PER", "I-PER", "L-PER", "U-PER"]
    assert tag_names("tags", ["NN", "VB"]) == ["NN", "VB"]
    with pytest.raises(ValueError, match="Unknown tag scheme 'IOB3'"):
        tag_names("IOB3", ["PER"])


def test_bio_constraints():
    tags = tag_names("BIO", ["PER", "LOC"])
    trans, start, end = allowed_transitions("BIO", tags)
    i = tags.index
    assert not start[i("I-PER")] and start[i("B-PER")] and start[i("O")]
    assert not trans[i("O"), i("I-PER")]
    assert not trans[i("B-LOC"), i("I-PER")]
    assert trans[i("B-PER"), i("I-PER")] and trans[i("I-PER"), i("I-PER")]
    assert trans[i("I-PER"), i("B-PER")] and trans[i("I-PER"), i("O")]
    assert end.all()


def test_biluo_constraints():
    tags = tag_names("BILUO", ["PER", "LOC"])
    trans, start, end = allowed_transitions("BILUO", tags)
    i = tags.index
    assert start[i("U-PER")] and not start[i("L-PER")] and not start[i("I-PER")]
    assert end[i("L-PER")] and end[i("U-PER")] and not end[i("B-PER")] and not end[i("I-PER")]
    assert trans[i("B-PER"), i("L-PER")] and not trans[i("B-PER"), i("O")]
    assert not trans[i("B-PER"), i("L-LOC")]
    assert trans[i("L-PER"), i("U-LOC")] and not trans[i("U-PER"), i("I-PER")]


def test_tags_constraints_are_free():
    trans, start, end = allowed_transitions("tags", ["NN", "VB"])
    assert trans.all() and start.all() and end.all()


@pytest.mark.parametrize("scheme", ["BIO", "BILUO"])
def test_round_trip(scheme):
    spans = [(0, 2, "PER"), (2, 3, "PER"), (5, 6, "LOC")]
    tags = spans_to_tags(7, spans, scheme)
    assert tags_to_spans(tags, scheme) == spans


def test_spans_to_tags_rejects_overlap():
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_tags(4, [(0, 2, "A"), (1, 3, "B")], "BIO")


def test_iob1_to_bio():
    assert iob1_to_bio(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG",
    ]


def test_biluo_to_scheme_keeps_missing():
    assert biluo_to_scheme(["U-PER", None, "B-LOC", "L-LOC", "-", "O"], "BIO") == [
        "B-PER", None, "B-LOC", "I-LOC", None, "O",
    ]
    assert biluo_to_scheme(["U-PER", None], "BIOES") == ["U-PER", None]


@pytest.mark.parametrize(
    "tags,scheme,bad",
    [
        (["B-PER", "X-LOC", "O"], "IOB1", 1),
        (["O", "B_LOC", "I-LOC"], "BIO", 1),
        (["O", "I-X"], "BIO", 1),
        (["B-LOC", "I-PER"], "BIO", 1),
        (["O", "I-X"], "IOB2", 1),
        (["B-LOC", "O"], "BILUO", 0),
        (["U-LOC", "L-LOC"], "BILUO", 1),
        (["B-LOC", "I-LOC"], "BIOES", 1),
        (["B-"], "BIO", 0),
        (["b-LOC"], "BIO", 0),
    ],
)
def test_find_invalid_tag(tags, scheme, bad):
    from spacy_crf_ner.schemes import find_invalid_tag

    found = find_invalid_tag(tags, scheme)
    assert found is not None and found[0] == bad


@pytest.mark.parametrize(
    "tags,scheme",
    [
        (["O", "I-X", "I-X", "B-X", "O"], "IOB1"),
        (["B-X", "I-X", "B-Y", "O", "B-X"], "BIO"),
        (["B-X", "I-X", "L-X", "U-Y", "O", "S-Z", "B-Z", "E-Z"], "BILUO"),
        ([], "BIO"),
    ],
)
def test_valid_tags(tags, scheme):
    from spacy_crf_ner.schemes import find_invalid_tag

    assert find_invalid_tag(tags, scheme) is None
