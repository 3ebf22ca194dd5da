"""Exporting a run's policy to ONNX and TorchScript: same actions as PyTorch, timed, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from rlcore.cli import load_run, main
from rlcore.envs import NormalizeObservation, find_wrapper
from rlcore.errors import RLCoreError
from rlcore.export import FORMATS, export_policy, sample_observations
from agent_checks import train_runs

ROOT = Path(__file__).resolve().parents[2]

# name -> (algo, env, config, steps): one discrete agent, one continuous off-policy agent,
# and one on-policy agent with observation normalisation (its statistics must be baked in).
RUNS = {
    "dqn-cartpole": ("dqn", "CartPole-v1", {"learning_starts": 100}, 300),
    "sac-pendulum": ("sac", "Pendulum-v1", {"learning_starts": 100, "batch_size": 64}, 200),
    "ppo-pendulum-norm": ("ppo", "Pendulum-v1", {"normalize_obs": True, "n_steps": 64}, 256),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return train_runs(tmp_path_factory.mktemp("export"), RUNS)


def _run_exported(path: Path, obs: np.ndarray, fmt: str = "onnx") -> np.ndarray:
    """Run an exported file with the format's own runtime, independently of rlcore.export."""
    if fmt == "onnx":
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: obs})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path))
    with torch.no_grad():
        return module(torch.from_numpy(obs)).numpy()


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "c"])  # C: tests/rlcore/test_export_c.py
@pytest.mark.parametrize("name", list(RUNS))
def test_exported_policy_acts_like_the_pytorch_agent(runs, name, fmt, tmp_path):
    result = export_policy(runs[name], fmt, tmp_path / f"policy-{fmt}.bin", calls=20)
    path = Path(result["path"])
    assert path.is_file() and result["max_abs_diff"] <= 1e-5
    assert result["latency_ms"] > 0 and result["batch_latency_ms"] > 0

    agent, _ = load_run(runs[name])
    obs = sample_observations(agent, 37, seed=123)  # another batch size than the export's example
    norm = find_wrapper(agent.env, NormalizeObservation)
    with torch.no_grad():
        expected = agent.act(norm.normalize(obs) if norm else obs, deterministic=True).numpy()
    got = _run_exported(path, obs.numpy(), fmt)
    assert got.shape == expected.shape
    if RUNS[name][1] == "CartPole-v1":
        assert got.dtype == np.int64 and result["action_dtype"] == "int64"
        np.testing.assert_array_equal(got, expected)
    else:
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
        assert np.all(got >= -2.0) and np.all(got <= 2.0)  # Pendulum's action bounds


def test_observation_statistics_are_baked_into_the_export(runs, tmp_path):
    run = runs["ppo-pendulum-norm"]
    result = export_policy(run, "onnx", tmp_path / "p.onnx", calls=5)
    assert result["normalized_obs"] is True
    agent, _ = load_run(run)
    norm = find_wrapper(agent.env, NormalizeObservation)
    assert float(norm.rms.mean.abs().max()) > 1e-3  # the run really moved its statistics
    obs = sample_observations(agent, 64, seed=5)
    with torch.no_grad():
        unnormalized = agent.act(obs, deterministic=True).numpy()
    got = _run_exported(Path(result["path"]), obs.numpy())
    assert np.max(np.abs(got - unnormalized)) > 1e-3


def test_cli_exports_and_prints_the_check_and_latency(runs, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), RLCORE_THREADS="1", PYTHONWARNINGS="ignore")
    out = tmp_path / "cartpole.onnx"
    proc = subprocess.run([sys.executable, "-m", "rlcore", "export", str(runs["dqn-cartpole"]), "--out", str(out)],
                          check=False, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and str(out) in proc.stdout
    assert "max abs diff 0 " in proc.stdout and "latency" in proc.stdout and " ms" in proc.stdout


def test_cli_json_and_default_output_path(runs, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs["sac-pendulum"], run)
    assert main(["export", str(run), "--format", "torchscript", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["path"] == str(run / "policy.torchscript.pt") and (run / "policy.torchscript.pt").is_file()
    assert result["max_abs_diff"] <= 1e-5 and result["latency_ms"] > 0


def _no_checkpoint(runs, tmp_path):
    folder = tmp_path / "no-ckpt"
    folder.mkdir()
    shutil.copy(runs["dqn-cartpole"] / "run.json", folder / "run.json")
    return folder


@pytest.mark.parametrize(("case", "needle"), [
    ("not-a-run", "is not a run folder"),
    ("bad-format", "Unknown export format 'tflite'; accepted: onnx, torchscript, c."),
    ("no-checkpoint", "does not exist"),
])
def test_cli_bad_input_exits_2_with_one_sentence(runs, tmp_path, capsys, case, needle):
    argv = {"not-a-run": ["export", str(tmp_path)],
            "bad-format": ["export", str(runs["dqn-cartpole"]), "--format", "tflite"],
            "no-checkpoint": ["export", str(_no_checkpoint(runs, tmp_path))]}[case]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err and "\n" not in err
    assert err.endswith(".") and err.count(". ") == 0


def test_python_api_refuses_a_bad_format_before_loading(tmp_path):
    with pytest.raises(RLCoreError, match="Unknown export format 'tf'"):
        export_policy(tmp_path, "tf")
