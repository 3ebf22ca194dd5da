"""A seccomp filter for the sandbox: no new user namespaces inside it.

A user namespace made inside the sandbox would give the script every capability in it,
and with them kernel interfaces (nf_tables, mounts of some filesystems, ...) that are
otherwise out of reach. The filter is classic BPF, handed to bwrap (``--seccomp FD``),
which installs it, with ``no_new_privs``, just before it starts the bootstrap; every
process of the run inherits it.

* ``unshare`` and ``clone`` with ``CLONE_NEWUSER`` in their flags fail with ``EPERM``;
* ``clone3`` fails with ``ENOSYS`` (its flags sit in memory a filter cannot read; the C
  library then falls back to ``clone``, which is checked);
* on x86-64, the x32 system-call ABI is refused; a foreign architecture is killed.

Only x86-64 and aarch64 are known; elsewhere :func:`program` returns None and the run says
so in its isolation list.
"""

from __future__ import annotations

import os
import platform
import struct

CLONE_NEWUSER = 0x10000000
EPERM, ENOSYS = 1, 38
# name -> (AUDIT_ARCH value, unshare, clone, clone3)
ARCHES = {"x86_64": (0xC000003E, 272, 56, 435), "aarch64": (0xC00000B7, 97, 220, 435)}
X32_BIT = 0x40000000

# classic BPF opcodes
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_KILL, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low half on little-endian)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter as bytes (an array of ``struct sock_filter``), or None for an unknown machine."""
    arch = ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit, unshare, clone, clone3 = arch
    ops = [
        _op(LD_W_ABS, ARCH),               # 0
        _op(JEQ_K, audit, 1, 0),           # 1: the expected architecture -> 3
        _op(RET_K, RET_KILL),              # 2
        _op(LD_W_ABS, NR),                 # 3
        _op(JGE_K, X32_BIT, 7, 0),         # 4: x32 system calls -> 12
        _op(JEQ_K, clone3, 4, 0),          # 5: clone3 -> 10
        _op(JEQ_K, unshare, 1, 0),         # 6: unshare -> 8
        _op(JEQ_K, clone, 0, 3),           # 7: clone -> 8, anything else -> 11
        _op(LD_W_ABS, ARG0),               # 8: the flags
        _op(JSET_K, CLONE_NEWUSER, 2, 1),  # 9: a new user namespace -> 12, else -> 11
        _op(RET_K, RET_ERRNO | ENOSYS),    # 10
        _op(RET_K, RET_ALLOW),             # 11
        _op(RET_K, RET_ERRNO | EPERM),     # 12
    ]
    return b"".join(ops)


def filter_fd() -> int | None:
    """A pipe's read end holding the filter, for ``bwrap --seccomp`` (None: no filter here)."""
    code = program()
    if code is None:
        return None
    read, write = os.pipe()
    os.write(write, code)
    os.close(write)
    return read
