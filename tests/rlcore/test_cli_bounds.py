"""``python -m rlcore``: sizes checked before starting; corrupt run files named in one sentence."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from rlcore.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_sentence_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


TOO_BIG = {  # argv -> text the refusal must contain
    "num-envs": (["--num-envs", "100000"], "between 1 and 1,024 with the 'gym' backend; got 100,000"),
    "num-envs-async": (["--num-envs", "65", "--backend", "gym-async"], "between 1 and 64"),
    "num-envs-zero": (["--num-envs", "0"], "got 0"),
    "steps": (["--steps", "10000000000"], "--steps must be between 1 and 1,000,000,000"),
    "steps-zero": (["--steps", "0"], "--steps must be between 1"),
    "negative-seed": (["--seed", "-1"], "--seed must be between 0"),
    "eval-episodes": (["--eval-episodes", "10000000"], "--eval-episodes"),
    "buffer": (["--set", "buffer_size=1e10"], "'buffer_size' must be between 1 and 20,000,000"),
    "batch": (["--set", "batch_size=0"], "'batch_size' must be between 1"),
    "hidden-width": (["--set", "hidden=64,100000"], "hidden layer width"),
    "hidden-depth": (["--set", "hidden=" + ",".join(["8"] * 40)], "hidden layers"),
    "rollout": (["--num-envs", "1000", "--set", "n_steps=100000"], "transitions per rollout"),
}


@pytest.mark.parametrize("extra,says", TOO_BIG.values(), ids=list(TOO_BIG))
def test_sizes_out_of_range_are_refused_before_starting(capsys, tmp_path, extra, says):
    algo, env = ("sac", "Pendulum-v1") if "buffer_size=1e10" in extra else ("ppo", "CartPole-v1")
    t0 = time.monotonic()
    code, _, err = run_cli(capsys, "train", algo, env, "--out", str(tmp_path / "r"), *extra)
    assert code == 2 and says in one_sentence_error(err), err
    assert time.monotonic() - t0 < 5 and not (tmp_path / "r").exists()  # nothing started


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bounds") / "run"
    assert main(["train", "ppo", "CartPole-v1", "--steps", "600", "--out", str(out), "--no-progress",
                 "--eval-episodes", "1"]) == 0
    return out


def corrupt(run_dir: Path, tmp: Path, how: str) -> tuple[Path, Path]:
    """A copy of ``run_dir`` with one file damaged; returns (copy, the damaged file)."""
    copy = tmp / f"run-{how}"
    shutil.copytree(run_dir, copy)
    manifest = json.loads((copy / "run.json").read_text())
    ckpt = copy / manifest["checkpoint"]
    if how == "truncated-json":
        (copy / "run.json").write_text((run_dir / "run.json").read_text()[:40])
        return copy, copy / "run.json"
    if how == "json-list":
        (copy / "run.json").write_text("[1, 2]")
        return copy, copy / "run.json"
    if how == "missing-keys":
        (copy / "run.json").write_text('{"algo": "ppo"}')
        return copy, copy / "run.json"
    if how == "binary-json":
        (copy / "run.json").write_bytes(b"\xff\xfe\x00garbage")
        return copy, copy / "run.json"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2] if how == "truncated-checkpoint" else b"not a checkpoint")
    return copy, ckpt


DAMAGE = ["truncated-json", "json-list", "missing-keys", "binary-json", "truncated-checkpoint",
          "garbage-checkpoint"]


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("command", ["eval", "export"])
def test_eval_and_export_name_the_corrupt_file(capsys, run_dir, tmp_path, how, command):
    copy, bad = corrupt(run_dir, tmp_path, how)
    code, _, err = run_cli(capsys, command, str(copy))
    line = one_sentence_error(err)
    assert code == 2 and repr(str(bad)) in line, line


@pytest.mark.parametrize("how", ["truncated-json", "missing-keys", "binary-json"])
def test_report_names_the_corrupt_run_json(capsys, run_dir, tmp_path, how):
    copy, bad = corrupt(run_dir, tmp_path, how)
    code, _, err = run_cli(capsys, "report", str(copy), "--out", str(tmp_path / "rep"), "--reps", "50")
    line = one_sentence_error(err)
    assert code == 2 and repr(str(bad)) in line, line


def test_report_and_eval_bounds(capsys, run_dir, tmp_path):
    code, _, err = run_cli(capsys, "eval", str(run_dir), "--episodes", "0")
    assert code == 2 and "--episodes must be between 1" in one_sentence_error(err)
    code, _, err = run_cli(capsys, "report", str(run_dir), "--alpha", "1.5", "--out", str(tmp_path / "r"))
    assert code == 2 and "--alpha must be between 0 and 1" in one_sentence_error(err)


def test_an_intact_run_still_evaluates(capsys, run_dir):
    code, out, err = run_cli(capsys, "eval", str(run_dir), "--episodes", "1", "--json")
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["episodes"] == 1
