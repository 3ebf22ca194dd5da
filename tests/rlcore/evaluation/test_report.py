"""report() over synthetic run folders, the learning-curve binning, and the PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlcore.errors import RLCoreError
from rlcore.evaluation import metrics, plots
from rlcore.evaluation.report import RunRecord, _run_curve, find_run_dirs, load_run, report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write_run(root: Path, algo: str, env: str, seed: int, score: float | None, episodes=None, steps=1000) -> Path:
    """A run folder like the trainer writes; ``score=None`` leaves out the evaluation."""
    folder = root / f"{algo}-{env.replace('/', '_')}-{seed}"
    folder.mkdir(parents=True)
    evaluation = None if score is None else {"episodes": 5, "return_mean": score, "return_std": 1.0}
    info = {"algo": algo, "env": env, "seed": seed, "total_steps": steps, "num_envs": 1, "device": "cpu",
            "config": {}, "modules": {}, "obs_shape": [4], "action_space": "Discrete(2)", "eval": evaluation,
            "checkpoint": None, "wall_time_s": 1.0, "rlcore_version": "0.1.0"}
    (folder / "run.json").write_text(json.dumps(info))
    if episodes is not None:
        rows = "".join(f"{int(s)},{r},{10}\n" for s, r in episodes)
        (folder / "episodes.csv").write_text("step,return,length\n" + rows)
    return folder


def _ramp(final: float, steps: int = 1000, n: int = 30, offset: float = 0.0):
    """Episodes whose return climbs linearly to ``final`` over training."""
    at = np.linspace(steps / n, steps, n)
    return list(zip(at, final * at / steps + offset))


def _assert_png(path: Path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000


@pytest.fixture
def two_task_runs(tmp_path):
    root = tmp_path / "runs"
    # Task a: scores 0..40 over both algorithms; task b: 100..300.
    table = {("ppo", "task-a"): [20, 40, 40], ("dqn", "task-a"): [0, 10, 20],
             ("ppo", "task-b"): [300, 250, 200], ("dqn", "task-b"): [100, 150, 200]}
    for (algo, env), scores in table.items():
        for seed, score in enumerate(scores):
            _write_run(root, algo, env, seed, score, _ramp(score, offset=seed))
    return root


def test_report_writes_tables_and_plots(two_task_runs, tmp_path):
    out = tmp_path / "report"
    summary = report([two_task_runs], out, reps=200)
    assert summary["algorithms"] == ["dqn", "ppo"] and summary["tasks"] == ["task-a", "task-b"]
    assert len(summary["runs"]) == 12 and summary["warnings"] == []
    assert summary["normalized"] is True
    # Normalized by the observed range per task: a -> score / 40, b -> (score - 100) / 200.
    ppo = np.array([[0.5, 1.0], [1.0, 0.75], [1.0, 0.5]])
    dqn = np.array([[0.0, 0.0], [0.25, 0.25], [0.5, 0.5]])
    for algo, mat in (("ppo", ppo), ("dqn", dqn)):
        got = summary["metrics"][algo]
        assert got["IQM"]["point"] == pytest.approx(metrics.iqm(mat))
        assert got["Mean"]["point"] == pytest.approx(metrics.mean(mat))
        assert got["Optimality gap"]["point"] == pytest.approx(metrics.optimality_gap(mat))
        assert got["IQM"]["lower"] <= got["IQM"]["point"] <= got["IQM"]["upper"]
    (poi,) = summary["probability_of_improvement"]
    assert (poi["x"], poi["y"]) == ("dqn", "ppo")
    assert poi["point"] == pytest.approx(metrics.probability_of_improvement(dqn, ppo))
    names = {Path(p).name for p in summary["files"]["plots"]}
    assert names == {"interval_estimates.png", "performance_profiles.png", "sample_efficiency.png",
                     "sample_efficiency_task-a.png", "sample_efficiency_task-b.png"}
    for name in names:
        _assert_png(out / name)
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(summary))
    markdown = (out / "report.md").read_text()
    assert "| ppo | task-b | 3 | 250.000 |" in markdown
    assert "![interval_estimates](interval_estimates.png)" in markdown
    assert f"| ppo | 2 | {summary['metrics']['ppo']['IQM']['point']:.3f} [" in markdown


def test_single_task_uses_raw_returns_and_no_optimality_gap(tmp_path):
    scores = [10.0, 30.0, 20.0, 50.0]
    for seed, score in enumerate(scores):
        _write_run(tmp_path, "sac", "Pendulum-v1", seed, score, _ramp(score))
    summary = report([tmp_path], tmp_path / "out", reps=100)
    assert summary["normalized"] is False
    assert set(summary["metrics"]["sac"]) == {"IQM", "Median", "Mean"}
    assert summary["metrics"]["sac"]["IQM"]["point"] == pytest.approx(25.0)  # middle two of 10 20 30 50
    assert summary["probability_of_improvement"] == []
    assert {Path(p).name for p in summary["files"]["plots"]} == {
        "interval_estimates.png", "performance_profiles.png", "sample_efficiency.png"}


def test_runs_without_eval_or_run_json_are_skipped_with_warnings(two_task_runs, tmp_path):
    no_eval = _write_run(two_task_runs, "ppo", "task-a", 9, None, _ramp(1.0))
    empty = two_task_runs / "not-a-run"
    empty.mkdir()
    summary = report([two_task_runs, empty], tmp_path / "out", reps=50)
    assert len(summary["runs"]) == 12
    assert any(str(no_eval) in w and "eval.return_mean" in w for w in summary["warnings"])
    assert any(str(empty) in w and "run.json" in w for w in summary["warnings"])
    assert "## Warnings" in (tmp_path / "out" / "report.md").read_text()


def test_score_ranges_given_and_uneven_seed_counts(tmp_path):
    for seed, score in enumerate([10.0, 20.0, 30.0]):
        _write_run(tmp_path, "a2c", "x", seed, score, _ramp(score))
    _write_run(tmp_path, "a2c", "y", 0, 5.0, _ramp(5.0))
    _write_run(tmp_path, "a2c", "y", 1, 15.0, _ramp(15.0))
    summary = report([tmp_path], tmp_path / "out", reps=50, score_ranges={"x": (0, 40), "y": (5, 15)})
    assert "given" in summary["normalization"]
    assert any("first 2" in w for w in summary["warnings"])
    # Seeds 0 and 1 of each task: x -> 0.25, 0.5; y -> 0, 1.
    assert summary["metrics"]["a2c"]["Mean"]["point"] == pytest.approx(np.mean([0.25, 0.5, 0.0, 1.0]))


def test_partial_or_empty_score_ranges(tmp_path):
    for env in ("x", "y"):
        for seed in range(2):
            _write_run(tmp_path, "a2c", env, seed, 10.0 * (seed + 1), _ramp(1.0))
    summary = report([tmp_path], tmp_path / "out", reps=20, score_ranges={"x": (0, 20)})
    assert any("'y' has no given score range" in w for w in summary["warnings"])
    # x: 0.5, 1.0; y by its observed range 10..20: 0, 1.
    assert summary["metrics"]["a2c"]["Mean"]["point"] == pytest.approx(0.625)
    with pytest.raises(RLCoreError, match=r"score range \(5, 5\) of task 'x' is empty"):
        report([tmp_path], tmp_path / "out2", score_ranges={"x": (5, 5)})


def test_tasks_not_run_by_every_algorithm_are_left_out_of_aggregates(tmp_path):
    for seed in range(2):
        _write_run(tmp_path, "ppo", "a", seed, 1.0 + seed, _ramp(1.0))
        _write_run(tmp_path, "ppo", "b", seed, 2.0 + seed, _ramp(1.0))
        _write_run(tmp_path, "td3", "a", seed, 3.0 + seed, _ramp(1.0))
    summary = report([tmp_path], tmp_path / "out", reps=50)
    assert summary["tasks_used"] == {"ppo": ["a"], "td3": ["a"]}
    assert any("['b']" in w for w in summary["warnings"])


def test_missing_episodes_csv_skips_only_the_curves(tmp_path):
    for seed in range(3):
        _write_run(tmp_path, "ddpg", "Pendulum-v1", seed, -200.0 + seed)
    summary = report([tmp_path], tmp_path / "out", reps=50)
    names = {Path(p).name for p in summary["files"]["plots"]}
    assert names == {"interval_estimates.png", "performance_profiles.png"}
    assert any("no episodes.csv" in w for w in summary["warnings"])
    assert any("No learning curve" in w for w in summary["warnings"])


def test_no_usable_run_is_one_sentence_error(tmp_path):
    _write_run(tmp_path, "ppo", "a", 0, None)
    with pytest.raises(RLCoreError, match="eval.return_mean"):
        report([tmp_path], tmp_path / "out")


def test_find_run_dirs_expands_parent_folders(two_task_runs):
    found = find_run_dirs([two_task_runs])
    assert len(found) == 12 and all((p / "run.json").is_file() for p in found)
    single = found[0]
    assert find_run_dirs([single, two_task_runs])[0] == single
    record, notes = load_run(single)
    assert record is not None and record.total_steps == 1000 and notes == []


def test_run_curve_bins_by_step_and_carries_forward():
    edges = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    episodes = np.array([[5.0, 1.0], [15.0, 2.0], [15.0, 4.0], [35.0, 8.0]])
    rec = RunRecord(Path("."), "a", "e", 0, 0.0, 40, episodes)
    np.testing.assert_allclose(_run_curve(rec, edges), [1.0, 3.0, 3.0, 8.0])
    late = RunRecord(Path("."), "a", "e", 0, 0.0, 20, np.array([[12.0, 2.0], [20.0, 6.0]]))
    # Nothing before step 10; bins starting at or after step 20 lie past the run's end.
    np.testing.assert_allclose(_run_curve(late, edges), [np.nan, 4.0, np.nan, np.nan])


def test_plots_write_pngs(tmp_path):
    est = {"a": metrics.Interval(np.array(0.4), np.array(0.3), np.array(0.5)),
           "b": metrics.Interval(np.array(0.6), np.array(0.5), np.array(0.8))}
    _assert_png(plots.plot_interval_estimates({"IQM": est, "Mean": est}, tmp_path / "iv.png"))
    x = np.linspace(0, 1, 11)
    band = {"a": metrics.Interval(x, x - 0.1, x + 0.1), "b": metrics.Interval(1 - x, 0.9 - x, 1.1 - x)}
    _assert_png(plots.plot_performance_profiles(band, x, tmp_path / "pp.png"))
    _assert_png(plots.plot_sample_efficiency(x * 1000, band, tmp_path / "nested" / "se.png", title="demo"))
    with pytest.raises(RLCoreError, match="11 points but there are 3"):
        plots.plot_sample_efficiency([1, 2, 3], band, tmp_path / "bad.png")
    with pytest.raises(RLCoreError, match="No performance profiles"):
        plots.plot_performance_profiles({}, x, tmp_path / "none.png")


def test_styles_follow_the_given_order():
    styles = plots.styles_for(["b"], order=["a", "b"])
    assert styles == {"b": (plots.PALETTE[1], plots.MARKERS[1])}
    assert plots.styles_for(["b", "a"])["b"][0] == plots.PALETTE[0]


def test_cli_report_passes_its_options_to_report(two_task_runs, tmp_path, capsys):
    from rlcore.cli import main

    out = tmp_path / "cli"
    argv = ["report", str(two_task_runs), "--out", str(out), "--reps", "50", "--alpha", "0.5", "--seed", "3",
            "--score-range", "task-a=0,40", "--score-range", "task-b=100,300", "--json"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    direct = report([two_task_runs], tmp_path / "api", reps=50, alpha=0.5, seed=3,
                    score_ranges={"task-a": (0.0, 40.0), "task-b": (100.0, 300.0)})
    assert printed["metrics"] == json.loads(json.dumps(direct["metrics"]))
    assert "given" in printed["normalization"] and printed["alpha"] == 0.5 and printed["reps"] == 50
    for name in ("report.md", "report.json", "interval_estimates.png", "performance_profiles.png",
                 "sample_efficiency.png"):
        assert (out / name).is_file()
    assert main(["report", str(two_task_runs), "--out", str(out), "--reps", "20"]) == 0
    assert capsys.readouterr().out.strip() == f"Wrote {out / 'report.md'} and plots to {out}."


@pytest.mark.parametrize(("extra", "needle"), [
    (["--score-range", "task-a=0"], "--score-range expects ENV=LOW,HIGH"),
    (["--score-range", "task-a=0,x"], "'task-a=0,x'"),
    (["--alpha", "1.5"], "--alpha must be between 0 and 1"),
])
def test_cli_report_bad_input_exits_2_with_one_sentence(two_task_runs, tmp_path, capsys, extra, needle):
    from rlcore.cli import main

    assert main(["report", str(two_task_runs), "--out", str(tmp_path / "r"), "--reps", "10", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err and "\n" not in err


def test_cli_report_without_runs_exits_2(tmp_path, capsys):
    from rlcore.cli import main

    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "None of the 1 given paths holds a run" in err and "\n" not in err
