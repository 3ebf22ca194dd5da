"""The JSON contract of ``generate --json`` and the sandboxed post-training steps."""

from __future__ import annotations

import json
import os

import pytest

from copilot.__main__ import main
from copilot.codegen.generate import generate

KEYS = {"ok", "error", "asks", "runs", "report", "evaluations", "artifacts", "script", "spec", "script_path",
        "attempts", "manifest", "curve_png", "log_tail", "run_dir"}


def test_cli_json_for_a_grid_without_running(tmp_path, capsys):
    code = main(["--home", str(tmp_path), "generate", "Compare A2C and PPO on CartPole-v1 with 2 seeds each for "
                 "4096 steps; which is better?", "--json", "--out", str(tmp_path / "exp")])
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and set(data) == KEYS - {"manifest"} and data["ok"] and data["error"] is None
    assert [a["ask"] for a in data["asks"]][:3] == [
        "4 runs: A2C/PPO on CartPole-v1 x seeds 0, 1, 4,096 steps each", "Every algo: a2c, ppo", "Every seed: 0, 1"]
    assert all(a["done"] is None for a in data["asks"])  # nothing ran, so nothing is claimed done
    assert data["runs"] == [] and data["report"] is None and "Experiment(" in data["script"]
    assert data["artifacts"] == {"script": str(tmp_path / "exp" / "train.py")}


@pytest.mark.parametrize("request_text,fragment", [
    ("Train a DreamerV3 agent on CartPole-v1.", "rlcore has no 'dreamerv3' agent"),
    ("Tune the dropout of PPO on CartPole-v1 with 5000 steps.", "asks for dropout"),
    ("SAC on Pendulum-v1 for 3000 steps with tanh activations.", "SAC has no activation setting"),
    ("PPO on CartPole-v1 for 5000 steps, make the reward more interesting by shaping it.",
     "matches no reward template"),
])
def test_requests_that_cannot_be_done_say_so(settings, request_text, fragment):
    result = generate(request_text, settings, run=True)
    out = result.to_json()
    assert not out["ok"] and fragment in out["error"] and out["runs"] == [] and "manifest" not in out


@pytest.mark.slow
def test_single_run_with_post_steps_in_the_sandbox(settings, tmp_path):
    events: list[tuple[str, dict]] = []
    result = generate("Train PPO on CartPole-v1 for 512 steps with 2 envs, then continue it for another 256 steps, "
                      "reload the final checkpoint and evaluate it for 3 episodes, and export it to TorchScript.",
                      settings, budget_s=240, out=tmp_path / "run", on_event=lambda k, p: events.append((k, p)))
    assert result.ok, (result.error, result.asks, result.log_tail[-2000:])
    out = result.to_json()
    assert out["manifest"]["total_steps"] == 768 and out["runs"][0]["run_dir"] == str(tmp_path / "run")
    assert out["evaluations"][0]["episodes"] == 3 and os.path.isfile(out["artifacts"]["torchscript"])
    assert [a["done"] for a in out["asks"]] == [True] * len(out["asks"]) and len(out["asks"]) == 4
    assert [p["state"] for k, p in events if k == "run"][-1] == "done"
