"""What every intrinsic reward shares: input handling, scaling, training and state.

A subclass implements ``_bonus`` (raw, unscaled bonuses for a time-major batch) and, when
it has trainable networks, ``_loss``; :class:`IntrinsicReward` does the rest:

* **Shapes.** ``compute`` takes flat ``[N, ...]`` inputs (one sequence in time order) or
  time-major ``[T, E, ...]`` inputs (``E`` parallel envs, ``T`` steps each). ``_bonus``
  always sees ``[T, E, ...]``; a flat batch is ``T = N, E = 1``.
* **Observations.** Float observations are standardised by running mean and std and
  clipped to ``[-5, 5]`` (``obs_norm=True``), as in Burda et al. (2018); byte images are
  passed to the image encoder unchanged (it rescales them).
* **Scaling.** The raw bonus is divided by a root-mean-square (``normalize``):
  ``"batch"`` (default) that of the bonuses of the same ``compute`` call, so the bonus
  keeps a unit scale however small prediction errors become and a near-constant bonus is
  never blown up; ``"running"`` that of all bonuses so far (the bonus fades as the task
  becomes familiar); ``"none"`` leaves it raw. The result is multiplied by
  ``beta * (1 - kappa) ** calls``, where ``calls`` counts ``compute`` calls (once per
  rollout on-policy, once per minibatch off-policy).
* **Training.** ``update(batch)`` runs ``epochs`` passes of ``batch_size`` minibatches of
  ``_loss`` with Adam and gradient clipping and returns mean metrics prefixed with the key.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rlcore import registry
from rlcore.encoders import mlp
from rlcore.errors import RLCoreError
from rlcore.utils import RunningMeanStd

IMAGE_ENCODER = "nature_cnn"  # used for image observations when registered
NORMALIZE = ("batch", "running", "none")


ACTION_SPACES = (gym.spaces.Discrete, gym.spaces.Box, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)


def action_dim(space: gym.Space) -> int:
    """Width of an encoded action: one-hot widths for (Multi)Discrete, the flat size otherwise."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    if isinstance(space, (gym.spaces.Box, gym.spaces.MultiBinary)):
        return int(np.prod(space.shape))
    raise RLCoreError(f"Intrinsic rewards need a Discrete, Box, MultiDiscrete or MultiBinary action "
                      f"space; got {space}.")


def encode_actions(actions: torch.Tensor, space: gym.Space) -> torch.Tensor:
    """Actions as float vectors ``[B, action_dim]``: one-hot per (Multi)Discrete component
    (indices from 0, as agents store them), the flat values for Box and MultiBinary."""
    if isinstance(space, gym.spaces.Discrete):
        return F.one_hot(actions.long().reshape(-1), int(space.n)).float()
    if isinstance(space, gym.spaces.MultiDiscrete):
        a = actions.long().reshape(actions.shape[0], -1)
        return torch.cat([F.one_hot(a[:, i], int(n)) for i, n in enumerate(space.nvec.reshape(-1))], -1).float()
    return actions.reshape(actions.shape[0], -1).float()


def inverse_loss(prediction: torch.Tensor, actions: torch.Tensor, space: gym.Space) -> torch.Tensor:
    """Inverse-dynamics loss on predicted action logits/values ``[B, action_dim]``:
    cross-entropy (per component) for (Multi)Discrete, logistic for MultiBinary, squared
    error for Box."""
    if isinstance(space, gym.spaces.Discrete):
        return F.cross_entropy(prediction, actions.long().reshape(-1))
    if isinstance(space, gym.spaces.MultiDiscrete):
        a = actions.long().reshape(actions.shape[0], -1)
        logits = prediction.split([int(n) for n in space.nvec.reshape(-1)], -1)
        return sum(F.cross_entropy(lg, a[:, i]) for i, lg in enumerate(logits)) / len(logits)
    if isinstance(space, gym.spaces.MultiBinary):
        return F.binary_cross_entropy_with_logits(prediction, encode_actions(actions, space))
    return (prediction - encode_actions(actions, space)).pow(2).mean()


def is_image(space: gym.Space) -> bool:
    return len(space.shape) >= 3


class _ScaledFlatMlp(nn.Module):
    """Flatten, rescale bytes to ``[0, 1]``, then an MLP (vector observations and fallback)."""

    def __init__(self, space: gym.Space, hidden: tuple[int, ...]):
        super().__init__()
        self.scale = 1.0 / 255.0 if space.dtype == np.uint8 else 1.0
        self.net = mlp([int(np.prod(space.shape)), *hidden], "relu", out_act=True)
        self.out_dim = int(hidden[-1]) if hidden else int(np.prod(space.shape))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.reshape(obs.shape[0], -1).float() * self.scale)


def embedding_net(space: gym.Space, latent_dim: int, hidden: tuple[int, ...],
                  encoder: str = "auto") -> nn.Module:
    """Observation -> ``[B, latent_dim]``: a trunk plus a linear head.

    ``encoder="auto"`` uses the registered ``nature_cnn`` for image spaces (3 or more
    dimensions) and a flattening ReLU MLP of widths ``hidden`` otherwise; any other value
    names a registered encoder, built with its own defaults.
    """
    if encoder == "auto":
        auto_cnn = is_image(space) and IMAGE_ENCODER in registry.keys("encoders")
        trunk = registry.get("encoders", IMAGE_ENCODER)(space) if auto_cnn else _ScaledFlatMlp(space, hidden)
    else:
        trunk = registry.get("encoders", encoder)(space)
    return nn.Sequential(trunk, nn.Linear(trunk.out_dim, latent_dim))


class IntrinsicReward:
    """Base of the registered intrinsic rewards (see the module docstring).

    Args:
        observation_space: a Box space (vectors or images).
        action_space: Discrete or Box.
        device: where networks and buffers live.
        beta: coefficient of the scaled bonus.
        kappa: per-``compute`` decay of ``beta`` (``0`` keeps it constant).
        normalize: ``"batch"``, ``"running"`` or ``"none"`` (see the module docstring).
        obs_norm: standardise float observations by running statistics.
        latent_dim / hidden: embedding width and MLP trunk widths.
        encoder: ``"auto"`` or the key of a registered encoder for the trunk.
        lr / batch_size / epochs / max_grad_norm: how ``update`` trains the networks.
    """

    trainable: ClassVar[bool] = True  # False where ``update`` has no networks to train

    @classmethod
    def fits(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        """None if the reward works with these spaces, else the reason (for ``agent.set``)."""
        if not isinstance(observation_space, gym.spaces.Box):
            return f"needs a Box observation space, not {type(observation_space).__name__}"
        if not isinstance(action_space, ACTION_SPACES):
            return f"does not support a {type(action_space).__name__} action space"
        return None

    def __init__(self, observation_space: gym.Space, action_space: gym.Space,
                 device: torch.device | str = "cpu", *, beta: float = 0.1, kappa: float = 0.0,
                 normalize: str = "batch", obs_norm: bool = True, latent_dim: int = 64,
                 hidden: tuple[int, ...] = (128, 128), encoder: str = "auto", lr: float = 1e-3,
                 batch_size: int = 256, epochs: int = 1, max_grad_norm: float = 1.0):
        reason = self.fits(observation_space, action_space)
        if reason:
            raise RLCoreError(f"{registry.key_of(self) or type(self).__name__} {reason}.")
        if beta < 0 or not 0.0 <= kappa < 1.0 or batch_size < 1 or epochs < 1:
            raise RLCoreError(f"Intrinsic reward needs beta >= 0, 0 <= kappa < 1, batch_size >= 1 "
                              f"and epochs >= 1; got {beta}, {kappa}, {batch_size} and {epochs}.")
        self.observation_space, self.action_space = observation_space, action_space
        self.device = torch.device(device)
        self.obs_shape = tuple(observation_space.shape)
        self.action_dim = action_dim(action_space)
        if normalize not in NORMALIZE:
            raise RLCoreError(f"normalize got {normalize!r}; accepted: {', '.join(NORMALIZE)}.")
        self.beta, self.kappa, self.normalize = float(beta), float(kappa), normalize
        self.obs_norm = bool(obs_norm) and observation_space.dtype != np.uint8
        self.latent_dim, self.hidden, self.encoder = int(latent_dim), tuple(hidden), encoder
        self.lr, self.batch_size, self.epochs = float(lr), int(batch_size), int(epochs)
        self.max_grad_norm = float(max_grad_norm)
        self.generator = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, ()).item()))
        self.obs_rms = RunningMeanStd(self.obs_shape, self.device)
        self.bonus_rms = RunningMeanStd((), self.device)
        self.calls = 0
        self.time_major = False  # whether the current compute() call got [T, E] inputs
        self.nets = nn.ModuleDict()
        self.optimizer: torch.optim.Optimizer | None = None

    # ----- building ----------------------------------------------------------------------
    def embedding(self, latent_dim: int | None = None) -> nn.Module:
        """A fresh observation embedding network on this reward's device."""
        return embedding_net(self.observation_space, latent_dim or self.latent_dim, self.hidden,
                             self.encoder).to(self.device)

    def head(self, in_dim: int, out_dim: int) -> nn.Module:
        """A small ReLU MLP ``in_dim -> hidden[-1] -> out_dim`` on this reward's device."""
        width = self.hidden[-1] if self.hidden else 128
        return mlp([in_dim, width, out_dim], "relu").to(self.device)

    def track(self, **nets: nn.Module) -> None:
        """Register networks; trainable parameters get one Adam optimizer."""
        for name, net in nets.items():
            self.nets[name] = net
        params = [p for p in self.nets.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=self.lr) if params else None

    # ----- inputs ------------------------------------------------------------------------
    def prep(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations as network inputs (standardised floats, or raw bytes for images)."""
        if not self.obs_norm:
            return obs if obs.dtype == torch.uint8 else obs.float()
        std = (self.obs_rms.var + 1e-8).sqrt()
        return ((obs.double() - self.obs_rms.mean) / std).clamp(-5.0, 5.0).float()

    def actions(self, actions: torch.Tensor) -> torch.Tensor:
        return encode_actions(actions, self.action_space)

    def _time_major(self, x: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:
        return x.reshape(lead[0], 1, *x.shape[1:]) if len(lead) == 1 else x

    # ----- the contract ------------------------------------------------------------------
    @property
    def coefficient(self) -> float:
        """``beta * (1 - kappa) ** calls``: the current weight of the bonus."""
        return self.beta * (1.0 - self.kappa) ** self.calls

    @torch.no_grad()
    def compute(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor,
                dones: torch.Tensor | None = None) -> torch.Tensor:
        """Scaled intrinsic rewards for transitions ``(obs, actions, next_obs)``, no gradients.

        Inputs are flat ``[N, ...]`` (one sequence in time order) or time-major
        ``[T, E, ...]``; the result has the leading shape (``[N]`` or ``[T, E]``).
        ``dones`` (same leading shape, true where an episode ended after that step) resets
        the episodic memory of episodic rewards; without it a sequence is one episode.
        """
        lead = tuple(next_obs.shape[:next_obs.dim() - len(self.obs_shape)])
        if len(lead) not in (1, 2) or tuple(next_obs.shape[len(lead):]) != self.obs_shape:
            raise RLCoreError(f"Intrinsic reward inputs must be [N, *obs_shape] or [T, E, *obs_shape] "
                              f"with obs_shape {self.obs_shape}; got {tuple(next_obs.shape)}.")
        n = int(np.prod(lead))
        self.time_major = len(lead) == 2
        if self.obs_norm:
            self.obs_rms.update(next_obs.reshape(n, *self.obs_shape))
        act_shape = actions.shape[len(lead):]
        seq = [self._time_major(x, lead) for x in (obs, actions.reshape(*lead, *act_shape), next_obs)]
        done = torch.zeros(lead, dtype=torch.bool, device=next_obs.device) if dones is None else dones.bool()
        raw = self._bonus(*seq, self._time_major(done.reshape(lead), lead)).reshape(lead).float()
        out = self.scale(raw) * self.coefficient
        self.calls += 1
        return out

    def scale(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw bonuses divided by the root-mean-square chosen by ``normalize``."""
        if self.normalize == "none":
            return raw
        flat = raw.reshape(-1).double()
        if self.normalize == "batch":
            mean_square = flat.pow(2).mean()
        else:
            self.bonus_rms.update(flat)
            mean_square = self.bonus_rms.var + self.bonus_rms.mean.pow(2)
        return (raw / mean_square.sqrt().clamp_min(1e-8)).float()

    def _bonus(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor,
               dones: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Raw bonuses ``[T, E]`` from time-major inputs."""
        raise NotImplementedError

    def _loss(self, obs: torch.Tensor, actions: torch.Tensor,
              next_obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training loss on a flat minibatch (prepared obs, raw actions) plus named metrics."""
        raise NotImplementedError  # pragma: no cover - abstract

    def update(self, batch: Any) -> dict[str, float]:
        """Train the reward's networks on ``batch`` (``obs``, ``actions``, ``next_obs``).

        Returns mean metrics named ``<key>_<metric>``; ``{}`` when there is nothing to train.
        """
        if not self.trainable or self.optimizer is None:
            return {}
        n = batch.obs.shape[0]
        totals: dict[str, torch.Tensor] = {}
        steps = 0
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        for _ in range(self.epochs):
            perm = torch.randperm(n, generator=self.generator).to(self.device)
            for start in range(0, n, self.batch_size):
                idx = perm[start:start + self.batch_size]
                loss, stats = self._loss(self.prep(batch.obs[idx]), batch.actions[idx],
                                         self.prep(batch.next_obs[idx]))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, self.max_grad_norm)
                self.optimizer.step()
                for k, v in stats.items():
                    totals[k] = totals.get(k, 0.0) + v.detach()
                steps += 1
        key = registry.key_of(self) or type(self).__name__.lower()
        return {f"{key}_{k}": float(v) / max(steps, 1) for k, v in totals.items()}

    # ----- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizer, running statistics and the call counter (tensors only)."""
        state: dict[str, Any] = {"nets": self.nets.state_dict(), "calls": torch.tensor(self.calls),
                                 "obs_rms": self.obs_rms.state_dict(),
                                 "bonus_rms": self.bonus_rms.state_dict()}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        state.update(self._extra_state())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nets.load_state_dict(state["nets"])
        self.calls = int(state["calls"])
        self.obs_rms.load_state_dict(state["obs_rms"])
        self.bonus_rms.load_state_dict(state["bonus_rms"])
        if self.optimizer is not None and "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        self._load_extra_state(state)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        return None
