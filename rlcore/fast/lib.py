"""Building, loading and checking the compiled library, and the ctypes mirrors of its structs.

``library()`` compiles ``kernels.c``, ``envs.c``, ``loops.c`` and ``layout.c`` once with the
system C compiler (cached under ``~/.cache/rlcore/kernels``), declares the argument types of
its functions and compares the size and field offsets of every struct in ``kernels.h`` with
the ctypes mirrors below; a library that fails any step is not used, and
``unavailable_reason()`` says why.
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

SOURCES = [Path(__file__).with_name(name) for name in ("kernels.c", "envs.c", "loops.c", "layout.c")]
HEADER = Path(__file__).with_name("kernels.h")
MAXL, MAXP, MAXC = 8, 40, 4

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


def disabled() -> bool:
    """Whether ``RLCORE_FUSED=0`` turns the compiled paths off."""
    return os.environ.get("RLCORE_FUSED", "1").strip().lower() in ("0", "false", "no", "off")


def may_load() -> bool:
    """False when the library is known not to load (disabled, or a build already failed);
    True otherwise, without building it."""
    return not disabled() and _state.get("lib", True) is not None


def library():
    """The loaded kernel library, or None (see :func:`unavailable_reason`)."""
    if "lib" in _state:
        return _state["lib"]
    lib, reason = None, None
    if disabled():
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
        reason = layout_mismatch(lib)
        if reason is not None:
            lib = None
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




STRUCTS = (_Mlp, _Adam, _OffCtx, _PPOCtx, _EnvCtx, _NormCtx)


def python_layout() -> list[int]:
    """Size, then each field's offset, of every ctypes mirror (the order ``layout.c`` uses)."""
    out: list[int] = []
    for struct in STRUCTS:
        out.append(ctypes.sizeof(struct))
        out.extend(getattr(struct, name).offset for name, _ in struct._fields_)
    return out


def layout_mismatch(lib) -> str | None:
    """None when the C structs and their ctypes mirrors agree, else the first difference."""
    lib.rl_layout.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rl_layout.restype = ctypes.c_int
    expected = python_layout()
    buf = (ctypes.c_int64 * len(expected))()
    n = lib.rl_layout(buf, len(expected))
    if n != len(expected):
        return f"the compiled structs have {n} layout entries, the ctypes mirrors {len(expected)}"
    at = 0
    for struct in STRUCTS:
        names = ["sizeof", *(name for name, _ in struct._fields_)]
        for name in names:
            if buf[at] != expected[at]:
                return (f"the struct layout of {struct.__name__.strip('_')}.{name} differs between kernels.h "
                        f"({buf[at]}) and rlcore/fast ({expected[at]})")
            at += 1
    return None

