"""The Generate tab shows an experiment as it runs: plan, runs, result, plot, verdict, not done.

Recorded event sequences (``experiment_events.py``) are folded into a view and rendered at
each step, as the tab does while the generator's thread emits them.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from experiment_events import ASKS, experiment, single_run  # noqa: E402

from copilot.ui.experiment_view import not_done_html, plan_html, result_html, runs_html  # noqa: E402
from copilot.ui.jobs import JobView, drive  # noqa: E402


def fold(events, upto: int | None = None) -> JobView:
    view = JobView()
    for kind, data in events[:upto]:
        view.apply(kind, data)
    return view


def first(events, kind: str) -> int:
    return next(i for i, (k, _) in enumerate(events) if k == kind)


def test_plan_starts_pending_and_ends_done_or_not_done(tmp_path):
    events = experiment(tmp_path)
    live = fold(events, first(events, "report"))
    html = plan_html(live.asks, finished=False)
    assert html.count("◌ pending") == len(ASKS) and "not done" not in html
    view = fold(events)
    html = plan_html(view.asks, finished=True)
    assert html.count("✔ done") == 4 and html.count("✖ not done") == 1
    assert "Plan: 4 of 5 asks done" in html and "the policy has no Box actions" in html


def test_runs_table_shows_live_progress_then_final_returns(tmp_path):
    events = experiment(tmp_path)
    running = fold(events, first(events, "log"))
    assert running.is_experiment and len(running.runs) == 4
    html = runs_html(running.runs.values())
    assert "▶ running" in html and "8,000 / 20,000" in html and html.count("◌ queued") == 3
    assert 'style="width:40%"' in html and "Runs: 0 of 4 finished" in html
    html = runs_html(fold(events).runs.values())
    assert "Runs: 3 of 4 finished, 1 failed" in html
    assert "480.0" in html and "500.0" in html and "120.5" in html
    assert "✖ failed" in html and "NaN in the value loss" in html


def test_result_has_groups_with_intervals_best_and_verdict(tmp_path):
    view = fold(experiment(tmp_path))
    html = result_html(view.report, view.evaluations, view.artifacts)
    assert "<th>IQM</th>" in html and "[480.0, 500.0]" in html and "★ best" in html
    assert html.index("mlp") < html.index("★ best") < html.index("identity")
    assert "Verdict:</b> mlp beats identity" in html and "report.md" in html
    assert view.plot and Path(view.plot).is_file()


def test_not_done_is_said_in_plain_words_and_the_status_is_not_success(tmp_path):
    view = fold(experiment(tmp_path))
    assert view.finished and view.state == "error"
    assert view.status.startswith("Not done: 1 of 5 asks (export the best policy to ONNX)")
    box = not_done_html(view.asks, finished=True)
    assert "✖ Not done: 1 ask was not carried out" in box and "onnx export failed" in box
    assert not_done_html(view.asks, finished=False) == ""


def test_an_ask_never_verified_counts_as_not_done_when_the_job_ends():
    asks = [{"ask": "plot", "done": None, "detail": ""}]
    assert "◌ pending" in plan_html(asks, finished=False)
    assert "✖ not done" in plan_html(asks, finished=True) and "(not verified)" in not_done_html(asks, True)


def test_text_from_the_model_is_escaped():
    asks = [{"ask": "<script>alert(1)</script>", "done": False, "detail": "<b>x</b>"}]
    html = plan_html(asks, True) + not_done_html(asks, True)
    html += runs_html([{"label": "<i>a</i>", "seed": "<s>", "state": "<x>", "error": "<e>"}])
    html += result_html({"metric": "<m>", "verdict": "<v>", "groups": {"<g>": {"point": 1.0}}, "best": "<g>"})
    assert "<script>" not in html and "<i>a" not in html and "<m>" not in html and "&lt;g&gt;" in html


def test_a_single_run_looks_as_before(tmp_path):
    view = fold(single_run(tmp_path))
    assert view.state == "ok" and not view.is_experiment
    assert view.status == "Finished: final evaluation return 500.0 ± 0.0."
    assert view.curve and view.plot is None and view.run_dir
    assert result_html(None, [], {"script": "/x/train.py", "plot": "/x/curve.png"}) == ""  # shown elsewhere
    assert "policy.onnx" in result_html(None, [], {"plot": "/x/curve.png", "onnx": "/x/policy.onnx"})
    assert runs_html([]) == "" and "✔ done" in plan_html(view.asks, True)


def test_the_tab_renders_every_step_into_its_outputs(tmp_path):
    from copilot.ui.generate_tab import _render, experiment_folder

    events = experiment(tmp_path)
    view = JobView()
    for kind, data in events:
        view.apply(kind, data)
        out = _render(view, with_script=True)
        assert len(out) == 12
    status, _, plan, runs, result, _, script, _, picture, ret, _, _ = out
    assert "Not done" in status and "✖ Not done" in plan and "Runs: 3 of 4" in runs and "Verdict" in result
    assert picture["label"] == "Comparison of the groups" and picture["value"] == view.plot
    assert ret == "" and script.startswith("from rlcore.experiment")
    assert experiment_folder(view) == tmp_path / "exp"
    single = fold(single_run(tmp_path))
    out = _render(single, with_script=True)
    assert out[3] == "" and out[8]["label"] == "Learning curve" and "500.0" in out[9]


def test_drive_shows_the_experiment_live_and_cancel_stops_it(tmp_path):
    events = experiment(tmp_path)
    cancel = threading.Event()
    split = first(events, "report")

    def work(emit):
        for kind, data in events[:split]:
            emit(kind, data)
        while not cancel.is_set():  # a long run, until Cancel is pressed
            time.sleep(0.01)
        return {"ok": False, "error": "Cancelled by the user.", "asks": events[1][1]["asks"]}

    seen = []
    for view in drive(work, JobView(), cancel, every_s=0.05):
        seen.append(len(view.runs))
        if len(seen) == 3:
            cancel.set()
    assert max(seen) == 4 and view.finished and view.state == "error"
    assert "Cancel" in view.status
    assert "✖ not done" in plan_html(view.asks, finished=True)


def test_a_single_run_stays_one_row_however_its_folder_is_spelt(tmp_path):
    events = single_run(tmp_path)
    kind, done = events[-1]
    events[-1] = (kind, dict(done, runs=[dict(done["runs"][0], run_dir=done["run_dir"] + "/.")]))
    view = fold(events)
    assert len(view.runs) == 1 and not view.is_experiment
    row = next(iter(view.runs.values()))
    assert row["state"] == "done" and row["return_mean"] == 500.0 and row["label"] == "ppo CartPole-v1"
