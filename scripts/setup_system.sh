#!/usr/bin/env bash
# Bubblewrap, the OS sandbox every training script runs in (Debian's `bubblewrap` package).
# Without a working bwrap the product refuses to run scripts; everything else still works.
set -euo pipefail
if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing Debian's bubblewrap (the script sandbox)..."
        (apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
            (apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null)) \
            || echo "warning: could not install bubblewrap; scripts will not run until it is installed" >&2
    else
        echo "note: bubblewrap is not installed; scripts will not run until it is (as root: apt-get install bubblewrap)" >&2
        exit 0
    fi
fi
# The sandbox needs new PID and network namespaces (and a user namespace when not root).
if [ "$(id -u)" -eq 0 ]; then ns=""; else ns="--unshare-user"; fi
if ! bwrap $ns --unshare-pid --unshare-net --ro-bind / / --proc /proc true 2>/dev/null; then
    echo "warning: bwrap is installed but cannot create namespaces here; scripts will not run" >&2
fi
