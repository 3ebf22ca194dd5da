"""The sandbox runs scripts in a limited child process and reports honestly."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from copilot.codegen.checks import check_spec
from copilot.codegen.render import render
from copilot.codegen.sandbox import child_env, last_error_line, parse_progress, run_script
from copilot.codegen.spec import RunSpec
from copilot.codegen.validate import find_problems


def _script(tmp_path, source: str, name: str = "train.py"):
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(source)
    return path


def test_tiny_spec_renders_validates_and_runs(tmp_path):
    spec = check_spec(RunSpec("ppo", "CartPole-v1", 256, num_envs=2, eval_episodes=2))
    source = render(spec, "tiny smoke run")
    assert find_problems(source) == []
    lines: list[str] = []
    result = run_script(_script(tmp_path, source), budget_s=240, on_output=lines.append)
    assert result.ok, (result.error, result.log_tail)
    run_dir = result.run_dir
    manifest = json.loads((run_dir / "run.json").read_text())
    assert result.manifest == manifest
    assert manifest["algo"] == "ppo" and manifest["env"] == "CartPole-v1" and manifest["total_steps"] >= 256
    assert manifest["eval"]["episodes"] == 2 and isinstance(manifest["eval"]["return_mean"], float)
    assert (run_dir / "episodes.csv").read_text().startswith("step,return,length")
    assert result.curve_png and (run_dir / "curve.png").stat().st_size > 1000
    assert any(line.startswith("eval return") for line in lines)
    assert "audit hook" in result.isolation and "rlimits" in result.isolation


def test_infinite_loop_is_killed_at_the_wall_limit(tmp_path):
    t0 = time.monotonic()
    result = run_script(_script(tmp_path, "while True:\n    pass\n"), budget_s=3)
    assert not result.ok and result.timed_out
    assert "wall-time limit of 3 s" in result.error
    assert time.monotonic() - t0 < 20


def test_memory_hog_is_stopped_at_the_memory_limit(tmp_path):
    source = "chunks = []\nwhile True:\n    chunks.append(bytearray(20_000_000))\n"
    result = run_script(_script(tmp_path, source), budget_s=60, memory_mb=400)
    assert not result.ok and not result.timed_out
    assert result.error == "The script ran out of its memory limit of 400 MB and was stopped."


def test_sleeping_script_is_stopped_by_wall_time_not_cpu_time(tmp_path):
    result = run_script(_script(tmp_path, "import time\ntime.sleep(60)\n"), budget_s=2)
    assert result.timed_out and result.returncode is not None


@pytest.mark.parametrize("source,fragment", [
    ("import socket\ns = socket.socket()\ns.connect(('203.0.113.1', 80))\n", "network access"),
    ("open('/usr/escaped-by-codegen-test.txt', 'w').write('x')\n", "outside the run folder"),
    ("import os\nos.remove('/usr/anything-at-all')\n", "outside the run folder"),
])
def test_runtime_layer_refuses_what_validation_would(tmp_path, source, fragment):
    result = run_script(_script(tmp_path, source), budget_s=60, validate=False)
    assert not result.ok and fragment in result.error, (result.error, result.log_tail)
    assert result.error.startswith("The script failed with PermissionError: sandbox:")
    assert not os.path.exists("/usr/escaped-by-codegen-test.txt")


def test_processes_start_inside_the_sandbox(tmp_path):
    source = ("import json, subprocess\nout = subprocess.run(['id', '-u'], capture_output=True, text=True).stdout\n"
              "json.dump({'uid': out.strip()}, open('run.json', 'w'))\n")
    result = run_script(_script(tmp_path, source), budget_s=60, validate=False)
    assert result.ok, (result.error, result.log_tail)
    assert int(result.manifest["uid"]) >= 65534


def test_validation_refuses_before_running(tmp_path):
    result = run_script(_script(tmp_path, "import socket\n"), budget_s=30)
    assert not result.ok and result.returncode is None and "importing 'socket'" in result.error


def test_cancel_stops_the_run(tmp_path):
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    result = run_script(_script(tmp_path, "while True:\n    pass\n"), budget_s=60, cancel=cancel)
    assert result.cancelled and result.error == "The run was cancelled."


def test_no_fresh_run_json_is_not_success(tmp_path):
    path = _script(tmp_path, "print('hello')\n")
    stale = path.parent / "run.json"
    stale.write_text(json.dumps({"algo": "ppo"}))
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    lines: list[str] = []
    result = run_script(path, budget_s=60, on_output=lines.append)
    assert lines == ["hello"]
    assert not result.ok and result.manifest is None
    assert "without writing run.json" in result.error


def test_script_errors_are_one_sentence(tmp_path):
    result = run_script(_script(tmp_path, "def f():\n    raise ValueError('bad value 3')\nf()\n"), budget_s=60)
    assert result.error == "The script failed with ValueError: bad value 3."


def test_environment_is_scrubbed(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGEN_TEST_SECRET", "hunter2")
    source = "import json, os\nopen('env.json', 'w').write(json.dumps(dict(os.environ)))\n"
    path = _script(tmp_path, source)
    run_script(path, budget_s=60)
    env = json.loads((path.parent / "env.json").read_text())
    assert "CODEGEN_TEST_SECRET" not in env
    assert env["HOME"] == str(path.parent) and env["RLCORE_THREADS"] == "1" and env["HF_HUB_OFFLINE"] == "1"
    assert set(env) >= set(child_env(path.parent)) - {"PYTHONPATH"}


def test_output_out_folder_gets_a_copy(tmp_path):
    path = _script(tmp_path, "print('copied')\n")
    result = run_script(path, budget_s=60, out=tmp_path / "elsewhere")
    assert result.script_path == tmp_path / "elsewhere" / "train.py" and result.script_path.is_file()


def test_helpers():
    assert parse_progress("ppo CartPole-v1:  41%|####  | 10240/25000 [00:03<00:04]") == (10240, 25000)
    assert parse_progress("eval return 1.0") is None
    assert last_error_line("Traceback...\n  File x\nrlcore.errors.RLCoreError: Unknown env.\n") == \
        "RLCoreError: Unknown env."
