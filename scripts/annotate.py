"""Annotate JSONL texts with a trained pipeline and print the entities.

    python scripts/annotate.py MODEL IN.jsonl OUT.jsonl [--n-process 1] [--batch-size 64]

Each input line is {"text": ...}; each output line has the text and its
entities with character offsets, label, confidence and kb_id.
"""
import argparse
from pathlib import Path

import spacy
import srsly
from tqdm import tqdm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--n-process", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    nlp = spacy.load(args.model)
    records = list(srsly.read_jsonl(args.input))
    texts = [r["text"] for r in records]
    out = []
    docs = nlp.pipe(texts, n_process=args.n_process, batch_size=args.batch_size)
    for doc in tqdm(docs, total=len(texts), desc="annotate", unit="doc"):
        ents = [
            {"text": e.text, "label": e.label_, "start": e.start_char, "end": e.end_char,
             "confidence": e._.crf_confidence, "kb_id": e.kb_id_ or None}
            for e in doc.ents
        ]
        out.append({"text": doc.text, "entities": ents})
        print(doc.text)
        for e in ents:
            print(f"    {e['label']:<7} {e['text']!r:<28} p={e['confidence']:.3f}")
    srsly.write_jsonl(args.output, out)


if __name__ == "__main__":
    main()
