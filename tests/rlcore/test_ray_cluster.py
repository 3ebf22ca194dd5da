"""A two-node Ray cluster on loopback: `rlcore sweep --address` spreads its runs over both
nodes, and every run gives the same result as the same seed run locally, one after another.

The head (`ray start --head`) and a second node (`ray start --address`) run with their own
temp folders, one CPU each and free ports, under a shared token; each `ray start --block`
leads its own process group, which the teardown kills (`ray stop` would also stop other Ray
instances on the machine).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from rlcore.experiment import Experiment

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
SWEEP = dict(algos=["ppo"], envs=["CartPole-v1"], seeds=[0, 1, 2, 3], steps=512, eval_episodes=2,
             common={"config": {"n_steps": 64}})
NODES_UP = """
import json, sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
deadline = time.monotonic() + 120
while True:
    alive = [n for n in ray.nodes() if n["Alive"]]
    if len(alive) >= 2 or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps([n["NodeID"] for n in alive]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ports(*names: str) -> list[str]:
    return [f"--{name}={free_port()}" for name in names]


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=80000000",
              "--disable-usage-stats", *_ports("dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                               "runtime-env-agent-port", "metrics-export-port")]
    return subprocess.Popen([RAY, "start", *args, *common], stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            time.sleep(1)  # the group's other processes go with their leader's clean-up
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the leader left behind
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def cluster():
    """(address, environment for drivers, node ids) of a head and a second node on loopback."""
    tmp = Path(tempfile.mkdtemp(prefix="rlc-", dir="/tmp"))  # Ray's socket paths must stay under 108 bytes
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
           "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                                      os.environ.get("PYTHONPATH")]))}
    port = free_port()
    address = f"127.0.0.1:{port}"
    procs = []
    try:
        procs.append(_start(["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={tmp / 'head'}",
                             *_ports("dashboard-port", "ray-client-server-port")], tmp / "head.log", env))
        deadline = time.monotonic() + 120
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if procs[0].poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head failed: {(tmp / 'head.log').read_text()[-1500:]}")
            time.sleep(0.5)
        procs.append(_start([f"--address={address}", f"--temp-dir={tmp / 'node2'}"], tmp / "node2.log", env))
        out = subprocess.run([sys.executable, "-c", NODES_UP, address], env=env, capture_output=True, text=True,
                             timeout=180)
        nodes = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else []
        assert len(nodes) == 2, f"the second node did not join: {out.stderr[-1500:]}"
        yield address, env, set(nodes)
    finally:
        for proc in reversed(procs):
            _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.slow
def test_a_sweep_with_address_uses_both_nodes_and_matches_local_runs(cluster, tmp_path):
    address, env, nodes = cluster
    cmd = [sys.executable, "-m", "rlcore", "sweep", "--algo", "ppo", "--env", "CartPole-v1", "--seed-list",
           "0,1,2,3", "--steps", "512", "--set", "n_steps=64", "--eval-episodes", "2", "--address", address,
           "--out", str(tmp_path / "cluster"), "--json"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = json.loads(out.stdout.strip().splitlines()[-1])["runs"]
    assert [r["state"] for r in runs] == ["done"] * 4
    used = {r["node"]["ray_node_id"] for r in runs}
    assert used == nodes, f"runs landed on {used}, the cluster has {nodes}"
    assert all(r["node"]["ip"] and r["node"]["host"] == socket.gethostname() for r in runs)

    local = Experiment(out=tmp_path / "local", **SWEEP).run(backend="serial")
    assert [(r["seed"], r["score"]) for r in runs] == [(r["seed"], r["score"]) for r in local.runs]
    for there, here in zip(runs, local.runs):
        episodes = [Path(r["run_dir"], "episodes.csv").read_text() for r in (there, here)]
        assert episodes[0] == episodes[1], f"seed {here['seed']}: the episodes differ"
        assert here["node"]["pid"] == os.getpid() and "ray_node_id" not in here["node"]


def test_an_unreachable_address_is_one_sentence(tmp_path, capsys):
    from rlcore.cli import main

    code = main(["sweep", "--algo", "ppo", "--env", "CartPole-v1", "--seeds", "1", "--steps", "64",
                 "--address", f"127.0.0.1:{free_port()}", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Could not join the Ray cluster at '127.0.0.1:" in err, err
    assert "Traceback" not in err
