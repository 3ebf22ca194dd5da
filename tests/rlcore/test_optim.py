"""LeanAdam: the agents' optimizer must do exactly what torch's Adam does."""

from __future__ import annotations

import copy

import torch
from torch import nn

from rlcore.utils import LeanAdam, adam


def _pair(**kwargs):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
    ref = copy.deepcopy(net)
    return net, LeanAdam(net.parameters(), lr=1e-2, **kwargs), ref, torch.optim.Adam(ref.parameters(), lr=1e-2, **kwargs)


def _step(net, opt, x, freeze_first: bool = False):
    opt.zero_grad(set_to_none=True)
    net[0].requires_grad_(not freeze_first)
    net(x).pow(2).mean().backward()
    net[0].requires_grad_(True)
    opt.step()


def _max_diff(a, b):
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def test_lean_adam_matches_torch_adam_through_schedules_frozen_layers_and_reloads():
    net, lean, ref, torch_adam = _pair(eps=1e-5, weight_decay=1e-3)
    x = torch.randn(32, 4)
    for i in range(40):
        if i == 10:
            for opt in (lean, torch_adam):
                opt.param_groups[0]["lr"] = 3e-3  # a schedule changes the rate
        frozen = i % 7 == 3  # some steps leave the first layer without gradients
        _step(net, lean, x, frozen)
        _step(ref, torch_adam, x, frozen)
    assert _max_diff(net, ref) < 1e-7
    assert lean._lean is not None  # the lean path was in use
    saved = copy.deepcopy(lean.state_dict())
    lean.load_state_dict(saved)
    assert lean._lean is None  # cached state is dropped after a reload
    for _ in range(5):
        _step(net, lean, x)
        _step(ref, torch_adam, x)
    assert _max_diff(net, ref) < 1e-7
    steps = lean.state_dict()["state"]
    assert int(steps[3]["step"]) == 45 and int(steps[0]["step"]) == 45 - 6  # frozen steps are skipped


def test_zero_grad_clears_gradients_and_agents_get_lean_adam():
    net, lean, _, _ = _pair()
    net(torch.randn(3, 4)).sum().backward()
    lean.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert isinstance(adam(net.parameters(), lr=1e-3), LeanAdam)
