"""Bootstrap run inside the bubblewrap sandbox: limits, audit hook, then the script as ``__main__``.

Usage (by :mod:`copilot.codegen.sandbox` only, always inside ``bwrap``)::

    python -I -u sandbox_boot.py SETTINGS_JSON PROJECT_ROOT SCRIPT [WRITABLE_DIR ...]

``SETTINGS_JSON`` holds ``limits`` (rlimit name -> value) and ``uid``: when set (the
product runs as root), the bootstrap switches to that uid and gid, with no supplementary
groups, before the script runs; bwrap gave it only the capabilities to do so, and the
switch clears them.

This file is executed by path in the sandboxed child; the product never imports it. It uses
only the standard library so it works before anything else is importable.

The OS sandbox is the wall. The limits set here (CPU time, file size, process count, no
core dumps) are inherited by every process the script starts. The audit hook only turns
the commonest mistakes into early, readable errors: writes outside the run folder and the
private ``/tmp`` and ``/dev/shm``, and connections to non-loopback hosts. Starting
processes, signalling them and loopback or Unix sockets are allowed (a local Ray cluster
needs all three); the sandbox's PID namespace and process limit bound them.
"""

import json
import os
import runpy
import socket
import sys

try:
    import resource
except ImportError:  # not Linux: the sandbox refuses to start before this file runs
    resource = None

BLOCKED_EVENTS = {"urllib.Request": "network access", "webbrowser.open": "opening a browser"}
SOCKET_EVENTS = ("socket.connect", "socket.sendto", "socket.sendmsg")
PATH_EVENTS = {"os.remove": 1, "os.rmdir": 1, "os.rename": 2, "os.mkdir": 1, "shutil.rmtree": 1,
               "os.chmod": 1, "os.chown": 1, "os.truncate": 1, "os.link": 2, "os.symlink": 2, "os.utime": 1}
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost", "0:0:0:0:0:0:0:1", "0.0.0.0", "::", "")
PRIVATE_DIRS = ("/tmp", "/dev/shm")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def apply_limits(limits):
    """Lower this process's resource limits (inherited by anything it could start)."""
    if resource is None:
        return
    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is None or value is None:
            continue
        soft = int(value)
        hard = soft + 5 if name == "RLIMIT_CPU" else soft
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))


def drop_privileges(uid):
    """Become ``uid``/``uid`` with no groups (real, effective and saved ids), or stop."""
    if uid is None:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid) or os.getgroups():
        raise SystemExit("sandbox: could not switch to the unprivileged user")


def make_hook(roots):
    roots = [os.path.realpath(r) for r in (*roots, *PRIVATE_DIRS)]
    local = LOCAL_HOSTS + (socket.gethostname(),)

    def inside(path):
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real == os.devnull or any(real == r or real.startswith(r + os.sep) for r in roots)

    def refuse(what):
        raise PermissionError(f"sandbox: {what} is not allowed in a training script")

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITE_FLAGS)
            if writing and not inside(path):
                refuse(f"writing {os.fsdecode(path)!r} outside the run folder")
        elif event in PATH_EVENTS:
            for path in args[:PATH_EVENTS[event]]:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path):
                    refuse(f"{event} on {os.fsdecode(path)!r} outside the run folder")
        elif event in BLOCKED_EVENTS:
            refuse(BLOCKED_EVENTS[event])
        elif event in SOCKET_EVENTS:
            address = args[1] if len(args) > 1 else None
            if isinstance(address, tuple) and address and address[0] not in local:
                refuse(f"network access ({event} to {address!r})")
        elif event == "socket.getaddrinfo" and args and args[0] not in local + (None, b"localhost"):
            refuse(f"network access (looking up {args[0]!r})")

    return hook


def main(argv):
    settings, root, script, writable = json.loads(argv[1]), argv[2], argv[3], argv[4:]
    sys.dont_write_bytecode = True
    apply_limits(settings["limits"])
    drop_privileges(settings.get("uid"))
    if root not in sys.path:
        sys.path.append(root)
    sys.addaudithook(make_hook([os.path.dirname(os.path.abspath(script)), *writable]))
    sys.argv = [script]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv)
