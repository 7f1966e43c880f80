"""Saved KB and index tables are checked before the kernels see them."""

import numpy
import pytest
import spacy

from spacy_crf_ner.kb.index import CandidateIndex
from spacy_crf_ner.kb.knowledge_base import KnowledgeBase
from spacy_crf_ner.kb.validation import ModelDataError

from util import KB_RECORDS


@pytest.fixture(scope="module")
def kb():
    kb = KnowledgeBase()
    for r in KB_RECORDS:
        kb.add_entity(r["id"], r["name"], r["aliases"], r["types"])
    return kb


@pytest.fixture(scope="module")
def index(kb):
    return CandidateIndex.build(kb)


def save(kb, index, path):
    kb.to_disk(path / "kb")
    index.to_disk(path / "index")


def edit_npy(path, change):
    arr = numpy.load(path)
    change(arr)
    numpy.save(path, arr)


CASES = [
    ("index/row_ptr.npy", lambda a: a.__setitem__(1, 10**6), "row_ptr"),
    ("index/row_ptr.npy", lambda a: a.__setitem__(slice(1, 3), a[1:3][::-1] + 5), "row_ptr"),
    ("index/row_cols.npy", lambda a: a.__setitem__(0, 10**6), "row_cols"),
    ("index/key_ptr.npy", lambda a: a.__setitem__(-1, a[-1] + 1), "key_ptr"),
    ("index/key_pairs.npy", lambda a: a.__setitem__(0, 10**6), "key_pairs"),
    ("index/key_pairs.npy", lambda a: a.__setitem__(0, -3), "key_pairs"),
    ("index/neighbour_keys.npy", lambda a: a.__setitem__((0, 0), 10**6), "neighbour_keys"),
    ("index/idf.npy", lambda a: a.__setitem__(0, numpy.nan), "idf"),
    ("kb/alias_entities.npy", lambda a: a.__setitem__(0, len(KB_RECORDS)), "alias_entities"),
]


@pytest.mark.parametrize("rel,change,field", CASES)
def test_out_of_range_tables_fail_at_load(kb, index, tmp_path, rel, change, field):
    save(kb, index, tmp_path)
    edit_npy(tmp_path / rel, change)
    with pytest.raises(ModelDataError, match=field) as err:
        loaded = KnowledgeBase.from_disk(tmp_path / "kb")
        CandidateIndex.from_disk(tmp_path / "index", loaded)
    assert rel.split("/")[-1] in str(err.value) and "re-save the pipeline" in str(err.value)


def test_wrong_dtype_and_shape(kb, index, tmp_path):
    save(kb, index, tmp_path)
    numpy.save(tmp_path / "index" / "row_vals.npy", numpy.zeros(3, dtype=numpy.complex64))
    with pytest.raises(ModelDataError, match="row_vals.npy.*dtype complex64"):
        CandidateIndex.from_disk(tmp_path / "index", kb)
    numpy.save(tmp_path / "index" / "row_vals.npy", numpy.zeros((2, 2), dtype=numpy.float32))
    with pytest.raises(ModelDataError, match="dimensions"):
        CandidateIndex.from_disk(tmp_path / "index", kb)


def test_index_of_another_kb(index, tmp_path):
    small = KnowledgeBase()
    small.add_entity("X", "x")
    index.to_disk(tmp_path / "index")
    with pytest.raises(ModelDataError, match="index and KB differ"):
        CandidateIndex.from_disk(tmp_path / "index", small)


def test_bad_settings_in_index(kb, index, tmp_path):
    import srsly

    save(kb, index, tmp_path)
    data = srsly.read_msgpack(tmp_path / "index" / "index.msgpack")
    data["config"]["n_rescore"] = 0
    srsly.write_msgpack(tmp_path / "index" / "index.msgpack", data)
    with pytest.raises(ModelDataError, match="n_rescore must be a positive integer"):
        CandidateIndex.from_disk(tmp_path / "index", kb)


def test_unreadable_files(kb, index, tmp_path):
    save(kb, index, tmp_path)
    (tmp_path / "index" / "index.msgpack").write_bytes(b"\xc1\xc1")
    with pytest.raises(ModelDataError, match="cannot read .*index.msgpack"):
        CandidateIndex.from_disk(tmp_path / "index", kb)
    (tmp_path / "kb" / "alias_counts.npy").write_bytes(b"\x93NUMPY")
    with pytest.raises(ModelDataError, match="cannot read .*alias_counts.npy"):
        KnowledgeBase.from_disk(tmp_path / "kb")


@pytest.mark.parametrize("folder", ["kb", "index"])
def test_deleted_folder_fails_at_load(tmp_path, folder):
    import shutil

    from util import write_kb

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_normalizer")
    nlp.config["initialize"]["components"]["entity_normalizer"] = {
        "kb_loader": {
            "@misc": "spacy-crf-ner.load_kb.v1",
            "path": str(write_kb(tmp_path / "kb.jsonl")),
        }
    }
    nlp.initialize()
    nlp.to_disk(tmp_path / "p")
    shutil.rmtree(tmp_path / "p" / "entity_normalizer" / folder)
    (tmp_path / "p" / "entity_normalizer" / "checksums.json").unlink()
    with pytest.raises(ValueError, match=f"entity_normalizer/{folder} is missing"):
        spacy.load(tmp_path / "p")


def test_damaged_bytes(kb, index):
    nlp = spacy.blank("en")
    norm = nlp.add_pipe("entity_normalizer")
    norm.kb, norm.index = kb, index
    data = norm.to_bytes()
    fresh = spacy.blank("en").add_pipe("entity_normalizer")
    for bad in (data[: len(data) // 2], b"\x00" + data[1:]):
        with pytest.raises(ValueError):
            fresh.from_bytes(bad)
    assert fresh.index is None
    fresh.from_bytes(data)
    assert fresh.index is not None


def test_directory_from_an_older_version_loads(tmp_path):
    """No checksums.json and no saved_kb flag in cfg: loads as before."""
    import json

    from util import TEXTS, ner_normalizer_pipeline, predictions, write_kb

    nlp = ner_normalizer_pipeline(write_kb(tmp_path / "kb.jsonl"), steps=3)
    nlp.to_disk(tmp_path / "p")
    for listing in (tmp_path / "p").rglob("checksums.json"):
        listing.unlink()
    cfg_path = tmp_path / "p" / "entity_normalizer" / "cfg"
    cfg = json.loads(cfg_path.read_text())
    del cfg["saved_kb"]
    cfg_path.write_text(json.dumps(cfg))
    assert predictions(spacy.load(tmp_path / "p"), TEXTS) == predictions(nlp, TEXTS)
