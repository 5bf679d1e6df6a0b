#!/usr/bin/env bash
# Reproduce the latency / speed-up table of the README ("Profile").
#
# Usage: benchmarks/profile_presets.sh [OUT_JSON] [extra `bortkit profile` flags...]
#   OUT_JSON defaults to /tmp/profile.json; e.g. add `--threads 1` for the single-thread table.
# Environment:
#   WAIT_IDLE_MAX=SECONDS  first wait (up to that long) until the CPUs have been >= 90% idle
#                          over 5 s, so the run does not start on top of another job (0: don't).
# The load average before and after is printed so a reader can tell a quiet run from a shared
# one; the JSON also records the 1-minute load at the start (env.load_avg_1m).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/profile.json}"
shift || true
BORTKIT="${BORTKIT:-.venv/bin/bortkit}"
WAIT_IDLE_MAX="${WAIT_IDLE_MAX:-0}"

idle_pct() {  # percentage of CPU time idle over the next 5 seconds
  read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ < /proc/stat
  sleep 5
  read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ < /proc/stat
  local busy=$(( (u2 + n2 + s2 + q2 + sq2 + st2) - (u1 + n1 + s1 + q1 + sq1 + st1) ))
  local idle=$(( (i2 + w2) - (i1 + w1) ))
  echo $(( 100 * idle / (busy + idle + 1) ))
}

waited=0
while (( waited < WAIT_IDLE_MAX )); do
  pct=$(idle_pct)
  (( pct >= 90 )) && break
  waited=$(( waited + 5 ))
done
echo "before: $(uptime)"
"$BORTKIT" profile \
  --presets bert-base,bert-large,roberta-large,bort,bort-paper-table,distilbert-like,tinybert-4,minilm-l6-h384 \
  --seq-len 128 --batch-size 1 --repeats 20 --json "$OUT" --no-progress "$@"
echo "after:  $(uptime)"
.venv/bin/python benchmarks/profile_presets.py "$OUT"  # the markdown tables
