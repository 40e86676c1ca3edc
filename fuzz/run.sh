#!/usr/bin/env bash
# Fuzzes one target of fuzz/Lm.Fuzz with afl-fuzz until it has run EXECS inputs (default 1,000,000).
#
#   fuzz/run.sh TARGET [EXECS]        e.g. fuzz/run.sh safetensors-header
#
# Builds the harness, instruments the copy of Lm.Runtime.dll in fuzz/out/bin with SharpFuzz, then runs afl-fuzz on
# one core at low priority (nice 10), in SharpFuzz's persistent mode. Findings go to fuzz/out/findings/TARGET;
# crashing and hanging inputs are copied to fuzz/regressions/TARGET/, where the replay test picks them up. One line
# per run is appended to fuzz/out/results.tsv. Environment: LM_FUZZ_SECONDS caps the time (afl -V);
# LM_FUZZ_NO_BUILD=1 reuses fuzz/out/bin (run-all.sh builds once).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: fuzz/run.sh TARGET [EXECS]}
execs=${2:-1000000}
[ -d "fuzz/corpus/$target" ] || { echo "no seed corpus fuzz/corpus/$target" >&2; exit 2; }

if ! command -v afl-fuzz >/dev/null; then
  echo "afl-fuzz not found; installing the afl++ package" >&2
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq afl++
fi

bin=fuzz/out/bin
if [ "${LM_FUZZ_NO_BUILD:-0}" != 1 ] || [ ! -f "$bin/Lm.Fuzz.dll" ]; then
  dotnet tool restore >/dev/null
  rm -rf "$bin"
  dotnet publish fuzz/Lm.Fuzz -c Release -o "$bin" --nologo -v quiet
  # Only the engine is instrumented: coverage of our parsers, not of the BCL's JSON reader.
  dotnet sharpfuzz "$bin/Lm.Runtime.dll"
fi

findings=fuzz/out/findings/$target
rm -rf "$findings"
mkdir -p fuzz/out/findings
limit=(); [ -n "${LM_FUZZ_SECONDS:-}" ] && limit=(-V "$LM_FUZZ_SECONDS")
started=$(date +%s)
# Containers: no CPU governor or core-pattern changes (no root changes to the kernel), .NET's apphost carries no
# afl marker, and a .NET harness needs a few seconds to start.
AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
AFL_FORKSRV_INIT_TMOUT=60000 AFL_SKIP_CRASHES=0 \
  nice -n 10 afl-fuzz -i "fuzz/corpus/$target" -o "$findings" -x fuzz/dict/lm.dict -t 5000 -m none \
    -E "$execs" "${limit[@]}" -- dotnet "$bin/Lm.Fuzz.dll" "$target" >"fuzz/out/$target.log" 2>&1 || {
  echo "afl-fuzz failed; see fuzz/out/$target.log" >&2; tail -20 "fuzz/out/$target.log" >&2; exit 1; }

# afl stops the harness with SIGKILL, so its scratch folders outlive it.
rm -rf /dev/shm/lm-fuzz-"$target"-* 2>/dev/null || true
stats=$findings/default/fuzzer_stats
stat() { sed -n "s/^$1 *: *//p" "$stats"; }
crashes=$(stat saved_crashes); hangs=$(stat saved_hangs)
for kind in crashes hangs; do
  for input in "$findings/default/$kind"/id:*; do
    [ -f "$input" ] || continue
    mkdir -p "fuzz/regressions/$target"
    cp "$input" "fuzz/regressions/$target/$kind-$(sha1sum "$input" | cut -c1-12)"
  done
done
line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$target" "$(stat execs_done)" "$(( $(date +%s) - started ))" \
  "$(stat execs_per_sec)" "$(stat corpus_count)" "$crashes" "$hangs" "$(stat stability)")
[ -f fuzz/out/results.tsv ] || printf 'target\texecs\tseconds\texecs_per_sec\tpaths\tcrashes\thangs\tstability\n' >fuzz/out/results.tsv
echo "$line" >>fuzz/out/results.tsv
echo "$line"
[ "$crashes" = 0 ] && [ "$hangs" = 0 ]
