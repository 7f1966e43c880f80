import numpy
import spacy

from spacy_crf_ner.architectures import resize_emission_scorer


def test_resize_emission_scorer_maps_tags_by_name():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("crf_ner", config={"scheme": "BIO"})
    ner.add_label("A")
    nlp.initialize()
    model = ner.model
    old_tags = list(ner.tags)  # O, B-A, I-A
    rng = numpy.random.default_rng(0)
    output = model.get_ref("output")
    output.set_param("W", rng.normal(size=output.get_param("W").shape).astype("float32"))
    output.set_param("b", rng.normal(size=output.get_param("b").shape).astype("float32"))
    W, b = output.get_param("W").copy(), output.get_param("b").copy()
    new_tags = ["O", "B-B", "I-B", "B-A", "I-A"]  # a new label first: the old tags move
    resize_emission_scorer(model, new_tags, "BIO")
    new_output = model.get_ref("output")
    assert new_output is not output and new_output.get_dim("nO") == 5
    assert model.get_ref("crf").attrs["tags"] == new_tags
    for i, tag in enumerate(new_tags):
        if tag in old_tags:
            j = old_tags.index(tag)
            assert (new_output.get_param("W")[i] == W[j]).all() and new_output.get_param("b")[i] == b[j]
        else:
            assert not new_output.get_param("W")[i].any() and new_output.get_param("b")[i] == 0
    # the model runs end to end with the new width
    scores = model.predict([nlp.make_doc("a b c")])
    assert scores[0].shape == (3, 5)
