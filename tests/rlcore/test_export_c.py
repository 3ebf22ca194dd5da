"""C export of MLP policies: the header compiles on its own with cc and acts like PyTorch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rlcore import RLCoreError, make_agent
from rlcore.cli import load_run
from rlcore.envs import NormalizeObservation, find_wrapper
from rlcore.export import export_policy, sample_observations
from agent_checks import train_runs

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")

# name -> (algo, env, config, steps): discrete (Q-values, logits with a critic beside them,
# observation statistics), continuous (a clipped Gaussian mean with statistics, a squashed
# mean read from a head that also outputs the log-std).
RUNS = {
    "dqn-cartpole": ("dqn", "CartPole-v1", {"learning_starts": 100}, 300),
    "ppo-cartpole-norm": ("ppo", "CartPole-v1", {"normalize_obs": True, "n_steps": 64}, 512),
    "ppo-pendulum-norm": ("ppo", "Pendulum-v1", {"normalize_obs": True, "n_steps": 64}, 512),
    "sac-pendulum": ("sac", "Pendulum-v1", {"learning_starts": 100, "batch_size": 64}, 200),
}

HARNESS = r"""
#include <stdio.h>
#include "policy.h"
int main(void) {
    float obs[RLCORE_POLICY_OBS_DIM], out[RLCORE_POLICY_OUT_DIM], act[RLCORE_POLICY_ACT_DIM];
    while (fread(obs, sizeof obs, 1, stdin) == 1) {
        rlcore_policy_forward(obs, out);
        int index = rlcore_policy_act(obs, act);
        fwrite(out, sizeof out, 1, stdout);
        fwrite(act, sizeof act, 1, stdout);
        fwrite(&index, sizeof index, 1, stdout);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return train_runs(tmp_path_factory.mktemp("export_c"), RUNS)


def _compile_and_run(header: Path, obs: np.ndarray, out_dim: int, act_dim: int, tmp_path: Path):
    """(outputs, actions, returned indices) of the header built by this test's own program."""
    shutil.copy(header, tmp_path / "policy.h")
    (tmp_path / "main.c").write_text(HARNESS)
    subprocess.run(["cc", "-O2", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "p"),
                    str(tmp_path / "main.c"), "-lm"], check=True, cwd=tmp_path)
    raw = subprocess.run([str(tmp_path / "p")], input=obs.astype(np.float32).tobytes(), capture_output=True,
                         check=True).stdout
    rows = np.frombuffer(raw, dtype=np.float32).reshape(len(obs), out_dim + act_dim + 1)
    return rows[:, :out_dim], rows[:, out_dim:out_dim + act_dim], rows[:, -1:].view(np.int32)[:, 0]


def _logits(agent, obs: torch.Tensor, n: int) -> np.ndarray:
    """The output of the last Linear layer with ``n`` outputs that ``agent.act`` runs."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o)) for net in agent.networks().values()
             if isinstance(net, nn.Module) for m in net.modules() if isinstance(m, nn.Linear) and m.out_features == n]
    with torch.no_grad():
        agent.act(obs, deterministic=True)
    for h in hooks:
        h.remove()
    return seen[-1].numpy()


@pytest.mark.parametrize("name", list(RUNS))
def test_c_header_acts_like_the_pytorch_agent(runs, name, tmp_path):
    result = export_policy(runs[name], "c", tmp_path / "exported.h")
    header = Path(result["path"])
    assert header.is_file() and result["size_bytes"] == header.stat().st_size
    assert result["max_abs_diff"] <= 1e-5 and result["latency_us"] > 0
    assert "#include <math.h>" in header.read_text() and "#include <stdlib.h>" not in header.read_text()

    agent, _ = load_run(runs[name])
    obs = sample_observations(agent, 61, seed=321)
    obs = torch.cat([obs, obs * 25.0])  # large inputs push continuous means past the action bounds
    norm = find_wrapper(agent.env, NormalizeObservation)
    assert result["normalized_obs"] is (norm is not None)
    normed = norm.normalize(obs) if norm is not None else obs
    with torch.no_grad():
        expected = agent.act(normed, deterministic=True).numpy()
    if RUNS[name][1] == "CartPole-v1":
        logits = _logits(agent, normed, 2)
        out, act, index = _compile_and_run(header, obs.numpy(), 2, 1, tmp_path)
        np.testing.assert_array_equal(index, expected)
        np.testing.assert_array_equal(act[:, 0], expected.astype(np.float32))
        np.testing.assert_allclose(out, logits, rtol=0, atol=1e-5)
    else:
        out_dim = int(result["layers"][-1].split(", ")[1].rstrip(")"))  # "Linear(64, 2)" -> 2
        _, act, index = _compile_and_run(header, obs.numpy(), out_dim, 1, tmp_path)
        assert (index == -1).all()
        np.testing.assert_allclose(act, expected, rtol=0, atol=1e-5)
        if name == "sac-pendulum":  # the squashed mean reached far into the action range
            assert np.abs(expected).max() > 1.0


@pytest.mark.parametrize("mapping", ["clip", "rescale", "tanh_rescale"])
def test_action_mappings_past_the_bounds(mapping, tmp_path):
    """A hand-made chain whose outputs leave the bounds: the C mapping matches its definition."""
    import gymnasium as gym

    from rlcore.export_c import _mapping, header_source

    torch.manual_seed(0)
    layers = [nn.Linear(3, 8), nn.ELU(alpha=0.5), nn.Linear(8, 2)]
    with torch.no_grad():
        layers[2].weight.mul_(20.0)
    space = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32))
    header = tmp_path / "h.h"
    header.write_text(header_source(layers, mapping, space, obs_dim=3))
    obs = torch.randn(50, 3) * 3
    with torch.no_grad():
        out = nn.Sequential(*layers)(obs)
    expected = _mapping(mapping, out, space).numpy()
    got_out, got_act, _ = _compile_and_run(header, obs.numpy(), 2, 2, tmp_path)
    np.testing.assert_allclose(got_out, out.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(got_act, expected, rtol=0, atol=1e-5)
    if mapping == "clip":
        assert (np.abs(out.numpy()[:, 0]) > 2.0).any() and (got_act[:, 0] == 2.0).any()


def test_non_mlp_encoders_are_refused_in_one_sentence(tmp_path):
    agent = make_agent("drqv2", "Pendulum-v1", {"learning_starts": 1000, "image_size": 36}, seed=0)
    agent.train(40, out=tmp_path / "run", eval_episodes=0, progress=False, tensorboard=False)
    with pytest.raises(RLCoreError) as err:
        export_policy(tmp_path / "run", "c")
    message = str(err.value)
    assert "MLP policies only" in message and "Conv2d" in message and "\n" not in message
    assert not (tmp_path / "run" / "policy.h").exists()


def test_cli_prints_size_and_latency_per_action(runs, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), RLCORE_THREADS="1", PYTHONWARNINGS="ignore")
    out = tmp_path / "cartpole.h"
    proc = subprocess.run([sys.executable, "-m", "rlcore", "export", str(runs["dqn-cartpole"]), "--format", "c",
                           "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"({out.stat().st_size} bytes)" in proc.stdout and "us per action" in proc.stdout


def test_export_does_not_import_the_cli():
    code = "import sys, rlcore.export, rlcore.export_c; print('rlcore.cli' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_unbounded_actions_compile(tmp_path):
    import gymnasium as gym

    from rlcore.export_c import header_source

    layers = [nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)]
    space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    header = tmp_path / "h.h"
    header.write_text(header_source(layers, "clip", space, obs_dim=2))
    obs = torch.randn(5, 2)
    with torch.no_grad():
        out = nn.Sequential(*layers)(obs).numpy()
    _, act, _ = _compile_and_run(header, obs.numpy(), 1, 1, tmp_path)
    np.testing.assert_allclose(act, out, rtol=0, atol=1e-6)
