"""Sentence support: kept, replaced by the source sentence it garbled, or dropped; numbers
checked token by token; answers declined or kept in the question's language.

The unit tests use a bag-of-words embedder to isolate the checker from MiniLM; the chat
tests at the end run the real embedder and index over a small corpus."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from copilot.chat import Copilot
from copilot.config import Settings
from copilot.grounding import (GARBLED, SUPPORTED, Grounder, SourceSentence, check_answer, choose_extract,
                               complete_sentences, decline, numbers, restore_case, split_answer, strip_citations,
                               swaps_roles, unknown_subject)
from copilot.ingest import ingest
from fake_llm import FakeLLM

SOURCES = [
    SourceSentence(1, "The clip range bounds the probability ratio between the new and the old policy."),
    SourceSentence(1, "PPO uses a clip range of 0.2 by default."),
    SourceSentence(2, "The gradient norm is clipped to max_grad_norm, 0.5 by default."),
]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """Unit vectors of hashed words: cosine is word overlap, enough to isolate the checker."""
    out = np.zeros((len(texts), 64), np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(".", " ").replace(",", " ").split():
            out[i, zlib.crc32(word.encode()) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def grounder() -> Grounder:
    return Grounder(SOURCES, bag_of_words)


def test_a_sentence_a_source_states_is_kept_and_its_citation_corrected():
    s = grounder().check("The clip range bounds the probability ratio between the new and old policy [2].")
    assert s.action == "kept" and s.source == 1 and s.score >= SUPPORTED


def test_a_kept_list_item_is_shown_as_a_sentence_without_its_marker():
    s = grounder().check("- The clip range bounds the probability ratio between the new and old policy.")
    assert s.action == "kept" and s.sentence.startswith("The clip range")


def test_a_garbled_sentence_is_replaced_by_the_source_sentence_it_garbled():
    said = "The clip range bounds the gradient of the value loss between the new and the old policy [1]."
    s = grounder().check(said)
    assert s.action == "replaced" and s.source == 1 and s.said.startswith("The clip range bounds the gradient")
    assert s.sentence == SOURCES[0].text


def test_a_number_no_source_states_is_not_kept():
    s = grounder().check("PPO uses a clip range of 0.5 by default [1].")
    assert s.action == "replaced" and "0.5" not in s.sentence and s.sentence == SOURCES[1].text
    checked = check_answer("PPO uses a clip range of 0.2 by default [1]. The clip range is 0.3 [1].", grounder())
    assert [x.action for x in checked.checks][0] == "kept"
    assert "0.3" not in checked.text() and "0.2" in checked.text()


def test_an_unrelated_sentence_is_dropped_and_the_answer_cites_each_sentence():
    checked = check_answer("The clip range bounds the probability ratio between the new and the old policy [1]. "
                           "Bananas are yellow and sweet.", grounder())
    assert [x.action for x in checked.checks] == ["kept", "dropped"]
    assert checked.checks[1].score < GARBLED
    assert checked.text().endswith("[1]") and "Bananas" not in checked.text()


def test_a_sentence_that_swaps_two_terms_of_the_question_is_not_kept():
    g = Grounder([SourceSentence(1, "Truncated means the episode was cut off by a time limit, not by the task.")],
                 bag_of_words, question="What is the difference between terminated and truncated?")
    s = g.check("Terminated means the episode was cut off by a time limit, not by the task [1].")
    assert s.action == "replaced" and s.sentence.startswith("Truncated means")
    assert g.check("Truncated means the episode was cut off by a time limit [1].").action == "kept"


def test_a_sentence_that_says_of_the_questions_topic_what_its_source_says_of_another_is_not_kept():
    source = "Intrinsic rewards add a bonus for novel or surprising experience so the agent learns early."
    g = Grounder([SourceSentence(1, source)], bag_of_words, {1: "[1] Exploration bonuses\n" + source},
                 question="What is reward shaping?")
    s = g.check("Reward shaping adds a bonus for novel or surprising experience so the agent learns early [1].")
    assert s.action == "replaced" and s.sentence == source
    # the topic named by the source's title is not borrowed
    g = Grounder([SourceSentence(1, "It adds a bonus for novel experience so the agent learns early.")], bag_of_words,
                 {1: "[1] What does reward shaping do?\nIt adds a bonus for novel experience so the agent learns early."},
                 question="What is reward shaping?")
    assert g.check("Reward shaping adds a bonus for novel experience so the agent learns early [1].").action == "kept"
    # a title naming two topics does not let a sentence about one be said of the other
    source = "Observation normalisation helps most where components have very different scales."
    g = Grounder([SourceSentence(1, source)], bag_of_words,
                 {1: "[1] Normalising observations and rewards\n" + source}, question="Why normalise rewards?")
    assert g.check("Reward normalisation helps most where components have very different scales [1].").action \
        == "replaced"


def test_a_copied_api_signature_line_is_not_an_answer_sentence():
    line = "rlcore.agents.base.Agent (class) Agent(env, config, seed, device) Shared agent plumbing."
    g = Grounder([SourceSentence(1, line)], bag_of_words)
    assert g.check(line + " [1]").action == "dropped"


def test_numbers_are_read_token_by_token_and_citations_stripped():
    assert numbers("lr 3e-4, gamma 0.99 and 1,000 steps [2]") == {repr(3e-4), repr(0.99), repr(1.0), repr(0.0)}
    assert numbers("TD3 and conv2d layers") == set()
    assert strip_citations("It is clipped [1] [3].") == ("It is clipped.", [1, 3])


def test_sentences_and_code_blocks_are_regrouped_from_streamed_pieces():
    pieces = ["The ratio is ", "clipped [1]. Then", " the value is fit. ```py", "thon\nx = 1.\n```", " Cut off mid"]
    assert list(complete_sentences(iter(pieces))) == ["The ratio is clipped [1].", "Then the value is fit.",
                                                      "```python\nx = 1.\n```"]
    assert split_answer("第一句。第二句。") == ["第一句。", "第二句。"]
    # an answer cut off inside a code block (the token limit) does not end with its first lines
    cut = ["Use this code:\n\n```python\n", "from rlcore import make_agent\n"]
    assert list(complete_sentences(iter(cut))) == ["Use this code:"]
    # ... or inside an inline code span
    assert list(complete_sentences(iter(["It writes `run.json`. It adds `N` to `total_steps` in `"]))) == [
        "It writes `run.json`."]
    cut_code = ["It is `lr`. `kwargs` take ``seed``, ``device``, ``"]
    assert list(complete_sentences(iter(cut_code))) == ["It is `lr`."]


def test_a_definition_leads_when_the_question_asks_what_something_is():
    quotes = [(1, "PPO is often used on Atari games with many parallel workers."),
              (2, "The clip range bounds the probability ratio between the new and the old policy.")]
    chosen = choose_extract("What is the clip range?", quotes)
    assert chosen[0][0] == 2 and len(chosen) == 2
    assert choose_extract("How fast is PPO?", quotes)[0][0] == 1


def test_a_sentence_about_the_topics_attribute_does_not_lead_as_its_definition():
    from copilot.grounding import source_first

    quotes = [(1, "V-trace's `lambda` (in `c_i`) is an extra knob some implementations omit."),
              (1, "V-trace is the off-policy correction that makes learning from lagging actors safe.")]
    assert source_first("What is V-trace in IMPALA?", quotes) is None
    assert source_first("What is V-trace in IMPALA?", quotes[1:]).sentence.startswith("V-trace is")
    # a short sentence leads in to what follows it rather than answering
    assert source_first("How does NGU combine episodic and lifelong novelty?",
                        [(1, "NGU combines two novelty signals.")]) is None


def test_a_chinese_sentence_cannot_be_checked_against_english_sources():
    assert grounder().check("裁剪范围限制了概率比 [1]。").action == "dropped"
    assert "不涵盖" in decline("今天巴黎天气如何？") and "not cover" in decline("How do I bake bread?")


# ----- through the chat, with the real embedder and index ------------------------------------
CORPUS = {
    "ppo.md": "# PPO\n\n## Clipping\n\nThe clip range bounds the probability ratio between the new and the old "
              "policy, so one update cannot move the policy far. PPO uses a clip range of 0.2 by default.\n",
    "replay.md": "# Experience replay\n\n## Replay buffer\n\nExperience replay stores past transitions in a "
                 "replay buffer and trains on random minibatches drawn from it.\n",
}


def ScriptedLLM(answer: str) -> FakeLLM:  # noqa: N802 - stands where a class stood
    """Says a fixed answer (with a wrong default value) and records whether it was asked."""
    return FakeLLM(answer, name="scripted", n_ctx=2048, split="words")


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("grounding-home")
    docs = home / "docs"
    docs.mkdir()
    for name, text in CORPUS.items():
        (docs / name).write_text(text)
    s = Settings(home=home, corpus=[str(docs)])
    ingest([str(docs)], s, progress=False)
    return s


def test_the_checked_answer_drops_a_wrong_default_and_reports_support(settings):
    llm = ScriptedLLM("The clip range bounds the probability ratio between the new and the old policy [1]. "
                      "The clip range is 0.5 by default [1].")
    answer = Copilot(settings, llm=llm).ask("What does the clip range of PPO control?", k=2)
    assert "0.5" not in answer.answer and "probability ratio" in answer.answer
    assert answer.support and all(s.source is not None and s.score >= SUPPORTED for s in answer.support)
    assert answer.to_json()["support"][0].keys() == {"sentence", "source", "score"}
    assert all(f"[{s.source}]" in answer.answer for s in answer.support)


def test_an_off_topic_question_is_declined_without_asking_the_model(settings):
    llm = ScriptedLLM("Paris is the capital of France [1].")
    for question in ("What is the capital of France?", "How do I bake bread?"):
        answer = Copilot(settings, llm=llm).ask(question, k=2)
        assert answer.answer.startswith("The docs I have do not cover") and not answer.sources
    assert llm.asked == 0


def test_a_chinese_question_gets_a_chinese_answer_quoting_the_sources(settings):
    llm = ScriptedLLM("经验回放存储过去的转移 [1]。")
    answer = Copilot(settings, llm=llm).ask("什么是经验回放？", k=2)
    assert answer.answer.startswith("文档中的相关原文") and "“Experience replay stores past transitions" in answer.answer
    assert answer.sources and answer.sources[0].path.endswith("replay.md") and llm.asked == 0


def test_key_terms_are_acronyms_names_and_identifiers_and_missing_ones_are_found():
    from copilot.grounding import key_terms, missing_terms

    assert key_terms("How does AlphaZero's search compare to PPO and n_steps in TD3?") == [
        "AlphaZero", "PPO", "n_steps", "TD3"]
    assert key_terms("What is the discount factor?") == []
    assert key_terms("SAC中的温度参数alpha有什么作用？") == ["SAC"]
    docs = ["TD3 adds clipped noise; DQNs keep a replay buffer.", "PPO uses n_steps per rollout."]
    assert missing_terms("Does rlcore implement RLHF for DQN?", docs) == ["RLHF"]
    assert missing_terms("Which DQNs and PPO settings does TD3 share?", docs) == []
    assert "RLHF" in decline("Does rlcore implement RLHF?", ["RLHF"])


def test_an_acronym_plural_and_a_symbol_written_with_an_underscore_are_not_missing():
    from copilot.grounding import missing_terms, passing_terms

    docs = ["Curiosity is drawn to a noisy TV.", "The actor maximises `mean(Q_1(s, mu(s)))`."]
    assert missing_terms("ICM gets hooked on noisy TVs, why?", docs) == ["ICM"]
    assert passing_terms("ICM gets hooked on noisy TVs, why?", ["ICM"], docs) == []
    # Q1 is the docs' `Q_1`; Q2, a letter and a number, is the user's notation, not a name
    assert missing_terms("Is the actor trained on min(Q1, Q2)?", docs) == []
    assert missing_terms("Is RLHF trained on min(Q1, Q2)?", docs) == ["RLHF"]
    assert missing_terms("Draft an email: the Q3 offsite moved", docs) == ["Q3"]  # a name, not a formula's symbol


def test_the_extract_naming_most_of_the_questions_topic_leads():
    quotes = [(1, "rlcore registers PPO as ppo with a config dataclass."),
              (2, "`n_steps`; int; 128; Steps collected per env before each update of PPO.")]
    assert choose_extract("How large should n_steps be for PPO?", quotes)[0][0] == 2
    assert choose_extract("How is PPO registered in rlcore?", quotes)[0][0] == 1
    # a list of what is registered does not say what a method computes
    listed = [(1, "In rlcore all of these are registered intrinsic rewards: `rnd`, `re3` and `icm`."),
              (2, "RE3 turns state-entropy maximisation into an intrinsic reward without extra training.")]
    assert choose_extract("What does the RE3 intrinsic reward compute?", listed)[0][0] == 2
    assert choose_extract("Which intrinsic rewards are registered in rlcore?", listed)[0][0] == 1


def test_a_cause_no_source_states_is_not_kept():
    source = SourceSentence(1, "DQN computes the Double DQN target by default with the online and target networks.")
    g = Grounder([source], bag_of_words)
    s = g.check("DQN uses target networks because it computes the Double DQN target by default [1].")
    assert s.action != "kept" and "because" not in s.sentence
    with_reason = SourceSentence(1, "The target network is held fixed, so the regression target does not move.")
    kept = Grounder([with_reason], bag_of_words).check(
        "The target network is held fixed so that the regression target does not move [1].")
    assert kept.action == "kept"


def test_a_comparison_no_source_makes_is_not_kept():
    source = SourceSentence(1, "The impala_cnn encoder is used for image observations with three residual stages.")
    g = Grounder([source], bag_of_words)
    s = g.check("The impala_cnn encoder is used for image observations, and it is more efficient than nature_cnn [1].")
    assert s.action != "kept" and "efficient than" not in s.sentence
    assert g.check("The impala_cnn encoder is used for image observations [1].").action == "kept"
    compared = SourceSentence(1, "TD3 is a bit faster per update than SAC (no log-probabilities).")
    assert Grounder([compared], bag_of_words).check("TD3 is a bit faster per update than SAC [1].").action == "kept"
    assert Grounder([source], bag_of_words).check(  # "rather than" ranks nothing
        "The impala_cnn encoder is used for image observations rather than vectors [1].").action != "dropped"


def test_a_cause_must_be_the_one_the_source_gives():
    source = SourceSentence(1, "DQN already has two networks, so Double DQN uses the online network to select.")
    s = Grounder([source], bag_of_words).check(
        "DQN uses two networks because it reduces the overestimation of plain DQN [1].")
    assert s.action != "kept"


def test_a_caveat_turned_into_a_reason_is_not_kept():
    source = SourceSentence(1, "With a single task, the stratified bootstrap reduces to the ordinary bootstrap over runs.")
    s = Grounder([source], bag_of_words).check(
        "Because the stratified bootstrap reduces to the ordinary bootstrap over runs [1].")
    assert s.action != "kept"


def test_an_echo_of_the_instructions_is_cut_from_a_sentence():
    from copilot.grounding import strip_citations

    assert strip_citations("The direct answer is: the clip range bounds the ratio [1].") == (
        "The clip range bounds the ratio.", [1])
    assert strip_citations("The answer to this depends on `gamma` [2].")[0] == "The answer to this depends on `gamma`."


def test_a_sentence_that_loops_is_not_kept():
    from copilot.grounding import stutters

    said = ("PPO uses one gradient step per short rollout, which is better than one gradient step per "
            "short rollout [1].")
    assert stutters(said) and not stutters(SOURCES[0].text)
    source = SourceSentence(1, "A2C takes one gradient step per short rollout; PPO reuses each rollout for "
                               "several epochs, so it is more sample-efficient.")
    assert Grounder([source], bag_of_words).check(said).action != "kept"


def test_a_does_it_support_question_is_declined_when_no_source_names_the_feature():
    from copilot.grounding import unmentioned_feature

    texts = ["rlcore trains agents with PyTorch. The multi_input encoder takes dict observations for agents.",
             "Image observations go through a convolutional encoder."]
    assert unmentioned_feature("Does rlcore support multi-agent reinforcement learning?", texts) == [
        "multi-agent reinforcement learning"]
    assert unmentioned_feature("Does rlcore have recurrent policies?", texts) == ["recurrent policies"]
    assert unmentioned_feature("Does rlcore support image observations?", texts) == []
    assert unmentioned_feature("Does rlcore support dict observations?", texts) == []
    assert unmentioned_feature("What is a recurrent policy?", texts) == []  # not a yes/no support question
    # "can rlcore <do> X?" asks the same of what follows the verb; a bracketed alias is another name
    logs = ["Every run writes progress.csv and TensorBoard event files to tb/."]
    assert unmentioned_feature("can rlcore log my training runs to weights & biases (wandb)?", logs) == ["wandb"]
    assert unmentioned_feature("Can rlcore log to TensorBoard?", logs) == []
    assert unmentioned_feature("Can rlcore log to a dashboard (TensorBoard)?", logs) == []
    assert unmentioned_feature("Can rlcore be installed with pip?", logs) == []  # "be": not a feature


def test_a_sentence_that_trades_what_its_source_says_of_two_things_is_not_kept():
    source = ("A truncated episode therefore bootstraps from its true final observation, and an episode "
              "that terminated never does.")
    g = Grounder([SourceSentence(1, source)], bag_of_words,
                 question="Terminated vs truncated: why does it matter for bootstrapping?")
    s = g.check("Terminated episodes bootstrap from their true final observation, while truncated episodes never do [1].")
    assert s.action != "kept"
    assert g.check("A truncated episode bootstraps from its true final observation, while a terminated "
                   "episode never does [1].").action == "kept"
    # the same two things in the source's roles, in another order, are not a swap
    assert not swaps_roles("An episode that terminated never bootstraps, while a truncated episode bootstraps "
                           "from its true final observation.", source)


def test_the_source_sentence_is_shown_first_only_when_it_has_the_answers_shape():
    from copilot.grounding import source_first

    reason = (1, "The target network is held fixed between copies, so the regression target does not move.")
    assert source_first("Why does DQN use a target network?", [reason]).sentence == reason[1]
    assert source_first("Why does DQN use a target network?",
                            [(1, "The target network is copied every 10,000 steps in DQN.")]) is None
    steps = (2, "To change an agent's encoder, call `agent.set(encoder=KEY)` before training.")
    assert source_first("How do I change the encoder of an agent?", [steps]).source == 2
    assert source_first("How do I change the encoder of an agent?",
                            [(1, "Encoders turn observations into features for the agent.")]) is None
    assert source_first("What is a replay buffer?",
                            [(1, "A replay buffer stores past transitions for later updates.")]) is not None
    assert source_first("经验回放是什么？", [(1, "Experience replay stores past transitions.")]) is None


def test_the_source_marker_of_a_sentence_with_its_example_goes_below_the_code_fence():
    from copilot.grounding import Support, cited

    assert cited(Support("To resume, call `train`:\n```python\nagent.train(10)\n```", 2, 1.0, "quoted")) == \
        "To resume, call `train`:\n```python\nagent.train(10)\n```\n[2]"
    assert cited(Support("A plain sentence.", 1, 1.0)) == "A plain sentence. [1]"


def test_a_name_the_sources_mention_only_in_brackets_is_not_covered():
    from copilot.grounding import decline, passing_terms

    titles = ["RE3 > results", "Replay > buffer size"]
    texts = ["RE3 helped model-free (RAD) and model-based (Dreamer) learners on DeepMind Control.",
             "The buffer keeps how much old experience DQN keeps."]
    assert passing_terms("How does Dreamer learn a world model?", titles, texts) == [("Dreamer", 1)]
    assert passing_terms("What is the capital of France?", titles, texts) == [("France", 0)]
    assert passing_terms("How does RE3 compute its bonus?", titles, texts) == []  # a title names it
    assert passing_terms("What does the replay buffer of DQN keep?", titles, texts) == []  # said outright
    # a name a page of the docs is about is documented, wherever these sources only list it
    assert passing_terms("How does Dreamer learn a world model?", titles, texts, {"Dreamer"}.__contains__) == []
    # a name in a call's brackets is used, not mentioned in passing
    code = ['Atari > preprocessing', 'Training returns are per-life sums.\n```python\nenv = make_env("ALE/Pong-v5")\n```',
            'Call `make_env("ALE/Pong-v5")` to train.']
    assert passing_terms("Training on ALE/Pong-v5: why are returns tiny?", code[:1], code[1:2]) == []
    assert passing_terms("Training on ALE/Pong-v5: why are returns tiny?", code[:1], code[2:]) == []
    # an acronym joined to a plain word names the acronym's thing, as the docs say it
    from copilot.grounding import missing_terms
    assert missing_terms("my run got OOM-killed: how big is the buffer?", ["the buffer's memory"]) == []
    assert missing_terms("is QMIX-style mixing in rlcore?", ["the buffer's memory"]) == ["QMIX-style"]
    assert decline("How does Dreamer learn a world model?", ["Dreamer"], in_passing=True).endswith(
        "the sources found mention Dreamer only in passing.")


def test_keywords_without_a_question_get_the_source_sentence_that_names_them_at_once():
    from copilot.grounding import source_first

    ring = (1, "`ReplayStorage` (`replay`) is a preallocated ring buffer of transitions.")
    assert source_first("ReplayStorage", [ring]).sentence == ring[1]
    assert source_first("GAE lambda", [(2, "GAE's lambda trades bias against variance.")]).source == 2
    assert source_first("GAE lambda", [(2, "Advantages are normalised per minibatch.")]) is None


def test_a_quoted_source_sentence_in_a_chinese_answer_keeps_its_example_outside_the_quotes():
    from copilot.grounding import cited, quoted

    s = quoted("如何恢复训练？", 1, "To resume, call `train`:\n```python\nagent.train(10)\n```")
    assert cited(s) == "“To resume, call `train`:”\n```python\nagent.train(10)\n```\n[1]"
    assert quoted("什么是经验回放？", 2, "Replay keeps old transitions.").sentence == "“Replay keeps old transitions.”"


def test_a_list_item_going_on_from_its_lead_in_is_shown_as_a_sentence_of_its_own():
    from copilot.grounding import quoted

    item = "- with more than one environment, normalises scores per environment to `[0, 1]`;"
    assert quoted("how are scores normalised?", 1, item).sentence == (
        "With more than one environment, normalises scores per environment to `[0, 1]`.")
    # a name the docs write in lower case stays so, and a sentence is left as written
    assert quoted("what is rlcore?", 1, "- rlcore trains agents fast;").sentence == "rlcore trains agents fast;"
    assert quoted("what is tau?", 1, "- tau (float, default 1.0): the target rate.").sentence == (
        "tau (float, default 1.0): the target rate.")
    assert quoted("what is it?", 1, "with it, scores lie in [0, 1];").sentence == "with it, scores lie in [0, 1];"


def test_a_piece_cut_from_a_source_sentence_that_points_to_the_rest_is_shown_whole():
    source = ("Because the actors lag behind the learner, the data are off-policy; V-trace is the "
              "off-policy correction that makes this safe.")
    g = Grounder([SourceSentence(1, source)], bag_of_words, question="What is V-trace?")
    s = g.check("V-trace is the off-policy correction that makes this safe [1].")
    assert s.action == "replaced" and s.sentence == source
    whole = "V-trace is the off-policy correction for data from lagging actors."
    g = Grounder([SourceSentence(1, whole)], bag_of_words, question="What is V-trace?")
    assert g.check("V-trace is the off-policy correction for data from lagging actors [1].").action == "kept"


def test_a_sentence_that_defines_a_thing_by_itself_is_not_kept():
    source = ("ICM predicts in a learned feature space that is trained by an inverse dynamics model: given the "
              "features of two states, predict the action.")
    g = Grounder([SourceSentence(1, source)], bag_of_words, question="What is the inverse dynamics model in ICM for?")
    said = "The inverse dynamics model in ICM is a learned feature space trained by an inverse dynamics model [1]."
    assert g.check(said).action != "kept"
    assert g.check("ICM predicts in a learned feature space that is trained by an inverse dynamics model [1]."
                   ).action == "kept"
    from copilot.grounding import circular
    assert circular("The target entropy `-dim(A)` is learned as `-dim(A)`, the main reason to auto-tune.")
    assert not circular("The target entropy is `-dim(A)` by default.")


def test_a_second_evidence_sentence_follows_only_from_the_same_source_or_on_the_topic():
    from copilot.grounding import Support, follows_on

    q = "Why does SAC use two Q functions?"
    first = Support("SAC uses two Q-networks (twin critics) to curb overestimation.", 1, 1.0, "quoted")
    assert not follows_on(q, first, 2, "The action-value function `Q(s, a)` is the expected return after taking `a`.")
    assert follows_on(q, first, 1, "Taking the minimum of the two critics keeps the actor from exploiting errors.")
    assert follows_on(q, first, 2, "SAC's two Q functions are trained on the same target.")
    # "Both ..." speaks of what its own page named last, not of the answer's subject
    images = Support("Three convolutional encoders take image observations: `nature_cnn` and two more.", 1, 1.0)
    assert not follows_on("Which encoders take images?", images, 2, "Both encoders take images of a Box space.")


def test_the_next_sentence_of_a_one_sentence_answer_is_the_best_that_follows_on():
    from copilot.grounding import Support, next_sentence

    q = "What does RND use as its exploration bonus?"
    shown = [Support("rlcore registers RND as the intrinsic reward `rnd`.", 1, 1.0, "quoted")]
    candidates = [(2, "The action-value function is the expected return after an action."),
                  (3, "RND rewards the agent for visiting observations a learned predictor cannot predict well."),
                  (1, "The reward is normalised by a running estimate of its standard deviation.")]
    assert next_sentence(q, shown, candidates) == candidates[1]  # names RND, as the question does
    assert next_sentence(q, shown, candidates[:1]) is None
    assert next_sentence(q, shown, candidates[:1], similarity=lambda text: 0.7) == candidates[0]  # close in meaning
    assert next_sentence(q, shown, [candidates[0], candidates[2]]) == candidates[2]  # the same source


def test_a_how_to_answer_may_go_on_with_a_step_from_another_source():
    from copilot.grounding import Support, follows_on

    q = "How do I write my own Gymnasium environment and train on it?"
    first = Support("rlcore trains on any environment registered with Gymnasium.", 1, 1.0, "quoted")
    assert follows_on(q, first, 2, "Register it with Gymnasium, then pass its id to `make_env` or `make_agent`.")
    assert not follows_on("What is a Gymnasium environment?", first, 2,
                          "Register it with Gymnasium, then pass its id to `make_env` or `make_agent`.")
    # a sentence opening with "It" follows only from its own source
    assert not follows_on(q, first, 2, "It is part of rlcore: `python -m rlcore sweep` on the command line.")


def test_where_a_method_is_registered_is_no_definition_of_it():
    q = "What does the RE3 intrinsic reward compute?"
    quotes = [(1, "RE3 turns state-entropy maximisation into an intrinsic reward that needs no extra training."),
              (2, "rlcore registers RE3 as the intrinsic reward `re3` (`rlcore/rewards/re3.py`).")]
    assert choose_extract(q, quotes)[0] == quotes[0]
    assert choose_extract(q, quotes[::-1])[0] == quotes[0]


def test_a_sentence_cut_before_its_point_is_dropped():
    g = Grounder([SourceSentence(1, "So the TD target is the reward plus the discounted value of the next state.")],
                 bag_of_words)
    assert g.check("So the TD target is [1].").action == "dropped"
    assert g.check("So the TD target is the reward plus the discounted value of the next state [1].").action == "kept"
    # a lead-in the source holds word for word still introduces what the answer never shows
    g = Grounder([SourceSentence(1, "From the CLI:")], bag_of_words)
    assert g.check("From the CLI: [1]").action == "dropped"


def test_a_sentence_that_opens_with_the_other_of_two_compared_things_is_not_kept():
    source = ("`truncated` means the episode was cut off by a time limit, and its value is estimated as usual; "
              "the target is `r` if terminated.")
    g = Grounder([SourceSentence(1, source)], bag_of_words,
                 question="What is the difference between terminated and truncated?")
    said = ("Terminated means the episode was cut off by a time limit, and its value is estimated as usual; "
            "the target is `r` if terminated [1].")
    assert g.check(said).action != "kept"
    assert g.check("Truncated means the episode was cut off by a time limit, and its value is estimated as "
                   "usual [1].").action == "kept"
    # a question comparing nothing: the opening word is free
    g = Grounder([SourceSentence(1, source)], bag_of_words, question="When is an episode truncated?")
    assert g.check("The episode is truncated when cut off by a time limit, and its value is estimated as "
                   "usual [1].").action == "kept"


@pytest.mark.parametrize("sources, question, said", [
    (["rlcore registers RE3 as the intrinsic reward `re3` in its rewards registry.",  # where it lives
      "RE3 turns state-entropy maximisation into an intrinsic reward without training."],
     "What does the RE3 intrinsic reward compute?", "RE3 computes an intrinsic reward from the rewards registry of rlcore."),
    (["It fits PPO and A2C instead of the squashed Gaussian, which needs clipping.",  # "it" is another subject
      "The squashed Gaussian is a Gaussian squashed by tanh, as in SAC."],
     "What is the squashed Gaussian used by SAC?", "The squashed Gaussian fits PPO and A2C, which needs clipping."),
])
def test_a_garbled_sentence_is_not_replaced_by_a_sentence_that_says_nothing_of_the_topic(sources, question, said):
    g = Grounder([SourceSentence(n, text) for n, text in enumerate(sources, 1)], bag_of_words, question=question)
    assert g.scores(said)[0] >= GARBLED
    assert g.garbled(said, []) != 0


def test_a_sentence_opening_with_it_under_a_heading_naming_the_topic_may_replace_a_garbled_one():
    text = "It adds the entropy bonus to the objective, which keeps the policy exploring."
    g = Grounder([SourceSentence(1, text)], bag_of_words,
                 {1: "[1] FAQ > What does the entropy coefficient do?\n" + text},
                 question="What does the entropy coefficient do?")
    assert g.garbled("The entropy coefficient adds a bonus to the policy objective for exploring.", []) == 0


def test_a_lower_case_subject_the_corpus_never_uses_is_found():
    known = {"experience", "replay", "goals", "target", "network", "purpose", "explore", "option", "critic",
             "noisy", "problem", "buffer", "dqn", "plan"}
    texts = ["Go explore the state space; the critic of an option ..."]
    assert unknown_subject("how does hindsight experience replay relabel the goals?", known.__contains__,
                           texts) == ["hindsight"]
    assert unknown_subject("What does the clip range of PPO control?", known.__contains__, texts) == []
    assert unknown_subject("hindsight experience replay - how do i use it?", known.__contains__, texts) == ["hindsight"]
    assert unknown_subject("biggish question: how much memory does replay take?", known.__contains__,
                           texts) == []
    assert unknown_subject("hindsight experience replay with the 'future' strategy - how are goals relabeled?",
                           known.__contains__, texts) == ["hindsight"]
    assert unknown_subject("what is go-explore and how does it work?", known.__contains__, []) == ["go-explore"]
    assert unknown_subject("what is go-explore?", known.__contains__, texts) == []  # "Go explore" is there
    # what frames a question is not its subject; names are missing_terms' business
    assert unknown_subject("What is the purpose of the target network in DQN?", lambda w: w != "purpose", texts) == []
    assert unknown_subject("what's the noisy TV problem?", known.__contains__, texts) == []
    assert unknown_subject("How does Dreamer plan?", known.__contains__, texts) == []
    assert unknown_subject("my smallish replay buffer overfits, why?", known.__contains__, texts) == []
    assert unknown_subject("ballpark RAM question: how big is the buffer?", known.__contains__, texts) == []
    assert unknown_subject("what's the intuition behind RE3?", known.__contains__, texts) == []
    # a heading that says what kind of question follows ("weird one:", "quick q:") is no subject
    assert unknown_subject("weird one: my eval return is lower than training. why?", known.__contains__, texts) == []
    assert unknown_subject("quick q: why does replay take memory?", known.__contains__, texts) == []
    # ... but a heading naming its topic before "question" is that topic
    assert unknown_subject("option-critic question: how are terminations learned?", known.__contains__,
                           []) == ["option-critic"]
    # "actual" only qualifies what frames the question; the things compared are its subject
    assert unknown_subject("whats the actual difference between random_crop and random_shift?",
                           known.__contains__, texts) == []
    assert unknown_subject("what are the actual config differences between td3 and ddpg?", known.__contains__,
                           texts) == []  # a modifier, however many words stand before "between"
    # what a how-to asks to use is its subject too
    assert unknown_subject("how do i use hindsight experience replay with sac?", known.__contains__, texts) == ["hindsight"]
    assert unknown_subject("how can I use a replay buffer with dqn?", known.__contains__, texts) == []


def test_a_name_typed_in_lower_case_is_read_as_the_sources_spell_it():
    texts = ["RND rewards novelty; `rnd` is its key. PPG's auxiliary phase distils values. V-trace corrects "
             "IMPALA's lag. TD3 adds three fixes. Pseudo-counts generalise counts; pseudo-counts need a density. "
             "Not every NOT is a name, not at all, not here."]
    assert restore_case("how does rnd work with ppg's phase and v-trace in impala, td3?", texts) == \
        "how does RND work with PPG's phase and V-trace in IMPALA, TD3?"
    # a capital that only opens a sentence, a word in its own lower case, an unknown word: unchanged
    assert restore_case("what do pseudo-counts reward? is it not the same? and hindsight?", texts) == \
        "what do pseudo-counts reward? is it not the same? and hindsight?"
    # a module in a dotted path is no lower-case spelling of the name ("rlcore.rewards.icm.ICM")
    titles = ["rlcore.rewards.icm.ICM: Curiosity ...", "rlcore.rewards.icm.DynamicsModels: ...",
              "rlcore.rewards.icm.ICM.forward_error: ...",
              "Intrinsic Curiosity Module (ICM) > ICM: how rlcore does it."]
    assert restore_case("icm in rlcore: what is the bonus?", titles) == "ICM in rlcore: what is the bonus?"
    # a text with an unpaired backtick (a code span cut off by its chunk) does not turn the code of
    # the texts after it into prose: `ppg` in code is no lower-case spelling of PPG
    cut = ["`sac`, `ppo`: squashed with log-prob (`squashed", "PPG: PPO updates (`ppg` has `ppg_actor_critic`)",
           "runs `eager (ppg has no fused kernel)`"]
    assert restore_case("two things about the ppg agent: which distribution?", cut) == (
        "two things about the PPG agent: which distribution?")


def test_words_no_chunk_holds_are_found_apart_from_typed_contractions():
    from copilot.grounding import unknown_words

    known = {"feeding", "schedule", "good", "plug", "replay", "storages", "sac", "self", "play", "combines"}
    assert unknown_words("whats a good feeding schedule for a sourdough starter?", known.__contains__) == [
        "sourdough", "starter"]
    assert unknown_words("how alphazero combines mcts with self-play", known.__contains__) == ["alphazero", "mcts"]
    assert unknown_words("which replay storages can i plug into SAC? don't", known.__contains__) == []
    # a known word negated names nothing new: "uneven" seed counts, but "unreal" stays unknown
    assert unknown_words("how does it play the uneven replay of an unreal engine?", (known | {"even"}).__contains__) == [
        "unreal", "engine"]


def test_a_tool_the_docs_never_name_as_what_the_question_asks_to_use_is_its_gap():
    from copilot.grounding import unknown_target

    assert unknown_target("How do I send training metrics to Weights & Biases (wandb)?", ["wandb"]) == ["wandb"]
    assert unknown_target("how do I run my sweep on slurm?", ["slurm"]) == ["slurm"]
    # a word of the user's own in the middle of the question, or in a long aside, is no target
    assert unknown_target("my run climbed to 400 then suddenly crashed to 50 and never recovered. why?",
                          ["suddenly", "crashed"]) == []
    assert unknown_target("RND or ICM if the agent can trigger noise (think a TV it can switch)?", ["think"]) == []


def test_a_when_question_answered_without_a_condition_gets_the_sources_advice():
    from copilot.grounding import Support, when_sentence

    shown = [Support("Observation normalisation rescales every feature to zero mean and unit variance.", 1, 1.0)]
    quotes = [(1, "When training starts the agent wraps its environments in a normaliser."),  # a time, no advice
              (2, "Turn it on when features have very different scales, says another page."),  # not cited yet
              (1, "Turn it on when observation features have very different scales.")]
    question = "What is observation normalisation and when should I turn it on?"
    assert when_sentence(question, shown, quotes) == quotes[2]
    assert when_sentence("What is observation normalisation?", shown, quotes) is None  # no "when" asked
    said = shown + [Support("It helps when features differ in scale.", 1, 1.0)]
    assert when_sentence(question, said, quotes) is None  # the answer already says when


def test_a_why_question_answered_with_what_or_how_gets_the_sources_reason():
    from copilot.grounding import Support, why_sentence

    question = "Why use a stratified bootstrap for confidence intervals?"
    shown = [Support("Confidence intervals come from the stratified bootstrap: resample runs within each task.", 1, 1.0)]
    quotes = [(1, "With a single task, the stratified bootstrap reduces to the ordinary bootstrap."),  # no reason
              (2, "Resampling within each task keeps every task's weight, so the interval is honest."),  # not cited
              (1, "Resampling within each task keeps every task's runs, so the interval reflects few runs.")]
    assert why_sentence(question, shown, quotes) == quotes[2]
    assert why_sentence("What is a stratified bootstrap?", shown, quotes) is None  # no "why" asked
    said = shown + [Support("It is used because runs are few.", 1, 1.0)]
    assert why_sentence(question, said, quotes) is None  # the answer already gives a reason


def test_a_claim_the_question_puts_forward_is_answered_with_the_sources_denial():
    from copilot.grounding import Support, denial_sentence

    question = "PPO clip_range=0.2 is the gradient clipping threshold right? so I should drop it?"
    units = [(1, "The clipping parameter controls how far one update may move the policy."),
             (1, "A smaller epsilon means smaller, safer policy steps."),
             (1, "It is not gradient clipping: `max_grad_norm` rescales the gradient's norm."),
             (2, "Gradient clipping is not the same as a trust region, and not a bound on steps.")]
    shown = [Support(units[0][1], 1, 1.0), Support(units[1][1], 1, 1.0)]
    assert denial_sentence(question, shown, units) == units[2]
    # "It" names the subject of the sentence before it: that sentence must be shown
    assert denial_sentence(question, shown[:1], units) is None
    assert denial_sentence("What does clip_range control in PPO?", shown, units) is None  # no claim put forward
    said = shown + [Support(units[2][1], 1, 1.0)]
    assert denial_sentence(question, said, units) is None  # already denied
    # what other methods do not do denies nothing said of PPO
    other = Support("The default learning rate is 3e-4; SAC, TD3 and DDPG do not clip gradients.", 2, 1.0)
    assert denial_sentence(question, [other] + shown, units) == units[2]
    # a Chinese question is read in English
    zh = [(1, "NormalizeReward divides each reward by a running standard deviation."),
          (1, "It does not subtract a mean.")]
    assert denial_sentence("normalize_reward 是不是先减去均值？", [Support(zh[0][1], 1, 1.0)], zh,
                           "normalize_reward subtract, reward, mean") == zh[1]


def test_a_source_sentences_tail_without_its_subject_is_replaced_by_the_whole_sentence():
    source = "A name other libraries use suggests rlcore's own first: `clip_param` suggests `clip_range`."
    g = Grounder([SourceSentence(1, source)], bag_of_words)
    tail = g.check("rlcore's own first: `clip_param` suggests `clip_range`. [1]")
    assert (tail.action, tail.sentence) == ("replaced", source)
    whole = g.check(source + " [1]")
    assert (whole.action, whole.sentence) == ("kept", source)
    two = "A KL above 0.05 marks over-large updates. rlcore's `target_kl` stops the epoch loop early."
    g = Grounder([SourceSentence(1, two)], bag_of_words)
    assert g.check("rlcore's `target_kl` stops the epoch loop early. [1]").action == "kept"  # a whole sentence


def test_a_model_sentence_that_denies_what_its_source_states_is_not_kept():
    source = "The same id works in Python: `make_agent(\"ppo\", \"my_envs:Corridor-v0\")` in your `my_envs.py` module."
    g = Grounder([SourceSentence(1, source)], bag_of_words)
    assert g.check("The id works in Python in your `my_envs.py` module. [1]").action == "kept"
    assert g.check("The id does not work in Python in your `my_envs.py` module. [1]").action != "kept"


def test_a_models_bare_yes_or_no_is_not_shown_as_supported():
    from copilot.grounding import Grounder, SourceSentence

    source = "The evaluation seed defaults to the run's seed plus 10,000, so evaluation does not replay training episodes."
    grounder = Grounder([SourceSentence(1, source)], lambda texts: np.zeros((len(texts), 1), np.float32),
                        {1: source})
    checked = grounder.check("Yes, the evaluation seed defaults to the run's seed plus 10,000. [1]")
    assert checked.action in ("kept", "replaced") and not checked.sentence.lower().startswith("yes")
    # "No" that begins a noun phrase is the sentence's own word
    none = "No auxiliary losses or world models are needed."
    g = Grounder([SourceSentence(1, none)], lambda texts: np.zeros((len(texts), 1), np.float32), {1: none})
    assert g.check("No auxiliary losses or world models are needed. [1]").sentence.startswith("No auxiliary")


def test_a_reason_from_another_passage_of_a_cited_document_is_on_subject():
    from copilot.grounding import Support, why_sentence

    question = "RIDE divides its bonus by something - why is it there?"
    shown = [Support("The bonus is divided by its root-mean-square within the call.", 3, 1.0)]
    quotes = [(2, "The bonus is divided by the episodic visit count, so the agent cannot farm reward."),
              (4, "A count bonus stays high, so the agent keeps exploring.")]  # another document
    assert why_sentence(question, shown, quotes) is None  # passage 2 is neither cited nor [1]
    documents = {2: "corpus/papers/ride.md", 3: "corpus/papers/ride.md", 4: "corpus/papers/rnd.md"}
    assert why_sentence(question, shown, quotes, documents) == quotes[0]


def test_an_answer_that_leaves_out_the_value_asked_for_ends_with_the_source_stating_it():
    from copilot.grounding import Support, value_sentence

    question = "how many nearest neighbours does the ngu reward use by default?"
    shown = [Support("NGU's bonus compares the embedding with its nearest neighbours, clipped to `[1, L]`.", 1, 1.0)]
    quotes = [(1, "NGU was published in 2020 by DeepMind."),  # a year is no value
              (1, "neighbours used: 10 by default for the ngu reward | | `k` | 10 |"),  # a row's tail
              (2, "The ngu reward keeps `k=10` nearest neighbours by default.")]
    assert value_sentence(question, shown, quotes) == quotes[2]  # a number in code is no value stated
    assert value_sentence("how does the ngu reward use its neighbours?", shown, quotes) is None
    said = shown + [Support("It uses the 10 nearest neighbours.", 1, 1.0)]
    assert value_sentence(question, said, quotes) is None  # the answer already gives one


def test_a_number_the_source_gives_another_agent_is_not_kept_for_this_one():
    source = ("In rlcore the field is `learning_starts` (env steps of uniform random actions; default 1,000 for `dqn` "
              "and 100 for `sac`, `td3` and `ddpg`, which is short: raise it to 1,000 to 10,000 for harder tasks).")
    g = Grounder([SourceSentence(1, source)], bag_of_words)
    wrong = g.check("In rlcore the default `learning_starts` for `sac` is 1,000 env steps of uniform random actions [1].")
    assert wrong.action != "kept"
    right = g.check("In rlcore the default `learning_starts` for `sac` is 100 env steps of uniform random actions [1].")
    assert right.action == "kept"


def test_a_sentence_that_drops_its_sources_condition_gives_way_to_the_whole_source_sentence():
    source = "When `pi = mu` and `rho_bar = c_bar = 1`, V-trace reduces to the on-policy n-step Bellman target."
    g = Grounder([SourceSentence(1, source)], bag_of_words)
    s = g.check("V-trace reduces to the on-policy n-step Bellman target [1].")
    assert s.action == "replaced" and s.sentence == source


def test_a_condition_from_another_source_counts_when_it_names_what_was_asked():
    from copilot.grounding import Support, when_sentence

    question = "what is RE3 and when would I pick it over RND?"
    shown = [Support("RE3 turns state entropy into an intrinsic reward with a random encoder.", 1, 1.0)]
    quotes = [(2, "Use a count-based bonus when states are few."),  # another source, about neither
              (2, "Use RND when the observations are pixels."),  # about what RE3 is compared with
              (2, "Pick RE3 when the learner is off-policy and compute is tight.")]
    assert when_sentence(question, shown, quotes) == quotes[2]


def test_words_that_are_not_a_subject_do_not_decline_a_covered_question():
    from copilot.grounding import missing_terms, unknown_words, unmentioned_feature

    known = {"return", "climbing", "collapsed", "never", "recovered", "plan"}
    # how it happened ("nicely", "suddenly") is no topic the docs could lack
    assert unknown_words("my ppo return was climbing nicely then suddenly collapsed. why?", known.__contains__) == []
    assert unknown_words("how does alphazero plan?", known.__contains__) == ["alphazero"]
    # "have to" is no "has this feature"
    assert unmentioned_feature("does RE3 have to train its encoder or is it just random?", ["RE3 text"]) == []
    # a hyphenated word the corpus holds, though no retrieved chunk does
    assert unknown_subject("what does n-step replay buy me over one-step replay?", {"n-step", "one-step"}.__contains__,
                           []) == []
    # an identifier meets its class name
    assert missing_terms("rlcore 的 random_shift 数据增强怎么做？", ["rlcore.augment.shift.RandomShift: pad, crop"]) == []
    assert missing_terms("what does random_warp do?", ["rlcore.augment.shift.RandomShift: pad, crop"]) == ["random_warp"]


def test_a_verdict_in_the_questions_own_words_is_not_kept():
    sources = [SourceSentence(1, "TD3 is better than DDPG on harder MuJoCo tasks, where a single critic overestimates."),
               SourceSentence(2, "With the defaults both solve Pendulum, so Pendulum cannot tell them apart.")]
    g = Grounder(sources, bag_of_words, question="td3 vs ddpg on Pendulum: is td3 actually better there?")
    assert g.check("TD3 is better there [1].").action == "dropped"  # its words are the question's
    assert g.check("TD3 is better on harder MuJoCo tasks [1].").action == "kept"  # says where, as the source does


def test_advice_from_the_most_relevant_source_completes_a_when_answer():
    from copilot.grounding import Support, when_sentence

    question = "what does reward normalisation do, and when should i turn it on?"
    shown = [Support("Reward normalisation divides each reward by a running standard deviation.", 2, 1.0)]
    quotes = [(3, "Deep RL works best when per-step rewards are of order 0.1 to 10."),  # a lesser source
              (1, "Deep RL works best when per-step rewards are of order 0.1 to 10 and returns are small.")]
    assert when_sentence(question, shown, quotes) == quotes[1]


def test_an_answer_asked_for_two_defaults_ends_with_each_fields_own_line():
    from copilot.grounding import Support, value_sentence

    question = "default alpha and beta for the prioritized_replay storage?"
    shown = [Support("The prioritized_replay storage samples in proportion to priority to the power alpha.", 1, 1.0)]
    quotes = [(2, "`beta_steps`: default 100000, sample calls over which beta reaches 1."),  # another field
              (2, "`alpha`: default 0.6, how strongly priorities skew sampling."),
              (2, "`beta`: default 0.4, initial importance-sampling exponent.")]
    assert value_sentence(question, shown, quotes) == quotes[1]
    shown.append(Support(quotes[1][1], 2, 1.0))
    assert value_sentence(question, shown, quotes) == quotes[2]
    shown.append(Support(quotes[2][1], 2, 1.0))
    assert value_sentence(question, shown, quotes) is None
    # another method's default is not this one's
    ppg = [(3, "PPG's config is PPO's with these differences: `n_epochs`: default 1, policy-phase passes.")]
    assert value_sentence("what is the default n_epochs of PPO?", shown[:1], ppg) is None
    # a value the answer gives in an example is not the default asked for (in Chinese too)
    example = [Support("On MountainCar, `beta=1.0` with `normalize_obs=True` reaches the flag.", 1, 1.0)]
    rnd = [(2, "`beta`: default `0.1`, coefficient of the scaled bonus.")]
    assert value_sentence("whats rnd's default beta?", example, rnd) == rnd[0]
    assert value_sentence("rnd 的 beta 默认是多少？", example, rnd) == rnd[0]
    assert value_sentence("is beta big enough for rnd?", example, rnd) is None  # no default asked
    # a command-line flag's default, as the docs write it: "`--evals N` (default 4)",
    # "(`--seeds K`, default 2)"
    tune = [(1, "With `--evals N` (default 4) each run is also evaluated N times during training."),
            (1, "Every trial trains its config with seeds `0..K-1` (`--seeds K`, default 2).")]
    asked = [Support("`tune ALGO ENV_ID` searches config fields with Optuna.", 1, 1.0)]
    assert value_sentence("rlcore tune: defaults for --seeds and --evals?", asked, tune) == tune[1]
    asked_more = [*asked, Support(tune[1][1], 1, 1.0)]
    assert value_sentence("rlcore tune: defaults for --seeds and --evals?", asked_more, tune) == tune[0]
    # a flag of the command the user pasted is not asked about
    from copilot.evidence import asked_fields
    texts = [text for _, text in tune]
    assert asked_fields("ran `python -m rlcore tune ppo CartPole-v1 --evals 4`: what is reported by default?",
                        texts) == []
    assert asked_fields("what is the default of `--evals`?", texts) == ["--evals"]


def test_a_sentence_that_puts_one_source_word_where_the_source_has_another_is_not_kept():
    from copilot.grounding import takes_place_of

    source = "An episode is terminated when the task itself ends and truncated when a time limit cut it short."
    garbled = "Terminated episodes are truncated when the task itself ends and truncated when a time limit cut it short."
    assert takes_place_of(garbled, source)
    assert not takes_place_of("An episode is terminated when the task itself ends, truncated when a time "
                              "limit cut it short.", source)
    assert not takes_place_of("Episodes bootstrap from the final observation.", "Episodes therefore bootstrap "
                              "from the final observation.")  # a dropped connective swaps nothing
    g = Grounder([SourceSentence(1, source)], bag_of_words)
    assert g.check(garbled + " [1]").action != "kept"
    # one identifier in place of another, which the sentence then no longer names
    noise = "Gaussian noise (`normal_noise`) explores as well, so try `ou_noise` when exploration with `normal_noise` stays stuck."
    assert takes_place_of("Gaussian noise explores as well, so try normal_noise when exploration with normal_noise "
                          "stays stuck.", noise)
    assert not takes_place_of("So try ou_noise when exploration with normal_noise stays stuck.", noise)
    # ... also where a word or two stand between the identifier and what the source says of it
    noise = ("On most tasks independent Gaussian noise (`normal_noise`, the default) explores as well, as the TD3 "
             "paper found, so try `ou_noise` when exploration with `normal_noise` stays stuck near the start state.")
    assert takes_place_of("ou_noise explores as well, as the TD3 paper found, so try `ou_noise` when exploration "
                          "with `normal_noise` stays stuck near the start state.", noise)
    assert not takes_place_of("normal_noise explores as well, as the TD3 paper found.", noise)


def test_a_sentence_that_puts_a_source_word_in_place_of_one_it_drops_is_not_kept():
    from copilot.grounding import swaps_word

    source = "`--evals 0` turns pruning off; the serial backend does not prune either (its runs cannot be stopped)."
    garbled = "The pruning backend does not prune either (its runs cannot be stopped)."
    assert swaps_word(garbled, source)
    assert not swaps_word("The serial backend does not prune either.", source)
    assert not swaps_word("The backend does not prune either.", source)  # a word left out is no swap
    assert not swaps_word("GAE reduces variance a lot.", "GAE greatly reduces variance a lot.")
    g = Grounder([SourceSentence(1, source)], bag_of_words)
    assert g.check(garbled + " [1]").action != "kept"


def test_a_name_said_only_in_the_users_account_of_their_situation_is_context():
    from copilot.grounding import context_terms

    assert context_terms("Training PPO on ALE/Breakout-v5: the returns are tiny. Is my logging broken?") == {"PPO", "ALE"}
    assert context_terms("I exported a DQN run with export. What are the graph's input names?") == {"DQN"}
    assert context_terms("I use Dreamer for planning. How does Dreamer learn its world model?") == set()
    assert context_terms("How does Dreamer learn its world model?") == set()  # nothing but the question
    # users type in lower case too; "e.g." ends no sentence
    assert context_terms("ported my code from sb3 with VecNormalize. what does rlcore use?") == {"VecNormalize", "sb3"}
    from copilot.grounding import asked_sentences

    assert asked_sentences("my sweep died (machine rebooted). what happens if i rerun it?") == (
        ["what happens if i rerun it?"], ["my sweep died (machine rebooted)."])
    assert asked_sentences("is e.g. PPO on-policy?")[1] == []


def test_a_model_sentence_that_starts_mid_sentence_is_not_kept():
    source = ("Its graph has input `obs` and output `action`; a run trained with `normalize_obs` has its statistics "
              "built into the graph, so you feed raw observations.")
    g = Grounder([SourceSentence(1, source)], bag_of_words)
    cut = g.check("a run trained with `normalize_obs` has its statistics built into the graph, so you feed raw observations;")
    assert cut.action != "kept"
    assert g.check("A run trained with `normalize_obs` has its statistics built into the graph, so you feed raw "
                   "observations [1].").action == "kept"


def test_the_lead_is_the_quote_holding_the_questions_rarer_words():
    # "subtract" and "mean", which one quote holds, weigh more than "dueling" and "head", which all do
    plain = [(1, "The dueling head has a value stream and an advantage stream, recombined into Q."),
             (2, "The mean of the advantages is subtracted from each advantage."),
             (1, "The dueling head feeds the usual DQN loss.")]
    assert choose_extract("how does the dueling head subtract the mean of the advantages?", plain)[0][0] == 2
    # "how do I ...?" is led by what to call or type, not by when it pays off
    gpu = [(1, "A GPU pays off for training with convolutional encoders on pixels and large batches."),
           (1, "In rlcore the device is chosen per agent: `make_agent(..., device=\"cuda\")`.")]
    assert choose_extract("How do I train on a GPU with rlcore?", gpu)[0][1].startswith("In rlcore")
    # a command with its argument says what to type ("`eval RUN_DIR` rebuilds ..."), as a flag does
    cli = [(1, "`--steps` is the number of environment steps, `--out` the run folder."),
           (1, "`eval RUN_DIR` rebuilds the agent from a run folder and evaluates its final checkpoint.")]
    assert choose_extract("How do I evaluate a trained run folder from the command line?", cli)[0] == cli[1]


def test_a_name_given_with_a_number_meets_the_docs_placeholder_and_a_later_part_may_be_in_passing():
    from copilot.grounding import first_part, missing_terms, passing_terms

    docs = ["`checkpoint_every`: save `checkpoints/step_<N>.pt` every this many steps."]
    assert missing_terms("how do I resume from an earlier checkpoint like step_20000.pt?", docs) == []
    assert missing_terms("how do I resume from best_20000.pt?", docs) == ["best_20000"]
    question = "what are rlcore's fused update kernels, and what happens if my run is on CUDA?"
    assert first_part(question) == "what are rlcore's fused update kernels"
    texts = ["The fused kernels run the whole update in C. Anything they do not cover (CUDA, n-step replay) "
             "falls back to eager PyTorch."]
    assert passing_terms(question, ["FAQ: performance"], texts) == []  # the second part's name, said in passing
    assert passing_terms("how do I train on CUDA with the fused kernels?", ["FAQ: performance"], texts) == [("CUDA", 1)]


def test_a_name_users_give_what_the_docs_call_by_a_plain_word_is_not_missing():
    from copilot.grounding import missing_terms, passing_terms

    docs = ["Memory grows with `n_policy_iters x n_steps x num_envs` stored observations (PPG)."]
    question = "RAM keeps growing while PPG trains on images; which setting should I lower?"
    assert missing_terms(question, docs) == [] and passing_terms(question, ["PPG config"], docs) == []
    assert missing_terms("does PPG run on a TPU?", docs) == ["TPU"]


def test_a_search_reads_a_name_users_give_with_the_docs_word_for_it():
    from copilot.evidence import in_docs_words

    assert in_docs_words("what's eating my RAM?") == "what's eating my RAM (memory)?"
    assert in_docs_words("got OOM-killed") == "got OOM-killed (out of memory, memory)"
    assert in_docs_words("a random ramp, a RAMP") == "a random ramp, a RAMP"  # whole words only


def test_an_answer_naming_a_config_field_ends_with_its_value_when_a_default_is_asked():
    from copilot.grounding import Support, value_sentence

    question = "what is the DrAC regulariser, and what's its default weight?"
    shown = [Support("An augmentation adds the DrAC regulariser, weighted by the config field `aug_coef`.", 1, 1.0)]
    quotes = [(2, "`aug_steps`: default 4, unrelated."),
              (2, "The regulariser of Raileanu et al. (2021), weighted by the config field `aug_coef` (default `0.1`).")]
    assert value_sentence(question, shown, quotes) == quotes[1]
    assert value_sentence("what is the DrAC regulariser?", shown, quotes) is None  # no value asked


def test_code_that_uses_a_flag_no_source_has_is_not_kept():
    source = SourceSentence(1, "```bash\npython -m rlcore report runs/study --out runs/study-report\n```")
    g = Grounder([source], bag_of_words)
    invented = g.check("```bash\npython -m rlcore report runs/study --out runs/study-report --normalise\n```")
    assert invented.action != "kept"
    assert g.check("```bash\npython -m rlcore report runs/study --out runs/study-report\n```").action == "kept"
    prose = SourceSentence(1, "Call `make_agent(\"ppo\", env, reward=\"rnd\")` to add the RND bonus to PPO.")
    g = Grounder([prose], bag_of_words)
    assert g.check("Call `make_agent(\"ppo\", env, bonus=\"rnd\")` to add the RND bonus to PPO [1].").action != "kept"
    assert g.check("Call `make_agent(\"ppo\", env, reward=\"rnd\")` to add the RND bonus [1].").action == "kept"


def test_a_flag_no_source_holds_is_named_as_missing():
    from copilot.grounding import unknown_flags

    corpus = "python -m rlcore eval RUN_DIR --episodes 20 --json; train ... --num-envs 8".lower()
    mentions = corpus.__contains__
    assert unknown_flags("is there a `--record-video` flag for `rlcore eval`?", mentions) == ["--record-video"]
    assert unknown_flags("does eval take --episodes and --JSON?", mentions) == []
    assert unknown_flags("what does a--b or --num_envs do?", mentions) == []  # not flags as typed


def test_a_sentence_that_only_counts_what_follows_is_not_an_answers_lead():
    from copilot.grounding import choose_extract, leads_in

    assert leads_in("NGU combines two novelty signals.") and not leads_in("GAE's lambda trades bias against variance.")
    quotes = [(1, "NGU combines two novelty signals."),
              (1, "NGU multiplies its episodic bonus by a lifelong factor from RND, clipped to [1, L].")]
    assert choose_extract("How does NGU combine episodic and lifelong novelty?", quotes)[0] == quotes[1]


def test_a_name_the_users_own_code_defines_is_no_name_the_docs_lack():
    from copilot.grounding import defined_names

    question = ('I re-ran the cell with @register("encoders", "ln_mlp") and now it raises ValueError: '
                "the key is taken. class LnMLP is unchanged")
    assert defined_names(question) == {"ln_mlp", "LnMLP"}
    assert defined_names("gymnasium.register(id='GridWorld-v0', entry_point=...) then make_env fails") == {
        "GridWorld-v0"}
    assert defined_names("is there a `--wandb` flag, or a WandbLogger in rlcore?") == set()


def test_an_environment_a_list_of_ids_leaves_out_is_answered_by_that_list():
    from copilot.grounding import left_off_list

    corpus = "lunarlander-v3 (16 envs) ... ale/breakout-v5 ... `cartpole-v1`".lower()
    listing = ["`make_env(env_id, pixels=True)` turns `Pendulum-v1`, `CartPole-v1`, `MountainCar-v0` or "
               "`Acrobot-v1` into an image task. Other env ids are refused."]
    assert left_off_list("LunarLander", listing, corpus.__contains__)
    assert left_off_list("ALE/Breakout-v5", listing, corpus.__contains__)
    # an environment the docs never name, a name that is no environment, or sources with no list
    assert not left_off_list("HalfCheetah", listing, corpus.__contains__)
    assert not left_off_list("DreamerV3", listing, corpus.__contains__)
    assert not left_off_list("LunarLander", ["Pixels work for `Pendulum-v1` only."], corpus.__contains__)


def test_a_capitalised_word_inside_a_sentence_is_read_as_a_name():
    from copilot.grounding import proper_words

    assert proper_words("Our Breakout run's curve sits at 10. Is logging broken? Which Atari games work") == [
        "Breakout", "Atari"]
    # a sentence's first word, a short word, code and a word in capitals are no such name
    assert proper_words("Does `Pendulum` use PPO? Then I try it") == []


def test_an_environment_named_beside_one_the_sources_hold_is_the_users_example():
    from copilot.grounding import env_beside

    corpus = "`cartpole-v1` ... `acrobot-v1` ...".lower()
    sources = ['score_ranges={"CartPole-v1": (0, 500)} pins the range']
    question = "`rlcore report` over runs on CartPole-v1 and Acrobot-v1: how are scores scaled?"
    assert env_beside("Acrobot-v1", question, sources, corpus.__contains__)
    # the only environment asked about, or one the docs never name, is no example
    assert not env_beside("Acrobot-v1", "what is the solved score of Acrobot-v1?", sources, corpus.__contains__)
    assert not env_beside("Hopper-v4", "runs on CartPole-v1 and Hopper-v4?", sources, corpus.__contains__)


def test_an_unknown_word_before_a_phrase_the_docs_use_names_a_variant_they_lack():
    from copilot.grounding import unknown_variant

    corpus = "experience replay stores past transitions in a replay buffer"
    question = "how does hindsight experience replay relabel goals?"
    assert unknown_variant(question, ["hindsight"], corpus.__contains__) == ["hindsight experience replay"]
    # an unknown word before words the docs never use together, or before a stop word, is no variant
    assert unknown_variant("my sourdough starter replay is slow", ["sourdough"], corpus.__contains__) == []
    assert unknown_variant("jupyter problem. I re-ran the cell", ["jupyter"], corpus.__contains__) == []
    assert unknown_variant("is weirdly experience replay slow?", ["weirdly"], corpus.__contains__) == []
    assert unknown_variant("a smallish replay buffer: shift or crop?", ["smallish"],
                           corpus.__contains__) == []
    # a verb after its subject ("I thought") is no modifier of a name
    assert unknown_variant("I thought experience replay was slow", ["thought"], corpus.__contains__) == []


def test_the_clause_of_a_long_sentence_that_holds_a_model_sentences_words():
    from copilot.grounding import clause_of, content_tokens
    source = ("Memory: the `replay` storage preallocates `buffer_size` slots for `obs` and `next_obs` when the "
              "agent is built, so the cost is about `2 x buffer_size x observation bytes`: about 136 MB for a "
              "million float observations of dimension 17, but far too much for a million stacked images (images "
              "are kept as bytes; `drqv2` defaults to 50,000 transitions, about 1.2 GB with its default 3 stacked "
              "64x64 grey frames).")
    said = content_tokens("It takes about 1.2 GB with its default 3 stacked 64x64 grey frames.")
    assert clause_of(source, said & content_tokens(source)) == (
        "`drqv2` defaults to 50,000 transitions, about 1.2 GB with its default 3 stacked 64x64 grey frames.")
    # a clause that points outside itself ("this") is no sentence of its own: the whole is shown
    because = ("Because the actors lag behind the learner by several updates while the learner keeps training on "
               "what they send, and because their policies are older than the learner's by then, the data are "
               "off-policy; V-trace is the correction that makes this safe for every learner update.")
    assert len(because.split()) >= 40
    assert clause_of(because, content_tokens("V-trace is the correction that makes this safe")) == because
    # nor is a short sentence cut: its clauses are read together
    short = "In rlcore: set `normalize_reward`; scaled rewards are clipped to `[-10, 10]`."
    assert clause_of(short, content_tokens("scaled rewards are clipped")) == short


def test_a_number_given_the_words_its_source_gives_another_number_is_caught():
    from copilot.grounding import misplaces_number

    source = ("Exit status 0 on success, 2 for bad input (one sentence after `error:`), 1 for an unexpected "
              "failure (one line, plus \"rerun with --debug for the traceback\"), 130 when interrupted with Ctrl-C.")
    assert misplaces_number("130 is an unexpected failure (one line, plus a hint).", source)
    assert not misplaces_number("Exit status 130 means the run was interrupted with Ctrl-C.", source)
    assert not misplaces_number("1 means an unexpected failure.", source)
    # a number the source states in a clause of its own, with few words, is not misplaced by them
    fields = "`clip_range` (default 0.2) bounds the ratio; `max_grad_norm` (default 0.5) clips the gradient norm."
    assert not misplaces_number("The clip range defaults to 0.2 and bounds the ratio.", fields)


def test_a_hyphenated_name_joining_a_known_word_to_an_unknown_one_is_a_gap():
    from copilot.grounding import unknown_compound

    corpus = "ppo clips the ratio. self-play is not covered; cross-entropy for discrete actions."
    texts = ["PPO clips the probability ratio; A2C does not."]
    assert unknown_compound("safe rl like ppo-lagrangian with a learned multiplier?", ["lagrangian"],
                            lambda text: text in corpus, texts) == ["ppo-lagrangian"]
    # words the docs hold, a compound they write, or one that joins no method they name, are no gap
    assert unknown_compound("is self-play or cross-entropy used here?", ["used"], lambda text: text in corpus,
                            texts) == []
    assert unknown_compound("is A2C just a dumbed-down A3C?", ["dumbed"], lambda text: text in corpus, texts) == []


def test_a_cause_pointed_at_by_this_is_never_the_sources():
    from copilot.grounding import invents_cause

    source = ("rlcore's agents have a single value function: the bonus is added to the extrinsic reward "
              "with the agent's own `gamma`, so the bonus fades as states become familiar.")
    assert invents_cause("This is because the bonus is added to the extrinsic reward with the agent's own gamma.",
                         source)
    assert invents_cause("That's mainly due to the bonus being added with the agent's own gamma.", source)
    assert not invents_cause("The bonus is added to the extrinsic reward.", source)
