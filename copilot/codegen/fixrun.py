""""Fix my run": diagnose a failing run, propose a change, and say with numbers whether it worked.

The failing run is either a run folder named in the request (its run.json, episodes.csv and
progress.csv are read: flat returns, a sparse reward never reached, entropy collapse, a
value-loss blow-up, NaN losses) or described in words ("my DQN on MountainCar-v0 never gets
past -200"). The change comes from a table of measured recipes for known (algorithm, env)
pairs, else from rules per finding (an exploration bonus for a sparse reward, observation
normalisation, a lower learning rate, more steps). The stated algorithm and env are kept.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.plan import Ask

# Recipes measured on this project's 2-core machines (sandbox-free runs, 1 torch thread, shared load):
# DQN MountainCar-v0, 60k steps: eval return -118.6 (seed 0, 321 s) and -178.0 (seed 1, 791 s under
# heavy load); 50k steps with 64x64 nets and no bonus stayed at -200. The budget covers the slow case.
RECIPES: dict[tuple[str, str], dict[str, Any]] = {
    ("dqn", "MountainCar-v0"): {
        "steps": 60_000, "num_envs": 1, "budget_s": 900,
        "config": {"lr": 4e-3, "batch_size": 128, "buffer_size": 10_000, "learning_starts": 1000, "gamma": 0.98,
                   "target_update_interval": 600, "train_freq": 16, "gradient_steps": 8,
                   "exploration_fraction": 0.2, "exploration_final_eps": 0.07, "hidden": [256, 256]},
        "why": "rl-baselines3-zoo's MountainCar-v0 hyperparameters (larger lr, gamma 0.98, slower "
               "epsilon decay, target update every 600 steps)"},
}
SPARSE = {"MountainCar-v0": -200.0, "MountainCarContinuous-v0": 0.0, "Acrobot-v1": -500.0}
DEFAULT_STEPS = 50_000


def stated_baseline(text: str) -> float | None:
    """The failing return a request states ("never gets past -200", "stuck at 20")."""
    m = re.search(r"(?:past|beyond|above|over|stuck at|stays at|around|at most|only|return of|returns? "
                  r"(?:is|are|of)?)\s*(-?\d+(?:\.\d+)?)", text, re.IGNORECASE)
    return float(m.group(1)) if m else None


def _column(path: Path, names: tuple[str, ...]) -> list[float]:
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    for name in names:
        if rows and name in rows[0]:
            out = []
            for row in rows:
                try:
                    out.append(float(row[name]))
                except (TypeError, ValueError):
                    continue
            return out
    return []


def diagnose(run_dir: Path) -> tuple[list[str], float | None, dict[str, Any]]:
    """(findings, the run's return, its run.json) from a run folder's files."""
    manifest = json.loads((run_dir / "run.json").read_text())
    findings: list[str] = []
    returns = _column(run_dir / "episodes.csv", ("return", "episode_return", "r"))
    ret = (manifest.get("eval") or {}).get("return_mean")
    if returns:
        tail = returns[len(returns) // 2:]
        spread = max(tail) - min(tail)
        if spread <= 1e-6 * max(1.0, abs(tail[0])):
            findings.append(f"flat returns ({tail[0]:g} in every one of the last {len(tail)} episodes)")
        floor = SPARSE.get(manifest.get("env"))
        if floor is not None and max(returns) <= floor:
            findings.append(f"the sparse reward was never reached (best episode {max(returns):g})")
        ret = ret if ret is not None else sum(tail) / len(tail)
    losses = _column(run_dir / "progress.csv", ("value_loss", "loss", "critic_loss", "q_loss"))
    if any(math.isnan(x) or math.isinf(x) for x in losses):
        findings.append("NaN or infinite losses")
    elif len(losses) > 4 and max(losses[len(losses) // 2:]) > 100 * max(1e-8, min(losses[:len(losses) // 2] or [1])):
        findings.append("the value loss blew up (over 100x its early size)")
    entropy = _column(run_dir / "progress.csv", ("entropy",))
    if len(entropy) > 4 and entropy[len(entropy) // 2] < 0.05 * max(entropy[0], 1e-8):
        findings.append("the policy entropy collapsed early")
    return findings, ret, manifest


def propose(algo: str, env: str, findings: list[str], steps: int | None) -> dict[str, Any]:
    """{config, parts, steps, num_envs, why}: the change for ``algo`` on ``env``."""
    if (algo, env) in RECIPES:
        return dict(RECIPES[(algo, env)], config=dict(RECIPES[(algo, env)]["config"]), parts={})
    fields = catalog.config_info(algo)
    config: dict[str, Any] = {}
    parts: dict[str, str] = {}
    why = []
    text = " ".join(findings)
    if env in SPARSE or "sparse" in text or "flat" in text:
        if "rnd" in catalog.part_keys(algo).get("reward", ()):
            parts["reward"] = "rnd"
            why.append("an RND exploration bonus for the sparse reward")
        if "normalize_obs" in fields:
            config["normalize_obs"] = True
            why.append("observation normalisation")
    if "NaN" in text or "blew up" in text:
        for name in ("lr", "actor_lr", "critic_lr"):
            if name in fields:
                config[name] = float(fields[name].default) / 3
        if "max_grad_norm" in fields:
            config["max_grad_norm"] = 0.5
        why.append("a 3x lower learning rate and gradient clipping")
    if "entropy" in text and "ent_coef" in fields:
        config["ent_coef"] = 0.01
        why.append("an entropy bonus of 0.01")
    total = max(DEFAULT_STEPS, 2 * (steps or 0))
    why.append(f"{total:,} steps")
    return {"config": config, "parts": parts, "steps": total, "num_envs": None, "why": ", ".join(why)}


def fix_ask(algo: str, env: str, baseline: float, what: str, why: str) -> Ask:
    above = SPARSE.get(env, baseline) if env in SPARSE and baseline <= SPARSE[env] else baseline
    return Ask("fix", f"Fix the failing {algo.upper()} run on {env} (return {baseline:g}); change: {why}",
               check={"how": "fix", "baseline": baseline, "above": above, "what": what})
