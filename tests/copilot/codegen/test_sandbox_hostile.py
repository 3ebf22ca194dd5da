"""Hostile scripts against the real bubblewrap sandbox: every probe must fail to escape.

The static validator is bypassed (``validate=False``) so the OS layers themselves are
tested. One script runs many file-system, native-code and /proc probes (it imports torch
and numpy once) and reports each outcome in ``probes.json``; the host side is checked
independently (no file appeared outside, no secret came back).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from copilot.codegen.sandbox import run_script

TOKEN = uuid.uuid4().hex  # in file names
SECRET = uuid.uuid4().hex  # in file contents and the parent's environment only
PROBES = r'''
import json, os, stat, sys
import numpy, torch

results = {}

def probe(name, fn):
    try:
        results[name] = "ESCAPED: " + repr(fn())[:300]
    except BaseException as exc:  # noqa: BLE001 - every failure is the wanted outcome
        results[name] = "blocked: " + type(exc).__name__ + ": " + str(exc)[:200]

cfg = json.load(open("probe_args.json"))
OUT, SECRETS, SHM_NAME = cfg["out"], cfg["secrets"], cfg["shm"]
libc = torch.ctypes.CDLL(None)
RLCORE = os.path.join(os.environ["PYTHONPATH"], "rlcore")

def sees(folder, name):
    items = os.listdir(folder)
    if name not in items:
        raise FileNotFoundError(f"{name} is not in the sandbox's view of {folder} ({len(items)} entries)")
    return items

def shell(lib, cmd):
    code = lib.system(cmd.encode())
    if code != 0:
        raise OSError(f"shell status {code}")
    return "shell ran"

probe("torch_ctypes_shell_outside", lambda: shell(libc, f"id > {OUT}/torch_ctypes"))
probe("numpy_ctypes_shell_outside", lambda: shell(numpy.ctypeslib.ctypes.CDLL(None), f"touch {OUT}/numpy_ctypes"))
probe("shell_writes_home", lambda: shell(libc, f"touch {SECRETS[1]}-written"))
import subprocess
probe("subprocess_shell_outside", lambda: subprocess.run(["/bin/sh", "-c", f"touch {OUT}/sh"], check=True))
probe("posixsubprocess_fork_exec", lambda: subprocess.run(["/bin/sh", "-c", f"echo x > {RLCORE}/sh_probe"],
                                                          check=True))
probe("dir_fd_write", lambda: os.open("dir_fd", os.O_CREAT | os.O_WRONLY, dir_fd=os.open(OUT, os.O_RDONLY)))
probe("from_file_shared", lambda: torch.from_file(f"{OUT}/from_file", shared=True, size=16))
probe("mknod_outside", lambda: os.mknod(f"{OUT}/fifo", stat.S_IFIFO | 0o600))
probe("mknod_device", lambda: os.mknod("mem", stat.S_IFCHR | 0o600, os.makedev(1, 1)))
probe("hard_link_interpreter", lambda: os.link(os.path.realpath(sys.executable), "python_link"))
probe("hard_link_torch", lambda: os.link(os.path.join(os.path.dirname(torch.__file__), "version.py"), "v_link"))
probe("native_write_rlcore", lambda: shell(libc, f"touch {RLCORE}/probe_written"))
probe("native_write_venv", lambda: shell(libc, f"touch {sys.prefix}/probe_written"))
probe("native_hard_link", lambda: shell(libc, f"ln {os.path.realpath(sys.executable)} python_hardlink"))
probe("native_link_call", lambda: libc.link(b"/usr/bin/env", b"env_link") == 0 or
      (_ for _ in ()).throw(OSError("link failed")))
probe("write_rlcore", lambda: open(os.path.join(os.environ["PYTHONPATH"], "rlcore", "__init__.py"), "a"))
probe("write_venv", lambda: open(os.path.join(sys.prefix, "probe"), "w"))
probe("write_usr", lambda: open("/usr/probe", "w"))
for i, path in enumerate(SECRETS):
    probe(f"read_secret_{i}", lambda path=path: open(path).read())
    probe(f"read_secret_{i}_via_proc_root", lambda path=path: open("/proc/self/root" + path).read())
    probe(f"read_secret_{i}_via_pid1_root", lambda path=path: open("/proc/1/root" + path).read())
    probe(f"list_secret_dir_{i}", lambda path=path: sees(os.path.dirname(path), os.path.basename(path)))
probe("read_pid1_environ", lambda: open("/proc/1/environ", "rb").read())
probe("read_shm_of_host", lambda: open("/dev/shm/" + SHM_NAME).read())
probe("list_other_runs", lambda: sees(os.path.dirname(os.getcwd()), "other-run"))
probe("setuid_root", lambda: os.setuid(0))
probe("chroot", lambda: os.chroot("/tmp"))
probe("mount_via_ctypes", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0 or
      (_ for _ in ()).throw(OSError("mount failed")))
with open("/dev/shm/" + SHM_NAME + "-inside", "w") as fh:
    fh.write("inside")
env_seen = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            env_seen.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
        except OSError:
            pass
status = {k: v.strip() for k, v in (line.split(":", 1) for line in open("/proc/self/status"))}
facts = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
         "cap_eff": status["CapEff"], "cap_prm": status["CapPrm"], "no_new_privs": status["NoNewPrivs"],
         "pids_visible": sum(p.isdigit() for p in os.listdir("/proc")), "environs": env_seen,
         "root_entries": sorted(os.listdir("/")),
         "fds": {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                 if os.path.exists(f"/proc/self/fd/{fd}")}}
json.dump({"results": results, "facts": facts}, open("probes.json", "w"))
json.dump({}, open("run.json", "w"))
'''


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """Runs the probe script once; yields (results, facts, host paths)."""
    base = tmp_path_factory.mktemp("hostile")
    out = base / "outside"
    out.mkdir()
    other = base / "other-run"
    other.mkdir()
    (other / "run.json").write_text(f"other run {SECRET}")
    cache = Path.home() / ".cache" / "rl-copilot"
    cache.mkdir(parents=True, exist_ok=True)
    secrets = [cache / f"probe-secret-{TOKEN}", Path.home() / f".probe-secret-{TOKEN}", other / "run.json"]
    shm = Path("/dev/shm") / f"probe-{TOKEN}"
    for path in secrets[:2] + [shm]:
        path.write_text(f"secret {SECRET}")
    written = Path(f"{secrets[1]}-written")
    run = base / "run"
    run.mkdir()
    (run / "probe_args.json").write_text(json.dumps({"out": str(out), "secrets": [str(s) for s in secrets],
                                                     "shm": shm.name}))
    (run / "probe.py").write_text(PROBES)
    os.environ["SANDBOX_PROBE_SECRET"] = SECRET
    try:
        result = run_script(run / "probe.py", budget_s=180, validate=False)
    finally:
        del os.environ["SANDBOX_PROBE_SECRET"]
        escaped_home = written.exists()
        for path in secrets[:2] + [shm, written]:
            path.unlink(missing_ok=True)
    assert not escaped_home
    assert result.ok, (result.error, result.log_tail)
    data = json.loads((run / "probes.json").read_text())
    yield data["results"], data["facts"], {"out": out, "run": run, "shm": shm, "log": result.log_tail}


def test_no_probe_escaped(probed):
    results, _, _ = probed
    escaped = {name: outcome for name, outcome in results.items() if not outcome.startswith("blocked")}
    assert not escaped
    assert len(results) >= 30


def test_native_code_wrote_nothing_outside(probed):
    _, _, host = probed
    assert list(host["out"].iterdir()) == []
    project = Path(__file__).resolve().parents[3]
    assert not (project / "rlcore" / "probe_written").exists() and not (project / "rlcore" / "sh_probe").exists()
    assert not (host["run"] / "python_hardlink").exists() and not (host["run"] / "env_link").exists()
    assert not (host["run"] / "mem").exists()
    assert not Path(f"{host['shm']}-inside").exists()


def test_secrets_never_reach_the_run(probed):
    results, facts, host = probed
    assert SECRET not in json.dumps(facts) and SECRET not in host["log"]
    assert all(SECRET not in outcome for outcome in results.values())
    assert all("SANDBOX_PROBE_SECRET" not in env for env in facts["environs"])


def test_runs_unprivileged_in_a_small_world(probed):
    _, facts, _ = probed
    uid = facts["uid"]
    assert uid == facts["euid"] == facts["gid"] and uid >= 65534 and facts["groups"] in ([], [uid])
    assert int(facts["cap_eff"], 16) == 0 and int(facts["cap_prm"], 16) == 0 and facts["no_new_privs"] == "1"
    assert facts["pids_visible"] < 10
    inherited = {fd: target for fd, target in facts["fds"].items() if int(fd) > 2}
    assert all(not target.startswith("/") or target.startswith("/proc/") for target in inherited.values()), inherited


def test_run_result_records_the_isolation(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.py").write_text("import json\njson.dump({}, open('run.json', 'w'))\n")
    result = run_script(run / "train.py", budget_s=60)
    assert result.ok, (result.error, result.log_tail)
    text = " ".join(result.isolation)
    for word in ("bubblewrap", "pid namespace", "network namespace", "private mount view", "uid ",
                 "processes/threads", "memory watchdog", "disk watchdog"):
        assert word in text
