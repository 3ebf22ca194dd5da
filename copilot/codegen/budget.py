"""Rough wall-time estimates of a training run, to refuse budgets that cannot fit.

The costs are per operation on one core of the project's 2-core CPU machines, calibrated
from sandboxed rlcore runs of classic-control tasks (with other work sharing the machine,
so they lean slow). They are only used to refuse runs that would clearly not finish (an
estimate well above the budget); the sandbox's wall limit is what actually stops a run.
"""

from __future__ import annotations

import math

from copilot.codegen import catalog
from copilot.codegen.spec import RunSpec

STARTUP_S = 8.0  # interpreter, torch and gymnasium imports, env and network construction
VECTOR_STEP_S = 2.5e-4  # one batched env step plus the policy forward pass
ENV_STEP_S = 5e-5  # per sub-environment step
UPDATE_S = {"ppo": 2e-3, "a2c": 1.5e-3, "dqn": 2.5e-3, "sac": 9e-3, "td3": 6e-3, "ddpg": 5e-3}
DEFAULT_UPDATE_S = 4e-3
EVAL_STEP_S = 3e-4
REFUSE_FACTOR = 2.0  # refuse only when the estimate exceeds the budget this many times


def config_value(spec: RunSpec, name: str) -> object:
    info = catalog.config_info(spec.algo).get(name)
    return spec.config.get(name, info.default if info else None)


def num_envs(spec: RunSpec) -> int:
    return int(spec.num_envs or catalog.default_num_envs(spec.algo))


def gradient_updates(spec: RunSpec) -> float:
    """How many gradient steps the run will take."""
    n = num_envs(spec)
    if catalog.is_on_policy(spec.algo):
        n_steps = int(config_value(spec, "n_steps") or 128)
        rollouts = math.ceil(spec.total_steps / (n * n_steps))
        epochs = int(config_value(spec, "n_epochs") or 1)
        batch = int(config_value(spec, "batch_size") or n * n_steps)
        return rollouts * epochs * math.ceil(n * n_steps / batch)
    starts = int(config_value(spec, "learning_starts") or 0)
    freq = int(config_value(spec, "train_freq") or 1)
    grads = int(config_value(spec, "gradient_steps") or 1)
    return max(0, spec.total_steps - starts) / (n * freq) * grads


def estimate_seconds(spec: RunSpec, max_episode_steps: int = 500) -> float:
    """Rough wall seconds for ``spec`` (startup, stepping, updates and evaluation)."""
    n = num_envs(spec)
    batch = config_value(spec, "batch_size") or 256
    width = max(config_value(spec, "hidden") or [256])
    size = max(1.0, float(batch) / 256) * max(1.0, float(width) / 256)
    stepping = spec.total_steps / n * VECTOR_STEP_S + spec.total_steps * ENV_STEP_S
    updates = gradient_updates(spec) * UPDATE_S.get(spec.algo, DEFAULT_UPDATE_S) * size
    evaluation = spec.eval_episodes * max_episode_steps * EVAL_STEP_S
    return STARTUP_S + stepping + updates + evaluation


def max_steps_within(spec: RunSpec, budget_s: float) -> int:
    """About how many steps of ``spec`` fit ``budget_s`` (rounded down to 2 digits)."""
    per_step = (estimate_seconds(spec) - estimate_seconds(_with_steps(spec, 0))) / max(spec.total_steps, 1)
    room = budget_s - estimate_seconds(_with_steps(spec, 0))
    steps = max(0, int(room / max(per_step, 1e-9)))
    return int(float(f"{steps:.2g}")) if steps else 0


def _with_steps(spec: RunSpec, steps: int) -> RunSpec:
    from dataclasses import replace

    return replace(spec, total_steps=steps)
