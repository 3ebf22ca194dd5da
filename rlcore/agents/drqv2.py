"""DrQ-v2: data-regularised actor-critic from pixels (Yarats et al., 2021, arXiv:2107.09645)."""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.agents.base import Agent, doc
from rlcore.agents.offpolicy import TransitionCollector, discount, feedback, sample, weighted_mean
from rlcore.encoders import mlp
from rlcore.errors import RLCoreError
from rlcore.losses import soft_update
from rlcore import registry
from rlcore.registry import register
from rlcore.utils import adam


@dataclass
class DrQV2Config:
    """DrQ-v2 hyperparameters, scaled for pixel classic control (the paper's in the docs)."""

    actor_lr: float = doc(1e-4, "Actor learning rate (below critic_lr, so the actor does not saturate early).")
    critic_lr: float = doc(1e-3, "Learning rate of the encoder and the critics.")
    buffer_size: int = doc(50_000, "Replay capacity in transitions (images are stored as bytes).")
    learning_starts: int = doc(1000, "Agent steps of uniform random actions before learning.")
    batch_size: int = doc(256, "Minibatch size.")
    gamma: float = doc(0.99, "Discount factor.")
    n_step: int = doc(3, "Steps in the critic's n-step return (computed by the storage).")
    tau: float = doc(0.01, "Polyak rate of the target critics.")
    train_freq: int = doc(1, "Agent steps (per env) between training phases.")
    gradient_steps: int = doc(1, "Gradient steps per training phase.")
    std_start: float = doc(1.0, "Exploration std at the start of the linear schedule.")
    std_end: float = doc(0.1, "Exploration std at the end of the linear schedule.")
    std_steps: int = doc(10_000, "Agent steps over which the exploration std decays linearly.")
    std_clip: float = doc(0.3, "Clip of the policy noise in the critic target and actor loss.")
    feature_dim: int = doc(50, "Width of the actor and critic trunks (Linear + LayerNorm + tanh).")
    hidden: tuple = doc((256, 256), "Actor and critic hidden layer widths.")
    pixels: bool = doc(True, "Render classic-control envs as stacked images (make_env pixels=...).")
    image_size: int = doc(64, "Image height and width in pixels when pixels is on.")
    image_channels: int = doc(1, "1 for grey-level images, 3 for RGB, when pixels is on.")
    frame_stack: int = doc(3, "Frames stacked along channels (pixel envs) or FrameStack depth.")
    action_repeat: int = doc(2, "Env steps per agent step (the action is repeated, rewards summed).")

    def validate(self) -> None:
        for name in ("n_step", "train_freq", "batch_size", "frame_stack", "action_repeat"):
            if getattr(self, name) < 1:
                raise RLCoreError(f"DrQV2Config {name} must be at least 1; got {getattr(self, name)}.")


class Actor(nn.Module):
    """Trunk (Linear, LayerNorm, tanh) then an MLP to the tanh-squashed mean action."""

    def __init__(self, repr_dim: int, act_dim: int, feature_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(repr_dim, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
        self.net = mlp([feature_dim, *hidden, act_dim], "relu")

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(self.trunk(h)))


class Critic(nn.Module):
    """Trunk (Linear, LayerNorm, tanh) shared by two Q-heads on ``[trunk(h), action]``."""

    def __init__(self, repr_dim: int, act_dim: int, feature_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(repr_dim, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
        self.qs = nn.ModuleList(mlp([feature_dim + act_dim, *hidden, 1], "relu") for _ in range(2))

    def forward(self, h: torch.Tensor, action: torch.Tensor) -> list[torch.Tensor]:
        x = torch.cat([self.trunk(h), action], dim=-1)
        return [q(x).squeeze(-1) for q in self.qs]


@register("agents", "drqv2")
class DrQV2(Agent):
    """DrQ-v2: DDPG-style actor-critic on augmented images, n-step returns, scheduled exploration.

    One encoder (default ``drq_cnn``) is shared by the actor and the twin critics and is
    trained by the critic loss only (the actor sees detached features). Every update applies
    the augmentation (default ``random_shift``) to ``obs`` and ``next_obs``; setting
    ``augmentation=None`` turns it off (an ablation; DrQ-v2 relies on it). Exploration adds
    Gaussian noise whose std decays linearly from ``std_start`` to ``std_end``. With
    ``pixels=True`` an env id is rendered as stacked images (``make_env(pixels=...)``), and
    each agent step repeats its action ``action_repeat`` times (``make_env(action_repeat=...)``),
    so ``global_step`` and the step counts of the config count agent steps.

    The n-step returns come from the storage (default ``nstep_replay``, given ``n_step`` and
    ``gamma``); ``prioritized_replay`` also works, and plain ``replay`` needs ``n_step=1``.

    Parts: encoder (default ``drq_cnn``), storage (default ``nstep_replay``), augmentation
    (default ``random_shift``).
    """

    Config = DrQV2Config
    action_spaces = (gym.spaces.Box,)
    policy_family = "drqv2"
    storage_kind = "off_policy"
    slots = ("encoder", "storage", "augmentation", "reward")

    def default_parts(self):
        return {"encoder": "drq_cnn", "storage": "nstep_replay", "augmentation": "random_shift"}

    def env_options(self):
        opts = super().env_options()
        c = self.config
        opts["action_repeat"] = c.action_repeat
        if c.pixels:
            opts["pixels"] = dict(size=c.image_size, frames=c.frame_stack, channels=c.image_channels)
            opts["frame_stack"] = 1
        return opts

    def _build(self) -> None:
        c = self.config
        obs_space = self.env.single_observation_space
        act_dim = int(np.prod(self.action_space.shape))
        self.encoder = self.make_part("encoder", obs_space).to(self.device)
        self.augment = self.make_part("augmentation") if self.parts["augmentation"] else None
        self._augment(torch.zeros(1, *obs_space.shape, device=self.device))  # refuse early
        self.actor = Actor(self.encoder.out_dim, act_dim, c.feature_dim, c.hidden).to(self.device)
        self.critic = Critic(self.encoder.out_dim, act_dim, c.feature_dim, c.hidden).to(self.device)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_optimizer = adam(self.actor.parameters(), lr=c.actor_lr)
        self.critic_optimizer = adam([*self.encoder.parameters(), *self.critic.parameters()], lr=c.critic_lr)
        self._action_bounds()
        self._build_storage()

    def _build_storage(self) -> None:
        """Replay whose samples carry ``n_step`` returns (the storage computes them)."""
        c = self.config
        cls = registry.get("storages", self.parts["storage"])
        if c.n_step > 1 and "n_step" not in inspect.signature(cls).parameters:
            raise RLCoreError(f"{self.name} n_step={c.n_step} needs a storage that computes n-step "
                              f"returns (nstep_replay or prioritized_replay), not {self.parts['storage']!r}; "
                              "set n_step=1 to use it.")
        self.storage = self.make_part("storage", self.env.single_observation_space, self.action_space,
                                      self.env.num_envs, c.buffer_size, self.device, gamma=c.gamma,
                                      n_step=c.n_step, progress=self.progress_remaining)

    def networks(self):
        return {"encoder": self.encoder, "actor": self.actor, "critic": self.critic,
                "target_critic": self.target_critic, "actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer}

    def _augment(self, obs: torch.Tensor) -> torch.Tensor:
        """Float images (byte scale kept) after the augmentation; stacked frames fold into channels."""
        x = obs.float()
        if self.augment is None:
            return x
        try:
            if x.dim() > 4:  # stacked image frames [B, k, C, H, W] fold into channels
                return self.augment(x.reshape(x.shape[0], -1, *x.shape[-2:])).reshape(x.shape)
            return self.augment(x)
        except RLCoreError as exc:
            raise RLCoreError(f"{self.name} augmentation {self.parts['augmentation']!r} refused "
                              f"observations of shape {list(obs.shape[1:])} ({str(exc).rstrip('.')}); "
                              "use image observations or set augmentation=None.") from None

    def std(self) -> float:
        """Exploration std on the linear schedule at the current env step."""
        c = self.config
        frac = min(1.0, self.global_step / max(1, c.std_steps))
        return c.std_start + frac * (c.std_end - c.std_start)

    @torch.no_grad()
    def act(self, obs, deterministic=True):
        mu = self.actor(self.encoder(obs))
        if not deterministic:
            mu = (mu + torch.randn_like(mu) * self.std()).clamp(-1.0, 1.0)
        return self.to_env_action(mu, True)

    @torch.no_grad()
    def explore(self, obs):
        mu = self.actor(self.encoder(obs))
        return (mu + torch.randn_like(mu) * self.std()).clamp(-1.0, 1.0)

    def make_learner(self):
        return DrQV2Learner(self)

    def make_collector(self):
        return TransitionCollector(self)

    def iterate(self):
        c = self.config
        steps = self.collector.collect(c.train_freq)
        metrics: dict[str, float] = {}
        if self.global_step >= c.learning_starts and len(self.storage) > 0:
            for _ in range(c.gradient_steps):
                metrics = self.learner.update()
        return steps, {**metrics, **self.reward_metrics}

    def _target(self, b, h_next: torch.Tensor, std: float) -> torch.Tensor:
        c = self.config
        mu = self.actor(h_next)
        noise = (torch.randn_like(mu) * std).clamp(-c.std_clip, c.std_clip)
        q_next = torch.min(*self.target_critic(h_next, (mu + noise).clamp(-1.0, 1.0)))
        return b.rewards + discount(self, b) * (1.0 - b.dones) * q_next


class DrQV2Learner:
    """The eager DrQ-v2 learner: an augmented critic step (which trains the encoder) and an actor step on detached features."""

    def __init__(self, agent):
        self.agent = agent

    def update(self) -> dict[str, float]:
        agent = self.agent
        c = agent.config
        b = sample(agent)
        std = agent.std()
        h = agent.encoder(agent._augment(b.obs))
        with torch.no_grad():
            target = agent._target(b, agent.encoder(agent._augment(b.next_obs)), std)
        qs = agent.critic(h, b.actions)
        critic_loss = sum(weighted_mean((q - target).pow(2), b) for q in qs)
        agent.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        agent.critic_optimizer.step()
        feedback(agent, b, torch.stack([q.detach() - target for q in qs]).abs().mean(0))

        h = h.detach()
        mu = agent.actor(h)
        noise = (torch.randn_like(mu) * std).clamp(-c.std_clip, c.std_clip)
        a = mu + noise
        a = a - a.detach() + a.detach().clamp(-1.0, 1.0)  # clamp with a straight-through gradient
        agent.critic.requires_grad_(False)
        actor_loss = -torch.min(*agent.critic(h, a)).mean()
        agent.critic.requires_grad_(True)
        agent.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        agent.actor_optimizer.step()
        soft_update(agent.target_critic, agent.critic, c.tau)
        return {"critic_loss": critic_loss.item() / len(qs), "actor_loss": actor_loss.item(),
                "q": qs[0].mean().item(), "std": std}
