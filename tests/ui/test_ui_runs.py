"""Run folders for the Runs tab: listing, curves, comparison plot, archives, progress lines."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from copilot.ui.runs import (
    compare_figure,
    list_runs,
    mean_by_step,
    moving_average,
    parse_progress,
    read_curve,
    slug,
    zip_run,
)


def make_run(root: Path, name: str, *, finished: bool = True, rows=((100, 10.0), (200, 20.0)),
             mtime: float | None = None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    lines = ["step,return,length"] + [f"{s},{r},{s}" for s, r in rows]
    (run / "episodes.csv").write_text("\n".join(lines) + "\n")
    if finished:
        manifest = {"algo": "ppo", "env": "CartPole-v1", "total_steps": 200, "wall_time_s": 3.2,
                    "eval": {"episodes": 5, "return_mean": 187.5, "return_std": 4.0}}
        (run / "run.json").write_text(json.dumps(manifest))
    if mtime is not None:
        for p in run.iterdir():
            os.utime(p, (mtime, mtime))
    return run


def test_list_runs_newest_first_with_summaries(tmp_path: Path):
    make_run(tmp_path, "old", mtime=1_000_000)
    make_run(tmp_path, "new", finished=False, mtime=2_000_000)
    (tmp_path / "empty-folder").mkdir()
    make_run(tmp_path / "group", "nested", mtime=1_500_000)
    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == ["new", "nested", "old"]
    old = runs[-1]
    summary = (old.algo, old.env, old.steps, old.eval_return, old.finished)
    assert summary == ("ppo", "CartPole-v1", 200, 187.5, True)
    assert old.row()[:7] == ["old", "ppo", "CartPole-v1", 200, "187.5", "3 s", "finished"]
    assert runs[0].row()[3:7] == ["-", "-", "-", "unfinished"]
    assert list_runs(tmp_path / "missing") == []


def test_read_curve_skips_a_row_being_written(tmp_path: Path):
    run = make_run(tmp_path, "r", rows=((10, 1.5), (20, 2.5)))
    with open(run / "episodes.csv", "a") as f:
        f.write("30,")
    assert read_curve(run) == ([10, 20], [1.5, 2.5])
    assert read_curve(tmp_path / "nothing") == ([], [])


def test_moving_average_and_mean_by_step_golden_values():
    assert moving_average([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 1.5, 2.5, 3.5]
    assert moving_average([4.0], 3) == [4.0]
    assert mean_by_step([20, 10, 20, 10], [1.0, 2.0, 3.0, 6.0]) == ([10, 20], [4.0, 2.0])


def test_compare_figure_draws_one_line_per_run_with_episodes(tmp_path: Path):
    a = make_run(tmp_path, "a")
    b = make_run(tmp_path, "b", rows=((50, 1.0), (50, 3.0), (90, 5.0)))
    c = make_run(tmp_path, "c", rows=())
    runs = {r.name: r for r in list_runs(tmp_path)}
    fig = compare_figure([runs["a"], runs["b"], runs["c"]])
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["a (ppo, CartPole-v1)", "b (ppo, CartPole-v1)"]
    assert list(ax.lines[1].get_xdata()) == [50, 90]
    assert list(ax.lines[1].get_ydata()) == [2.0, 5.0]  # window 1: the per-step means
    empty = compare_figure([])
    assert not empty.axes[0].lines and "Select runs" in empty.axes[0].texts[0].get_text()
    assert a.exists() and b.exists() and c.exists()


def test_zip_run_holds_the_folder(tmp_path: Path):
    run = make_run(tmp_path / "runs", "r1")
    archive = zip_run(run, tmp_path / "out")
    assert archive.name == "r1.zip"
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["r1/", "r1/episodes.csv", "r1/run.json"]


@pytest.mark.parametrize("line,expected", [
    ("ppo CartPole-v1:  41%|####      | 1640/4000 [00:01<00:02, 1.2kstep/s]", (1640, 4000)),
    ("sac Pendulum-v1: 100%|##########| 15,000/15,000 [00:40<00:00]", (15000, 15000)),
    ("eval return 199.00 +/- 98.56 over 10 episodes", None),
])
def test_parse_progress(line, expected):
    assert parse_progress(line) == expected


def test_slug():
    assert slug("Train PPO on CartPole-v1 for 20000 steps!") == "train-ppo-on-cartpole-v1-for-200"
    assert slug("用 DQN 训练") == "dqn"
    assert slug("训练") == "run"


def test_a_run_json_that_cannot_be_read_shows_as_unreadable(tmp_path: Path):
    run = make_run(tmp_path, "deep")
    (run / "run.json").write_text("[" * 100000)
    assert list_runs(tmp_path)[0].row()[6] == "unreadable"


def test_zip_run_leaves_out_links_and_fifos_and_refuses_past_its_cap(tmp_path: Path, monkeypatch):
    from copilot.ui import runs

    run = make_run(tmp_path / "runs", "r1")
    (tmp_path / "host.txt").write_text("host secret")
    (run / "notes.txt").symlink_to(tmp_path / "host.txt")
    os.mkfifo(run / "pipe")
    with zipfile.ZipFile(zip_run(run, tmp_path / "out")) as z:
        assert sorted(z.namelist()) == ["r1/", "r1/episodes.csv", "r1/run.json"]
    monkeypatch.setattr(runs, "ZIP_CAP", 10)
    with pytest.raises(runs.ArchiveTooLarge, match="more than the 0 GB"):
        zip_run(run, tmp_path / "out2")
