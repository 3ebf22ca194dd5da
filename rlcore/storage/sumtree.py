"""A batched sum tree over tensors: priority updates and prefix-sum search without per-sample loops."""

from __future__ import annotations

import torch


class SumTree:
    """A ``branching``-ary tree whose leaves hold non-negative priorities and whose nodes hold
    the sums of their children (a binary tree when ``branching=2``).

    Levels are float64 tensors, top first; every level's length is a multiple of
    ``branching``, and node ``i`` of a level has children ``i * branching ...
    (i + 1) * branching - 1`` on the level below. :meth:`update` and :meth:`find` handle a
    whole batch with a few vectorised tensor operations per level. The default branching
    of 16 keeps a million-leaf tree five levels deep, which is what makes batched updates
    and searches cheap (each level costs a fixed number of tensor operations).
    """

    def __init__(self, capacity: int, device: torch.device | str = "cpu", branching: int = 16):
        self.capacity, self.k = int(capacity), int(branching)
        if self.capacity < 1 or self.k < 2:
            raise ValueError(f"SumTree needs capacity >= 1 and branching >= 2; got {capacity}, {branching}.")
        sizes, n = [], self.capacity
        while True:
            n = -(-n // self.k) * self.k  # round up to a multiple of k
            sizes.append(n)
            if n == self.k:
                break
            n //= self.k
        self.levels = [torch.zeros(s, dtype=torch.float64, device=device) for s in reversed(sizes)]

    @property
    def total(self) -> float:
        return float(self.levels[0].sum())

    def get(self, index: torch.Tensor) -> torch.Tensor:
        """Priorities of leaves ``index``."""
        return self.levels[-1][index]

    def update(self, index: torch.Tensor, priority: torch.Tensor) -> None:
        """Set leaves ``index`` to ``priority`` and refresh their ancestors' sums.

        With repeated indices one of the given priorities wins; sums stay exact because
        every parent is recomputed from its children.
        """
        node = index.to(self.levels[-1].device).long()
        self.levels[-1].index_copy_(0, node, priority.to(self.levels[-1]))
        for d in range(len(self.levels) - 2, -1, -1):
            node = node // self.k
            sums = self.levels[d + 1].view(-1, self.k).index_select(0, node).sum(1)
            self.levels[d].index_copy_(0, node, sums)

    def find(self, value: torch.Tensor) -> torch.Tensor:
        """Leaf index ``j`` with ``prefix(j) <= value < prefix(j + 1)`` for each value, where
        ``prefix(j)`` is the sum of the leaves before ``j`` (values are in ``[0, total)``)."""
        value = value.to(self.levels[0]).unsqueeze(1)
        node = torch.zeros(value.shape[0], dtype=torch.long, device=value.device)
        for level in self.levels:
            children = level.view(-1, self.k).index_select(0, node)
            below = children.cumsum(1)
            j = torch.searchsorted(below, value, right=True).clamp_max_(self.k - 1)
            value = value - (below - children).gather(1, j)
            node = node * self.k + j.squeeze(1)
        return node
