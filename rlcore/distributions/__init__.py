"""Action distributions: heads that turn network outputs into actions.

Contract: ``cls(action_space, **kwargs)`` builds an ``nn.Module`` with ``num_params`` (how many
outputs the policy head must produce) and ``__call__(params) -> ActionDist`` where the
returned object has ``sample()``, ``mode`` and, when ``has_log_prob``, ``log_prob(a)``,
``entropy()`` and (reparameterised) ``rsample_log_prob()``. Continuous distributions work
in the normalised action range ``[-1, 1]`` when ``squashed`` is True; agents rescale.
Discrete-type spaces (Discrete, MultiDiscrete, MultiBinary) sample int64 actions of shape
``[B, *space.shape]``. A distribution with per-env state (``ou_noise``) also has
``reset_noise(done)``, which off-policy agents call where episodes end.
"""

from rlcore.distributions.categorical import Categorical
from rlcore.distributions.gaussian import DiagGaussian, SquashedGaussian
from rlcore.distributions.multi import Bernoulli, MultiCategorical
from rlcore.distributions.noise import NormalNoise, OUNoise
from rlcore.distributions.truncated import TruncatedNormal

__all__ = ["Categorical", "DiagGaussian", "SquashedGaussian", "NormalNoise", "OUNoise", "Bernoulli",
           "MultiCategorical", "TruncatedNormal"]
