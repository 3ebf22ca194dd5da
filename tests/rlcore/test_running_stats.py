"""RunningMeanStd: observation/reward normalisation statistics."""

import numpy as np
import pytest
import torch

from rlcore.utils import RunningMeanStd


def test_running_statistics_equal_those_of_all_the_data_seen():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 3)).astype(np.float32) for n in (1, 4, 7, 64, 2)]
    rms = RunningMeanStd((3,), epsilon=1e-12)
    for b in batches:
        rms.update(torch.from_numpy(b))
    data = np.concatenate(batches).astype(np.float64)
    np.testing.assert_allclose(rms.mean.numpy(), data.mean(0), rtol=1e-9)
    np.testing.assert_allclose(rms.var.numpy(), data.var(0), rtol=1e-9)
    assert rms.count == len(data) + 1e-12


def test_running_statistics_round_trip_through_a_state_dict():
    rms = RunningMeanStd((2,))
    rms.update(torch.tensor([[1.0, 2.0], [3.0, 5.0]]))
    state = rms.state_dict()
    assert state["count"].dtype == torch.float64
    other = RunningMeanStd((2,))
    other.load_state_dict(state)
    other.update(torch.tensor([[0.0, 1.0]]))
    rms.update(torch.tensor([[0.0, 1.0]]))
    assert torch.equal(other.mean, rms.mean) and torch.equal(other.var, rms.var) and other.count == rms.count


def test_state_dict_is_a_snapshot_and_loading_does_not_alias():
    rms = RunningMeanStd((2,))
    rms.update(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    saved = rms.state_dict()
    before = saved["mean"].clone()
    rms.update(torch.tensor([[10.0, 20.0]]))  # updates in place
    assert torch.equal(saved["mean"], before)
    other = RunningMeanStd((2,))
    other.load_state_dict(rms.state_dict())
    rms.update(torch.tensor([[-5.0, 0.0]]))
    assert not torch.equal(other.mean, rms.mean) and other.count == pytest.approx(3 + 1e-4)
