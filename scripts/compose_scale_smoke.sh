#!/usr/bin/env bash
# Scale-out check on a machine with a Docker engine (CI does not run it): docker-compose.yml plus
# docker-compose.scale.yml with N API replicas behind nginx and M trainers, on an empty volume.
# Predicts through nginx and inside every replica, trains through nginx, sees every replica
# serve the new version, then kills a replica under traffic, brings it back, and removes all.
# Uses its own project name, host port and token, so a running nn-service stack is untouched.
#   bash scripts/compose_scale_smoke.sh [API_REPLICAS] [TRAINERS]       (default 3 2)
# SMOKE_PORT picks the host port (18010); SMOKE_COMPOSE_FILE adds compose files (a:b).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
    echo "compose_scale_smoke: no Docker engine answers 'docker info'; this check needs one" >&2
    exit 2
fi

apis="${1:-3}"
trainers="${2:-2}"
project="nns-scale-$$"
url="http://127.0.0.1:${SMOKE_PORT:-18010}"
# Settings from the shell reach every container (docker-compose.yml names each NNS_* setting).
export API_PORT="${SMOKE_PORT:-18010}"
NNS_ADMIN_TOKEN="smoke-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export NNS_ADMIN_TOKEN
export NNS_WORKERS="${NNS_WORKERS:-1}"  # several replicas share this machine's cores
files=(-f docker-compose.yml -f docker-compose.scale.yml)
name=compose_scale_smoke
# shellcheck source=scripts/compose_lib.sh
source scripts/compose_lib.sh

row='{"smoking": 0, "obesity": 1, "exercise": 0}'
# One request from inside a container, to that replica alone: "STATUS BODY".
inside() {
    docker exec "$1" python -c 'import sys, urllib.error, urllib.request as r
data = sys.argv[2].encode() if len(sys.argv) > 2 else None
req = r.Request("http://127.0.0.1:8000" + sys.argv[1], data, {"Content-Type": "application/json"})
try:
    resp = r.urlopen(req, timeout=5)
except urllib.error.HTTPError as err:
    resp = err
print(resp.status, resp.read().decode())' "${@:2}"
}
# N predictions through nginx, tagged with a request id prefix; prints their versions, counted.
through_lb() {
    for i in $(seq "$2"); do
        curl -fsS -H 'Content-Type: application/json' -H "X-Request-ID: $1-$i" -d "$row" \
            "$url/predict" | field version
    done | sort | uniq -c | awk '{ printf "%s%s x version %s", sep, $1, $2; sep = ", " }'
}
# The replicas (upstream addresses) that nginx sent the requests tagged `$1` to, counted.
upstreams() {
    compose logs --no-color --no-log-prefix lb | grep "\"request_id\":\"$1-" \
        | python3 -c 'import collections, json, sys
lines = [json.loads(line) for line in sys.stdin]
print(dict(collections.Counter(d["upstream"] for d in lines)))'
}
replicas() { compose ps -q "$1" | sort; }
name() { docker inspect -f '{{.Name}} ({{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}})' "$1" | cut -c2-; }

step "build and start: $apis API replicas, $trainers trainers, nginx on $url (project $project)"
compose up --build --wait --wait-timeout 300 --scale "api=$apis" --scale "trainer=$trainers"
mapfile -t api_ids < <(replicas api)
mapfile -t trainer_ids < <(replicas trainer)
[ "${#api_ids[@]}" = "$apis" ] || fail "${#api_ids[@]} API replicas, not $apis"
[ "${#trainer_ids[@]}" = "$trainers" ] || fail "${#trainer_ids[@]} trainers, not $trainers"
store="$(docker exec "${api_ids[0]}" sh -c 'echo "${NNS_MODEL_STORE:-$NNS_DATA_DIR/models}"')"
step "model store (NNS_MODEL_STORE): $store"
for id in "${trainer_ids[@]}"; do
    step "$(name "$id"): $(docker inspect -f '{{.State.Status}}, health {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")"
done

for id in "${api_ids[@]}"; do
    [ "$(docker exec "$id" id -u)" = 10001 ] || fail "$(name "$id") does not run as uid 10001"
    step "$(name "$id") /health/ready: $(inside "$id" /health/ready)"
done
step "predict x$((3 * apis)) through nginx, versions: $(through_lb before "$((3 * apis))")"
spread="$(upstreams before)"
step "nginx spread them over: $spread"
[ "$(python3 -c 'import ast, sys; print(len(ast.literal_eval(sys.argv[1])))' "$spread")" = "$apis" ] \
    || fail "nginx did not reach all $apis replicas"

job="$(curl -fsS -H "Authorization: Bearer $NNS_ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"model": "diabetes", "dataset": "diabetes", "hyperparameters": {"epochs": 300}, "promote": "always"}' \
    "$url/train")"
job_id="$(field job_id <<<"$job")"
step "POST /train through nginx: job $job_id queued"
for _ in $(seq 240); do
    state="$(curl -fsS "$url/train/jobs/$job_id")"
    status="$(field status <<<"$state")"
    case "$status" in
        succeeded) break ;;
        failed | cancelled) fail "training job $status: $state" ;;
    esac
    sleep 0.5
done
[ "$status" = succeeded ] || fail "training job still $status after 120 s"
version="$(field result.version <<<"$state")"
succeeded=$SECONDS
step "job succeeded: version $version"

for id in "${api_ids[@]}"; do
    for _ in $(seq 60); do
        answer="$(inside "$id" /predict "$row")"
        [ "$(field version <<<"${answer#* }")" = "$version" ] && break
        sleep 0.5
    done
    [ "$(field version <<<"${answer#* }")" = "$version" ] || fail "$(name "$id") serves: $answer"
    step "$(name "$id") POST /predict: $answer"
done
step "every replica served version $version within $((SECONDS - succeeded)) s of the job's success"
after="$(through_lb after "$((3 * apis))")"
step "predict x$((3 * apis)) through nginx, versions: $after (over $(upstreams after))"
[ "$after" = "$((3 * apis)) x version $version" ] || fail "not every answer through nginx is version $version"

victim="${api_ids[0]}"
victim_name="$(name "$victim")"
docker kill "$victim" >/dev/null
step "killed $victim_name; predict x$((6 * apis)) through nginx: $(through_lb killed "$((6 * apis))")"
step "nginx sent them to: $(upstreams killed)"
compose up --wait --wait-timeout 120 --no-recreate --scale "api=$apis" --scale "trainer=$trainers" \
    2>/dev/null
sleep 5  # nginx re-resolves the replicas every 3 s
step "$(name "$victim") back; predict x$((3 * apis)) through nginx: $(through_lb back "$((3 * apis))")"
spread="$(upstreams back)"
step "nginx spread them over: $spread"
[ "$(python3 -c 'import ast, sys; print(len(ast.literal_eval(sys.argv[1])))' "$spread")" = "$apis" ] \
    || fail "nginx did not reach all $apis replicas after the restart"

compose down -v --remove-orphans >/dev/null 2>&1
step "ok"
