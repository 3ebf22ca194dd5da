"""Steps per second of the torch-native classic-control envs (printed, never asserted).

    python bench/torch_envs_speed.py [--num-envs 4096] [--steps 300] [--threads 1] [--device cpu]

For each env id: env-steps per second (``num_envs * steps / seconds``) with random valid
actions drawn up front, so only ``step`` is timed. Each figure is the best of ``--repeats``
runs, by wall clock and by process CPU time; on a busy shared machine the CPU-time figure
is the steadier one (it does not count time spent waiting for a core). For reference it also times Gymnasium's
own numpy-vectorised ``CartPoleVectorEnv`` and a ``SyncVectorEnv`` of Pendulum-v1 (the
latter on fewer envs and steps, scaled to steps per second), and prints the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from rlcore.envs.torch_native import TORCH_ENV_IDS, make_torch_env  # noqa: E402


def _actions(space: gym.Space, num_envs: int, steps: int, device: torch.device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    if isinstance(space, gym.spaces.Discrete):
        acts = torch.randint(0, int(space.n), (steps, num_envs), generator=gen)
    else:
        low, high = float(space.low[0]), float(space.high[0])
        acts = torch.rand((steps, num_envs, *space.shape), generator=gen) * (high - low) + low
    return acts.to(device)


def time_torch_env(env_id: str, num_envs: int, steps: int, device: str,
                   repeats: int) -> tuple[float, float]:
    env = make_torch_env(env_id, num_envs=num_envs, seed=0, device=device)
    env.reset()
    acts = _actions(env.single_action_space, num_envs, steps, env.device)
    for t in range(min(20, steps)):  # warm-up
        env.step(acts[t])
    def run() -> None:
        for t in range(steps):
            env.step(acts[t])
        if env.device.type == "cuda":
            torch.cuda.synchronize()
        env.pop_episodes()

    return _best_rates(run, num_envs * steps, repeats)


def _best_rates(run, env_steps: int, repeats: int) -> tuple[float, float]:
    """(env-steps per wall second, env-steps per CPU second), best of ``repeats`` runs."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return env_steps / wall, env_steps / max(cpu, 1e-9)


def time_gym_vector(env_id: str, num_envs: int, steps: int, mode: str,
                    repeats: int) -> tuple[float, float]:
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    space = envs.single_action_space
    if isinstance(space, gym.spaces.Discrete):
        acts = rng.integers(0, int(space.n), (steps, num_envs))
    else:
        acts = rng.uniform(space.low[0], space.high[0], (steps, num_envs, *space.shape))
        acts = acts.astype(np.float32)
    def run() -> None:
        for t in range(steps):
            envs.step(acts[t])

    rates = _best_rates(run, num_envs * steps, repeats)
    envs.close()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}, "
          f"{args.num_envs} envs x {args.steps} steps, best of {args.repeats}")
    print(f"  {'':6s} {'':34s} {'wall steps/s':>14s} {'CPU steps/s':>14s}")
    rates = {}
    for env_id in TORCH_ENV_IDS:
        rates[env_id] = time_torch_env(env_id, args.num_envs, args.steps, args.device, args.repeats)
        _report("torch", env_id, rates[env_id])
    ref = time_gym_vector("CartPole-v1", args.num_envs, args.steps, "vector_entry_point",
                          args.repeats)
    _report("gym", "CartPole-v1 (CartPoleVectorEnv)", ref, rates["CartPole-v1"])
    sync = time_gym_vector("Pendulum-v1", 64, 50, "sync", args.repeats)
    _report("gym", "Pendulum-v1 (SyncVectorEnv, 64 envs)", sync, rates["Pendulum-v1"])


def _report(kind: str, name: str, rates: tuple[float, float],
            torch_rates: tuple[float, float] | None = None) -> None:
    line = f"  {kind:6s} {name:34s} {rates[0]:14,.0f} {rates[1]:14,.0f}"
    if torch_rates is not None:
        line += (f"   torch is {torch_rates[0] / rates[0]:.2f}x (wall), "
                 f"{torch_rates[1] / rates[1]:.2f}x (CPU)")
    print(line)

if __name__ == "__main__":
    main()
