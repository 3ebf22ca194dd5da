"""RL Copilot web UI: ``python app.py [--host 127.0.0.1] [--port 7860] [--model NAME]``.

Binds loopback by default. Every request needs a credential, loopback included: a random
token printed in the start-up URL (``http://127.0.0.1:7860/?token=...``), or a user and
password, which any address other than loopback requires: ``--auth-file PATH`` (a file holding
``user:password``) or ``COPILOT_AUTH``. ``--auth user:password`` still works but puts the password
in the command line, which other local users can read: the app warns and starts itself again
with the password moved to its environment. Nothing heavy happens at import: the page comes up first and the
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
    p.add_argument("--auth-file", default=None, metavar="PATH", help="file holding user:password, used "
                   "instead of the start-up token (required beyond loopback; or env COPILOT_AUTH)")
    p.add_argument("--auth", default=None, help="user:password (visible to other local users in the "
                   "process list: prefer --auth-file or COPILOT_AUTH)")
    p.add_argument("--home", default=None, help="data folder (env COPILOT_HOME)")
    return p.parse_args(argv)


def _auth_of(args: argparse.Namespace) -> str | None:
    """user:password from --auth, --auth-file or COPILOT_AUTH (checked); None for token mode."""
    from copilot.config import ConfigError, parse_auth

    if args.auth is not None and args.auth_file is not None:
        raise ValueError("--auth and --auth-file were both given; pass only --auth-file PATH.")
    auth = args.auth
    if args.auth_file is not None:
        try:
            auth = open(args.auth_file, encoding="utf-8").read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise ValueError(f"--auth-file {args.auth_file!r} cannot be read ({why}); "
                             "give a readable file holding user:password.") from None
        if os.stat(args.auth_file).st_mode & 0o077:
            print(f"warning: {args.auth_file} can be read by other users; chmod 600 it.", file=sys.stderr)
    elif auth is None:  # COPILOT_AUTH or `auth` in the config file
        from copilot.config import load_settings

        auth = load_settings().auth or None
    if auth is not None:
        try:
            parse_auth(auth)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return auth


def _restart_without_password(auth: str) -> None:
    """Start this script again with the password in its environment instead of its command line."""
    script, rest, out = sys.argv[0], sys.argv[1:], []
    if not script.endswith(".py"):
        return
    while rest:
        arg = rest.pop(0)
        if arg == "--auth":
            rest = rest[1:]
        elif not arg.startswith("--auth="):
            out.append(arg)
    os.environ["COPILOT_AUTH"] = auth
    os.execv(sys.executable, [sys.executable, os.path.abspath(script), *out])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                       ("ANONYMIZED_TELEMETRY", "False"), ("GRADIO_ANALYTICS_ENABLED", "False")):
        os.environ.setdefault(key, value)
    try:
        auth = _auth_of(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.auth is not None:
        print("warning: --auth puts the password in the command line, where other local users can read it "
              "(ps); use --auth-file PATH or COPILOT_AUTH instead.", file=sys.stderr, flush=True)
        if argv is None:
            _restart_without_password(auth)
    from copilot.ui.app import launch

    return launch(host=args.host, port=args.port, model=args.model, auth=auth, home=args.home)


if __name__ == "__main__":
    sys.exit(main())
