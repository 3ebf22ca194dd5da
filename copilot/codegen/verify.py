"""Each ask checked from the outputs: run.json files, the report, evaluations, artifacts.

:func:`verify` sets ``done`` and a one-line ``detail`` with the numbers on every ask whose
``done`` is still ``None``; an ask already marked not done stays so. ``ok`` is true only
when every ask is done.
"""

from __future__ import annotations

import math
from typing import Any

from copilot.codegen.plan import Ask


def dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(b, bool) or isinstance(a, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-12)
    return str(a).lower() == str(b).lower()


def _fmt(x: Any) -> str:
    return f"{x:.2f}" if isinstance(x, float) else str(x)


def check_runs(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    runs, c = out["runs"], ask.check
    if len(runs) < c.get("count", 1):
        return False, f"{len(runs)} of {c.get('count', 1)} runs finished."
    for path, want in (c.get("same") or {}).items():
        bad = [dig(r, path) for r in runs if not same(dig(r, path), want)]
        if bad:
            return False, f"{path} is {bad[0]} in a run, not {want}."
    steps = [dig(r, "total_steps") for r in runs]
    want = c.get("steps")
    if want and any(not isinstance(s, int) or not want <= s <= want * 1.06 for s in steps):
        return False, f"runs trained {sorted(set(steps))} steps, not {want}."
    rets = [dig(r, "eval.return_mean") for r in runs if isinstance(dig(r, "eval.return_mean"), (int, float))]
    ret = f"; eval return {min(rets):.1f} to {max(rets):.1f}" if len(rets) > 1 else (
        f"; eval return {rets[0]:.1f}" if rets else "")
    return True, f"{len(runs)} run(s) finished, {steps[0]} steps each{ret}."


def check_distinct(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    path, want = ask.check["path"], ask.check["values"]
    got = [dig(r, path) for r in out["runs"]]
    missing = [w for w in want if not any(same(g, w) for g in got)]
    seen = sorted({_fmt(g) for g in got}, key=str)
    if missing:
        return False, f"no finished run has {path} = {missing[0]} (runs have {', '.join(seen)})."
    return True, f"runs cover {path} = {', '.join(seen)}."


def check_report(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    rep = out.get("report") or {}
    groups = {k: g for k, g in (rep.get("groups") or {}).items() if isinstance(g, dict) and all(
        isinstance(g.get(x), (int, float)) for x in ("point", "lower", "upper"))}
    need = ask.check.get("groups", 1)
    if len(groups) < need:
        return False, f"the report has {len(groups)} group(s) with an estimate and CI, {need} expected."
    text = "; ".join(f"{k}: {g['point']:.1f} [{g['lower']:.1f}, {g['upper']:.1f}]" for k, g in groups.items())
    return True, f"{rep.get('metric', 'score')} with 95% CI per group: {text}."


def check_best(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    rep = out.get("report") or {}
    if not rep.get("best"):
        return False, "the report names no best group."
    return True, str(rep.get("verdict") or f"best: {rep['best']}")


def check_artifact(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    kind = ask.check["kind"]
    path = (out.get("artifacts") or {}).get(kind)
    return (True, f"written to {path}.") if path else (False, f"no {kind} file was written.")


def check_evaluation(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    n = ask.check["episodes"]
    for ev in out.get("evaluations") or []:
        if ev.get("episodes") == n and isinstance(ev.get("return_mean"), (int, float)):
            return True, (f"checkpoint {ev.get('checkpoint')} reloaded: return {ev['return_mean']:.2f} +/- "
                          f"{ev.get('return_std') or 0:.2f} over {n} episodes.")
    return False, f"no evaluation of the saved checkpoint over {n} episodes was recorded."


def check_total(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    want = ask.check["steps"]
    got = [dig(r, "total_steps") for r in out["runs"]]
    if got and all(isinstance(s, int) and want <= s <= want * 1.06 for s in got):
        return True, f"the run continued in the same folder to {got[0]} steps in total."
    return False, f"the run has {got[0] if got else 'no'} steps in total, not {want}."


def check_fix(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    base, want = ask.check["baseline"], ask.check.get("above", ask.check["baseline"])
    rets = [dig(r, "eval.return_mean") for r in out["runs"]]
    rets = [x for x in rets if isinstance(x, (int, float))]
    if not rets:
        return False, "the new run has no evaluation return to compare."
    best = max(rets)
    verdict = "fixed" if best > want else "not fixed"
    return best > want, (f"{verdict}: the new run's evaluation return is {best:.1f} vs {base:.1f} for the failing "
                         f"run ({ask.check.get('what', 'baseline')}).")


def check_written(ask: Ask, out: dict[str, Any]) -> tuple[bool, str]:
    ok, detail = check_runs(ask, out)
    return ok, (f"{ask.check.get('detail', 'written code')}; checked and smoke-run, then {detail}" if ok else detail)


CHECKS = {"runs": check_runs, "distinct": check_distinct, "report": check_report, "best": check_best,
          "artifact": check_artifact, "evaluation": check_evaluation, "total": check_total, "fix": check_fix,
          "written": check_written}


def verify(asks: list[Ask], out: dict[str, Any]) -> bool:
    """Decide every open ask from ``out`` (runs, report, evaluations, artifacts); all done?"""
    for ask in asks:
        if ask.done is not None:
            continue
        if "path" in ask.check and "value" in ask.check:
            vals = [dig(r, ask.check["path"]) for r in out["runs"]]
            ask.done = bool(vals) and all(same(v, ask.check["value"]) for v in vals)
            ask.detail = (f"{ask.check['path']} = {_fmt(vals[0])} in every run." if ask.done else
                          f"{ask.check['path']} is {vals[0] if vals else 'missing'}, not {ask.check['value']}.")
            continue
        kind = ask.check.get("how", "runs")
        ask.done, ask.detail = CHECKS[kind](ask, out)
    return all(a.done for a in asks)
