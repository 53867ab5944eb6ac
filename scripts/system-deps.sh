#!/usr/bin/env bash
# System packages some tests drive: tmux (the console in a real terminal), Chromium (flame graphs
# rendered in a real browser), the telnet and netcat (OpenBSD) clients (the agent's shell), and Redis's server
# and redis-cli (the fleet: single instance, ACL user, a 3-master cluster). Installed with apt when missing and when we may (root).
set -uo pipefail
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v telnet >/dev/null 2>&1 || missing+=(telnet)
command -v nc >/dev/null 2>&1 || missing+=(netcat-openbsd)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${missing[*]}"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "missing system packages (tests needing them will fail): ${missing[*]}" >&2
    fi
fi
exit 0
