"""RL Copilot web UI: ``python app.py [--host 127.0.0.1] [--port 7860] [--model NAME]``.

Binds loopback by default. Every request needs a credential, loopback included: a random
token printed in the start-up URL (``http://127.0.0.1:7860/?token=...``), or the user and
password given with ``--auth user:password`` (or ``COPILOT_AUTH``), which any address other
than loopback requires. Nothing heavy happens at import: the page comes up first and the
model and index load in the background.
"""

from __future__ import annotations

import os

# llama.cpp and torch share libgomp, which reads this once at load: spinning OpenMP
# threads make generation several times slower on a busy 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="RL Copilot web UI: chat about RL, generate and run "
                                "training scripts, search the docs, switch models.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--model", default=None, help="model name, .gguf path, hf:DIR or openai:URL")
    p.add_argument("--auth", default=None, help="user:password instead of the start-up token "
                   "(required beyond loopback; env COPILOT_AUTH)")
    p.add_argument("--home", default=None, help="data folder (env COPILOT_HOME)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                       ("ANONYMIZED_TELEMETRY", "False"), ("GRADIO_ANALYTICS_ENABLED", "False")):
        os.environ.setdefault(key, value)
    auth = args.auth if args.auth is not None else (os.environ.get("COPILOT_AUTH") or None)
    if auth is not None:
        from copilot.config import ConfigError, parse_auth

        try:
            parse_auth(auth)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    from copilot.ui.app import launch

    return launch(host=args.host, port=args.port, model=args.model, auth=auth, home=args.home)


if __name__ == "__main__":
    sys.exit(main())
