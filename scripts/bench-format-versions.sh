#!/usr/bin/env bash
# Format version 1 against version 2 in one run, on two recorded traces:
#
#   loop   a C loop of open/read/close of /etc/hostname under capture
#          (default snaplen, --syscalls all)
#   nginx  the replay benchmark's trace (scripts/bench-replay.sh records it
#          into target/bench-replay/nginx.zst when missing)
#
#   scripts/bench-format-versions.sh [RUNS=3]
#
# capture writes version 2; each trace is re-encoded to version 1 with the
# `convert` example (same chunks, events, snapshots and clock anchors), so
# the two files hold the same evidence. Prints bytes per event of each, then
# times (best of RUNS, interleaved) `replay --rules` with Falco's three files
# at --threads 1 and 2, and a walk (read, verify, hash, decode, state, a
# one-field filter) at --threads 1. Rule loading is timed on its own (the
# rules over the 509-event sample) and subtracted from the rules figures.
# The machines are shared and noisy: compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
rules=../shared/falco-rules
out=target/bench-format
mkdir -p "$out"
cargo build --release -q -p capture -p replay
cargo build --release -q -p trace-format --example convert
cap=target/release/capture
rep=target/release/replay
conv=target/release/examples/convert

if [ ! -s target/bench-replay/nginx.zst ]; then
  scripts/bench-replay.sh 10 1 >/dev/null
fi
cp target/bench-replay/nginx.zst "$out/nginx.v2.zst"

cat >"$out/loop.c" <<'C'
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 30000;
    char b[64];
    for (long i = 0; i < n; i++) {
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd < 0) return 1;
        if (read(fd, b, sizeof b) < 0) return 1;
        close(fd);
    }
    return 0;
}
C
gcc -O2 -o "$out/loop" "$out/loop.c"
rm -f "$out/loop.v2.zst"
"$cap" -q -o "$out/loop.v2.zst" -- "$out/loop" "${ITER:-100000}"

for t in loop nginx; do
  "$conv" "$out/$t.v2.zst" "$out/$t.v1.zst" 1 >/dev/null
done

args=()
for f in falco_rules.yaml falco-incubating_rules.yaml falco-sandbox_rules.yaml; do
  args+=(--rules "$rules/$f")
done
time_of() { # prints seconds
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
declare -A best
keep() { # name seconds
  if [ -z "${best[$1]:-}" ] || (( $(echo "$2 < ${best[$1]}" | bc -l) )); then best[$1]=$2; fi
}
for _ in $(seq "$runs"); do
  keep load "$(time_of "$rep" samples/traces/incident.zst "${args[@]}" -q --threads 1)"
  for t in loop nginx; do
    for v in 1 2; do
      f=$out/$t.v$v.zst
      for th in 1 2; do
        keep "$t.$v.rules$th" "$(time_of "$rep" "$f" "${args[@]}" -q --threads "$th")"
      done
      keep "$t.$v.walk" "$(time_of "$rep" "$f" --filter 'evt.num=0' -q --threads 1)"
    done
  done
done

printf 'rule loading (3 Falco files, 509-event sample): %.3f s\n' "${best[load]}"
printf '%-6s %-3s %10s %12s %8s | %12s %12s %7s | %12s\n' trace v events bytes B/event \
  "rules 1t ev/s" "rules 2t ev/s" "2t/1t" "walk ev/s"
for t in loop nginx; do
  for v in 1 2; do
    f=$out/$t.v$v.zst
    events=$("$rep" "$f" --stats -q | awk '/^events:/ {print $2}')
    bytes=$(stat -c %s "$f")
    r1=$(echo "${best[$t.$v.rules1]} - ${best[load]}" | bc -l)
    r2=$(echo "${best[$t.$v.rules2]} - ${best[load]}" | bc -l)
    printf '%-6s %-3s %10d %12d %8.2f | %12.0f %12.0f %7.2f | %12.0f\n' "$t" "v$v" "$events" "$bytes" \
      "$(echo "$bytes / $events" | bc -l)" \
      "$(echo "$events / $r1" | bc -l)" "$(echo "$events / $r2" | bc -l)" \
      "$(echo "$r1 / $r2" | bc -l)" "$(echo "$events / ${best[$t.$v.walk]}" | bc -l)"
  done
done
