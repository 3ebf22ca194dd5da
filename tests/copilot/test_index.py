"""Index: identifier tokens, BM25, rank fusion, kind filters, cross-lingual queries, offline use."""

from __future__ import annotations

import ipaddress
import math
import socket
import textwrap
from pathlib import Path

import numpy as np
import pytest

from copilot import embeddings
from copilot.bm25 import BM25, SymbolTable, tokenize
from copilot.config import Settings
from copilot.glossary_zh import GLOSSARY, expand, question_form
from copilot.index import Index, SearchError, reciprocal_rank_fusion
from copilot.ranking import DEFAULT
from copilot.ingest import ingest

TOPICS = {
    "ppo_clipping": "PPO clipped surrogate objective",
    "experience_replay": "Experience replay",
    "discount_factor": "Choosing the discount factor",
    "gae": "Generalized advantage estimation",
    "entropy_bonus": "Entropy regularization",
    "target_network": "Target networks",
    "epsilon_greedy": "Epsilon-greedy exploration",
    "sac_temperature": "SAC temperature",
    "td3": "TD3 twin critics",
    "learning_rate": "Learning rate schedules",
    "reward_normalization": "Reward normalization",
    "data_augmentation": "Data augmentation for pixels",
    "curiosity": "Curiosity-driven exploration",
    "policy_gradient": "The policy gradient theorem",
    "prioritized_replay": "Prioritized experience replay",
    "gradient_clipping": "Gradient clipping",
    "installation": "Installing the framework",
    "checkpoints": "Logging and checkpoints",
}
BODIES = {
    "ppo_clipping": "PPO maximises a clipped surrogate objective. The probability ratio between the new "
    "and the old policy is clipped to [1 - eps, 1 + eps] with a clip range of 0.2, so one update cannot "
    "move the policy too far.",
    "experience_replay": "Experience replay stores transitions in a replay buffer and samples uniform "
    "minibatches from it. This breaks the correlation between consecutive samples and reuses data, "
    "which makes off-policy learning sample efficient.",
    "discount_factor": "The discount factor gamma weighs future rewards. The effective horizon is about "
    "1 / (1 - gamma); choose 0.99 for long tasks and 0.9 for short ones.",
    "gae": "GAE mixes n-step returns with an exponential weight lambda. Lambda near 1 gives low bias and "
    "high variance; lambda near 0 gives the one-step TD error with low variance.",
    "entropy_bonus": "Adding an entropy bonus to the loss keeps the policy stochastic and encourages "
    "exploration. The entropy coefficient ent_coef sets its weight; too large and the agent never commits.",
    "target_network": "A target network is a slowly moving copy of the Q network used to compute "
    "bootstrapped targets. DQN copies weights every few thousand steps (hard update); DDPG and SAC use a "
    "soft update with Polyak averaging and a small tau.",
    "epsilon_greedy": "With epsilon-greedy exploration the agent picks a random action with probability "
    "epsilon. Epsilon decays linearly from 1.0 to 0.05 over the first tenth of training.",
    "sac_temperature": "Soft actor-critic maximises reward plus entropy. The temperature alpha trades "
    "them off and is tuned automatically by gradient descent towards a target entropy.",
    "td3": "TD3 learns twin critics and uses the minimum of the two Q estimates, which fights the "
    "overestimation bias of DDPG. It also delays policy updates and smooths the target policy with noise.",
    "learning_rate": "Anneal the learning rate linearly to zero over training, or keep it constant with "
    "Adam at 3e-4. A schedule is set with a function of the remaining progress.",
    "reward_normalization": "Reward scaling divides rewards by a running standard deviation of the "
    "discounted return. It keeps value targets in a stable range and helps the critic converge.",
    "data_augmentation": "DrQ applies a random shift to image observations: pad by four pixels and crop "
    "back. Augmenting pixels regularises the encoder and improves sample efficiency.",
    "curiosity": "The intrinsic curiosity module gives an intrinsic reward equal to the prediction error "
    "of a forward model in a learned feature space, so novel states are rewarded.",
    "policy_gradient": "The policy gradient theorem writes the gradient of the expected return as an "
    "expectation of grad log pi times the return. Subtracting a baseline such as the value function "
    "reduces variance without adding bias.",
    "prioritized_replay": "Prioritized replay samples transitions in proportion to their TD error. "
    "Importance sampling weights, annealed by beta towards 1, correct the bias of non-uniform sampling.",
    "gradient_clipping": "Clip the global gradient norm to 0.5 (max_grad_norm) before the optimizer step. "
    "This prevents exploding gradients when a batch has unusually large losses.",
    "installation": "Install the package with pip in a fresh virtual environment. A CPU build of torch "
    "is enough; no GPU is needed to run the examples.",
    "checkpoints": "The trainer writes metrics to CSV and TensorBoard and saves a checkpoint every "
    "evaluation. Resume a run from its last checkpoint file.",
}
DISTRACTORS = {
    "mcts": "Monte Carlo tree search expands a search tree with the UCB rule and backs up values.",
    "world_models": "World models learn a latent dynamics model and train the policy in imagination.",
    "offline_rl": "Offline reinforcement learning learns from a fixed dataset without interaction.",
    "imitation": "Behavior cloning fits the policy to expert actions with supervised learning.",
    "multi_agent": "Multi-agent training shares one environment between several learning agents.",
    "hierarchical": "Options and hierarchical policies pick sub-goals over long time scales.",
    "atari_wrappers": "Atari wrappers repeat actions, stack four frames and resize frames to 84x84.",
    "mujoco": "MuJoCo locomotion tasks such as HalfCheetah and Hopper have continuous actions.",
    "vector_envs": "Vectorized environments step many copies in parallel to speed up collection.",
    "seeding": "Seed numpy, torch and the environment to make a run reproducible.",
    "evaluation": "Report the interquartile mean over seeds with bootstrap confidence intervals.",
    "recurrent": "Recurrent policies carry an LSTM state across steps for partial observability.",
    "dueling": "The dueling architecture splits the Q head into a value stream and an advantage stream.",
    "distributional": "Distributional critics predict a categorical distribution over returns.",
    "model_based": "Model-based planning uses the learned model with model predictive control.",
    "rnd": "Random network distillation rewards states whose random features are hard to predict.",
    "trpo": "TRPO constrains each update with a KL divergence trust region and conjugate gradients.",
    "a2c": "A2C runs synchronous actors and updates the actor and critic every few steps.",
    "ddpg": "DDPG learns a deterministic actor with a Q critic and Ornstein-Uhlenbeck action noise.",
    "dqn_loss": "DQN minimises the Huber loss between Q values and one-step bootstrapped targets.",
    "frame_skip": "Frame skipping repeats each action for several frames to shorten the horizon.",
    "gpu": "Training on a GPU helps for pixel inputs; small MLP policies run as fast on a CPU.",
}
# (Chinese question, English twin, expected document)
QUESTIONS = [
    ("PPO 中的裁剪是怎么工作的？", "How does clipping work in PPO?", "ppo_clipping"),
    ("经验回放有什么作用？", "What is experience replay for?", "experience_replay"),
    ("折扣因子应该怎么选？", "How should I choose the discount factor?", "discount_factor"),
    ("广义优势估计中的 lambda 是什么意思？", "What does lambda mean in generalized advantage estimation?", "gae"),
    ("为什么要加入熵正则化？", "Why add entropy regularization?", "entropy_bonus"),
    ("目标网络的软更新是什么？", "What is the soft update of the target network?", "target_network"),
    ("ε贪婪探索如何衰减？", "How does epsilon-greedy exploration decay?", "epsilon_greedy"),
    ("SAC 的温度系数怎么自动调整？", "How is the SAC temperature tuned automatically?", "sac_temperature"),
    ("TD3 的孪生评论家解决了什么问题？", "What problem do TD3's twin critics solve?", "td3"),
    ("学习率调度怎么设置？", "How do I set a learning rate schedule?", "learning_rate"),
    ("奖励归一化有什么好处？", "What are the benefits of reward normalization?", "reward_normalization"),
    ("图像输入的数据增强怎么做？", "How to do data augmentation for image inputs?", "data_augmentation"),
    ("好奇心内在奖励是如何计算的？", "How is the curiosity intrinsic reward computed?", "curiosity"),
    ("策略梯度中基线为什么能降低方差？", "Why does a baseline reduce variance in policy gradient?", "policy_gradient"),
    ("优先经验回放中的重要性采样权重是什么？", "What are importance sampling weights in prioritized experience "
     "replay?", "prioritized_replay"),
    ("梯度裁剪怎么防止梯度爆炸？", "How does gradient clipping prevent exploding gradients?", "gradient_clipping"),
]
PACKAGE = {
    "__init__.py": '"""Demo RL package."""\n',
    "agents/__init__.py": "",
    "agents/ppo.py": '''\
        class PPO:
            """Proximal policy optimisation agent."""

            def __init__(self, gae_lambda: float = 0.95, clip_range: float = 0.2):
                self.gae_lambda = gae_lambda
        ''',
    "storage/__init__.py": "",
    "storage/replay.py": '''\
        class ReplayBuffer:
            """Fixed-size ring of transitions sampled uniformly."""

            def sample(self, batch_size: int):
                """Draw a minibatch."""
        ''',
}


def write_world(root: Path) -> tuple[Settings, Path]:
    corpus = root / "corpus"
    for name, title in TOPICS.items():
        sub = "faq" if name in ("installation", "checkpoints") else "docs"
        (corpus / sub).mkdir(parents=True, exist_ok=True)
        (corpus / sub / f"{name}.md").write_text(f"# {title}\n\n{BODIES[name]}\n", encoding="utf-8")
    for name, body in DISTRACTORS.items():
        (corpus / "docs" / f"{name}.md").write_text(f"# {name.replace('_', ' ').title()}\n\n{body}\n")
    (corpus / "tutorials").mkdir()
    (corpus / "tutorials" / "offpolicy.md").write_text(
        "# Off-policy training\n\nPass `replay_buffer=ReplayBuffer(100_000)` to the trainer.\n")
    for rel, text in PACKAGE.items():
        path = root / "pkg" / "demo_rl" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return Settings(home=root / "home", corpus=[str(corpus)]), root / "pkg"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    settings, pkg = write_world(root)
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(pkg))
    ingest(None, settings, progress=False, api_packages=("demo_rl",))
    user = root / "mine.txt"
    user.write_text("My own note: the cartpole run diverged after the learning rate warmup.")
    ingest([str(user)], settings, progress=False)
    yield settings, Index.open(settings)
    mp.undo()


# ----- pure parts -----
def test_identifier_tokens_keep_whole_and_parts():
    assert tokenize("ReplayBuffer") == ["replaybuffer", "replay", "buffer"]
    assert tokenize("replay_buffer") == ["replay_buffer", "replaybuffer", "replay", "buffer"]
    assert tokenize("gae_lambda") == ["gae_lambda", "gaelambda", "gae", "lambda"]
    assert tokenize("rlcore.agents.ppo.PPO") == ["rlcore.agents.ppo.ppo", "rlcore", "agents", "ppo", "ppo"]
    assert tokenize("How is the PPOConfig used?") == ["ppoconfig", "ppo", "config", "used"]
    assert tokenize("强化学习") == ["强化", "化学", "学习"]
    # a name hyphenated at a short or numbered part meets the way users type it whole
    assert tokenize("drqv2")[0] in tokenize("DrQ-v2") and "vtrace" in tokenize("V-trace")
    assert "offpolicy" not in tokenize("off-policy")


def test_bm25_golden_values():
    bm25 = BM25.build([["a", "b"], ["b", "c", "c"], ["d"]])
    scores = bm25.scores(["c"])
    avg = 2.0
    expected = math.log1p((3 - 1 + 0.5) / 1.5) * 2 * 2.5 / (2 + 1.5 * (0.25 + 0.75 * 3 / avg))
    assert scores[0] == 0 and scores[2] == 0 and scores[1] == pytest.approx(expected, rel=1e-6)
    both = bm25.scores(["b", "c"])
    assert both[1] > both[0] > 0


def test_a_misspelt_word_is_mended_to_the_indexed_word_it_misses_a_letter_of():
    bm25 = BM25.build([tokenize("the target network is copied"), tokenize("a target network and prioritized replay"),
                       tokenize("prioritized replay reduces variance"), tokenize("read the docs and read on")])
    assert bm25.nearest_term("targt") == "target"  # a dropped letter
    assert bm25.nearest_term("priortized") == "prioritized"
    assert bm25.nearest_term("tagret") == "target"  # two letters swapped
    assert bm25.nearest_term("target") is None  # indexed as written
    assert bm25.nearest_term("reduce") is None  # indexed in another form ("reduces")
    assert bm25.nearest_term("bread") is None  # an extra or a changed letter is not mended: "bread" is a word
    assert bm25.nearest_term("network") is None and bm25.nearest_term("netwrk") == "network"
    # in a long word a doubled or stray letter is a typo ("priorittized"); in a short one it may be a word
    assert bm25.nearest_term("priorittized") == "prioritized" and bm25.nearest_term("targets") is None
    three = BM25.build([tokenize("three critics"), tokenize("three heads")])
    assert three.nearest_term("there") is None  # a stopword, though two letters from "three"
    from copilot.index import TYPO_CANDIDATE

    # a part of a hyphenated word is a candidate too ("psuedo-counts"); an identifier's is not
    assert TYPO_CANDIDATE.findall("how do psuedo-counts help with target_network?") == ["psuedo", "counts"]


def test_bm25_knows_a_word_in_any_form_and_spelling():
    bm25 = BM25.build([tokenize("observation normalisation has a purpose", stemmed=True),
                       tokenize("samples are replayed", stemmed=True)])
    assert all(bm25.knows(w) for w in ("purpose", "normalization", "normalisation", "sampling", "replay", "the"))
    assert not bm25.knows("hindsight") and not bm25.knows("relabel")


def test_inflections_meet_on_one_stem():
    from copilot.bm25 import stem

    assert stem("exploration") == stem("explore") == stem("exploring")
    assert stem("correction") == stem("correct") and stem("observation") == stem("observe")
    assert stem("action") != stem("act")  # too short to cut: an action is not an act


def test_bm25_round_trips_through_disk(tmp_path):
    bm25 = BM25.build([tokenize("ReplayBuffer stores transitions"), tokenize("熵 正则化")])
    bm25.save(tmp_path / "b.npz")
    loaded = BM25.load(tmp_path / "b.npz")
    query = tokenize("replay_buffer 正则化")
    assert np.allclose(loaded.scores(query), bm25.scores(query)) and loaded.scores(query)[0] > 0


def test_reciprocal_rank_fusion_order_and_scores():
    fused = reciprocal_rank_fusion(["a", "b", "c"], ["c", "a", "d"])
    assert [cid for cid, _, _ in fused] == ["a", "c", "b", "d"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62) and fused[0][2] == (1, 2)
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 61) and fused[3][2] == (None, 3)
    tie = reciprocal_rank_fusion(["x", "y"], ["y", "x"])
    assert [cid for cid, _, _ in tie] == ["x", "y"]  # equal scores: better dense rank first
    three = reciprocal_rank_fusion(["p", "q"], ["p", "q"], ["q"])
    assert three[0] == ("q", pytest.approx(1 / 62 + 1 / 62 + 1 / 61), (2, 2, 1))


def test_symbol_table_matches_whole_symbols_and_identifier_tails():
    table = SymbolTable(["pkg.storage.ReplayBuffer", "pkg.storage.ReplayBuffer.sample", None,
                         "pkg.agents.ppo.PPO", "pkg.returns.compute_gae"])
    assert table.lookup("pkg.agents.ppo.PPO") == [3]
    assert table.lookup("what does ReplayBuffer hold") == [0]
    assert table.lookup("compute_gae please") == [4]
    assert table.lookup("PPO sample") == []  # bare words and acronyms are not symbol look-ups


def test_glossary_expansion():
    assert len(GLOSSARY) >= 150
    reading = expand("如何在 rlcore 中用经验回放训练深度Q网络？")
    assert reading.matched == ("经验回放", "训练", "深度Q网络")
    assert "experience replay" in reading.english and "DQN" in reading.english
    assert reading.residue == "rlcore" and reading.dense_query.startswith("rlcore experience replay")
    assert expand("近端策略优化").english == ("proximal policy optimization", "PPO")  # longest match wins
    assert expand("plain English stays").dense_query == "plain English stays"
    # a troubleshooting question: what went wrong, and asking for its cause
    collapse = "PPO 训练到一半回报突然崩掉了，可能是什么原因？"
    assert "collapse" in expand(collapse).english and question_form(collapse) == "why"
    assert "trained" in expand("怎么评估一个已经训练好的 run 文件夹？").english  # not "training"
    choice = expand("评估时应该用确定性动作还是随机采样？").english
    assert {"deterministic", "stochastic", "sampling"} <= set(choice)


# ----- a real index -----
def test_hits_carry_fields_scores_and_relevance(world):
    _, index = world
    hits = index.search("How does PPO clip the probability ratio?", k=5)
    assert len(hits) == 5 and hits[0].path == "corpus/docs/ppo_clipping.md"
    top = hits[0]
    assert top.kind == "doc" and top.title == "PPO clipped surrogate objective" and "clip range" in top.text
    assert top.dense_rank == 1 and top.bm25_rank == 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert top.relevance > 0.5 and 0.0 <= hits[-1].relevance <= 1.0
    assert index.search("How do I bake sourdough bread?", k=1)[0].relevance < 0.35
    rrf = index.search("How does PPO clip the probability ratio?", k=5, ranking=DEFAULT.without("weighted"))
    assert rrf[0].path == top.path
    for hit in rrf:  # plain reciprocal-rank fusion stays available as an ablation
        ranks = [r for r in (hit.dense_rank, hit.bm25_rank, hit.symbol_rank) if r is not None]
        assert hit.score == pytest.approx(sum(1 / (60 + r) for r in ranks))


def test_the_index_knows_a_hyphenated_word_written_any_way(world):
    _, index = world
    assert index.knows("one-step")  # "the one-step TD error" in one chunk
    assert not index.knows("two-step") and not index.knows("go-explore")


def test_the_index_knows_which_names_a_heading_is_about(world):
    # a subject with a page or section of its own is documented, wherever else it is only listed
    _, index = world
    assert index.headed("PPO") and index.headed("ppo")  # "PPO clipped surrogate objective"
    assert not index.headed("Dreamer") and not index.headed("PP")  # a whole word, not a piece of one


def test_a_query_is_mended_word_by_word_and_names_are_left_alone(world):
    _, index = world
    assert index.correct("How does PPO clip the probabilty ratio?") == "How does PPO clip the probability ratio?"
    assert index.correct("How does Probabilty clip?") == "How does Probabilty clip?"  # capitalised: a name


def test_a_word_in_capitals_for_emphasis_is_read_in_lower_case_but_a_name_is_not(world):
    _, index = world
    # "ratio" is a word the corpus holds, never in capitals; PPO is a name it writes so; QMIX it lacks
    assert index.correct("does PPO clip the RATIO or QMIX?") == "does PPO clip the ratio or QMIX?"


@pytest.mark.parametrize("query, symbol, named", [
    ("ReplayBuffer", "demo_rl.storage.replay.ReplayBuffer", True),
    ("demo_rl.agents.ppo.PPO", "demo_rl.agents.ppo.PPO", True),
    ("replay_buffer", "demo_rl.storage.replay.ReplayBuffer", False),
    ("gae_lambda", "demo_rl.agents.ppo.PPO", False),
])
def test_identifier_queries_find_symbols(world, query, symbol, named):
    _, index = world
    hits = index.search(query, k=3, kinds="api")
    expected = next(h for h in hits[:2] if h.symbol == symbol)  # a method may tie with its class
    assert expected.bm25_rank == 1 and expected.path == symbol and hits[0].symbol.startswith(symbol)
    assert (hits[0].symbol == symbol and hits[0].symbol_rank == 1) if named else hits[0].symbol_rank is None


def test_kind_filter(world):
    _, index = world
    assert {h.kind for h in index.search("replay buffer", k=10, kinds="api")} == {"api"}
    mixed = index.search("replay buffer", k=10, kinds=["tutorial", "faq"])
    assert {h.kind for h in mixed} <= {"tutorial", "faq"} and mixed[0].kind == "tutorial"
    assert index.search("learning rate warmup diverged", k=1, kinds="user")[0].kind == "user"
    assert {h.kind for h in index.search("learning rate", k=30)} >= {"doc", "user"}
    with pytest.raises(SearchError, match="Unknown kind 'blog'; accepted: api, doc"):
        index.search("x", kinds=["doc", "blog"])
    with pytest.raises(SearchError, match="k must be at least 1"):
        index.search("x", k=0)
    assert index.search("   ") == []


def test_chinese_questions_reach_english_sources(world, capsys):
    """hit@5 of Chinese questions (glossary expansion) against their English twins."""
    _, index = world

    def hit_at_5(position: int, **kw) -> float:
        found = 0
        for question in QUESTIONS:
            paths = [h.path for h in index.search(question[position], k=5, **kw)]
            found += any(p.endswith(f"/{question[2]}.md") for p in paths)
        return found / len(QUESTIONS)

    english, chinese = hit_at_5(1), hit_at_5(0)
    unexpanded = hit_at_5(0, cross_lingual=False)
    with capsys.disabled():
        print(f"\nhit@5 over {len(QUESTIONS)} questions: English {english:.2f}, Chinese {chinese:.2f}, "
              f"Chinese without glossary {unexpanded:.2f}")
    assert english >= 0.9 and chinese >= 0.85 and chinese > unexpanded + 0.3


def test_missing_index_is_reported(tmp_path):
    with pytest.raises(SearchError, match="No index found in .*run `python -m copilot ingest` first"):
        Index.open(Settings(home=tmp_path))


def test_ingest_and_search_work_offline(tmp_path, monkeypatch):
    attempts: list[object] = []
    real_connect, real_create = socket.socket.connect, socket.create_connection

    def loopback(address) -> bool:
        if isinstance(address, (str, bytes)):
            return True  # a unix socket path
        host = address[0]
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def connect(self, address):
        if not loopback(address):
            attempts.append(address)
            raise OSError(f"network is off in this test: {address}")
        return real_connect(self, address)

    def create_connection(address, *args, **kwargs):
        if not loopback(address):
            attempts.append(address)
            raise OSError(f"network is off in this test: {address}")
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(embeddings, "_CACHE", {})  # the model is loaded again, under the guard
    settings, pkg = write_world(tmp_path)
    monkeypatch.syspath_prepend(str(pkg))
    summary = ingest(None, settings, progress=False, api_packages=("demo_rl",))
    assert summary["chunks"] > 0
    hits = Index.open(settings).search("经验回放有什么作用？", k=3)
    assert hits[0].path == "corpus/docs/experience_replay.md"
    assert attempts == []


def test_a_spelled_out_method_name_weighs_as_one_word(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "sac.md").write_text("# Soft Actor-Critic (SAC)\n\n## Temperature\n\nIn SAC the temperature alpha "
                                 "weighs the policy's entropy against reward.\n")
    (docs / "ac.md").write_text("# Actor-critic updates\n\nA soft update moves the target actor and the target "
                                "critic slowly. The critic scores the actor; the actor follows the critic. "
                                "Soft updates keep actor and critic targets smooth.\n")
    (docs / "lr.md").write_text("# Learning rates\n\nThe learning rate alpha scales each gradient step.\n")
    settings = Settings(home=tmp_path / "home", corpus=[str(docs)])
    ingest([str(docs)], settings, progress=False)
    hits = Index.open(settings).search("what does alpha do in soft actor critic", k=3)
    # read as "alpha" and "SAC", the page on SAC's alpha comes first, not the one that says
    # "soft", "actor" and "critic" most often
    assert hits[0].path.endswith("sac.md") and hits[0].bm25_rank == 1


def test_a_long_chunk_is_scored_by_its_sentence_closest_to_the_query(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    answer = ("The intrinsic reward of a transition is the squared error of a predictor network against a "
              "fixed random target network on the next observation.")
    filler = " ".join(f"Checkpoint {i} of the run is written to checkpoints/step_{i}.pt with the optimiser "
                      "state and the observation statistics." for i in range(8))
    (docs / "rnd.md").write_text(f"# Novelty\n\n## Training details\n\n{filler} {answer}\n")
    settings = Settings(home=tmp_path / "home", corpus=[str(docs)])
    ingest([str(docs)], settings, progress=False)
    index = Index.open(settings)
    query = "what is the intrinsic reward computed from?"
    (with_units,) = index.search(query, k=1)
    (without,) = index.search(query, k=1, ranking=DEFAULT.without("units"))
    vectors = index.embedder.embed_documents([answer])
    closest = float(np.asarray(vectors[0]) @ np.asarray(index.embedder.embed_query(query)))
    # the chunk's own cosine is diluted by eight sentences about checkpoints; its answering
    # sentence's is not, and that is what the rerank stage adds
    assert closest > 0.5
    assert with_units.score - without.score == pytest.approx(DEFAULT.unit_dense * closest, abs=1e-4)


def test_a_hit_knows_whether_it_begins_its_section(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    steps = "\n".join(f"{i}. Step {i}: lower the learning rate of the critic by a factor of {i} and retrain "
                      "the value head on the stored rollouts before the next policy update." for i in range(1, 15))
    (docs / "faq.md").write_text("# FAQ\n\n## Why does my return collapse?\n\nUsually because each update moves "
                                 f"the policy too far. Check these, in order:\n\n{steps}\n")
    settings = Settings(home=tmp_path / "home", corpus=[str(docs)])
    ingest([str(docs)], settings, progress=False)
    hits = Index.open(settings).search("why does my return collapse", k=5)
    assert len(hits) >= 2  # the section is long enough for more than one piece
    # the piece that starts the section, not the later ones (which may start with a list item)
    assert [h.text.startswith("Usually because") for h in hits] == [h.opens for h in hits]
    index = Index.open(settings)
    index.search("why does my return collapse", k=1)
    del index._table["part"]  # a chunk table an older version wrote, without the column
    assert not any(h.opens for h in index.search("why does my return collapse", k=5))

