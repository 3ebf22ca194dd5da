#!/usr/bin/env bash
# Headless Chromium for the browser tests (Debian's package; Playwright drives it).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    (apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null 2>&1 || \
        (apt-get update -qq >/dev/null && apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null)) \
        || echo "warning: could not install chromium; browser tests will be skipped" >&2
else
    echo "note: chromium is not installed; browser tests will be skipped (apt-get install chromium)" >&2
fi
