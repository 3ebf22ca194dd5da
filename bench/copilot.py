"""Copilot performance with the default model: ``python -m bench.copilot [--questions N] [--json]``.

Measures, in one run: full ingest into a fresh index, re-ingest with nothing changed,
retrieval latency p50/p95 over many queries, first-token latency p50/p95 and generated
tokens per second for answers, and peak resident memory. Writes
bench/results/copilot_latest.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

QUERIES = [
    "What is the advantage function?", "How does PPO clip the policy update?", "GAE lambda",
    "How do I normalize observations in rlcore?", "What does run.json contain?",
    "Why does SAC use two critics?", "target network update in DQN", "ReplayStorage",
    "rlcore.agents.ppo.PPO", "How to resume training from a checkpoint?",
    "What is the difference between terminated and truncated?", "TD3 target policy smoothing",
    "How many parallel envs should I use?", "interquartile mean confidence intervals",
    "强化学习中的折扣因子是什么?", "如何在 Pendulum 上训练 SAC?",
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=6, help="questions answered by the LLM (default 6)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on the last line")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from copilot.chat import Answer, Copilot
    from copilot.config import load_settings
    from copilot.index import Index
    from copilot.ingest import ingest

    home = tempfile.mkdtemp(prefix="copilot-bench-")
    settings = load_settings({"home": home}, use_file=False)
    real_models = load_settings().models_dir  # reuse the assembled model, not the index
    settings_models = Path(home) / "models"
    if real_models.exists() and not settings_models.exists():
        settings_models.symlink_to(real_models)
    t0 = time.perf_counter()
    full = ingest(None, settings, progress=False)
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ingest(None, settings, progress=False)
    reingest_s = time.perf_counter() - t0
    index = Index.open(settings)
    index.search("warm up", k=5)
    lat = []
    for _ in range(5):
        for q in QUERIES:
            t = time.perf_counter()
            index.search(q, k=5)
            lat.append(time.perf_counter() - t)
    bot = Copilot(settings, index=index)
    bot.ask("What is PPO?")  # load the model
    ttft, tps = [], []
    for q in QUERIES[: args.questions]:
        pieces, first, t = 0, None, time.perf_counter()
        for item in bot.stream(q):
            if isinstance(item, Answer):
                break
            first = first or time.perf_counter() - t
            pieces += 1
        total = time.perf_counter() - t
        ttft.append(first or total)
        answer_tokens = bot.llm.count_tokens(item.answer)
        tps.append(answer_tokens / max(total - (first or 0), 1e-6))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {"chunks": full.get("chunks"), "ingest_s": round(ingest_s, 2), "reingest_unchanged_s": round(reingest_s, 2),
           "retrieval_p50_ms": round(1e3 * statistics.median(lat), 1), "retrieval_p95_ms": round(1e3 * pct(lat, 0.95), 1),
           "first_token_p50_s": round(statistics.median(ttft), 2), "first_token_p95_s": round(pct(ttft, 0.95), 2),
           "generated_tok_per_s": round(statistics.median(tps), 1), "peak_rss_mb": round(peak_mb),
           "model": bot.llm.name}
    rows = "\n".join(f"| {k} | {v} |" for k, v in res.items())
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "copilot_latest.json").write_text(json.dumps(res, indent=1))
    (out / "copilot_latest.md").write_text(f"# Copilot benchmark\n\n| metric | value |\n|---|---|\n{rows}\n")
    print(f"| metric | value |\n|---|---|\n{rows}")
    if args.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
