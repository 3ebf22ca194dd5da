"""``generate`` and ``run`` subcommands of ``python -m copilot``.

``generate REQUEST`` prints the script (and, with ``--run``, the live log and the result);
``run SCRIPT`` validates a (possibly hand-edited) script and runs it in the same sandbox.
With ``--json`` the last stdout line is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from copilot.codegen.errors import CodegenError


def add_codegen_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``generate`` and ``run``."""
    g = sub.add_parser("generate", help="turn a request into a checked rlcore script (and run it)")
    g.add_argument("request", help="what to train, in English or Chinese")
    g.add_argument("--run", action="store_true", help="run the script in the sandbox and report the run")
    g.add_argument("--json", action="store_true", help="print the result object as the last stdout line")
    g.add_argument("--model", default=None, help="model name, .gguf path, hf:DIR or openai:URL")
    g.add_argument("--budget-s", type=float, default=None,
                   help="wall-time budget of one run (default 300; a measured fix-my-run recipe sets its own)")
    g.add_argument("--max-repairs", type=int, default=2, help="repair attempts after a failure (default 2)")
    g.add_argument("--out", default=None, help="run folder (default: a new folder under the runs folder)")
    g.add_argument("--fill", choices=("auto", "model"), default=os.environ.get("COPILOT_CODEGEN_FILL", "auto"),
                   help="auto: the base spec from the request's stated facts when they name algorithm, env and "
                   "steps, else from the model (default); model: always from the model")
    g.set_defaults(handler=cmd_generate)

    r = sub.add_parser("run", help="validate a training script and run it in the sandbox")
    r.add_argument("script", help="path of the .py script")
    r.add_argument("--json", action="store_true", help="print the result object as the last stdout line")
    r.add_argument("--budget-s", type=float, default=300.0, help="wall-time limit (default 300)")
    r.add_argument("--out", default=None, help="run folder (default: a new folder under the runs folder)")
    r.set_defaults(handler=cmd_run)


def _settings(args: argparse.Namespace):
    from copilot.config import load_settings

    return load_settings({"home": getattr(args, "home", None), "model": getattr(args, "model", None)})


def _printer(quiet_log: bool):
    """An event printer for stderr: status lines, log lines and a progress counter."""
    state: dict = {"progress": None, "open": False}

    def line(text: str) -> None:
        if state["open"]:
            print(file=sys.stderr)
            state["open"] = False
        print(visible(text), file=sys.stderr, flush=True)

    def on_event(kind: str, payload: dict) -> None:
        if kind == "status":
            line(f"... {payload['text']}")
        elif kind == "log" and not quiet_log:
            line(f"    {payload['line']}")
        elif kind == "progress" and state["progress"] != payload["step"]:
            state["progress"], state["open"] = payload["step"], True
            print(f"\r    {payload['step']}/{payload['total']} steps", end="", file=sys.stderr, flush=True)
    return on_event


def visible(text: str) -> str:
    """``text`` with control characters (tab kept) shown as ``^X`` / ``\\xNN``, so output from a
    script cannot move the cursor, retitle or write the clipboard of the user's terminal."""
    return "".join(ch if ch == "\t" or " " <= ch < "\x7f" or ch > "\x9f" else
                   f"^{chr(ord(ch) ^ 0x40)}" if ch <= "\x7f" else f"\\x{ord(ch):02x}" for ch in text)


def _num(value, digits: int) -> str:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f"{value:.{digits}f}" if ok else "?"


def _summary(ok: bool, error: str | None, manifest: dict | None, where: str | None, runs: int = 0) -> str:
    if not ok:
        return visible(f"failed: {error}")
    if runs > 1:
        return f"{runs} runs finished; every ask done; folder {where}"
    if manifest is None:
        return f"script ready (not run): {where}"
    ev = manifest.get("eval") if isinstance(manifest.get("eval"), dict) else {}
    mean, std = ev.get("return_mean"), ev.get("return_std") or 0
    ret = "n/a" if mean is None else f"{_num(mean, 2)} +/- {_num(std, 2)}"
    what = f"{manifest.get('algo', '?')} on {manifest.get('env', '?')}"
    return visible(f"{what}: {manifest.get('total_steps', '?')} steps "
                   f"in {_num(manifest.get('wall_time_s', 0), 1)} s; eval return {ret}; run folder {where}")


def cmd_generate(args: argparse.Namespace) -> int:
    from copilot.codegen.generate import generate

    settings = _settings(args)
    t0 = time.perf_counter()
    result = generate(args.request, settings, run=args.run, budget_s=args.budget_s,
                      max_repairs=args.max_repairs, out=Path(args.out) if args.out else None,
                      on_event=_printer(quiet_log=False), fill=args.fill)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        if result.script:
            print(result.script)
        for ask in result.asks:
            mark = {True: "done", False: "NOT DONE", None: "not run"}[ask["done"]]
            print(f"[{mark}] {ask['ask']}" + (f": {ask['detail']}" if ask["detail"] else ""))
        if result.report and result.report.get("verdict"):
            print(f"verdict: {result.report['verdict']}")
        print(_summary(result.ok, result.error, result.manifest if len(result.runs) <= 1 else None,
                       result.run_dir, len(result.runs)))
    print(f"({len(result.attempts)} attempt(s), {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0 if result.ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    from copilot.codegen.sandbox import run_script

    script = Path(args.script)
    if not script.is_file():
        raise CodegenError(f"Script {args.script!r} does not exist; pass the path of a .py file.")
    out = Path(args.out) if args.out else None
    if out is None:
        settings = _settings(args)
        out = Path(settings.runs_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}-{script.stem}"
    printer = _printer(quiet_log=False)

    def on_output(line: str) -> None:
        from copilot.codegen.sandbox import parse_progress

        progress = parse_progress(line)
        printer("progress", {"step": progress[0], "total": progress[1]}) if progress else printer("log", {"line": line})

    result = run_script(script, budget_s=args.budget_s, out=out, on_output=on_output)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(_summary(result.ok, result.error, result.manifest, str(result.run_dir)))
    return 0 if result.ok else 1
