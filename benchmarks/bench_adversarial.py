"""Time per token of each component on adversarial docs, at several lengths.

    python benchmarks/bench_adversarial.py [--lengths 5000 50000] [--rounds 3]
        [--model NAME=MODEL_DIR ...] [--output FILE.json]

The docs are runs of emoji, odd symbols, combining marks, right-to-left
letters, digits and a few words, the input on which a model is least sure of
anything; half the tokens are made-up words, so that mentions rarely repeat. Each component is timed on its own (``component.pipe`` over one doc
of each length), best of ``--rounds``:

- ``crf_ner`` (BIO and BILUO) whose emissions say "some entity" on every
  token but never which, so that every token may open or continue an entity:
  the worst case for the search of probable spans (``doc.spans``);
- ``crf_tagger`` with uniform emissions;
- ``entity_normalizer`` over a small KB, with an entity on every other pair of
  tokens;
- each component of every trained pipeline given with ``--model``.

A linear-time component has a flat time per token across lengths; the
reported ``growth`` is the time per token at the longest length over that at
the shortest. The models are built here (no download, no data).
"""
import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

from _common import machine, write_json

ODD = [
    "🤖", "🙃", "👩‍👩‍👧", "🇺🇳", "⟨", "⟩", "ℵ", "∰", "§", "¶", "‽", "⁂", "☃", "🂡", "𝔘", "𝕏",
    "e\u0301", "\u200b", "\u202e", "שלום", "مرحبا", "ẞ", "ǅ", "Ⅻ", "½", "٣", "①", "…", "–", "«", "»",
    "Khan", "London", "IBM", "Apple", "disease", "(", ")", ".", ",", "Dr.", "3.5mg", "x86_64", "@user", "#tag",
]

KB_RECORDS = [
    {"id": "D1", "name": "Wilson Disease", "aliases": ["hepatolenticular degeneration"], "types": ["DISEASE"]},
    {"id": "D2", "name": "Breast Neoplasms", "aliases": ["breast cancer"], "types": ["DISEASE"]},
    {"id": "Q1", "name": "International Business Machines", "aliases": ["IBM", "IBM Corp."], "types": ["ORG"]},
    {"id": "Q2", "name": "Apple Inc.", "aliases": ["Apple"], "types": ["ORG"]},
    {"id": "L1", "name": "London", "aliases": ["Londres"], "types": ["LOC"]},
    {"id": "S1", "name": "Snowman ☃", "aliases": ["ℵ §", "🤖 Khan"], "types": ["ORG"]},
]

TRAIN = [
    ("Who is Shaka Khan?", [(7, 17, "PERSON")]),
    ("I like London and Berlin.", [(7, 13, "LOC"), (18, 24, "LOC")]),
]


# Characters of made-up words: letters of several scripts, symbols, marks.
POOL = "abcxyzKLMéßøΩжשمक한日🙂🤖☃ℵ∰§‽½①…'-_.0123456789\u0301\u200d"


def adversarial_words(n: int, seed: int = 0) -> List[str]:
    """Half the tokens from ODD, half made-up words of 1 to 8 characters, so
    that mentions rarely repeat (no help from the normalizer's cache)."""
    rng = random.Random(seed)
    words = []
    for _ in range(n):
        if rng.random() < 0.5:
            words.append(rng.choice(ODD))
        else:
            word = "".join(rng.choice(POOL) for _ in range(rng.randint(1, 8))).strip("\u200d")
            words.append(word or "x")
    return words


def make_doc(nlp: Language, n: int, seed: int = 0) -> Doc:
    words = adversarial_words(n, seed)
    return Doc(nlp.vocab, words=words, spaces=[True] * n)


def uncertain_crf_ner(scheme: str) -> Language:
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("crf_ner", config={"scheme": scheme})
    examples = []
    for text, ents in TRAIN:
        ref = nlp.make_doc(text)
        ref.ents = [ref.char_span(s, e, label=label) for s, e, label in ents]
        examples.append(Example(nlp.make_doc(text), ref))
    nlp.initialize(lambda: examples)
    out = ner.model.get_ref("output")
    out.set_param("W", numpy.zeros_like(out.get_param("W")))
    b = numpy.zeros_like(out.get_param("b"))
    b[ner.tags.index("O")] = -10.0
    out.set_param("b", b)
    return nlp


def uniform_crf_tagger() -> Language:
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("crf_tagger")
    examples = [Example.from_dict(nlp.make_doc("I like green eggs"), {"tags": ["N", "V", "J", "N"]})]
    nlp.initialize(lambda: examples)
    out = tagger.model.get_ref("output")
    out.set_param("W", numpy.zeros_like(out.get_param("W")))
    out.set_param("b", numpy.zeros_like(out.get_param("b")))
    return nlp


def normalizer(kb_dir: Path) -> Language:
    kb_path = kb_dir / "kb.jsonl"
    kb_path.write_text("".join(json.dumps(r) + "\n" for r in KB_RECORDS), encoding="utf8")
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_normalizer", config={"threshold": 0.3})
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(kb_path)}
    }
    nlp.initialize()
    return nlp


def with_entities(doc: Doc) -> Doc:
    """An entity on tokens 4k, 4k+1 of the doc (labels ORG and LOC)."""
    doc.ents = [Span(doc, i, i + 2, label="ORG" if i % 8 else "LOC") for i in range(0, len(doc) - 1, 4)]
    return doc


def time_component(nlp: Language, name: str, n: int, rounds: int, ents: bool, seed: int = 1) -> Dict:
    proc = nlp.get_pipe(name)
    best = float("inf")
    stats: Dict = {}
    for r in range(rounds):
        # A new doc each round: the normalizer remembers the mentions it has seen.
        doc = make_doc(nlp, n, seed=seed + r + 1000 * n)
        if ents:
            with_entities(doc)
        start = time.perf_counter()
        (out,) = list(proc.pipe([doc]))
        best = min(best, time.perf_counter() - start)
        key = getattr(proc, "cfg", {}).get("spans_key") if hasattr(proc, "cfg") else None
        if key and key in out.spans:
            stats["spans_per_token"] = round(len(out.spans[key]) / n, 3)
        stats["ents"] = len(out.ents)
    return {"tokens": n, "seconds": round(best, 4), "us_per_token": round(best / n * 1e6, 2), **stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[500, 5000, 50000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", nargs="*", default=[], help="NAME=MODEL_DIR of trained pipelines")
    parser.add_argument("--output", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        systems = {
            "crf_ner BIO (uncertain)": (uncertain_crf_ner("BIO"), "crf_ner", False),
            "crf_ner BILUO (uncertain)": (uncertain_crf_ner("BILUO"), "crf_ner", False),
            "crf_tagger (uniform)": (uniform_crf_tagger(), "crf_tagger", False),
            "entity_normalizer": (normalizer(Path(tmp)), "entity_normalizer", True),
        }
        for item in args.model:
            label, _, path = item.partition("=")
            trained = spacy.load(path)
            for name in trained.pipe_names:
                factory = trained.get_pipe_meta(name).factory
                if factory in ("crf_ner", "crf_tagger", "entity_normalizer"):
                    # Upstream components run first, so each one sees what it would in the pipeline.
                    systems[f"{label}:{name}"] = (trained, name, factory == "entity_normalizer")
        results = {}
        for system, (nlp, name, ents) in systems.items():
            time_component(nlp, name, min(args.lengths), 1, ents, seed=-1)  # warm-up: compiled kernels
            rows = [time_component(nlp, name, n, args.rounds, ents) for n in args.lengths]
            growth = rows[-1]["us_per_token"] / max(rows[0]["us_per_token"], 1e-9)
            results[system] = {"lengths": rows, "growth": round(growth, 2)}
    write_json({"machine": machine(), "rounds": args.rounds, "results": results}, args.output)


if __name__ == "__main__":
    main()
