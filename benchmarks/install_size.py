"""Install size of a CNN-only setup: a fresh virtual environment with the CPU
build of torch and the plugin without extras. Standard library only.

    python benchmarks/install_size.py VENV_DIR [--source .] [--torch torch==2.13.0]
        [--index-url https://download.pytorch.org/whl/cpu] [--output results/install_size.json]

Prints the venv's size on disk (as `du -sh` reports it) and torch's share of
it, the installed packages, and whether transformers / spacy-transformers were pulled in; then
checks that a crf_ner pipeline with the CNN and the BiLSTM encoder trains a
step in that environment.
"""
import argparse
import json
import platform
import shutil
import subprocess
import sys
import venv
from datetime import date
from pathlib import Path

CHECK = """
import spacy, importlib.util as u
from spacy.training import Example
for arch in ("cnn", "bilstm"):
    nlp = spacy.blank("en")
    config = {}
    if arch == "bilstm":
        config = {"model": {"tok2vec": {"@architectures": "spacy-crf-ner.BiLSTMCharCNN.v1", "width": 32,
                  "depth": 1, "embed_size": 500, "char_width": 8, "char_window": 1, "max_chars": 12,
                  "dropout": 0.0}}}
    nlp.add_pipe("crf_ner", config=config)
    eg = Example.from_dict(nlp.make_doc("Shaka Khan flew to Paris"), {"entities": [(0, 10, "PER")]})
    opt = nlp.initialize(lambda: [eg])
    print(arch, "loss", nlp.update([eg], sgd=opt)["crf_ner"])
print("transformers installed:", u.find_spec("transformers") is not None)
print("spacy_transformers installed:", u.find_spec("spacy_transformers") is not None)
"""


def run(*cmd: object) -> str:
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("venv_dir", type=Path, help="where to create the fresh venv (deleted first)")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--torch", default="torch==2.13.0")
    parser.add_argument("--index-url", default=None, help="torch index, e.g. https://download.pytorch.org/whl/cpu")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.venv_dir.exists():
        shutil.rmtree(args.venv_dir)
    venv.create(args.venv_dir, with_pip=True)
    python = args.venv_dir / "bin" / "python"
    pip = [python, "-m", "pip", "install", "--quiet"]
    run(*pip, *(["--index-url", args.index_url] if args.index_url else []), args.torch)
    run(*pip, args.source)
    size = run("du", "-sh", args.venv_dir).split()[0]
    torch_dir = run(python, "-c", "import importlib.util as u; print(u.find_spec('torch').submodule_search_locations[0])")
    torch_size = run("du", "-sh", torch_dir.strip()).split()[0]
    packages = run(python, "-m", "pip", "list", "--format=freeze").split()
    check = run(python, "-c", CHECK)
    result = {
        "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}, {date.today()}",
        "venv_size": size,
        "torch_size": torch_size,
        "n_packages": len(packages),
        "packages": packages,
        "check": check.splitlines(),
    }
    print(f"venv size: {size} (torch {torch_size}); {len(packages)} packages")
    print(" ".join(packages))
    print(check)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
