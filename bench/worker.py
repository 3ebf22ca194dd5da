"""One timed training run in a fresh process: ``python -m bench.worker LIB SUITE SEED BACKEND``.

LIB is ``rlcore``, ``sb3``, ``sbx`` (SB3's API on JAX; its jit compilation happens during the
first steps and is timed as training) or ``rltools`` (its C++ training loop is compiled once
per suite and cached, before timing starts).

Prints one JSON line: train_s (training only), setup_s, return (20 deterministic episodes),
peak_mb (max resident set size).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def run_rlcore(suite, seed: int, backend: str) -> tuple[float, float, float]:
    import torch

    torch.set_num_threads(1)
    from rlcore import make_agent

    t0 = time.perf_counter()
    if backend == "torch":
        from rlcore.envs.torch_native import TORCH_ENV_IDS

        backend = "torch" if suite.env_id in TORCH_ENV_IDS else "gym"
    agent = make_agent(suite.algo, suite.env_id, dict(suite.rlcore), seed=seed,
                       num_envs=suite.num_envs, backend=backend)
    agent.build()
    setup = time.perf_counter() - t0
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        manifest = agent.train(suite.steps, out=out, eval_episodes=0, progress=False, tensorboard=False)
    train = manifest["wall_time_s"]
    ret = agent.evaluate(20, seed=10_000 + seed)["return_mean"]
    return setup, train, ret


def run_sb3(suite, seed: int, lib: str = "sb3") -> tuple[float, float, float]:
    import torch

    torch.set_num_threads(1)
    import gymnasium as gym
    import numpy as np

    if lib == "sbx":
        from sbx import PPO, SAC, TD3
    else:
        from stable_baselines3 import PPO, SAC, TD3
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize

    t0 = time.perf_counter()
    env = make_vec_env(suite.env_id, n_envs=suite.num_envs, seed=seed)
    if suite.sb3_normalize_obs:
        env = VecNormalize(env, norm_obs=True, norm_reward=False)
    kwargs = dict(suite.sb3)
    for name in ("learning_rate", "clip_range"):
        value = kwargs.get(name)
        if isinstance(value, str) and value.startswith("lin_"):
            start = float(value[4:])
            kwargs[name] = lambda progress, start=start: progress * start
    cls = {"ppo": PPO, "sac": SAC, "td3": TD3}[suite.algo]
    if suite.algo == "td3":
        from stable_baselines3.common.noise import NormalActionNoise

        n = env.action_space.shape[0]
        kwargs["action_noise"] = NormalActionNoise(np.zeros(n), 0.1 * np.ones(n))
    model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0,
                policy_kwargs=dict(suite.sb3_policy_kwargs), **kwargs)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    model.learn(suite.steps)
    train = time.perf_counter() - t1
    if suite.sb3_normalize_obs:
        env.training = False
    eval_env = env if suite.sb3_normalize_obs else gym.make(suite.env_id)
    ret, _ = evaluate_policy(model, eval_env, n_eval_episodes=20, deterministic=True)
    return setup, train, float(ret)


def run_rltools(suite, seed: int) -> tuple[float, float, float]:
    import gymnasium as gym
    import numpy as np
    from gymnasium.wrappers import RescaleAction

    t0 = time.perf_counter()
    import rltools

    def env_factory():
        env = RescaleAction(gym.make(suite.env_id), -1.0, 1.0)
        env.reset(seed=seed)
        return env
    algo = {"ppo": rltools.PPO, "sac": rltools.SAC, "td3": rltools.TD3}[suite.algo]
    module = algo(env_factory, enable_evaluation=False, interface_name=f"bench_{suite.key.lower()}",
                  **suite.rltools)
    state = module.State(seed)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    while not state.step():
        pass
    train = time.perf_counter() - t1
    env, returns = env_factory(), []
    for episode in range(20):
        obs, _ = env.reset(seed=10_000 + seed + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(np.asarray(state.action(obs), dtype=np.float32))
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return setup, train, float(np.mean(returns))


def main() -> None:
    from bench.suites import SUITES

    lib, key, seed, backend = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    suite = SUITES[key]
    if lib == "rlcore":
        setup, train, ret = run_rlcore(suite, seed, backend)
    elif lib == "rltools":
        setup, train, ret = run_rltools(suite, seed)
    else:
        setup, train, ret = run_sb3(suite, seed, lib)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"lib": lib, "suite": key, "seed": seed, "setup_s": round(setup, 3),
                      "train_s": round(train, 3), "return": ret, "peak_mb": round(peak, 1)}), flush=True)


if __name__ == "__main__":
    main()
