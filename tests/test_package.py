"""Packaging: every declared entry point resolves in spaCy's registries, and
importing the package is cheap."""
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from spacy.language import Language
from spacy.util import registry

GROUPS = {
    "spacy_architectures": "architectures",
    "thinc_layers": "layers",
    "spacy_scorers": "scorers",
    "spacy_misc": "misc",
    "spacy_readers": "readers",
}


def declared(group):
    return [ep for ep in entry_points(group=group) if ep.value.startswith("spacy_crf_ner")]


def test_factories_resolve():
    names = {ep.name for ep in declared("spacy_factories")}
    assert {"crf_ner", "crf_tagger"} <= names
    for name in names:
        assert Language.has_factory(name), name


@pytest.mark.parametrize("group,reg", GROUPS.items())
def test_registered_functions_resolve(group, reg):
    for ep in declared(group):
        assert registry.has(reg, ep.name), f"{group}: {ep.name}"
        assert registry.get(reg, ep.name) is ep.load()


def test_import_is_cheap():
    code = "import sys, spacy_crf_ner; print('torch' in sys.modules, 'numba' in sys.modules, 'spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]
