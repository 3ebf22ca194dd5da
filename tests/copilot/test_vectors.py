"""Evidence-sentence vectors kept once per index: looked up, not embedded again, and filled at ingest."""

from __future__ import annotations

import numpy as np

from copilot.vectors import TextVectors, fill_units


class CountingEmbedder:
    """A deterministic vector per text, counting the texts embedded (isolates the cache)."""

    name = "counting"
    dim = 4

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_documents(self, texts):
        self.embedded += list(texts)
        return np.stack([np.array([len(t), t.count("a"), t.count("e"), 1.0], np.float32) for t in texts])


def test_embed_returns_vectors_in_order_and_embeds_each_text_once(tmp_path):
    emb = CountingEmbedder()
    cache = TextVectors(tmp_path / "units.npz", emb, threads=None)
    first = cache.embed(["alpha beta.", "gamma.", "alpha beta."])
    assert first.shape == (3, 4) and np.array_equal(first[0], first[2]) and first[1][0] == len("gamma.")
    again = cache.embed(["gamma.", "delta eee."])
    assert emb.embedded == ["alpha beta.", "gamma.", "delta eee."]
    assert np.array_equal(again[0], first[1]) and cache.embed([]).shape == (0, 4)


def test_saved_vectors_serve_a_new_process_and_another_embedder_starts_over(tmp_path):
    path = tmp_path / "units.npz"
    cache = TextVectors(path, CountingEmbedder(), threads=None)
    cache.embed(["one sentence.", "two sentences."])
    assert not path.exists()  # written only by save(), after the answer
    cache.save()
    fresh = CountingEmbedder()
    assert TextVectors(path, fresh, threads=None).embed(["two sentences."])[0][0] == len("two sentences.")
    assert fresh.embedded == []
    other = CountingEmbedder()
    other.name = "another"
    TextVectors(path, other, threads=None).embed(["two sentences."])
    assert other.embedded == ["two sentences."]
    assert not list(tmp_path.glob("*.tmp.npz"))


def test_fill_units_embeds_the_sentences_and_titles_of_new_chunks_only(tmp_path):
    path = tmp_path / "units.npz"
    emb = CountingEmbedder()
    chunks = [("PPO > Clipping", "PPO clips the ratio. It keeps updates small.\n\n- One item here.")]
    assert fill_units(path, emb, chunks) == 4
    assert set(emb.embedded) == {"PPO > Clipping", "PPO clips the ratio.", "It keeps updates small.",
                                 "- One item here."}
    again = CountingEmbedder()
    assert fill_units(path, again, chunks + [("SAC", "SAC maximises entropy too.")]) == 2
    assert again.embedded == ["SAC", "SAC maximises entropy too."]
