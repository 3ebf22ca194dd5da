"""Checks every new agent's tests share: ``from agent_checks import train_save_and_reload``."""

from __future__ import annotations

import torch

from rlcore import make_agent


def train_save_and_reload(algo: str, env_id: str, cfg: dict, out) -> None:
    """Train ``algo`` briefly on the eager path, save it, reload it into a fresh agent and
    check the reloaded agent acts exactly as the trained one."""
    agent = make_agent(algo, env_id, cfg, seed=0, num_envs=2)
    manifest = agent.train(128, out=out, eval_episodes=1, progress=False, tensorboard=False)
    assert manifest["algo"] == algo and manifest["update_path"] == f"eager ({algo} has no fused kernel)"
    assert manifest["modules"]["policy"] == f"{algo}_actor_critic"
    other = make_agent(algo, env_id, cfg, seed=1, num_envs=2).load(out / manifest["checkpoint"])
    obs = torch.zeros(3, *agent.observation_space.shape)
    torch.testing.assert_close(other.act(obs), agent.act(obs))


def train_runs(base, runs: dict) -> dict:
    """Train each ``name -> (algo, env, config, steps)`` of ``runs`` briefly (seed 0, one torch
    thread) into ``base / name``; return ``name -> run folder``."""
    torch.set_num_threads(1)
    out = {}
    for name, (algo, env, config, steps) in runs.items():
        agent = make_agent(algo, env, config, seed=0)
        agent.train(steps, out=base / name, eval_episodes=0, progress=False, tensorboard=False)
        out[name] = base / name
    return out
