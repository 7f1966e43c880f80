from spacy_crf_ner.kb import Candidate
from spacy_crf_ner.kb.consistency import consistent


def test_doc_consistency_repeated_text_takes_better_result():
    weak = (Candidate("A", 0.7, "a"),)
    strong = (Candidate("B", 0.9, "b"),)
    other = (Candidate("C", 1.0, "c"),)
    keys = [("x", "L"), ("y", "L"), ("x", "L"), ("x", "M")]
    # Same text and label: the better result; another label is not merged.
    assert consistent([weak, other, strong, weak], keys) == [strong, other, strong, weak]
    assert consistent([weak, other], [("x", "L"), ("y", "L")]) == [weak, other]


def test_ties_go_to_an_id_named_exactly_elsewhere():
    tie = [Candidate("E1", 1.0, "Mercury"), Candidate("E2", 1.0, "Mercury")]
    named = [Candidate("E2", 1.0, "Mercury (planet)")]
    assert consistent([named, tie], [("mercury planet", "L"), ("mercury", "L")])[1][0].id == "E2"
    assert consistent([tie], [("mercury", "L")]) == [tuple(tie)]
