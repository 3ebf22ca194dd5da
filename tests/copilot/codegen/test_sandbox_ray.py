"""A local Ray cluster starts and runs tasks inside the sandbox, within its process limit."""

from __future__ import annotations

import pytest

from copilot.codegen.sandbox import DEFAULT_TASKS, run_script

pytest.importorskip("ray")

SCRIPT = '''
import json, os
import ray

ray.init(num_cpus=2, include_dashboard=False)


@ray.remote
def square(x):
    return x * x, os.getuid()


results = ray.get([square.remote(i) for i in range(4)])
tasks = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        tasks += len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        pass
ray.shutdown()
json.dump({"squares": [r[0] for r in results], "uids": sorted({r[1] for r in results}), "tasks": tasks,
           "my_uid": os.getuid()}, open("run.json", "w"))
'''


@pytest.mark.slow
def test_ray_runs_inside_the_sandbox(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.py").write_text(SCRIPT)
    result = run_script(run / "train.py", budget_s=240, validate=False)
    assert result.ok, (result.error, result.log_tail)
    assert result.manifest["squares"] == [0, 1, 4, 9]
    assert result.manifest["uids"] == [result.manifest["my_uid"]] and result.manifest["my_uid"] != 0
    assert result.manifest["tasks"] < DEFAULT_TASKS
