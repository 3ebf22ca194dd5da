"""rlcore: a modular, fast PyTorch RL framework.

    from rlcore import make_env, make_agent
    agent = make_agent("ppo", "CartPole-v1", seed=0)
    run = agent.train(100_000)          # returns the run.json manifest
    agent.evaluate(episodes=10)

Agents are assembled from registered parts (``rlcore.registry``) that can be swapped with
``agent.set(encoder=..., storage=...)``.
"""

__version__ = "0.1.0"

from typing import Any  # noqa: E402

from rlcore import registry  # noqa: E402
from rlcore.envs import make_env  # noqa: E402
from rlcore.errors import RLCoreError  # noqa: E402


def make_agent(algo: str, env: Any, config: Any = None, **kwargs: Any):
    """Build the agent registered as ``algo`` on ``env`` (a VecEnv or a Gymnasium env id).

    ``config`` is a dict of config fields (or the agent's Config instance); ``kwargs`` take
    ``seed``, ``device``, ``num_envs`` and parts by role (``encoder="mlp"``, ...).
    """
    cls = registry.get("agents", algo)
    return cls(env, config, **kwargs)


__all__ = ["__version__", "make_env", "make_agent", "registry", "RLCoreError"]
