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


class _Payload:
    """Unpickling this runs code: it creates a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_saved_torch_weights_load_without_unpickling_objects(tmp_path):
    """thinc's PyTorchShim loads weights with torch.load, whose default since
    torch 2.6 (the floor in pyproject) is weights_only=True: a saved model
    whose weights hold a pickled object fails to load and runs nothing."""
    import io

    import torch
    from thinc.shims.pytorch import default_deserialize_torch_model

    assert tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 6)
    marker = tmp_path / "ran"
    buf = io.BytesIO()
    torch.save({"weight": _Payload(str(marker))}, buf)
    with pytest.raises(Exception, match="(?i)weights_only|unpickl"):
        default_deserialize_torch_model(torch.nn.Linear(2, 2), buf.getvalue(), torch.device("cpu"))
    assert not marker.exists()


def test_dependency_floors():
    from pathlib import Path
    import re

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert re.search(r'"torch>=2\.(6|[7-9]|\d\d)', text)
    assert '"regex>=' in text
