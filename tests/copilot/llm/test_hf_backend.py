"""The hf: backend against a tiny randomly initialised Qwen2 model built offline in tmp_path."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from tokenizers import Tokenizer, decoders, models, pre_tokenizers  # noqa: E402

from copilot.config import Settings  # noqa: E402
from copilot.llm import ModelError, resolve  # noqa: E402
from copilot.llm.hf import HFLLM, PLAIN_TEMPLATE  # noqa: E402

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                 "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
POSITIONS = 256


def build_tiny_model(folder: Path, *, chat_template: str | None = CHAT_TEMPLATE) -> None:
    """A byte-level BPE tokenizer (Qwen2 style) and a 2-layer Qwen2 with random weights.

    The only merges join a space with one ASCII character, so random output has spaces and
    the streamer emits it in several pieces.
    """
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    space = "\u0120"  # the byte-level symbol for " "
    merges = [(space, chr(c)) for c in range(33, 127)]
    vocab = {tok: i for i, tok in enumerate(specials + alphabet + [a + b for a, b in merges])}
    core = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"])
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=POSITIONS,
        eos_token_id=vocab["<|im_end|>"], pad_token_id=0, initializer_range=0.5)
    transformers.Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    build_tiny_model(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> HFLLM:
    llm = resolve(f"hf:{tiny_dir}", Settings(n_ctx=4096, threads=1, max_tokens=16))
    assert isinstance(llm, HFLLM)
    return llm


CHAT = [{"role": "system", "content": "You answer RL questions."},
        {"role": "user", "content": "What is GAE?"}]


def reference_greedy(folder: Path, messages: list[dict[str, str]], max_new: int) -> str:
    tok = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)["input_ids"]
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new,
                         do_sample=False, pad_token_id=0)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_streams_the_same_text_as_greedy_generate(tiny: HFLLM, tiny_dir: Path) -> None:
    pieces = list(tiny.stream(CHAT, max_tokens=12, temperature=0.0))
    assert len(pieces) > 1
    assert "".join(pieces) == reference_greedy(tiny_dir, CHAT, 12)


def test_counts_match_the_tokenizer_and_template(tiny: HFLLM, tiny_dir: Path) -> None:
    tok = transformers.AutoTokenizer.from_pretrained(tiny_dir, local_files_only=True)
    text = "the policy gradient, estimated (GAE) in 2 steps"
    assert tiny.count_tokens(text) == len(tok.encode(text, add_special_tokens=False)) > 30
    ids = tok.apply_chat_template(CHAT, add_generation_prompt=True, return_dict=True)["input_ids"]
    assert tiny.count_messages(CHAT) == len(ids)


def test_window_is_capped_by_the_model_positions_and_long_prompts_fit(tiny: HFLLM) -> None:
    assert tiny.n_ctx == POSITIONS
    seen: list[Any] = []
    original = tiny._generate

    def spy(messages: list[dict[str, str]], max_tokens: int, temperature: float):  # noqa: ANN202
        seen.append((messages, max_tokens))
        return original(messages, max_tokens, temperature)

    tiny._generate = spy  # type: ignore[method-assign]
    try:
        tiny.complete([{"role": "user", "content": "source text " * 500}], max_tokens=16)
    finally:
        del tiny._generate
    messages, max_tokens = seen[0]
    assert tiny.count_messages(messages) + max_tokens <= POSITIONS


def test_stop_strings_cut_the_answer(tiny: HFLLM) -> None:
    full = tiny.complete(CHAT, max_tokens=12, temperature=0.0)
    assert len(full) >= 4
    stop = full[2:4]
    assert tiny.complete(CHAT, max_tokens=12, temperature=0.0, stop=[stop]) == full[:full.index(stop)]


def test_json_schema_goes_into_the_prompt_unconstrained(tiny: HFLLM) -> None:
    assert tiny.constrained_json is False
    schema = {"type": "object", "properties": {"algo": {"type": "string"}}}
    prepared = tiny.prepare(list(CHAT), schema)
    assert prepared[0]["role"] == "system" and json.dumps(schema) in prepared[0]["content"]
    assert len(prepared) == len(CHAT)
    assert isinstance(tiny.complete(CHAT, max_tokens=4, json_schema=schema), str)


def test_folder_without_chat_template_uses_the_plain_layout(tmp_path: Path) -> None:
    build_tiny_model(tmp_path, chat_template=None)
    llm = HFLLM(tmp_path, n_ctx=512)
    _, tok = llm.load()
    assert tok.chat_template == PLAIN_TEMPLATE
    prompt = "system: You answer RL questions.\nuser: What is GAE?\nassistant: "
    assert llm.count_messages(CHAT) == len(tok.encode(prompt, add_special_tokens=False)) > 10


def test_missing_or_broken_folders_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"is not a transformers model \(no config.json\)"):
        HFLLM(tmp_path / "nope").count_tokens("x")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="transformers could not load"):
        HFLLM(tmp_path).count_tokens("x")
