"""Fused learners and compiled collectors, registered beside the agents' eager ones.

Each fused learner names the config fields it implements (``fields``). ``supports(agent)``
declines, with the reason, when the agent runs on CUDA, has an intrinsic reward, sets any
other config field away from its default, has parts the kernel does not implement, or the
library is unavailable. A compiled collector runs only beside its fused learner (it acts with
the learner's kernel).
"""

from __future__ import annotations

import dataclasses

import torch

from rlcore.agents.offpolicy import collect_transitions
from rlcore.agents.onpolicy import bootstrap_truncated
from rlcore.agents.ppo import PPOLearner
from rlcore.fast.kernels import SACKernel, TD3Kernel, Unfit
from rlcore.fast.lib import library, unavailable_reason
from rlcore.fast.native import native_chain
from rlcore.fast.ppo_kernel import PPOKernel
from rlcore.interfaces import register_collector, register_learner


def unsupported_fields(config, implemented: frozenset[str]) -> list[str]:
    """``name=value`` of each config field outside ``implemented`` that differs from its default."""
    out = []
    for f in dataclasses.fields(config):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if f.name not in implemented and getattr(config, f.name) != default:
            out.append(f"{f.name}={getattr(config, f.name)!r}")
    return out


class FusedLearner:
    """Common plumbing: the checks of :meth:`supports` and a kernel rebuilt when stale."""

    kernel_cls: type
    fields: frozenset[str] = frozenset()

    @classmethod
    def supports(cls, agent) -> str | None:
        if agent.device.type != "cpu":
            return "fused kernels run on CPU; CUDA uses eager PyTorch"
        if agent.reward is not None:
            return "an intrinsic reward part is set"
        extra = unsupported_fields(agent.config, cls.fields)
        if extra:
            return f"fused kernels do not cover the config field {', '.join(extra)}"
        if library() is None:
            return unavailable_reason()
        try:
            cls.kernel_cls(agent)
        except Unfit as exc:
            return f"fused kernels do not cover {exc}"
        return None

    def __init__(self, agent):
        self.agent = agent
        self.kernel = self.kernel_cls(agent)

    def current(self):
        """The kernel, or None when the tensors it points into were replaced (e.g. an
        optimizer's ``load_state_dict``): the agent then chooses its paths afresh."""
        if self.kernel.stale():
            self.agent.choose_paths()
            return None
        return self.kernel


@register_learner("td3", "ddpg")
class FusedTD3Learner(FusedLearner):
    """TD3 and DDPG: critic step, delayed actor step and Polyak averaging in one call."""

    kernel_cls = TD3Kernel
    fields = frozenset({"actor_lr", "critic_lr", "lr", "buffer_size", "learning_starts", "batch_size", "gamma",
                        "tau", "train_freq", "gradient_steps", "exploration_noise", "policy_delay", "target_noise",
                        "target_noise_clip", "hidden", "normalize_obs"})

    def update(self) -> dict[str, float]:
        kernel = self.current()
        return self.agent.learner.update() if kernel is None else kernel.update()


@register_learner("sac")
class FusedSACLearner(FusedTD3Learner):
    """SAC: critic step, actor step, temperature step and Polyak averaging in one call."""

    kernel_cls = SACKernel
    fields = frozenset({"actor_lr", "critic_lr", "lr", "alpha_lr", "buffer_size", "learning_starts", "batch_size",
                        "gamma", "tau", "train_freq", "gradient_steps", "init_alpha", "autotune_alpha",
                        "target_entropy", "hidden", "normalize_obs"})


@register_learner("ppo")
class FusedPPOLearner(FusedLearner, PPOLearner):
    """PPO: the eager learner's schedules and metrics, each epoch's minibatch steps in C."""

    kernel_cls = PPOKernel
    fields = frozenset({"lr", "lr_schedule", "n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda",
                        "clip_range", "clip_schedule", "clip_range_vf", "ent_coef", "vf_coef", "max_grad_norm",
                        "target_kl", "normalize_advantage", "hidden", "activation", "ortho_init", "log_std_init",
                        "normalize_obs", "normalize_reward", "aug_coef"})  # aug_coef: no augmentation here

    def update(self) -> dict[str, float]:
        if self.current() is None:
            return self.agent.learner.update()
        return PPOLearner.update(self)

    def epochs(self, lr: float, clip: float) -> tuple[torch.Tensor, int]:
        sums, n = self.kernel.update(lr, clip)
        return torch.tensor([*sums, 0.0]), n


def _fused_kernel(agent, learner_cls: type):
    learner = agent.learner
    return learner.current() if isinstance(learner, learner_cls) else None


@register_collector("ppo")
class CompiledRolloutCollector:
    """PPO rollouts acted by the fused kernel: the whole rollout in one call over a C-stepped
    env, else acting and storing each step in one call; GAE in one compiled loop."""

    @classmethod
    def supports(cls, agent) -> str | None:
        return None if isinstance(agent.learner, FusedPPOLearner) else "the learner is not fused"

    def __init__(self, agent):
        self.agent = agent

    @torch.no_grad()
    def collect(self, n: int) -> int:
        a = self.agent
        kernel = _fused_kernel(a, FusedPPOLearner)
        if kernel is None:  # the paths were chosen afresh
            return a.collector.collect(n)
        st, env, c = a.storage, a.env, a.config
        if n != st.size:
            raise ValueError(f"an on-policy rollout has {st.size} steps per env; got n={n}.")
        chain = native_chain(env)
        if chain is not None:
            a.obs = kernel.rollout(chain, a.obs)
        else:
            self._act_steps(kernel)
        compiled_finish(st, a.policy.value(a.obs), c.gamma, c.gae_lambda)
        return st.size * env.num_envs

    def _act_steps(self, kernel) -> None:
        a = self.agent
        st, env, obs = a.storage, a.env, a.obs
        draws = kernel.draw_rollout()
        for t in range(st.size):
            s = env.step(kernel.act(obs, t, draws[t]))
            if not kernel.outcome(t, s, a.config.gamma):
                st.add_outcome(bootstrap_truncated(a, s), s.terminated | s.truncated)
            obs = s.obs
            a.global_step += env.num_envs
        a.obs = obs


def compiled_finish(storage, last_value: torch.Tensor, gamma: float, lam: float) -> None:
    """:meth:`RolloutStorage.finish` with GAE in one compiled loop (same results to rounding)."""
    tensors = (storage.rewards, storage.values, storage.dones, last_value.contiguous())
    adv, ret = torch.empty_like(storage.rewards), torch.empty_like(storage.rewards)
    library().rl_gae(storage.size, storage.num_envs, *(t.data_ptr() for t in tensors), gamma, gamma * lam,
                     adv.data_ptr(), ret.data_ptr())
    storage.advantages, storage.returns = adv, ret
    storage.step = 0


@register_collector("td3", "ddpg", "sac")
class CompiledTransitionCollector:
    """Off-policy exploration after ``learning_starts``: acting, a C-stepped env and storing in
    one call; random warm-up steps and other envs go through the eager collector."""

    @classmethod
    def supports(cls, agent) -> str | None:
        return None if isinstance(agent.learner, FusedTD3Learner) else "the learner is not fused"

    def __init__(self, agent):
        self.agent = agent

    def collect(self, n: int) -> int:
        a = self.agent
        if a.global_step >= a.config.learning_starts:
            kernel = _fused_kernel(a, FusedTD3Learner)
            if kernel is None:
                return a.collector.collect(n)
            chain = native_chain(a.env) if kernel.sigma is not None else None
            if chain is not None:
                kernel.collect(chain, n)
                return n * a.env.num_envs
        return collect_transitions(a, n)
