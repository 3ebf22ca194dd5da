"""The index in a Chroma server against the index in a local folder: ``python -m bench.chroma_server``.

Starts ``chroma run`` on a loopback port and measures its start-up, then ingests the
project's corpus (no API reference) into a local folder and into the server, opens each
index from a second, empty folder (in the server's case BM25 is rebuilt from the server's
documents) and times the same questions against both. Prints seconds and ratios
(server / local); absolute times depend on the machine's load, compare the ratios of one run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["How does PPO clip the probability ratio?", "What is a replay buffer?",
             "How do I run a sweep over seeds?", "What does gae_lambda do?", "How is the temperature of SAC tuned?",
             "What encoders are available for pixel observations?", "How do I resume training from a checkpoint?",
             "What is the discount factor?"]


def start_chroma(folder: Path, port: int) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(folder / "db"),
                             "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).read()
            return proc, time.perf_counter() - started
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("chroma run did not start")
            time.sleep(0.05)


def measure(writer, reader) -> dict[str, float]:
    from copilot.embeddings import get_embedder
    from copilot.index import Index
    from copilot.ingest import ingest

    embedder = get_embedder(writer.embedder)
    started = time.perf_counter()
    ingest(None, writer, progress=False, api_packages=(), embedder=embedder)
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    index = Index.open(reader, embedder=embedder)
    open_s = time.perf_counter() - started
    index.search(QUESTIONS[0], k=5)  # warm-up
    times = []
    for question in QUESTIONS:
        started = time.perf_counter()
        index.search(question, k=5)
        times.append(time.perf_counter() - started)
    return {"ingest": ingest_s, "open": open_s, "search": statistics.median(times)}


def main() -> int:
    from copilot.config import Settings

    tmp = Path(tempfile.mkdtemp(prefix="chroma-bench-"))
    corpus = [str(ROOT / "corpus")]
    proc, startup = start_chroma(tmp / "server", 8799)
    try:
        url = "http://127.0.0.1:8799"
        served = measure(Settings(home=tmp / "w1", corpus=corpus, chroma_url=url),
                         Settings(home=tmp / "r1", corpus=corpus, chroma_url=url))
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    local_settings = Settings(home=tmp / "w2", corpus=corpus)
    local = measure(local_settings, local_settings)  # a local index can only be read from its own folder
    print(f"chroma run start-up (process start to heartbeat): {startup:.2f} s")
    for key, what in (("ingest", "ingest of corpus/"), ("open", "open by a reader"),
                      ("search", f"search (median of {len(QUESTIONS)})")):
        print(f"{what}: server {served[key]:.3f} s, local {local[key]:.3f} s, ratio {served[key] / local[key]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
