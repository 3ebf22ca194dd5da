"""From the LLM's answer to a checked RunSpec: reconcile with the request's facts, then check.

:func:`reconcile` merges the spec the LLM filled with the facts the request states
outright (:mod:`copilot.codegen.facts`): a stated fact wins over the model, and a value the
model invented without any support in the request is dropped. Every such change becomes a
note on the spec. :func:`check_spec` then refuses what cannot work (unknown env, an action
space the algorithm cannot act in, a part rlcore lacks, a budget that cannot fit) with an
:class:`~copilot.codegen.errors.Impossible` sentence saying what would work.
"""

from __future__ import annotations

import math
import re
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.errors import Impossible
from copilot.codegen.facts import HYPER, SPREAD, Facts, env_names
from copilot.codegen.numbers import NUMBER_RE, match_value
from copilot.codegen.spec import MAX_ENVS, MAX_EVAL, MAX_STEPS, RunSpec
from rlcore.config import coerce_value
from rlcore.errors import closest

# Well-known algorithms rlcore does not have (a request naming one is refused, not replaced).
OTHER_ALGOS = ("rainbow", "c51", "qr-dqn", "iqn", "impala", "trpo", "acktr", "acer", "ppg", "daac",
               "drq", "drq-v2", "drqv2", "dreamer", "dreamerv3", "muzero", "r2d2", "ape-x", "tqc",
               "crossq", "redq", "maddpg", "qmix", "dueling dqn", "mappo", "qr dqn")
OTHER_ALGOS_UPPER = ("REINFORCE", "CEM", "HER")  # ordinary English words unless written in capitals
ENV_HINT_WORDS = ("env", "envs", "environment", "environments", "parallel", "workers", "actors")


def _say(algo: str) -> str:
    return algo.upper() if len(algo) <= 4 else algo


def _numbers(text: str) -> list[float]:
    return [match_value(m) for m in NUMBER_RE.finditer(text)]


def _same(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(float(a), b, rel_tol=1e-6)


def field_phrases(name: str) -> list[str]:
    """Words that name config field ``name`` in a request."""
    phrases = [name, name.replace("_", " ")]
    for generic, spread in SPREAD.items():
        if name in spread:
            phrases += HYPER[generic]
    return phrases + list(HYPER.get(name, ()))


def supported(facts: Facts, name: str, value: Any) -> bool:
    """Whether the request backs a config value the model proposed."""
    if facts.mentions(*field_phrases(name)):
        return True
    if isinstance(value, str):
        return facts.mentions(value)
    values = value if isinstance(value, list) else [value]
    nums = _numbers(facts.text)
    return all(any(_same(v, n) for n in nums) for v in values)


def _coerce(info: catalog.FieldInfo, value: Any) -> Any:
    """A JSON-typed value for config field ``info`` through rlcore's coercer (strict: typed
    values); a single number for a layer-width list means two layers of that width."""
    kind = {"array": "tuple", "integer": "int", "number": "float", "boolean": "bool"}.get(info.type, "str")
    if kind == "tuple":
        out = list(coerce_value(value if isinstance(value, (list, tuple)) else [value, value], kind, strict=True))
        if not out or any(v < 1 for v in out):
            raise ValueError(value)
        return out
    return coerce_value(value, kind, strict=True)


def _fact_fields(algo: str, name: str) -> list[str]:
    fields = catalog.config_info(algo)
    if name in fields:
        return [name]
    return [f for f in SPREAD.get(name, ()) if f in fields]


def merge_config(algo: str, proposed: dict[str, Any], facts: Facts, notes: list[str]) -> dict[str, Any]:
    """Config overrides: stated facts first, then the model's values the request supports."""
    fields = catalog.config_info(algo)
    config: dict[str, Any] = {}
    for name, value in facts.hyper.items():
        targets = _fact_fields(algo, name)
        if not targets:
            notes.append(f"{name.replace('_', ' ')} {value} does not apply to {_say(algo)} and was left out.")
        for target in targets:
            info = fields[target]
            try:
                coerced = _coerce(info, value)
            except (TypeError, ValueError):
                raise Impossible(f"{_say(algo)} config field {target!r} needs a {info.type} but the request "
                                 f"gives {value!r}.") from None
            reason = info.check(coerced)
            if reason:
                raise Impossible(f"The request sets {target} to {value!r}, but {target} {reason}.")
            config[target] = coerced
    for name, value in (proposed or {}).items():
        if name in config or name not in fields:
            continue
        info = fields[name]
        try:
            coerced = _coerce(info, value)
        except (TypeError, ValueError):
            notes.append(f"Dropped the model's {name}={value!r} (not a {info.type}).")
            continue
        if info.check(coerced) or not supported(facts, name, coerced):
            notes.append(f"Dropped the model's {name}={value!r}; the request does not ask for it.")
            continue
        if coerced != info.default:
            config[name] = coerced
    return config


def merge_parts(algo: str, proposed: dict[str, Any], facts: Facts, notes: list[str]) -> dict[str, str]:
    parts = dict(facts.parts)
    for role, key in (proposed or {}).items():
        if not key or role in parts:
            continue
        if facts.mentions(str(key)):
            parts[role] = str(key)
        else:
            notes.append(f"Dropped the model's {role}={key!r}; the request does not ask for it.")
    return parts


def _env_supported(env_id: str, facts: Facts) -> bool:
    base = re.sub(r"-v\d+$", "", env_id.split(":")[-1].split("/")[-1])
    words = [w for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", base) if len(w) >= 3]
    text = facts.text.lower()
    return base.lower() in text.replace(" ", "") or any(w.lower()[:5] in text for w in words)


def unknown_env_error(env_id: str) -> Impossible:
    envs = catalog.registered_envs()
    near = closest(env_id, envs) or closest(re.sub(r"-v\d+$", "", env_id), list(env_names()))
    hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
    return Impossible(f"{env_id!r} is not a registered Gymnasium environment{hint}; rlcore trains on "
                      f"registered ids such as {', '.join(catalog.common_envs()[:5])}.")


def choose_env(proposed: Any, facts: Facts, notes: list[str]) -> str:
    if facts.unknown_env:
        raise unknown_env_error(facts.unknown_env)
    if facts.env_id:
        if proposed and proposed != facts.env_id:
            notes.append(f"Env set to {facts.env_id} as the request says (the model proposed {proposed}).")
        return facts.env_id
    env = str(proposed or "").strip()
    if not env or not catalog.env_registered(env):
        raise unknown_env_error(env or "(none)")
    if not _env_supported(env, facts):
        raise Impossible(f"The request names no environment rlcore can find (the model guessed {env!r}); "
                         f"name a registered Gymnasium id such as {', '.join(catalog.common_envs()[:4])}.")
    return env


def missing_algo(facts: Facts) -> str | None:
    """A named algorithm rlcore lacks (unless a registered one is named on its own)."""
    named = [n for n in OTHER_ALGOS if facts.mentions(n) and n not in catalog.algos()]
    named += [n for n in OTHER_ALGOS_UPPER if re.search(rf"\b{n}\b", facts.text)]
    for name in named:
        if facts.algo is None or facts.algo in name.lower():
            return name
    return None


def choose_algo(proposed: Any, facts: Facts, notes: list[str]) -> str:
    missing = missing_algo(facts)
    if missing:
        raise Impossible(f"rlcore has no {missing!r} agent; accepted algorithms: {', '.join(catalog.algos())}.")
    if facts.algo:
        if proposed and proposed != facts.algo:
            notes.append(f"Algorithm set to {facts.algo} as the request says (the model proposed {proposed}).")
        return facts.algo
    if proposed not in catalog.algos():
        raise Impossible(f"Unknown algorithm {proposed!r}; accepted: {', '.join(catalog.algos())}.")
    return str(proposed)


def _pick(fact: Any, proposed: Any, backed: bool, default: Any) -> Any:
    if fact is not None:
        return fact
    return proposed if backed and proposed is not None else default


def reconcile(raw: dict[str, Any], facts: Facts) -> RunSpec:
    """The RunSpec from the model's JSON, corrected by the request's stated facts."""
    notes: list[str] = []
    algo = choose_algo(raw.get("algo"), facts, notes)
    env = choose_env(raw.get("env_id"), facts, notes)
    steps = facts.total_steps or raw.get("total_steps")
    if not isinstance(steps, int) or steps < 1:
        raise Impossible("The request gives no step count; say how long to train, e.g. '20000 steps'.")
    if facts.total_steps is None:
        notes.append(f"The request gives no step count; the model chose {steps}.")
    num_envs = _pick(facts.num_envs, raw.get("num_envs"), facts.mentions(*ENV_HINT_WORDS[2:]), None)
    if num_envs == catalog.default_num_envs(algo) and facts.num_envs is None:
        num_envs = None
    ckpt_backed = facts.checkpoint and facts.mentions("every")
    return RunSpec(
        algo=algo, env_id=env, total_steps=int(steps),
        seed=int(_pick(facts.seed, raw.get("seed"), facts.mentions("seed", "seeded"), 0)),
        num_envs=num_envs,
        config=merge_config(algo, raw.get("config") or {}, facts, notes),
        parts=merge_parts(algo, raw.get("parts") or {}, facts, notes),
        eval_episodes=int(_pick(facts.eval_episodes, raw.get("eval_episodes"),
                                facts.mentions("evaluate", "evaluation", "eval", "episodes"), 10)),
        checkpoint_every=int(_pick(facts.checkpoint_every, raw.get("checkpoint_every"), ckpt_backed, 0)),
        notes=notes)


# ----- checking a spec -------------------------------------------------------------------
def check_action_space(algo: str, env_id: str) -> None:
    try:
        space = catalog.env_action_space(env_id)
    except Exception as exc:  # noqa: BLE001 - gymnasium raises many kinds (missing extras, ...)
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise Impossible(f"The environment {env_id} cannot be created here ({reason}).") from None
    if space == "unknown":
        return  # a module:EnvId env is only built inside the sandboxed run, which checks it
    if space not in catalog.space_names(algo):
        fits = sorted(catalog.algos_for_space(space), key=lambda a: (len(catalog.space_names(a)), a))
        word = catalog.SPACE_WORDS.get(space, space)
        names = ", ".join(fits[:-1]) + f" or {fits[-1]}" if len(fits) > 1 else "".join(fits)
        raise Impossible(f"{_say(algo)} cannot act in {env_id}'s {word} action space; use "
                         f"{names or 'another environment'} for {env_id} instead.", subject="algo")


def check_parts(spec: RunSpec) -> None:
    slots = catalog.part_keys(spec.algo)
    for role, key in spec.parts.items():
        if role not in catalog.roles():
            raise Impossible(f"Unknown part role {role!r}; accepted: {', '.join(catalog.roles())}.")
        registered = catalog.all_part_keys()[role]
        if key not in registered:
            near = closest(key, registered)
            hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
            have = ", ".join(registered) if registered else "none are registered in this rlcore"
            raise Impossible(f"rlcore has no {role} {key!r}{hint}; accepted {role} keys: {have}.")
        if role not in slots:
            raise Impossible(f"{_say(spec.algo)} has no {role} slot, so {role} {key!r} cannot be used with it; "
                             f"its parts are {', '.join(slots)}.")
        if key not in slots[role]:
            raise Impossible(f"{role} {key!r} does not fit {_say(spec.algo)}; accepted: {', '.join(slots[role])}.")


def fit_rollout(spec: RunSpec) -> None:
    """Shrink an unset ``n_steps`` so on-policy rollouts overshoot ``total_steps`` by < 5%."""
    if not catalog.is_on_policy(spec.algo) or "n_steps" in spec.config:
        return
    default = catalog.config_info(spec.algo).get("n_steps")
    if default is None:
        return
    n, total = int(spec.num_envs or catalog.default_num_envs(spec.algo)), spec.total_steps

    def over(k: int) -> int:
        return math.ceil(total / (n * k)) * n * k - total

    best = int(default.default)
    if over(best) <= 0.05 * total:
        return
    floor = min(best, 16)
    fits = [k for k in range(best, floor - 1, -1) if over(k) <= 0.05 * total]
    pick = fits[0] if fits else min(range(floor, best + 1), key=over)
    if pick != best:
        spec.config["n_steps"] = pick
        spec.notes.append(f"n_steps lowered from {best} to {pick} so {n} envs x {pick} steps fit "
                          f"{total} steps closely.")


def check_steps(spec: RunSpec, budget_s: float | None) -> None:
    from copilot.codegen import budget

    if not 1 <= spec.total_steps <= MAX_STEPS:
        raise Impossible(f"total_steps must be between 1 and {MAX_STEPS}; got {spec.total_steps}.")
    n = budget.num_envs(spec)
    if not 1 <= n <= MAX_ENVS:
        raise Impossible(f"num_envs must be between 1 and {MAX_ENVS}; got {n}.")
    if not 0 <= spec.eval_episodes <= MAX_EVAL:
        raise Impossible(f"eval_episodes must be between 0 and {MAX_EVAL}; got {spec.eval_episodes}.")
    if catalog.is_on_policy(spec.algo):
        rollout = n * int(budget.config_value(spec, "n_steps") or 1)
        if spec.total_steps < rollout * 0.5:
            raise Impossible(f"{spec.total_steps} steps is less than one {_say(spec.algo)} rollout of {rollout} "
                             f"steps ({n} envs); ask for at least {rollout} steps or fewer envs.", subject="steps")
    else:
        starts = int(budget.config_value(spec, "learning_starts") or 0)
        if spec.total_steps <= starts:
            raise Impossible(f"{_say(spec.algo)} acts randomly for its first {starts} steps, so {spec.total_steps} "
                             f"steps would learn nothing; ask for at least {4 * max(starts, 250)} steps.", subject="steps")
    if budget_s:
        need = budget.estimate_seconds(spec)
        if need > budget.REFUSE_FACTOR * budget_s:
            fit = budget.max_steps_within(spec, budget_s)
            raise Impossible(f"{_say(spec.algo)} needs roughly {need / 60:.0f} min for {spec.total_steps} steps "
                             f"here, far over the {budget_s:.0f} s budget; ask for about {fit} steps or "
                             "raise the budget.", subject="steps")


def check_spec(spec: RunSpec, budget_s: float | None = None) -> RunSpec:
    """``spec`` checked against rlcore (and adjusted where noted); refuses what cannot run."""
    if spec.algo not in catalog.algos():
        raise Impossible(f"Unknown algorithm {spec.algo!r}; accepted: {', '.join(catalog.algos())}.")
    if not catalog.env_registered(spec.env_id):
        raise unknown_env_error(spec.env_id)
    check_action_space(spec.algo, spec.env_id)
    fields = catalog.config_info(spec.algo)
    for name, value in spec.config.items():
        if name not in fields:
            near = closest(name, fields)
            hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
            raise Impossible(f"Unknown {_say(spec.algo)} config field {name!r}{hint}; accepted: "
                             f"{', '.join(fields)}.")
        reason = fields[name].check(value)
        if reason:
            raise Impossible(f"{_say(spec.algo)} config field {name!r} got {value!r}; it {reason}.")
    check_parts(spec)
    fit_rollout(spec)
    check_steps(spec, budget_s)
    return spec


def precheck(facts: Facts) -> None:
    """Refuse, before asking the model, what the request's own statements make impossible."""
    if facts.unknown_env:
        raise unknown_env_error(facts.unknown_env)
    if facts.total_steps is not None and not 1 <= facts.total_steps <= MAX_STEPS:
        raise Impossible(f"The request asks for {facts.total_steps} steps; rlcore runs from here take between 1 "
                         f"and {MAX_STEPS} steps.", subject="steps")
    choose_algo(facts.algo or catalog.algos()[0], facts, [])  # raises for a named algorithm rlcore lacks
    if not facts.algo:
        return
    if facts.env_id:
        check_action_space(facts.algo, facts.env_id)
    if facts.parts:
        check_parts(RunSpec(facts.algo, facts.env_id or "", 1, parts=dict(facts.parts)))
