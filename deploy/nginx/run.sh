#!/bin/sh
# The load balancer's command: nginx, reloaded whenever the set of addresses that Docker's DNS
# returns for the API service changes. nginx resolves upstream names only when it loads its
# configuration (open-source nginx 1.27.3+ can re-resolve by itself: `server api:8000 resolve`).
set -u
upstream=${LB_UPSTREAM:-api}
every=${LB_RESOLVE_EVERY:-3}

replicas() { getent ahostsv4 "$upstream" | awk '{ print $1 }' | sort -u | tr '\n' ' '; }
say() { printf '{"logger":"nginx-run","message":"%s"}\n' "$*"; }

nginx -g 'daemon off;' &
nginx_pid=$!
trap 'kill -QUIT "$nginx_pid" 2>/dev/null' TERM INT QUIT
known=$(replicas)
say "started; $upstream replicas: $known"
while kill -0 "$nginx_pid" 2>/dev/null; do
    sleep "$every" &
    wait $!
    now=$(replicas)
    if [ -n "$now" ] && [ "$now" != "$known" ]; then
        if nginx -s reload; then
            say "$upstream replicas: $now(were: $known); nginx reloaded"
            known=$now
        fi
    fi
done
wait "$nginx_pid"
