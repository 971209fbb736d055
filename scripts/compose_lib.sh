# Shared by compose_smoke.sh and compose_scale_smoke.sh (sourced, not run). Before sourcing, set
# `name` (for messages), `project` and `files` (the -f arguments); SMOKE_COMPOSE_FILE adds more
# compose files (colon-separated).
IFS=: read -ra extra <<<"${SMOKE_COMPOSE_FILE:-}"
for file in "${extra[@]}"; do files+=(-f "$file"); done
compose() { docker compose -p "$project" "${files[@]}" "$@"; }
cleanup() {
    status=$?
    if [ "$status" -ne 0 ]; then
        compose ps -a || true
        compose logs --no-color --tail 50 || true
    fi
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    exit "$status"
}
trap cleanup EXIT

field() { python3 -c 'import json, sys; d = json.load(sys.stdin)
for key in sys.argv[1].split("."): d = d[key]
print(d)' "$1"; }
fail() { echo "$name: FAILED: $*" >&2; exit 1; }
step() { echo "$name: $*"; }
