"""What several test files share: small training sets and how to train on
them, small pipelines, nasty texts, the invariants every component's output
keeps, and the worker that loads corrupted copies of a saved pipeline in a
subprocess."""

import json
import random
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.training import Example

# Entities as character offsets, in Example.from_dict's format.
ENT_DATA: List[Tuple[str, Dict[str, Any]]] = [
    ("Who is Shaka Khan?", {"entities": [(7, 17, "PERSON")]}),
    ("I like London and Berlin.", {"entities": [(7, 13, "LOC"), (18, 24, "LOC")]}),
    ("Sarah Jane Smith flew to Paris.", {"entities": [(0, 16, "PERSON"), (25, 30, "LOC")]}),
    ("Nothing to see here.", {"entities": []}),
]
# Token tags, in Example.from_dict's format.
TAG_DATA: List[Tuple[str, Dict[str, Any]]] = [
    ("I like green eggs", {"tags": ["N", "V", "J", "N"]}),
    ("Eat blue ham", {"tags": ["V", "J", "N"]}),
]
# Tokenized sentences with entities as token offsets and Penn Treebank tags.
TAGGED_ENTS: List[Tuple[str, List[Tuple[int, int, str]], List[str]]] = [
    ("Who is Shaka Khan ?", [(2, 4, "PERSON")], ["WP", "VBZ", "NNP", "NNP", "."]),
    ("I like London and Berlin .", [(2, 3, "LOC"), (4, 5, "LOC")], ["PRP", "VBP", "NNP", "CC", "NNP", "."]),
    ("Sarah flew to Paris .", [(0, 1, "PERSON"), (3, 4, "LOC")], ["NNP", "VBD", "TO", "NNP", "."]),
]


def make_examples(nlp: Language, data: Sequence[Tuple[str, Dict[str, Any]]] = ENT_DATA) -> List[Example]:
    """Examples from (text, annotations) pairs such as ENT_DATA and TAG_DATA."""
    return [Example.from_dict(nlp.make_doc(text), annotations) for text, annotations in data]


def tagged_examples(nlp: Language) -> List[Example]:
    """TAGGED_ENTS as examples with both entities and tags (the pipeline's
    tokenizer splits the texts at their spaces)."""
    out = []
    for text, ents, tags in TAGGED_ENTS:
        doc = nlp.make_doc(text)
        spans = [(doc[s].idx, doc[e - 1].idx + len(doc[e - 1]), label) for s, e, label in ents]
        out.append(Example.from_dict(doc, {"tags": tags, "entities": spans}))
    return out


def train(
    nlp: Language,
    examples: List[Example],
    steps: int,
    get_examples: Optional[Callable[[], List[Example]]] = None,
) -> Dict[str, float]:
    """Initialize `nlp` on `examples` (or `get_examples`) and update it
    `steps` times on all of them; the losses of the last step."""
    optimizer = nlp.initialize(get_examples or (lambda: examples))
    losses: Dict[str, float] = {}
    for _ in range(steps):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
    return losses


KB_RECORDS = [
    {
        "id": "D1",
        "name": "Wilson Disease",
        "aliases": ["hepatolenticular degeneration"],
        "types": ["DISEASE"],
    },
    {"id": "D2", "name": "Breast Neoplasms", "aliases": ["breast cancer"], "types": ["DISEASE"]},
    {
        "id": "Q1",
        "name": "International Business Machines",
        "aliases": ["IBM", "IBM Corp."],
        "types": ["ORG"],
    },
    {"id": "Q2", "name": "Apple Inc.", "aliases": ["Apple"], "types": ["ORG"]},
    {"id": "L1", "name": "London", "aliases": ["Londres"], "types": ["LOC"]},
]

NER_TRAIN = [
    ("IBM and Apple opened offices in London.", [(0, 3, "ORG"), (8, 13, "ORG"), (32, 38, "LOC")]),
    ("Wilson disease is rare in London.", [(0, 14, "DISEASE"), (26, 32, "LOC")]),
    ("Breast cancer research at IBM Corp. grew.", [(0, 13, "DISEASE"), (26, 35, "ORG")]),
    ("Nothing to see here.", []),
]

TEXTS = [
    "IBM and Apple opened offices in London.",
    "Wilson disease and breast cancer (BC) were studied at IBM Corp. in Londres.",
    "Apple, IBM, London; hepatolenticular degeneration.",
]

# Characters a careless or hostile input contains: emoji (with joiners and
# flags), combining marks, bidirectional controls, zero-width and other
# spaces, surrogate-free astral letters, brackets and quotes of all kinds.
NASTY = (
    list("🤖🙃👩\u200d👧🇺🇳⟨⟩ℵ∰§¶‽⁂☃🂡𝔘𝕏ẞǅⅫ½٣①…–«»\"'`()[]{}<>.,;:!?/\\|@#$%^&*_+=~")
    + [
        "\u0301",
        "\u0308",
        "\u200b",
        "\u200e",
        "\u202e",
        "\u2066",
        "\ufeff",
        "\u00a0",
        "\u3000",
        "\t",
        "\n",
        "\r\n",
    ]
    + list("שלוםمرحبا한국어日本語")
    + [
        "IBM",
        "Apple",
        "London",
        "Wilson disease",
        "breast cancer",
        "(BC)",
        "Corp.",
        "x86_64",
        "3.5mg",
        " ",
    ]
)


def nasty_texts(n: int, seed: int = 0, max_parts: int = 30) -> List[str]:
    """`n` texts of random nasty pieces, some empty or all whitespace."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        k = rng.randint(0, max_parts)
        sep = rng.choice(["", " ", "  "])
        texts.append(sep.join(rng.choice(NASTY) for _ in range(k)))
    return texts


def write_kb(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in KB_RECORDS), encoding="utf8")
    return path


def ner_examples(nlp: Language) -> List[Example]:
    examples = []
    for text, ents in NER_TRAIN:
        ref = nlp.make_doc(text)
        ref.ents = [ref.char_span(s, e, label=label) for s, e, label in ents]
        examples.append(Example(nlp.make_doc(text), ref))
    return examples


def ner_normalizer_pipeline(kb_file: Path, steps: int = 15) -> Language:
    """crf_ner trained briefly, then entity_normalizer over KB_RECORDS."""
    nlp = spacy.blank("en")
    nlp.add_pipe("crf_ner", config={"span_threshold": 0.05})
    nlp.add_pipe("entity_normalizer", config={"threshold": 0.3})
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {"@misc": "spacy-crf-ner.load_kb.v1", "path": str(kb_file)}
    }
    examples = ner_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp


def predictions(nlp: Language, texts: List[str]) -> List[Any]:
    """What a pipeline says about texts, comparable with ==."""
    out = []
    for doc in nlp.pipe(texts):
        ents = [
            (e.start, e.end, e.label_, e.kb_id_, round(float(e._.crf_confidence or 0.0), 6))
            for e in doc.ents
        ]
        group = doc.spans.get("crf_spans")
        spans = [(s.start, s.end, s.label_) for s in group] if group is not None else []
        out.append([ents, spans])
    return out


def check_invariants(doc: Any, kb_ids: Any = None) -> None:
    """What every output keeps: entities inside the doc and not overlapping,
    confidences and span scores in [0, 1], KB IDs from the KB."""
    n = len(doc)
    last_end = 0
    for ent in doc.ents:
        assert 0 <= ent.start < ent.end <= n
        assert ent.start >= last_end
        last_end = ent.end
        conf = ent._.crf_confidence if ent.has_extension("crf_confidence") else None
        if conf is not None:
            assert 0.0 <= conf <= 1.0 + 1e-6
        if kb_ids is not None and ent.kb_id_:
            assert ent.kb_id_ in kb_ids
    group = doc.spans.get("crf_spans")
    if group is not None:
        scores = group.attrs.get("scores", [])
        assert len(scores) == len(group)
        for span, score in zip(group, scores):
            assert 0 <= span.start < span.end <= n
            assert 0.0 <= float(score) <= 1.0 + 1e-6


# Mutations of a file's bytes, by name.
def mutate(data: bytes, how: str) -> bytes:
    if how == "empty":
        return b""
    if how == "half":
        return data[: len(data) // 2]
    if how == "drop-last":
        return data[:-1]
    kind, _, pos = how.partition("@")
    if kind == "flip" and data:
        i = int(float(pos) * (len(data) - 1))
        return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
    if kind == "bit" and data:
        i = int(float(pos) * (len(data) - 1))
        return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
    return data


def corruption_worker(job_file: str) -> None:
    """Run in a subprocess: for each (file, mutation, drop checksums) of the
    job, copy the saved pipeline (or, for a component's file, that
    component's directory), damage that file, load the copy and predict.
    Writes one JSON line per case to the job's log *before* trying it
    ("start") and after ("error" with the exception's type and message, or
    "ok" with the predictions), so that a crash names the case that caused it.
    """
    job = json.loads(Path(job_file).read_text())
    src = Path(job["pipeline"])
    work = Path(job["work"])
    log = open(job["log"], "a", encoding="utf8")

    def write(entry: Dict[str, Any]) -> None:
        log.write(json.dumps(entry) + "\n")
        log.flush()

    import spacy_crf_ner.pipeline  # noqa: F401

    nlp = spacy.load(src)
    for rel, how, drop in job["cases"]:
        case = [rel, how, drop]
        write({"case": case, "status": "start"})
        component = rel.split("/", 1)[0]
        own = component in nlp.pipe_names and "/" in rel
        target = work / (component if own else "pipeline")
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(src / component if own else src, target)
        if drop:
            for listing in target.rglob("checksums.json"):
                listing.unlink()
        damaged = target / (rel.split("/", 1)[1] if own else rel)
        if damaged.exists():
            damaged.write_bytes(mutate(damaged.read_bytes(), how))
        try:
            if own:
                nlp.get_pipe(component).from_disk(target, exclude=["vocab"])
                result = predictions(nlp, job["texts"])
            else:
                result = predictions(spacy.load(target), job["texts"])
        except Exception as err:  # noqa: B902 - the test decides what is acceptable
            write(
                {
                    "case": case,
                    "status": "error",
                    "type": type(err).__name__,
                    "bases": [c.__name__ for c in type(err).__mro__],
                    "message": str(err)[:500],
                    "where": traceback.format_exc(limit=-3)[-1500:],
                }
            )
            continue
        write({"case": case, "status": "ok", "predictions": result})
    log.close()


def random_kb(n: int, seed: int = 0, letters: str = "abcdefghij") -> Any:
    """A KnowledgeBase of n entities with random names of one to three words."""
    from spacy_crf_ner.kb import KnowledgeBase

    rng = random.Random(seed)
    kb = KnowledgeBase()
    for i in range(n):
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 8))) for _ in range(rng.randint(1, 3))]
        kb.add_entity(f"E{i}", " ".join(words))
    return kb


def word_ngrams(text: str, sizes: Tuple[int, ...] = (3,)) -> set:
    """The set of n-grams of each word padded with one space on both sides
    (a word shorter than n gives itself, padded), written apart from the package's."""
    out = set()
    for word in text.split():
        padded = " " + word + " "
        for n in sizes:
            out.update(padded[i : i + n] for i in range(max(len(padded) - n, 0) + 1))
    return out


def dense_tfidf(keys: List[str], queries: List[str], sizes: Tuple[int, ...] = (3,)) -> Any:
    """Brute-force TF-IDF cosines (binary tf, smooth idf, unit length; a
    query's n-grams no key has count in its length): (len(queries), len(keys))."""
    import numpy

    grams = [word_ngrams(k, sizes) for k in keys]
    vocab = {g: i for i, g in enumerate(sorted(set().union(*grams)))}
    df = numpy.zeros(len(vocab))
    for gs in grams:
        for g in gs:
            df[vocab[g]] += 1
    idf = numpy.log((1 + len(keys)) / (1 + df)) + 1
    mat = numpy.zeros((len(keys), len(vocab)))
    for i, gs in enumerate(grams):
        for g in gs:
            mat[i, vocab[g]] = idf[vocab[g]]
    mat /= numpy.maximum(numpy.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
    out = numpy.zeros((len(queries), len(keys)))
    for qi, query in enumerate(queries):
        q = numpy.zeros(len(vocab))
        extra = 0.0
        for g in word_ngrams(query, sizes):
            if g in vocab:
                q[vocab[g]] = idf[vocab[g]]
            else:
                extra += (numpy.log(1 + len(keys)) + 1) ** 2
        norm = numpy.sqrt(q @ q + extra)
        out[qi] = mat @ q / norm if norm else 0.0
    return out


if __name__ == "__main__":
    corruption_worker(sys.argv[1])
