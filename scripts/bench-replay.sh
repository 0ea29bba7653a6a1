#!/usr/bin/env bash
# Replay throughput with Falco's three rule files, 1 and 2 threads, on a
# trace of nginx serving a small file to wrk on 127.0.0.1.
#
#   scripts/bench-replay.sh [SECONDS_OF_LOAD] [RUNS]
#
# Records the trace once (target/bench-replay/nginx.zst, kept between runs
# unless REBUILD=1), then times `replay --rules ... -q --threads N` RUNS
# times per thread count, interleaved, and prints events/s and the speed-up
# measured within this one run (the machines are shared and noisy: compare
# ratios, not absolute figures).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
runs=${2:-3}
rules=../shared/falco-rules
out=target/bench-replay
mkdir -p "$out"
cargo build --release -q -p capture -p replay
cap=target/release/capture
rep=target/release/replay
trace=$out/nginx.zst

if [ ! -s "$trace" ] || [ "${REBUILD:-0}" = 1 ]; then
  dir=$(mktemp -d)
  mkdir -p "$dir/www"
  head -c 512 /dev/urandom | base64 > "$dir/www/index.html"
  port=$((20000 + RANDOM % 20000))
  user=""
  [ "$(id -u)" = 0 ] && user="user root root;"
  cat > "$dir/nginx.conf" <<CONF
$user
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
    access_log $dir/access.log;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    sendfile on;
    server { listen 127.0.0.1:$port; root $dir/www; }
}
CONF
  rm -f "$trace"
  "$cap" -q --chunk-size 1M -o "$trace" -- nginx -c "$dir/nginx.conf" -p "$dir" &
  cpid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/index.html" 2>/dev/null && break
    sleep 0.1
  done
  wrk -t1 -c8 -d"${secs}s" "http://127.0.0.1:$port/index.html" > "$out/wrk.txt"
  kill -TERM "$cpid"
  wait "$cpid" || true
  rm -rf "$dir"
fi

events=$("$rep" "$trace" --stats -q | awk '/^events:/ {print $2}')
bytes=$(stat -c %s "$trace")
echo "trace: $trace, $events events, $bytes bytes"
args=()
for f in falco_rules.yaml falco-incubating_rules.yaml falco-sandbox_rules.yaml; do
  args+=(--rules "$rules/$f")
done

# Rule loading alone (an empty trace would not do: time it on a 1-event filter).
time_of() { # prints seconds
  local s e
  s=$(date +%s.%N)
  "$@" > /dev/null
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
declare -A best
for _ in $(seq "$runs"); do
  for t in 1 2; do
    d=$(time_of "$rep" "$trace" "${args[@]}" -q --threads "$t")
    if [ -z "${best[$t]:-}" ] || (( $(echo "$d < ${best[$t]}" | bc -l) )); then best[$t]=$d; fi
  done
  d=$(time_of "$rep" "$trace" --filter 'evt.num=0' -q --threads 1)
  if [ -z "${best[walk]:-}" ] || (( $(echo "$d < ${best[walk]}" | bc -l) )); then best[walk]=$d; fi
done
printf 'rules, 1 thread : %6.3f s  %10.0f events/s\n' "${best[1]}" "$(echo "$events / ${best[1]}" | bc -l)"
printf 'rules, 2 threads: %6.3f s  %10.0f events/s\n' "${best[2]}" "$(echo "$events / ${best[2]}" | bc -l)"
printf 'speed-up 1 -> 2 threads: %.2fx\n' "$(echo "${best[1]} / ${best[2]}" | bc -l)"
printf 'read + state + one-field filter, 1 thread: %6.3f s  %10.0f events/s\n' "${best[walk]}" "$(echo "$events / ${best[walk]}" | bc -l)"
