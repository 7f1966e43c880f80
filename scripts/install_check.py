"""Install a packaged pipeline into a fresh virtual environment and load it
by name with spacy.load, as a user would after `pip install`.

    python scripts/install_check.py PACKAGE_WHEEL PIPELINE_NAME [--find-links DIR]
        [--torch torch==2.13.0] [--venv DIR] [--text "..."]

--find-links points pip at wheels that are not on the package index (this
plugin's own wheel, before it is published). torch is installed first, as
pinned, so that no CUDA build is pulled in on a CPU machine.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

CHECK = """
import json, multiprocessing, sys, spacy

def summary(doc):
    return [[e.text, e.label_, e.kb_id_] for e in doc.ents], [t.tag_ for t in doc]

if __name__ == "__main__":
    nlp = spacy.load(sys.argv[1])
    doc = nlp(sys.argv[2])
    # Worker processes give the results of one process, under fork and spawn.
    texts = [sys.argv[2]] * 8
    one = [summary(d) for d in nlp.pipe(texts)]
    same = {}
    for method in multiprocessing.get_all_start_methods():
        if method in ("fork", "spawn"):
            multiprocessing.set_start_method(method, force=True)
            same[method] = [summary(d) for d in nlp.pipe(texts, n_process=2, batch_size=2)] == one
    print(json.dumps({
        "pipeline": nlp.pipe_names,
        "entities": summary(doc)[0],
        "tags": summary(doc)[1],
        "n_process=2 same as one process": same,
    }))
"""


def run(cmd, **kwargs):
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path)
    parser.add_argument("name")
    parser.add_argument("--find-links", type=Path, default=None)
    parser.add_argument("--torch", default="torch==2.13.0")
    parser.add_argument("--venv", type=Path, default=None)
    parser.add_argument("--text", default="Ada Varga joined Velto Systems in Port Avalon .")
    args = parser.parse_args()
    if not args.wheel.exists():
        sys.exit(f"install_check: no wheel at {args.wheel}; run the package step first.")
    with tempfile.TemporaryDirectory() as tmp:
        env_dir = args.venv or Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True, clear=True)
        python = env_dir / "bin" / "python"
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        if args.torch:
            run(pip + [args.torch])
        extra = ["--find-links", args.find_links] if args.find_links else []
        run(pip + extra + [args.wheel])
        (Path(tmp) / "check.py").write_text(CHECK, encoding="utf8")  # spawn re-imports the main module
        out = run([python, "check.py", args.name, args.text], capture_output=True, text=True, cwd=tmp)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if not all(result["n_process=2 same as one process"].values()):
            sys.exit(f"install_check: nlp.pipe(n_process=2) differs from one process: {result}")
    print(json.dumps(result, indent=2))
    print(f"✔ {args.name} installs in a fresh environment, loads with spacy.load and runs in worker processes")


if __name__ == "__main__":
    main()
