"""Fused update kernels: one compiled call per update for the default MLP agents.

For the small networks of RL, eager PyTorch spends most of an update on per-op dispatch and
autograd bookkeeping, not on arithmetic. A kernel works on the memory of the agent's own
tensors (parameters, Adam state, storage), so checkpoints, evaluation and export are
unchanged, and it draws its random numbers (minibatch indices, noise) from the same torch
generators in the same order as the eager learner. A kernel raises :class:`Unfit` when the
agent's parts are outside what it implements.
"""

from __future__ import annotations

import ctypes

import torch
from torch import nn

from rlcore.fast.lib import MAXC, MAXL, MAXP, _Adam, _Mlp, _OffCtx, library
from rlcore.fast.native import run_native

_ACT = {nn.ReLU: 1, nn.Tanh: 2}


class Unfit(Exception):
    """The agent's parts or settings are outside what the fused kernels implement."""


def _ptr(t: torch.Tensor, dtype: torch.dtype = torch.float32) -> int:
    if t.device.type != "cpu" or t.dtype != dtype or not t.is_contiguous():
        raise Unfit(f"a {t.dtype} tensor on {t.device} (fused kernels need contiguous {dtype} on CPU)")
    return t.data_ptr()


class _Kernel:
    """Common plumbing: gradient buffers, Adam state and the tensors the C side points into."""

    def __init__(self, agent):
        self.agent = agent
        self.lib = library()
        self.grads: dict[nn.Parameter, torch.Tensor] = {}
        self.keep: list[object] = []  # every tensor the C side points into stays alive
        self.states: list[tuple] = []  # (optimizer, its state dict)
        self.checks: list[tuple] = []  # (param, its state, exp_avg, param address)
        self.moved: list[tuple[torch.Tensor, int]] = []  # other tensors and their addresses
        self.storage = getattr(agent, "storage", None)

    def stale(self) -> bool:
        """True when a tensor this kernel points into was replaced (e.g. an optimizer's
        ``load_state_dict``, parameters moved, a new storage); the agent then rebuilds it."""
        if self.agent.storage is not self.storage:
            return True
        for opt, state in self.states:
            if opt.state is not state:  # load_state_dict replaces the whole dict
                return True
        for p, st, m, ptr in self.checks:
            if st.get("exp_avg") is not m or p.data_ptr() != ptr:
                return True
        for t, ptr in self.moved:
            if t.data_ptr() != ptr:
                return True
        return False

    def grad(self, p: torch.Tensor) -> torch.Tensor:
        if p not in self.grads:
            self.grads[p] = torch.zeros_like(p)
        return self.grads[p]

    def mlp(self, layers: list[nn.Linear], hidden_act: int, out_act: int) -> _Mlp:
        if len(layers) > MAXL:
            raise Unfit(f"{len(layers)} layers (at most {MAXL})")
        m = _Mlp(L=len(layers), hidden_act=hidden_act, out_act=out_act, wt=1)
        m.dims[0] = layers[0].in_features
        for i, lin in enumerate(layers):
            if lin.bias is None:
                raise Unfit("a Linear layer without bias")
            m.dims[i + 1] = lin.out_features
            m.W[i], m.b[i] = _ptr(lin.weight), _ptr(lin.bias)
            self.keep.extend((lin.weight, lin.bias))
            m.gW[i], m.gb[i] = _ptr(self.grad(lin.weight)), _ptr(self.grad(lin.bias))
        return m

    def ensemble(self, critics, n: int, with_grads: bool) -> _Mlp:
        """Critic ``n`` of a CriticEnsemble as an MLP with ``[in, out]`` weight slices."""
        layers = len(critics.weights)
        if layers > MAXL:
            raise Unfit(f"{layers} critic layers (at most {MAXL})")
        m = _Mlp(L=layers, hidden_act=_act_code(type(critics.act)), out_act=0, wt=0)
        for i, (w, b) in enumerate(zip(critics.weights, critics.biases)):
            fan_in, fan_out = w.shape[1], w.shape[2]
            m.dims[i], m.dims[i + 1] = fan_in, fan_out
            m.W[i], m.b[i] = _ptr(w) + 4 * n * fan_in * fan_out, _ptr(b) + 4 * n * fan_out
            self.keep.extend((w, b))
            if with_grads:
                m.gW[i] = _ptr(self.grad(w)) + 4 * n * fan_in * fan_out
                m.gb[i] = _ptr(self.grad(b)) + 4 * n * fan_out
        return m

    def adam(self, optimizer: torch.optim.Optimizer) -> _Adam:
        if not isinstance(optimizer, torch.optim.Adam) or len(optimizer.param_groups) != 1:
            raise Unfit("an optimizer other than single-group Adam")
        group = optimizer.param_groups[0]
        if group["amsgrad"] or group["maximize"] or len(group["params"]) > MAXP:
            raise Unfit("Adam with amsgrad, maximize or too many parameters")
        beta1, beta2 = group["betas"]
        o = _Adam(n=len(group["params"]), b1=beta1, b2=beta2, eps=group["eps"], wd=group["weight_decay"])
        for k, p in enumerate(group["params"]):
            st = optimizer.state[p]
            if not st:  # the state torch's Adam creates on its first step
                st["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            o.size[k] = p.numel()
            o.p[k], o.g[k] = _ptr(p), _ptr(self.grad(p))
            o.m[k], o.v[k], o.step[k] = _ptr(st["exp_avg"]), _ptr(st["exp_avg_sq"]), _ptr(st["step"])
            self.keep.extend((p, st["exp_avg"], st["exp_avg_sq"], st["step"]))
            self.checks.append((p, st, st["exp_avg"], p.data_ptr()))
        self.states.append((optimizer, optimizer.state))
        return o

    def workspace(self, floats: int) -> int:
        ws = torch.empty(int(floats), dtype=torch.float32)
        self.keep.append(ws)
        return ws.data_ptr()


def _act_code(cls: type) -> int:
    if cls not in _ACT:
        raise Unfit(f"activation {cls.__name__} (fused kernels implement ReLU and Tanh)")
    return _ACT[cls]


def _sequential_layers(seq: nn.Sequential) -> tuple[list[nn.Linear], int, bool]:
    """Linear layers, their (single) activation code, and whether the last layer has it."""
    layers, acts = [], set()
    ends_with_act = False
    for m in seq:
        if isinstance(m, nn.Linear):
            layers.append(m)
            ends_with_act = False
        elif type(m) in _ACT:
            acts.add(_ACT[type(m)])
            ends_with_act = True
        else:
            raise Unfit(f"a {type(m).__name__} layer")
    if len(acts) > 1 or not layers:
        raise Unfit("mixed activations")
    return layers, (acts.pop() if acts else 0), ends_with_act


def _flat_box_obs(agent) -> int:
    import gymnasium as gym

    space = agent.env.single_observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise Unfit("observations that are not a flat Box")
    return int(space.shape[0])


# ----- off-policy: TD3 / DDPG and SAC ------------------------------------------------------------
class _OffPolicyKernel(_Kernel):
    def __init__(self, agent, *, actor_out_act: int, target_actor: nn.Module | None):
        super().__init__(agent)
        from rlcore.encoders import IdentityEncoder
        from rlcore.policies.twin import CriticEnsemble
        from rlcore.storage.replay import ReplayStorage

        c, pol = agent.config, agent.policy
        if type(agent.storage) is not ReplayStorage:
            raise Unfit(f"storage {type(agent.storage).__name__} (fused: uniform replay)")
        if not isinstance(pol.actor_encoder, IdentityEncoder) or not isinstance(pol.critics, CriticEnsemble) \
                or not pol.critics.stateless or list(pol.dist.parameters()):
            raise Unfit("encoders with parameters or a distribution with parameters")
        if len(pol.critics) > MAXC:
            raise Unfit(f"{len(pol.critics)} critics (at most {MAXC})")
        obs_dim = _flat_box_obs(agent)
        if len(agent.action_space.shape) != 1:
            raise Unfit("actions that are not a flat Box")
        act_dim = int(agent.action_space.shape[0])
        layers, act, ends = _sequential_layers(pol.actor)
        if ends or act == 0:
            raise Unfit("an actor MLP without hidden activations")
        ctx = self.ctx = _OffCtx(nc=len(pol.critics), obs_dim=obs_dim, act_dim=act_dim, max_batch=c.batch_size,
                                 gamma=c.gamma, tau=c.tau)
        ctx.actor = self.mlp(layers, act, actor_out_act)
        ctx.actor_opt = self.adam(agent.actor_optimizer)
        if target_actor is not None:
            t_layers, _, _ = _sequential_layers(target_actor)
            ctx.actor_t = self.mlp(t_layers, act, actor_out_act)
        for n in range(ctx.nc):
            ctx.critic[n] = self.ensemble(pol.critics, n, True)
            ctx.critic_t[n] = self.ensemble(agent.target_critics, n, False)
        ctx.critic_opt = self.adam(agent.critic_optimizer)
        st = agent.storage
        ctx.obs, ctx.next_obs, ctx.act = _ptr(st.obs), _ptr(st.next_obs), _ptr(st.actions)
        ctx.rew, ctx.done = _ptr(st.rewards), _ptr(st.dones)
        self.keep.append(st)
        self.out = (ctypes.c_float * 4)()
        self.B, self.act_dim = c.batch_size, act_dim
        self.cur = None  # collection buffers, made on the first compiled collection

    def set_polyak(self, targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
        if len(targets) > 2 * MAXP:
            raise Unfit("too many target tensors")
        self.ctx.npolyak = len(targets)
        for k, (t, s) in enumerate(zip(targets, sources)):
            self.ctx.polyak_size[k], self.ctx.polyak_t[k], self.ctx.polyak_s[k] = t.numel(), _ptr(t), _ptr(s)
            self.moved.append((t, t.data_ptr()))
            self.keep.extend((t, s))

    def finish(self) -> None:
        self.ctx.ws = self.workspace(self.lib.rl_off_ws_size(ctypes.byref(self.ctx)))
        self.ref = ctypes.byref(self.ctx)

    def indices(self) -> torch.Tensor:
        a = self.agent
        return a.storage.uniform_slots(self.B, a.generator)

    def collect(self, chain, steps: int) -> None:
        """``steps`` exploration steps from a C-stepped env (``native_chain``) into replay,
        acting, stepping and storing in C; the noise is drawn step by step first, exactly
        as the eager ``explore`` draws it."""
        a, st = self.agent, self.agent.storage
        n, ad, od = st.num_envs, self.act_dim, self.ctx.obs_dim
        if self.cur is None:
            width = max(max(self.ctx.actor.dims[: self.ctx.actor.L + 1]), od)
            self.act_ws = self.workspace(n * (ad + MAXL * width) + 64)
            self.scratch = self.workspace(3 * n * od + 3 * n)
            self.cur, self.env_act = torch.zeros(n, od), torch.zeros(n, ad)
            self.noise_rows = torch.zeros(steps, n, ad)
            self.bounds = (a.action_low.contiguous(), a.action_high.contiguous())
        if self.noise_rows.shape[0] < steps:
            self.noise_rows = torch.zeros(steps, n, ad)
        for s in range(steps):
            torch.randn((n, ad), out=self.noise_rows[s])
        self.cur.copy_(a.obs)
        pos = ctypes.c_int64(st.pos)
        low, high = (b.data_ptr() for b in self.bounds)
        run_native(lambda done, z: done + self.lib.rl_off_collect(
            self.ref, chain[0].ref, z, steps - done, self.sac, self.sigma, self.cur.data_ptr(),
            self.noise_rows[done].data_ptr(), st.ends.data_ptr(), ctypes.byref(pos), st.capacity, low, high,
            self.env_act.data_ptr(), self.act_ws, self.scratch), chain, 0, steps)
        st.pos = pos.value
        st.count = min(st.count + n * steps, st.capacity)
        st.total += n * steps
        a.global_step += n * steps
        a.obs = self.cur.clone()


class TD3Kernel(_OffPolicyKernel):
    """TD3 and DDPG: critic step, delayed actor step and Polyak averaging in one call."""

    def __init__(self, agent):
        super().__init__(agent, actor_out_act=2, target_actor=agent.target_actor[1])
        from rlcore.distributions.noise import NormalNoise

        c = agent.config
        dist = agent.policy.dist
        self.sac, self.sigma = 0, (float(dist.sigma) if type(dist) is NormalNoise else None)
        if list(agent.target_actor[0].parameters()):
            raise Unfit("a target actor encoder with parameters")
        self.ctx.target_noise, self.ctx.noise_clip = c.target_noise, c.target_noise_clip
        self.set_polyak(*agent.polyak_pairs)
        self.noise = torch.zeros(self.B, self.act_dim)
        self.finish()

    def update(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        idx = self.indices()
        if c.target_noise > 0:
            torch.randn(self.noise.shape, out=self.noise)
        a.updates += 1
        do_actor = a.updates % c.policy_delay == 0
        self.lib.rl_td3_update(self.ref, idx.data_ptr(), self.B, self.noise.data_ptr(), int(do_actor),
                               a.critic_optimizer.param_groups[0]["lr"], a.actor_optimizer.param_groups[0]["lr"],
                               self.out)
        metrics = {"critic_loss": self.out[0]}
        if do_actor:
            metrics["actor_loss"] = self.out[1]
        return metrics


class SACKernel(_OffPolicyKernel):
    """SAC: critic step, actor step, temperature step and Polyak averaging in one call."""

    def __init__(self, agent):
        super().__init__(agent, actor_out_act=0, target_actor=None)
        dist = agent.policy.dist
        self.sac, self.sigma = 1, 0.0
        self.ctx.log_std_min, self.ctx.log_std_max = dist.log_std_min, dist.log_std_max
        self.ctx.target_entropy = agent.target_entropy
        self.ctx.log_alpha = _ptr(agent.log_alpha.data)
        self.keep.append(agent.log_alpha)
        self.ctx.alpha_opt = self.adam(agent.alpha_optimizer)
        self.set_polyak(agent.target_params, agent.critic_params)
        self.e_next, self.e_cur = torch.zeros(self.B, self.act_dim), torch.zeros(self.B, self.act_dim)
        self.finish()

    def update(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        idx = self.indices()
        torch.randn(self.e_next.shape, out=self.e_next)
        torch.randn(self.e_cur.shape, out=self.e_cur)
        self.lib.rl_sac_update(self.ref, idx.data_ptr(), self.B, self.e_next.data_ptr(), self.e_cur.data_ptr(),
                               int(c.autotune_alpha), a.critic_optimizer.param_groups[0]["lr"],
                               a.actor_optimizer.param_groups[0]["lr"], a.alpha_optimizer.param_groups[0]["lr"],
                               self.out)
        o = self.out
        return {"critic_loss": o[0], "actor_loss": o[1], "alpha": o[2], "entropy": o[3]}


