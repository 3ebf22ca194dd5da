"""Ranking: question types, weighted fusion, kind priors, relevance, the API stub filter, and
gold questions on an index of the real corpus."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from copilot.apiref import api_reference, has_real_doc, summary
from copilot.config import Settings
from copilot.ranking import (API, CONCEPT, DEFAULT, Candidate, Ranking, fuse, query_type,
                             relevance)
from copilot.vectors import TextVectors

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("query, expected", [
    ("What is the advantage function?", CONCEPT),
    ("Why does TD3 add noise to the target action?", CONCEPT),
    ("How does SAC encourage exploration?", CONCEPT),
    ("What does the clipping parameter in PPO control?", CONCEPT),
    ("Which PPOConfig field sets the clipping range?", API),
    ("What does gae_lambda do?", API),
    ("rlcore.agents.ppo.PPO", API),
    ("Which function computes the interquartile mean?", API),
    ("How do I register my own encoder class?", API),
    ("PPO的配置里哪个字段设置熵系数？", API),
    ("什么是广义优势估计？", CONCEPT),
])
def test_query_type(query, expected):
    assert query_type(query) == expected


def _cands() -> list[Candidate]:
    return [Candidate("faq", kind="faq", cosine=0.50, bm25=9.0, ranks=[2, 1, None]),
            Candidate("paper", kind="paper", cosine=0.55, bm25=3.0, ranks=[1, 3, None]),
            Candidate("api", kind="api", cosine=0.52, bm25=6.0, symbol=1.0, ranks=[3, 2, 1])]


def test_weighted_fusion_adds_cosine_scaled_bm25_symbol_and_prior():
    plain = Ranking(priors=None)
    scores = {c.id: c.score for c in fuse(_cands(), plain, CONCEPT)}
    assert scores["faq"] == pytest.approx(0.50 + 0.25 * 1.0)
    assert scores["paper"] == pytest.approx(0.55 + 0.25 * 3 / 9)
    assert scores["api"] == pytest.approx(0.52 + 0.25 * 6 / 9 + 0.3)
    no_symbol = Ranking(priors=None, symbol=0.0)
    assert [c.id for c in fuse(_cands(), no_symbol, CONCEPT)] == ["faq", "api", "paper"]
    assert [c.id for c in fuse(_cands(), Ranking(priors=None, bm25=0.0, symbol=0.0), CONCEPT)][0] == "paper"


def test_priors_depend_on_question_type():
    priors = {CONCEPT: {"paper": 0.2, "api": -0.2}, API: {"api": 0.2, "paper": -0.2}}
    ranking = Ranking(priors=priors, bm25=0.0, symbol=0.0)
    assert fuse(_cands(), ranking, CONCEPT)[0].id == "paper"
    assert fuse(_cands(), ranking, API)[0].id == "api"
    assert fuse(_cands(), Ranking(priors=priors, bm25=0.0, symbol=0.0, typed=False), API)[0].id == "paper"


def test_rrf_fusion_and_ablations():
    ranked = fuse(_cands(), DEFAULT.without("weighted"), CONCEPT)
    by_id = {c.id: c.score for c in ranked}
    assert by_id["api"] == pytest.approx(1 / 63 + 1 / 62 + 1 / 61)
    assert by_id["faq"] == pytest.approx(1 / 62 + 1 / 61)
    assert DEFAULT.without("priors").priors is None and DEFAULT.without("types").typed is False
    with pytest.raises(ValueError, match="Unknown lever 'magic'; accepted: priors"):
        DEFAULT.without("magic")


def test_relevance_is_calibrated_and_monotonic():
    assert relevance(0.65, 1.0) > 0.9 and relevance(0.45, 0.8) > 0.5
    assert relevance(0.15, 0.0) < 0.05 and relevance(0.25, 0.5) < 0.35
    assert relevance(0.4, 0.5) < relevance(0.5, 0.5) < relevance(0.5, 1.0)


def test_api_reference_drops_stubs_titles_by_summary_and_lists_config_fields(tmp_path, monkeypatch):
    pkg = tmp_path / "stubby"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''\
        from dataclasses import dataclass, field


        @dataclass
        class AgentConfig:
            """Agent hyperparameters."""

            ent_coef: float = field(default=0.01, metadata={"doc": "Entropy bonus coefficient."})
            seed: int = 0


        class Agent:
            """An agent that learns. It has more to say here."""

            def explore(self, obs):
                return obs

            def act(self, obs):
                """The greedy action for a batch of observations."""
                return obs


        class Bare:
            pass


        def helper(x):
            """TODO"""
            return x
        '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    pieces = {p.symbol: p for p in api_reference("stubby").modules["stubby"]}
    assert set(pieces) == {"stubby.AgentConfig", "stubby.Agent", "stubby.Agent.act"}
    assert pieces["stubby.Agent"].title == "stubby.Agent: An agent that learns."
    act = pieces["stubby.Agent.act"]
    assert act.title == "stubby.Agent.act: The greedy action for a batch of observations."
    config = pieces["stubby.AgentConfig"].text
    assert "- ent_coef (float, default 0.01): Entropy bonus coefficient." in config and "- seed" not in config
    assert has_real_doc("Adam learning rate.") and not has_real_doc("TODO") and not has_real_doc("")
    assert summary("First one. Second.") == "First one."
    sys.modules.pop("stubby", None)


# ----- gold questions on an index of part of the real corpus -----
GOLD = [  # (question, path, words of its heading path): the example and gold-set questions
    ("What does the clipping parameter in PPO control?", "corpus/papers/ppo.md", "clipped objective"),
    ("What does global gradient-norm clipping protect against?", "corpus/faq/training.md",
     "gradient clipping"),
    ("Why does TD3 update the actor less often than the critics?", "corpus/papers/td3.md", "td3: the"),
    ("Which PPOConfig field sets the clipping range of the probability ratio?", "corpus/docs/agents.md",
     "ppo config fields"),
    ("PPO中的裁剪参数控制什么？", "corpus/papers/ppo.md", "clipped objective"),
]


@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    from copilot.index import Index
    from copilot.ingest import ingest

    home = tmp_path_factory.mktemp("home")
    corpus = REPO / "corpus"
    settings = Settings(home=home, corpus=[str(corpus)])
    files = ["papers/ppo.md", "papers/td3.md", "faq/training.md", "docs/agents.md"]
    ingest([str(corpus / f) for f in files], settings, progress=False)
    return Index.open(settings)


@pytest.mark.slow  # embeds four corpus files: about a minute on a busy 2-core machine
@pytest.mark.parametrize("question, path, heading", GOLD)
def test_gold_questions_hit_at_rank_one(real_index, question, path, heading):
    top = real_index.search(question, k=3)[0]
    assert top.path == path and heading in top.title.lower(), (top.path, top.title)
    assert top.relevance >= 0.5


@pytest.mark.slow
def test_off_topic_questions_get_low_relevance(real_index):
    for question in ("How do I bake sourdough bread?", "What is the capital of France?"):
        assert real_index.search(question, k=1)[0].relevance < 0.35


class CountingEmbedder:
    """Isolates the heading cache: a deterministic vector per text, counting texts embedded."""

    def __init__(self, name: str = "fake") -> None:
        self.name, self.embedded = name, []

    def embed_documents(self, texts):
        self.embedded += list(texts)
        return np.stack([np.full(4, len(t), dtype=np.float32) for t in texts])


def test_heading_vectors_are_embedded_once_per_index(tmp_path):
    path = tmp_path / "headings.npz"
    first = CountingEmbedder()
    got = TextVectors(path, first).get(["PPO: pitfalls", "SAC: the idea", "", "PPO: pitfalls"])
    assert first.embedded == ["PPO: pitfalls", "SAC: the idea"] and got["SAC: the idea"][0] == 13
    second = CountingEmbedder()  # a new process: read from the file, nothing embedded again
    again = TextVectors(path, second).get(["SAC: the idea", "TD3: the update"])
    assert second.embedded == ["TD3: the update"] and set(again) == {"PPO: pitfalls", "SAC: the idea",
                                                                     "TD3: the update"}
    other = CountingEmbedder("another-embedder")  # vectors of another embedder are not reused
    TextVectors(path, other).get(["SAC: the idea"])
    assert other.embedded == ["SAC: the idea"]
    assert not list(tmp_path.glob("*.tmp.npz"))
