"""Weight initialisation shared by policies."""

from __future__ import annotations

import math

from torch import nn


def orthogonal_(module: nn.Module, gain: float = math.sqrt(2)) -> nn.Module:
    """Orthogonal weights with ``gain`` and zero biases for every Linear/Conv layer in ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module
