#!/usr/bin/env bash
# Install the system programs the test suite starts for real: redis-server (tests/process), wrk
# (the serving benchmark and its test, tests/scripts/bench/test_bench_serve.py), nginx (the
# proxy compose puts in front of the API, tests/deploy/test_nginx.py) and chromium (the
# dashboard's browser tests, tests/browser: Playwright drives Debian's build; its own download
# cannot work). The tests start their own, on 127.0.0.1; on a machine with systemd, Debian also
# starts the packaged services after installing them (`systemctl disable --now nginx
# redis-server` if you do not want them).
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "install these first (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
    exit 1
fi
