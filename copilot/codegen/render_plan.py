"""Plan -> script: one run with post steps, or a grid through ``rlcore.experiment.Experiment``.

Every script writes ``outputs.json`` beside itself: ``runs`` (run folders), ``report``,
``evaluations`` and ``artifacts`` (kind -> path), which :mod:`copilot.codegen.outputs`
reads back and :mod:`copilot.codegen.verify` checks against the asks.
"""

from __future__ import annotations

import json
from typing import Any

from copilot.codegen.plan import WORKERS, Plan
from copilot.codegen.render import _agent_block, _comment, _config_block, _report_block, literal
from copilot.codegen.written import smoke_block

OUTPUTS_NAME = "outputs.json"


def _header(plan: Plan, request: str, title: str) -> list[str]:
    lines = [f'"""{title}', "", "Run it from this folder: python train.py", '"""']
    if request.strip():
        lines.append(f"# Request: {_comment(request, 200)}")
    lines += [f"# Note: {_comment(note, 200)}" for note in plan.spec.notes]
    lines += ["import json", "from pathlib import Path", ""]
    if plan.written:
        lines += ["import gymnasium", "import numpy as np"]
        if plan.written.check_env:
            lines.append("from gymnasium.utils.env_checker import check_env")
        lines.append("")
    return lines


def _written(plan: Plan) -> list[str]:
    if not plan.written:
        return []
    lines = ["", "# ----- code written for this request -----"] + plan.written.code.rstrip().splitlines()
    return lines + [""] + smoke_block(plan.written.check_env) + [""]


def _post_block(plan: Plan) -> list[str]:
    post = plan.post
    lines: list[str] = []
    if post.get("more_steps"):
        lines += ["", f"# Continue the same run for {post['more_steps']:,} more steps (reloaded from its final "
                  "checkpoint, same folder).", f"manifest = resume(RUN_DIR, {literal(post['more_steps'])})",
                  'print(f"continued to {manifest[\'total_steps\']} steps in total")']
    if post.get("evaluate"):
        n = post["evaluate"]
        lines += ["", f"# Reload the final checkpoint and evaluate it for {n} deterministic episodes.",
                  f"ev = evaluate_checkpoint(RUN_DIR, episodes={n})",
                  'OUTPUTS["evaluations"].append({k: ev[k] for k in ("run_dir", "checkpoint", "episodes", '
                  '"return_mean", "return_std")})',
                  'print(f"checkpoint evaluation: {ev[\'return_mean\']:.2f} +/- {ev[\'return_std\']:.2f} '
                  'over {ev[\'episodes\']} episodes")']
    for fmt in post.get("exports", []):
        lines += ["", f"# Export the deterministic policy to {fmt} (checked against PyTorch on random observations).",
                  f'OUTPUTS["artifacts"][{fmt!r}] = export(RUN_DIR, {fmt!r})',
                  f'print("exported", OUTPUTS["artifacts"][{fmt!r}])']
    return lines


def render_single(plan: Plan, request: str = "") -> str:
    """One training run (plus the plan's post steps) that writes outputs.json."""
    spec, post = plan.spec, plan.post
    title = f"{spec.algo.upper()} on {spec.env_id} for {spec.total_steps:,} environment steps (seed {spec.seed})."
    lines = _header(plan, request, title)
    if post.get("evaluate"):
        lines.append("from rlcore.evaluation.checkpoint import evaluate_checkpoint")
    if post.get("exports"):
        lines.append("from rlcore.export import export")
    if post.get("more_steps"):
        lines.append("from rlcore.trainer import resume")
    lines += ["from rlcore import make_agent", "",
              "RUN_DIR = Path(__file__).resolve().parent  # everything is written next to this script",
              'OUTPUTS = {"runs": [str(RUN_DIR)], "evaluations": [], "artifacts": {}}']
    lines += _written(plan)
    if plan.written:
        lines += [f"ENV_ID = {plan.written.env_id!r}",
                  "gymnasium.register(id=ENV_ID, entry_point=make_written_env)  # the written env, by name"]
    lines += [""] + _config_block(spec) + [""]
    agent = _agent_block(spec)
    if plan.written:
        agent[2] = "    ENV_ID,"
    lines += agent + [""]
    lines += ["manifest = agent.train(", f"    {literal(spec.total_steps)},  # environment steps",
              "    out=RUN_DIR,  # run.json, episodes.csv, progress.csv, curve.png, checkpoints/",
              f"    eval_episodes={spec.eval_episodes},  # deterministic evaluation after training"]
    if spec.checkpoint_every:
        lines.append(f"    checkpoint_every={literal(spec.checkpoint_every)},  # plus checkpoints/final.pt")
    lines += [")", ""] + _report_block(spec) + _post_block(plan)
    lines += ['OUTPUTS["artifacts"]["plot"] = str(RUN_DIR / "curve.png")', "",
              f'(RUN_DIR / "{OUTPUTS_NAME}").write_text(json.dumps(OUTPUTS, indent=2))']
    return "\n".join(lines) + "\n"


def _pretty(value: Any, indent: int = 4) -> str:
    text = json.dumps(value, indent=indent)
    return text.replace("true", "True").replace("false", "False").replace("null", "None")


def render_grid(plan: Plan, request: str = "") -> str:
    """A grid of runs on Ray through ``rlcore.experiment.Experiment``, writing outputs.json."""
    g = plan.grid
    n = plan.run_count()
    title = (f"{n} runs: {', '.join(a.upper() for a in g['algos'])} on {', '.join(g['envs'])}, "
             f"{len(g['seeds'])} seed(s), {g['steps']:,} steps each.")
    lines = _header(plan, request, title)
    lines += ["from rlcore.experiment import Experiment", "",
              "RUN_DIR = Path(__file__).resolve().parent  # everything is written next to this script"]
    lines += _written(plan)
    envs = f"{{{plan.written.env_id!r}: make_written_env}}" if plan.written else repr(g["envs"])
    lines += ["", f"VARIANTS = {_pretty(g['variants'])}" if g["variants"] else "VARIANTS = None",
              f"COMMON = {_pretty(g['common'])}", "",
              "exp = Experiment(", '    out=RUN_DIR / "experiment",  # one folder per run + report + plot',
              f"    algos={g['algos']!r},", f"    envs={envs},", f"    seeds={g['seeds']!r},",
              f"    steps={literal(g['steps'])},  # environment steps per run", "    variants=VARIANTS,",
              "    common=COMMON,", f"    eval_episodes={g['eval_episodes']},",
              f"    metric={g['metric']!r},  # aggregated per group with stratified bootstrap CIs", ")",
              f"result = exp.run(workers={WORKERS}, events=True)  # local Ray; finished runs are skipped",
              'OUTPUTS = {"runs": [r["run_dir"] if isinstance(r, dict) else str(r) for r in result.runs],',
              '           "report": result.report, "artifacts": dict(result.artifacts or {}), "evaluations": []}',
              'if OUTPUTS["report"]:',
              '    print("best:", OUTPUTS["report"].get("best"), "-", OUTPUTS["report"].get("verdict"))',
              f'(RUN_DIR / "{OUTPUTS_NAME}").write_text(json.dumps(OUTPUTS, indent=2, default=str))']
    return "\n".join(lines) + "\n"


def render_plan(plan: Plan, request: str = "") -> str:
    if plan.tune:
        from copilot.codegen.tune_render import render_tune

        return render_tune(plan, request)
    return render_grid(plan, request) if plan.grid else render_single(plan, request)
