"""The prompts that ask the LLM for a RunSpec, kept small for a 0.5B model on 2 cores.

The system prompt is a cheat sheet generated from rlcore's registry (algorithms with the
action spaces they act in, common envs with theirs, the config fields the request touches,
registered parts) plus two short snippets retrieved from the docs index (kinds ``api``,
``doc``, ``tutorial``) when an index exists. A one-shot example shows the expected JSON.
Repairs add the failed spec, its error and the docs that match the error.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.facts import Facts

SNIPPET_CHARS = 300
RETRIEVE_KINDS = ("api", "doc", "tutorial")
EXAMPLE_REQUEST = "Train DQN on CartPole-v1 for 30k steps with discount 0.98, seed 3."
EXAMPLE_SPEC = {"algo": "dqn", "env_id": "CartPole-v1", "total_steps": 30000, "seed": 3, "num_envs": 1,
                "config": {"gamma": 0.98}, "parts": {}, "eval_episodes": 10, "checkpoint_every": 0}
RULES = ("Reply with one JSON RunSpec for rlcore, a PyTorch RL library. Copy env ids and numbers "
         "exactly from the request. Choose an algorithm that can act in the env's action space. "
         "Put in config only what the request asks for, using the field names listed. Leave parts "
         "empty unless the request names one. Defaults: seed 0, eval_episodes 10, checkpoint_every 0.")


@functools.lru_cache(maxsize=1)
def env_lines() -> str:
    rows = []
    for env in catalog.common_envs():
        try:
            rows.append(f"{env} ({catalog.env_action_space(env)})")
        except Exception:  # noqa: BLE001 - an env whose extras are missing is simply not listed
            continue
    return ", ".join(rows)


def algo_lines() -> list[str]:
    """Algorithms grouped by the action spaces they act in and their default env count."""
    groups: dict[tuple[str, int], list[str]] = {}
    for algo in catalog.algos():
        key = (" or ".join(catalog.space_names(algo)), catalog.default_num_envs(algo))
        groups.setdefault(key, []).append(algo)
    return ["Algorithms: " + "; ".join(f"{', '.join(algos)} ({spaces} actions, {n} env{'s' if n > 1 else ''})"
                                       for (spaces, n), algos in groups.items())]


def config_fields(facts: Facts, algo: str) -> tuple[dict[str, Any], list[str]]:
    """(fields the request sets, with values; other fields it names) for ``algo``'s config."""
    from copilot.codegen.checks import _fact_fields, field_phrases

    fixed = {field: value for name, value in facts.hyper.items() for field in _fact_fields(algo, name)}
    named = [k for k in catalog.field_names(algo) if k not in fixed and facts.mentions(*field_phrases(k))]
    return fixed, named


def field_lines(facts: Facts) -> list[str]:
    """The config fields the request touches, with their docs (the grammar offers no others)."""
    algos = [facts.algo] if facts.algo else catalog.algos()
    rows: dict[str, str] = {}
    for algo in algos:
        fixed, named = config_fields(facts, algo)
        info = catalog.config_info(algo)
        for name in [*fixed, *named]:
            rows.setdefault(name, f"{name} ({_short(info[name].doc)})")
    if not rows:
        return ["config: {} (the request sets no hyperparameters)"]
    return ["config fields to set: " + "; ".join(rows.values())]


def _short(doc: str, words: int = 6) -> str:
    parts = re.sub(r"\s+", " ", doc).strip().rstrip(".").split(" ")
    return " ".join(parts[:words]) + ("..." if len(parts) > words else "")


def part_lines() -> list[str]:
    """Swappable parts a request may name (policy, storage and distribution follow the algorithm)."""
    keys = {role: ks for role, ks in catalog.all_part_keys().items()
            if ks and role not in ("policy", "storage", "distribution")}
    return ["parts by role: " + "; ".join(f"{role}: {', '.join(ks)}" for role, ks in keys.items())]


def system_prompt(facts: Facts, snippets: list[str]) -> str:
    lines = [RULES, *algo_lines(), f"Envs: {env_lines()}", *field_lines(facts),
             *part_lines()]
    if snippets:
        lines += ["Docs:", *snippets]
    return "\n".join(lines)


def messages(request: str, facts: Facts, snippets: list[str]) -> list[dict[str, str]]:
    """The chat asking for a RunSpec."""
    return [{"role": "system", "content": system_prompt(facts, snippets)},
            {"role": "user", "content": EXAMPLE_REQUEST},
            {"role": "assistant", "content": json.dumps(EXAMPLE_SPEC)},
            {"role": "user", "content": request}]


def repair_messages(chat: list[dict[str, str]], answer: str, error: str, snippets: list[str]) -> list[dict[str, str]]:
    """The chat extended with the failed answer and what went wrong."""
    docs = ("\nRelevant docs:\n" + "\n".join(snippets)) if snippets else ""
    note = (f"That spec failed: {error[:600]}{docs}\nReply with a corrected JSON RunSpec for the same "
            "request.")
    return [*chat, {"role": "assistant", "content": answer or "{}"}, {"role": "user", "content": note}]


@functools.lru_cache(maxsize=4)
def _lexical_index(index_dir: str, stamp: float) -> tuple[Any, dict[str, list]] | None:
    from copilot.bm25 import BM25

    folder = Path(index_dir)
    table = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
    bm25 = BM25.load(folder / "bm25.npz")
    return (bm25, table) if bm25.n_docs == len(table["id"]) else None


def retrieve(settings: Any, query: str, k: int = 2) -> list[str]:
    """Up to ``k`` short API/doc/tutorial snippets for ``query`` from the index's BM25 side.

    Lexical retrieval needs no embedder or vector store, so it costs milliseconds even in a
    fresh process, and it is deterministic: the same request always gets the same prompt.
    No index yet (nothing ingested) means no snippets; generation works without them.
    """
    import numpy as np

    from copilot.bm25 import tokenize
    from copilot.chat import focus
    from copilot.generations import lexical_files

    try:
        bm25_path, _table = lexical_files(Path(settings.index_dir))  # the live generation's files
        loaded = _lexical_index(str(bm25_path.parent), bm25_path.stat().st_mtime)
    except (OSError, ValueError, KeyError):
        return []
    if loaded is None:
        return []
    bm25, table = loaded
    scores = np.where(np.isin(np.array(table["kind"]), RETRIEVE_KINDS), bm25.scores(tokenize(query)), 0.0)
    best = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
    out = []
    for i in best:
        text = re.sub(r"\s+", " ", focus(table["text"][i], query, SNIPPET_CHARS)).strip()[:SNIPPET_CHARS]
        out.append(f"- {table['title'][i]}: {text}")
    return out


ENV_PATTERN = r"^[A-Za-z][A-Za-z0-9_:./-]{0,63}$"


def pinned(facts: Facts, algo: str) -> dict[str, Any]:
    """Spec values the request settles for ``algo`` (stated, or left at the default unasked)."""
    from copilot.codegen.checks import ENV_HINT_WORDS

    out: dict[str, Any] = {}
    if facts.env_id:
        out["env_id"] = facts.env_id
    if facts.total_steps:
        out["total_steps"] = facts.total_steps
    if facts.seed is not None or not facts.mentions("seed", "seeded"):
        out["seed"] = 0 if facts.seed is None else facts.seed
    if facts.num_envs is not None or not facts.mentions(*ENV_HINT_WORDS[2:]):
        out["num_envs"] = catalog.default_num_envs(algo) if facts.num_envs is None else facts.num_envs
    if facts.eval_episodes is not None or not facts.mentions("evaluate", "evaluation", "eval", "episodes"):
        out["eval_episodes"] = 10 if facts.eval_episodes is None else facts.eval_episodes
    if facts.checkpoint_every is not None or not (facts.checkpoint and facts.mentions("every")):
        out["checkpoint_every"] = 0 if facts.checkpoint_every is None else facts.checkpoint_every
    return out


def decoding_schema(facts: Facts) -> dict[str, Any]:
    """The grammar schema with what the request settles fixed, so decoding spends its choices
    (algorithm, env, steps, config, parts) only where the request leaves them open.

    Config offers only fields the request names (a 0.5B model otherwise fills in every
    field it is offered); stated values are fixed.
    """
    from copilot.codegen.spec import grammar_schema

    schema = grammar_schema([facts.algo] if facts.algo else None)
    for branch in schema.get("oneOf", [schema]):
        props = branch["properties"]
        algo = props["algo"]["enum"][0]
        props["env_id"] = {"type": "string", "pattern": ENV_PATTERN}
        for key, value in pinned(facts, algo).items():
            props[key] = {"enum": [value]}
        config = props["config"]
        fixed, named = config_fields(facts, algo)
        fields = {**{k: {"enum": [v]} for k, v in fixed.items()}, **{k: config["properties"][k] for k in named}}
        for node in fields.values():
            if node.get("type") == "array":
                node.update(minItems=1, maxItems=4)
        config["properties"], config["required"] = fields, list(fixed)
    return schema
