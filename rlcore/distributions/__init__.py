"""Action distributions: heads that turn network outputs into actions.

Contract: ``cls(action_space, **kwargs)`` builds an ``nn.Module`` with ``num_params`` (how many
outputs the policy head must produce) and ``__call__(params) -> ActionDist`` where the
returned object has ``sample()``, ``mode`` and, when ``has_log_prob``, ``log_prob(a)``,
``entropy()`` and (reparameterised) ``rsample_log_prob()``. Continuous distributions work
in the normalised action range ``[-1, 1]`` when ``squashed`` is True; agents rescale.
"""

from rlcore.distributions.categorical import Categorical
from rlcore.distributions.gaussian import DiagGaussian, SquashedGaussian
from rlcore.distributions.noise import NormalNoise

__all__ = ["Categorical", "DiagGaussian", "SquashedGaussian", "NormalNoise"]
