"""Experience storages.

Contract: ``cls(observation_space, action_space, num_envs, size, device, **kwargs)``.
On-policy storages (``kind = "on_policy"``) hold ``size`` steps of ``num_envs`` envs and yield
:class:`rlcore.types.RolloutBatch`; off-policy storages (``kind = "off_policy"``) hold up to
``size`` transitions, take ``add(obs, actions, rewards, next_obs, terminated, truncated=None)``
and sample :class:`rlcore.types.ReplayBatch`. Multi-step storages set ``discounts`` (the
bootstrap discount per sample); prioritized ones set ``weights`` and ``indices`` and have
``update_priorities(indices, td_errors)``. Constructor keywords named ``gamma`` and
``progress`` receive the agent's discount and training-progress callable. Dict observation
spaces are stored per key and batched as dicts of tensors.
"""

from rlcore.storage.nstep import NStepReplay
from rlcore.storage.prioritized import PrioritizedReplay
from rlcore.storage.replay import ReplayStorage
from rlcore.storage.rollout import RolloutStorage
from rlcore.storage.sumtree import SumTree

__all__ = ["RolloutStorage", "ReplayStorage", "NStepReplay", "PrioritizedReplay", "SumTree"]
