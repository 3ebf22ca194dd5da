"""RL Copilot web UI: ``python app.py [--host 127.0.0.1] [--port 7860] [--model NAME]``.

Binds loopback by default; any other address requires credentials (``--auth user:pass`` or
``COPILOT_AUTH``). Nothing heavy happens at import: the page comes up first and the model
and index load in the background.
"""

from __future__ import annotations

import os

# llama.cpp and torch share libgomp, which reads this once at load: spinning OpenMP
# threads make generation several times slower on a busy 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import os
import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="RL Copilot web UI: chat about RL, generate and run "
                                "training scripts, search the docs, switch models.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--model", default=None, help="model name, .gguf path, hf:DIR or openai:URL")
    p.add_argument("--auth", default=None, help="user:password (required beyond loopback; env COPILOT_AUTH)")
    p.add_argument("--home", default=None, help="data folder (env COPILOT_HOME)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                       ("ANONYMIZED_TELEMETRY", "False"), ("GRADIO_ANALYTICS_ENABLED", "False")):
        os.environ.setdefault(key, value)
    auth = args.auth or os.environ.get("COPILOT_AUTH") or None
    if args.host not in LOOPBACK and not auth:
        print(f"error: binding {args.host!r} exposes the UI beyond this machine; pass --auth "
              "user:password (or set COPILOT_AUTH) to do that.", file=sys.stderr)
        return 2
    if auth and ":" not in auth:
        print("error: --auth must look like user:password.", file=sys.stderr)
        return 2
    from copilot.ui.app import launch

    return launch(host=args.host, port=args.port, model=args.model, auth=auth, home=args.home)


if __name__ == "__main__":
    sys.exit(main())
