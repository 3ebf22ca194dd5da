"""Pure return math: discounting, GAE and n-step targets.

All functions take time-major tensors ``[T, N]`` (T steps of N parallel envs) and have no
side effects. ``dones[t]`` is 1 where the episode ended after step ``t``; a time-limit
truncation is handled by the caller folding ``gamma * V(final_obs)`` into that step's
reward, so these functions treat every done as terminal.
"""

from __future__ import annotations

import torch


def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, gamma: float,
                       last_value: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Discounted reward-to-go ``G_t = r_t + gamma * (1 - done_t) * G_{t+1}``.

    ``last_value`` bootstraps the step after the last one (per env or scalar).
    """
    T = rewards.shape[0]
    out = torch.empty_like(rewards)
    running = torch.as_tensor(last_value, dtype=rewards.dtype, device=rewards.device)
    running = running.expand_as(rewards[0]).clone()
    not_done = 1.0 - dones.to(rewards.dtype)
    for t in range(T - 1, -1, -1):
        running = rewards[t] + gamma * not_done[t] * running
        out[t] = running
    return out


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor,
        last_value: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized Advantage Estimation (Schulman et al., 2015).

    ``delta_t = r_t + gamma * (1 - done_t) * V_{t+1} - V_t`` and
    ``A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}``, where ``V_T = last_value``.
    Returns ``(advantages, returns)`` with ``returns = advantages + values``.
    """
    T = rewards.shape[0]
    not_done = 1.0 - dones.to(rewards.dtype)
    next_values = torch.cat([values[1:], last_value.reshape(1, *values.shape[1:])], dim=0)
    deltas = rewards + gamma * not_done * next_values - values
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    coef = gamma * lam * not_done
    for t in range(T - 1, -1, -1):
        running = deltas[t] + coef[t] * running
        advantages[t] = running
    return advantages, advantages + values


def nstep_targets(rewards: torch.Tensor, dones: torch.Tensor, bootstrap: torch.Tensor,
                  gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """n-step discounted sums along the last axis.

    ``rewards`` and ``dones`` are ``[B, n]`` (the n rewards following each sampled state);
    ``bootstrap`` is ``[B]``, the value of the state n steps ahead. Rewards after a done are
    ignored and the bootstrap is dropped when any done occurs.
    Returns ``(target, discount)`` where ``target = sum_k gamma^k r_k + discount * bootstrap``
    and ``discount = gamma^n`` (0 after a terminal).
    """
    n = rewards.shape[-1]
    dones = dones.to(rewards.dtype)
    alive = torch.cumprod(1.0 - dones, dim=-1)
    # reward k counts if no done happened strictly before k
    before = torch.cat([torch.ones_like(alive[..., :1]), alive[..., :-1]], dim=-1)
    powers = gamma ** torch.arange(n, dtype=rewards.dtype, device=rewards.device)
    partial = (rewards * before * powers).sum(-1)
    discount = alive[..., -1] * gamma**n
    return partial + discount * bootstrap, discount


def nstep_returns(rewards: torch.Tensor, terminated: torch.Tensor, stops: torch.Tensor,
                  gamma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Truncated n-step discounted sums for windows that may end early.

    ``rewards``, ``terminated`` and ``stops`` are ``[B, n]``: the up-to-n transitions that
    follow each sampled state, in order. ``stops[b, k]`` is 1 where the window must end after
    transition ``k`` (the episode terminated or was truncated there, or transition ``k + 1``
    has not been collected yet); the last column is ignored (a window never goes past n).
    With ``m`` the number of transitions actually used (1 to n), returns

    * ``returns = sum_{k < m} gamma^k r_k``,
    * ``discounts = gamma^m`` (multiply the bootstrap value of the state after step ``m``),
    * ``steps = m`` (int64),
    * ``dones = terminated[m - 1]`` (1.0 where the last used transition was terminal).

    The TD target is then ``returns + discounts * (1 - dones) * V(s_{t+m})``.
    """
    n = rewards.shape[-1]
    stops = stops.to(rewards.dtype)
    # transition k is used if no stop happened strictly before k
    used = torch.cumprod(torch.cat([torch.ones_like(stops[..., :1]), 1.0 - stops[..., :-1]], -1), -1)
    powers = gamma ** torch.arange(n, dtype=rewards.dtype, device=rewards.device)
    returns = (rewards * used * powers).sum(-1)
    steps = used.sum(-1).round().long()
    dones = terminated.to(rewards.dtype).gather(-1, (steps - 1).unsqueeze(-1)).squeeze(-1)
    discounts = torch.pow(torch.as_tensor(gamma, dtype=rewards.dtype, device=rewards.device),
                          steps.to(rewards.dtype))
    return returns, discounts, steps, dones


def td_target(rewards: torch.Tensor, dones: torch.Tensor, next_values: torch.Tensor,
              gamma: float | torch.Tensor) -> torch.Tensor:
    """One-step TD target ``r + gamma * (1 - done) * V(s')``.

    ``gamma`` may be a ``[B]`` tensor: pass ``ReplayBatch.discounts`` (``gamma^k`` per sample)
    for n-step batches, which makes this the n-step target.
    """
    return rewards + gamma * (1.0 - dones.to(rewards.dtype)) * next_values
