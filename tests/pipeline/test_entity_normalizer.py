import json
import sys
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

import spacy_crf_ner.pipeline.entity_normalizer  # noqa: F401  (registers the factory)

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"

KB_RECORDS = [
    {"id": "D1", "name": "Wilson Disease", "aliases": ["hepatolenticular degeneration"], "types": ["DISEASE"]},
    {"id": "D2", "name": "Breast Neoplasms", "aliases": ["breast cancer"], "types": ["DISEASE"]},
    {"id": "D3", "name": "Ovarian Neoplasms", "aliases": ["ovarian cancer"], "types": ["DISEASE"]},
    {"id": "D4", "name": "Arthritis, Rheumatoid", "types": ["DISEASE"]},
    {"id": "Q1", "name": "International Business Machines", "aliases": ["IBM", "IBM Corp."], "types": ["ORG"]},
    {"id": "Q2", "name": "Apple Inc.", "aliases": ["Apple"], "types": ["ORG"]},
    {"id": "Q3", "name": "apple", "aliases": ["Apple"], "types": ["FOOD"]},
    {"id": "P1", "name": "George Washington", "aliases": ["Washington"], "types": ["PER"]},
    {"id": "L1", "name": "Washington", "aliases": ["Washington State"], "types": ["LOC"]},
]

CONFIG = {"type_map": {"PERSON": ["PER"], "GPE": ["LOC"], "ORG": ["ORG"]}, "threshold": 0.6}


@pytest.fixture(scope="module")
def kb_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "kb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in KB_RECORDS), encoding="utf8")
    return path


def make_nlp(kb_path: Path, config=None, examples=None) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_normalizer", config=config if config is not None else CONFIG)
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(kb_path)}
    }
    nlp.initialize((lambda: examples) if examples is not None else None)
    return nlp


def make_ruler_nlp(kb_path: Path, patterns) -> Language:
    """An entity_ruler with these patterns, then the normalizer."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    nlp.add_pipe("entity_normalizer", config=CONFIG)
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(kb_path)}
    }
    nlp.initialize()
    ruler.add_patterns(patterns)  # after initialize, which empties the ruler
    return nlp


@pytest.fixture(scope="module")
def nlp(kb_path) -> Language:
    return make_nlp(kb_path)


def doc_with_ents(nlp: Language, text: str, ents) -> Doc:
    """ents: (substring, label) pairs, each the first occurrence after the previous one."""
    doc = nlp.make_doc(text)
    spans, pos = [], 0
    for sub, label in ents:
        start = text.index(sub, pos)
        pos = start + len(sub)
        spans.append(doc.char_span(start, pos, label=label))
    doc.ents = spans
    return doc


def link(nlp, text, ents):
    doc = nlp(doc_with_ents(nlp, text, ents))
    return [(e.text, e.kb_id_) for e in doc.ents], doc


def test_ibm_example(nlp):
    got, doc = link(
        nlp,
        "IBM Corp. is also called International Business Machines or IBM.",
        [("IBM Corp.", "ORG"), ("International Business Machines", "ORG"), ("IBM", "ORG")],
    )
    assert [kb_id for _, kb_id in got] == ["Q1", "Q1", "Q1"]
    cands = doc.ents[0]._.kb_candidates
    # Both aliases normalize to "ibm": either is the matched alias.
    assert cands[0][:2] == ("Q1", 1.0) and cands[0][2] in ("IBM", "IBM Corp.")


def test_exact_and_inverted(nlp):
    got, _ = link(nlp, "Rheumatoid arthritis and Wilson's disease.", [("Rheumatoid arthritis", "DIS"), ("Wilson's disease", "DIS")])
    assert got == [("Rheumatoid arthritis", "D4"), ("Wilson's disease", "D1")]


def test_abbreviation(kb_path, nlp):
    text = "Patients with Wilson disease (WD) were seen. All WD patients had it."
    ents = [("Wilson disease", "DIS"), ("WD", "DIS"), ("WD", "DIS")]
    got, _ = link(nlp, text, ents)
    assert got == [("Wilson disease", "D1"), ("WD", "D1"), ("WD", "D1")]
    plain = make_nlp(kb_path, {**CONFIG, "abbreviations": False})
    got, _ = link(plain, text, ents)
    assert got[1:] == [("WD", ""), ("WD", "")]


def test_fuzzy(nlp):
    got, doc = link(nlp, "Hepatolenticular degenerations were seen.", [("Hepatolenticular degenerations", "DIS")])
    assert got == [("Hepatolenticular degenerations", "D1")]
    got, doc = link(nlp, "Internatonal Busines Machines", [("Internatonal Busines Machines", "ORG")])
    assert got[0][1] == "Q1"
    assert 0.6 <= doc.ents[0]._.kb_candidates[0][1] < 1.0


def test_type_filter(nlp):
    text = "Washington met Washington officials in Washington."
    got, doc = link(nlp, text, [("Washington", "PERSON"), ("Washington", "ORG"), ("Washington", "GPE")])
    assert got[0] == ("Washington", "P1")
    assert got[2] == ("Washington", "L1")
    # No ORG is called Washington: a PER or LOC is never linked to an ORG mention.
    assert got[1] == ("Washington", "")
    assert all(c[0] not in ("P1", "L1") for c in doc.ents[1]._.kb_candidates)


def test_nil_threshold(nlp):
    got, doc = link(nlp, "Foobarium syndrome was seen.", [("Foobarium syndrome", "DIS")])
    assert got == [("Foobarium syndrome", "")]
    assert all(score < 0.6 for _, score, _ in doc.ents[0]._.kb_candidates)


def test_ambiguous_alias(kb_path):
    nlp = make_nlp(kb_path)
    got, doc = link(nlp, "Apple released it.", [("Apple", "MISC")])
    cands = doc.ents[0]._.kb_candidates
    assert {c[0] for c in cands[:2]} == {"Q2", "Q3"}
    assert cands[0][1] == cands[1][1] == 1.0
    # Training data that links "Apple" to the fruit makes it the preferred reading.
    ref = Doc(nlp.vocab, words=["Apple", "pie"])
    ref.ents = [Span(ref, 0, 1, label="MISC", kb_id="Q3")]
    nlp = make_nlp(kb_path, examples=[Example(nlp.make_doc("Apple pie"), ref)])
    got, doc = link(nlp, "Apple released it.", [("Apple", "MISC")])
    assert got == [("Apple", "Q3")]


def test_harvest_aliases(kb_path):
    nlp = spacy.blank("en")
    ref = Doc(nlp.vocab, words=["HLD", "is", "rare"])
    ref.ents = [Span(ref, 0, 1, label="DIS", kb_id="D1")]
    examples = [Example(nlp.make_doc("HLD is rare"), ref)]
    got, _ = link(make_nlp(kb_path, examples=examples), "Cases of HLD.", [("HLD", "DIS")])
    assert got == [("HLD", "D1")]
    got, _ = link(make_nlp(kb_path, {**CONFIG, "harvest_aliases": False}, examples), "Cases of HLD.", [("HLD", "DIS")])
    assert got == [("HLD", "")]


def test_composite_mention(nlp):
    got, doc = link(nlp, "Breast and ovarian cancers run in families.", [("Breast and ovarian cancers", "DIS")])
    assert got == [("Breast and ovarian cancers", "D2|D3")]
    assert doc.ents[0]._.kb_candidates[0][0] == "D2|D3"


def test_modifier_coordination_is_not_split(tmp_path):
    """With the biomedical preset, coordinated modifiers of one disease
    ("familial or sporadic retinoblastoma") make no composite, although each
    part alone links exactly; with the default, domain-neutral rules they do."""
    records = [
        {"id": "R1", "name": "Retinoblastoma", "aliases": ["sporadic retinoblastoma"], "types": ["DISEASE"]},
        {"id": "F1", "name": "Familial Retinoblastoma Syndrome", "aliases": ["familial retinoblastoma"],
         "types": ["DISEASE"]},
        {"id": "D2", "name": "Breast Neoplasms", "aliases": ["breast cancer"], "types": ["DISEASE"]},
        {"id": "D3", "name": "Ovarian Neoplasms", "aliases": ["ovarian cancer"], "types": ["DISEASE"]},
    ]
    path = tmp_path / "kb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    mentions = ["familial or sporadic retinoblastoma", "Breast and ovarian cancer"]
    text = "; ".join(mentions) + "."
    ents = [(m, "DIS") for m in mentions]
    biomedical = {**CONFIG, "threshold": 0.0, "rules": {"preset": "biomedical"}}
    got, _ = link(make_nlp(path, biomedical), text, ents)
    assert "|" not in got[0][1] and got[1][1] == "D2|D3"
    got, _ = link(make_nlp(path, {**CONFIG, "threshold": 0.0}), text, ents)
    assert got[0][1] == "F1|R1" and got[1][1] == "D2|D3"
    # Words listed beside the preset (or without one) count too.
    own = {**CONFIG, "threshold": 0.0, "rules": {"composite_modifiers": ["familial", "sporadic"]}}
    got, _ = link(make_nlp(path, own), text, ents)
    assert "|" not in got[0][1]


def test_comma_alone_is_no_coordination(nlp, monkeypatch):
    index = nlp.get_pipe("entity_normalizer").index
    calls = []
    original = index.search

    def counting(texts, *args, **kwargs):
        calls.append(list(texts))
        return original(texts, *args, **kwargs)

    # Every search of the component goes through index.search.
    monkeypatch.setattr(index, "search", counting)
    # An inverted name with a typo is matched as a whole: no query for its
    # comma-separated parts.
    got, _ = link(nlp, "Arthritis, Rheumatiod was diagnosed.", [("Arthritis, Rheumatiod", "DIS")])
    assert got == [("Arthritis, Rheumatiod", "D4")]
    assert calls == [["Arthritis, Rheumatiod"]]
    # With a conjunction, the comma separates conjuncts.
    calls.clear()
    got, _ = link(nlp, "Breast, and ovarian cancers.", [("Breast, and ovarian cancers", "DIS")])
    assert got == [("Breast, and ovarian cancers", "D2|D3")]
    assert len(calls) == 2


def test_doc_without_ents_and_pipe(nlp):
    doc = nlp("No entities here.")
    assert doc.ents == ()
    texts = ["IBM and Apple.", "Wilson disease (WD) and WD."]
    ents = [[("IBM", "ORG"), ("Apple", "ORG")], [("Wilson disease", "DIS"), ("WD", "DIS")]]
    one = [nlp(doc_with_ents(nlp, t, e)) for t, e in zip(texts, ents)]
    many = list(nlp.pipe(doc_with_ents(nlp, t, e) for t, e in zip(texts, ents)))
    for a, b in zip(one, many):
        assert [(e.kb_id_, e._.kb_candidates) for e in a.ents] == [(e.kb_id_, e._.kb_candidates) for e in b.ents]
    assert [e.kb_id_ for e in many[0].ents] == ["Q1", "Q2"]


def test_predict_leaves_docs_alone(nlp):
    """predict returns the candidates as (id, score, alias) tuples and
    changes nothing; set_annotations writes them."""
    normalizer = nlp.get_pipe("entity_normalizer")
    docs = [doc_with_ents(nlp, "IBM and Apple.", [("IBM", "ORG"), ("Apple", "ORG")]), nlp.make_doc("None.")]
    predicted = normalizer.predict(docs)
    assert [[c[0][0] for c in d] for d in predicted] == [["Q1", "Q2"], []]
    assert predicted[0][0][0] == ("Q1", 1.0, "IBM")
    assert [e.kb_id_ for e in docs[0].ents] == ["", ""] and not docs[0].user_data
    normalizer.set_annotations(docs, predicted)
    assert [(e.kb_id_, e._.kb_candidates) for e in docs[0].ents] == [(c[0][0], list(c)) for c in predicted[0]]


def test_doc_consistency_prefers_id_linked_exactly(tmp_path):
    """An alias shared by two IDs (a tie) links to the one another mention of
    the document matched unambiguously; without doc_consistency the tie keeps
    the index's order."""
    records = [
        {"id": "E1", "name": "Mercury", "aliases": ["Hg", "quicksilver"], "types": ["ELEMENT"]},
        {"id": "E2", "name": "Mercury (planet)", "aliases": ["Mercury"], "types": ["PLANET"]},
    ]
    path = tmp_path / "kb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    text = "Mercury (planet) is small; Mercury orbits fast."
    ents = [("Mercury (planet)", "MISC"), ("Mercury", "MISC")]
    got, doc = link(make_nlp(path), text, ents)
    assert got == [("Mercury (planet)", "E2"), ("Mercury", "E2")]
    cands = doc.ents[1]._.kb_candidates
    assert [c[0] for c in cands] == ["E2", "E1"] and cands[0][1] == cands[1][1] == 1.0
    got, _ = link(make_nlp(path, {**CONFIG, "doc_consistency": False}), text, ents)
    assert got == [("Mercury (planet)", "E2"), ("Mercury", "E1")]
    got, _ = link(make_nlp(path), "Hg is toxic; Mercury is a metal.", [("Hg", "MISC"), ("Mercury", "MISC")])
    assert got == [("Hg", "E1"), ("Mercury", "E1")]


def test_pipe_with_two_processes(kb_path):
    """nlp.pipe(n_process=2) links as one process does; the candidates travel
    back with the docs."""
    nlp = make_ruler_nlp(
        kb_path,
        [{"label": "ORG", "pattern": "IBM"}, {"label": "ORG", "pattern": "Apple"},
         {"label": "DIS", "pattern": [{"LOWER": "wilson"}, {"LOWER": "disease"}]}, {"label": "DIS", "pattern": "WD"}],
    )
    texts = ["IBM and Apple.", "Wilson disease (WD) and WD.", "Nothing here.", "Apple bought IBM."] * 3
    one = [[(e.text, e.kb_id_, e._.kb_candidates) for e in d.ents] for d in nlp.pipe(texts)]
    two = [[(e.text, e.kb_id_, e._.kb_candidates) for e in d.ents] for d in nlp.pipe(texts, n_process=2, batch_size=2)]
    assert two == one
    assert [e[1] for e in one[1]] == ["D1", "D1", "D1"]


def test_overwrite(kb_path):
    nlp = make_nlp(kb_path, {**CONFIG, "overwrite": False})
    doc = nlp.make_doc("IBM and Apple")
    doc.ents = [Span(doc, 0, 1, label="ORG", kb_id="MANUAL"), Span(doc, 2, 3, label="ORG")]
    doc = nlp(doc)
    assert [e.kb_id_ for e in doc.ents] == ["MANUAL", "Q2"]


def test_not_initialized():
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_normalizer")
    with pytest.raises(ValueError, match="entity_normalizer 'entity_normalizer': no knowledge base loaded.*kb_loader"):
        nlp("IBM")


def test_empty_kb_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_normalizer")
    with pytest.raises(ValueError, match="knowledge base is empty.*kb_loader"):
        nlp.initialize()


TEXTS = [
    ("Patients with Wilson disease (WD) and IBM staff.", [("Wilson disease", "DIS"), ("WD", "DIS"), ("IBM", "ORG")]),
    ("Breast and ovarian cancers; Washington in Washington.", [("Breast and ovarian cancers", "DIS"), ("Washington", "PERSON"), ("Washington", "GPE")]),
    ("Internatonal Busines Machines and Foobarium.", [("Internatonal Busines Machines", "ORG"), ("Foobarium", "ORG")]),
]


def _links(nlp):
    out = []
    for text, ents in TEXTS:
        doc = nlp.get_pipe("entity_normalizer")(doc_with_ents(nlp, text, ents))
        out.append([(e.start_char, e.end_char, e.kb_id_, e._.kb_candidates) for e in doc.ents])
    return out


def test_serialization_roundtrip(nlp, tmp_path):
    expected = _links(nlp)
    nlp.to_disk(tmp_path / "pipeline")
    files = {p.relative_to(tmp_path / "pipeline").as_posix() for p in (tmp_path / "pipeline").rglob("*") if p.is_file()}
    assert "entity_normalizer/kb/strings.msgpack" in files
    assert "entity_normalizer/index/row_cols.npy" in files
    assert not any(f.endswith((".pkl", ".pickle")) for f in files)
    loaded = spacy.load(tmp_path / "pipeline")
    assert _links(loaded) == expected
    fresh = spacy.blank("en")
    fresh.add_pipe("entity_normalizer", config=CONFIG)
    fresh.get_pipe("entity_normalizer").from_bytes(nlp.get_pipe("entity_normalizer").to_bytes())
    assert _links(fresh) == expected


def test_candidates_survive_docbin(nlp):
    from spacy.tokens import DocBin

    doc = nlp(doc_with_ents(nlp, "IBM and Apple.", [("IBM", "ORG"), ("Apple", "ORG")]))
    db = DocBin(store_user_data=True, docs=[doc])
    restored = next(DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab))
    assert [(e.kb_id_, e._.kb_candidates) for e in restored.ents] == [(e.kb_id_, e._.kb_candidates) for e in doc.ents]


def test_after_entity_ruler_and_scorer(kb_path):
    nlp = make_ruler_nlp(
        kb_path,
        [{"label": "ORG", "pattern": "IBM"}, {"label": "DIS", "pattern": [{"LOWER": "wilson"}, {"LOWER": "disease"}]}],
    )
    doc = nlp("IBM studies Wilson disease.")
    assert [(e.text, e.label_, e.kb_id_) for e in doc.ents] == [("IBM", "ORG", "Q1"), ("Wilson disease", "DIS", "D1")]
    ref = nlp.make_doc("IBM studies Wilson disease.")
    ref.ents = [Span(ref, 0, 1, label="ORG", kb_id="Q1"), Span(ref, 2, 4, label="DIS", kb_id="D4")]
    scores = nlp.evaluate([Example(nlp.make_doc(ref.text), ref)])
    assert scores["nel_micro_p"] == pytest.approx(0.5)
    assert scores["nel_micro_r"] == pytest.approx(0.5)
    assert scores["norm_acc_at_1"] == pytest.approx(0.5)
    assert scores["norm_recall_at_k"] == pytest.approx(0.5)


TRAIN_TEXTS = [
    ("Wilson disease is rare.", [(0, 14, "D1")]),
    ("Patients with breast cancer improved.", [(14, 27, "D2")]),
    ("We studied ovarian cancer and Wilson disease.", [(11, 25, "D3"), (30, 44, "D1")]),
    ("No disease was found here.", []),
]


def _train_examples(nlp):
    examples = []
    for text, spans in TRAIN_TEXTS:
        ref = nlp.make_doc(text)
        ref.ents = [ref.char_span(s, e, label="DISEASE", kb_id=kb_id) for s, e, kb_id in spans]
        examples.append(Example(nlp.make_doc(text), ref))
    return examples


@pytest.mark.parametrize("ner_factory", ["ner", "crf_ner"])
def test_ner_plus_normalizer_trains_and_saves(kb_path, tmp_path, ner_factory):
    if ner_factory == "crf_ner":
        pytest.importorskip("spacy_crf_ner.pipeline.crf_ner")
    nlp = spacy.blank("en")
    nlp.add_pipe(ner_factory, name="ner")
    nlp.add_pipe("entity_normalizer", config={"threshold": 0.6})
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(kb_path)}
    }
    examples = _train_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses, drop=0.0)
    assert losses["ner"] < 1.0
    doc = nlp("We studied ovarian cancer and Wilson disease.")
    assert [(e.text, e.kb_id_) for e in doc.ents] == [("ovarian cancer", "D3"), ("Wilson disease", "D1")]
    scores = nlp.evaluate(examples)
    assert scores["nel_micro_f"] == pytest.approx(1.0)
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    texts = [t for t, _ in TRAIN_TEXTS]
    assert [[(e.text, e.kb_id_) for e in d.ents] for d in loaded.pipe(texts)] == [
        [(e.text, e.kb_id_) for e in nlp(t).ents] for t in texts
    ]


def test_spacy_train_from_config(kb_path, tmp_path):
    """`spacy train` with the PubTator corpus reader and the KB loader in the config."""
    from spacy.cli.init_config import fill_config
    from spacy.cli.train import train

    title = "Wilson disease and breast cancer."
    abstract = "Wilson disease (WD) is rare; WD and ovarian cancer are not."
    text = f"{title} {abstract}"
    anns = []
    for mention, kb_id, nth in [("Wilson disease", "D1", 0), ("breast cancer", "D2", 0), ("Wilson disease", "D1", 1), ("WD", "D1", 1), ("ovarian cancer", "D3", 0)]:
        start = -1
        for _ in range(nth + 1):
            start = text.index(mention, start + 1)
        anns.append(f"1\t{start}\t{start + len(mention)}\t{mention}\tSpecificDisease\t{kb_id}")
    corpus = tmp_path / "train.pubtator"
    corpus.write_text(f"1|t|{title}\n1|a|{abstract}\n" + "\n".join(anns) + "\n\n", encoding="utf8")
    cfg = f"""
[paths]
train = "{corpus}"
dev = "{corpus}"
kb = "{kb_path}"

[system]
seed = 0

[nlp]
lang = "en"
pipeline = ["ner", "entity_normalizer"]
batch_size = 100

[components]

[components.ner]
factory = "ner"

[components.entity_normalizer]
factory = "entity_normalizer"
threshold = 0.6

[corpora]

[corpora.train]
@readers = "spacy-crf-ner.PubTatorCorpus.v1"
path = ${{paths.train}}
label = "Disease"

[corpora.dev]
@readers = "spacy-crf-ner.PubTatorCorpus.v1"
path = ${{paths.dev}}
label = "Disease"

[training]
max_steps = 30
eval_frequency = 10
dropout = 0.0

[initialize]

[initialize.components]

[initialize.components.entity_normalizer]

[initialize.components.entity_normalizer.kb_loader]
@misc = "spacy-crf-ner.load_kb.v1"
path = ${{paths.kb}}
"""
    base_path = tmp_path / "base.cfg"
    base_path.write_text(cfg, encoding="utf8")
    config_path = tmp_path / "config.cfg"
    fill_config(config_path, base_path, silent=True)
    train(config_path, tmp_path / "out")
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert nlp.pipe_names == ["ner", "entity_normalizer"]
    assert nlp.get_pipe("entity_normalizer").kb is not None
    assert "D1" in nlp.get_pipe("entity_normalizer").kb
    meta = json.loads((tmp_path / "out" / "model-last" / "meta.json").read_text())
    assert "nel_micro_f" in meta["performance"]


def test_entry_points_registered():
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    eps = data["project"]["entry-points"]
    import importlib

    from spacy.util import registry

    checks = [
        ("spacy_factories", "entity_normalizer", lambda n: n in Language.factories),
        ("spacy_misc", "spacy-crf-ner.load_kb.v1", lambda n: registry.has("misc", n)),
        ("spacy_readers", "spacy-crf-ner.PubTatorCorpus.v1", lambda n: registry.has("readers", n)),
        ("spacy_scorers", "spacy-crf-ner.normalizer_scorer.v1", lambda n: registry.has("scorers", n)),
    ]
    for group, name, has in checks:
        target = eps[group][name]
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), target
        assert has(name), (group, name)


def test_abbreviation_parts_and_subtypes(kb_path):
    text = "Patients with Wilson disease-hepatolenticular degeneration (WD-HLD) and HLD; WD2 carriers."
    got, _ = link(make_nlp(kb_path, {**CONFIG, "rules": {"preset": "biomedical"}}), text, [("HLD", "DIS"), ("WD2", "DIS")])
    assert got == [("HLD", "D1"), ("WD2", "D1")]
    # Numbered subtypes of a short form are a rule of the preset.
    got, _ = link(make_nlp(kb_path), text, [("HLD", "DIS"), ("WD2", "DIS")])
    assert got == [("HLD", "D1"), ("WD2", "")]


def test_rules_errors_name_the_component(kb_path):
    with pytest.raises(ValueError, match="no rules preset 'legal'. Use one of \\['biomedical'"):
        make_nlp(kb_path, {**CONFIG, "rules": {"preset": "legal"}})


def test_pipeline_saved_before_rules_loads_and_links_as_then(caplog):
    """A component saved by the version that had the biomedical rules built
    in (its config names composite_modifiers; its cfg has no rules) loads and
    links as it did then."""
    saved = json.loads((DATA / "entity_normalizer_v0.json").read_text(encoding="utf8"))
    nlp = spacy.blank("en")
    with caplog.at_level("WARNING", logger="spacy_crf_ner"):
        normalizer = nlp.add_pipe("entity_normalizer", config=saved["config"])
    assert "composite_modifiers" in caplog.text and "rules.preset" in caplog.text
    normalizer.from_disk(DATA / "entity_normalizer_v0")
    assert normalizer.rules.subtype_expansion and "familial" in normalizer.rules.composite_modifiers
    for item in saved["docs"]:
        doc = normalizer(doc_with_ents(nlp, item["text"], [tuple(e) for e in item["ents"]]))
        assert [[e.kb_id_, [list(c) for c in e._.kb_candidates]] for e in doc.ents] == item["expected"]
    # Saved again, it keeps those rules.
    again = spacy.blank("en").add_pipe("entity_normalizer").from_bytes(normalizer.to_bytes())
    assert again.rules == normalizer.rules


def test_entities_and_missing_annotation_kept(nlp):
    """Linking changes only kb_id: labels, entity IDs and tokens whose entity
    annotation is missing stay as the user set them."""
    doc = nlp.make_doc("IBM bought Red Hat from George Washington")
    doc.set_ents([Span(doc, 0, 1, label="ORG", span_id="first")], default="missing")
    doc = nlp(doc)
    assert [(e.text, e.label_, e.kb_id_, e.id_) for e in doc.ents] == [("IBM", "ORG", "Q1", "first")]
    assert [t.ent_iob_ for t in doc] == ["B", "", "", "", "", "", ""]

