"""``python -m rlcore`` in a child process: list, train, eval and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlcore import registry

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["agents", "encoders", "policies", "storages", "distributions", "augmentations", "rewards"]
RUN_KEYS = ["algo", "env", "seed", "total_steps", "num_envs", "device", "config", "modules",
            "obs_shape", "action_space", "eval", "checkpoint", "wall_time_s", "update_path",
            "rlcore_version"]


def rlcore(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RLCORE_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "rlcore", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_list_json_has_the_seven_kinds_with_sorted_keys(tmp_path):
    proc = rlcore("list", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    catalog = json.loads(proc.stdout.strip().splitlines()[-1])
    assert list(catalog) == KINDS
    for kind, keys in catalog.items():
        assert keys == sorted(keys), kind
    assert catalog == registry.catalog()
    assert {"ppo", "a2c", "dqn", "sac", "td3", "ddpg"} <= set(catalog["agents"])


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    out = base / "run"
    proc = rlcore("train", "ppo", "CartPole-v1", "--steps", "2000", "--json", "--out", str(out),
                  "--eval-episodes", "3", "--no-progress", cwd=base)
    return proc, out, base


def test_train_json_prints_run_json_last(ppo_run):
    proc, out, base = ppo_run
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert list(printed) == RUN_KEYS
    assert printed == json.loads((out / "run.json").read_text())
    assert printed["algo"] == "ppo" and printed["env"] == "CartPole-v1"
    assert printed["total_steps"] >= 2000 and printed["eval"]["episodes"] == 3
    for name in ("progress.csv", "episodes.csv", "curve.png", printed["checkpoint"]):
        assert (out / name).is_file(), name
    assert not (base / "runs").exists(), "--out must be honoured"


def test_eval_json_on_the_run_folder(ppo_run):
    _, out, base = ppo_run
    proc = rlcore("eval", str(out), "--json", "--episodes", "3", "--seed", "11", cwd=base)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["algo"] == "ppo" and result["env"] == "CartPole-v1"
    assert result["episodes"] == 3 and len(result["returns"]) == 3
    assert result["return_mean"] == pytest.approx(sum(result["returns"]) / 3, abs=1e-3)


BAD = {  # args -> text the one-line error must contain
    "unknown-algorithm": (["train", "pp0", "CartPole-v1"], "'pp0'"),
    "unknown-env": (["train", "ppo", "CartPol-v1"], "'CartPol-v1'"),
    "unknown-field": (["train", "ppo", "CartPole-v1", "--set", "learning_rate=0.1"], "'learning_rate'"),
    "bad-value-type": (["train", "ppo", "CartPole-v1", "--set", "n_steps=many"], "'many'"),
    "dqn-on-pendulum": (["train", "dqn", "Pendulum-v1"], "Box"),
    "unknown-part-key": (["train", "ppo", "CartPole-v1", "--part", "encoder=resnet9"], "'resnet9'"),
    "part-that-does-not-fit": (["train", "sac", "Pendulum-v1", "--part", "policy=q_network"], "'q_network'"),
    "unknown-part-role": (["train", "ppo", "CartPole-v1", "--part", "critic=mlp"], "'critic'"),
    "unknown-backend": (["train", "ppo", "CartPole-v1", "--backend", "jax"], "'jax'"),
    "unknown-device": (["train", "ppo", "CartPole-v1", "--device", "tpu"], "'tpu'"),
    "missing-run-folder": (["eval", "no-such-run"], "'no-such-run'"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_exits_2_with_one_line(tmp_path, name):
    args, needle = BAD[name]
    proc = rlcore(*args, "--steps", "10", cwd=tmp_path) if args[0] == "train" else rlcore(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0] and lines[0].startswith("error: ")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "runs").exists(), "nothing may be written for bad input"


def test_debug_shows_the_traceback(tmp_path):
    proc = rlcore("--debug", "train", "pp0", "CartPole-v1", "--steps", "10", cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "RLCoreError" in proc.stderr and "'pp0'" in proc.stderr
