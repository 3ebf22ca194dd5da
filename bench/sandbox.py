"""Start-up overhead of the script sandbox: ``python -m bench.sandbox [--repeats 5]``.

Runs the same 2,000-step PPO CartPole-v1 training script (the one code generation renders)
directly in a child Python and inside the bubblewrap sandbox (``run_script``, validation
off so only the sandbox is measured), alternating the two, and prints the medians, their
difference and ratio. A trivial script (``print``) isolates the fixed start-up cost.
Timings on a shared machine are noisy: compare the figures of one run, not across runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from copilot.codegen.checks import check_spec
from copilot.codegen.render import render
from copilot.codegen.sandbox import PROJECT_ROOT, child_env, run_script
from copilot.codegen.spec import RunSpec

TRIVIAL = "import json\nprint('hello')\njson.dump({}, open('run.json', 'w'))\n"


def _fresh(base: Path, name: str, source: str) -> Path:
    folder = base / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "train.py").write_text(source)
    return folder / "train.py"


def direct(script: Path) -> float:
    """Seconds for ``python -u train.py`` in its folder with the sandbox's environment, no sandbox."""
    env = child_env(script.parent)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env["TMPDIR"] = tempfile.gettempdir()
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-u", str(script)], cwd=script.parent, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"direct run failed: {done.stderr.decode(errors='replace')[-500:]}")
    return took


def sandboxed(script: Path) -> float:
    """Seconds for the same script through ``run_script`` (bubblewrap, limits, watchdogs)."""
    t0 = time.perf_counter()
    result = run_script(script, budget_s=600, validate=False)
    took = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"sandboxed run failed: {result.error}\n{result.log_tail[-500:]}")
    return took


def measure(base: Path, name: str, source: str, repeats: int) -> tuple[float, float]:
    plain, boxed = [], []
    for i in range(repeats):
        order = [(plain, direct), (boxed, sandboxed)]
        for times, run in (order if i % 2 == 0 else order[::-1]):
            times.append(run(_fresh(base, f"{name}-{run.__name__}", source)))
    return statistics.median(plain), statistics.median(boxed)


def report(label: str, plain: float, boxed: float) -> None:
    print(f"{label:<28} direct {plain:7.2f} s   sandbox {boxed:7.2f} s   "
          f"overhead {boxed - plain:+6.2f} s   ratio {boxed / plain:5.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each kind (medians are printed)")
    parser.add_argument("--steps", type=int, default=2000, help="PPO environment steps")
    args = parser.parse_args(argv)
    spec = check_spec(RunSpec("ppo", "CartPole-v1", args.steps, num_envs=1, eval_episodes=1))
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        base = Path(tmp)
        print(f"{args.repeats} runs each, medians; cpu count {os.cpu_count()}")
        report("trivial script", *measure(base, "trivial", TRIVIAL, args.repeats))
        report(f"PPO CartPole {args.steps:,} steps", *measure(base, "ppo", render(spec, "bench"), args.repeats))


if __name__ == "__main__":
    main()
