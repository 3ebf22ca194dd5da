"""Pure loss functions with golden-value tests."""

from __future__ import annotations

import torch


def ppo_policy_loss(log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                    clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped surrogate loss (to minimise) and the fraction of samples clipped."""
    ratio = torch.exp(log_probs - old_log_probs)
    unclipped = advantages * ratio
    clipped = advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    loss = -torch.minimum(unclipped, clipped).mean()
    clip_frac = ((ratio - 1.0).abs() > clip).float().mean()
    return loss, clip_frac


def value_loss(values: torch.Tensor, returns: torch.Tensor, old_values: torch.Tensor | None = None,
               clip: float | None = None) -> torch.Tensor:
    """Mean squared error to the returns, optionally clipped around ``old_values`` (PPO2 style)."""
    if clip is None or old_values is None:
        return (values - returns).pow(2).mean()
    clipped = old_values + (values - old_values).clamp(-clip, clip)
    return torch.maximum((values - returns).pow(2), (clipped - returns).pow(2)).mean()


def approx_kl(log_probs: torch.Tensor, old_log_probs: torch.Tensor) -> torch.Tensor:
    """Low-variance estimator of KL(old || new): E[(r - 1) - log r]."""
    log_ratio = log_probs - old_log_probs
    return (torch.expm1(log_ratio) - log_ratio).mean()


def normalize(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit std (a batch of one is returned centred only)."""
    if x.numel() < 2:
        return x - x.mean()
    return (x - x.mean()) / (x.std() + eps)


def polyak_(targets: list[torch.Tensor], sources: list[torch.Tensor], tau: float) -> None:
    """:func:`soft_update` on parameter lists gathered once (no module walk per call)."""
    with torch.no_grad():
        if tau >= 1.0:
            torch._foreach_copy_(targets, sources)
        else:
            torch._foreach_lerp_(targets, sources, tau)


def soft_update(target: torch.nn.Module, source: torch.nn.Module, tau: float) -> None:
    """Polyak averaging ``target = (1 - tau) * target + tau * source`` in place."""
    with torch.no_grad():
        t_params = list(target.parameters())
        s_params = list(source.parameters())
        if tau >= 1.0:
            torch._foreach_copy_(t_params, s_params)
        else:
            torch._foreach_lerp_(t_params, s_params, tau)
