"""One shared LLM server against a model in each process: ``python -m bench.llm_server``.

Starts ``python -m llama_cpp.server`` on a loopback port with the bundled default GGUF and
measures its start-up (until ``/v1/models`` answers), then asks the same questions through
``openai:URL`` and through the in-process llama.cpp backend, one after the other, and prints
the per-answer wall time and time to first piece of each, with their ratios (server / in-process).
Absolute times depend on the machine's load; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

QUESTIONS = ["What does the discount factor gamma control in reinforcement learning?",
             "Why does PPO clip the probability ratio?",
             "What is a replay buffer used for in DQN?"]


def start_server(model: Path, port: int, n_ctx: int, threads: int, log: Path) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
                             "--interrupt_requests", "False"], stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
            return proc, time.perf_counter() - started
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"llama_cpp.server did not start:\n{log.read_text()[-1500:]}")
            time.sleep(0.1)


def timed_answers(llm, max_tokens: int) -> tuple[list[float], list[float]]:
    """(wall seconds, seconds to the first piece) for each question."""
    walls, firsts = [], []
    for question in QUESTIONS:
        started, first = time.perf_counter(), None
        for _piece in llm.stream([{"role": "user", "content": question}], max_tokens=max_tokens):
            first = first if first is not None else time.perf_counter() - started
        walls.append(time.perf_counter() - started)
        firsts.append(first or walls[-1])
    return walls, firsts


def main(argv: list[str] | None = None) -> int:
    from copilot.config import load_settings
    from copilot.llm import resolve
    from copilot.llm.assets import QWEN_CODER_05B, ensure_asset

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    settings = load_settings({"threads": args.threads, "temperature": 0.0, "n_ctx": 2048}, use_file=False)
    model = ensure_asset(QWEN_CODER_05B, settings.models_dir, progress=False)
    log = Path(tempfile.mkdtemp(prefix="llm-server-bench-")) / "server.log"
    proc, startup = start_server(model, args.port, settings.n_ctx, args.threads, log)
    try:
        remote = resolve(f"openai:http://127.0.0.1:{args.port}/v1", settings)
        timed_answers(remote, 4)  # warm-up: the server's first prompt
        server_walls, server_firsts = timed_answers(remote, args.max_tokens)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    local = resolve(None, settings)
    started = time.perf_counter()
    local.load()
    load_s = time.perf_counter() - started
    timed_answers(local, 4)
    local_walls, local_firsts = timed_answers(local, args.max_tokens)
    sw, lw = statistics.median(server_walls), statistics.median(local_walls)
    sf, lf = statistics.median(server_firsts), statistics.median(local_firsts)
    print(f"server start-up (process start to /v1/models answering): {startup:.2f} s; "
          f"in-process model load: {load_s:.2f} s")
    print(f"per answer ({args.max_tokens} tokens max, median of {len(QUESTIONS)}): server {sw:.2f} s, "
          f"in-process {lw:.2f} s, ratio {sw / lw:.2f}")
    print(f"first piece (median): server {sf:.2f} s, in-process {lf:.2f} s, ratio {sf / lf:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
