#!/usr/bin/env bash
# System packages some tests drive: tmux (the console in a real terminal) and Chromium (flame graphs
# rendered in a real browser). Installed with apt when missing and when we may (root).
set -uo pipefail
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${missing[*]}"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "missing system packages (tests needing them will fail): ${missing[*]}" >&2
    fi
fi
exit 0
