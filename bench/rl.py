"""rlcore vs Stable-Baselines3 and the peers (SBX, RLtools), side by side in one run.

    python -m bench.rl [--suite B1,B2,B3,B4] [--seeds N] [--envs torch|gym|both]
                       [--peers sbx,rltools] [--json]

Runs are interleaved (rlcore, SB3, peers, rlcore, SB3, ...) in fresh child processes pinned
to one thread; only training is timed (imports, network construction, RLtools' compilation
and evaluation are reported separately). Prints a table of medians (min-max), the SB3/rlcore
time ratio, final eval return (20 deterministic episodes), solve rate and peak memory, and a
table of every library side by side; writes JSON, markdown tables and a bar chart under
bench/results/. A peer that is not installed (``pip install -r requirements-bench.txt``) is
skipped with one line; RLtools' Python package trains continuous actions only.
"""

from __future__ import annotations

import argparse
import importlib.util
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
PEERS = {"sbx": "sbx", "rltools": "rltools"}  # name -> module to import


def run_one(lib: str, suite: str, seed: int, backend: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RLCORE_THREADS": "1",
           "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
    cmd = [*WORKER, lib, suite, str(seed), backend]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    lines = [line for line in proc.stdout.strip().splitlines() if line.startswith("{")]
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


def available_peers(names: list[str]) -> list[str]:
    """The peers of ``names`` that can be imported; one line on stderr for each that cannot."""
    found = []
    for name in names:
        if importlib.util.find_spec(PEERS[name]) is None:
            print(f"{name} is not installed (pip install -r requirements-bench.txt); skipped.", file=sys.stderr)
        else:
            found.append(name)
    return found


def supports(peer: str, key: str) -> bool:
    """RLtools' Python package trains continuous actions only; SBX has every suite's algorithm."""
    return peer != "rltools" or SUITES[key].rltools is not None


LABELS = {"sb3": "SB3", "sbx": "SBX", "rltools": "RLtools"}


def side_by_side(raw: dict, backends: list[str], peers: list[str]) -> str:
    """One row per suite: every library's median training time (min-max), its time over
    rlcore's (per rlcore env backend) and median returns."""
    med = statistics.median
    libs = ["sb3", *peers]
    head = ([f"rlcore {b} envs" for b in backends] + [LABELS[lib] for lib in libs]
            + [f"{LABELS[lib]}/rlcore ({' / '.join(backends)})" for lib in libs] + ["median return"])
    rows = ["| suite | " + " | ".join(head) + " |", "|" + "---|" * (len(head) + 1)]
    for key, runs in raw.items():
        times = {name: [r["train_s"] for r in rs] for name, rs in runs.items()}
        cell = lambda ts: f"{med(ts):.1f} s ({min(ts):.1f}-{max(ts):.1f})" if ts else "n/a"  # noqa: E731
        cells = [cell(times.get(f"rlcore_{b}", [])) for b in backends] + [cell(times.get(lib, [])) for lib in libs]
        for lib in libs:
            cells.append(" / ".join(f"{med(times[lib]) / med(times[f'rlcore_{b}']):.1f}x" for b in backends)
                         if times.get(lib) else "n/a")
        rets = [f"{name.replace('rlcore_', 'rlcore ')} {med([r['return'] for r in rs]):.0f}"
                for name, rs in runs.items() if rs]
        cells.append(", ".join(rets))
        rows.append(f"| {key} {SUITES[key].title} | " + " | ".join(cells) + " |")
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
    p.add_argument("--peers", default="sbx,rltools", help="peer libraries besides SB3 (default sbx,rltools; "
                   "'' for none)")
    p.add_argument("--json", action="store_true", help="print the medians as JSON on the last line")
    args = p.parse_args(argv)
    keys = [k.strip().upper() for k in args.suite.split(",") if k.strip()]
    bad = [k for k in keys if k not in SUITES]
    if bad:
        print(f"error: unknown suite {bad[0]!r}; accepted: {', '.join(SUITES)}.", file=sys.stderr)
        return 2
    bad = [p for p in args.peers.split(",") if p.strip() and p.strip().lower() not in PEERS]
    if bad:
        print(f"error: unknown peer {bad[0]!r}; accepted: {', '.join(PEERS)}.", file=sys.stderr)
        return 2
    backends = ["torch", "gym"] if args.envs == "both" else [args.envs]
    peers = available_peers([p.strip().lower() for p in args.peers.split(",") if p.strip()])
    all_results: dict[str, dict] = {}
    raw: dict[str, dict] = {}
    for key in keys:
        runs: dict[str, list[dict]] = {**{f"rlcore_{b}": [] for b in backends}, "sb3": [],
                                       **{p: [] for p in peers if supports(p, key)}}
        for seed in range(args.seeds):
            for name, done in runs.items():
                lib, backend = ("rlcore", name[7:]) if name.startswith("rlcore_") else (name, "gym")
                done.append(run_one(lib, key, seed, backend))
                print(f"{key} seed {seed} {name}: {done[-1]['train_s']:.1f}s return {done[-1]['return']:.1f}",
                      file=sys.stderr, flush=True)
        for b in backends:
            all_results.setdefault(b, {})[key] = summarize(key, runs[f"rlcore_{b}"], runs["sb3"])
        raw[key] = runs
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    md = [f"# rlcore vs SB3 and peers ({stamp}, {args.seeds} seeds, 1 thread each)"]
    for b, res in all_results.items():
        md += ["", f"## rlcore with {b} envs", "", table(res, b)]
        print(table(res, b))
    md += ["", "## Every library side by side", "", side_by_side(raw, backends, peers)]
    print(side_by_side(raw, backends, peers))
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
