"""Experience storages.

Contract: ``cls(observation_space, action_space, num_envs, size, device, **kwargs)``.
On-policy storages (``kind = "on_policy"``) hold ``size`` steps of ``num_envs`` envs and yield
:class:`rlcore.types.RolloutBatch`; off-policy storages (``kind = "off_policy"``) hold up to
``size`` transitions and sample :class:`rlcore.types.ReplayBatch`.
"""

from rlcore.storage.replay import ReplayStorage
from rlcore.storage.rollout import RolloutStorage

__all__ = ["RolloutStorage", "ReplayStorage"]
