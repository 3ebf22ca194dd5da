"""Small shared helpers: devices, threads, seeding, running statistics."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from rlcore.errors import RLCoreError


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``cpu`` by default; ``cuda`` only when asked for and present."""
    if device is None or str(device) == "cpu":
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise RLCoreError(f"Unknown device {str(device)!r}; accepted: cpu, cuda, cuda:N.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RLCoreError(f"Device {str(device)!r} was requested but no CUDA GPU is available; use 'cpu'.")
    if dev.type not in ("cpu", "cuda"):
        raise RLCoreError(f"Unknown device {str(device)!r}; accepted: cpu, cuda, cuda:N.")
    return dev


def set_threads(n: int | None = None) -> None:
    """Pin torch's intra-op threads (1 is fastest for the small networks RL uses)."""
    n = n or int(os.environ.get("RLCORE_THREADS", "1"))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class RunningMeanStd:
    """Running mean and variance (parallel Welford), kept as float64 tensors."""

    def __init__(self, shape: tuple[int, ...] = (), device: torch.device | str = "cpu",
                 epsilon: float = 1e-4):
        self.mean = torch.zeros(shape, dtype=torch.float64, device=device)
        self.var = torch.ones(shape, dtype=torch.float64, device=device)
        self.count = torch.tensor(epsilon, dtype=torch.float64, device=device)

    def update(self, x: torch.Tensor) -> None:
        x = x.to(torch.float64)
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False)
        n = x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta.pow(2) * self.count * n / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.mean, self.var, self.count = (state[k].to(self.mean.device) for k in ("mean", "var", "count"))


def adam(params, lr: float, **kwargs) -> torch.optim.Adam:
    """Adam with the fused kernel where this torch build supports it (much less per-step overhead)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, **kwargs)
