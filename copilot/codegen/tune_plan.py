"""A tuning request ("find a good learning rate for PPO on CartPole") -> an ``rlcore tune`` study plan.

:func:`tune_plan` reads which config fields to search (the hyperparameters the request names,
or lr and gamma when it names none), their ranges (stated as "between X and Y", else a known
default range), the number of trials ("12 trials", else :data:`DEFAULT_TRIALS`; each run
must fit the per-run budget) and seeds per trial ("3 seeds", else 2). A named parameter the
algorithm lacks, or one with no known range and none stated, is an ask not done; nothing is
replaced by something else. :func:`check_tune` verifies the study from its journal file.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.errors import Impossible
from copilot.codegen.facts import HYPER, _find
from copilot.codegen.numbers import NUMBER, NUMBER_RE, match_value
from copilot.codegen.verify import CHECKS

DEFAULT_TRIALS = 10
DEFAULT_SEEDS = 2
MAX_RUNS = 60
WORKERS = 2
STUDY_NAME = "tune"
# generic name -> search space when the request states no range (rlcore tune --param forms).
SPACES = {
    "lr": "log:1e-5:1e-2",
    "actor_lr": "log:1e-5:1e-2",
    "critic_lr": "log:1e-5:1e-2",
    "gamma": "float:0.9:0.9999",
    "ent_coef": "log:1e-5:0.1",
    "vf_coef": "float:0.1:1.0",
    "clip_range": "float:0.1:0.4",
    "gae_lambda": "float:0.8:0.99",
    "max_grad_norm": "float:0.3:5.0",
    "n_epochs": "int:3:20",
    "batch_size": "choice:32,64,128,256",
    "n_steps": "choice:64,128,256,512",
    "tau": "log:1e-3:0.05",
    "exploration_final_eps": "float:0.01:0.2",
    "exploration_fraction": "float:0.05:0.5",
    "target_noise": "float:0.05:0.5",
    "exploration_noise": "float:0.05:0.5",
}
LOG_NAMES = {"lr", "actor_lr", "critic_lr", "ent_coef", "tau"}
UNNAMED = ("lr", "gamma")  # searched when the request names no hyperparameter


def named(text: str, stated: dict[str, Any]) -> list[str]:
    """Generic hyperparameter names the request mentions without giving them a value, in order."""
    hits = []
    for name, phrases in HYPER.items():
        if name in stated:
            continue
        spans = [m.start() for p in phrases for m in [_find(text, p)] if m]
        if spans:
            hits.append((min(spans), name))
    hits.sort()
    out = [n for _, n in hits]
    return [n for n in out if not any(n != o and n in o.split("_") and o in out for o in out)]


def stated_range(text: str) -> tuple[float, float] | None:
    """``between 1e-5 and 1e-3`` / ``from 0.9 to 0.999`` / ``in [a, b]`` -> (low, high)."""
    m = re.search(
        rf"(?:between|from|in\s*\[|range\s*(?:of\s*)?\[?)\s*({NUMBER})\s*(?:and|to|-|,)\s*({NUMBER})",
        text,
        re.IGNORECASE,
    )
    if not m:
        return None
    low, high = (float(match_value(x)) for x in NUMBER_RE.finditer(m.group(0)))
    return (low, high) if low < high else None


def _space(field: str, info: Any, rng: tuple[float, float] | None, generic: str) -> str:
    if rng is None:
        space = SPACES.get(field) or SPACES.get(generic)
        if space is None:
            raise Impossible(
                f"No search range is known for {field}; state one, e.g. '{field.replace('_', ' ')} "
                "between LOW and HIGH'."
            )
        return space
    low, high = rng
    if info.type == "integer":
        return f"int:{int(low)}:{int(high)}"
    kind = "log" if generic in LOG_NAMES and low > 0 else "float"
    return f"{kind}:{low:g}:{high:g}"


def search_space(asked: Any, spec: Any, facts: Any) -> tuple[dict[str, str], list[str]]:
    """(field -> 'kind:...' space, what the request named); Impossible for what cannot be searched."""
    from copilot.codegen.plan import field_for

    names = named(asked.text, facts.hyper)
    rng = stated_range(asked.text) if len(names) <= 1 else None
    fields = catalog.config_info(spec.algo)
    space: dict[str, str] = {}
    for generic in names or list(UNNAMED):
        targets = field_for(spec.algo, generic)
        if not targets:
            if not names:
                continue  # a default field this algorithm lacks (e.g. gamma-less agents)
            raise Impossible(
                f"{spec.algo.upper()} has no {generic} setting to tune; its settings are {', '.join(fields)}."
            )
        for field in targets:
            space[field] = _space(field, fields[field], rng, generic)
    if not space:
        raise Impossible(
            f"None of {', '.join(UNNAMED)} is a {spec.algo.upper()} setting; name the settings to tune."
        )
    return space, names


def _trials(text: str, seeds: int) -> int:
    """Trials stated ("12 trials"), else :data:`DEFAULT_TRIALS`; at most :data:`MAX_RUNS` runs in all."""
    m = re.search(r"(\d+)\s*(?:optuna\s+)?trials", text, re.IGNORECASE)
    trials = int(m.group(1)) if m else DEFAULT_TRIALS
    if not 1 <= trials * seeds <= MAX_RUNS:
        raise Impossible(
            f"{trials} trials x {seeds} seeds is {trials * seeds} runs; one request runs 1 to {MAX_RUNS} "
            "here, so ask for fewer trials or seeds."
        )
    return trials


def tune_plan(asked: Any, spec: Any, facts: Any, budget_s: float | None) -> tuple[dict[str, Any], list]:
    """(the study's settings, its asks) for a tuning request on the checked base ``spec``."""
    from copilot.codegen.plan import Ask, _stated_asks

    space, names = search_space(asked, spec, facts)
    seeds = len(asked.seeds) or DEFAULT_SEEDS
    trials = _trials(asked.text, seeds)
    study = {
        "algo": spec.algo,
        "env": spec.env_id,
        "params": [f"{f}={s}" for f, s in space.items()],
        "trials": trials,
        "seeds": seeds,
        "steps": spec.total_steps,
        "fixed": {k: v for k, v in spec.config.items() if k not in space},
        "parts": dict(spec.parts),
        "num_envs": spec.num_envs,
        "eval_episodes": max(1, spec.eval_episodes),
    }
    what = ", ".join(space) + ("" if names else " (the request names no hyperparameter: lr and gamma)")
    asks = [
        Ask(
            "tune",
            f"Tune {what} of {spec.algo.upper()} on {spec.env_id} with Optuna: {trials} trials x "
            f"{seeds} seeds, {spec.total_steps:,} steps each",
            check={"how": "tune", "trials": trials, "space": space, "seeds": seeds},
        ),
        Ask(
            "best",
            f"The best trial's {seeds} runs, with the best config as an rlcore train command",
            check={"how": "runs", "count": seeds, "steps": spec.total_steps},
        ),
        Ask("plot", "Optimisation history plot", check={"how": "artifact", "kind": "history"}),
        Ask("plot", "Parameter importances plot", check={"how": "artifact", "kind": "importances"}),
    ]
    return study, asks + _stated_asks(facts, spec) + _beyond(asked, list(space), Ask)


def _beyond(asked: Any, searched: list[str], Ask: Any) -> list:
    """Asks not done: what a request wants besides the study (a grid, post steps, several tasks)."""
    out = []
    if len(asked.algos) > 1 or len(asked.envs) > 1:
        out.append(
            Ask(
                "tune",
                "Tune several algorithms or envs",
                False,
                "a study tunes one algorithm on one env; ask for one study per algorithm and env.",
            )
        )
    grid = [
        n
        for n in list(asked.values) + list(asked.parts)  # a two-value "list" of a searched field is its range
        if n not in searched and not any(n in s.split("_") for s in searched)
    ]
    if grid or asked.toggles:
        what = (grid or asked.toggles)[0]
        out.append(
            Ask(
                "axis",
                f"Compare fixed values of {what}",
                False,
                "a tuning study searches values; comparing "
                "fixed values is a separate request (e.g. 'compare learning rates 1e-3 and 3e-4').",
            )
        )
    for what, flag in (
        ("export", asked.exports),
        ("checkpoint evaluation", asked.evaluate_episodes),
        ("continuing a run", asked.more_steps),
        ("a custom env or reward", asked.custom_env or asked.reward),
    ):
        if flag:
            out.append(
                Ask(
                    "post",
                    f"{what} with the tuning study",
                    False,
                    f"{what} is planned for single runs only, not with a tuning study.",
                )
            )
    return out


def covered_spec(spec: Any, study: dict[str, Any]) -> Any:
    """``spec`` with the searched fields set, so the request's words for them count as covered."""
    searched = {p.split("=", 1)[0]: None for p in study["params"]}
    return replace(spec, config={**spec.config, **searched})


def _in_space(value: Any, space: str) -> bool:
    kind, _, body = space.partition(":")
    if kind == "choice":
        return str(value) in body.split(",")
    low, high = (float(x) for x in body.split(":"))
    return isinstance(value, (int, float)) and low * (1 - 1e-9) <= value <= high * (1 + 1e-9)


def check_tune(ask: Any, out: dict[str, Any]) -> tuple[bool, str]:
    """Read the study journal the script wrote: enough finished trials, a best one inside the space."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = (out.get("artifacts") or {}).get("study")
    if not path:
        return False, "no study journal was written."
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=STUDY_NAME, storage=optuna.storages.JournalStorage(JournalFileBackend(path))
    )
    trials = study.get_trials(deepcopy=False)
    states = {s: sum(t.state.name == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL")}
    want = ask.check["trials"]
    if states["COMPLETE"] + states["PRUNED"] < want:
        return (
            False,
            f"the study holds {states['COMPLETE']} complete and {states['PRUNED']} pruned trials, not {want}.",
        )
    best = study.best_trial
    bad = [f for f, s in ask.check["space"].items() if not _in_space(best.params.get(f), s)]
    if bad:
        return (
            False,
            f"the best trial's {bad[0]} = {best.params.get(bad[0])} is outside {ask.check['space'][bad[0]]}.",
        )
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items())
    return True, (
        f"{states['COMPLETE']} complete, {states['PRUNED']} pruned, {states['FAIL']} failed trials; best "
        f"trial {best.number}: {shown} with IQM {best.value:.1f} over {ask.check['seeds']} seeds."
    )


CHECKS.setdefault("tune", check_tune)
