"""Rendered scripts pass validation; forbidden or wrong scripts are refused with a reason."""

from __future__ import annotations

import ast

import pytest

from copilot.codegen import catalog
from copilot.codegen.checks import check_spec
from copilot.codegen.render import literal, render
from copilot.codegen.spec import RunSpec
from copilot.codegen.validate import ScriptError, find_problems, outside, validate_script

ENV_FOR = {"Discrete": "CartPole-v1", "Box": "Pendulum-v1"}


@pytest.mark.parametrize("algo", catalog.algos())
def test_rendered_script_for_every_agent_validates(algo):
    env = ENV_FOR[[n for n in catalog.space_names(algo) if n in ENV_FOR][-1]]
    info = catalog.config_info(algo)
    config = {name: f.default for name, f in list(info.items())[:3]}
    spec = check_spec(RunSpec(algo, env, 5000, seed=3, num_envs=2, config=config, eval_episodes=4,
                              checkpoint_every=2500))
    source = render(spec, "a request with \"quotes\" and\nnewlines 请")
    assert find_problems(source) == []
    tree = ast.parse(source)
    assert ast.get_docstring(tree).startswith(f"{algo.upper()} on {env}")
    for name in config:
        assert repr(name) in source
    assert "checkpoint_every=2500" in source and "seed=3" in source


def test_literals():
    assert literal(25000) == "25_000" and literal(64) == "64" and literal([64, 64]) == "(64, 64)"
    assert literal([32]) == "(32,)" and literal(True) == "True" and literal(1e-3) == "0.001"


def test_parts_are_rendered_as_make_agent_keywords():
    spec = check_spec(RunSpec("ppo", "CartPole-v1", 5000, parts={"encoder": "identity"}))
    assert "encoder='identity'," in render(spec)


def _problems(source: str) -> list[str]:
    return [p.message for p in find_problems(source)]


def test_socket_and_process_modules_are_refused():
    assert "importing 'socket' is not allowed" in _problems("import socket\n")[0]
    assert "importing 'subprocess' is not allowed" in _problems("from subprocess import run\n")[0]
    assert "importing 'urllib.request' is not allowed" in _problems("import urllib.request\n")[0]
    assert "not on the allow-list" in _problems("import email\n")[0]


def test_write_outside_the_run_folder_is_refused():
    assert "writes outside the run folder" in _problems("open('/etc/x', 'w')\n")[0]
    assert "writes outside the run folder" in _problems("open('../up.txt', mode='a')\n")[0]
    assert "outside the run folder" in _problems("from pathlib import Path\nPath('/tmp') .joinpath('x')\n"
                                                 "Path('/tmp/x').write_text('x')\n")[0]
    assert "outside the run folder" in _problems("import numpy as np\nnp.save('/tmp/a.npy', [1])\n")[0]
    assert _problems("open('notes.txt', 'w').write('fine')\nopen('/etc/hosts').read()\n") == []
    assert outside("/abs") and outside("a/../../b") and outside("~/x") and not outside("sub/dir.txt")


def test_unknown_rlcore_names_get_the_closest_valid_name():
    assert _problems("from rlcore import make_agnet\n")[0].startswith(
        "rlcore has no name 'make_agnet' (did you mean 'make_agent'")
    assert "did you mean 'get'" in _problems("import rlcore\nrlcore.registry.gett('agents', 'ppo')\n")[0]
    src = "from rlcore import make_agent\nagent = make_agent('ppo', 'CartPole-v1', {'learning_rate': 1e-3})\n"
    assert _problems(src)[0].startswith("ppo has no config field 'learning_rate'")
    src = "from rlcore import make_agent\nagent = make_agent('ppo', 'CartPole-v1', seeed=1)\nagent.trian(10)\n"
    found = _problems(src)
    assert any("no option 'seeed' (did you mean 'seed'?)" in p for p in found)
    assert any("no attribute 'trian' (did you mean 'train'?)" in p for p in found)
    assert "unknown algorithm 'ppoo' (did you mean 'ppo'" in _problems(  # closest first ('ppg' may follow)
        "from rlcore import make_agent\nmake_agent('ppoo', 'CartPole-v1')\n")[0]


def test_config_dict_bound_to_a_name_is_checked():
    src = ("from rlcore import make_agent\nCONFIG = {'gamma': 1.5, 'batchsize': 3, 'learning_rate': 1e-3}\n"
           "agent = make_agent('dqn', 'CartPole-v1', CONFIG)\nagent.train(100, outt='.')\n")
    found = _problems(src)
    assert any("'gamma' = 1.5: it must be at most 1" in p for p in found)
    assert any("no config field 'batchsize' (did you mean 'batch_size'" in p for p in found)
    assert any("no config field 'learning_rate' (did you mean 'lr'" in p for p in found)  # DQN's name for it
    assert any("train() has no option 'outt' (did you mean 'out'?)" in p for p in found)


def test_unknown_env_id_is_refused():
    found = _problems("from rlcore import make_agent\nmake_agent('ppo', 'CartPol-v1')\n")
    assert "'CartPol-v1' is not a registered Gymnasium environment (did you mean 'CartPole-v1'" in found[0]
    assert "not a registered" in _problems("import rlcore\nrlcore.make_env('Nope-v9')\n")[0]


def test_wrong_action_space_and_part_are_refused():
    found = _problems("from rlcore import make_agent\nmake_agent('dqn', 'Pendulum-v1', policy='q_network')\n")
    assert "DQN cannot act in Pendulum-v1" in found[0]
    found = _problems("from rlcore import make_agent\nmake_agent('sac', 'Pendulum-v1', policy='q_network')\n")
    assert "policy 'q_network' does not fit sac" in found[0]


@pytest.mark.parametrize("source,fragment", [
    ("eval('1')\n", "eval() is not allowed"),
    ("exec('x=1')\n", "exec() is not allowed"),
    ("__import__('os')\n", "__import__() is not allowed"),
    ("import os\nos.system('ls')\n", "os.system is not allowed"),
    ("from os import execv\n", "os.execv is not allowed"),
    ("import os\nos.fork()\n", "os.fork is not allowed"),
    ("x = ().__class__.__bases__\n", "attribute '__bases__' is not allowed"),
    ("getattr(object, '__subclasses__')\n", "computed or special attribute name"),
    ("import ctypes\n", "importing 'ctypes' is not allowed"),
    ("import shutil\nshutil.rmtree('.')\n", "importing 'shutil' is not allowed"),
    ("import torch.hub\n", "'torch.hub' is not allowed"),
    ("from . import x\n", "relative imports are not allowed"),
    ("def f(:\n", "syntax error"),
])
def test_forbidden_constructs(source, fragment):
    found = _problems(source)
    assert found and any(fragment in p for p in found), found


def test_validate_script_raises_one_sentence():
    with pytest.raises(ScriptError) as info:
        validate_script("import socket\nimport subprocess\n")
    message = str(info.value)
    assert message.startswith("The script was refused at line 1: importing 'socket'")
    assert message.endswith("(1 more problem(s)).") and len(info.value.problems) == 2
