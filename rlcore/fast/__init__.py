"""Fused update steps: one compiled call per update for the default MLP agents.

For the small networks of RL, eager PyTorch spends most of an update on per-op dispatch and
autograd bookkeeping, not on arithmetic. :mod:`rlcore.fast` compiles ``kernels.c`` once (with
the system C compiler, cached under ``~/.cache/rlcore/kernels``) and runs a whole update in one
call: gather the minibatch, forward, backward, Adam, Polyak averaging. The kernel works on the
memory of the agent's own tensors (parameters, Adam state, storage), so checkpoints,
evaluation and export are unchanged, and it draws its random numbers (minibatch indices,
noise) from the same torch generators in the same order as the eager path.

It is used automatically for TD3, DDPG, SAC and PPO on CPU with their default parts (MLP
networks with ReLU or tanh, uniform replay or rollout storage, no intrinsic reward or
augmentation). Anything else, no C compiler, or ``RLCORE_FUSED=0`` in the environment,
selects the eager path; ``agent.update_path`` says which one an agent uses and why.
Tests compare every fused update with autograd (``tests/rlcore/test_fast.py``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch
from torch import nn

SOURCES = [Path(__file__).with_name(name) for name in ("kernels.c", "envs.c", "loops.c")]
HEADER = Path(__file__).with_name("kernels.h")
MAXL, MAXP, MAXC = 8, 40, 4
_ACT = {nn.ReLU: 1, nn.Tanh: 2}

_state: dict[str, object] = {}


# ----- building and loading the library -----------------------------------------------------
def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "rlcore" / "kernels"


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _compile_flags() -> list[str]:
    flags = ["-O3", "-fPIC", "-shared", "-fno-math-errno"]
    cpu = _cpu_flags()
    if {"avx2", "fma"} <= cpu:  # no -march=native: some VMs report features they do not allow
        flags += ["-mavx2", "-mfma"]
    return flags


def _build() -> Path:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise OSError(f"no C compiler ({cc}) on PATH")
    flags = _compile_flags()
    code = b"".join(path.read_bytes() for path in (*SOURCES, HEADER))
    digest = hashlib.sha256(code + " ".join([cc, *flags]).encode()).hexdigest()[:16]
    target = cache_dir() / f"kernels-{digest}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".so", delete=False) as tmp:
        pass
    try:
        proc = subprocess.run([cc, *flags, *map(str, SOURCES), "-o", tmp.name, "-lm"], capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            raise OSError(f"{cc} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
        os.replace(tmp.name, target)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    return target


def _torch_symbol(name: str) -> int | None:
    """Address of a BLAS/VM function exported by torch's CPU library (MKL builds), or None."""
    lib_dir = Path(torch.__file__).parent / "lib"
    for path in sorted(lib_dir.glob("libtorch_cpu.*")):
        try:
            return ctypes.cast(getattr(ctypes.CDLL(str(path)), name), ctypes.c_void_p).value
        except (OSError, AttributeError):
            continue
    return None


def library():
    """The loaded kernel library, or None (see :func:`unavailable_reason`)."""
    if "lib" in _state:
        return _state["lib"]
    lib, reason = None, None
    if os.environ.get("RLCORE_FUSED", "1").strip().lower() in ("0", "false", "no", "off"):
        reason = "disabled by RLCORE_FUSED=0"
    else:
        try:
            lib = ctypes.CDLL(str(_build()))
        except (OSError, subprocess.SubprocessError) as exc:
            reason = f"the fused kernels could not be built ({exc})"
    if lib is not None:
        P = ctypes.c_void_p
        lib.rl_init.argtypes = [P]
        lib.rl_off_ws_size.argtypes = [P]
        lib.rl_off_ws_size.restype = ctypes.c_size_t
        lib.rl_ppo_ws_size.argtypes = [P]
        lib.rl_ppo_ws_size.restype = ctypes.c_size_t
        f, i = ctypes.c_float, ctypes.c_int
        lib.rl_td3_update.argtypes = [P, P, i, P, i, f, f, P]
        lib.rl_sac_update.argtypes = [P, P, i, P, P, i, f, f, f, P]
        lib.rl_ppo_epoch.argtypes = [P, P, P, P, P, P, P, P, i, i, f, f, f, P]
        lib.rl_ppo_epoch.restype = i
        lib.rl_ppo_act_ws_size.argtypes = [P, i]
        lib.rl_ppo_act_ws_size.restype = ctypes.c_size_t
        lib.rl_ppo_act.argtypes = [P, P, i, P, P, P, P, P, P, P, P]
        i64 = ctypes.c_int64
        lib.rl_env_step.argtypes = [P] * 7
        lib.rl_env_step.restype = i
        lib.rl_norm_step.argtypes = [P, i, P, P, P, P]
        lib.rl_ppo_rollout.argtypes = [P, P, P, i, i, *[P] * 12, f, P]
        lib.rl_ppo_rollout.restype = i
        lib.rl_off_collect.argtypes = [P, P, P, i, i, f, P, P, P, P, i64, P, P, P, P, P]
        lib.rl_off_collect.restype = i
        lib.rl_gae.argtypes = [i, i, P, P, P, P, f, f, P, P]
        lib.rl_ppo_outcome.argtypes = [P, i, P, P, P, P, f, P, P, P]
        lib.rl_init(_torch_symbol("sgemm_"))
    _state["lib"], _state["reason"] = lib, reason
    return lib


def unavailable_reason() -> str | None:
    library()
    return _state.get("reason")  # type: ignore[return-value]


# ----- C structures ---------------------------------------------------------------------------
_P = ctypes.c_void_p


class _Mlp(ctypes.Structure):
    _fields_ = [("L", ctypes.c_int), ("hidden_act", ctypes.c_int), ("out_act", ctypes.c_int),
                ("wt", ctypes.c_int), ("dims", ctypes.c_int * (MAXL + 1)), ("W", _P * MAXL),
                ("b", _P * MAXL), ("gW", _P * MAXL), ("gb", _P * MAXL)]


class _Adam(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int), ("b1", ctypes.c_float), ("b2", ctypes.c_float), ("eps", ctypes.c_float),
                ("wd", ctypes.c_float), ("size", ctypes.c_int * MAXP), ("p", _P * MAXP), ("g", _P * MAXP),
                ("m", _P * MAXP), ("v", _P * MAXP), ("step", _P * MAXP)]


class _OffCtx(ctypes.Structure):
    _fields_ = [*((n, ctypes.c_int) for n in ("nc", "obs_dim", "act_dim", "max_batch", "npolyak")),
                *((n, ctypes.c_float) for n in ("gamma", "tau", "target_noise", "noise_clip", "target_entropy",
                                                "log_std_min", "log_std_max")),
                ("actor", _Mlp), ("actor_t", _Mlp), ("critic", _Mlp * MAXC), ("critic_t", _Mlp * MAXC),
                ("actor_opt", _Adam), ("critic_opt", _Adam), ("alpha_opt", _Adam),
                ("polyak_size", ctypes.c_int * (2 * MAXP)), ("polyak_t", _P * (2 * MAXP)),
                ("polyak_s", _P * (2 * MAXP)),
                *((n, _P) for n in ("obs", "next_obs", "act", "rew", "done", "log_alpha", "ws"))]


class _PPOCtx(ctypes.Structure):
    _fields_ = [*((n, ctypes.c_int) for n in ("obs_dim", "act_dim", "nout", "discrete", "max_batch", "norm_adv")),
                *((n, ctypes.c_float) for n in ("vf_coef", "ent_coef", "clip_vf", "max_grad_norm")),
                ("pi", _Mlp), ("vf", _Mlp), ("log_std", _P), ("g_log_std", _P), ("opt", _Adam), ("ws", _P)]


class _EnvCtx(ctypes.Structure):
    _fields_ = [*((n, ctypes.c_int) for n in ("kind", "n", "state_dim", "obs_dim", "act_dim", "max_steps")),
                *((n, _P) for n in ("state", "ep_return", "low", "span", "pool", "rec_return", "elapsed",
                                    "rec_length")),
                *((n, ctypes.c_int64) for n in ("pool_size", "pool_pos", "rec_cap", "rec_n"))]


class _NormCtx(ctypes.Structure):
    _fields_ = [("dim", ctypes.c_int), ("update", ctypes.c_int), ("mean", _P), ("var", _P),
                ("count", ctypes.c_double), ("clip", ctypes.c_double), ("eps", ctypes.c_double)]


# ----- environments stepped in C ----------------------------------------------------------------
class NativeEnv:
    """The C side of a CPU :class:`~rlcore.envs.torch_native.base.TorchVecEnv`.

    Holds the env's reset pool (uniform draws consumed in order by both the tensor and the C
    step) and its finished-episode records, and points at the env's own state tensors. ``lib``
    is the kernel library when the task has a C step (``native_kind``) and the library is
    available, else None (the env then steps with tensor operations).
    """

    POOL_RESETS = 256

    def __init__(self, env):
        import gymnasium as gym

        n, sd = env.num_envs, env.state_dim
        self.env = env
        self.pool = torch.empty(sd * max(2 * n, self.POOL_RESETS), dtype=torch.float64)
        cap = 2 * n + 256
        self.rec_return = torch.zeros(cap, dtype=torch.float64)
        self.rec_length = torch.zeros(cap, dtype=torch.int64)
        self.low, self.span = env._low.reshape(-1).contiguous(), env._span.reshape(-1).contiguous()
        space = env.single_action_space
        act_dim = int(space.shape[0]) if isinstance(space, gym.spaces.Box) else 1
        self.lib = library() if env.native_kind and env.state_dtype == torch.float64 else None
        self.ctx = _EnvCtx(kind=env.native_kind, n=n, state_dim=sd,
                           obs_dim=int(env.single_observation_space.shape[0]), act_dim=act_dim,
                           max_steps=env.max_episode_steps, pool_size=self.pool.numel(),
                           pool_pos=self.pool.numel(), rec_cap=cap, rec_n=0)
        for name, t in (("state", env._state), ("ep_return", env._ep_return), ("low", self.low),
                        ("span", self.span), ("pool", self.pool), ("rec_return", self.rec_return),
                        ("elapsed", env._elapsed), ("rec_length", self.rec_length)):
            setattr(self.ctx, name, t.data_ptr())
        self.ref = ctypes.byref(self.ctx)

    def drop_pool(self) -> None:
        self.ctx.pool_pos = self.ctx.pool_size

    def collect_records(self, finished: list) -> None:
        """Move the (return, length) records written by C into ``finished``."""
        k = self.ctx.rec_n
        if k:
            finished.append((self.rec_return[:k].clone(), self.rec_length[:k].clone()))
            self.ctx.rec_n = 0


def native_chain(env):
    """``(NativeEnv, NormalizeObservation or None)`` when ``env`` steps in C (directly, or under
    one observation-normalising wrapper), else None."""
    from rlcore.envs.wrappers import NormalizeObservation

    norm = None
    if type(env) is NormalizeObservation:
        norm, env = env, env.env
    native = getattr(env, "native", None)
    if native is None or native.lib is None or env._sync_free or not env._ready:
        return None
    if norm is not None and norm.norm_ctx() is None:
        return None
    return native, norm


def _run_native(loop, chain, start: int, end: int) -> None:
    """Call ``loop(position)`` (a C loop returning the position it reached) until ``end``,
    refilling the env's reset pool and moving its episode records whenever it stops early."""
    native, norm = chain
    z = norm.norm_ctx() if norm is not None else None
    env = native.env
    pos = start
    while True:
        pos = loop(pos, None if z is None else ctypes.byref(z))
        native.collect_records(env._finished)
        if pos >= end:
            break
        env.ensure_pool()
    if z is not None:
        norm.rms.count = z.count


class Unfit(Exception):
    """The agent's parts or settings are outside what the fused kernels implement."""


def _ptr(t: torch.Tensor, dtype: torch.dtype = torch.float32) -> int:
    if t.device.type != "cpu" or t.dtype != dtype or not t.is_contiguous():
        raise Unfit(f"a {t.dtype} tensor on {t.device} (fused kernels need contiguous {dtype} on CPU)")
    return t.data_ptr()


class _Kernel:
    """Common plumbing: gradient buffers, Adam state and the tensors the C side points into."""

    native_chain = staticmethod(native_chain)

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
                or not pol.critics._stateless or list(pol.dist.parameters()):
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
        return a.storage._uniform_slots(self.B, a.generator)

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
            self.bounds = (a._low.contiguous(), a._high.contiguous())
        if self.noise_rows.shape[0] < steps:
            self.noise_rows = torch.zeros(steps, n, ad)
        for s in range(steps):
            torch.randn((n, ad), out=self.noise_rows[s])
        self.cur.copy_(a.obs)
        pos = ctypes.c_int64(st.pos)
        low, high = (b.data_ptr() for b in self.bounds)
        _run_native(lambda done, z: done + self.lib.rl_off_collect(
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
        self.set_polyak(*agent._polyak_pairs)
        self.noise = torch.zeros(self.B, self.act_dim)
        self.finish()

    def update(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        idx = self.indices()
        if c.target_noise > 0:
            torch.randn(self.noise.shape, out=self.noise)
        a._updates += 1
        do_actor = a._updates % c.policy_delay == 0
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
        self.set_polyak(agent._target_params, agent._critic_params)
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


# ----- PPO ------------------------------------------------------------------------------------------
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
            self.low, self.high = agent._low.contiguous(), agent._high.contiguous()
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
        _run_native(lambda t, z: self.lib.rl_ppo_rollout(
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


KERNELS = {"td3": TD3Kernel, "ddpg": TD3Kernel, "sac": SACKernel, "ppo": PPOKernel}


def kernel_for(agent) -> tuple[object | None, str]:
    """(kernel, description) for a built agent: the fused kernel when it fits, else None and why."""
    cls = KERNELS.get(agent.name)
    if cls is None:
        return None, f"eager ({agent.name} has no fused kernel)"
    if agent.device.type != "cpu":
        return None, "eager (fused kernels run on CPU; CUDA uses eager PyTorch)"
    if getattr(agent, "reward", None) is not None:
        return None, "eager (an intrinsic reward part is set)"
    if library() is None:
        return None, f"eager ({unavailable_reason()})"
    try:
        return cls(agent), "fused"
    except Unfit as exc:
        return None, f"eager (fused kernels do not cover {exc})"
