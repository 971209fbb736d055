#!/usr/bin/env bash
# Fuzz the whole HTTP API with schemathesis for longer than CI does: the same run as
# tests/process/test_fuzz.py (its own gunicorn and trainer on free 127.0.0.1 ports, a temp data
# dir, every operation, positive and negative cases, every check), with a bigger budget.
#
#   scripts/fuzz.sh [SECONDS] [EXAMPLES_PER_OPERATION] [SEED]    defaults: 600 200 random
#
# FUZZ_WORKERS sets schemathesis' concurrent workers (default 1). Prints schemathesis' report
# and the statuses gunicorn answered; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_MAX_TIME="${1:-${FUZZ_MAX_TIME:-600}}"
export FUZZ_EXAMPLES="${2:-${FUZZ_EXAMPLES:-200}}"
export FUZZ_SEED="${3:-${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}}"
export FUZZ_REPORT=1
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
echo "fuzz: ${FUZZ_MAX_TIME} s, ${FUZZ_EXAMPLES} examples per operation, seed ${FUZZ_SEED}"
exec "$PYTHON" -m pytest tests/process/test_fuzz.py -k schemathesis -p no:cacheprovider -q -s
