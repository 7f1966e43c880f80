"""Packaging: the entry points are the one registration of every builder,
each resolves in spaCy's registries, and importing spaCy with the package
installed stays cheap."""
import ast
import subprocess
import sys
import textwrap
from importlib.metadata import distribution
from pathlib import Path

import pytest
from spacy.language import Language
from spacy.util import registry

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "spacy_crf_ner"
# entry point group -> spaCy registry
GROUPS = {
    "spacy_architectures": "architectures",
    "thinc_layers": "layers",
    "spacy_scorers": "scorers",
    "spacy_misc": "misc",
    "spacy_readers": "readers",
}


def installed(group):
    return [ep for ep in distribution("spacy-crf-ner").entry_points if ep.group == group]


def declared():
    """The entry points in pyproject.toml, as {group: {name: value}}."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["entry-points"]


def test_installed_entry_points_are_the_declared_ones():
    for group, names in declared().items():
        found = {ep.name: ep.value for ep in installed(group)}
        assert found == names, (
            f"The installed entry points of {group} differ from pyproject.toml: reinstall the "
            "package (pip install -e .) so that spaCy finds what pyproject.toml declares."
        )
    assert set(declared()) == {"spacy_factories", *GROUPS}


@pytest.mark.parametrize("group,reg", GROUPS.items())
def test_registered_functions_resolve(group, reg):
    entry_points = installed(group)
    assert entry_points
    for ep in entry_points:
        func = ep.load()
        assert callable(func), ep
        assert registry.has(reg, ep.name), f"{group}: {ep.name}"
        assert registry.get(reg, ep.name) is func


def test_factories_resolve_with_their_meta():
    entry_points = installed("spacy_factories")
    assert {"crf_ner", "crf_tagger"} <= {ep.name for ep in entry_points}
    for ep in entry_points:
        func = ep.load()
        assert Language.has_factory(ep.name), ep.name
        assert registry.factories.get(ep.name) is func
        meta = Language.get_factory_meta(ep.name)
        assert meta.factory == ep.name and meta.default_config and meta.assigns
        assert meta.default_score_weights


def _module_name(path):
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


MODULES = [pytest.param(path, id=str(path.relative_to(PACKAGE))) for path in sorted(PACKAGE.rglob("*.py"))]


def _registry_decorators(tree):
    """The registry decorators in a module, as source text. The components'
    `Language.factory` is not one of them: spaCy records a factory's meta
    (default config, assigns, score weights) only through it, and loads the
    spacy_factories entry points to run it."""
    found = []
    for node in ast.walk(tree):
        for dec in getattr(node, "decorator_list", []):
            target = dec.func if isinstance(dec, ast.Call) else dec
            text = ast.unparse(target)
            if "registry" in text.split(".") or text.endswith(".register"):
                found.append(text)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(".register"):
            found.append(ast.unparse(node.func))
    return found


@pytest.mark.parametrize("path", MODULES)
def test_no_module_registers_by_decorator(path):
    import catalogue

    assert _registry_decorators(ast.parse(path.read_text())) == []
    # and nothing reached catalogue's registry by other means when imported
    module = __import__(_module_name(path), fromlist=["_"])
    registered = [
        keys
        for keys, value in catalogue.REGISTRY.items()
        if getattr(value, "__module__", None) == module.__name__ and keys[:2] != ("spacy", "internal_factories")
    ]
    assert registered == []


def test_the_check_finds_a_decorator():
    code = textwrap.dedent(
        """
        @registry.architectures("x.v1")
        def f(): ...

        @Language.factory("y")
        def g(nlp, name): ...

        registry.misc.register("z.v1", func=f)
        """
    )
    assert _registry_decorators(ast.parse(code)) == ["registry.architectures", "registry.misc.register"]


def test_import_is_cheap():
    code = "import sys, spacy_crf_ner; print('torch' in sys.modules, 'numba' in sys.modules, 'spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_spacy_with_the_plugin_imports_no_numba_or_torch():
    """`import spacy` already imports torch when it is installed (thinc's
    compat module tries it), and `spacy.blank` loads the spacy_factories
    entry points of every installed plugin. What the plugin adds to that,
    loading all its entry points and its factories' meta, is neither numba nor
    more of torch, nor transformers; a pipeline built with the package's
    components on the default (CNN) configs imports numba only when it first
    predicts."""
    code = textwrap.dedent(
        """
        import json, sys
        from importlib.metadata import distribution
        import spacy
        from spacy.language import Language
        from spacy.util import registry
        GROUPS = %r
        before = set(sys.modules)
        for ep in distribution("spacy-crf-ner").entry_points:
            if ep.group == "spacy_factories":
                ep.load()
                Language.get_factory_meta(ep.name)
            elif ep.group in GROUPS:
                registry.get(GROUPS[ep.group], ep.name)
        added = sorted(set(sys.modules) - before)
        nlp = spacy.blank("en")
        nlp.add_pipe("entity_normalizer")
        nlp.add_pipe("crf_ner").add_label("ORG")
        nlp.remove_pipe("entity_normalizer")  # it needs a KB to initialize
        nlp.initialize()
        built = "numba" in sys.modules
        nlp("Apple opened an office.")
        print(json.dumps([added, built, "numba" in sys.modules]))
        """
        % GROUPS
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    added, numba_when_built, numba_when_used = __import__("json").loads(out.stdout.splitlines()[-1])
    assert any(m.startswith("spacy_crf_ner") for m in added)
    heavy = [m for m in added if m.split(".")[0] in ("numba", "llvmlite", "torch", "transformers")]
    assert heavy == []
    assert not numba_when_built
    assert numba_when_used


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
