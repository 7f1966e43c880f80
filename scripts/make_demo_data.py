"""Write the demo corpus: sentences generated from templates and invented
names (no text copied from anywhere). A demo, not a benchmark.

    python scripts/make_demo_data.py OUT_DIR [--n-train 600] [--n-dev 150] [--seed 0]

Writes OUT_DIR/train.spacy and OUT_DIR/dev.spacy with PERSON, ORG and LOC
entities, and OUT_DIR/texts.jsonl with unseen sentences to annotate.
"""
import argparse
import random
from pathlib import Path

import spacy
import srsly
from spacy.tokens import DocBin

FIRST = ["Ada", "Bruno", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Keiko", "Lars", "Mira", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq"]
LAST = ["Varga", "Okafor", "Lindqvist", "Moreau", "Castillo", "Haddad", "Novak", "Tanaka",
        "Brennan", "Kowalski", "Ferreira", "Nakamura", "Petrov", "Adeyemi", "Rossi"]
ORG = ["Velto Systems", "Brightwater Bank", "Quillon Labs", "Northgate Insurance", "Orbis Media",
       "Kestrel Airlines", "Maple & Finch", "Tessaract Corp.", "Lumen Health", "Harbor Freight Lines",
       "Cobalt Motors", "Silverline Foods"]
LOC = ["Port Avalon", "Ravenmoor", "Lake Serin", "Eastbridge", "New Calder", "Ostria",
       "the Tamsin Valley", "Brightholm", "Vellmar", "Kaltenberg", "San Orel", "Mistral Bay"]
TEMPLATES = [
    "{PERSON} joined {ORG} last year .",
    "{ORG} opened a new office in {LOC} .",
    "{PERSON} flew from {LOC} to {LOC} on Monday .",
    "Shares of {ORG} fell after {PERSON} resigned .",
    "{PERSON} and {PERSON} met in {LOC} .",
    "The mayor of {LOC} , {PERSON} , criticised {ORG} .",
    "{ORG} hired {PERSON} as chief engineer .",
    "Heavy rain closed roads around {LOC} .",
    "According to {PERSON} , {ORG} will expand to {LOC} .",
    "Nobody expected the storm .",
    "{PERSON} grew up near {LOC} .",
    "{ORG} and {ORG} agreed to merge .",
]
UNSEEN = [
    "Mira Haddad moved to Vellmar to work for Quillon Labs .",
    "Cobalt Motors will build a plant near Lake Serin .",
    "Jonas Petrov met the mayor of Ostria on Friday .",
]


def person(rng: random.Random) -> str:
    return rng.choice(FIRST) if rng.random() < 0.2 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def sentence(rng: random.Random):
    template = rng.choice(TEMPLATES)
    text, ents = "", []
    for i, part in enumerate(template.replace("{", "\x00{").replace("}", "}\x00").split("\x00")):
        if part.startswith("{"):
            label = part[1:-1]
            value = person(rng) if label == "PERSON" else rng.choice(ORG if label == "ORG" else LOC)
            ents.append((len(text), len(text) + len(value), label))
            text += value
        else:
            text += part
    return text, ents


def write(nlp, rng, n: int, path: Path) -> None:
    db = DocBin()
    for _ in range(n):
        text, ents = sentence(rng)
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label=label) for s, e, label in ents]
        db.add(doc)
    db.to_disk(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-dev", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    nlp = spacy.blank("en")
    write(nlp, rng, args.n_train, args.out_dir / "train.spacy")
    write(nlp, rng, args.n_dev, args.out_dir / "dev.spacy")
    srsly.write_jsonl(args.out_dir / "texts.jsonl", [{"text": t} for t in UNSEEN])


if __name__ == "__main__":
    main()
