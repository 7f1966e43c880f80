from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")
    parser.addoption("--rungpu", action="store_true", help="run tests marked gpu")


def pytest_collection_modifyitems(config, items):
    for marker, option in (("slow", "--runslow"), ("gpu", "--rungpu")):
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"needs {option}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_ner():
    """A blank English pipeline with crf_ner, overfitted on two sentences."""
    from spacy.lang.en import English
    from spacy.training import Example

    nlp = English()
    nlp.add_pipe("crf_ner")
    data = [("Sarah flew to Paris.", {"entities": [(0, 5, "PERSON"), (14, 19, "LOC")]}),
            ("I like Berlin.", {"entities": [(7, 13, "LOC")]})]
    examples = [Example.from_dict(nlp.make_doc(t), a) for t, a in data]
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    return nlp


WORDPIECES = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="session")
def tiny_transformer(tmp_path_factory) -> Path:
    """A small random BERT and its tokenizer, saved locally (no download).
    Needs the [transformers] extra."""
    pytest.importorskip("spacy_transformers")
    transformers = pytest.importorskip("transformers")
    BertConfig, BertModel, BertTokenizerFast = (
        transformers.BertConfig,
        transformers.BertModel,
        transformers.BertTokenizerFast,
    )

    path = tmp_path_factory.mktemp("tiny-bert")
    chars = sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,?!'-"))
    words = ["who", "is", "shaka", "khan", "london", "berlin", "paris", "flew", "to", "like", "and"]
    vocab = WORDPIECES + chars + [f"##{c}" for c in chars] + words
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=False)
    tokenizer.save_pretrained(path)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(path)
    return path
