"""rlcore vs Stable-Baselines3, side by side in one run.

    python -m bench.rl [--suite B1,B2,B3,B4] [--seeds N] [--envs torch|gym|both] [--json]

Runs are interleaved (rlcore, SB3, rlcore, SB3, ...) in fresh child processes pinned to one
torch thread; only training is timed (imports, network construction and evaluation are
reported separately). Prints a table of medians (min-max), the SB3/rlcore time ratio, final
eval return (20 deterministic episodes), solve rate and peak memory; writes JSON, a
markdown table and a bar chart under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.suites import SUITES

RESULTS = Path(__file__).resolve().parent / "results"
WORKER = [sys.executable, "-m", "bench.worker"]


def run_one(lib: str, suite: str, seed: int, backend: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RLCORE_THREADS": "1"}
    cmd = [*WORKER, lib, suite, str(seed), backend]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{lib} {suite} seed {seed} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def summarize(key: str, rl: list[dict], sb: list[dict]) -> dict:
    suite = SUITES[key]
    med = lambda xs: statistics.median(xs)  # noqa: E731
    rl_t, sb_t = [r["train_s"] for r in rl], [r["train_s"] for r in sb]
    rl_r, sb_r = [r["return"] for r in rl], [r["return"] for r in sb]
    solve = lambda rs: sum(x >= suite.solved for x in rs) / len(rs)  # noqa: E731
    rl_ret, sb_ret = med(rl_r), med(sb_r)
    quality = rl_ret >= sb_ret - 0.05 * abs(sb_ret) and solve(rl_r) >= solve(sb_r)
    return {"rlcore_s": round(med(rl_t), 3), "sb3_s": round(med(sb_t), 3),
            "ratio": round(med(sb_t) / med(rl_t), 2), "rlcore_return": round(rl_ret, 2),
            "sb3_return": round(sb_ret, 2), "quality_ok": bool(quality),
            "rlcore_range_s": [round(min(rl_t), 3), round(max(rl_t), 3)],
            "sb3_range_s": [round(min(sb_t), 3), round(max(sb_t), 3)],
            "rlcore_solve_rate": solve(rl_r), "sb3_solve_rate": solve(sb_r),
            "rlcore_peak_mb": max(r["peak_mb"] for r in rl), "sb3_peak_mb": max(r["peak_mb"] for r in sb),
            "rlcore_setup_s": round(med([r["setup_s"] for r in rl]), 2),
            "sb3_setup_s": round(med([r["setup_s"] for r in sb]), 2), "seeds": len(rl)}


def table(results: dict, backend: str) -> str:
    rows = [f"| suite | rlcore ({backend}) s | SB3 s | SB3/rlcore | rlcore return | SB3 return | "
            "solve rlcore / SB3 | peak MB rlcore / SB3 | quality |", "|" + "---|" * 9]
    for key, r in results.items():
        rows.append(f"| {key} {SUITES[key].title} | {r['rlcore_s']:.1f} ({r['rlcore_range_s'][0]:.1f}-"
                    f"{r['rlcore_range_s'][1]:.1f}) | {r['sb3_s']:.1f} ({r['sb3_range_s'][0]:.1f}-"
                    f"{r['sb3_range_s'][1]:.1f}) | **{r['ratio']:.1f}x** | {r['rlcore_return']:.1f} | "
                    f"{r['sb3_return']:.1f} | {r['rlcore_solve_rate']:.0%} / {r['sb3_solve_rate']:.0%} | "
                    f"{r['rlcore_peak_mb']:.0f} / {r['sb3_peak_mb']:.0f} | {'ok' if r['quality_ok'] else 'NOT MET'} |")
    return "\n".join(rows)


def bar_chart(all_results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=110)
    keys = sorted({k for res in all_results.values() for k in res})
    width = 0.8 / max(len(all_results), 1)
    for i, (backend, res) in enumerate(all_results.items()):
        ax.bar([j + i * width for j in range(len(keys))], [res.get(k, {}).get("ratio", 0) for k in keys],
               width, label=f"rlcore ({backend} envs)")
    ax.axhline(1.0, color="black", lw=1)
    ax.set_xticks([j + width * (len(all_results) - 1) / 2 for j in range(len(keys))], keys)
    ax.set_ylabel("speed-up over SB3 (x)")
    ax.set_title("Training time ratio SB3 / rlcore (median over seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="B1,B2,B3,B4", help="comma-separated suites (default all)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per library (default 5)")
    p.add_argument("--envs", default="both", choices=("torch", "gym", "both"), help="rlcore env backend")
    p.add_argument("--json", action="store_true", help="print the medians as JSON on the last line")
    args = p.parse_args(argv)
    keys = [k.strip().upper() for k in args.suite.split(",") if k.strip()]
    bad = [k for k in keys if k not in SUITES]
    if bad:
        print(f"error: unknown suite {bad[0]!r}; accepted: {', '.join(SUITES)}.", file=sys.stderr)
        return 2
    backends = ["torch", "gym"] if args.envs == "both" else [args.envs]
    all_results: dict[str, dict] = {}
    raw: dict[str, dict] = {}
    for key in keys:
        sb_runs: list[dict] = []
        rl_runs: dict[str, list[dict]] = {b: [] for b in backends}
        for seed in range(args.seeds):
            for b in backends:
                rl_runs[b].append(run_one("rlcore", key, seed, b))
                print(f"{key} seed {seed} rlcore/{b}: {rl_runs[b][-1]['train_s']:.1f}s "
                      f"return {rl_runs[b][-1]['return']:.1f}", file=sys.stderr, flush=True)
            sb_runs.append(run_one("sb3", key, seed, "gym"))
            print(f"{key} seed {seed} sb3: {sb_runs[-1]['train_s']:.1f}s return {sb_runs[-1]['return']:.1f}",
                  file=sys.stderr, flush=True)
        for b in backends:
            all_results.setdefault(b, {})[key] = summarize(key, rl_runs[b], sb_runs)
        raw[key] = {"sb3": sb_runs, **{f"rlcore_{b}": rl_runs[b] for b in backends}}
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    md = [f"# rlcore vs SB3 ({stamp}, {args.seeds} seeds, 1 torch thread each)"]
    for b, res in all_results.items():
        md += ["", f"## rlcore with {b} envs", "", table(res, b)]
        print(table(res, b))
    (RESULTS / "rl_latest.md").write_text("\n".join(md) + "\n")
    (RESULTS / "rl_latest.json").write_text(json.dumps({"results": all_results, "runs": raw}, indent=1))
    bar_chart(all_results, RESULTS / "rl_latest.png")
    if args.json:
        main_backend = backends[0]
        print(json.dumps({"suites": {k: {f: v[f] for f in ("rlcore_s", "sb3_s", "ratio", "rlcore_return",
                                                             "sb3_return", "quality_ok")}
                                     for k, v in all_results[main_backend].items()},
                          "by_backend": all_results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
