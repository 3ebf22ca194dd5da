"""The grid of an experiment: axes -> one spec per run, with labels, groups and checks.

A run spec is a plain dict (it travels to Ray workers and is written to ``spec.json`` in
the run folder): ``algo``, ``env`` (an env id or the label of an env factory), ``seed``,
``steps``, ``config``, ``parts``, ``num_envs``, ``env_kwargs``, ``eval_episodes``,
``variant``, ``label``, ``group``, ``task`` and ``run_dir``. Env factories travel beside
the spec, not in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rlcore.errors import RLCoreError

VARIANT_KEYS = ("config", "parts", "num_envs", "env_kwargs")
METRICS = ("iqm", "mean")
SPEC_KEYS = ("algo", "env", "seed", "steps", "config", "parts", "num_envs", "env_kwargs", "eval_episodes")


def slug(text: str) -> str:
    """A folder-safe form of a label ("ppo/lr=1e-3" -> "ppo_lr=1e-3")."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("_") or "run"


def _listed(name: str, value: Any) -> list:
    items = [value] if isinstance(value, (str, int)) else list(value or [])
    if not items:
        raise RLCoreError(f"Experiment {name} is empty; accepted: a non-empty list.")
    if len(set(map(str, items))) != len(items):
        raise RLCoreError(f"Experiment {name} {items!r} repeats a value; accepted: distinct values.")
    return items


def split_envs(envs: Any) -> tuple[list[str], dict[str, Callable]]:
    """Env labels in order and the factories among them (``{"label": factory}`` entries)."""
    if isinstance(envs, Mapping):
        labels, factories = [], {}
        for label, value in envs.items():
            if isinstance(value, str):
                labels.append(value)
            elif callable(value):
                labels.append(str(label))
                factories[str(label)] = value
            else:
                raise RLCoreError(f"Env {label!r} maps to {type(value).__name__}; accepted: an env id or a "
                                  "function returning a gymnasium.Env.")
        return _listed("envs", labels), factories
    labels, factories = [], {}
    for value in _listed("envs", envs):
        if isinstance(value, str):
            labels.append(value)
        elif callable(value):
            name = getattr(value, "__name__", "env")
            labels.append(name)
            factories[name] = value
        else:
            raise RLCoreError(f"Env {value!r} is not an env id or a factory; accepted: an env id string, "
                              "a function returning a gymnasium.Env, or {label: factory}.")
    return _listed("envs", labels), factories


def _check_variant(name: str, variant: Any) -> dict:
    if not isinstance(variant, Mapping):
        raise RLCoreError(f"Variant {name!r} is a {type(variant).__name__}; accepted: a dict with keys "
                          f"{', '.join(VARIANT_KEYS)}.")
    for key in variant:
        if key not in VARIANT_KEYS:
            raise RLCoreError(f"Variant {name!r} has unknown key {key!r}; accepted: {', '.join(VARIANT_KEYS)}.")
    return dict(variant)


def merge(common: Mapping, variant: Mapping) -> dict[str, Any]:
    """``common`` settings with ``variant`` on top (config, parts and env_kwargs merge by key)."""
    out = {"config": {}, "parts": {}, "num_envs": None, "env_kwargs": {}}
    for layer in (common, variant):
        for key in ("config", "parts", "env_kwargs"):
            out[key].update(layer.get(key) or {})
        if layer.get("num_envs") is not None:
            out["num_envs"] = int(layer["num_envs"])
    return out


def _group_label(algo: str, env: str, variant: str | None, axes: dict[str, bool]) -> tuple[str, str]:
    """(group, run label). A group starts with the algorithm and names every other varying axis
    but seed; when envs vary beside algorithms or variants, envs are tasks inside each group."""
    envs_are_tasks = axes["envs"] and (axes["algos"] or axes["variants"])
    names = [algo]
    if axes["envs"] and not envs_are_tasks:
        names.append(env)
    if variant is not None and axes["variants"]:
        names.append(variant)
    group = "/".join(names)
    return group, f"{group}/{env}" if envs_are_tasks else group


def expand(algos: list[str], envs: list[str], seeds: list[int], variants: Mapping | None,
           common: Mapping | None, steps: int, eval_episodes: int, out: Path) -> list[dict[str, Any]]:
    """One spec per (algo, env, variant, seed), in that nesting order."""
    common = _check_variant("common", common or {})
    named = {str(k): _check_variant(str(k), v) for k, v in (variants or {}).items()}
    axes = {"algos": len(algos) > 1, "envs": len(envs) > 1, "variants": len(named) > 1}
    specs = []
    for algo in algos:
        for env in envs:
            for variant in (list(named) or [None]):
                settings = merge(common, named.get(variant, {}) if variant else {})
                group, label = _group_label(algo, env, variant, axes)
                for seed in seeds:
                    specs.append({"algo": algo, "env": env, "seed": int(seed), "steps": int(steps),
                                  **settings, "eval_episodes": int(eval_episodes), "variant": variant,
                                  "label": label, "group": group, "task": env,
                                  "run_dir": str(out / "runs" / f"{slug(label)}-seed{int(seed)}")})
    return specs


def identity(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a spec that decides the run's result (compared to skip finished runs)."""
    return {k: spec[k] for k in SPEC_KEYS}


def check_scalars(seeds: Any, steps: Any, eval_episodes: Any, metric: str) -> list[int]:
    """Validated seeds (a list of ints); one-sentence errors for bad steps, episodes or metric."""
    seeds = list(range(seeds)) if isinstance(seeds, int) and not isinstance(seeds, bool) else seeds
    seeds = _listed("seeds", seeds)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise RLCoreError(f"Experiment seeds {seeds!r} are not all integers; accepted: a list of integers.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise RLCoreError(f"Experiment steps {steps!r} is not a positive integer; accepted: e.g. 10000.")
    if isinstance(eval_episodes, bool) or not isinstance(eval_episodes, int) or eval_episodes < 1:
        raise RLCoreError(f"eval_episodes {eval_episodes!r} is not a positive integer; accepted: e.g. 10.")
    if metric not in METRICS:
        raise RLCoreError(f"Unknown metric {metric!r}; accepted: {', '.join(METRICS)}.")
    return seeds
