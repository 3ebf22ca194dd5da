"""Export an MLP policy as a dependency-free C header (``rlcore export RUN --format c``).

The acting path of the agent is read by recording the modules ``agent.act`` runs on a batch
of observations: it must be a chain of ``nn.Linear`` layers and element-wise activations
(tanh, relu, elu, gelu, silu, sigmoid) from the observation to one output, followed by one
of the action mappings in :data:`MAPPINGS` (picked by checking it against ``agent.act``).
Anything else (a CNN or multi-input encoder, a dueling head) is refused in one sentence.

The header holds the weights as ``static const float`` arrays and two functions:
``rlcore_policy_forward(obs, out)`` (the chain's output: logits, Q-values or the action mean)
and ``rlcore_policy_act(obs, action)`` (the env action; a discrete policy writes the index as
a float in ``action[0]`` and returns it). Observation statistics of a run
trained with ``normalize_obs`` are applied first, in double precision as in PyTorch.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.envs import NormalizeObservation, find_wrapper
from rlcore.errors import RLCoreError

ACTIVATIONS_C = {
    nn.Tanh: "tanhf(x)", nn.ReLU: "(x > 0.0f ? x : 0.0f)", nn.ELU: "(x > 0.0f ? x : expm1f(x))",
    nn.GELU: "(0.5f * x * (1.0f + erff(x * 0.70710678118654752f)))", nn.SiLU: "(x / (1.0f + expf(-x)))",
    nn.Sigmoid: "(1.0f / (1.0f + expf(-x)))",
}
# In the order tried: when two fit every check (a net whose outputs never leave the bounds),
# the bounded one is kept.
MAPPINGS = ("argmax", "tanh_rescale", "rescale", "clip", "tanh", "identity")


def _record(agent, obs: torch.Tensor) -> list[tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    """(module, input, output) of every leaf module ``agent.act`` runs, in call order."""
    calls = []

    def hook(module, inputs, output):
        if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(output, torch.Tensor):
            calls.append((module, inputs[0], output))
    handles = [m.register_forward_hook(hook) for net in agent.networks().values() if isinstance(net, nn.Module)
               for m in net.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            actions = agent.act(obs, deterministic=True)
    finally:
        for h in handles:
            h.remove()
    return calls, actions


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.data_ptr() == b.data_ptr() and a.numel() == b.numel() and a.dtype == b.dtype


def _passthrough(module: nn.Module) -> bool:
    """Modules that only flatten or pass the observation on (no arithmetic)."""
    from rlcore.encoders import IdentityEncoder

    return isinstance(module, (nn.Identity, nn.Flatten, IdentityEncoder))


def _supported(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module) in ACTIVATIONS_C


def _chain_to(calls, end: int, obs: torch.Tensor) -> list[nn.Module] | str:
    """The modules from ``obs`` to the output of ``calls[end]``, or why they are not an MLP chain."""
    chain, i = [], end
    while True:
        module, inp, _ = calls[i]
        if not (_supported(module) or _passthrough(module)):
            return f"a {type(module).__name__} layer"
        if not _passthrough(module):
            chain.append(module)
        if _same(inp, obs):
            return chain[::-1] if chain and isinstance(chain[-1], nn.Linear) else "no Linear layer first"
        prev = [j for j in range(i) if _same(calls[j][2], inp)]
        if not prev:
            return "an operation that is not a layer (for example a sum of two heads)"
        i = prev[-1]


def _mapping(name: str, out: torch.Tensor, space: gym.Space) -> torch.Tensor:
    """Action from the chain's output; a Box action reads the first ``action_dim`` outputs (a
    Gaussian head's mean when the head also outputs its log-std)."""
    x = out.double()
    if name == "argmax":
        return x.argmax(dim=-1)
    x = x[:, : int(np.prod(space.shape))]
    low, high = (torch.as_tensor(space.low, dtype=torch.float64), torch.as_tensor(space.high, dtype=torch.float64))
    if name in ("tanh", "tanh_rescale"):
        x = torch.tanh(x)
    if name in ("rescale", "tanh_rescale"):
        x = low + (x + 1.0) * 0.5 * (high - low)
    if name == "clip":
        x = torch.maximum(torch.minimum(x, high), low)
    return x


def _matches(agent, layers: list[nn.Module], name: str, batches: list[torch.Tensor]) -> bool:
    """Whether ``name`` applied to the chain's output gives ``agent.act`` on every batch."""
    space, net = agent.action_space, nn.Sequential(*layers)
    with torch.no_grad():
        for obs in batches:
            actions = agent.act(obs, deterministic=True).double()
            mapped = _mapping(name, net(obs.reshape(obs.shape[0], -1)), space).double()
            if mapped.shape != actions.shape or not torch.allclose(mapped, actions, atol=1e-5, rtol=0):
                return False
    return True


def read_mlp(agent, obs: torch.Tensor) -> tuple[list[nn.Module], str]:
    """(the acting path's layers, the action mapping) for normalised observations ``obs``.

    The mapping must agree with ``agent.act`` on ``obs`` and on ``obs`` scaled by -10, 10 and 100,
    which drive outputs past the action bounds (so clipping is told from no clipping).

    Raises:
        RLCoreError: the acting path is not an MLP chain followed by a supported mapping.
    """
    space = agent.action_space
    if not isinstance(space, (gym.spaces.Discrete, gym.spaces.Box)):
        raise RLCoreError(f"C export supports Discrete and Box action spaces; this run acts in {space}.")
    obs = obs.contiguous().float()
    calls, _ = _record(agent, obs)
    names = ("argmax",) if isinstance(space, gym.spaces.Discrete) else MAPPINGS[1:]
    batches = [obs, obs * 10.0, obs * -10.0, obs * 100.0]
    reason = None
    for end in range(len(calls) - 1, -1, -1):
        chain = _chain_to(calls, end, obs)
        if isinstance(chain, str):
            reason = reason or chain
            continue
        for name in names:
            if _matches(agent, chain, name, batches):
                return chain, name
    odd = [type(m).__name__ for m, _, _ in calls if not (_supported(m) or _passthrough(m))]
    reason = f"a {odd[0]} layer" if odd else reason
    encoder = getattr(agent, "parts", {}).get("encoder")
    raise RLCoreError(f"C export supports MLP policies only (Linear layers and activations); this run's "
                      f"acting path (encoder {encoder!r}) uses {reason or 'an action mapping it cannot write'}.")


def _floats(values) -> str:
    flat = np.asarray(values, dtype=np.float32).reshape(-1)
    return ", ".join(f"{float(v):.9g}f" for v in flat) or "0.0f"


def _layer_code(i: int, module: nn.Module, width: int) -> tuple[str, str, int]:
    """(static arrays, statements from ``cur`` to ``nxt``, new width) of one Linear layer.

    The weights are stored transposed (``[in][out]``) so the inner loop runs over outputs,
    which compilers vectorise; sums are kept in double precision.
    """
    w = module.weight.detach().cpu().numpy()
    b = module.bias.detach().cpu().numpy() if module.bias is not None else np.zeros(w.shape[0])
    n_out, n_in = w.shape
    arrays = (f"static const float rlcore_w{i}[{w.size}] = {{{_floats(w.T)}}};  /* [{n_in}][{n_out}] */\n"
              f"static const float rlcore_b{i}[{b.size}] = {{{_floats(b)}}};\n")
    body = (f"    for (int o = 0; o < {n_out}; ++o) acc[o] = rlcore_b{i}[o];\n"
            f"    for (int k = 0; k < {n_in}; ++k) {{\n"
            f"        const double x = cur[k];\n        const float *row = rlcore_w{i} + k * {n_out};\n"
            f"        for (int o = 0; o < {n_out}; ++o) acc[o] += (double)row[o] * x;\n    }}\n"
            f"    for (int o = 0; o < {n_out}; ++o) nxt[o] = (float)acc[o];\n")
    return arrays, body, n_out


def _activation_expr(module: nn.Module) -> str:
    if isinstance(module, nn.ELU):
        return f"(x > 0.0f ? x : {float(module.alpha):.9g}f * expm1f(x))"
    if isinstance(module, nn.GELU) and module.approximate == "tanh":
        return "(0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x))))"
    return ACTIVATIONS_C[type(module)]


def _mapping_code(name: str, space: gym.Space, out_dim: int) -> str:
    """C statements from ``out`` (the chain's output) to ``action``."""
    if name == "argmax":
        return ("    int best = 0;\n"
                f"    for (int o = 1; o < {out_dim}; ++o) if (out[o] > out[best]) best = o;\n"
                "    action[0] = (float)best;\n    return best;\n")
    low, high = np.asarray(space.low, np.float64).reshape(-1), np.asarray(space.high, np.float64).reshape(-1)
    x = "(double)out[o]"
    if name in ("tanh", "tanh_rescale"):
        x = f"tanh({x})"
    if name in ("rescale", "tanh_rescale"):
        x = f"(rlcore_low[o] + ({x} + 1.0) * 0.5 * (rlcore_high[o] - rlcore_low[o]))"
    if name == "clip":
        x = f"fmin(fmax({x}, rlcore_low[o]), rlcore_high[o])"
    act_dim = low.size
    lines = f"    for (int o = 0; o < {act_dim}; ++o) action[o] = (float){x};\n    return -1;\n"
    if name in ("rescale", "tanh_rescale", "clip"):
        bounds = (f"    static const double rlcore_low[{act_dim}] = {{{_doubles(low)}}};\n"
                  f"    static const double rlcore_high[{act_dim}] = {{{_doubles(high)}}};\n")
        lines = bounds + lines
    return lines


def _doubles(values) -> str:
    """C literals of ``values``; infinite bounds become ``HUGE_VAL`` (from <math.h>)."""
    return ", ".join("HUGE_VAL" if v == np.inf else "-HUGE_VAL" if v == -np.inf else repr(float(v)) for v in values)


def _normalize_code(norm, obs_dim: int) -> tuple[str, str]:
    """(arrays, statements writing the normalised observation into ``cur``)."""
    if norm is None:
        return "", f"    for (int k = 0; k < {obs_dim}; ++k) cur[k] = obs[k];\n"
    mean = norm.rms.mean.detach().cpu().double().numpy().reshape(-1)
    std = torch.sqrt(norm.rms.var + norm.epsilon).detach().cpu().double().numpy().reshape(-1)
    arrays = (f"static const double rlcore_obs_mean[{obs_dim}] = {{{_doubles(mean)}}};\n"
              f"static const double rlcore_obs_std[{obs_dim}] = {{{_doubles(std)}}};\n")
    clip = float(norm.clip)
    body = (f"    for (int k = 0; k < {obs_dim}; ++k) {{\n"
            f"        double z = ((double)obs[k] - rlcore_obs_mean[k]) / rlcore_obs_std[k];\n"
            f"        cur[k] = (float)fmin(fmax(z, {-clip!r}), {clip!r});\n    }}\n")
    return arrays, body


def header_source(layers: list[nn.Module], mapping: str, space: gym.Space, obs_dim: int, norm=None,
                  title: str = "") -> str:
    """The C header text for ``layers`` (see the module doc for its functions)."""
    arrays, body, width, widest = [], [], obs_dim, obs_dim
    norm_arrays, norm_body = _normalize_code(norm, obs_dim)
    for i, module in enumerate(layers):
        if isinstance(module, nn.Linear):
            a, b, width = _layer_code(i, module, width)
        else:
            a, b = "", f"    for (int o = 0; o < {width}; ++o) {{ float x = cur[o]; nxt[o] = {_activation_expr(module)}; }}\n"
        arrays.append(a)
        body.append(b + "    { float *t = cur; cur = nxt; nxt = t; }\n")
        widest = max(widest, width)
    out_dim, discrete = width, mapping == "argmax"
    act_dim = 1 if discrete else int(np.prod(space.shape))
    parts = [
        f"/* {title or 'rlcore policy'}: generated by `rlcore export --format c`; needs only <math.h>. */\n",
        "#ifndef RLCORE_POLICY_H\n#define RLCORE_POLICY_H\n#include <math.h>\n\n",
        f"#define RLCORE_POLICY_OBS_DIM {obs_dim}\n#define RLCORE_POLICY_OUT_DIM {out_dim}\n",
        f"#define RLCORE_POLICY_ACT_DIM {act_dim}\n#define RLCORE_POLICY_DISCRETE {int(discrete)}\n\n",
        norm_arrays, *arrays,
        "\n/* The chain's output for one observation: logits or Q-values (discrete), the action mean before\n"
        "   its mapping to the action space (continuous). */\n",
        "static inline void rlcore_policy_forward(const float *obs, float *out) {\n",
        f"    float a[{widest}], b[{widest}];\n    double acc[{widest}];\n    float *cur = a, *nxt = b;\n",
        norm_body, *body,
        f"    for (int o = 0; o < {out_dim}; ++o) out[o] = cur[o];\n}}\n\n",
        "/* The deterministic env action; returns the action index of a discrete policy, else -1. */\n",
        "static inline int rlcore_policy_act(const float *obs, float *action) {\n",
        f"    float out[{out_dim}];\n    rlcore_policy_forward(obs, out);\n", _mapping_code(mapping, space, out_dim),
        "}\n\n#endif /* RLCORE_POLICY_H */\n",
    ]
    return "".join(parts)


HARNESS = r"""#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "%s"

/* check N: N observations on stdin -> N x (OUT_DIM forward outputs, ACT_DIM actions) on stdout.
   time N MS: N observations on stdin, acted on in passes for about MS milliseconds; prints ns per action. */
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    float *obs = malloc(sizeof(float) * RLCORE_POLICY_OBS_DIM * n);
    if (!obs || fread(obs, sizeof(float) * RLCORE_POLICY_OBS_DIM, n, stdin) != (size_t)n) return 3;
    float out[RLCORE_POLICY_OUT_DIM], act[RLCORE_POLICY_ACT_DIM];
    if (strcmp(argv[1], "check") == 0) {
        for (long i = 0; i < n; ++i) {
            rlcore_policy_forward(obs + i * RLCORE_POLICY_OBS_DIM, out);
            rlcore_policy_act(obs + i * RLCORE_POLICY_OBS_DIM, act);
            fwrite(out, sizeof(float), RLCORE_POLICY_OUT_DIM, stdout);
            fwrite(act, sizeof(float), RLCORE_POLICY_ACT_DIM, stdout);
        }
        return 0;
    }
    double budget_ns = (argc > 3 ? atof(argv[3]) : 100.0) * 1e6;
    volatile float sink = 0.0f;
    struct timespec t0, t1;
    long calls = 0;
    double ns = 0.0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (ns < budget_ns) {  /* whole passes over the observations until the time budget is spent */
        for (long i = 0; i < n; ++i) {
            rlcore_policy_act(obs + i * RLCORE_POLICY_OBS_DIM, act);
            sink += act[0];
        }
        calls += n;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
    }
    printf("%%.1f\n", ns / (double)calls);
    (void)sink;
    free(obs);
    return 0;
}
"""
CFLAGS = ("-O2", "-std=c99", "-Wall", "-Wextra", "-Werror")


def compile_harness(header: Path, workdir: Path) -> Path:
    """Build the check-and-time program for ``header`` with the system ``cc``; its path."""
    cc = shutil.which("cc")
    if cc is None:
        raise RLCoreError("C export checks the header by compiling it, and no C compiler (cc) is on PATH; "
                          "accepted: a machine with cc.")
    src, exe = workdir / "harness.c", workdir / "harness"
    src.write_text(HARNESS % header.resolve())
    proc = subprocess.run([cc, *CFLAGS, "-o", str(exe), str(src), "-lm"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"The generated C header did not compile: {proc.stderr.strip()[:500]}")
    return exe


def run_harness(exe: Path, obs: np.ndarray, out_dim: int, act_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(forward outputs, actions) of the compiled header on ``obs`` (float32 ``[N, obs_dim]``)."""
    data = np.ascontiguousarray(obs, dtype=np.float32).tobytes()
    proc = subprocess.run([str(exe), "check", str(len(obs))], input=data, capture_output=True, check=True)
    rows = np.frombuffer(proc.stdout, dtype=np.float32).reshape(len(obs), out_dim + act_dim)
    return rows[:, :out_dim], rows[:, out_dim:]


def time_harness(exe: Path, obs: np.ndarray, budget_ms: float = 100.0, repeats: int = 5) -> float:
    """Median nanoseconds per action of the compiled header over ``repeats`` timed runs of
    about ``budget_ms`` each."""
    data = np.ascontiguousarray(obs, dtype=np.float32).tobytes()
    times = [float(subprocess.run([str(exe), "time", str(len(obs)), str(budget_ms)], input=data,
                                  capture_output=True, check=True).stdout) for _ in range(repeats)]
    return float(np.median(times))


def export_c(run_dir: str | Path, out: str | Path | None = None, *, batch: int = 256, seed: int = 0,
             budget_ms: float = 100.0) -> dict[str, Any]:
    """Write a run's MLP policy as a C header, compile it, check it against PyTorch and time it.

    Returns:
        ``path``, ``format`` (``"c"``), ``algo``, ``env``, ``size_bytes`` (the header),
        ``layers`` (e.g. ``["Linear(4, 64)", "Tanh", ...]``), ``mapping`` (how the chain's
        output becomes the action), ``output_max_abs_diff`` (chain outputs, C vs PyTorch, on
        ``batch`` random observations), ``actions_match`` (discrete: every argmax equal),
        ``max_abs_diff`` (the largest difference of outputs and actions), ``latency_us``
        (median time per action of the compiled header over five runs of ``budget_ms``,
        from a timing program built with ``cc -O2``), ``torch_latency_ms`` (the PyTorch agent on one observation), ``batch``,
        ``obs_shape`` and ``normalized_obs``.

    Raises:
        RLCoreError: the policy is not an MLP (one sentence), or no C compiler is available.
    """
    from rlcore.evaluation.checkpoint import load_agent
    from rlcore.export import median_latency_ms, reference_actions, sample_observations

    agent, manifest = load_agent(run_dir)
    obs = sample_observations(agent, batch, seed)
    norm = find_wrapper(agent.env, NormalizeObservation)
    normed = norm.normalize(obs) if norm is not None else obs
    layers, mapping = read_mlp(agent, normed)
    flat = obs.reshape(batch, -1)
    path = Path(out) if out else Path(run_dir) / "policy.h"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header_source(layers, mapping, agent.action_space, flat.shape[1], norm,
                                  title=f"{manifest['algo']} on {manifest['env']}"))
    with torch.no_grad():
        ref_out = nn.Sequential(*layers)(normed.reshape(batch, -1).float()).double().numpy()
    ref_act = reference_actions(agent, obs).double().cpu().numpy().reshape(batch, -1)
    with tempfile.TemporaryDirectory() as tmp:
        exe = compile_harness(path, Path(tmp))
        got_out, got_act = run_harness(exe, flat.numpy(), ref_out.shape[1], ref_act.shape[1])
        latency_ns = time_harness(exe, flat.numpy(), budget_ms)
    out_diff = float(np.max(np.abs(got_out.astype(np.float64) - ref_out)))
    act_diff = float(np.max(np.abs(got_act.astype(np.float64) - ref_act)))
    return {"path": str(path), "format": "c", "algo": manifest["algo"], "env": manifest["env"],
            "size_bytes": path.stat().st_size, "layers": [_describe(m) for m in layers], "mapping": mapping,
            "output_max_abs_diff": out_diff, "actions_match": bool(act_diff == 0.0) if mapping == "argmax" else None,
            "max_abs_diff": max(out_diff, act_diff), "latency_us": latency_ns / 1e3,
            "torch_latency_ms": median_latency_ms(lambda: reference_actions(agent, obs[:1]), 200),
            "batch": batch, "obs_shape": list(obs.shape[1:]), "normalized_obs": norm is not None}


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return f"Linear({module.in_features}, {module.out_features})"
    return type(module).__name__
