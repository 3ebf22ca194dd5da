"""Validation is static: nothing a script names is imported or built in the product's process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from copilot.codegen.validate import find_problems
from copilot.codegen.validate_calls import find_module, static_names

NAMED = ["this", "probe_planted_env", "matplotlib.pyplot", "gymnasium.envs.box2d", "tqdm.auto", "rlcore.experiment"]
SCRIPT = """
import matplotlib.pyplot as plt
import gymnasium.envs.box2d
from tqdm.auto import tqdm
import rlcore
from rlcore import make_agent, make_env
env = make_env("this:CartPole-v1")
agent = make_agent("ppo", "probe_planted_env:CartPole-v1")
other = make_env("no_such_module_anywhere:CartPole-v1")
rlcore.experiment
"""


def test_nothing_named_is_imported_in_a_fresh_process(tmp_path):
    marker = tmp_path / "imported.txt"
    (tmp_path / "probe_planted_env.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\n")
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from copilot.codegen.validate import find_problems
        before = set(sys.modules)
        problems = [str(p) for p in find_problems({SCRIPT!r})]
        new = sorted(set(sys.modules) - before)
        print(json.dumps({{"problems": problems, "new": new}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Beautiful is better than ugly" not in done.stdout  # the Zen of Python, printed by `import this`
    assert not marker.exists()
    imported = [m for m in report["new"] if any(m == n or m.startswith(n + ".") for n in NAMED)]
    assert imported == []
    assert any("'no_such_module_anywhere'" in p and "cannot be found" in p for p in report["problems"])
    assert not any("this:" in p or "probe_planted_env" in p for p in report["problems"]), report["problems"]


def test_missing_modules_are_found_statically():
    assert find_module("json") is not None and find_module("os.path") is not None
    assert find_module("no_such_module_anywhere") is None
    assert find_module("json.no_such_submodule") is None
    assert find_module("math.anything") is None  # not a package


def test_unloaded_module_names_are_read_from_source(tmp_path):
    module = tmp_path / "probe_source_only.py"
    module.write_text("import os as _os\nA = 1\ndef f():\n    pass\nclass K:\n    pass\nopen('x', 'w')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        spec = find_module("probe_source_only")
        assert spec is not None and "probe_source_only" not in sys.modules
        assert {"A", "f", "K", "_os"} <= static_names(spec)
    finally:
        sys.path.remove(str(tmp_path))


def test_env_ids_are_checked_without_building_foreign_entry_points():
    assert find_problems("import rlcore\nrlcore.make_env('CartPole-v1')\n") == []
    found = find_problems("import rlcore\nrlcore.make_env('no_such_module_anywhere:X-v0')\n")
    assert found and "cannot be found" in found[0].message
