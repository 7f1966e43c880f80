"""The spacy project workflow: project.yml is valid, and (slow) the demo
workflow runs end to end, including packaging and a fresh-venv install."""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import srsly
from weasel.util import load_project_config

ROOT = Path(__file__).parent.parent


def test_project_yml_is_valid():
    config = load_project_config(ROOT)
    names = {c["name"] for c in config["commands"]}
    for workflow in ("demo", "all"):
        assert set(config["workflows"][workflow]) <= names
    # every config and script the commands use is in the repository
    for command in config["commands"]:
        for line in command["script"]:
            for word in line.split():
                if word.startswith(("configs/", "scripts/")):
                    assert (ROOT / word).exists(), word


def test_demo_data_is_generated(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_data.py"), str(tmp_path), "--n-train", "20", "--n-dev", "5"], check=True)
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(nlp.vocab))
    assert len(docs) == 20
    assert all(t.tag_ for d in docs for t in d)
    ents = [e for d in docs for e in d.ents]
    assert ents and all(e.kb_id_.startswith("DEMO:") for e in ents)
    kb = list(srsly.read_jsonl(tmp_path / "kb.jsonl"))
    assert {e["types"][0] for e in kb} == {"PERSON", "ORG", "LOC"}


@pytest.mark.slow
def test_demo_workflow_end_to_end(tmp_path):
    for name in ("project.yml", "configs", "scripts", "pyproject.toml", "README.md", "spacy_crf_ner"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp_path / name)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spacy", "project", "run", "demo", str(tmp_path)], check=True)
    minutes = (time.perf_counter() - start) / 60
    print(f"demo workflow: {minutes:.1f} minutes")
    metrics = json.loads((tmp_path / "metrics" / "demo.json").read_text())
    assert metrics["ents_f"] > 0.5 and metrics["tag_acc"] > 0.5
    assert (tmp_path / "metrics" / "demo_report.html").read_text().startswith("<!DOCTYPE html>")
    annotated = list(srsly.read_jsonl(tmp_path / "corpus" / "demo" / "annotated.jsonl"))
    assert len(annotated) == 3 and any(r["entities"] for r in annotated)


@pytest.mark.slow
def test_report_renders_in_a_browser(tmp_path):
    """The report as a person sees it: headless Chromium takes a screenshot."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    from spacy.lang.en import English
    from spacy.tokens import Span
    from spacy.training import Example

    from spacy_crf_ner.report import write_report

    nlp = English()
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": "Paris"}])
    gold = nlp.make_doc("Sarah flew to Paris and Rome.")
    gold.ents = [Span(gold, 0, 1, "PER"), Span(gold, 3, 4, "LOC")]
    page = write_report(nlp, [Example(nlp.make_doc(gold.text), gold)], tmp_path / "report.html")
    for width in (1200, 390):  # desktop and phone
        shot = tmp_path / f"report-{width}.png"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},900",
             f"--screenshot={shot}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
