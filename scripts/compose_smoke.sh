#!/usr/bin/env bash
# Full check of the compose stack on a machine with a Docker engine (CI does not run it):
# build and start it on an empty volume, predict with the bootstrapped model through nginx, train
# a new version through the API and the trainer, see it served, check that 64 slow clients
# (scripts/slow_clients.py) do not stop predictions, then remove everything.
# Uses its own project name, host port and token, so a running nn-service stack is untouched.
#   bash scripts/compose_smoke.sh
# SMOKE_PORT picks the host port (18000); SMOKE_COMPOSE_FILE adds compose files (a:b).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
    echo "compose_smoke: no Docker engine answers 'docker info'; this check needs one" >&2
    exit 2
fi

project="nns-smoke-$$"
port="${SMOKE_PORT:-18000}"
url="http://127.0.0.1:${port}"
# From the shell to the containers: a shell variable wins over the same one in .env.
export API_PORT="$port"
NNS_ADMIN_TOKEN="smoke-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export NNS_ADMIN_TOKEN
token="$NNS_ADMIN_TOKEN"
files=(-f docker-compose.yml)
name=compose_smoke
# shellcheck source=scripts/compose_lib.sh
source scripts/compose_lib.sh

step "build and start (project $project, port $port)"
compose up --build --wait --wait-timeout 300

[ "$(compose exec -T api id -u)" = 10001 ] || fail "the API does not run as uid 10001"
[ "$(compose exec -T trainer printenv NNS_ADMIN_TOKEN)" = "$token" ] \
    || fail "the token set in the shell did not reach the trainer"

row='{"smoking": 0, "obesity": 1, "exercise": 0}'
predict() { curl -fsS -H 'Content-Type: application/json' -d "$row" "$url/predict"; }
first="$(predict)"
step "predict: $first"
[ "$(field version <<<"$first")" = 1 ] || fail "the bootstrapped default model is not version 1"

job="$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"model": "diabetes", "dataset": "diabetes", "hyperparameters": {"epochs": 300}, "promote": "always"}' \
    "$url/train")"
job_id="$(field job_id <<<"$job")"
step "training job $job_id queued"
for _ in $(seq 240); do
    state="$(curl -fsS -H "Authorization: Bearer $token" "$url/train/jobs/$job_id")"
    status="$(field status <<<"$state")"
    case "$status" in
        succeeded) break ;;
        failed | cancelled) fail "training job $status: $state" ;;
    esac
    sleep 0.5
done
[ "$status" = succeeded ] || fail "training job still $status after 120 s"
version="$(field result.version <<<"$state")"
step "job succeeded: version $version"

for _ in $(seq 60); do
    served="$(field version <<<"$(predict)")"
    [ "$served" = "$version" ] && break
    sleep 0.5
done
[ "$served" = "$version" ] || fail "API still serves version $served, not $version"
step "API serves version $version"

slow="$(python3 scripts/slow_clients.py "$url")" || fail "slow clients stopped predictions: $slow"
step "slow clients: $slow"

compose down -v --remove-orphans
step "ok"
