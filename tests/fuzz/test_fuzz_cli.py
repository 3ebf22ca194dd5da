"""``python -m rlcore`` fuzzed with Hypothesis: every argv ends in success or one sentence.

``main(argv)`` runs in-process. Anything that would start real training (``Agent.train``,
``Agent.evaluate``, ``Experiment.run``) raises :class:`Started` instead, which counts as
success: the input got past every check. Run folders given to eval/export/report/continue are
missing, empty or damaged ones, never a trained run. Bounded: a fixed number of examples
with a deadline each, derandomized so CI sees the same inputs every time.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlcore.cli import main

SETTINGS = settings(max_examples=120, deadline=timedelta(seconds=10), derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class Started(BaseException):
    """Raised where the real work would begin (not an Exception, so main() does not catch it)."""


@pytest.fixture
def no_work(monkeypatch):
    from rlcore.agents.base import Agent
    from rlcore.experiment import Experiment

    def started(*_a, **_k):
        raise Started()

    for owner, name in ((Agent, "train"), (Agent, "evaluate"), (Experiment, "run")):
        monkeypatch.setattr(owner, name, started)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> dict[str, str]:
    """Run folders that cannot be used: missing, empty, damaged run.json, damaged checkpoint."""
    base = tmp_path_factory.mktemp("fuzz-runs")
    out = {"missing": str(base / "missing"), "empty": str(base / "empty")}
    (base / "empty").mkdir()
    good = {"algo": "ppo", "env": "CartPole-v1", "config": {}, "seed": 0, "num_envs": 1,
            "checkpoint": "checkpoints/final.pt", "eval": {"return_mean": 1.0, "episodes": 1}}
    for name, text in (("badjson", '{"algo": "pp'), ("list", "[]"), ("nokeys", "{}"),
                       ("ckpt", json.dumps(good))):
        folder = base / name
        (folder / "checkpoints").mkdir(parents=True)
        (folder / "run.json").write_text(text)
        (folder / "checkpoints" / "final.pt").write_bytes(b"PK\x03\x04 truncated")
        out[name] = str(folder)
    return out


WORDS = ["ppo", "sac", "dqn", "td3", "a2c", "CartPole-v1", "Pendulum-v1", "MountainCar-v0", "nope-v9",
         "encoder=identity", "reward=rnd", "policy=q_network", "critic=mlp", "lr=1e-3", "n_steps=64",
         "buffer_size=1e12", "batch_size=0", "hidden=64,64", "hidden=0", "gamma=2", "x=y=z", "=", "",
         "nan", "inf", "-inf", "-0", "1e400", "0x10", "１２", "gym", "gym-async", "torch", "cuda", "onnx",
         "torchscript", "pdf", "iqm", "mean", "serial", "ray", "CartPole-v1,Acrobot-v1", "1,2,3", "a,,b"]
NUMBERS = st.one_of(st.integers(-10**13, 10**13), st.sampled_from([0, 1, -1, 2**31, 2**63])).map(str)
VALUES = st.one_of(st.sampled_from(WORDS), NUMBERS, st.floats().map(str), st.text(max_size=12))
FLAGS = {
    "train": ["--steps", "--seed", "--num-envs", "--set", "--part", "--device", "--backend",
              "--eval-episodes", "--eval-every", "--checkpoint-every"],
    "eval": ["--episodes", "--seed"],
    "report": ["--reps", "--alpha", "--seed", "--score-range"],
    "export": ["--format"],
    "list": ["--config"],
    "sweep": ["--algo", "--env", "--seeds", "--seed-list", "--steps", "--vary", "--set", "--part",
              "--num-envs", "--metric", "--eval-episodes", "--workers", "--backend"],
    "continue": ["--steps"],
}
SWITCHES = ["--json", "--no-progress", "--resume", "--debug-not-a-flag", "-h"]


@st.composite
def argvs(draw, dirs: dict[str, str], tmp: Path) -> list[str]:
    command = draw(st.sampled_from([*FLAGS, "nope", ""]))
    argv = [command] if command else []
    if command == "train":
        argv += [draw(st.sampled_from(WORDS[:9])), draw(st.sampled_from(WORDS[5:9]))]
    elif command in ("eval", "export", "continue", "report"):
        argv.append(dirs[draw(st.sampled_from(sorted(dirs)))])
    if command in ("train", "sweep", "report"):
        argv += ["--out", str(tmp / "out")]
    for flag, value in draw(st.lists(st.tuples(st.sampled_from(FLAGS.get(command) or ["--x"]), VALUES),
                                     max_size=5)):
        argv += [flag, value]
    argv += draw(st.lists(st.sampled_from(SWITCHES), max_size=2, unique=True))
    return argv


def check_outcome(argv: list[str], capsys) -> None:
    try:
        code = main(argv)
    except Started:
        capsys.readouterr()
        return
    except SystemExit as exc:  # argparse: usage then "error: ..." (code 2), or --help (code 0)
        code = exc.code
        assert code in (0, 2), (argv, code)
        capsys.readouterr()
        return
    err = capsys.readouterr().err
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)  # 1 is the unexpected-exception path
    if code == 2 and argv and argv[0] in FLAGS:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)


def test_cli_ends_in_success_or_one_sentence(dirs, tmp_path, no_work, capsys):
    @SETTINGS
    @given(argv=argvs(dirs, tmp_path))
    def run(argv: list[str]) -> None:
        check_outcome(argv, capsys)

    run()


@pytest.mark.parametrize("name", ["missing", "empty", "badjson", "list", "nokeys", "ckpt"])
@pytest.mark.parametrize("command", ["eval", "export", "continue"])
def test_every_unusable_run_folder_is_one_sentence(dirs, no_work, capsys, command, name):
    argv = [command, dirs[name]] + (["--steps", "10"] if command == "continue" else [])
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in lines[0]
