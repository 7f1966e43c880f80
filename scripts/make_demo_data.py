"""Write the demo corpus and knowledge base: sentences generated from
templates and invented names (no text copied from anywhere). It is a demo of
the workflow, not a benchmark.

    python scripts/make_demo_data.py OUT_DIR [--n-train 500] [--n-dev 120] [--seed 0]

Writes to OUT_DIR:
- train.spacy, dev.spacy: docs with Penn Treebank tags and PERSON, ORG and
  LOC entities whose kb_id is the invented entity's ID;
- kb.jsonl: the knowledge base (ID, name, some aliases, type). Each entity has
  one more alias that only appears in the texts, for the normalizer to learn
  from the training data or to match fuzzily;
- texts.jsonl: unseen sentences to annotate.
"""
import argparse
import random
from pathlib import Path
from typing import Dict, List, Tuple

import spacy
import srsly
from spacy.tokens import Doc, DocBin, Span

# (ID, type, canonical name, aliases in the KB, alias seen only in texts)
ENTITIES = [
    ("DEMO:P01", "PERSON", "Ada Varga", ["A. Varga"], "Varga"),
    ("DEMO:P02", "PERSON", "Bruno Okafor", ["B. Okafor"], "Okafor"),
    ("DEMO:P03", "PERSON", "Carla Lindqvist", ["C. Lindqvist"], "Lindqvist"),
    ("DEMO:P04", "PERSON", "Dmitri Moreau", ["D. Moreau"], "Moreau"),
    ("DEMO:P05", "PERSON", "Elena Castillo", ["E. Castillo"], "Castillo"),
    ("DEMO:P06", "PERSON", "Farid Haddad", ["F. Haddad"], "Haddad"),
    ("DEMO:P07", "PERSON", "Greta Novak", ["G. Novak"], "Novak"),
    ("DEMO:P08", "PERSON", "Hugo Tanaka", ["H. Tanaka"], "Tanaka"),
    ("DEMO:P09", "PERSON", "Ines Brennan", ["I. Brennan"], "Brennan"),
    ("DEMO:P10", "PERSON", "Jonas Kowalski", ["J. Kowalski"], "Kowalski"),
    ("DEMO:O01", "ORG", "Velto Systems", ["Velto Systems Inc."], "Velto"),
    ("DEMO:O02", "ORG", "Brightwater Bank", ["Brightwater Bank Ltd"], "Brightwater"),
    ("DEMO:O03", "ORG", "Quillon Labs", ["Quillon Laboratories"], "Quillon"),
    ("DEMO:O04", "ORG", "Northgate Insurance", ["Northgate Insurance Group"], "Northgate"),
    ("DEMO:O05", "ORG", "Orbis Media", ["Orbis Media Corp."], "Orbis"),
    ("DEMO:O06", "ORG", "Kestrel Airlines", ["Kestrel Air"], "Kestrel"),
    ("DEMO:O07", "ORG", "Cobalt Motors", ["Cobalt Motor Company"], "Cobalt"),
    ("DEMO:O08", "ORG", "Lumen Health", ["Lumen Health Inc."], "Lumen"),
    ("DEMO:L01", "LOC", "Port Avalon", ["Avalon Harbour"], "Avalon"),
    ("DEMO:L02", "LOC", "Ravenmoor", ["Ravenmoor City"], "Ravenmoor"),
    ("DEMO:L03", "LOC", "Lake Serin", ["Serin Lake"], "Serin"),
    ("DEMO:L04", "LOC", "Eastbridge", ["East Bridge"], "Eastbridge"),
    ("DEMO:L05", "LOC", "New Calder", ["Calder"], "New Calder"),
    ("DEMO:L06", "LOC", "Vellmar", ["Vellmar Province"], "Vellmar"),
]
# Templates: word/TAG tokens and {TYPE} slots (names are tagged NNP).
TEMPLATES = [
    "{PERSON} joined/VBD {ORG} last/JJ year/NN ./.",
    "{ORG} opened/VBD a/DT new/JJ office/NN in/IN {LOC} ./.",
    "{PERSON} flew/VBD from/IN {LOC} to/TO {LOC} on/IN Monday/NNP ./.",
    "Shares/NNS of/IN {ORG} fell/VBD after/IN {PERSON} resigned/VBD ./.",
    "{PERSON} and/CC {PERSON} met/VBD in/IN {LOC} ./.",
    "The/DT mayor/NN of/IN {LOC} ,/, {PERSON} ,/, criticised/VBD {ORG} ./.",
    "{ORG} hired/VBD {PERSON} as/IN chief/JJ engineer/NN ./.",
    "Heavy/JJ rain/NN closed/VBD roads/NNS around/IN {LOC} ./.",
    "According/VBG to/TO {PERSON} ,/, {ORG} will/MD expand/VB to/TO {LOC} ./.",
    "Nobody/NN expected/VBD the/DT storm/NN ./.",
    "{PERSON} grew/VBD up/RP near/IN {LOC} ./.",
    "{ORG} and/CC {ORG} agreed/VBD to/TO merge/VB ./.",
]
UNSEEN = [
    "Lindqvist moved to Vellmar Province to work for Quillon Laboratories .",
    "Cobalt Motor Company will build a plant near Serin Lake .",
    "J. Kowalski met the mayor of Calder on Friday .",
]


def mention(rng: random.Random, entity: tuple) -> str:
    _, _, name, aliases, text_only = entity
    return rng.choice([name, name, *aliases, text_only])


def sentence(rng: random.Random, by_type: Dict[str, List[tuple]]) -> Tuple[List[str], List[str], List[Tuple[int, int, str, str]]]:
    words: List[str] = []
    tags: List[str] = []
    ents: List[Tuple[int, int, str, str]] = []
    for part in rng.choice(TEMPLATES).split():
        if part.startswith("{"):
            label = part[1:-1]
            entity = rng.choice(by_type[label])
            tokens = mention(rng, entity).split()
            ents.append((len(words), len(words) + len(tokens), label, entity[0]))
            words.extend(tokens)
            tags.extend("NNP" for _ in tokens)
        else:
            word, tag = part.rsplit("/", 1)
            words.append(word)
            tags.append(tag)
    return words, tags, ents


def write_docs(vocab, rng: random.Random, n: int, path: Path, by_type) -> None:
    db = DocBin(store_user_data=True)
    for _ in range(n):
        words, tags, ents = sentence(rng, by_type)
        spaces = [i + 1 < len(words) and words[i + 1] not in (".", ",") for i in range(len(words))]
        doc = Doc(vocab, words=words, spaces=spaces, tags=tags)
        doc.ents = [Span(doc, s, e, label=label, kb_id=kb_id) for s, e, label, kb_id in ents]
        db.add(doc)
    db.to_disk(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n-train", type=int, default=500)
    parser.add_argument("--n-dev", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    by_type: Dict[str, List[tuple]] = {}
    for entity in ENTITIES:
        by_type.setdefault(entity[1], []).append(entity)
    vocab = spacy.blank("en").vocab
    write_docs(vocab, rng, args.n_train, args.out_dir / "train.spacy", by_type)
    write_docs(vocab, rng, args.n_dev, args.out_dir / "dev.spacy", by_type)
    srsly.write_jsonl(
        args.out_dir / "kb.jsonl",
        [{"id": i, "name": name, "aliases": aliases, "types": [t]} for i, t, name, aliases, _ in ENTITIES],
    )
    srsly.write_jsonl(args.out_dir / "texts.jsonl", [{"id": k, "text": t} for k, t in enumerate(UNSEEN)])


if __name__ == "__main__":
    main()
