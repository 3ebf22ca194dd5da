"""Evidence selection: the sentences of retrieved chunks that answer the question fit the budget."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from copilot.evidence import build_evidence, is_statement, sentence_count, split_units, supporting_quote


@dataclass
class FakeHit:
    title: str
    text: str


def words(text: str) -> int:
    return len(text.split())


def no_vectors(texts):
    return np.zeros((len(texts), 1), np.float32)


def test_split_units_keeps_code_blocks_whole_and_splits_sentences_and_items():
    text = ("TD3 adds three changes. It is stable.\n\n- Delayed updates.\n- Target smoothing.\n\n"
            "```python\nagent = make_agent('td3', 'Pendulum-v1')\nagent.train(1000)\n```\nDone here.")
    units = split_units(text)
    assert units[:4] == ["TD3 adds three changes.", "It is stable.", "- Delayed updates.", "- Target smoothing."]
    assert units[4].startswith("```python") and units[4].endswith("```") and "agent.train(1000)" in units[4]
    assert units[5] == "Done here."


def test_long_code_blocks_are_cut_but_stay_fenced():
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(200)) + "\n```"
    (unit,) = split_units(code)
    assert len(unit) < 700 and unit.startswith("```python") and unit.endswith("```")


def test_the_sentence_with_the_rare_question_words_is_chosen_within_budget():
    hits = [
        FakeHit("TD3 tutorial", "TD3 is an agent. TD3 runs on Pendulum. TD3 has a config. TD3 is fast."),
        FakeHit("TD3 paper", "TD3 was published in 2018. Target policy smoothing adds clipped noise to the "
                             "target action. The critic is twin."),
    ]
    evidence = build_evidence("What does target policy smoothing in TD3 do?", hits, embed=no_vectors,
                              query_vector=np.zeros(1, np.float32), count_tokens=words, budget=25).blocks
    assert evidence[0][0] is hits[1], "the source holding the answer comes first"
    assert "clipped noise" in evidence[0][1]
    assert sum(words(t) + words(h.title) for h, t in evidence) <= 25 + 8


def test_titles_of_sources_that_contribute_nothing_leave_room_for_more_sentences():
    hits = [FakeHit(" ".join(["long"] * 20), "Nothing here."),
            FakeHit("A", "Smoothing one fact. Smoothing two fact. Smoothing three fact."),
            FakeHit("B", "Smoothing four fact.")]
    evidence = build_evidence("smoothing fact", hits, embed=no_vectors, query_vector=np.zeros(1, np.float32),
                              count_tokens=words, budget=43, max_sources=2).blocks
    assert [h.title for h, _ in evidence] == ["A", "B"]
    assert all(w in evidence[0][1] for w in ("one", "two", "three")) and "four" in evidence[1][1]
    assert sum(words(t) + words(h.title) + 4 for h, t in evidence) <= 43


def test_dense_similarity_decides_when_no_words_are_shared():
    alpha, beta, gamma = (f"{w} " + "filler " * 10 + "end." for w in ("Alpha", "Beta", "Gamma"))
    hits = [FakeHit("a", f"{alpha} {beta}"), FakeHit("b", gamma)]
    table = {alpha: [1.0, 0.0], beta: [0.0, 1.0], gamma: [0.6, 0.8], "a": [0.0, 0.0], "b": [0.0, 0.0]}
    embed = lambda texts: np.array([table[t] for t in texts], np.float32)  # noqa: E731
    evidence = build_evidence("zzz", hits, embed=embed, query_vector=np.array([0.0, 1.0], np.float32),
                              count_tokens=words, budget=24).blocks
    assert [t for _, t in evidence] == [beta], "only the most similar unit fits this budget"


def test_units_of_one_source_keep_their_original_order_and_empty_hits_give_nothing():
    hits = [FakeHit("s", "Smoothing one. Filler two. Smoothing three.")]
    evidence = build_evidence("smoothing", hits, embed=no_vectors, query_vector=np.zeros(1, np.float32),
                              count_tokens=words, budget=100).blocks
    assert evidence[0][1].index("one") < evidence[0][1].index("three")
    assert build_evidence("x", [], embed=no_vectors, query_vector=np.zeros(1, np.float32),
                          count_tokens=words, budget=10).blocks == []


def test_quotes_are_best_first_and_a_supporting_quote_adds_new_words():
    hits = [FakeHit("a", "Smoothing adds clipped noise to the target action. Unrelated filler text here."),
            FakeHit("b", "Target smoothing averages the critic over nearby actions.")]
    ev = build_evidence("target smoothing noise", hits, embed=no_vectors, query_vector=np.zeros(1, np.float32),
                        count_tokens=words, budget=100)
    assert ev.quotes[0] == (1, "Smoothing adds clipped noise to the target action.")
    answer = "Smoothing adds clipped noise to the target action [1]."
    assert supporting_quote(answer, ev.quotes) == (2, "Target smoothing averages the critic over nearby actions.")
    assert supporting_quote(answer, ev.quotes[:1]) is None  # nothing new to add


def test_sentence_count_ignores_code():
    assert sentence_count("One sentence here [1].") == 1
    assert sentence_count("First one. Second one! ```python\nx = 1. y = 2.\n```") == 2
    assert sentence_count("第一句。第二句。") == 2


def test_at_most_max_sources_contribute():
    hits = [FakeHit(f"s{i}", f"Smoothing fact number {i} is stated here.") for i in range(6)]
    ev = build_evidence("smoothing fact", hits, embed=no_vectors, query_vector=np.zeros(1, np.float32),
                        count_tokens=words, budget=200, max_sources=3)
    assert len(ev.blocks) == 3 and {n for n, _ in ev.quotes} == {1, 2, 3}


def test_table_rows_are_units_of_their_own():
    """A config table's rows are separate units, so one field's row can be chosen alone, each
    written as a sentence naming its columns (it embeds and reads like prose)."""
    text = ("Fields:\n\n| field | type | meaning |\n| --- | --- | --- |\n"
            "| `lr` | float | Adam learning rate. |\n| `clip_range` | float | Clipping range of the ratio. |"
            "\n\nAfter the table. Second sentence.")
    assert split_units(text) == ["Fields:", "`lr`: type float; Adam learning rate.",
                                 "`clip_range`: type float; Clipping range of the ratio.",
                                 "After the table.", "Second sentence."]


def test_a_long_table_row_is_quoted_in_pieces_that_name_its_key():
    """A row too long for the evidence budget becomes pieces, each led by the row's key with
    its columns named, so a question about the last column gets that column alone."""
    long_cell = "; ".join(["the trunk: conv stride 2, then three convs stride 1, ReLU after each"] * 3)
    text = ("| key | class | layers | `out_dim` |\n| --- | --- | --- | --- |\n"
            f"| `cnn` | `Cnn` | {long_cell} | 39200 for 84x84 |\n| `mlp` | `Mlp` | two layers | `64` |")
    units = split_units(text)
    assert units[-1] == "`mlp`: class `Mlp`, layers two layers, `out_dim` `64`."
    pieces = units[:-1]
    assert len(pieces) >= 2 and all(p.startswith("`cnn`: ") for p in pieces)
    assert pieces[0].startswith("`cnn`: class `Cnn`, layers the trunk")  # a short column joins the next
    assert pieces[-1].endswith("`out_dim` 39200 for 84x84.")
    assert all(len(p.split()) <= 30 for p in pieces)


def test_quotes_are_statements_not_references_signatures_or_lead_ins():
    assert is_statement("The critic takes the state and the action as inputs.")
    assert not is_statement('Tom Schaul, John Quan, David Silver. "Prioritized Experience Replay".')
    assert not is_statement("rlcore.agents.ppo.update (method) update(self, batch) -> dict")
    assert not is_statement("The n-step V-trace target is:")
    assert not is_statement("Module: `rlcore.encoders`.")
    assert not is_statement("Episodic memory: see :mod:`rlcore.rewards.episodic` (per env over the batch).")
    assert not is_statement("Base of the registered intrinsic rewards (see the module docstring).")
    assert not is_statement("This tutorial saves checkpoints, resumes training and evaluates the run.")
    assert not is_statement("``(distribution, predicted advantage of actions)``.")
    assert is_statement("`python -m rlcore --help` and `python -m rlcore COMMAND --help` print the options.")
    # what follows an example ("... ``` or `--part reward=e3b` on the command line.") is half a sentence
    assert not is_statement("or `python -m rlcore train ppo MountainCar-v0 --part reward=e3b` on the command line.")
    assert is_statement("Or use the command line, which takes the same fields.")


def test_a_source_whose_title_matches_the_question_ranks_its_units_higher():
    hits = [FakeHit("Other topic", "A sentence with shared words about tuning here."),
            FakeHit("Tune the temperature", "A sentence with shared words about tuning there.")]
    table = {"Other topic": [1.0, 0.0], "Tune the temperature": [0.0, 1.0]}
    embed = lambda texts: np.array([table.get(t, [0.0, 0.0]) for t in texts], np.float32)  # noqa: E731
    ev = build_evidence("tuning", hits, embed=embed, query_vector=np.array([0.0, 1.0], np.float32),
                        count_tokens=words, budget=100)
    assert ev.blocks[0][0] is hits[1] and ev.quotes[0][0] == 1


def test_a_definition_of_the_topic_beats_a_list_that_names_it_and_framing_words_do_not_count():
    hits = [FakeHit("Replay", "The role of a critic is to judge actions. Buffer size, target networks "
                              "and DQN training loops all matter a lot. "
                              "The buffer size sets how much old experience DQN keeps.")]
    evidence = build_evidence("What is the role of the replay buffer size in DQN?", hits, embed=no_vectors,
                              query_vector=np.zeros(1, np.float32), count_tokens=words, budget=12)
    assert evidence.quotes[0][1].startswith("The buffer size sets")
    assert "critic" not in evidence.blocks[0][1]


def test_a_how_does_x_work_question_is_answered_by_what_x_does():
    hits = [FakeHit("Replay", "Buffer size, target networks and DQN training loops all matter a lot. "
                              "The buffer size sets how much old experience DQN keeps.")]
    for question in ("How does the buffer size work in DQN?", "How is the buffer size used by DQN?"):
        evidence = build_evidence(question, hits, embed=no_vectors, query_vector=np.zeros(1, np.float32),
                                  count_tokens=words, budget=12)
        assert evidence.quotes[0][1].startswith("The buffer size sets"), question


def test_a_unit_naming_the_questions_identifier_and_prose_over_code_are_preferred():
    hits = [FakeHit("PPO", "```python\nagent = make_agent('ppo', config={'n_steps': 64})\n```\n\n"
                           "PPO is registered under the name ppo in rlcore today.\n\n"
                           "| field | meaning |\n|---|---|\n| `n_steps` | Steps collected per env before each update. |")]
    evidence = build_evidence("What does the n_steps field of PPO mean?", hits, embed=no_vectors,
                              query_vector=np.zeros(1, np.float32), count_tokens=words, budget=12)
    assert "Steps collected per env" in evidence.quotes[0][1] and "```" not in evidence.blocks[0][1]


def test_a_sentence_introducing_a_short_list_keeps_its_items():
    text = ("Rainbow asks whether six extensions are complementary. It combines:\n"
            "1. double Q-learning,\n2. prioritized replay,\n3. dueling heads.\n\nThe ablation came next.")
    units = split_units(text)
    assert units == ["Rainbow asks whether six extensions are complementary.",
                     "It combines: double Q-learning; prioritized replay; dueling heads.", "The ablation came next."]
    fields = "Fields:\n- lr (float, default 3e-4): the learning rate.\n- gamma (float, default 0.99): discount."
    assert split_units(fields)[0] == "Fields:"  # a list of config fields stays one unit per field


def test_a_list_item_that_labels_a_case_keeps_it_with_the_choice_it_names():
    text = ("A practical guide:\n"
            "- Environment changes every episode (procedurally generated levels): an episodic bonus. "
            "E3B is the strongest simple choice. Lifelong bonuses stay high there.\n"
            "- Optimality gap: the average shortfall below a target. Lower is better.")
    units = split_units(text)
    assert ("- Environment changes every episode (procedurally generated levels): an episodic bonus. "
            "E3B is the strongest simple choice.") in units  # the condition stays with the choice
    assert "Lifelong bonuses stay high there." in units
    assert "- Optimality gap: the average shortfall below a target." in units  # a definition is no label


def _evidence(question, hits, budget=40):
    return build_evidence(question, hits, embed=no_vectors, query_vector=np.zeros(1, np.float32),
                          count_tokens=words, budget=budget)


def _first_quote(question, hits, budget=40):
    return _evidence(question, hits, budget).quotes[0][1]


def _quotes(question, hits, budget=60):
    return [text for _, text in _evidence(question, hits, budget).quotes]


def test_a_why_question_prefers_the_sentence_that_gives_a_reason():
    hits = [FakeHit("DQN", "The paper copies the target network every 10,000 steps. "
                           "The target network is held fixed between copies, so the regression target does "
                           "not move with every gradient step.")]
    assert "so the" in _first_quote("Why does DQN use a target network?", hits)
    assert "10,000" in _first_quote("How often is the target network copied in DQN?", hits)
    from copilot.evidence import WHY_QUESTION  # "what problem does X solve" asks why X exists
    assert WHY_QUESTION.search("what problem does v-trace solve in IMPALA?")
    # so do "what causes that?" and "how come"
    assert WHY_QUESTION.search("my return dropped to zero after 1M steps. what causes that?")
    assert WHY_QUESTION.search("how come SAC needs two critics?")
    assert not WHY_QUESTION.search("what does the entropy coefficient control?")


def test_a_how_to_question_prefers_what_to_type_and_takes_one_code_block():
    code = "```python\nagent.set(encoder='mlp')\nagent.train(1000)\n```"
    hits = [FakeHit("Encoders", f"Encoders turn observations into features for agents. {code}\n\n{code}\n\n"
                                "To change an agent's encoder, call `agent.set(encoder=KEY)` before training.")]
    evidence = build_evidence("How do I change the encoder of an agent?", hits, embed=no_vectors,
                              query_vector=np.zeros(1, np.float32), count_tokens=words, budget=60)
    assert evidence.blocks[0][1].count("```python") == 1
    assert "call `agent.set" in evidence.quotes[0][1]


def test_an_acronym_meets_its_long_form():
    from copilot.evidence import acronyms, spelled_out

    names = acronyms("Prioritized Experience Replay (PER), Schaul et al. Soft Actor-Critic (SAC). The value (V).")
    assert set(names) == {"per", "sac"}  # "value (V)": one letter is no acronym
    assert {"prioritiz", "replay"} <= spelled_out({"per", "sampl"}, names)
    hits = [FakeHit("Prioritized Experience Replay (PER)", "The buffer is a sum-tree of priorities. "
                                                            "PER samples transitions by their last TD error.")]
    assert _first_quote("How does prioritized experience replay pick transitions?", hits).startswith("PER samples")


def test_a_what_is_question_prefers_a_sentence_saying_what_it_is_even_midway():
    hits = [FakeHit("IMPALA", "When pi equals mu, V-trace reduces to the on-policy target. "
                              "Because the actors lag behind, V-trace is the off-policy correction of the learner.")]
    assert "is the off-policy correction" in _first_quote("What is V-trace?", hits)


def test_a_sentence_about_another_method_is_not_quoted_for_a_question_naming_one():
    hits = [FakeHit("rlcore agent: PPG (Phasic Policy Gradient) > PPGConfig fields",
                    "`n_epochs`: default 1, policy-phase passes over each rollout."),
            FakeHit("rlcore agents > PPO", "PPO's `n_epochs` sets how many passes each rollout gets, 10 by default.")]
    assert _quotes("What does n_epochs do in PPO?", hits) == ["PPO's `n_epochs` sets how many passes each rollout "
                                                            "gets, 10 by default."]
    # a source naming no other method stays quotable: the general answer to a question on A2C
    hits = [FakeHit("FAQ: training > What does the entropy coefficient do?",
                    "It adds the policy's entropy to the objective, which keeps the agent exploring.")]
    assert _first_quote("What is the entropy bonus in A2C for?", hits).startswith("It adds")


def test_a_what_is_x_for_question_is_answered_with_a_reason():
    hits = [FakeHit("A2C", "`ent_coef`: type float, default `0.01`; the entropy bonus coefficient. "
                           "The entropy bonus keeps the policy random for longer, to avoid premature convergence.")]
    assert "to avoid" in _first_quote("What is the entropy bonus in A2C for?", hits)


def test_a_how_to_answer_carries_the_sources_example_when_it_ranks_among_the_best():
    code = "```bash\npython -m rlcore sweep --algo ppo --env CartPole-v1 --seeds 5 --out runs/s\n```"
    hits = [FakeHit("rlcore command line > sweep", f"A sweep trains several seeds of one algorithm.\n\n{code}")]
    assert _evidence("How do I train several seeds from the command line?", hits, budget=80).code == (1, code)
    assert _evidence("What is a sweep over seeds?", hits, budget=80).code is None


def test_a_sentence_introducing_an_example_keeps_it_and_leads_a_how_to_answer():
    text = ("Checkpoints live in the run folder. To resume, build the same agent, load the checkpoint and "
            "call `train` with the new total:\n\n```python\nagent.load('final.pt')\nagent.train(20_000)\n```")
    units = split_units(text)
    assert units[1].startswith("To resume") and units[1].endswith("agent.train(20_000)\n```")
    hits = [FakeHit("Checkpoints", text)]
    assert _first_quote("How do I resume training from a checkpoint?", hits, budget=60) == units[1]
    assert "```" not in _first_quote("What is a checkpoint?", hits, budget=60)


def test_a_sentence_opening_with_it_under_another_methods_heading_is_not_quoted():
    hits = [FakeHit("rlcore agent: PPG (Phasic Policy Gradient) > How the ppg agent trains",
                    "It keeps PPO's policy update and adds an auxiliary phase every few updates."),
            FakeHit("PPO > clipping", "PPO clips the probability ratio of each update to a small band.")]
    assert _quotes("How does PPO clip the policy update?", hits) == [
        "PPO clips the probability ratio of each update to a small band."]


def test_an_api_entrys_summary_sentence_is_led_by_the_symbol_it_describes():
    hits = [FakeHit("rlcore.export.export: Export a run's policy",
                    "rlcore.export.export (function)\nexport(run_dir, fmt='onnx')\n\n"
                    "Export a run's deterministic policy to ONNX and return the file path.\n\n"
                    "The ONNX file runs without rlcore.")]
    ev = build_evidence("How do I export a policy to ONNX?", hits, embed=no_vectors,
                        query_vector=np.zeros(1, np.float32), count_tokens=words, budget=200)
    assert ev.quotes[0][1] == ("`rlcore.export.export`: Export a run's deterministic policy to ONNX and return "
                               "the file path.")
    assert "The ONNX file runs without rlcore." in [q for _, q in ev.quotes]  # later sentences as written


def test_a_chinese_questions_form_is_read_in_english():
    from copilot.glossary_zh import question_form

    assert question_form("DQN 为什么需要目标网络？") == "why"
    assert question_form("如何在 rlcore 中恢复训练？") == "how do I"
    assert question_form("PPO 中的 clip 参数是什么？") == "what is"
    assert question_form("PPO 的 clip 参数") == ""
    assert question_form("rlcore tune 如果把 --evals 设成 0 会发生什么？") == "what happens if"  # not "how"
    hits = [FakeHit("DQN", "The target network is copied every 10,000 steps. "
                           "The target network is held fixed between copies, so the regression target does "
                           "not move with every gradient step.")]
    assert "so the" in _first_quote(f"{question_form('DQN 为什么需要目标网络？')} DQN, target network", hits)


def test_framing_words_and_rlcore_are_not_the_topic_in_any_inflection():
    from copilot.evidence import focus_terms

    assert focus_terms("What is the difference between terminated and truncated?") == {"terminat", "truncat"}
    assert focus_terms("What is the purpose of the target network?") == {"target", "network"}
    assert "rlcor" not in focus_terms("How can I list all algorithms available in rlcore?")
    assert focus_terms("What is rlcore?") == {"rlcor"}  # the only word left stays


def test_a_sentence_saying_what_a_command_does_answers_how_to_use_it():
    hits = [FakeHit("CLI", "`python -m rlcore --help` prints the options of the command line. "
                           "`list` prints every registered agent and part by kind.")]
    assert _first_quote("How can I list all agents?", hits).startswith("`list` prints")


def test_where_a_method_is_registered_does_not_answer_what_the_method_does():
    hits = [FakeHit("RND", "rlcore registers RND as the intrinsic reward `rnd`. "
                           "RND rewards the agent for visiting observations a learned predictor cannot predict well.")]
    assert _first_quote("What does RND use as its exploration bonus?", hits).startswith("RND rewards")
    assert _first_quote("Which key does rlcore register RND under?", hits).startswith("rlcore registers")


def test_a_sentence_does_not_end_at_an_abbreviation():
    units = split_units("Off-policy methods need fewer steps (e.g. Pendulum: about 10^4 steps). The rest, i.e. "
                        "PPO, needs more. Then a new sentence.")
    assert units == ["Off-policy methods need fewer steps (e.g. Pendulum: about 10^4 steps).",
                     "The rest, i.e. PPO, needs more.", "Then a new sentence."]


@pytest.mark.parametrize("title, text, asked, other, said", [
    # a "when should I" question prefers the sentence that states a condition
    ("Observation normalization", "Observation normalization standardises every observation with running "
     "statistics. Turn observation normalization on when features have very different scales. Observation "
     "normalization statistics are saved in checkpoints.", "When should I turn on observation normalization?",
     "What is observation normalization?", "when features"),
    # a "how do I check whether" question, the sentence naming what reports it
    ("Fused updates", "The fused path runs the whole update in one compiled call. Set `RLCORE_FUSED=0` to force "
     "the eager path for the fused update. The `update_path` key of `run.json` says which path ran for the "
     "update.", "how do I check whether the fused update path ran?", "How do I force the eager update path?",
     "says which path"),
    # a question whether one thing counts in another, the sentence saying what is left out
    ("Logs", "The log row holds the step, the logged time, the evaluation return and the loss. Evaluation time "
     "is always excluded from it.", "does the logged time include evaluation?",
     "what does the logged time row hold?", "Evaluation time is always"),
])
def test_a_questions_form_prefers_the_sentence_of_that_form(title, text, asked, other, said):
    assert said in _first_quote(asked, [FakeHit(title, text)])
    assert said not in _first_quote(other, [FakeHit(title, text)])


@pytest.mark.parametrize("question, title, text, first", [
    # an acronym meets its long form
    ("How does PER pick transitions?", "Prioritized Experience Replay (PER)",
     "Uniform replay samples every transition equally often. "
     "Prioritized experience replay samples transitions by their last TD error.", "Prioritized experience replay"),
    # a spelled-out method name weighs as its acronym, not three words that outweigh "alpha"
    ("what does alpha do in soft actor critic", "Soft Actor-Critic (SAC)",
     "SAC learns two critics, and a soft update moves each target critic toward the actor's critic. "
     "The temperature alpha weighs entropy against reward. SAC keeps a replay buffer of past transitions.",
     "The temperature alpha"),
    # an abbreviation users type meets the word the docs spell out
    ("what does obs normalization do?", "Normalisation",
     "Rewards are scaled by a running standard deviation. Observations are standardised with running statistics.",
     "Observations are standardised"),
])
def test_a_question_meets_the_sentence_that_names_its_topic_another_way(question, title, text, first):
    assert _first_quote(question, [FakeHit(title, text)]).startswith(first)


def test_an_evidence_block_splits_back_into_the_units_it_was_built_from():
    hits = [FakeHit("Terminated and truncated", "A truncated state still has a future, so its value is estimated "
                                                "as usual. So the TD target is\n\n- `r` if the episode terminated,\n"
                                                "- `r + gamma * V(s_final)` if it was truncated.")]
    evidence = _evidence("What is the TD target when an episode is truncated or terminated?", hits, 200)
    units = split_units(evidence.blocks[0][1])
    assert "- `r` if the episode terminated," in units  # a list item, not the tail of the sentence before
    assert not any(u.endswith("terminated,") and "as usual" in u for u in units)


def test_a_question_asking_for_a_value_prefers_the_sentence_stating_it():
    hits = [FakeHit("Prioritized replay storage", "Prioritized replay samples transitions in proportion to their "
                    "priority raised to alpha. `alpha`: default 0.6, how strongly priorities skew sampling. "
                    "Priorities live in a sum tree of the storage.")]
    assert _first_quote("what is the default alpha of the prioritized replay storage?", hits).startswith("`alpha`")
    assert not _first_quote("what does prioritized replay sample by?", hits).startswith("`alpha`")
    from copilot.evidence import VALUE_QUESTION  # "what should X be?" asks for a value too
    assert VALUE_QUESTION.search("porting drq-v2 from the paper: what should std_steps be in rlcore?")
    assert not VALUE_QUESTION.search("what should I be logging during training?")


def test_a_part_named_after_a_method_or_an_activation_is_no_other_method():
    from copilot.evidence import entity_terms, others_named

    asked = entity_terms("what out_dim does the drq_cnn encoder give on 84x84 images?")
    assert not others_named("`drq_cnn`: the DrQ / DrQ-v2 trunk, ReLU after each conv", asked)
    assert others_named("PPG's `n_epochs` is 1", entity_terms("what does n_epochs do in PPO?"))
    # a placeholder in a command is no method: `rlcore export RUN --format c`
    assert not others_named("`rlcore export RUN --format c` writes the policy as a C header",
                            entity_terms("how do I export my td3 policy to C?"))


def test_a_method_named_only_as_the_base_of_the_one_described_is_not_the_questions_subject():
    """"That PPO variant that distils the value function into the policy: why 1 epoch?" asks
    about PPG: sentences naming PPG are not about another method than the question's."""
    from copilot.evidence import entity_terms

    question = "That PPO variant with an auxiliary phase: why does it use 1 policy epoch when PPO uses 10?"
    assert entity_terms(question) == []  # so no sentence on PPG is marked as about another method
    assert entity_terms("is there a version of SAC for discrete actions?") == []
    assert entity_terms("how many epochs does PPO use, and what is PPG's version of it?") == [{"ppo"}, {"ppg"}]


def test_an_identifier_of_several_words_is_named_by_its_words():
    from copilot.evidence import _content_tokens, entity_terms, mentions

    gae_lambda, n_epochs = entity_terms("gae_lambda or n_epochs?")
    assert mentions(gae_lambda, _content_tokens("`lambda` is GAE's bias-variance knob for advantages"))
    assert not mentions(gae_lambda, _content_tokens("`lambda`: the paper found 0.92 to 0.98 best"))
    assert not mentions(n_epochs, _content_tokens("PPG runs more epochs"))  # one word names no identifier
    assert mentions(n_epochs, _content_tokens("`n_epochs`: default 10"))


def test_a_unit_cut_mid_sentence_at_a_chunk_windows_start_is_no_quote():
    assert not is_statement("pass theirs: beta reaches 1 at the end) | | `n_step`, `gamma` | 1, 0.99 |")
    assert not is_statement("the stack is refilled with the new first picture where an episode ends.")
    assert is_statement("rlcore registers RND as the intrinsic reward `rnd`.")
    assert is_statement("n-step returns with very exploratory behaviour are biased; keep `n` small.")


def test_advice_and_reasons_in_other_words_count_as_a_condition_and_a_reason():
    from copilot.evidence import CONDITION, REASON

    assert CONDITION.search("Observation normalisation helps most where features differ in scale.")
    assert CONDITION.search("Benefits are clearest with pixel observations and shared features.")
    assert REASON.search("The mean version optimises more stably, since the advantages change slowly.")


def test_an_acronym_is_embedded_with_its_long_form_when_the_question_uses_the_other():
    seen: list[str] = []

    def embed(texts):
        seen.extend(texts)
        return np.zeros((len(texts), 1), np.float32)

    hits = [FakeHit("Prioritized Experience Replay (PER)", "PER samples transitions by their last TD error. "
                    "Uniform replay samples every transition equally often.")]
    build_evidence("What does prioritized experience replay change about sampling?", hits, embed=embed,
                   query_vector=np.zeros(1, np.float32), count_tokens=words, budget=40)
    assert "PER (Prioritized Experience Replay) samples transitions by their last TD error." in seen
    seen.clear()
    build_evidence("What does uniform replay sample?", hits, embed=embed, query_vector=np.zeros(1, np.float32),
                   count_tokens=words, budget=40)
    assert "PER samples transitions by their last TD error." in seen  # not asked: embedded as written
    seen.clear()
    build_evidence("What does PER change about sampling?", hits, embed=embed, query_vector=np.zeros(1, np.float32),
                   count_tokens=words, budget=40)
    assert "PER samples transitions by their last TD error." in seen  # asked in the form it is written


def test_an_author_list_is_no_statement():
    assert not is_statement("The second version: Tuomas Haarnoja, Aurick Zhou, Kristian Hartikainen, George "
                            "Tucker, Sehoon Ha. \"Soft Actor-Critic Algorithms and Applications\".")
    assert is_statement("SAC, TD3, DDPG and DQN accept any off-policy storage.")


def test_a_sentence_under_the_asked_methods_heading_beats_the_general_one():
    hits = [FakeHit("Core concepts > Exploration and exploitation",
                    "The exploration trade-off is the choice between exploiting and exploring other actions."),
            FakeHit("Soft Actor-Critic (SAC) > The idea",
                    "The entropy term keeps exploration alive and makes the policy robust.")]
    # the second sentence does not say "SAC", its section does; the first is about no method at all
    assert _first_quote("How does SAC encourage exploration?", hits).startswith("The entropy term")


def test_a_docstrings_imperative_summary_is_no_how_to_step():
    from copilot.evidence import shape

    question, text = "How do I add an intrinsic reward to my agent?", "Add the reward's bonuses to the rollout's rewards."
    assert shape(question, text, {"intrins", "reward"}) > shape(question, text, {"intrins", "reward"}, docstring=True)
    # a command in the sentence is a step wherever it is written
    step = "Pass `make_agent(\"ppo\", env, reward=\"rnd\")` to add one."
    assert shape(question, step, {"reward"}, docstring=True) == shape(question, step, {"reward"})


def test_reduces_to_is_no_reason():
    from copilot.evidence import REASON

    assert not REASON.search("With a single task, the stratified bootstrap reduces to the ordinary bootstrap.")
    assert REASON.search("Twin critics reduce the overestimation of the target.")


def test_a_pointer_to_another_page_is_no_statement():
    assert not is_statement("See the storages page for the details.")
    assert not is_statement("See the experiments page for the Python API.")
    assert is_statement("Seeds are set per run, see `rlcore.seeding` for the derivation.")


@pytest.mark.parametrize("code_cosine, shown", [(0.6, True), (0.4, False)])
def test_a_how_to_question_shows_the_example_close_enough_to_the_best_sentence(code_cosine, shown):
    sentence = "rlcore trains on any environment registered with Gymnasium."
    code = "```python\nagent = make_agent('ppo', 'mypkg:Grid-v0')\nagent.train(1000)\n```"
    hits = [FakeHit("Own environment", f"{sentence} {code}")]
    # the first sentence is close to any question on environments; the example less so, but
    # it is what "write my own env and train on it" asks for
    table = {sentence: [0.8, 0.6], code: [code_cosine, (1 - code_cosine ** 2) ** 0.5], "Own environment": [0.0, 0.0]}
    embed = lambda texts: np.array([table[t] for t in texts], np.float32)  # noqa: E731
    evidence = build_evidence("How do I write my own environment and train on it?", hits, embed=embed,
                              query_vector=np.array([1.0, 0.0], np.float32), count_tokens=words, budget=80)
    assert (evidence.code is not None) is shown


def test_a_sentence_naming_most_of_what_was_asked_is_on_topic_though_its_page_names_another_method():
    hits = [FakeHit("Augmentations: random crop, noise and DrAC regularisation",
                    "On CartPole only the noise augmentations fit, and `random_crop` is refused."),
            FakeHit("PPO tutorial", "Train PPO with the default config and check the evaluation return.")]
    question = "I set augmentation='random_crop' on PPO for CartPole and it's refused. why?"
    assert _quotes(question, hits)[0].startswith("On CartPole only")
    # naming none of it, under another method's heading, it is context only
    hits = [FakeHit("rlcore agent: PPG > PPGConfig fields", "`n_epochs`: default 1, policy-phase passes."),
            FakeHit("rlcore agents > PPO", "PPO's `n_epochs` sets how many passes each rollout gets.")]
    assert _quotes("What does n_epochs do in PPO?", hits) == ["PPO's `n_epochs` sets how many passes each rollout gets."]


def test_a_definition_opens_with_its_subject():
    from copilot.evidence import defines

    topic = {"replay", "buffer", "size"}
    assert not defines("Terminal flags stored in the replay buffer are `terminated` only.", topic)
    assert defines("The replay buffer size sets how much old experience is kept.", topic)


def test_a_sentence_opening_with_it_defines_its_headings_subject():
    hits = [FakeHit("FAQ: training > What does the entropy coefficient do?",
                    "SAC has no fixed coefficient: its entropy temperature is tuned. "
                    "It adds the entropy times a coefficient to the objective, which keeps the policy random.")]
    assert _first_quote("What does the entropy coefficient do?", hits).startswith("It adds")


def test_a_sentence_about_the_page_is_not_read_as_its_headings_subject():
    from copilot.evidence import Unit, score_units

    units = [Unit(0, 0, "This tutorial trains an agent on your own environment."),
             Unit(0, 1, "An agent trains on your own environment once it is registered.")]
    score_units("How do I train an agent on my own environment?", units, no_vectors, np.zeros(1, np.float32), 1,
                ["Tutorial: train an agent on your own environment"])
    assert units[0].score < units[1].score


def _bag(texts):
    """Unit vectors of hashed words: cosine is word overlap."""
    import zlib

    out = np.zeros((len(texts), 64), np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace("?", " ").replace(".", " ").split():
            out[i, zlib.crc32(word.encode()) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@dataclass
class OpeningHit:
    title: str
    text: str
    opens: bool = True


@pytest.mark.parametrize("opens", [True, False])
def test_the_sentence_opening_a_section_headed_by_a_question_answers_it(opens):
    question = "why does my PPO return collapse after a while?"
    hits = [OpeningHit("FAQ: training > Why does PPO's return collapse after it was improving?",
                       "Usually because each update moves the policy too far. "
                       "A collapse in one seed of several may just be variance.", opens),
            OpeningHit("Tutorial: CartPole > Train", "Four updates in, the return is above a random policy's.")]
    evidence = build_evidence(question, hits, embed=_bag, query_vector=_bag([question])[0], count_tokens=words,
                              budget=60)
    # read with the heading it answers; a piece that starts mid-section has no such opening
    assert evidence.quotes[0][1].startswith("Usually because") == opens
    assert evidence.answers == ({"Usually because each update moves the policy too far.":
                                 "Why does PPO's return collapse after it was improving?"} if opens else {})


def test_a_when_question_keeps_the_sources_advice_though_definitions_fill_the_budget():
    hits = [FakeHit("PPG agent", "The PPG agent is the phasic policy gradient agent of rlcore. The PPG agent keeps "
                    "the PPO update of the policy. The PPG agent adds an auxiliary phase that trains the value head. "
                    "Pick PPG where PPO runs when the value function benefits from more training on old data.")]
    advice = "Pick PPG where PPO runs when the value function benefits from more training on old data."
    assert advice not in _quotes("what is the PPG agent and what does it add?", hits, budget=50)
    # the weakest definition gives way to the advice, the best two stay
    assert _quotes("what is the PPG agent and when would I use it?", hits, budget=50) == [
        "The PPG agent is the phasic policy gradient agent of rlcore.",
        "The PPG agent keeps the PPO update of the policy.", advice]


def test_a_default_asked_of_a_field_the_best_sentences_name_is_kept_in_the_evidence():
    hits = [FakeHit("Augmentations > DrAC", "An augmentation makes PPO add the DrAC regulariser, weighted by the "
                    "config field `aug_coef`. The DrAC regulariser keeps the policy the same on augmented images. "
                    "The DrAC regulariser is a sum of two terms. The DrAC regulariser comes from a 2021 paper. "
                    "Its scale `aug_coef` is `0.1` unless set.")]
    value = "Its scale `aug_coef` is `0.1` unless set."
    assert value not in _quotes("what is the DrAC regulariser that PPO adds?", hits, budget=45)
    assert value in _quotes("what is the DrAC regulariser that PPO adds, and its default weight?", hits, budget=45)


def test_an_environment_suite_is_no_other_method():
    hits = [FakeHit("Environment families: Box2D, MuJoCo, Atari > Atari preprocessing",
                    "During training the episode returns in the logs are per-life sums of clipped rewards."),
            FakeHit("PPG > Phases", "PPG logs the episode returns of each phase during training.")]
    question = "Training PPO on ALE/Breakout-v5: why are the episode returns in my logs tiny?"
    evidence = _evidence(question, hits, budget=60)
    assert evidence.quotes[0][1].startswith("During training") and not evidence.elsewhere - {hits[1].text}


def test_a_which_field_question_is_answered_by_a_sentence_naming_one():
    hits = [FakeHit("FAQ > Why does the return collapse?", "Usually because each update moves the policy too far "
                    "in one epoch loop. The `target_kl` field stops the epoch loop when the KL exceeds 1.5 times it.")]
    question = "Which config field stops the epoch loop early when the policy moves too far?"
    assert _first_quote(question, hits, budget=60).startswith("The `target_kl` field")
    from copilot.grounding import choose_extract

    quotes = [(1, "Usually because each update moves the policy too far in one epoch loop."),
              (1, "The `target_kl` field stops the epoch loop when the KL exceeds 1.5 times it.")]
    assert choose_extract(question, quotes)[0] == quotes[1]
    assert choose_extract("Why does the policy move too far in one epoch loop?", quotes)[0] == quotes[0]


def test_a_section_on_another_method_speaks_of_it_though_the_page_title_names_the_asked_one():
    hits = [FakeHit("rlcore agents: PPO, PPG and DQN > PPG config fields",
                    "`n_epochs`: type int, default `1`; policy-phase passes over each rollout."),
            FakeHit("rlcore agents: PPO, PPG and DQN > PPO config fields",
                    "`n_epochs`: type int, default `10`; passes over each rollout.")]
    evidence = _evidence("what is the default n_epochs of PPO?", hits, budget=60)
    assert evidence.quotes[0][1].endswith("default `10`; passes over each rollout.")
    assert evidence.elsewhere == {hits[0].text}


def test_a_quoted_sentence_opening_with_it_comes_with_the_sentence_it_points_back_to():
    intro = "`rlcore export RUN --format c` writes the policy as one C header that needs only math.h."
    hits = [FakeHit("rlcore C export", f"{intro} It suits microcontrollers that cannot load PyTorch. "
                    "The header holds the weights as float arrays. Two functions compute the action.")]
    question = "which microcontrollers cannot load PyTorch?"
    assert _quotes(question, hits, budget=60)[0] == f"{intro} It suits microcontrollers that cannot load PyTorch."
    # the sentence before is brought in, in place of the weakest, when the budget left it out
    from copilot.evidence import Unit, with_antecedents

    units = [Unit(0, i, text, score=s) for i, (text, s) in enumerate(
        [(intro, 0.1), ("It suits microcontrollers.", 0.9), ("Memory is small.", 0.8), ("Flash is small.", 0.2)])]
    chosen = with_antecedents(units, [units[1], units[2], units[3]], words, budget=25, asked=set())
    assert [u.order for u in chosen] == [1, 2, 0]
    assert with_antecedents(units, [units[1], units[2], units[3]], words, budget=25, asked={0}) == units[1:]


def test_a_method_listed_in_a_page_title_is_what_the_page_holds_not_its_subject():
    question = "whats the difference between random_crop and random_shift?"
    crop = "`random_crop` is a zoom-in with a random offset that keeps the aspect ratio."
    listed = [FakeHit("Augmentations: random crop, colour jitter and DrAC regularisation > In detail", crop)]
    assert _evidence(question, listed).elsewhere == frozenset()
    about = [FakeHit("DrAC: regularising the policy > In detail", crop)]  # a page on DrAC
    assert _evidence(question, about).elsewhere == {crop}


def test_an_api_signature_line_is_no_statement_and_another_methods_page_gives_no_value():
    assert not is_statement("rlcore.agents.ppo.PPOConfig (config dataclass) PPOConfig(lr: 'float' = 0.0003, "
                            "n_epochs: 'int' = 10, batch_size: 'int' = 256) -> None")
    assert not is_statement("rlcore.storage.PrioritizedReplay.beta (property) beta")
    hits = [FakeHit("rlcore agent: PPG > PPGConfig fields", "PPG's config is PPO's with these differences: "
                    "the number of passes `n_epochs` is 1 by default."),
            FakeHit("rlcore agents > PPO config fields", "PPO makes 10 passes by default, `n_epochs` = 10.")]
    evidence = _evidence("what is the default n_epochs of PPO?", hits, budget=60)
    assert evidence.quotes[0][1].startswith("PPO makes 10") and evidence.elsewhere == {hits[0].text}
    assert not _evidence("what does n_epochs do in PPO and PPG?", hits, budget=60).elsewhere


def test_a_sentence_holding_the_words_the_user_quoted_is_on_topic_under_any_acronym():
    hits = [FakeHit("FAQ > What is the update-to-data (UTD) ratio?",
                    "Higher ratios raise the risk of \"primacy bias\" (over-fitting early data)."),
            FakeHit("SAC agent", "SAC makes one update per step by default.")]
    question = "if I push SAC's replay ratio up I'll run into 'primacy bias'. what is that?"
    evidence = _evidence(question, hits, budget=60)
    assert not evidence.elsewhere and evidence.quotes[0][1].startswith("Higher ratios")
    # unquoted, the UTD section reads as another method's
    assert evidence.elsewhere != _evidence(question.replace("'", ""), hits, budget=60).elsewhere


def test_making_room_keeps_the_example_and_a_pronoun_joins_only_a_weaker_sentence_before_it():
    from copilot.evidence import Unit, with_antecedents

    code = "```python\nagent.train(1000)\n```"
    units = [Unit(0, 0, "The agent trains on any registered environment id.", score=0.1),
             Unit(0, 1, "It registers nothing by itself.", score=0.9), Unit(0, 2, "Envs are many.", score=0.8),
             Unit(0, 3, code, score=0.2)]
    # the example is never evicted to make room for the sentence an "It ..." points back to
    assert with_antecedents(units, units[1:], words, budget=19, asked=set()) == units[1:]
    ahead = [Unit(0, 0, "The agent trains on any registered environment id.", score=0.95), *units[1:3]]
    # a sentence that ranks above its "It ..." is shown before it anyway: no join, no eviction
    assert with_antecedents(ahead, ahead[1:], words, budget=19, asked=set()) == ahead[1:]


def test_a_question_of_three_parts_may_give_up_the_second_best_sentence_for_its_parts():
    from copilot.evidence import Unit, _room

    best, second = Unit(0, 0, "SAC keeps a replay buffer.", score=0.9), Unit(1, 0, "Memory " * 12, score=0.8)
    # one word more than the two best leave: a two-part question keeps both, a three-part one the best
    assert _room([best, second], 6, 19, words) is None
    assert _room([best, second], 6, 19, words, protect=1) == [best]


@dataclass
class ApiHit:
    title: str
    text: str
    kind: str = "api"


def test_a_docstring_speaks_of_its_class_which_the_registry_key_names():
    hits = [FakeHit("Augmentations > Overview", "A random shift works on every sample of the batch."),
            ApiHit("rlcore.augment.shift.RandomShift: Pad and crop", "Pad by a few pixels and crop back at an "
                   "offset, per sample.")]
    assert _first_quote("how does random_shift work?", hits, budget=60).startswith("Pad by")


def test_a_short_sentence_opening_a_question_section_leads_in_and_is_not_read_with_the_heading():
    question = "what is the difference between terminated and truncated?"
    hits = [OpeningHit("FAQ > What is the difference between terminated and truncated?",
                       "Gymnasium's step returns two flags. Terminated marks a real end; truncated a time limit.")]
    evidence = build_evidence(question, hits, embed=_bag, query_vector=_bag([question])[0], count_tokens=words,
                              budget=60)
    assert evidence.answers == {}



def test_a_two_part_questions_later_part_is_answered_by_a_unit_of_its_own():
    from copilot.evidence import later_part

    question = "What are n-step returns, and how do I switch them on for DQN?"
    assert later_part(question) == "how do I switch them on for DQN? (n-step returns)"
    assert later_part("What are n-step returns?") == "" and later_part("What is PPO? why?") == ""
    # a later part that names a subject of its own and does not refer back is read as it is
    assert later_part("with action_repeat=4, are lengths in env steps? and can I combine pixels=True with "
                      "frame_stack=4?") == "and can I combine pixels=True with frame_stack=4?"
    assert later_part("TD3 vs DDPG for pendulum: which one? and what does TD3 change?") == (
        "and what does TD3 change? (TD3 DDPG)")
    # a pasted log line names no topic to carry; the first part's asked sentence does
    assert later_part("last row of my log, SAC on Pendulum-v1: `critic_loss=1.92, alpha=0.043`. what is alpha "
                      "exactly and what entropy is it trying to hit?") == (
        "what entropy is it trying to hit? (SAC alpha)")
    # the "?" of a shell's `$?` or of a code span ends no part
    from copilot.evidence import first_part
    shell = "ran `train --set lr=3e-4` and it dies, echo $? prints 2. what did i do wrong"
    assert later_part(shell) == "" and first_part(shell) == shell
    assert later_part("is `x?` set by `--set x?=1`? or do I pass it to make_agent").startswith(
        "or do I pass it to make_agent")
    # parts numbered "(1) ..., and (2) ..." are two parts even where no "?" or "and what" parts them
    numbered = ("Two things: (1) how many seeds is enough for claims we publish, and (2) the report shows "
                "P(PPO > A2C) = 0.5, what does that number tell me?")
    assert first_part(numbered) == "Two things: (1) how many seeds is enough for claims we publish"
    assert later_part(numbered) == "the report shows P(PPO > A2C) = 0.5, what does that number tell me?"
    assert later_part("I tried lr values 1) high and 2) low") == ""  # no part of its own that asks
    # a first part headed by its topic: "it" in a later part is the heading's name, not the first
    # part's other names
    assert later_part("two things about the PPG agent: can i use squashed_gaussian as its distribution? and "
                      "what's eating my RAM with it?") == "and what's eating my RAM with it? (PPG)"
    assert later_part("set it to 1) and 2) both") == ""
    define = ["An n-step return sums the next n rewards before it bootstraps.", "N-step returns lower the bias.",
              "N-step returns raise the variance a little."]
    switch = "Set storage to nstep_replay with n_step in storage_kwargs to switch it on for DQN."
    hits = [FakeHit("N-step returns", " ".join(define)), FakeHit("DQN storages", switch)]
    table = {**{t: [1.0, 0.0] for t in define}, switch: [0.2, 0.98], "N-step returns": [1.0, 0.0],
             "DQN storages": [0.0, 1.0]}
    embed = lambda texts: np.array([table[t] for t in texts], np.float32)  # noqa: E731
    later = {later_part(question): np.array([0.0, 1.0], np.float32)}  # the later part reads as the switch
    kwargs = dict(embed=embed, query_vector=np.array([1.0, 0.0], np.float32), count_tokens=words, budget=50)
    without = build_evidence(question, hits, **kwargs)
    assert without.later == [] and all(switch not in text for _, text in without.blocks)
    ev = build_evidence(question, hits, **kwargs, embed_query=later.__getitem__)
    assert [text for _, text in ev.later] == [switch]
    n = ev.later[0][0]
    assert any(h is hits[1] and switch in text for h, text in ev.blocks[n - 1:n])
    # a one-part question has no later part to answer
    assert build_evidence("What are n-step returns?", hits, **kwargs, embed_query=later.get).later == []


def test_a_later_part_is_answered_by_what_it_asks_not_by_the_topic_carried_from_the_first_part():
    question = ("prioritized_replay: what are the default alpha and beta, and how deep does its sum tree get "
                "for a million transitions?")
    values = "`alpha`: default 0.6 and `beta`: default 0.4 for the storage."
    names = "`prioritized_replay` samples each of its transitions with probability proportional to its priority."
    depth = "Priorities live in a sum tree, so a million of them need five levels."
    hits = [FakeHit("Prioritized replay", " ".join([values, names, depth]))]
    same = lambda texts: np.ones((len(texts), 1), np.float32)  # noqa: E731  (alike in meaning)
    ev = build_evidence(question, hits, embed=same, query_vector=np.ones(1, np.float32), count_tokens=words,
                        budget=60, embed_query=lambda text: np.ones(1, np.float32))
    assert [text for _, text in ev.later] == [depth]


def test_a_sentence_describing_the_sources_example_is_not_quoted_for_a_command_with_other_values():
    text = ("Resuming on the command line:\n\n```bash\npython -m rlcore train sac Pendulum-v1 --steps 20000 "
            "--out runs/sac --resume\n```\n\n`--resume` loads the final checkpoint and trains until 20,000 total "
            "steps. `--resume` loads only the checkpoint, which holds no replay buffer, so the buffer refills.")
    hits = [FakeHit("Resuming", text)]
    mine = "I ran `python -m rlcore train sac Pendulum-v1 --steps 40000 --out runs/sac --resume`, why the dip?"
    assert not any("20,000" in quote for quote in _quotes(mine, hits, budget=80))
    same = "I ran `python -m rlcore train sac Pendulum-v1 --steps 20000 --out runs/sac --resume`, why the dip?"
    assert any("20,000" in quote for quote in _quotes(same, hits, budget=80))


def test_a_question_of_three_parts_has_two_later_parts_each_read_with_the_first_parts_topic():
    from copilot.evidence import later_parts

    question = ("Nature DQN: how long was the warm-up and how often did they copy the target net? and what "
                "does rlcore's dqn use for learning_starts by default")
    assert later_parts(question) == ["how often did they copy the target net? (DQN)",
                                     "what does rlcore's dqn use for learning_starts by default"]
    assert later_parts("What are n-step returns, and how do I switch them on for DQN?") == [
        "how do I switch them on for DQN? (n-step returns)"]
    assert later_parts("What is PPO? why?") == []
    # one word of its own is enough for a part that asks it ("what's the downside?"), which
    # is then read with the whole first part's topic, not only its names
    assert later_parts("should PPO share one encoder? whats the downside") == [
        "whats the downside (PPO share encoder)"]
    assert later_parts("What is PPO? thanks!") == []
    # a part too short to ask anything stays with the one after it
    assert later_parts("what is PPO? it is slow; how do I speed it up") == ["it is slow; how do I speed it up (PPO)"]


def test_a_claim_the_question_puts_forward_is_read_and_answered_by_a_unit_of_its_own():
    from copilot.evidence import claim_part, later_part

    assert claim_part("Double DQN = the target net picks the action, correct? asking before I code it") == (
        "Double DQN = the target net picks the action")
    # "it" is read with the sentence before; a pasted line on a line of its own is a sentence
    assert claim_part("my log shows:\n`epsilon=0.04`\nepsilon is at the floor at 30%?? I thought it decays over "
                      "half the run. also what is q_mean") == (
        "epsilon is at the floor at 30%: it decays over half the run")
    assert claim_part("What is PPO?") == "" and claim_part("Is that correct?") == ""  # nothing put forward
    # a premise the question builds on
    assert claim_part("gradients blow up. since clip_range is what clips the gradients, should I lower it?") == (
        "clip_range is what clips the gradients")
    assert claim_part('`make_agent("ppo", env)` - since this subtracts the mean, won\'t it flip signs?') == (
        "this subtracts the mean")
    assert claim_part("How long since the last update, and why?") == ""
    decay = "Epsilon falls linearly over the first 16% of the steps, then stays there."
    define = ["q_mean is the mean predicted Q-value.", "loss is the mean Huber loss.", "Rows are logged per interval."]
    hits = [FakeHit("DQN log columns", " ".join(define)), FakeHit("Exploration", decay)]
    question = "I thought epsilon decays over half the run, right? what is q_mean"
    table = {**{t: [1.0, 0.0] for t in define}, decay: [0.1, 0.99], "DQN log columns": [1.0, 0.0],
             "Exploration": [0.0, 1.0]}
    embed = lambda texts: np.array([table.get(t, [1.0, 0.0]) for t in texts], np.float32)  # noqa: E731
    parts = {claim_part(question): np.array([0.0, 1.0], np.float32), later_part(question): np.array([1.0, 0.0])}
    kwargs = dict(embed=embed, query_vector=np.array([1.0, 0.0], np.float32), count_tokens=words, budget=60)
    ev = build_evidence(question, hits, **kwargs, embed_query=parts.__getitem__)
    assert ev.claim is not None and ev.claim[1] == decay
    assert build_evidence(question, hits, **kwargs).claim is None  # no embedder for the claim alone


def test_room_for_a_parts_answer_is_made_from_an_example_only_when_no_how_to_is_asked():
    from copilot.evidence import Unit, _room

    best, code = Unit(0, 0, "one two three four five"), Unit(0, 1, "```python\nx = 1\ny = 2\nz = 3\n```")
    chosen = [best, Unit(0, 2, "six seven eight", score=0.9), code]
    assert _room(chosen, 4, 16, words, protect=1) is None  # an example goes whole or stays
    assert _room(chosen, 4, 16, words, protect=1, examples=False) == chosen[:2]


def test_the_two_things_a_question_compares_are_read_as_short_names():
    from copilot.evidence import compared

    assert compared("dueling dqn vs double dqn, they sound alike. whats different") == ("dueling dqn", "double dqn")
    assert compared("what's the difference between return_mean and eval_return_mean?") == (
        "return_mean", "eval_return_mean")
    assert compared("layout changes every episode. should I use rnd or e3b as the bonus?") == ("rnd", "e3b")
    assert compared("ngu vs plain rnd - what does ngu add?") == ("ngu", "rnd")  # "plain" tells nothing apart
    assert compared("gae lambda=0 vs lambda=1?") is None  # no word tells the two apart
    assert compared("What is PPO?") is None


def test_a_comparison_is_answered_with_a_sentence_on_each_thing_compared():
    question = "dueling dqn vs double dqn: what is different?"
    dueling = ["The dueling head splits into a value stream and an advantage stream.",
               "The streams are recombined, so the algorithm (DQN, Double DQN) is unchanged."]
    double = "Double DQN selects the next action with the online network and evaluates it with the target."
    hits = [FakeHit("Dueling DQN", " ".join(dueling)), FakeHit("Double DQN", double)]
    table = {**{t: [1.0, 0.0] for t in dueling}, double: [0.3, 0.95], "Dueling DQN": [1.0, 0.0],
             "Double DQN": [0.3, 0.95]}
    embed = lambda texts: np.array([table[t] for t in texts], np.float32)  # noqa: E731
    ev = build_evidence(question, hits, embed=embed, query_vector=np.array([1.0, 0.0], np.float32),
                        count_tokens=words, budget=60,  # each thing is asked about without the other
                        embed_query=lambda q: np.array([0.0, 1.0] if "double" in q else [1.0, 0.0], np.float32))
    assert {(side, said[1]) for side, _, said in ev.sides} == {("dueling dqn", dueling[0]), ("double dqn", double)}
    # a sentence that names a thing in passing does not say what it is
    from copilot.evidence import speaks_of

    assert speaks_of(double, "double dqn", "dueling dqn") and not speaks_of(dueling[1], "double dqn", "dueling dqn")
    # the first of the two a sentence names is its subject
    assert not speaks_of("Dueling DQN keeps Double DQN's settings.", "double dqn", "dueling dqn")


def test_a_question_asking_for_a_formula_meets_the_sentence_that_writes_it_out():
    prose_weights = "Prioritized sampling biases the updates, so importance weights correct it."
    formula = "Importance weight: `w_i = (N * P(i))^(-beta) / max_j w_j`, with `N` the buffer size."
    hits = [FakeHit("Prioritized replay", f"{prose_weights} {formula}")]
    kwargs = dict(embed=no_vectors, query_vector=np.zeros(1, np.float32), count_tokens=words, budget=22)
    asked = build_evidence("prioritized replay importance weights: what's the formula?", hits, **kwargs)
    assert asked.quotes[0][1] == formula
    told = build_evidence("why does prioritized replay need importance weights?", hits, **kwargs)
    assert told.quotes[0][1] == prose_weights


def test_a_flag_the_question_names_is_a_rare_word_of_its_own():
    flag = "`--evals 0` turns pruning off for the runs."
    other = "The evals of the runs happen during training, four evals per run."
    hits = [FakeHit("Tuning", f"{other} {flag}")]
    ev = build_evidence("what happens with --evals 0 for the runs?", hits, embed=no_vectors,
                        query_vector=np.zeros(1, np.float32), count_tokens=words, budget=12)
    assert ev.quotes[0][1] == flag


def test_a_sentence_naming_td_learning_is_not_about_another_method():
    special = "Special cases: `lambda = 0` gives the one-step TD advantage; `lambda = 1` the return minus V."
    hits = [FakeHit("PPO config", "PPO's `gae_lambda` defaults to 0.95 in rlcore."),
            FakeHit("Generalized Advantage Estimation (GAE) > special cases", special)]
    ev = build_evidence("seeing gae_lambda in my PPO config: what does the advantage become at lambda=0?", hits,
                        embed=no_vectors, query_vector=np.zeros(1, np.float32), count_tokens=words, budget=80)
    assert special not in ev.elsewhere and any(special in q for _, q in ev.quotes)


def test_a_names_initial_does_not_end_a_sentence_but_a_letter_that_ends_one_does():
    assert split_units("Marc G. Bellemare, Sriram Srinivasan. NeurIPS 2016.") == [
        "Marc G. Bellemare, Sriram Srinivasan.", "NeurIPS 2016."]
    assert split_units("DrQ stands for Data-regularized Q. A concurrent paper is RAD.") == [
        "DrQ stands for Data-regularized Q.", "A concurrent paper is RAD."]


def test_a_later_part_is_answered_from_a_source_on_what_the_first_part_names():
    from copilot.evidence import later_part

    question = "can I get ONNX out of a run, and where is the file written?"
    onnx = "The ONNX export writes the file as policy.onnx in the run folder."
    c_header = "The default file written is policy.h in the run folder."
    hits = [FakeHit("Exporting to ONNX", "ONNX export runs without rlcore. " + onnx),
            FakeHit("C export > what it writes", c_header)]
    table = {"ONNX export runs without rlcore.": [1.0, 0.0], onnx: [0.6, 0.8], c_header: [0.0, 1.0],
             "Exporting to ONNX": [1.0, 0.0], "C export > what it writes": [0.0, 1.0]}
    embed = lambda texts: np.array([table[t] for t in texts], np.float32)  # noqa: E731
    later = {later_part(question): np.array([0.0, 1.0], np.float32)}
    ev = build_evidence(question, hits, embed=embed, query_vector=np.array([1.0, 0.0], np.float32),
                        count_tokens=words, budget=80, embed_query=later.__getitem__)
    assert [text for _, text in ev.later] == [onnx]  # not the closer sentence on the C export


def test_a_source_is_on_the_first_parts_topic_when_it_names_what_that_part_names():
    from copilot.evidence import on_first_topic

    question = "can I get ONNX out of a run, and where is the file written?"
    assert on_first_topic(question, "Exporting to ONNX: the file is policy.onnx.")
    assert not on_first_topic(question, "C export: the default file is policy.h.")
    assert on_first_topic("what is observation normalisation, and when should I use it?", "Anything at all.")


def test_a_short_sentence_that_counts_what_follows_is_quoted_with_what_it_counts():
    lead = "Two flags play different roles."
    ends = "`terminated` removes the bootstrap of the next value."
    stops = "Any episode end stops the accumulation across the boundary."
    other = "GAE values go stale as the critic changes during several epochs, which is accepted in practice."
    hits = [FakeHit("GAE: the recursion", " ".join([lead, ends, stops])), FakeHit("GAE: pitfalls", other)]
    table = {lead: [1.0, 0.0], ends: [0.1, 1.0], stops: [0.1, 1.0], other: [0.6, 0.8],
             "GAE: the recursion": [0.0, 1.0], "GAE: pitfalls": [0.0, 1.0]}
    embed = lambda texts: np.array([table[t] for t in texts], np.float32)  # noqa: E731
    question = "why does GAE need two flags, terminated and done?"
    ev = build_evidence(question, hits, embed=embed, query_vector=np.array([1.0, 0.0], np.float32),
                        count_tokens=words, budget=60)
    assert (1, " ".join([lead, ends, stops])) in ev.quotes  # the two sentences it counts come with it
    assert any(stops in text for _, text in ev.blocks)
    # a short sentence that counts nothing is quoted as it stands
    from copilot.evidence import Unit, _counted
    by_place = {(0, 0): Unit(0, 0, "Flags play roles."), (0, 1): Unit(0, 1, ends)}
    assert _counted(by_place[(0, 0)], by_place) == []
    by_place[(0, 0)] = Unit(0, 0, lead)
    assert _counted(by_place[(0, 0)], by_place) == []  # the source does not go on with two sentences


def test_an_acronym_in_the_plural_is_as_generic_as_in_the_singular():
    from copilot.evidence import entity_terms, others_named

    entities = entity_terms("2x64 mlp PPO on CartPole is slower on CUDA than on CPU. is my GPU broken?")
    assert not others_named("For the small MLPs of classic control, a CPU is as fast as a GPU.", entities)
    assert others_named("PPG distils the value into the policy.", entities)


def test_a_table_row_keyed_by_another_agent_speaks_of_that_agent():
    hits = [FakeHit("Distributions > Which distributions fit which agent",
                    "SAC's actions are squashed.\n\n| agent | Box actions |\n| --- | --- |\n"
                    "| `sac` | `squashed_gaussian` or `truncated_normal` |\n"),
            FakeHit("PPG agent > PPG parts", "- distribution: `categorical` or `diag_gaussian`; other distributions are "
                    "refused because the cloning term needs a closed-form KL;")]
    evidence = _evidence("can the PPG agent use squashed_gaussian as its distribution?", hits, budget=80)
    assert "`sac`: box actions `squashed_gaussian` or `truncated_normal`." in evidence.elsewhere


def test_the_function_a_user_reports_refusing_their_input_is_told_apart_from_what_they_ask_about():
    from copilot.evidence import REFUSER

    assert REFUSER.findall("my Tuple space: make_agent refuses it with a one line error") == ["make_agent"]
    assert REFUSER.findall("`make_env()` raises ValueError on my id; and agent.set_parts fails too") == [
        "make_env", "set_parts"]
    assert REFUSER.findall("what does make_agent do with n_steps?") == []


def test_a_plea_for_help_after_the_question_is_no_part_of_its_own():
    from copilot.evidence import later_part

    assert later_part("which agent takes tuple actions?? or what am i supposed to do") == ""
    assert later_part("why does make_agent refuse my env? any ideas?") == ""
    assert later_part("what is PPG's auxiliary phase? whats the downside?") == "whats the downside? (PPG)" or \
        later_part("what is PPG's auxiliary phase? whats the downside?").startswith("whats the downside?")
