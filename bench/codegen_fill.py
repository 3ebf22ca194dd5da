"""Base-spec filling measured both ways: code from the request's facts vs the model's constrained JSON.

For every request of a codegen set (``../shared/eval/codegen_dev.jsonl`` format) this builds
the checked spec twice without training (``generate(..., run=False)``): with ``fill="auto"``
(code when the request names algorithm, env and steps; the model otherwise) and with
``fill="model"`` (always the model, reconciled with the facts). Each spec is scored by the
set's own checker on the manifest the spec would produce, and the time to the spec is
recorded. Prints one line per request and the totals; absolute times depend on the load.

    python -m bench.codegen_fill ../shared/eval/codegen_dev.jsonl [--only d01,d02]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path


def _checker(path: Path):
    spec = importlib.util.spec_from_file_location("eval_codegen", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


def manifest_of(spec: dict) -> dict:
    """The parts of run.json a spec decides (what the checker reads)."""
    config = dict(spec["config"], num_envs=spec.get("num_envs"))
    return {"algo": spec["algo"], "env": spec["env_id"], "total_steps": spec["total_steps"], "seed": spec["seed"],
            "config": config, "modules": dict(spec["parts"]), "checkpoint": "checkpoints/final.pt",
            "eval": {"episodes": spec["eval_episodes"], "return_mean": 0.0}, "obs_shape": [0, 0, 0]}


def score(check, item: dict, result) -> list[str]:
    out = {"ok": result.ok, "error": result.error}
    if result.ok and result.spec:
        out["manifest"] = manifest_of(result.spec)
    return check(item["expect"], out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("set")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    from copilot.codegen.generate import default_llm, generate
    from copilot.config import load_settings

    check = _checker(Path(args.set).resolve().parent / "eval_codegen.py")
    items = [json.loads(line) for line in open(args.set) if line.strip()]
    if args.only:
        items = [i for i in items if i["id"] in args.only.split(",")]
    settings = load_settings({"home": tempfile.mkdtemp()}, use_env=False, use_file=False)
    llm = default_llm(settings)
    totals = {"auto": [0, 0.0], "model": [0, 0.0]}
    for item in items:
        line = [item["id"]]
        for fill in ("auto", "model"):
            t0 = time.perf_counter()
            result = generate(item["request"], settings, llm=llm, run=False, fill=fill,
                              out=Path(tempfile.mkdtemp()) / "run")
            seconds = time.perf_counter() - t0
            fails = score(check, item, result)
            totals[fill][0] += not fails
            totals[fill][1] += seconds
            line.append(f"{fill} {'PASS' if not fails else 'FAIL'} {seconds:5.1f}s {'; '.join(fails)[:120]}")
        print("  ".join(line), flush=True)
    n = len(items)
    for fill, (passed, seconds) in totals.items():
        print(f"{fill}: {passed}/{n} specs pass, {seconds / max(n, 1):.1f} s per request to the spec")
    return 0


if __name__ == "__main__":
    sys.exit(main())
