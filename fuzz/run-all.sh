#!/usr/bin/env bash
# Fuzzes every target, one after the other (one core), each to EXECS executions (default 1,000,000).
#   fuzz/run-all.sh [EXECS]
# Results: fuzz/out/results.tsv (one line per target); exits non-zero when any target found a crash or a hang.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
first=1
for target in $(ls fuzz/corpus); do
  if [ $first = 1 ]; then LM_FUZZ_NO_BUILD=0 fuzz/run.sh "$target" "${1:-1000000}" || status=1; first=0
  else LM_FUZZ_NO_BUILD=1 fuzz/run.sh "$target" "${1:-1000000}" || status=1; fi
done
exit $status
