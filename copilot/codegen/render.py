"""RunSpec -> a short, commented rlcore training script.

The script builds the agent with ``make_agent``, trains it with ``agent.train`` into its own
folder (run.json, episodes.csv with the returns, progress.csv, curve.png, checkpoints/)
and prints the evaluation return. It depends on nothing but rlcore and runs unchanged as
``python -I train.py`` from its folder.
"""

from __future__ import annotations

from typing import Any

from copilot.codegen import catalog
from copilot.codegen.spec import RunSpec

SCRIPT_NAME = "train.py"


def literal(value: Any) -> str:
    """A Python literal for a config value (ints with ``_`` separators, lists as tuples)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return repr(value)
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def _comment(text: str, width: int = 70) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= width else one[: width - 3] + "..."


def _config_block(spec: RunSpec) -> list[str]:
    algo = spec.algo
    fields = catalog.config_info(algo)
    lines = [f"# {catalog.config_class_name(algo)} fields that differ from the defaults "
             f"(all: python -m rlcore list --config {algo})."]
    if not spec.config:
        return lines + ["CONFIG = {}"]
    lines.append("CONFIG = {")
    for name, value in spec.config.items():
        doc = fields[name].doc if name in fields else ""
        lines.append(f"    {name!r}: {literal(value)},  # {_comment(doc)}".rstrip(" #"))
    return lines + ["}"]


def _agent_block(spec: RunSpec) -> list[str]:
    lines = ["agent = make_agent(", f"    {spec.algo!r},", f"    {spec.env_id!r},", "    CONFIG,",
             f"    seed={spec.seed},"]
    if spec.num_envs:
        lines.append(f"    num_envs={spec.num_envs},  # parallel environments")
    for role, key in spec.parts.items():
        lines.append(f"    {role}={key!r},  # {role} part, by registry key")
    return lines + [")"]


def _train_block(spec: RunSpec) -> list[str]:
    lines = ["manifest = agent.train(",
             f"    {literal(spec.total_steps)},  # environment steps",
             "    out=RUN_DIR,  # run.json, episodes.csv, progress.csv, curve.png, checkpoints/",
             f"    eval_episodes={spec.eval_episodes},  # deterministic evaluation after training"]
    if spec.checkpoint_every:
        lines.append(f"    checkpoint_every={literal(spec.checkpoint_every)},  # plus checkpoints/final.pt")
    return lines + [")"]


def _report_block(spec: RunSpec) -> list[str]:
    lines = ['print(f"{manifest[\'algo\']} on {manifest[\'env\']}: {manifest[\'total_steps\']} steps "',
             '      f"in {manifest[\'wall_time_s\']:.1f} s")']
    if spec.eval_episodes > 0:
        lines += ['ev = manifest["eval"]',
                  'print(f"eval return {ev[\'return_mean\']:.2f} +/- {ev[\'return_std\']:.2f} "',
                  '      f"over {ev[\'episodes\']} episodes")']
    return lines


def render(spec: RunSpec, request: str = "") -> str:
    """The training script for ``spec``; ``request`` is quoted in a comment."""
    title = (f"{spec.algo.upper()} on {spec.env_id} for {spec.total_steps:,} environment steps "
             f"(seed {spec.seed}).")
    lines = [f'"""{title}', "", "Run it from this folder: python train.py", '"""']
    if request.strip():
        lines.append(f"# Request: {_comment(request, 200)}")
    lines += ["from pathlib import Path", "", "from rlcore import make_agent", "",
              "RUN_DIR = Path(__file__).resolve().parent  # everything is written next to this script", ""]
    lines += _config_block(spec) + [""] + _agent_block(spec) + [""] + _train_block(spec) + [""]
    lines += _report_block(spec)
    return "\n".join(lines) + "\n"
