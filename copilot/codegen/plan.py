"""Asks + the checked base RunSpec -> a plan: one run or a grid, post steps, written code.

:func:`make_plan` turns what :mod:`copilot.codegen.asks` read into a :class:`Plan`: the
grid an :class:`rlcore.experiment.Experiment` runs (algorithms x envs x variants x seeds),
or one run with post steps (evaluation of the saved checkpoint, exports, continuing the
run), the reward wrapper or custom env the script defines, and one :class:`Ask` per
checkable part of the request. A part that cannot be done makes ``refusal`` one sentence
and leaves its ask not done; nothing is silently replaced.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.asks import Asked
from copilot.codegen.checks import check_action_space, check_steps
from copilot.codegen.errors import Impossible
from copilot.codegen.facts import FLAGS, SPREAD
from copilot.codegen.spec import RunSpec
from copilot.codegen.terms import unmapped, unmapped_sentence
from copilot.codegen.written import Written, grid_env, reward_wrapper

FIXED_ACTIVATION = {"sac": "relu", "td3": "relu", "ddpg": "relu"}  # rlcore.agents.offpolicy builds ReLU nets
MAX_RUNS = 24
WORKERS = 2


@dataclass
class Ask:
    """One checkable part of the request; ``check`` says how :mod:`verify` decides it."""

    kind: str
    ask: str
    done: bool | None = None
    detail: str = ""
    check: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ask": self.ask, "done": self.done, "detail": self.detail}


@dataclass
class Plan:
    spec: RunSpec
    asks: list[Ask] = field(default_factory=list)
    grid: dict[str, Any] | None = None
    post: dict[str, Any] = field(default_factory=dict)  # evaluate, exports, more_steps
    written: Written | None = None
    refusal: str | None = None
    fix: dict[str, Any] | None = None
    tune: dict[str, Any] | None = None  # an rlcore tune study (copilot.codegen.tune_plan)

    def run_count(self) -> int:
        if self.tune:
            return self.tune["trials"] * self.tune["seeds"]
        if not self.grid:
            return 1
        g = self.grid
        return len(g["algos"]) * len(g["envs"]) * max(1, len(g["variants"])) * len(g["seeds"])


def _say(x: Any) -> str:
    return ", ".join(map(str, x)) if isinstance(x, (list, tuple)) else str(x)


def field_for(algo: str, name: str) -> list[str]:
    """Config fields of ``algo`` a generic name sets (``lr`` -> SAC's actor_lr and critic_lr)."""
    fields = catalog.config_info(algo)
    if name in fields:
        return [name]
    return [f for f in SPREAD.get(name, ()) if f in fields]


def _value_axis(algos: list[str], name: str, values: list[Any]) -> list[tuple[str, dict]]:
    targets = field_for(algos[0], name)
    if not targets or any(field_for(a, name) != targets for a in algos):
        raise Impossible(f"{name} is not a config field of {_say(algos)}; accepted fields: "
                         f"{', '.join(catalog.config_info(algos[0]))}.")
    for value in values:
        for target in targets:
            reason = catalog.config_info(algos[0])[target].check(value)
            if reason:
                raise Impossible(f"The request tries {target}={value!r}, but {target} {reason}.")
    return [(f"{name}={v:g}" if isinstance(v, float) else f"{name}={v}", {"config": {t: v for t in targets}})
            for v in values]


def _part_axis(algos: list[str], role: str, keys: list[str]) -> list[tuple[str, dict]]:
    for algo in algos:
        slots = catalog.part_keys(algo)
        bad = [k for k in keys if k not in slots.get(role, ())]
        if bad:
            raise Impossible(f"{role} {bad[0]!r} does not fit {algo.upper()}; accepted: "
                             f"{', '.join(slots.get(role, ())) or 'none'}.")
    return [(f"{role}={k}", {"parts": {role: k}}) for k in keys]


def _toggle_axis(algos: list[str], toggle: str) -> list[tuple[str, dict]]:
    if "=" in toggle:
        role, key = toggle.split("=", 1)
        return [(f"with {key}", {"parts": {role: key}}), (f"without {key}", {})]
    if any(toggle not in catalog.config_info(a) for a in algos):
        raise Impossible(f"{toggle} is not a config field of {_say(algos)}, so it cannot be switched on and off.")
    on, off = toggle_values(algos[0], toggle)
    return [(f"{toggle}={on}", {"config": {toggle: on}}), (f"{toggle}={off}", {"config": {toggle: off}})]


def toggle_values(algo: str, toggle: str) -> tuple[Any, Any]:
    """(on, off) of a toggled field: True/False, or the stated choice and the field's default."""
    info = catalog.config_info(algo).get(toggle)
    if info is None or not info.choices:
        return True, False
    on = FLAGS[toggle][0] if toggle in FLAGS else next(c for c in info.choices if c != info.default)
    return on, info.default


def variants(asked: Asked, algos: list[str]) -> dict[str, dict]:
    """Variant label -> {config, parts}: the product of every value, part and toggle axis."""
    axes = [_value_axis(algos, n, v) for n, v in asked.values.items()]
    axes += [_part_axis(algos, r, k) for r, k in asked.parts.items()]
    axes += [_toggle_axis(algos, t) for t in asked.toggles]
    out: dict[str, dict] = {}
    for combo in itertools.product(*axes) if axes else []:
        label = ", ".join(lbl for lbl, _ in combo)
        merged: dict[str, dict] = {}
        for _, var in combo:
            for key, val in var.items():
                merged.setdefault(key, {}).update(val)
        out[label] = merged
    return out


def _common(spec: RunSpec, var: dict[str, dict]) -> dict[str, Any]:
    varied_cfg = {k for v in var.values() for k in v.get("config", {})}
    varied_parts = {k for v in var.values() for k in v.get("parts", {})}
    common: dict[str, Any] = {"config": {k: v for k, v in spec.config.items() if k not in varied_cfg},
                              "parts": {k: v for k, v in spec.parts.items() if k not in varied_parts}}
    if spec.num_envs:
        common["num_envs"] = spec.num_envs
    return common


def _check_pairs(spec: RunSpec, algos: list[str], envs: list[str], budget_s: float | None) -> None:
    for algo in algos:
        for env in envs:
            if catalog.env_registered(env):
                check_action_space(algo, env)
                cfg = spec.config if algo == spec.algo else {}
                check_steps(replace(spec, algo=algo, env_id=env, config=dict(cfg)), budget_s)


def make_grid(asked: Asked, spec: RunSpec, env_ids: list[str], budget_s: float | None) -> dict[str, Any]:
    """Experiment keyword arguments for the grid the request asks for."""
    algos = asked.algos or [spec.algo]
    for extra in algos[1:]:
        bad = [k for k in spec.config if k not in catalog.config_info(extra)]
        if bad:
            raise Impossible(f"{bad[0]} is set for every run but {extra.upper()} has no such config field; "
                             f"name it per algorithm or compare algorithms that share it.")
    var = variants(asked, algos)
    _check_pairs(spec, algos, env_ids, budget_s)
    seeds = asked.seeds or [spec.seed]
    metric = "mean" if asked.metric == "mean" else "iqm"
    grid = {"algos": algos, "envs": env_ids, "seeds": seeds, "steps": spec.total_steps, "variants": var,
            "common": _common(spec, var), "eval_episodes": max(1, spec.eval_episodes), "metric": metric}
    runs = len(algos) * len(env_ids) * max(1, len(var)) * len(seeds)
    if runs > MAX_RUNS:
        raise Impossible(f"The request asks for {runs} runs; one request runs at most {MAX_RUNS} here, so "
                         "ask for fewer seeds, values or algorithms.")
    return grid


def network_asks(asked: Asked, spec: RunSpec) -> list[Ask]:
    """Hidden sizes and activation: set where a config field exists, else not done."""
    asks = []
    fields = catalog.config_info(spec.algo)
    if asked.hidden:
        if "hidden" in fields:
            spec.config["hidden"] = list(asked.hidden)
            asks.append(Ask("network", f"Hidden layers {_say(asked.hidden)}",
                            check={"path": "config.hidden", "value": list(asked.hidden)}))
        else:
            asks.append(Ask("network", f"Hidden layers {_say(asked.hidden)}", False,
                            f"{spec.algo.upper()} has no hidden-size setting."))
    if asked.activation:
        act = asked.activation
        info = fields.get("activation")
        if info and act in info.choices:
            spec.config["activation"] = act
            asks.append(Ask("network", f"{act} activation", check={"path": "config.activation", "value": act}))
        elif info:
            asks.append(Ask("network", f"{act} activation", False, f"{spec.algo.upper()}'s activation accepts "
                            f"{', '.join(info.choices)}, not {act}."))
        elif FIXED_ACTIVATION.get(spec.algo) == act:
            asks.append(Ask("network", f"{act} activation", True, f"{spec.algo.upper()}'s networks always use "
                            f"{act} (rlcore has no activation setting for it)."))
        else:
            asks.append(Ask("network", f"{act} activation", False, f"{spec.algo.upper()} has no activation "
                            f"setting (its networks use {FIXED_ACTIVATION.get(spec.algo, 'a fixed one')}); the "
                            f"nearest option is hidden (layer widths)."))
    return asks


def written_code(asked: Asked, spec: RunSpec) -> Written | None:
    if asked.custom_env:
        return grid_env(asked.custom_env)
    if asked.reward:
        return reward_wrapper(asked.reward, spec.env_id)
    return None


def expected_groups(grid: dict[str, Any]) -> int:
    """Report groups rlcore.experiment forms: algorithm x variant (x env when envs are the only axis)."""
    algos, envs, var = len(grid["algos"]), len(grid["envs"]), max(1, len(grid["variants"]))
    envs_are_tasks = envs > 1 and (algos > 1 or var > 1)
    return algos * var * (1 if envs_are_tasks or envs == 1 else envs)


def _stated_asks(facts: Any, spec: RunSpec) -> list[Ask]:
    asks = []
    for name, value in facts.hyper.items():
        if name == "hidden":
            continue
        if not field_for(spec.algo, name):
            asks.append(Ask("config", f"{name} = {value}", False, f"{spec.algo.upper()} has no {name} setting; its "
                            f"settings are {', '.join(catalog.config_info(spec.algo))}."))
        for target in field_for(spec.algo, name):
            asks.append(Ask("config", f"{target} = {value}", check={"path": f"config.{target}",
                                                                   "value": spec.config.get(target, value)}))
    for role, key in spec.parts.items():
        asks.append(Ask("part", f"{role} part {key}", check={"path": f"modules.{role}", "value": key}))
    return asks


def _grid_asks(plan: Plan, asked: Asked) -> list[Ask]:
    g, n = plan.grid, plan.run_count()
    var = f" x {len(g['variants'])} variants" if g["variants"] else ""
    asks = [Ask("grid", f"{n} runs: {'/'.join(a.upper() for a in g['algos'])} on {', '.join(g['envs'])}{var} x "
                f"seeds {_say(g['seeds'])}, {g['steps']:,} steps each",
                check={"how": "runs", "count": n, "steps": g["steps"]})]
    for path, values in (("algo", g["algos"]), ("env", g["envs"]), ("seed", g["seeds"])):
        if len(values) > 1 and not (path == "env" and plan.written):
            asks.append(Ask("axis", f"Every {path}: {_say(values)}", check={"how": "distinct", "path": path,
                                                                             "values": values}))
    for name, values in asked.values.items():
        target = field_for(g["algos"][0], name)[0]
        asks.append(Ask("axis", f"{name} values {_say(values)}", check={"how": "distinct",
                                                                          "path": f"config.{target}", "values": values}))
    for role, keys in asked.parts.items():
        asks.append(Ask("axis", f"{role} parts {_say(keys)}", check={"how": "distinct", "path": f"modules.{role}",
                                                                       "values": keys}))
    for toggle in asked.toggles:
        path, values = (f"modules.{toggle.split('=')[0]}", [toggle.split("=")[1]]) if "=" in toggle else (
            f"config.{toggle}", list(toggle_values(g["algos"][0], toggle)))
        asks.append(Ask("axis", f"With and without {toggle}", check={"how": "distinct", "path": path,
                                                                       "values": values}))
    metric = g["metric"].upper() if g["metric"] == "iqm" else "Mean"
    asks.append(Ask("stats", f"{metric} return with a 95% CI per group",
                    check={"how": "report", "groups": expected_groups(g)}))
    if asked.compare or expected_groups(g) > 1:
        asks.append(Ask("best", "Say which group is best", check={"how": "best"}))
    return asks


def _single_asks(plan: Plan, asked: Asked, facts: Any) -> list[Ask]:
    spec, post = plan.spec, plan.post
    steps = None if post.get("more_steps") else spec.total_steps
    env = plan.written.env_id if plan.written else spec.env_id
    asks = [Ask("train", f"Train {spec.algo.upper()} on {env} for {spec.total_steps:,} steps (seed {spec.seed})",
                check={"how": "runs", "count": 1, "steps": steps, "same": {"algo": spec.algo, "env": env,
                                                                            "seed": spec.seed}})]
    asks += _stated_asks(facts, spec)
    if asked.metric:
        asks.append(Ask("stats", f"{asked.metric.upper()} return with a confidence interval", False,
                        "one run has no spread across seeds; ask for several seeds (e.g. '3 seeds')."))
    if post.get("more_steps"):
        total = spec.total_steps + post["more_steps"]
        asks.append(Ask("resume", f"Continue the same run for {post['more_steps']:,} more steps",
                        check={"how": "total", "steps": total}))
    if post.get("evaluate"):
        asks.append(Ask("evaluate", f"Reload the saved checkpoint and evaluate it for {post['evaluate']} episodes",
                        check={"how": "evaluation", "episodes": post["evaluate"]}))
    for fmt in post.get("exports", []):
        asks.append(Ask("export", f"Export the policy to {fmt}", check={"how": "artifact", "kind": fmt}))
    return asks


def make_plan(asked: Asked, spec: RunSpec, facts: Any, budget_s: float | None,
              written: Written | None = None) -> Plan:
    """The plan for ``asked`` on the checked base ``spec`` (see the module doc)."""
    plan = Plan(spec=spec, written=written)
    if asked.tune:
        from copilot.codegen.tune_plan import covered_spec, tune_plan

        plan.tune, plan.asks = tune_plan(asked, spec, facts, budget_s)
        return _not_done(plan, covered_spec(spec, plan.tune), facts, asked)
    net = network_asks(asked, spec)
    if asked.is_grid():
        env_ids = [written.env_id] if written else (asked.envs or [spec.env_id])
        plan.grid = make_grid(asked, spec, env_ids, budget_s)
        plan.asks = _grid_asks(plan, asked)
        for what, flag in (("export", asked.exports), ("checkpoint evaluation", asked.evaluate_episodes),
                           ("continuing a run", asked.more_steps)):
            if flag:
                plan.asks.append(Ask("post", f"{what} after the grid", False,
                                     f"{what} is planned for single runs only, not after a grid of runs."))
    else:
        plan.post = {"more_steps": asked.more_steps, "evaluate": asked.evaluate_episodes,
                     "exports": list(asked.exports)}
        plan.asks = _single_asks(plan, asked, facts)
    if asked.plot:
        plan.asks.append(Ask("plot", "One figure with the learning curves", check={"how": "artifact",
                                                                                  "kind": "plot"}))
    if written:
        kind = "env" if written.check_env else "reward"
        what = "Custom environment" if kind == "env" else "Reward change"
        plan.asks.append(Ask(kind, f"{what}: {written.detail}",
                             check={"how": "written", "count": plan.run_count(), "detail": written.detail}))
    plan.asks += net
    return _not_done(plan, spec, facts, asked)


def _not_done(plan: Plan, spec: RunSpec, facts: Any, asked: Asked) -> Plan:
    """Report request terms nothing covers; the first ask not done becomes the refusal."""
    lost = [Ask("unmapped", f"Unmapped: {phrase}", False, unmapped_sentence(phrase))
            for phrase in unmapped(spec, facts, asked)]
    plan.asks += lost
    if lost and plan.refusal is None:
        plan.refusal = lost[0].detail
    bad = [a for a in plan.asks if a.done is False]
    if bad and plan.refusal is None:
        plan.refusal = f"Not done: {bad[0].ask} ({bad[0].detail.rstrip('.')})."
    return plan
