#!/usr/bin/env bash
# Fuzzes targets one after the other (one core), each to EXECS executions (default 1,000,000).
#   fuzz/run-all.sh [EXECS] [TARGET...]        (no TARGET: every folder of fuzz/corpus)
# LM_FUZZ_SECONDS caps each target's time. Results: fuzz/out/results.tsv, one line per target; exits non-zero
# when any target found a crash or a hang.
set -uo pipefail
cd "$(dirname "$0")/.."
execs=${1:-1000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(ls fuzz/corpus))
status=0
build=0
for target in "${targets[@]}"; do
  LM_FUZZ_NO_BUILD=$build fuzz/run.sh "$target" "$execs" || status=1
  build=1
done
exit $status
