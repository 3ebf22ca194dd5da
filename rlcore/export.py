"""Export a trained run's deterministic policy to ONNX, TorchScript or a C header, then check and time it.

The exported graph maps raw observations (as the env's VecEnv delivers them, before any
observation normalisation) to env actions: the running observation statistics of a run
trained with ``normalize_obs`` are baked in as constants, and continuous actions are
rescaled or clipped to the action space exactly as ``agent.act(obs, deterministic=True)``
does. Discrete agents output the greedy action index (int64), continuous ones float32.
The C header of an MLP policy is written by :mod:`rlcore.export_c`.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.envs import NormalizeObservation, find_wrapper
from rlcore.errors import RLCoreError

FORMATS = {"onnx": "policy.onnx", "torchscript": "policy.torchscript.pt", "c": "policy.h"}
ONNX_OPSET = 17


class ExportedPolicy(nn.Module):
    """The deterministic acting path of an agent as one module: ``forward(obs) -> actions``.

    Args:
        agent: a built agent (its ``act`` must be deterministic with ``deterministic=True``).
        modules: name -> network the acting path uses (registered here so exports carry
            their weights as parameters); default: every network of ``agent.networks()``.

    Observation statistics of a ``NormalizeObservation`` wrapper on the agent's env are
    copied into buffers, so the module takes raw observations.
    """

    def __init__(self, agent, modules: dict[str, nn.Module] | None = None):
        super().__init__()
        self._agent = agent  # not an nn.Module: held as a plain attribute
        nets = modules if modules is not None else _networks(agent)
        self.nets = nn.ModuleDict(nets)
        norm = find_wrapper(agent.env, NormalizeObservation)
        self.normalize = norm is not None
        if norm is not None:
            self.register_buffer("obs_mean", norm.rms.mean.detach().clone().cpu())
            self.register_buffer("obs_std", torch.sqrt(norm.rms.var + norm.epsilon).detach().clone().cpu())
            self.clip = float(norm.clip)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.normalize:  # the same float64 arithmetic as NormalizeObservation.normalize
            z = (obs.to(torch.float64) - self.obs_mean) / self.obs_std
            obs = z.clamp(-self.clip, self.clip).to(torch.float32)
        return self._agent.act(obs, deterministic=True)


def _networks(agent) -> dict[str, nn.Module]:
    return {name: obj for name, obj in agent.networks().items() if isinstance(obj, nn.Module)}


def acting_modules(agent, obs: torch.Tensor) -> dict[str, nn.Module]:
    """The networks of ``agent.networks()`` that ``agent.act`` actually runs on ``obs``."""
    nets = _networks(agent)
    used: set[str] = set()
    handles = []
    for name, net in nets.items():
        for sub in net.modules():
            handles.append(sub.register_forward_hook(lambda *_, n=name: used.add(n)))
    try:
        with torch.no_grad():
            agent.act(obs, deterministic=True)
    finally:
        for h in handles:
            h.remove()
    return {name: net for name, net in nets.items() if name in used} or nets


def raw_observation_space(agent) -> gym.Space:
    """The observation space before observation normalisation (what the export takes)."""
    norm = find_wrapper(agent.env, NormalizeObservation)
    return (norm.env if norm is not None else agent.env).single_observation_space


def sample_observations(agent, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` float32 observations drawn from the raw observation space."""
    space = raw_observation_space(agent)
    space.seed(seed)
    obs = np.stack([space.sample() for _ in range(n)]).astype(np.float32)
    return torch.as_tensor(obs)


def reference_actions(agent, obs: torch.Tensor) -> torch.Tensor:
    """``agent.act`` on ``obs`` after the env's own observation normalisation."""
    norm = find_wrapper(agent.env, NormalizeObservation)
    with torch.no_grad():
        return agent.act(norm.normalize(obs) if norm is not None else obs, deterministic=True)


def check_format(fmt: str) -> str:
    """``fmt`` if it is a known export format, else a one-sentence :class:`RLCoreError`."""
    if fmt not in FORMATS:
        raise RLCoreError(f"Unknown export format {fmt!r}; accepted: {', '.join(FORMATS)}.")
    return fmt


def _write_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    # The TorchScript-based exporter (dynamo=False) needs no onnxscript; it and torch.jit warn
    # that they are deprecated, which is all they say here (tracer warnings still show).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["obs"], output_names=["action"],
                          dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}})


def _write_torchscript(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.trace(module, (example,), check_trace=False).save(str(path))


WRITERS = {"onnx": _write_onnx, "torchscript": _write_torchscript}


def load_exported(path: str | Path, fmt: str | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``obs (float32 array [batch, *obs_shape]) -> actions`` for an exported file.

    ``fmt="onnx"`` runs it in onnxruntime (one CPU thread), ``"torchscript"`` with
    ``torch.jit.load``; without ``fmt``, a ``.onnx`` suffix means ONNX.
    """
    path = Path(path)
    fmt = check_format(fmt) if fmt else ("onnx" if path.suffix == ".onnx" else "torchscript")
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda obs: session.run(None, {"obs": np.asarray(obs, dtype=np.float32)})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path), map_location="cpu")

    def run(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return loaded(torch.as_tensor(np.asarray(obs, dtype=np.float32))).numpy()
    return run


def median_latency_ms(fn: Callable[[], Any], calls: int) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``calls`` calls (after 5 warm-up calls)."""
    for _ in range(5):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def export_policy(run_dir: str | Path, fmt: str, out: str | Path | None = None, *, batch: int = 256,
                  calls: int = 200, seed: int = 0) -> dict[str, Any]:
    """Export the deterministic policy of a run folder and verify it against PyTorch.

    Args:
        run_dir: a run folder written by the trainer (``run.json`` + its checkpoint).
        fmt: ``"onnx"`` (checked with onnxruntime), ``"torchscript"`` (``torch.jit.load``) or
            ``"c"`` (an MLP policy as a C header, compiled with ``cc`` and checked; the result
            is :func:`rlcore.export_c.export_c`'s).
        out: output file (default ``RUN_DIR/policy.onnx``, ``RUN_DIR/policy.torchscript.pt`` or
            ``RUN_DIR/policy.h``).
        batch: observations in the verification batch and the batched latency measurement.
        calls: timed calls for each median latency.
        seed: seed of the random observations drawn from the observation space.

    Returns:
        ``path``, ``format``, ``algo``, ``env``, ``max_abs_diff`` (exported vs PyTorch
        actions on ``batch`` random observations from the observation space),
        ``latency_ms`` (median single-observation call), ``batch_latency_ms`` (median
        call on ``batch`` observations), ``torch_latency_ms`` (the PyTorch agent's
        single-observation call, for comparison), ``batch``, ``action_dtype``,
        ``obs_shape`` and ``normalized_obs`` (whether statistics were baked in).

    Raises:
        RLCoreError: ``run_dir`` is not a run folder, its checkpoint is missing or does not
            match, or ``fmt`` is unknown.
    """
    from rlcore.evaluation.checkpoint import load_agent

    check_format(fmt)
    if batch < 1 or calls < 1:
        raise RLCoreError(f"batch and calls must be at least 1; got batch={batch}, calls={calls}.")
    if fmt == "c":
        from rlcore.export_c import export_c

        return export_c(run_dir, out, batch=batch, seed=seed)
    agent, manifest = load_agent(run_dir)
    path = Path(out) if out else Path(run_dir) / FORMATS[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    obs = sample_observations(agent, batch, seed)
    normed = find_wrapper(agent.env, NormalizeObservation)
    module = ExportedPolicy(agent, acting_modules(agent, normed.normalize(obs) if normed else obs)).eval()
    WRITERS[fmt](module, obs[:2], path)
    run = load_exported(path, fmt)
    expected = reference_actions(agent, obs).cpu().numpy()
    got = run(obs.numpy())
    if got.shape != expected.shape:
        raise RuntimeError(f"The exported policy returned actions of shape {got.shape}; "
                           f"expected {expected.shape}.")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64)))) if got.size else 0.0
    one, many = obs[:1].numpy(), obs.numpy()
    return {"path": str(path), "format": fmt, "algo": manifest["algo"], "env": manifest["env"],
            "max_abs_diff": diff, "batch": batch, "action_dtype": str(got.dtype),
            "obs_shape": list(obs.shape[1:]), "normalized_obs": normed is not None,
            "latency_ms": median_latency_ms(lambda: run(one), calls),
            "batch_latency_ms": median_latency_ms(lambda: run(many), max(calls // 4, 1)),
            "torch_latency_ms": median_latency_ms(lambda: reference_actions(agent, obs[:1]), calls)}


def export(run_dir: str | Path, fmt: str = "onnx", out: str | Path | None = None) -> str:
    """Export a run's deterministic policy (``"onnx"``, ``"torchscript"`` or ``"c"``) and return the file path.

    The file is checked against the PyTorch agent on random observations (see
    :func:`export_policy`, which also returns the difference and latencies); a mismatch
    larger than 1e-4 raises instead of returning a path.
    """
    result = export_policy(run_dir, fmt, out, calls=20)
    if result["max_abs_diff"] > 1e-4:
        raise RuntimeError(f"The exported {fmt} policy differs from the PyTorch agent by "
                           f"{result['max_abs_diff']:.3g} on random observations.")
    return result["path"]
