"""The bwrap command line: what is bound, what is writable, which namespaces are new."""

from __future__ import annotations

from pathlib import Path

from copilot.codegen import sandbox_bwrap
from copilot.codegen.sandbox import BOOT, PROJECT_ROOT


def _binds(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, arg in enumerate(argv) if arg == option]


def _build(tmp_path: Path, read_only=()):
    run = tmp_path / "run"
    run.mkdir()
    launch = sandbox_bwrap.build(run, ["python", "x.py"], uid=1_500_000_123, project_root=PROJECT_ROOT, boot=BOOT,
                                 read_only=read_only, tmp_mb=64, shm_mb=32)
    launch.close()
    return run, launch.argv


def test_only_the_run_folder_is_writable(tmp_path):
    run, argv = _build(tmp_path)
    assert _binds(argv, "--bind") == [(str(run.resolve()), str(run.resolve()))]
    assert "--dev-bind" not in argv and "--bind-try" not in argv


def test_no_home_cache_index_or_checkout_is_bound(tmp_path):
    _, argv = _build(tmp_path)
    sources = [src for src, _ in _binds(argv, "--ro-bind")]
    home = Path.home().resolve()
    forbidden = [home, home / ".cache", home / ".cache" / "rl-copilot", PROJECT_ROOT, PROJECT_ROOT / "copilot",
                 PROJECT_ROOT / "corpus", Path("/etc"), Path("/")]
    for source in sources:
        for bad in forbidden:
            assert Path(source) != bad and not bad.is_relative_to(Path(source)) or source == "/usr", (source, bad)
    assert str((PROJECT_ROOT / "rlcore").resolve()) in sources
    assert (str(BOOT.resolve()), sandbox_bwrap.BOOT_PATH) in _binds(argv, "--ro-bind")


def test_extra_read_only_folders_are_bound_read_only(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _, argv = _build(tmp_path, read_only=(corpus,))
    assert (str(corpus.resolve()), str(corpus.resolve())) in _binds(argv, "--ro-bind")


def test_namespaces_and_process_handling(tmp_path):
    _, argv = _build(tmp_path)
    for option in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup",
                   "--die-with-parent", "--new-session", "--cap-drop"):
        assert option in argv
    assert argv[argv.index("--tmpfs", argv.index("--size")) + 1] == "/tmp"
    assert argv[argv.index("--size") + 1] == str(64 * 2**20)
    assert argv.index("--tmpfs") < argv.index("--bind")  # /tmp first, so a run folder under /tmp stays visible


def test_read_only_paths_are_outermost_first_and_not_nested(tmp_path):
    outer = tmp_path / "a"
    inner = outer / "b"
    inner.mkdir(parents=True)
    paths = sandbox_bwrap.read_only_paths(PROJECT_ROOT, (inner, outer))
    assert str(outer.resolve()) in paths and str(inner.resolve()) not in paths


def test_the_seccomp_filter_is_handed_to_bwrap(tmp_path):
    from copilot.codegen import sandbox_seccomp

    _, argv = _build(tmp_path)
    if sandbox_seccomp.program() is None:
        assert "--seccomp" not in argv
        return
    assert "--seccomp" in argv
    code = sandbox_seccomp.program("x86_64")
    assert len(code) == 13 * 8 and sandbox_seccomp.program("sparc") is None
