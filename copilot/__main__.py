"""``python -m copilot``: ingest | search | ask | models | generate | run.

Settings resolve defaults < config file < COPILOT_* environment < flags. Bad input exits
with status 2 and one sentence; ``--debug`` shows tracebacks. With ``--json`` the last
stdout line is one JSON object.
"""

from __future__ import annotations

import os

# llama.cpp and torch share libgomp, which reads this once at load: spinning OpenMP
# threads make generation several times slower on a busy 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

KIND_CHOICES = ("api", "doc", "faq", "paper", "tutorial", "user")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m copilot", description="RL Copilot: offline, cited "
                                "answers about RL and rlcore, and training scripts that run.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    p.add_argument("--home", default=None, help="data folder (index, models, runs); env COPILOT_HOME")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("ingest", help="index the corpus, rlcore's API and your own files")
    g.add_argument("paths", nargs="*", help="files or folders to add (default: the bundled corpus + API)")
    g.add_argument("--rebuild", action="store_true", help="build a new index and switch to it when complete")
    g.add_argument("--check", action="store_true", help="compare the manifest with the store and repair any mismatch")
    g.add_argument("--embedder", default=None, help="embedder name or folder (env COPILOT_EMBEDDER)")
    g.add_argument("--json", action="store_true", help="print the summary as JSON")

    s = sub.add_parser("search", help="search the index without the LLM")
    s.add_argument("query")
    s.add_argument("--k", type=int, default=None, help="results (default 5)")
    s.add_argument("--kind", action="append", choices=KIND_CHOICES, help="only these kinds; repeatable")
    s.add_argument("--json", action="store_true", help="print results as JSON")

    a = sub.add_parser("ask", help="ask a question; the answer cites its sources")
    a.add_argument("question", help="a question about RL or rlcore, in English or Chinese")
    a.add_argument("--model", default=None, help="model name, .gguf path, hf:DIR or openai:URL")
    a.add_argument("--k", type=int, default=None, help="sources to retrieve (default 5)")
    a.add_argument("--kind", action="append", choices=KIND_CHOICES, help="only these kinds; repeatable")
    a.add_argument("--json", action="store_true", help="print the answer object as the last line")

    m = sub.add_parser("models", help="list the registered models and their status")
    m.add_argument("--json", action="store_true", help="print JSON")

    from copilot.codegen.cli import add_codegen_commands

    add_codegen_commands(sub)
    return p


def _settings(args: argparse.Namespace):
    from copilot.config import load_settings

    return load_settings({"home": args.home, "model": getattr(args, "model", None),
                          "k": getattr(args, "k", None), "embedder": getattr(args, "embedder", None)})


def ensure_index(settings, progress: bool = True) -> None:
    """Build the index on first use so search/ask work on a fresh machine, and bring one an
    older version of the copilot built up to date."""
    from copilot.ingest import index_state, ingest

    message = {"missing": "Building the search index (first run only)...",
               "outdated": "Updating the search index for this version (unchanged text keeps its vectors)..."}
    state = index_state(settings)
    if state in message:
        print(message[state], file=sys.stderr)
        ingest(None, settings, progress=progress)


def cmd_check(args: argparse.Namespace) -> int:
    from copilot.ingest import IngestError
    from copilot.ingest_check import check, describe

    if args.paths or args.rebuild:
        raise IngestError("--check takes no paths and no --rebuild; run it on its own.")
    result = check(_settings(args))
    print(json.dumps(result) if args.json else "\n".join(describe(result)))
    return 0 if result["consistent"] else 1


def cmd_ingest(args: argparse.Namespace) -> int:
    from copilot.ingest import ingest

    if args.check:
        return cmd_check(args)
    settings = _settings(args)
    summary = ingest(args.paths or None, settings, rebuild=args.rebuild, progress=True)
    if args.json:
        print(json.dumps(summary))
    else:
        print(", ".join(f"{k}: {v}" for k, v in summary.items() if not isinstance(v, dict)))
        if isinstance(summary.get("by_kind"), dict):
            print("chunks by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["by_kind"].items())))
        if summary["skipped_by_reason"]:
            print("skipped by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["skipped_by_reason"].items())))
    usable = summary["added"] + summary["updated"] + summary["unchanged"] + summary["removed"]
    if summary["skipped"] and not usable:
        print(f"error: none of the {summary['skipped']} files found could be read; see the skipped lines above.",
              file=sys.stderr)
        return 2
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from copilot.index import Index

    settings = _settings(args)
    ensure_index(settings)
    hits = Index.open(settings).search(args.query, k=args.k or settings.k, kinds=args.kind)
    if args.json:
        print(json.dumps({"query": args.query, "results": [
            {"n": i, "title": h.title, "path": h.path, "kind": h.kind, "score": round(h.score, 5),
             "relevance": round(h.relevance, 3), "text": h.text} for i, h in enumerate(hits, 1)]}))
        return 0
    if not hits:
        print("No results.")
    for i, h in enumerate(hits, 1):
        snippet = " ".join(h.text.split())[:160]
        print(f"[{i}] {h.title}  ({h.kind}: {h.path})  score {h.score:.3f}, relevance {h.relevance:.2f}"
              f"\n    {snippet}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from copilot.chat import Answer, Copilot

    settings = _settings(args)
    ensure_index(settings)
    copilot = Copilot(settings)
    load_s = copilot.warm()  # loading is reported apart from answering
    answer = None
    for item in copilot.stream(args.question, k=args.k, kinds=args.kind):
        if isinstance(item, Answer):
            answer = item
        elif not args.json:
            print(item, end="", flush=True)
    assert answer is not None
    answer.timings["load_s"] = load_s
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    print()
    if answer.sources:
        print("\nSources:")
        for s in answer.sources:
            print(f"  [{s.n}] {s.title} ({s.path})")
    t = answer.timings
    print(f"\n({answer.model}; retrieval {t['retrieval_s']:.2f} s, first token "
          f"{t['first_token_s']:.2f} s, total {t['total_s']:.2f} s)", file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from copilot.llm import list_models

    settings = _settings(args)
    rows = list_models(settings)
    if args.json:
        print(json.dumps({"active": settings.model, "models": [
            {"name": r.name, "size_bytes": r.size_bytes, "description": r.description,
             "status": r.status, "active": r.name == settings.model} for r in rows]}))
        return 0
    for r in rows:
        mark = "*" if r.name == settings.model else " "
        print(f"{mark} {r.name:22s} {r.size_bytes / 1e6:8.0f} MB  {r.status:14s} {r.description}")
    print("\nAlso accepted: a path to a .gguf file, hf:DIR (local transformers folder), "
          "openai:URL (OpenAI-compatible server).")
    return 0


COMMANDS = {"ingest": cmd_ingest, "search": cmd_search, "ask": cmd_ask, "models": cmd_models}


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is a one-sentence user-facing error."""
    from copilot.config import ConfigError
    from copilot.index import SearchError
    from copilot.ingest import IngestError
    from copilot.llm import AssetError, ModelError
    from rlcore.errors import RLCoreError

    errors: list[Any] = [ConfigError, SearchError, IngestError, ModelError, AssetError, RLCoreError, ValueError]
    try:
        from copilot.codegen.errors import CodegenError

        errors.append(CodegenError)
    except ImportError:
        pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    handler = COMMANDS.get(args.command) or args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, user_errors()):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
