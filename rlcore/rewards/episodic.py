"""Pure functions for episodic memories over time-major batches.

Every function takes ``[T, E, ...]`` tensors (``T`` steps of ``E`` parallel envs, in time
order) and ``dones [T, E]`` (true where an episode ended after step ``t``). Step ``t``'s
episodic memory is the earlier steps ``j < t`` of the same env since its last episode end:
the memory is rebuilt from the batch on every call, so an episode that started before the
batch is seen from the batch's first step only.
"""

from __future__ import annotations

import torch

CHUNK = 512  # query steps per block, bounding pairwise tensors to [E, CHUNK, T]


def episode_ids(dones: torch.Tensor) -> torch.Tensor:
    """``[T, E]`` int64: how many episodes of that env ended strictly before step ``t``."""
    d = dones.to(torch.int64)
    return torch.cumsum(d, 0) - d


def _memory_mask(ids: torch.Tensor, rows: slice, inclusive: bool) -> torch.Tensor:
    """``[E, q, T]``: True where step ``j`` is in the memory of query step ``t`` (rows)."""
    T = ids.shape[0]
    t = torch.arange(T, device=ids.device)[rows]
    j = torch.arange(T, device=ids.device)
    earlier = (j[None, :] <= t[:, None]) if inclusive else (j[None, :] < t[:, None])
    same = ids.T[:, rows, None] == ids.T[:, None, :]
    return same & earlier[None]


def knn_sq_distances(emb: torch.Tensor, dones: torch.Tensor, k: int) -> torch.Tensor:
    """``[T, E, k]`` squared distances from step ``t`` to its ``k`` nearest memory entries.

    Missing neighbours (fewer than ``k`` earlier steps in the episode) are ``inf``.
    """
    T, E = emb.shape[:2]
    k = max(1, min(int(k), T))
    ids = episode_ids(dones)
    x = emb.transpose(0, 1).float()  # [E, T, d]
    out = torch.empty(T, E, k, device=emb.device)
    for start in range(0, T, CHUNK):
        rows = slice(start, min(start + CHUNK, T))
        d2 = torch.cdist(x[:, rows], x).pow(2)  # [E, q, T]
        d2 = d2.masked_fill(~_memory_mask(ids, rows, inclusive=False), float("inf"))
        out[rows] = d2.topk(k, dim=-1, largest=False).values.transpose(0, 1)
    return out


def episodic_counts(codes: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
    """``[T, E]`` visits to ``codes[t]`` in the episode so far, the current one included."""
    T = codes.shape[0]
    ids = episode_ids(dones)
    c = codes.T  # [E, T]
    out = torch.empty(codes.shape, dtype=torch.float32, device=codes.device)
    for start in range(0, T, CHUNK):
        rows = slice(start, min(start + CHUNK, T))
        equal = (c[:, rows, None] == c[:, None, :]) & _memory_mask(ids, rows, inclusive=True)
        out[rows] = equal.sum(-1).T.float()
    return out


def elliptical_bonus(emb: torch.Tensor, dones: torch.Tensor, ridge: float,
                     inv: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``[T, E]`` elliptical bonuses ``phi_t^T C_t^{-1} phi_t`` (Henaff et al., 2022), and
    the ``[E, d, d]`` inverses after the last step.

    ``C_t = ridge * I + sum phi_j phi_j^T`` over the memory of step ``t``; the inverse is
    kept per env with Sherman-Morrison rank-one updates and reset after each episode end.
    ``inv`` continues the memories of a previous batch (default: empty memories).
    """
    T, E, d = emb.shape
    eye = torch.eye(d, device=emb.device).expand(E, d, d) / ridge
    inv = eye.clone() if inv is None else inv
    out = torch.empty(T, E, device=emb.device)
    for t in range(T):
        phi = emb[t].float()
        u = torch.bmm(inv, phi.unsqueeze(-1)).squeeze(-1)  # C^-1 phi, [E, d]
        b = (phi * u).sum(-1)
        out[t] = b
        inv = inv - u.unsqueeze(-1) * u.unsqueeze(-2) / (1.0 + b)[:, None, None]
        inv = torch.where(dones[t].bool()[:, None, None], eye, inv)
    return out, inv


def batch_knn_distance(emb: torch.Tensor, k: int) -> torch.Tensor:
    """``[N]`` distance from each row of ``emb [N, d]`` to its ``k``-th nearest other row.

    ``k`` is capped at ``N - 1``; a batch of one row gives 0.
    """
    n = emb.shape[0]
    k = min(int(k), n - 1)
    if k < 1:
        return torch.zeros(n, device=emb.device)
    x = emb.float()
    out = torch.empty(n, device=emb.device)
    for start in range(0, n, 4 * CHUNK):
        rows = slice(start, min(start + 4 * CHUNK, n))
        dist = torch.cdist(x[rows], x)  # [q, N]; self at distance 0 is the 1st nearest
        out[rows] = dist.topk(k + 1, dim=-1, largest=False).values[:, k]
    return out
