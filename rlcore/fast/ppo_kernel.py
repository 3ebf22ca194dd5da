"""The fused PPO kernel: acting into the rollout storage, whole compiled rollouts over
C-stepped envs, and each epoch's minibatch steps in one call."""

from __future__ import annotations

import ctypes

import torch

from rlcore.fast.kernels import Unfit, _flat_box_obs, _Kernel, _ptr, _sequential_layers
from rlcore.fast.lib import _PPOCtx
from rlcore.fast.native import run_native


class PPOKernel(_Kernel):
    """PPO: each epoch's minibatch steps (loss, backward, gradient clip, Adam) in one call."""

    def __init__(self, agent):
        super().__init__(agent)
        from rlcore.distributions.categorical import Categorical
        from rlcore.distributions.gaussian import DiagGaussian
        from rlcore.encoders import MlpEncoder
        from rlcore.policies.actor_critic import SeparateActorCritic
        from rlcore.storage.rollout import RolloutStorage

        c, pol = agent.config, agent.policy
        if type(agent.storage) is not RolloutStorage:
            raise Unfit(f"storage {type(agent.storage).__name__} (fused: rollout)")
        if type(pol) is not SeparateActorCritic or not isinstance(pol.encoder, MlpEncoder) \
                or not isinstance(pol.critic_encoder, MlpEncoder):
            raise Unfit("a policy other than separate_actor_critic over mlp encoders")
        if getattr(agent, "augmentation", None) is not None:
            raise Unfit("an augmentation")
        discrete = type(pol.dist) is Categorical
        if not discrete and type(pol.dist) is not DiagGaussian:
            raise Unfit(f"distribution {type(pol.dist).__name__} (fused: categorical, diag_gaussian)")
        obs_dim = _flat_box_obs(agent)
        pi_layers, act, ends = _sequential_layers(pol.encoder.net)
        vf_layers, vact, vends = _sequential_layers(pol.critic_encoder.net)
        if act != vact or not (ends and vends) or act == 0:
            raise Unfit("encoders with different or missing activations")
        nout = pol.dist.num_params
        ctx = self.ctx = _PPOCtx(obs_dim=obs_dim, act_dim=0 if discrete else nout, nout=nout,
                                 discrete=int(discrete), max_batch=min(c.batch_size, agent.storage.size
                                                                       * agent.storage.num_envs),
                                 norm_adv=int(c.normalize_advantage), vf_coef=c.vf_coef, ent_coef=c.ent_coef,
                                 clip_vf=c.clip_range_vf, max_grad_norm=c.max_grad_norm)
        ctx.pi = self.mlp([*pi_layers, pol.actor_head], act, 0)
        ctx.vf = self.mlp([*vf_layers, pol.critic_head], act, 0)
        if not discrete:
            ctx.log_std, ctx.g_log_std = _ptr(pol.dist.log_std), _ptr(self.grad(pol.dist.log_std))
        ctx.opt = self.adam(agent.optimizer)
        missing = [p for p in agent.optimizer.param_groups[0]["params"] if p not in self.grads]
        if missing:
            raise Unfit("optimizer parameters outside the policy's MLPs")
        ctx.ws = self.workspace(self.lib.rl_ppo_ws_size(ctypes.byref(ctx)))
        self.ref = ctypes.byref(ctx)
        self.stats = (ctypes.c_double * 5)()
        n_envs = agent.storage.num_envs
        self.act_ws = self.workspace(self.lib.rl_ppo_act_ws_size(self.ref, n_envs))
        self.draws = torch.zeros(n_envs, *(() if discrete else (nout,)))
        self.env_action = torch.zeros(n_envs, *(() if discrete else (nout,)))
        self.bounds = (None, None)
        if not discrete:
            self.low, self.high = agent.action_low.contiguous(), agent.action_high.contiguous()
            self.keep.extend((self.low, self.high))
            self.bounds = (self.low.data_ptr(), self.high.data_ptr())
        self.rows = self.roll_draws = self.cur = None

    def act(self, obs: torch.Tensor, t: int, draws: torch.Tensor | None = None) -> torch.Tensor:
        """Sample actions for ``obs`` into row ``t`` of the rollout storage (observation,
        action, log-probability, value); returns the actions to send to the env. ``draws``
        (row ``t`` of :meth:`draw_rollout`) or, by default, numbers drawn now drive sampling."""
        st = self.agent.storage
        if self.rows is None:  # addresses of each storage row (the storage never reallocates)
            self.rows = [tuple(x[t].data_ptr() for x in (st.obs, st.actions, st.log_probs, st.values))
                         for t in range(st.size)]
        obs_row, act_row, logp_row, value_row = self.rows[t]
        if obs.dtype == torch.float32 and obs.is_contiguous() and obs.device.type == "cpu":
            ctypes.memmove(obs_row, obs.data_ptr(), 4 * obs.numel())
        else:
            st.obs[t].copy_(obs)
        if draws is None:
            draws = self.draws
            (torch.rand if self.ctx.discrete else torch.randn)(draws.shape, out=draws)
        self.lib.rl_ppo_act(self.ref, obs_row, st.num_envs, draws.data_ptr(), self.act_ws, act_row, logp_row,
                            value_row, self.env_action.data_ptr(), *self.bounds)
        return st.actions[t] if self.ctx.discrete else self.env_action

    def outcome(self, t: int, step, gamma: float) -> bool:
        """Store row ``t``'s rewards (bootstrapped on truncation) and dones from ``step`` in one
        call; False (nothing stored) when its tensors are not plain CPU float32/bool ones."""
        r, term, trunc, fin = step.reward, step.terminated, step.truncated, step.next_obs
        if not (isinstance(fin, torch.Tensor) and r.dtype == fin.dtype == torch.float32
                and term.dtype == trunc.dtype == torch.bool and fin.device.type == "cpu"
                and r.is_contiguous() and term.is_contiguous() and trunc.is_contiguous() and fin.is_contiguous()):
            return False
        st = self.agent.storage
        self.lib.rl_ppo_outcome(self.ref, st.num_envs, r.data_ptr(), term.data_ptr(), trunc.data_ptr(),
                                fin.data_ptr(), gamma, self.act_ws, st.rewards[t].data_ptr(), st.dones[t].data_ptr())
        st.step = t + 1
        return True

    def draw_rollout(self) -> torch.Tensor:
        """Every action draw of the next rollout, ``[T, *draw_shape]``: the same numbers that
        ``T`` calls of :meth:`act` without ``draws`` would take, in one go where possible."""
        T = self.agent.storage.size
        if self.roll_draws is None:
            self.roll_draws = torch.zeros(T, *self.draws.shape)
        if self.draws.numel() < 16:  # one serial draw gives the numbers T small draws give
            serial = torch.empty(self.roll_draws.numel(), 2)[:, 0]
            serial.uniform_() if self.ctx.discrete else serial.normal_()
            self.roll_draws.view(-1).copy_(serial)
        else:
            draw = torch.rand if self.ctx.discrete else torch.randn
            for t in range(T):
                draw(self.draws.shape, out=self.roll_draws[t])
        return self.roll_draws

    def rollout(self, chain, obs: torch.Tensor) -> torch.Tensor:
        """A whole rollout into the storage from a C-stepped env (``native_chain``), acting,
        stepping and storing in C; returns the observations after it."""
        a, st = self.agent, self.agent.storage
        T, n = st.size, st.num_envs
        if self.cur is None:
            self.cur = torch.zeros(n, self.ctx.obs_dim)
            self.scratch = self.workspace(3 * n * self.ctx.obs_dim + 3 * n)
        self.draw_rollout()
        self.cur.copy_(obs)
        ptrs = [t.data_ptr() for t in (st.obs, st.actions, st.log_probs, st.values, st.rewards, st.dones)]
        run_native(lambda t, z: self.lib.rl_ppo_rollout(
            self.ref, chain[0].ref, z, t, T, self.cur.data_ptr(), self.roll_draws.data_ptr(), self.act_ws, *ptrs,
            self.env_action.data_ptr(), *self.bounds, a.config.gamma, self.scratch), chain, 0, T)
        st.step = T
        a.global_step += T * n
        return self.cur.clone()

    def update(self, lr: float, clip: float) -> tuple[list[float], int]:
        """All epochs of one update; returns (summed stats, minibatches)."""
        a, c, st = self.agent, self.agent.config, self.agent.storage
        n = st.size * st.num_envs
        tensors = [st.obs, st.actions, st.log_probs, st.values, st.advantages.contiguous(), st.returns.contiguous()]
        ptrs = [_ptr(t, st.actions.dtype if t is st.actions else torch.float32) for t in tensors]
        for i in range(5):
            self.stats[i] = 0.0
        batches = 0
        for _ in range(c.n_epochs):
            perm = torch.randperm(n, generator=a.generator)
            k = self.lib.rl_ppo_epoch(self.ref, *ptrs, perm.data_ptr(), n, c.batch_size, lr, clip, c.target_kl,
                                      self.stats)
            batches += abs(k)
            if k < 0:
                break
        return list(self.stats), batches


