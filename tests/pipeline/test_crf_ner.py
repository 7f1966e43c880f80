import numpy
import pytest
import spacy
from spacy.lang.en import English
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import make_tempdir

from util import ENT_DATA, make_examples, train


@pytest.mark.parametrize("scheme", ["BIO", "BILUO"])
def test_overfitting(scheme):
    nlp = English()
    nlp.add_pipe("crf_ner", config={"scheme": scheme})
    examples = make_examples(nlp)
    losses = train(nlp, examples, steps=60)
    assert losses["crf_ner"] < 0.5
    texts = [text for text, _ in ENT_DATA]
    expected = [
        [(text[s:e], label) for s, e, label in ann["entities"]] for text, ann in ENT_DATA
    ]
    docs = [nlp(text) for text in texts]
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == expected
    for doc in docs:
        for ent in doc.ents:
            assert 0.5 < ent._.crf_confidence <= 1.0
    scores = nlp.evaluate(examples)
    assert scores["ents_f"] == 1.0
    assert set(scores["ents_per_type"]) == {"PERSON", "LOC"}
    # nlp.pipe == nlp()
    piped = list(nlp.pipe(texts, batch_size=3))
    for a, b in zip(docs, piped):
        assert [(e.start, e.end, e.label_) for e in a.ents] == [(e.start, e.end, e.label_) for e in b.ents]
        assert [e._.crf_confidence for e in a.ents] == pytest.approx([e._.crf_confidence for e in b.ents], abs=1e-6)
    # save, reload, identical output
    with make_tempdir() as d:
        nlp.to_disk(d)
        nlp2 = spacy.load(d)
        for text, doc in zip(texts, docs):
            doc2 = nlp2(text)
            assert [(e.start, e.end, e.label_) for e in doc2.ents] == [(e.start, e.end, e.label_) for e in doc.ents]
            assert [e._.crf_confidence for e in doc2.ents] == pytest.approx([e._.crf_confidence for e in doc.ents], abs=1e-6)
    # bytes round trip
    nlp3 = English()
    nlp3.add_pipe("crf_ner", config={"scheme": scheme})
    nlp3.from_bytes(nlp.to_bytes())
    assert [(e.text, e.label_) for e in nlp3(texts[2]).ents] == expected[2]


def test_no_labels_raises():
    nlp = English()
    nlp.add_pipe("crf_ner")
    examples = make_examples(nlp, [("Nothing here.", {"entities": []})])
    with pytest.raises(ValueError, match=r"\[crf_ner\] No labels"):
        nlp.initialize(get_examples=lambda: examples)


def test_implicit_labels():
    nlp = English()
    ner = nlp.add_pipe("crf_ner")
    examples = make_examples(nlp)
    nlp.initialize(get_examples=lambda: examples)
    assert ner.labels == ("LOC", "PERSON")
    assert ner.tags[0] == "O" and "U-LOC" in ner.tags


def test_explicit_labels():
    nlp = English()
    ner = nlp.add_pipe("crf_ner", config={"scheme": "BIO"})
    ner.add_label("PERSON")
    ner.add_label("LOC")
    examples = make_examples(nlp)
    nlp.initialize(get_examples=lambda: examples)
    assert ner.labels == ("PERSON", "LOC")
    assert ner.tags == ["O", "B-PERSON", "I-PERSON", "B-LOC", "I-LOC"]


ORG_DATA = [
    ("I work at Acme Group now.", {"entities": [(10, 20, "ORG")]}),
    ("Shaka Khan joined Acme Group today.", {"entities": [(0, 10, "PERSON"), (18, 28, "ORG")]}),
]


def test_add_label_after_initialize_resizes_and_keeps_weights():
    nlp = English()
    ner = nlp.add_pipe("crf_ner", config={"scheme": "BIO"})
    examples = make_examples(nlp)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(20):
        nlp.update(examples, sgd=optimizer)
    old_tags = list(ner.tags)
    W_old = ner.model.get_ref("output").get_param("W").copy()
    T_old = ner.crf.get_param("transitions").copy()
    before = [(e.text, e.label_) for e in nlp("Sarah Jane Smith flew to Paris.").ents]
    assert ner.add_label("ORG") == 1
    assert ner.add_label("ORG") == 0
    assert ner.tags == old_tags + ["B-ORG", "I-ORG"]
    K = len(ner.tags)
    assert ner.model.get_ref("output").get_param("W").shape[0] == K
    assert ner.crf.get_param("transitions").shape == (K, K)
    assert ner.crf.attrs["tags"] == ner.tags
    new = {t: i for i, t in enumerate(ner.tags)}
    for i, t in enumerate(old_tags):
        assert (ner.model.get_ref("output").get_param("W")[new[t]] == W_old[i]).all()
        for j, u in enumerate(old_tags):
            assert ner.crf.get_param("transitions")[new[t], new[u]] == T_old[i, j]
    # the scheme's constraints cover the new tags: I-ORG never follows B-LOC
    from spacy_crf_ner.layers.crf import constrained_scores

    trans, start, _ = constrained_scores(ner.crf)
    assert trans[new["B-LOC"], new["I-ORG"]] == -numpy.inf and start[new["I-ORG"]] == -numpy.inf
    assert [(e.text, e.label_) for e in nlp("Sarah Jane Smith flew to Paris.").ents] == before
    # training continues, with the same optimizer, and learns the new label
    examples += make_examples(nlp, ORG_DATA)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    doc = nlp("Shaka Khan joined Acme Group today.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("Acme Group", "ORG")]
    with make_tempdir() as d:
        nlp.to_disk(d)
        loaded = spacy.load(d)
        assert loaded.get_pipe("crf_ner").tags == ner.tags
        assert [(e.text, e.label_) for e in loaded("Shaka Khan joined Acme Group today.").ents] == [
            (e.text, e.label_) for e in doc.ents
        ]


def test_rehearse():
    nlp = English()
    ner = nlp.add_pipe("crf_ner")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    with pytest.raises(ValueError, match=r"\[crf_ner\] rehearse needs a teacher model: call `nlp.resume_training\(\)`"):
        nlp.rehearse(examples)
    text = "Sarah Jane Smith flew to Paris."
    before = [(e.text, e.label_) for e in nlp(text).ents]
    optimizer = nlp.resume_training()
    ner.add_label("ORG")
    raw = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t, _ in ENT_DATA]
    W = ner.model.get_ref("output").get_param("W").copy()
    for _ in range(10):
        losses = nlp.rehearse(raw, sgd=optimizer)
        nlp.update(make_examples(nlp, ORG_DATA), sgd=optimizer)
    assert losses["crf_ner"] > 0.0
    assert not (ner.model.get_ref("output").get_param("W") == W).all()
    # the teacher's answers on the old texts are kept while ORG is learned
    assert [(e.text, e.label_) for e in nlp(text).ents] == before


def test_initialize_labels_argument():
    nlp = English()
    ner = nlp.add_pipe("crf_ner")
    examples = make_examples(nlp)
    nlp.config["initialize"]["components"]["crf_ner"] = {"labels": ["PERSON", "LOC", "ORG"]}
    nlp.initialize(get_examples=lambda: examples)
    assert ner.labels == ("PERSON", "LOC", "ORG")


def test_unknown_gold_label_is_an_error():
    nlp = English()
    ner = nlp.add_pipe("crf_ner")
    ner.add_label("PERSON")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    with pytest.raises(ValueError, match=r"\[crf_ner\] The gold tag 'U-LOC'"):
        nlp.update(examples, sgd=optimizer)


def test_partial_annotation_does_not_teach_outside():
    """Tokens with missing annotation are summed over: a doc annotated only on
    'Berlin' must not push 'London' towards O."""
    nlp = English()
    ner = nlp.add_pipe("crf_ner")
    full = make_examples(nlp)
    doc = nlp.make_doc("I like London and Berlin.")
    ref = doc.copy()
    ref.set_ents([Span(ref, 4, 5, "LOC")], missing=[ref[2:3]], default="outside")
    partial = Example(doc, ref)
    aligned = partial.get_aligned_ner()
    assert aligned[2] is None and aligned[4] == "U-LOC"
    nlp.initialize(get_examples=lambda: full)
    O = ner.tags.index("O")
    _, d_partial = ner.get_loss([partial], ner.model.predict([partial.predicted]))
    # the same doc with London annotated as O: the gradient pushes towards O
    as_o = Example.from_dict(nlp.make_doc(doc.text), {"entities": [(18, 24, "LOC")]})
    _, d_outside = ner.get_loss([as_o], ner.model.predict([as_o.predicted]))
    assert d_outside[0][2, O] < -0.5
    assert abs(d_partial[0][2, O]) < 0.25
    assert d_partial[0][2].sum() == pytest.approx(0.0, abs=1e-5)
    # known tokens get the full gradient either way
    numpy.testing.assert_allclose(d_partial[0][4], d_outside[0][4], atol=0.2)
    # with everything missing the loss and gradient are exactly zero
    blank = Example(nlp.make_doc("I like London."), nlp.make_doc("I like London."))
    loss0, d0 = ner.get_loss([blank], ner.model.predict([blank.predicted]))
    assert loss0 == pytest.approx(0.0, abs=1e-5)
    assert numpy.abs(d0[0]).max() < 1e-5
    # and partially annotated docs train
    optimizer = nlp.resume_training()
    for _ in range(5):
        losses = nlp.update(full + [partial], sgd=optimizer)
    assert numpy.isfinite(losses["crf_ner"])


def test_preset_entities_are_kept():
    nlp = English()
    ruler = nlp.add_pipe("entity_ruler")
    nlp.add_pipe("crf_ner")
    train(nlp, make_examples(nlp), steps=40)
    # (initialize resets the ruler, so its patterns come after training)
    ruler.add_patterns([{"label": "PERSON", "pattern": "Paris"}, {"label": "GPE", "pattern": "Mars"}])
    doc = nlp("Sarah Jane Smith flew to Paris and Mars.")
    ents = [(e.text, e.label_) for e in doc.ents]
    # the ruler's Paris/PERSON wins over the model's Paris/LOC; GPE is not a
    # crf_ner label and is kept as set
    assert ("Paris", "PERSON") in ents
    assert ("Mars", "GPE") in ents
    assert ("Sarah Jane Smith", "PERSON") in ents


def test_preset_entity_is_not_extended():
    nlp = English()
    nlp.add_pipe("crf_ner", config={"scheme": "BIO"})
    train(nlp, make_examples(nlp), steps=40)
    doc = nlp.make_doc("Sarah Jane Smith flew to Paris.")
    doc.ents = [Span(doc, 0, 1, "PERSON")]
    doc = nlp.get_pipe("crf_ner")(doc)
    assert (0, 1, "PERSON") in [(e.start, e.end, e.label_) for e in doc.ents]
    assert all(e.start >= 1 or e.end == 1 for e in doc.ents)


def test_empty_and_whitespace_docs():
    nlp = English()
    nlp.add_pipe("crf_ner")
    train(nlp, make_examples(nlp), steps=5)
    assert len(nlp("").ents) == 0
    doc = nlp("   \n  ")
    assert len(doc.ents) == 0
    docs = list(nlp.pipe(["", "Shaka Khan", "  ", "London"]))
    assert len(docs) == 4
    # an update on an empty doc is a no-op
    ex = Example.from_dict(nlp.make_doc(""), {"entities": []})
    assert nlp.update([ex])["crf_ner"] == 0.0


def test_long_doc():
    nlp = English()
    nlp.add_pipe("crf_ner")
    train(nlp, make_examples(nlp), steps=10)
    words = ["Shaka", "Khan", "likes", "London", "."] * 1000
    doc = nlp(Doc(nlp.vocab, words=words))
    assert len(doc) == 5000
    for ent in doc.ents:
        assert 0.0 <= ent._.crf_confidence <= 1.0


@pytest.fixture(scope="module")
def nlp_low_threshold():
    nlp = English()
    nlp.add_pipe("crf_ner", config={"span_threshold": 0.01})
    train(nlp, make_examples(nlp), steps=25)
    return nlp


def test_confidences_and_span_group(nlp_low_threshold):
    nlp = nlp_low_threshold
    doc = nlp("Sarah Jane Smith flew to Paris and Berlin.")
    group = doc.spans["crf_spans"]
    scores = group.attrs["scores"]
    assert len(group) == len(scores) > 0
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert all(s >= 0.01 for s in scores)
    by_span = {(s.start, s.end, s.label_): float(p) for s, p in zip(group, scores)}
    for ent in doc.ents:
        assert by_span[(ent.start, ent.end, ent.label_)] == pytest.approx(ent._.crf_confidence)
    # spans that cover a token can't be more likely, together, than 1
    for i in range(len(doc)):
        assert sum(p for (s, e, _), p in by_span.items() if s <= i < e) <= 1.0 + 1e-5


def test_span_probabilities_are_the_confidences(nlp_low_threshold):
    nlp = nlp_low_threshold
    ner = nlp.get_pipe("crf_ner")
    texts = ["Sarah Jane Smith flew to Paris and Berlin.", "", "Who is Shaka Khan?"]
    docs = [nlp(text) for text in texts]
    batch = ner.predict([nlp.make_doc(text) for text in texts])
    spans = ner.predicted_spans(batch)
    assert spans == [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs]
    probs = ner.span_probabilities(batch, spans)
    assert [len(p) for p in probs] == [len(s) for s in spans] == [3, 0, 1]
    assert sum(probs, []) == pytest.approx([e._.crf_confidence for doc in docs for e in doc.ents])
    # a span that is not an entity has a probability too, and the one of the
    # first entity's first token alone is lower than the entity's
    first = spans[0][0]
    partial = ner.span_probabilities(batch, [[(first[0], first[0] + 1, first[2])], [], []])
    assert 0.0 <= partial[0][0] < probs[0][0]
    # at another temperature the scores are reused, not the posteriors
    hot = ner.span_probabilities(batch.select([0, 2]), [spans[0], spans[2]], temperature=3.0)
    assert all(h < p for h, p in zip(hot[0] + hot[1], probs[0] + probs[2]))
    same = ner.span_probabilities(batch.select([0, 2]), [spans[0], spans[2]])
    assert sum(same, []) == pytest.approx(probs[0] + probs[2])
    with pytest.raises(ValueError, match=r"\[crf_ner\] span_probabilities got spans for 1 docs"):
        ner.span_probabilities(batch, [spans[0]])
    # the component's temperature is the default one
    ner.temperature = 3.0
    try:
        assert sum(ner.span_probabilities(batch.select([0, 2]), [spans[0], spans[2]]), []) == pytest.approx(
            hot[0] + hot[1]
        )
        # posteriors the batch holds at another temperature are not used
        assert sum(ner.span_probabilities(batch, spans), []) == pytest.approx(hot[0] + hot[1])
    finally:
        ner.temperature = 1.0
    with pytest.raises(ValueError, match=r"\[crf_ner\] temperature must be positive"):
        ner.temperature = 0.0


def test_spans_key_none():
    nlp = English()
    nlp.add_pipe("crf_ner", config={"spans_key": None})
    train(nlp, make_examples(nlp), steps=2)
    assert "crf_spans" not in nlp("Shaka Khan").spans


def test_bad_config_errors():
    nlp = English()
    with pytest.raises(ValueError, match="Unknown tag scheme 'IOB9'"):
        nlp.add_pipe("crf_ner", config={"scheme": "IOB9"})
    with pytest.raises(ValueError, match="span_threshold"):
        nlp.add_pipe("crf_ner", name="x", config={"span_threshold": 2.0})


def test_multiprocess_pipe():
    nlp = English()
    nlp.add_pipe("crf_ner")
    train(nlp, make_examples(nlp), steps=40)
    texts = [t for t, _ in ENT_DATA] * 2
    single = [[(e.text, e.label_, e._.crf_confidence) for e in d.ents] for d in nlp.pipe(texts)]
    multi = [[(e.text, e.label_, e._.crf_confidence) for e in d.ents] for d in nlp.pipe(texts, n_process=2, batch_size=2)]
    assert [[x[:2] for x in d] for d in single] == [[x[:2] for x in d] for d in multi]
    for a, b in zip(single, multi):
        assert [x[2] for x in a] == pytest.approx([x[2] for x in b], abs=1e-6)


def test_settings_given_at_load_time_take_effect():
    nlp = English()
    nlp.add_pipe("crf_ner")
    train(nlp, make_examples(nlp), steps=10)
    with make_tempdir() as d:
        nlp.to_disk(d)
        overrides = {"span_threshold": 0.6, "temperature": 2.5, "spans_key": "probable"}
        loaded = spacy.load(d, config={"components": {"crf_ner": overrides}})
        ner = loaded.get_pipe("crf_ner")
        for key, value in overrides.items():
            assert ner.cfg[key] == value
            assert loaded.config["components"]["crf_ner"][key] == value
        assert ner.labels == nlp.get_pipe("crf_ner").labels
        doc = loaded("Sarah Jane Smith flew to Paris.")
        assert all(s >= 0.6 for s in doc.spans["probable"].attrs["scores"])
        # from_bytes too
        ner2 = English().add_pipe("crf_ner", config={"span_threshold": 0.3})
        ner2.from_bytes(nlp.get_pipe("crf_ner").to_bytes())
        assert ner2.cfg["span_threshold"] == 0.3 and ner2.labels == ner.labels


def test_saved_temperature_differing_from_config_is_reported(caplog):
    """A pipeline calibrated before `calibrate` wrote the config: the config
    decides, and the saved value is named in a warning."""
    import srsly

    nlp = English()
    nlp.add_pipe("crf_ner")
    train(nlp, make_examples(nlp), steps=2)
    with make_tempdir() as d:
        nlp.to_disk(d)
        cfg = srsly.read_json(d / "crf_ner" / "cfg")
        cfg["temperature"] = 1.7
        srsly.write_json(d / "crf_ner" / "cfg", cfg)
        # Such pipelines were saved before components wrote checksums.
        (d / "crf_ner" / "checksums.json").unlink()
        with caplog.at_level("WARNING", logger="spacy_crf_ner"):
            loaded = spacy.load(d)
    assert loaded.get_pipe("crf_ner").cfg["temperature"] == 1.0
    assert "[crf_ner] Using temperature = 1.0 from the pipeline's config, not the 1.7" in caplog.text
    assert "temperature = 1.7 in config.cfg" in caplog.text


def make_uncertain(nlp, ner):
    """Emissions that say "some entity" everywhere but never which: every
    token may open or continue an entity of either label."""
    nlp.initialize(get_examples=lambda: make_examples(nlp))
    out = ner.model.get_ref("output")
    out.set_param("W", numpy.zeros_like(out.get_param("W")))
    b = numpy.zeros_like(out.get_param("b"))
    b[ner.tags.index("O")] = -10.0
    out.set_param("b", b)


@pytest.mark.parametrize(
    "scheme,repeats",
    [("BIO", 500), ("BILUO", 500), pytest.param("BILUO", 8500, marks=pytest.mark.slow)],
)
def test_span_search_linear_on_uncertain_doc(scheme, repeats, monkeypatch):
    from spacy_crf_ner.layers.posteriors import CRFPosteriors

    nlp = English()
    ner = nlp.add_pipe("crf_ner", config={"scheme": scheme})
    make_uncertain(nlp, ner)
    steps = []
    search = CRFPosteriors.probable_spans

    def spy(self, b, labels, threshold):
        found = search(self, b, labels, threshold)
        steps.append(self.search_steps)
        return found

    monkeypatch.setattr(CRFPosteriors, "probable_spans", spy)
    words = ["🤖", "⟨", "ℵ", "∰", "🙃", "§"] * repeats
    doc = nlp(Doc(nlp.vocab, words=words))
    T = len(doc)
    group = doc.spans["crf_spans"]
    # ~2 spans per token pass the threshold, and ~6 steps per token find them
    assert 1.5 * T <= len(group) <= 3 * T
    assert len(steps) == 1
    assert steps[0] <= T * (1 + len(ner.labels) / ner.cfg["span_threshold"])
    for ent in doc.ents:
        assert 0.0 <= ent._.crf_confidence <= 1.0


def test_entities_over_whitespace_are_counted_at_initialize(caplog):
    nlp = English()
    nlp.add_pipe("crf_ner")
    data = ENT_DATA + [("I saw New \n York and New \n Delhi.", {"entities": [(6, 16, "LOC"), (21, 32, "LOC")]})]
    examples = make_examples(nlp, data)
    assert any(t.is_space for t in examples[-1].reference.ents[0])
    with caplog.at_level("WARNING", logger="spacy_crf_ner"):
        nlp.initialize(get_examples=lambda: examples)
    messages = [r.getMessage() for r in caplog.records if "whitespace" in r.getMessage()]
    assert len(messages) == 1
    assert "2 gold entities cover whitespace tokens" in messages[0] and "New \\n York" in messages[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="spacy_crf_ner"):
        nlp.initialize(get_examples=lambda: make_examples(nlp))
    assert not [r for r in caplog.records if "whitespace" in r.getMessage()]


def test_damaged_weights_give_a_clear_error(tmp_path):
    nlp = English()
    ner = nlp.add_pipe("crf_ner")
    train(nlp, make_examples(nlp), steps=2)
    data = ner.to_bytes()
    fresh = English().add_pipe("crf_ner")
    with pytest.raises(ValueError, match=r"\[crf_ner\] cannot"):
        fresh.from_bytes(data[: len(data) // 2])
    ner.to_disk(tmp_path / "ner")
    model = tmp_path / "ner" / "model"
    model.write_bytes(model.read_bytes()[:100])
    (tmp_path / "ner" / "checksums.json").unlink()
    with pytest.raises(ValueError, match=r"\[crf_ner\] cannot load the weights in .*model"):
        English().add_pipe("crf_ner").from_disk(tmp_path / "ner", exclude=["vocab"])
