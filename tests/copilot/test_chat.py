"""Cited answers: the chat chain over a real index, with a fake LLM to isolate the unit and
the real default model (slow) for the path users take, offline."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.chat import SYSTEM, Answer, Copilot, cited_numbers, focus
from copilot.config import Settings
from copilot.ingest import ingest
from copilot.llm.base import LLM
from fake_llm import FakeLLM

ROOT = Path(__file__).resolve().parents[2]
CORPUS = {
    "gae.md": "# Generalized advantage estimation\n\n## GAE lambda\n\nGAE averages n-step advantage "
              "estimates with weights controlled by lambda; lambda trades bias against variance.\n",
    "replay.md": "# Experience replay\n\n## Replay buffer size\n\nThe replay buffer stores past "
                 "transitions; its capacity decides how much old experience DQN keeps.\n",
    "sac.md": "# Soft actor-critic\n\n## SAC temperature\n\nSAC tunes the temperature alpha so the policy "
              "entropy tracks a target entropy. SAC learns two critics and uses the smaller estimate in its "
              "targets.\n",
    "sweep.md": "# Command line\n\n## Several seeds\n\nEach seed of a sweep lands in its own run folder."
                "\n\n```bash\npython -m rlcore sweep --algo ppo --env CartPole-v1 --seeds 5\n```\n",
}


def EchoLLM() -> FakeLLM:  # noqa: N802 - stands where a class stood
    """Answers with a fixed sentence citing source 2; records the prompt it was given."""
    return FakeLLM(["The buffer keeps ", "old transitions [2]", "."], name="echo", n_ctx=2048, record="last")


def indexed(tmp_path: Path, pages: dict[str, str]) -> Settings:
    """Settings whose index holds ``pages`` (file name -> markdown), built under ``tmp_path``."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in pages.items():
        (docs / name).write_text(text)
    settings = Settings(home=tmp_path / "home", corpus=[str(docs)])
    ingest([str(docs)], settings, progress=False)
    return settings


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return indexed(tmp_path_factory.mktemp("chat-home"), CORPUS)


def test_answer_streams_checked_sentences_then_cites_the_sources_it_used(settings):
    bot = Copilot(settings, llm=EchoLLM())
    items = list(bot.stream("How large should the replay buffer be?", k=3))
    assert all(isinstance(i, str) for i in items[:-1]) and isinstance(items[-1], Answer)
    answer = items[-1]
    assert answer.answer == "".join(items[:-1]).strip()
    # each shown sentence carries the marker of the source that supports it
    assert answer.support and all(f"[{s.source}]" in answer.answer for s in answer.support)
    assert {s.n for s in answer.sources} == {s.source for s in answer.support}
    assert all(s.path.endswith("replay.md") for s in answer.sources)
    assert [c.said or c.sentence for c in answer.checks] == ["The buffer keeps old transitions."]
    assert bot.llm.seen[0] == {"role": "system", "content": SYSTEM}
    prompt = prompt_of(bot)
    assert "[1]" in prompt and "replay buffer" in prompt.lower()
    assert prompt.endswith("\n\nQuestion: How large should the replay buffer be?")
    data = answer.to_json()
    assert set(data) == {"answer", "sources", "model", "timings", "support"}
    assert set(data["sources"][0]) == {"n", "title", "path", "kind", "score"}
    assert set(data["support"][0]) == {"sentence", "source", "score"}
    assert {"retrieval_s", "first_token_s", "total_s"} <= set(data["timings"])


def prompt_of(bot) -> str:
    """The last user turn the model saw: numbered sources, then the question."""
    assert bot.llm.seen[-1]["role"] == "user"
    return bot.llm.seen[-1]["content"]


def reaches_prompt_beyond_search(settings, question: str, text: str, k: int = 2) -> bool:
    """Whether ``text``, which no top-``k`` hit of ``question`` holds, reaches the model's prompt."""
    assert all(text not in h.text for h in Copilot(settings).index.search(question, k=k))
    bot = Copilot(settings, llm=EchoLLM())
    bot.ask(question, k=k)
    return text in prompt_of(bot)


def test_the_system_message_is_the_same_for_every_question_and_is_primed_at_warm(settings):
    """Backends that keep prompt state evaluate the fixed system message once, at warm-up."""
    llm = EchoLLM()
    primed = []
    llm.prime = primed.append
    bot = Copilot(settings, llm=llm)
    bot.warm()
    assert primed == [[{"role": "system", "content": SYSTEM}]]
    systems = []
    for question in ("How large should the replay buffer be?", "How does SAC tune alpha?"):
        bot.ask(question)
        systems.append(llm.seen[0])
    assert systems == [{"role": "system", "content": SYSTEM}] * 2


def WrongLLM() -> FakeLLM:  # noqa: N802 - stands where a class stood
    """Answers with a sentence no source supports."""
    return FakeLLM(["SAC was invented ", "on the moon in 1850 [1]."], name="echo", n_ctx=2048, record="last")


def test_an_answer_with_no_supported_sentence_becomes_a_quoted_extract(settings):
    answer = Copilot(settings, llm=WrongLLM()).ask("How does SAC tune its temperature alpha?", k=3)
    assert "moon" not in answer.answer and "1850" not in answer.answer
    assert [c.action for c in answer.checks] == ["dropped"]
    assert answer.support[0].action == "quoted" and "target entropy" in answer.answer
    assert answer.sources and answer.sources[0].path.endswith("sac.md")


def test_a_dropped_first_sentence_gives_way_to_the_models_supported_one(settings):
    llm = FakeLLM(["SAC was invented on the moon in 1850 [1]. ",
                   "The temperature alpha is tuned so that the policy entropy tracks a target entropy [1]."],
                  name="echo", n_ctx=2048)
    answer = Copilot(settings, llm=llm).ask("How does SAC tune its temperature alpha?", k=3)
    assert [c.action for c in answer.checks] == ["dropped", "kept"]
    assert answer.answer.startswith("The temperature alpha is tuned") and "moon" not in answer.answer


@pytest.mark.parametrize("before", [[], ["SAC was invented on the moon in 1850 [1]. "]])
def test_a_replacement_from_further_down_the_evidence_waits_behind_the_best_sentence(settings, monkeypatch, before):
    import copilot.chat as chat
    monkeypatch.setattr(chat, "LEADS", 1)  # only the best evidence sentence may be replaced into the lead
    llm = FakeLLM([*before, "SAC learns 77 critics and uses the smaller estimate in its targets [1]."],
                  name="echo", n_ctx=2048)
    bot = Copilot(settings, llm=llm)
    answer = bot.ask("How does SAC tune its temperature alpha?", k=3)
    assert [c.action for c in answer.checks] == ["dropped"] * len(before) + ["replaced"]
    assert answer.answer.startswith("SAC tunes the temperature alpha") and "77" not in answer.answer
    assert answer.answer.index("SAC learns two critics") > answer.answer.index("target entropy")


def test_question_outside_the_corpus_is_said_plainly(settings):
    bot = Copilot(settings, llm=EchoLLM())
    answer = bot.ask("zxqv wibble frobnicate?")
    assert answer.answer.startswith("The docs I have do not cover") and answer.sources == []
    assert not answer.covered and bot.llm.seen == []  # the model was not asked to guess


def test_history_is_passed_and_empty_question_refused(settings):
    bot = Copilot(settings, llm=EchoLLM())
    history = [{"role": "user", "content": "What is SAC?"}, {"role": "assistant", "content": "An agent."}]
    bot.ask("How does it tune its temperature?", history=history)
    assert bot.llm.seen[1:3] == history
    with pytest.raises(ValueError, match="empty"):
        bot.ask("   ")


def test_citations_and_focus():
    assert cited_numbers("a [2] b [1] c [2] d [9]", 3) == [2, 1]
    text = "\n\n".join(f"Paragraph {i} about topic{i}." for i in range(40)) + "\n\nThe GAE lambda here."
    kept = focus(text, "GAE lambda", 120)
    assert "GAE lambda" in kept and len(kept) < len(text)


@pytest.mark.slow
def test_real_model_answers_offline_with_sources(settings, monkeypatch):
    """The default model and the real index answer with outbound connections made to fail."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")) \
                and self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"network disabled in this test: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("network disabled")))
    answer = Copilot(settings).ask("How does SAC tune its temperature?", k=3)
    assert answer.covered and answer.sources
    assert any(word in answer.answer.lower() for word in ("entropy", "alpha", "temperature"))
    assert answer.timings["first_token_s"] <= answer.timings["total_s"]
    assert answer.checks, "the model was asked and each of its sentences checked"
    assert answer.support and all(s.action in ("kept", "replaced", "quoted") for s in answer.support)


@pytest.mark.slow
def test_cli_ask_json_contract(settings):
    env = {"COPILOT_HOME": str(settings.home), "COPILOT_CORPUS": settings.corpus[0],
           "COPILOT_MAX_TOKENS": "64", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    models = Settings().models_dir  # reuse the assembled default model
    link = Path(settings.home) / "models"
    if models.exists() and not link.exists():
        link.symlink_to(models)
    proc = subprocess.run([sys.executable, "-m", "copilot", "ask", "What does GAE lambda trade?", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["answer"].strip() and data["sources"] and data["model"] == "qwen2.5-coder-0.5b"
    assert {"retrieval_s", "first_token_s", "total_s"} <= set(data["timings"])
    assert data["support"] and all(f"[{s['source']}]" in data["answer"] for s in data["support"])
    bad = subprocess.run([sys.executable, "-m", "copilot", "ask", "x", "--model", "/nope/missing.gguf"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "missing.gguf" in bad.stderr


def test_question_naming_something_no_source_mentions_is_declined_with_the_name(settings):
    bot = Copilot(settings, llm=EchoLLM())
    answer = bot.ask("How does the replay buffer of AlphaZero work?")
    assert answer.answer.startswith("The docs I have do not cover") and "AlphaZero" in answer.answer
    assert not answer.covered and answer.sources == [] and bot.llm.seen == []
    assert Copilot(settings, llm=EchoLLM()).ask("What does the replay buffer of DQN keep?").covered


def test_a_definition_the_source_states_is_shown_before_the_model_writes(settings):
    bot = Copilot(settings, llm=FakeLLM(["The replay buffer stores past transitions [1]. ",
                                         "Its capacity decides how much old experience DQN keeps [1]."]))
    stream = bot.stream("What is the replay buffer?", k=3)
    first = next(stream)
    assert first.startswith("The replay buffer stores past transitions") and bot.llm.asked == 0
    answer = [i for i in stream if isinstance(i, Answer)][0]
    assert answer.support[0].action == "quoted" and bot.llm.asked == 1
    assert answer.answer.count("stores past transitions") == 1  # the model's repeat is not shown again
    why = Copilot(settings, llm=FakeLLM(["The buffer keeps old transitions [1]."]))
    next(why.stream("Why does DQN keep a replay buffer?", k=3))
    assert why.llm.asked == 1  # a "why" question waits for the model's checked answer


def test_a_how_to_answer_shows_the_sources_example_after_the_checked_sentences(settings):
    bot = Copilot(settings, llm=FakeLLM(["Each seed of a sweep lands in its own run folder [1]."]))
    answer = bot.ask("How do I train several seeds from the command line?", k=3)
    assert answer.answer.startswith("Each seed of a sweep lands in its own run folder")
    assert "```bash\npython -m rlcore sweep --algo ppo --env CartPole-v1 --seeds 5\n```" in answer.answer
    assert [s.action for s in answer.support][-1] == "quoted" and answer.support[-1].sentence.startswith("```")
    what = Copilot(settings, llm=FakeLLM(["Each seed of a sweep lands in its own run folder [1]."]))
    assert "```" not in what.ask("What is a sweep?", k=3).answer


def test_an_example_from_a_source_the_answer_does_not_cite_is_not_shown(settings, monkeypatch):
    prompt = Copilot._prompt

    def answer_with_example_of(source):
        def with_example(self, state):
            state = prompt(self, state)
            state["code"] = (source(state), "```bash\npython -m rlcore list\n```")
            return state

        monkeypatch.setattr(Copilot, "_prompt", with_example)  # before the chain binds it
        bot = Copilot(settings, llm=FakeLLM(["The replay buffer stores past transitions [1]."]))
        return bot.ask("How do I choose the replay buffer capacity for DQN?", k=3).answer

    cited = answer_with_example_of(lambda state: 1)
    assert cited.startswith("The replay buffer stores past transitions") and "rlcore list" in cited
    uncited = answer_with_example_of(lambda state: len(state["sources"]) + 1)  # a page no sentence cites
    assert uncited.startswith("The replay buffer stores past transitions") and "rlcore list" not in uncited


def test_an_uncited_pages_example_is_shown_when_it_names_the_method_asked_about():
    from copilot.chat import example_fits
    from copilot.grounding import Support

    class Page:
        def __init__(self, n, path):
            self.n, self.path = n, path

    pages, shown = [Page(1, "faq.md"), Page(2, "evaluation.md")], [Support("IQM is the mean of the middle half.", 1, 1.0)]
    study = (2, "```python\nintervals = stratified_bootstrap_ci({\"ppo\": p, \"a2c\": a}, iqm)\n```")
    assert example_fits("How do I get IQM intervals for PPO and A2C runs?", study, shown, pages)
    assert not example_fits("How do I get confidence intervals on a GPU?", study, shown, pages)


def test_a_question_in_words_the_docs_never_use_is_declined_when_the_evidence_is_far(tmp_path):
    settings = indexed(tmp_path, {"schedules.md": "# Schedules\n\n## Learning-rate schedule\n\nA good schedule "
                                                  "decays the learning rate linearly; feeding the agent fresh data "
                                                  "keeps the schedule honest.\n"})
    bot = Copilot(settings, llm=EchoLLM())
    answer = bot.ask("what's a good feeding schedule for a sourdough starter?")
    assert answer.answer.endswith("none of the sources found mentions sourdough, starter.")
    assert not answer.covered and bot.llm.seen == []
    # without a word the docs lack, the same distance is no reason to decline
    assert Copilot(settings, llm=EchoLLM()).ask("what's a good learning rate schedule for my agent?").covered
    # nor when a hit is close to the whole question in the ranker's judgement (its relevance)
    import dataclasses
    bot = Copilot(settings, llm=EchoLLM())
    search = bot.index.search
    bot.index.search = lambda *a, **k: [dataclasses.replace(h, relevance=0.95) for h in search(*a, **k)]
    assert bot.ask("what's a good feeding schedule for a sourdough starter?").covered


def test_a_method_named_beside_another_reaches_the_evidence_though_no_top_hit_mentions_it(tmp_path):
    settings = indexed(tmp_path, {
        "re3.md": "# RE3\n\n## RE3: the idea\n\nRE3 rewards states far from their k-th nearest neighbour in a random "
                  "encoder's embedding.\n\n## RE3: when to use it\n\nUse RE3 when observations are images and "
                  "compute is tight.\n\n## RE3: pitfalls\n\nRE3's bonus depends on the batch size.\n",
        "rnd.md": "# RND\n\n## RND: the idea\n\nRND's bonus is the error of a predictor network against a fixed "
                  "random target network.\n"})
    bot = Copilot(settings, llm=EchoLLM())
    answer = bot.ask("what is RE3 and when would I pick it over RND?", k=2)
    # both hits are RE3's pages; RND is in the index, so its page is searched for, not declined
    assert answer.covered and "fixed random target network" in prompt_of(bot)
    assert not Copilot(settings, llm=EchoLLM()).ask("what is RE3 and when would I pick it over NGU?", k=2).covered


def test_a_capitalised_name_no_top_hit_mentions_draws_the_page_that_does(tmp_path):
    settings = indexed(tmp_path, {
        "curves.md": "# Learning curves\n\n## Reading a learning curve\n\nThe training curve shows episode returns "
                     "and the evaluation line shows the final evaluation.\n\n## Logging\n\nThe trainer logs the "
                     "training curve and the evaluation returns of a run.\n",
        "atari.md": "# Atari\n\n## Atari games\n\nOn Breakout and Pong the training returns are sums of clipped "
                    "rewards per life, far below the scores an evaluation reports.\n"})
    question = "Our Breakout training curve sits far below the evaluation returns. Is the logging broken?"
    assert reaches_prompt_beyond_search(settings, question, "sums of clipped rewards")


def test_a_comparison_draws_and_shows_a_sentence_on_each_thing_compared(tmp_path):
    settings = indexed(tmp_path, {
        "dueling.md": "# Dueling DQN\n\n## Dueling DQN: the idea\n\nThe dueling head splits into a state-value "
                      "stream and an advantage stream.\n\n## Dueling DQN: training\n\nDueling DQN trains with the "
                      "usual DQN loss on the recombined Q-values.\n",
        "double.md": "# Double DQN\n\n## Double DQN: the idea\n\nDouble DQN picks the next action with the online "
                     "network and evaluates it with the target network.\n"})
    bot = Copilot(settings, llm=EchoLLM())
    answer = bot.ask("dueling dqn vs double dqn: what is actually different?", k=2)
    assert "evaluates it with the target network" in prompt_of(bot)  # searched for, beyond the k hits
    assert "dueling head splits" in answer.answer and "evaluates it with the target network" in answer.answer


def test_a_refusal_the_user_reports_draws_the_page_of_the_action_refused(tmp_path):
    settings = indexed(tmp_path, {
        "drqv2.md": "# DrQ-v2\n\n## DrQ-v2 pixels\n\nThe drqv2 policy acts on pixels stacked from three frames."
                    "\n\n## DrQ-v2 policy\n\nThe drqv2 policy is a tanh Gaussian over a conv trunk; rlcore "
                    "keeps the drqv2 weights in the run folder.\n",
        "export.md": "# Export\n\n## What the header export accepts\n\nA plain header file suits microcontrollers; "
                     "it takes MLP policies only, so a CNN policy is turned down: export it to ONNX instead.\n"})
    question = "my drqv2 policy won't go into a plain header file with its weights, rlcore refuses. why?"
    # every hit names drqv2: the rest of the question was searched on its own
    assert reaches_prompt_beyond_search(settings, question, "MLP policies only")
    bot = Copilot(settings, llm=EchoLLM())
    bot.ask("my drqv2 policy in a plain header file with its weights: what is in it?", k=2)
    assert "MLP policies only" not in prompt_of(bot)  # no refusal reported, no search for one


def test_a_later_part_is_searched_before_a_word_of_it_declines_the_question(tmp_path):
    settings = indexed(tmp_path, {
        "dists.md": "# Distributions\n\n## squashed_gaussian and PPG\n\nThe squashed_gaussian distribution "
                    "does not fit PPG, which can use categorical or diag_gaussian.\n\n## squashed_gaussian "
                    "log-prob\n\nThe squashed_gaussian log-prob corrects for tanh; use it with SAC, not PPG.\n",
        "ppg.md": "# PPG\n\n## PPG rollouts\n\nMemory grows with the rollouts PPG stores; lower n_policy_iters.\n"})
    question = "can ppg use squashed_gaussian? and what's eating my RAM, how do I cut it?"
    assert reaches_prompt_beyond_search(settings, question, "Memory grows")  # RAM is the docs' memory


def test_a_flag_shown_only_in_example_commands_draws_the_passage_that_explains_it(tmp_path):
    settings = indexed(tmp_path, {
        "cli.md": "# Command line\n\n## tune\n\nThe tune command searches config fields of an agent.\n\n```bash\n"
                  "python -m rlcore tune ppo CartPole-v1 --evals 4 --trials 20\n```\n",
        "trials.md": "# Trials\n\n## What the tune command does with each trial\n\nThe tune command trains each "
                     "trial with the sampled config and scores it.\n",
        "tuning.md": "# Tuning\n\n## Pruning\n\nThe median pruner stops weak trials early. `--evals 0` turns "
                     "pruning off.\n"})
    question = "what does the tune command do with --evals 0?"
    assert reaches_prompt_beyond_search(settings, question, "turns pruning off")


def test_a_name_the_users_code_defines_or_an_environment_a_list_leaves_out_declines_nothing(tmp_path):
    settings = indexed(tmp_path, {
        "registry.md": "# Registry\n\n## Registering your own parts\n\nRegistering a different class under a "
                       "taken key raises `ValueError`; re-running a notebook cell defines a new class object, so "
                       "use a new key or restart the kernel.\n",
        "pixels.md": "# Pixels\n\n## Pixel observations\n\n`make_env(env_id, pixels=True)` draws `Pendulum-v1`, "
                     "`CartPole-v1`, `MountainCar-v0` or `Acrobot-v1` as images; other env ids are refused.\n",
        "box2d.md": "# Box2D\n\n## LunarLander\n\n`LunarLander-v3` needs the box2d extra; PPO solves it in 1M "
                    "steps.\n"})
    bot = Copilot(settings, llm=EchoLLM())
    assert bot.ask('I re-ran the cell with @register("encoders", "ln_mlp") and now it raises ValueError, '
                   'key taken. why?').covered
    assert not bot.ask("why does ln_mlp raise ValueError?").covered  # a name of the user's, not defined here
    assert bot.ask("can i get pixel observations for LunarLander with make_env(pixels=True)?", k=1).covered
    assert not bot.ask("can i get pixel observations for Breakout with make_env(pixels=True)?", k=1).covered


def test_a_claim_the_question_puts_forward_is_answered_with_what_the_source_says_of_it(tmp_path):
    clip = ("The clip range of PPO bounds how far the probability ratio may move in one update. A smaller clip range "
            "of PPO means smaller, safer policy steps in one update.")
    settings = indexed(tmp_path, {
        "ppo.md": f"# PPO\n\n## PPO: the clip range\n\n{clip} It is not gradient clipping: `max_grad_norm` rescales "
                  "the gradient's norm.\n",
        "dqn.md": "# DQN\n\n## DQN: exploration\n\nEpsilon falls linearly to its floor over the first 16% of the "
                  "steps of a DQN run, then stays there.\n\n## DQN: logs\n\nThe `q_mean` column of a DQN run is the "
                  "mean predicted Q-value of the sampled actions. It is written once per logging interval.\n"})

    def says(text: str) -> FakeLLM:  # a model whose two sentences the check keeps
        return FakeLLM([text.replace(". ", " [1]. ").rstrip(".") + " [1]."], name="says", n_ctx=2048)

    claim = Copilot(settings, llm=says(clip)).ask("PPO's clip range is the gradient clipping threshold, right?", k=1)
    assert "It is not gradient clipping" in claim.answer
    plain = Copilot(settings, llm=says(clip)).ask("what does the clip range of PPO bound?", k=1)
    assert "It is not gradient clipping" not in plain.answer  # nothing put forward, nothing denied
    logs = ("The `q_mean` column of a DQN run is the mean predicted Q-value of the sampled actions. It is written "
            "once per logging interval.")
    belief = Copilot(settings, llm=says(logs)).ask("what does q_mean mean in my DQN run, I thought epsilon falls "
                                                   "over half the run", k=2)
    assert "first 16% of the steps" in belief.answer


def test_a_one_sentence_answer_that_opened_with_another_sentence_is_followed_by_the_best_one(tmp_path, monkeypatch):
    import copilot.grounding as grounding
    monkeypatch.setattr(grounding, "CLOSE", 2.0)  # no sentence follows on by closeness in meaning alone
    settings = indexed(tmp_path, {
        "families.md": "# Atari\n\n## Atari logs\n\nOn Breakout and the other games, the returns in episodes.csv are "
                       "per-life sums of clipped rewards, far below what evaluation reports.\n",
        "evaluation.md": "# Evaluation\n\n## The evaluate method\n\nThe evaluate method plays deterministic "
                         "episodes on a fresh environment and reports their mean return.\n"})
    llm = FakeLLM(["The evaluate method plays deterministic episodes on a fresh environment [2]."], name="echo",
                  n_ctx=2048)
    question = "my agent on Breakout, 8 envs: the returns in episodes.csv are tiny next to what evaluate reports. bug?"
    answer = Copilot(settings, llm=llm).ask(question, k=2)
    assert answer.answer.startswith("The evaluate method plays") and "per-life sums" in answer.answer


def test_a_replacing_sentence_that_repeats_the_answer_is_cut_to_the_clause_the_model_took(tmp_path):
    settings = indexed(tmp_path, {"replay.md": (
        "# Replay\n\n## Replay memory\n\nThe `drqv2` agent keeps 50,000 transitions by default.\n\nMemory: the "
        "`replay` storage preallocates `buffer_size` slots for `obs` and `next_obs` when the agent is built, so "
        "the cost is about `2 x buffer_size x observation bytes`: about 136 MB for a million float observations "
        "of dimension 17, but far too much for a million stacked images (images are kept as bytes; `drqv2` "
        "defaults to 50,000 transitions, about 1.2 GB with its default 3 stacked 64x64 grey frames).\n")})
    llm = FakeLLM(["The `drqv2` agent keeps 50,000 transitions by default [1]. It eats about 1.2 GB with its "
                   "default 3 stacked 64x64 grey frames [1]."], name="echo", n_ctx=2048)
    answer = Copilot(settings, llm=llm).ask("drqv2's default buffer size, and how much RAM does it take?", k=1)
    assert "about 1.2 GB with its default 3 stacked" in answer.answer and "136 MB" not in answer.answer
