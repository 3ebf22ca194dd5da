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


SCHEDULES = ("constant", "linear")


def scheduled(value: float, schedule: str, progress_remaining: float) -> float:
    """``value`` under ``schedule``: ``"constant"`` keeps it, ``"linear"`` scales it by the
    share of training left (1.0 at the start, 0.0 at the end). Configs check the name with
    :func:`rlcore.config.check_choice` against :data:`SCHEDULES`."""
    return value * progress_remaining if schedule == "linear" else value


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class RunningMeanStd:
    """Running mean and variance (parallel Welford), kept as float64 tensors.

    ``count`` is a Python float (it is a scalar, and tensor arithmetic on it would cost a
    kernel launch per operation on every env step); checkpoints store it as a tensor.
    """

    def __init__(self, shape: tuple[int, ...] = (), device: torch.device | str = "cpu",
                 epsilon: float = 1e-4):
        self.mean = torch.zeros(shape, dtype=torch.float64, device=device)
        self.var = torch.ones(shape, dtype=torch.float64, device=device)
        self.count = float(epsilon)

    def update(self, x: torch.Tensor) -> None:
        batch_var, batch_mean = torch.var_mean(x.to(torch.float64), 0, correction=0)
        n = x.shape[0]
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count
        m2.add_(batch_var, alpha=n).addcmul_(delta, delta, value=self.count * n / total)
        self.mean.add_(delta, alpha=n / total)  # in place: compiled code may point at these
        self.var.copy_(m2.div_(total))
        self.count = total

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Copies: the statistics are updated in place, so a saved dict must not follow them."""
        count = torch.tensor(self.count, dtype=torch.float64, device=self.mean.device)
        return {"mean": self.mean.clone(), "var": self.var.clone(), "count": count}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.mean, self.var = (state[k].to(self.mean.device, torch.float64).clone() for k in ("mean", "var"))
        self.count = float(state["count"])


class LeanAdam(torch.optim.Adam):
    """Adam on the fused kernel with a lean ``step`` and ``zero_grad``; same math, same state.

    For the small networks of RL, ``Optimizer.step`` spends longer on bookkeeping (hooks,
    profiler records, grouping tensors by device, state lookups) than the fused kernel
    spends on the update. The first step runs the ordinary path, which creates the state;
    later steps call the kernel directly on cached lists of that state. Any step where a
    parameter has no gradient, or after ``load_state_dict``/``add_param_group``, takes the
    ordinary path again.
    """

    def __init__(self, params, lr: float, **kwargs):
        super().__init__(params, lr=lr, fused=True, **kwargs)
        self._lean: list[tuple[list, list, list, list]] | None = None

    def _cache(self) -> None:
        lean = []
        for group in self.param_groups:
            if group["amsgrad"] or any(p not in self.state for p in group["params"]):
                self._lean = None
                return
            states = [self.state[p] for p in group["params"]]
            lean.append((list(group["params"]), [st["exp_avg"] for st in states],
                         [st["exp_avg_sq"] for st in states], [st["step"] for st in states]))
        self._lean = lean

    def zero_grad(self, set_to_none: bool = True) -> None:
        if not set_to_none:
            return super().zero_grad(set_to_none=False)
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None or self._lean is None:
            loss = super().step(closure)
            self._cache()
            return loss
        grads = [[p.grad for p in params] for params, *_ in self._lean]
        if any(g is None for gs in grads for g in gs):
            return super().step()
        for group, (params, exp_avgs, exp_avg_sqs, steps), gs in zip(self.param_groups, self._lean, grads):
            torch._foreach_add_(steps, 1)
            beta1, beta2 = group["betas"]
            torch._fused_adam_(params, gs, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                               maximize=group["maximize"], grad_scale=None, found_inf=None)
        return None

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self._lean = None

    def add_param_group(self, param_group) -> None:
        super().add_param_group(param_group)
        self._lean = None


def adam(params, lr: float, **kwargs) -> torch.optim.Adam:
    """Adam for agents: :class:`LeanAdam` where this torch build has the fused CPU/CUDA kernel."""
    params = list(params)
    try:
        return LeanAdam(params, lr=lr, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, **kwargs)
