"""A tuning plan -> a script that runs an ``rlcore.tune.Tuner`` study and writes ``outputs.json``.

The study lives in ``study/`` beside the script (``study.journal``, so running the script again
resumes it; ``trials/``; ``summary.json``; the plots). ``outputs.json`` names the best trial's
run folders, the journal and the plots; :func:`copilot.codegen.tune_plan.check_tune` reads the
journal itself rather than trusting the script's summary.
"""

from __future__ import annotations

from copilot.codegen.render import _comment, literal
from copilot.codegen.tune_plan import STUDY_NAME, WORKERS


def render_tune(plan, request: str = "") -> str:
    s = plan.tune
    title = (
        f"Tune {s['algo'].upper()} on {s['env']} with Optuna: {s['trials']} trials x {s['seeds']} seeds, "
        f"{s['steps']:,} steps each."
    )
    lines = [
        f'"""{title}',
        "",
        "Run it from this folder: python train.py (running it again resumes the study)",
        '"""',
    ]
    if request.strip():
        lines.append(f"# Request: {_comment(request, 200)}")
    lines += [f"# Note: {_comment(note, 200)}" for note in plan.spec.notes]
    lines += (
        [
            "import json",
            "from pathlib import Path",
            "",
            "from rlcore.tune import Tuner, parse_params",
            "",
            "RUN_DIR = Path(__file__).resolve().parent  # everything is written next to this script",
            'STUDY = RUN_DIR / "study"  # study.journal, trials/, summary.json, history.png, importances.png',
            "",
            "# Searched config fields: name=log:LO:HI, float:LO:HI, int:LO:HI or choice:a,b,c.",
            "PARAMS = parse_params([",
        ]
        + [f"    {p!r}," for p in s["params"]]
        + ["])"]
    )
    lines.append(
        "CONFIG = {" + ", ".join(f"{k!r}: {literal(v)}" for k, v in s["fixed"].items()) + "}"
        "  # fixed fields that differ from the defaults"
    )
    return "\n".join(lines + _tuner_block(s)) + "\n"


def _tuner_block(s: dict) -> list[str]:
    """The Tuner call, the run and outputs.json."""
    lines: list[str] = []
    extra = [f"parts={s['parts']!r}"] if s["parts"] else []
    extra += [f"num_envs={s['num_envs']}"] if s["num_envs"] else []
    lines += [
        "",
        "tuner = Tuner(",
        f"    {s['algo']!r},",
        f"    {s['env']!r},",
        "    PARAMS,",
        "    out=STUDY,",
        f"    study_name={STUDY_NAME!r},",
        f"    trials={s['trials']},",
        f"    seeds={s['seeds']},  # seeds 0..K-1; a trial scores the IQM of their final evaluation returns",
        f"    steps={literal(s['steps'])},  # environment steps per run",
        "    fixed=CONFIG,",
    ]
    lines += [f"    {e}," for e in extra]
    lines += [
        f"    workers={WORKERS},  # runs trained at once on a local Ray",
        f"    eval_episodes={s['eval_episodes']},",
        '    on_trial=lambda info: print(info["line"], flush=True),',
        ")",
        "summary = tuner.run()  # TPE sampler, median pruner on the evaluations during training",
        'best = summary["best"]',
        'OUTPUTS = {"runs": [], "report": {"tune": summary}, "evaluations": [],',
        '           "artifacts": {"study": str(STUDY / "study.journal"), **summary["plots"]}}',
        "if best:",
        '    OUTPUTS["runs"] = list(best["run_dirs"])',
        '    print("best config:", best["set_flags"], "- IQM", round(best["value"], 2))',
        '    print("train it:", best["command"])',
        '    OUTPUTS["report"]["verdict"] = (f"Best trial {best[\'trial\']}: {best[\'set_flags\']} (IQM "',
        "                                    f\"{best['value']:.1f} over the seeds); train it: {best['command']}\")",
        '(RUN_DIR / "outputs.json").write_text(json.dumps(OUTPUTS, indent=2, default=str))',
    ]
    return lines
