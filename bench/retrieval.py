"""Retrieval quality on a gold set: ``python -m bench.retrieval [--show] [--compare] [--dev FILE]``.

Each line of the gold set (default ``bench/retrieval_gold.jsonl``) is
``{"id", "q", "lang": "en"|"zh", "type": "concept"|"api", "gold": [...]}``; a gold entry is

* ``corpus/papers/ppo.md#clipped objective``: a chunk of that file whose heading path
  contains the words after ``#`` (case-insensitive);
* ``corpus/tutorials/custom-encoder.md``: any chunk of that file;
* ``corpus/tutorials/custom-encoder.md#$``: the file's opening text (before any subheading);
* ``rlcore.agents.sac.SACConfig``: the API reference entry of that symbol.

Prints hit@1, hit@5, MRR@10 and nDCG@10 (binary gains) overall and per language and question
type, the median search latency, and with ``--show`` every question whose first hit is not gold.
``--compare`` runs the default ranking and one ablation per lever side by side in one process.
``--dev FILE`` also scores a QA set whose lines carry ``sources_any`` (a gold source's path or
title contains one of the strings, as ``eval_qa.py --retrieval`` counts it).
Searches the index in ``--home`` (default: the copilot's data folder); build it first with
``python -m copilot ingest``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

GOLD = Path(__file__).with_name("retrieval_gold.jsonl")
LEVERS = ("weighted", "priors", "types", "bm25", "symbol", "heading", "brevity", "rerank", "units")
DEPTH = 10


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def is_gold(hit, gold: list[str]) -> bool:
    for entry in gold:
        path, _, heading = entry.partition("#")
        if path.startswith("corpus/"):
            intro = heading == "$" and " > " not in hit.title  # the text before the first subheading
            if hit.path == path and (intro or heading != "$" and heading.lower() in hit.title.lower()):
                return True
        elif hit.path == entry:
            return True
    return False


def is_dev_gold(hit, gold: list[str]) -> bool:
    return any(g in f"{hit.path} {hit.title}" for g in gold)


def scores(flags: list[bool]) -> dict[str, float]:
    """hit@1, hit@5, reciprocal rank and nDCG@10 of one question's ranked relevance flags."""
    first = next((i for i, f in enumerate(flags) if f), None)
    dcg = sum(1 / math.log2(i + 2) for i, f in enumerate(flags) if f)
    ideal = sum(1 / math.log2(i + 2) for i in range(sum(flags)))
    return {"hit@1": float(first == 0), "hit@5": float(first is not None and first < 5),
            "mrr": 0.0 if first is None else 1 / (first + 1), "ndcg@10": dcg / ideal if ideal else 0.0}


def run(index, items: list[dict], ranking, dev: bool) -> tuple[list[dict], list[float]]:
    rows, latency = [], []
    for item in items:
        started = time.perf_counter()
        hits = index.search(item["q"], k=DEPTH, ranking=ranking)
        latency.append(time.perf_counter() - started)
        match = is_dev_gold if dev else is_gold
        gold = item["sources_any"] if dev else item["gold"]
        rows.append({**item, **scores([match(h, gold) for h in hits]), "hits": hits})
    return rows, latency


def table(rows: list[dict], dev: bool) -> dict[str, dict[str, float]]:
    groups = {"all": rows}
    if not dev:
        for key in ("lang", "type"):
            for value in sorted({r[key] for r in rows}):
                groups[value] = [r for r in rows if r[key] == value]
    return {name: {"n": len(group), **{m: statistics.mean(r[m] for r in group)
                                       for m in ("hit@1", "hit@5", "mrr", "ndcg@10")}}
            for name, group in groups.items()}


def show_misses(rows: list[dict]) -> None:
    for r in rows:
        if r["hit@1"] == 1.0:
            continue
        print(f"  {r['id']} {'miss' if r['hit@5'] == 0 else 'late'}: {r['q']}")
        print(f"      gold: {r.get('gold') or r.get('sources_any')}")
        for i, h in enumerate(r["hits"][:3], 1):
            print(f"      [{i}] {h.path} | {h.title[-60:]} | score {h.score:.3f} rel {h.relevance:.2f}")


def print_table(name: str, result: dict, latency: list[float]) -> None:
    print(f"\n{name}  (median search {1000 * statistics.median(latency):.0f} ms)")
    print(f"  {'group':<10}{'n':>4}{'hit@1':>8}{'hit@5':>8}{'MRR':>8}{'nDCG@10':>9}")
    for group, m in result.items():
        cells = "".join(f"{m[key]:>{width}.3f}" for key, width in
                        (("hit@1", 8), ("hit@5", 8), ("mrr", 8), ("ndcg@10", 9)))
        print(f"  {group:<10}{m['n']:>4}{cells}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gold", type=Path, default=GOLD, help="gold set (JSONL)")
    p.add_argument("--dev", type=Path, default=None, help="also score a QA set with sources_any")
    p.add_argument("--home", default=None, help="copilot data folder holding the index")
    p.add_argument("--show", action="store_true", help="print every question whose first hit is not gold")
    p.add_argument("--compare", action="store_true", help="ablate each ranking lever in the same run")
    p.add_argument("--json", action="store_true", help="print all results as JSON on the last line")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from copilot.config import load_settings
    from copilot.index import Index, SearchError
    from copilot.ranking import DEFAULT

    try:
        index = Index.open(load_settings({"home": args.home}))
    except SearchError as exc:
        print(exc, file=sys.stderr)
        return 2
    index.search("warm up the embedder", k=1)
    sets = [("gold", load(args.gold), False)]
    if args.dev:
        sets.append(("dev", [i for i in load(args.dev) if i.get("sources_any")], True))
    rankings = [("default", DEFAULT)] + ([(f"no {lever}", DEFAULT.without(lever)) for lever in LEVERS]
                                         if args.compare else [])
    report: dict = {}
    for set_name, items, dev in sets:
        for name, ranking in rankings:
            rows, latency = run(index, items, ranking, dev)
            result = table(rows, dev)
            report[f"{set_name}/{name}"] = {"metrics": result, "median_ms": 1000 * statistics.median(latency)}
            print_table(f"{set_name} set ({len(items)} questions), ranking: {name}", result, latency)
            if args.show and name == "default":
                show_misses(rows)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
