"""Generate-and-run jobs as the UI sees them: events folded into a view, driven from a thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from copilot.ui.jobs import JobView, drive, new_run_dir, pump, result_dict


def test_events_fold_into_the_view():
    view = JobView()
    view.apply("status", {"text": "Asking the model for a RunSpec"})
    view.apply("spec", {"algo": "ppo", "env_id": "CartPole-v1"})
    view.apply("script", {"text": "print('hi')"})
    view.apply("log", {"line": "ppo CartPole-v1:  50%|#####     | 500/1000 [00:01<00:01]\rwarming up"})
    view.apply("progress", {"step": 750, "total": 1000})
    assert (view.status, view.state) == ("Asking the model for a RunSpec", "busy")
    assert view.spec == {"algo": "ppo", "env_id": "CartPole-v1"} and view.script == "print('hi')"
    assert (view.step, view.total) == (750, 1000)
    assert view.log_text.endswith("warming up")
    view.apply("done", {"ok": True, "manifest": {"eval": {"return_mean": 187.25, "return_std": 3.0}}})
    assert view.state == "ok" and view.step == 1000
    assert view.status == "Finished: final evaluation return 187.2 ± 3.0."


def test_a_generated_script_that_was_not_run_says_what_to_do_next():
    view = JobView()
    view.apply("done", {"ok": True, "script": "print(1)", "spec": {"algo": "dqn"}, "manifest": None})
    assert view.state == "ok" and view.status == "Script ready: edit it if you like, then press Run script."
    assert view.script == "print(1)" and view.spec == {"algo": "dqn"}


def test_a_failure_shows_its_sentence_and_the_log_tail():
    view = JobView()
    view.apply("done", {"ok": False, "error": "Env 'Nope-v0' is not registered; accepted: CartPole-v1.",
                        "log_tail": "Traceback (most recent call last):\nValueError: nope"})
    assert view.state == "error"
    assert view.status == "Env 'Nope-v0' is not registered; accepted: CartPole-v1."
    assert "ValueError: nope" in view.log_text


def test_log_keeps_the_last_lines_only():
    view = JobView()
    for i in range(1000):
        view.add_line(f"line {i}")
    assert len(view.log) == 400 and view.log[-1] == "line 999"


def test_drive_streams_events_then_concludes_with_the_result(tmp_path: Path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()

    class Result:
        def __init__(self):
            self.ok, self.error, self.run_dir = True, None, run_dir

        def to_json(self):
            return {"ok": True, "error": None, "manifest": {"eval": {"return_mean": 10.0}}}

    def work(emit):
        emit("status", {"text": "running"})
        for step in (1, 2, 3):
            emit("progress", {"step": step, "total": 3})
            time.sleep(0.05)
        emit("done", Result().to_json())
        return Result()

    views = list(drive(work, JobView(), threading.Event(), every_s=0.01))
    final = views[-1]
    assert final.state == "ok" and final.run_dir == str(run_dir)
    assert final.status == "Finished: final evaluation return 10.0."


def test_drive_turns_an_exception_into_one_sentence():
    def work(emit):
        raise ValueError("The request is empty; describe a training job")

    final = list(drive(work, JobView(), threading.Event(), every_s=0.01))[-1]
    assert final.state == "error" and final.status == "The request is empty; describe a training job."


def test_closing_the_stream_early_cancels_the_job():
    cancel = threading.Event()
    stopped = threading.Event()

    def work(emit):
        while not cancel.is_set():
            emit("log", {"line": "tick"})
            time.sleep(0.01)
        stopped.set()
        return {"ok": False, "error": "The run was cancelled."}

    stream = drive(work, JobView(), cancel, every_s=0.01)
    next(stream)
    stream.close()
    assert cancel.is_set() and stopped.wait(5)


def test_cancelled_job_says_so():
    cancel = threading.Event()

    def work(emit):
        cancel.set()
        return {"ok": False, "error": "The run was stopped after 3 s."}

    final = list(drive(work, JobView(), cancel, every_s=0.01))[-1]
    assert final.status == "Cancelled: The run was stopped after 3 s."


def test_result_dict_and_new_run_dir(tmp_path: Path):
    data = result_dict({"ok": True, "run_dir": tmp_path})
    assert data["run_dir"] == str(tmp_path)
    first = new_run_dir(tmp_path, "Train PPO")
    first.mkdir()
    second = new_run_dir(tmp_path, "Train PPO")
    assert first.name.endswith("-train-ppo") and second.name == first.name + "-2"


def _next_from_new_thread(it):
    out = []
    t = threading.Thread(target=lambda: out.append(next(it, "END")))
    t.start()
    t.join(10)
    return out[0]


def test_pump_keeps_a_stream_that_holds_a_thread_owned_lock_in_one_thread():
    lock = threading.RLock()  # released by another thread it would raise RuntimeError
    threads: list[int] = []

    def stream():
        with lock:
            for i in range(4):
                threads.append(threading.get_ident())
                yield i

    it = pump(stream, threading.Event())
    got = [_next_from_new_thread(it) for _ in range(5)]  # each step from a different thread
    assert got == [0, 1, 2, 3, "END"]
    assert len(set(threads)) == 1
    assert lock.acquire(timeout=1)  # released: nothing left holding it
    lock.release()


def test_pump_stop_closes_the_stream_in_its_thread():
    stop = threading.Event()
    closed: list[int] = []

    def stream():
        try:
            for i in range(1000):
                yield i
                time.sleep(0.01)
        finally:
            closed.append(threading.get_ident())

    got = []
    for item in pump(stream, stop):
        got.append(item)
        if item == 2:
            stop.set()
    assert got[:3] == [0, 1, 2] and len(got) <= 4
    assert closed and closed[0] != threading.get_ident()


def test_pump_reraises_the_stream_error():
    def stream():
        yield 1
        raise ValueError("The index is missing.")

    it = pump(stream, threading.Event())
    assert next(it) == 1
    try:
        next(it)
    except ValueError as exc:
        assert str(exc) == "The index is missing."
    else:
        raise AssertionError("the error was swallowed")
