"""Copilot performance with the default model: ``python -m bench.copilot [--questions N] [--json]``.

Measures, in one run: full ingest into a fresh index, re-ingest with nothing changed,
retrieval latency p50/p95 over many queries, first-token and full-answer latency p50/p95
and generated tokens per second for answers, the answers' sentence support (the share of
shown sentences whose support is at or above ``copilot.grounding.SUPPORTED``, and what the
check did with the model's own sentences), and peak resident memory. ``--set FILE.jsonl``
answers the questions of an eval set (``{"q": ...}`` per line) instead of the built-in ones;
``--model`` and ``--home`` reuse another model or an existing index (no ingest then).
Writes bench/results/copilot_latest.{json,md}.
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


def support_stats(answers: list) -> dict:
    """Sentence support over ``answers``: shown sentences at or above the threshold, and the
    model's sentences kept, replaced by a source sentence, or dropped."""
    from copilot.grounding import SUPPORTED

    shown = [s for a in answers for s in a.support]
    checks = [c for a in answers for c in a.checks]
    count = lambda action: sum(c.action == action for c in checks)  # noqa: E731
    return {"support_threshold": SUPPORTED, "shown_sentences": len(shown),
            "shown_supported_share": round(sum(s.score >= SUPPORTED for s in shown) / max(len(shown), 1), 3),
            "model_sentences": len(checks), "model_kept": count("kept"), "model_replaced": count("replaced"),
            "model_dropped": count("dropped")}


def answer_all(bot, questions: list[str]) -> tuple[dict, list]:
    """Answer each question; latency percentiles, shown answer tokens per second of the whole
    answer (sentences arrive only once checked, so there is no steady token stream), and the
    answers."""
    from copilot.chat import Answer

    ttft, totals, tps, answers = [], [], [], []
    for q in questions:
        first, t = None, time.perf_counter()
        for item in bot.stream(q):
            if isinstance(item, Answer):
                break
            first = first or time.perf_counter() - t
        total = time.perf_counter() - t
        ttft.append(first or total)
        totals.append(total)
        answers.append(item)
        tps.append(bot.llm.count_tokens(item.answer) / max(total, 1e-6))
    return {"questions": len(questions),
            "first_token_p50_s": round(statistics.median(ttft), 2), "first_token_p95_s": round(pct(ttft, 0.95), 2),
            "total_p50_s": round(statistics.median(totals), 2), "total_p95_s": round(pct(totals, 0.95), 2),
            "answer_tok_per_s_overall": round(statistics.median(tps), 1)}, answers


def ingest_fresh(model: str | None) -> tuple:
    """Settings for a fresh index in a temporary home (the assembled models reused), and the
    full and unchanged re-ingest timings."""
    from copilot.config import load_settings
    from copilot.ingest import ingest

    home = tempfile.mkdtemp(prefix="copilot-bench-")
    settings = load_settings({"home": home, "model": model}, use_file=False)
    real_models = load_settings().models_dir  # reuse the assembled model, not the index
    settings_models = Path(home) / "models"
    if real_models.exists() and not settings_models.exists():
        settings_models.symlink_to(real_models)
    t0 = time.perf_counter()
    full = ingest(None, settings, progress=False)
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ingest(None, settings, progress=False)
    return settings, {"chunks": full.get("chunks"), "ingest_s": round(ingest_s, 2),
                      "reingest_unchanged_s": round(time.perf_counter() - t0, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=6, help="questions answered by the LLM (default 6)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on the last line")
    p.add_argument("--set", default=None, help="answer the questions of this JSONL eval set instead")
    p.add_argument("--model", default=None, help="model name or .gguf path (default: the configured one)")
    p.add_argument("--home", default=None, help="reuse this copilot home's index instead of ingesting")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from copilot.chat import Copilot
    from copilot.config import load_settings
    from copilot.index import Index

    res: dict = {}
    if args.home:
        settings = load_settings({"home": args.home, "model": args.model}, use_file=False)
    else:
        settings, res = ingest_fresh(args.model)
    index = Index.open(settings)
    index.search("warm up", k=5)
    lat = []
    for _ in range(5):
        for q in QUERIES:
            t = time.perf_counter()
            index.search(q, k=5)
            lat.append(time.perf_counter() - t)
    res.update({"retrieval_p50_ms": round(1e3 * statistics.median(lat), 1),
                "retrieval_p95_ms": round(1e3 * pct(lat, 0.95), 1)})
    bot = Copilot(settings, index=index)
    res["load_s"] = bot.warm()
    questions = QUERIES[: args.questions]
    if args.set:
        questions = [json.loads(line)["q"] for line in open(args.set, encoding="utf-8") if line.strip()]
    timing, answers = answer_all(bot, questions)
    res.update(timing)
    res.update(support_stats(answers))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res.update({"peak_rss_mb": round(peak_mb), "model": bot.llm.name, "questions_from": args.set or "built-in",
                "load_avg_1m": round(os.getloadavg()[0], 1)})
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
