"""Tokens for BM25 and sentence matching: British and American spellings meet, stems when asked."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.bm25 import BM25, tokenize


@pytest.mark.parametrize("british, american", [
    ("prioritised replay", "prioritized replay"), ("normalise observations", "normalize observations"),
    ("optimisation", "optimization"), ("behaviour", "behavior"), ("modelling", "modeling"),
    ("analyse", "analyze"), ("regularisation", "regularization"), ("centre", "center"),
])
def test_british_and_american_spellings_meet(british, american):
    assert tokenize(british) == tokenize(american)


def test_short_and_unrelated_words_keep_their_form():
    assert tokenize("raise noise rise four hours") == ["raise", "noise", "rise", "four", "hours"]
    assert tokenize("normalize_obs")[0] == "normalize_obs"  # identifiers stay whole


def test_stems_only_when_asked():
    assert tokenize("sampling samples sampled", stemmed=True) == ["sampl"] * 3
    assert tokenize("policies policy running embedded embedding", stemmed=True) == [
        "policy", "policy", "run", "embed", "embed"]
    assert tokenize("sampling samples") == ["sampling", "samples"]
    assert tokenize("losses loss bias biases", stemmed=True) == ["loss", "loss", "bias", "bias"]
    # a four-letter plural meets its singular ("Runs without ..." for "my run folders")
    assert tokenize("runs run logs plus", stemmed=True) == ["run", "run", "log", "plus"]


def test_postings_of_another_tokenizer_are_refused(tmp_path):
    bm25 = BM25.build([tokenize("prioritised replay"), tokenize("uniform replay")])
    path = tmp_path / "bm25.npz"
    bm25.save(path)
    assert BM25.load(path).n_docs == 2
    with np.load(path) as data:  # postings saved before spellings met carry no version
        np.savez(tmp_path / "old.npz", **{k: data[k] for k in data.files if k != "tokenizer"})
    with pytest.raises(ValueError, match="another tokenizer"):
        BM25.load(tmp_path / "old.npz")


def test_current_tells_postings_of_this_tokenizer(tmp_path):
    path = tmp_path / "bm25.npz"
    assert not BM25.current(path)
    BM25.build([tokenize("uniform replay")]).save(path)
    assert BM25.current(path)
