#!/usr/bin/env bash
# Capture's cost per syscall, in one run, against the floor of a ptrace stop.
#
#   bash scripts/bench-capture.sh [ROUNDS]       (default 3; needs root or
#                                                 CAP_SYS_PTRACE, gcc, strace,
#                                                 nginx, wrk)
#
# Workloads:
#   micro  a C loop of open/read/close of /etc/hostname (the script compiles
#          it); it reports its own loop rate (iterations/s)
#   nginx  nginx (1 worker, access log off) serving a 13-byte file to
#          `wrk -t1 -c8` on 127.0.0.1 for $DURATION s; requests/s
#
# Configurations (each round runs every configuration once, in this order,
# so all of them see the same machine load; the table is the median over
# rounds, as throughput and as a ratio to native and to strace):
#   native          the workload alone
#   strace          strace -f -o /dev/null
#   bare            capture/examples/bare_tracer.rs: PTRACE_SYSCALL, 2 stops
#                   per syscall, nothing read, nothing recorded
#   bare-follow     the same, the tracer following the tracee's CPU
#   bare-1cpu       the same, tracer and tracee pinned to one CPU
#   bare-SPEC[-1cpu]  (bare-falco) the bare tracer with capture's filter
#                   for --syscalls SPEC and capture's stops (one for close
#                   under falco): the floor of a recorder that stops where
#                   capture stops
#   capture-all-none  capture --syscalls all --cpu-affinity none
#   capture-all     capture --syscalls all (every syscall, decoded, written;
#                   default placement auto: one CPU while the workload is
#                   one thread, then the lone busy single-threaded process
#                   (the nginx worker) shares the tracer's CPU)
#   capture-all-1cpu  capture --syscalls all --cpu-affinity shared
#   capture-falco-none, capture-falco, capture-falco-1cpu: the same with
#                   --syscalls falco (seccomp filter)
#   any of these with a -tN suffix (capture-falco-t2): --tracers N; without
#                   one, --tracers 1 (capture's default is auto, one per
#                   CPU: the suffix keeps each row's tracer count explicit)
# (bare-follow, not in the default list: the tracer re-pins itself to the
# tracee's last CPU every 20 ms.)
#
# Environment: DURATION (nginx seconds per run, default 4), ITER (micro
# iterations, default 30000), MICRO_PROCS (micro loops run in parallel
# under one command, their rates summed; default 1), MICRO_THREADS (the
# loop in that many threads of each micro process; default 1), NGINX_WORKERS
# (worker_processes, default 1), CONFIGS (space-separated subset; any
# capture-SPEC works, e.g. capture-falco,close),
# CAPTURE_ARGS (more options for every capture configuration, e.g.
# `--flush-interval 5000`), WORKLOADS (`micro nginx` by default),
# CAPTURE_BIN (a capture binary to measure instead of building the release
# one, e.g. target/x86_64-unknown-linux-musl/dist/capture).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
DURATION=${DURATION:-4}
ITER=${ITER:-30000}
CONFIGS=${CONFIGS:-"native strace bare bare-1cpu capture-all-none capture-all capture-all-1cpu capture-falco-none capture-falco capture-falco-1cpu"}
PORT=${PORT:-18480}
CAPTURE_ARGS=${CAPTURE_ARGS:-}
WORKLOADS=${WORKLOADS:-"micro nginx"}
MICRO_PROCS=${MICRO_PROCS:-1}
MICRO_THREADS=${MICRO_THREADS:-1}
NGINX_WORKERS=${NGINX_WORKERS:-1}

for t in gcc strace nginx wrk; do
  command -v "$t" >/dev/null || { echo "bench-capture: $t is missing" >&2; exit 2; }
done

if [ -n "${CAPTURE_BIN:-}" ]; then
  # A given capture binary (e.g. the static musl build), compared as is;
  # the bare tracer is built only if a bare configuration is asked for.
  CAPTURE=$(realpath "$CAPTURE_BIN")
  case " $CONFIGS " in
    *" bare"*) cargo build --release -q -p capture --example bare_tracer ;;
  esac
else
  cargo build --release -q -p capture --bin capture --example bare_tracer
  CAPTURE=$PWD/target/release/capture
fi
BARE=$PWD/target/release/examples/bare_tracer

WORK=$(mktemp -d /tmp/bench-capture.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/micro.c" <<'C'
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static long n;
static void *loop(void *a) {
    char b[64];
    (void)a;
    for (long i = 0; i < n; i++) {
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd < 0) exit(1);
        if (read(fd, b, sizeof b) < 0) exit(1);
        close(fd);
    }
    return 0;
}
/* micro ITER [THREADS]: THREADS > 1 runs the loop in that many threads of
   one process (a Go- or JVM-style server's shape); prints the total rate. */
int main(int argc, char **argv) {
    n = argc > 1 ? atol(argv[1]) : 30000;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    pthread_t t[64];
    struct timespec t0, t1;
    if (threads < 1 || threads > 64) return 2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (threads == 1) loop(0);
    for (int i = 0; threads > 1 && i < threads; i++) pthread_create(&t[i], 0, loop, 0);
    for (int i = 0; threads > 1 && i < threads; i++) pthread_join(t[i], 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.0f\n", n * threads / s);
    return 0;
}
C
gcc -O2 -pthread -o "$WORK/micro" "$WORK/micro.c"

mkdir -p "$WORK/www" "$WORK/nginx"
printf 'hello, bench\n' >"$WORK/www/small.txt"
cat >"$WORK/nginx.conf" <<CONF
worker_processes $NGINX_WORKERS;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$PORT;
    root $WORK/www;
  }
}
CONF

# wrapper CONFIG: the command prefix of a configuration.
wrapper() {
  case $1 in
    native) ;;
    strace) echo "strace -f -o /dev/null" ;;
    bare) echo "$BARE --" ;;
    bare-1cpu) echo "$BARE --same-cpu --" ;;
    bare-follow) echo "$BARE --follow --" ;;
    bare-*-1cpu) local spec=${1#bare-}; echo "$BARE --same-cpu --set ${spec%-1cpu} --" ;;
    bare-*) echo "$BARE --set ${1#bare-} --" ;;
    capture-*)
      # capture-SET[-POLICY]: POLICY is 1cpu (shared) or none; without it
      # capture's default (auto).
      local spec=${1#capture-} policy=auto tracers=1
      # A -tN suffix (last): --tracers N.
      case $spec in
        *-t[0-9]*) tracers=${spec##*-t}; spec=${spec%-t*} ;;
      esac
      case $spec in
        *-1cpu) policy=shared; spec=${spec%-1cpu} ;;
        *-none) policy=none; spec=${spec%-none} ;;
      esac
      echo "$CAPTURE -q -o $WORK/t.zst --syscalls $spec --cpu-affinity $policy --tracers $tracers $CAPTURE_ARGS --" ;;
    *) echo "unknown configuration $1" >&2; exit 2 ;;
  esac
}

run_micro() {
  if [ "$MICRO_PROCS" -gt 1 ]; then
    # shellcheck disable=SC2046,SC2016
    $(wrapper "$1") sh -c 'i=0; while [ $i -lt "$1" ]; do "$2" "$3" "$4" & i=$((i+1)); done; wait' \
      sh "$MICRO_PROCS" "$WORK/micro" "$ITER" "$MICRO_THREADS" | awk '{s += $1} END {printf "%.0f\n", s}'
  else
    # shellcheck disable=SC2046
    $(wrapper "$1") "$WORK/micro" "$ITER" "$MICRO_THREADS"
  fi
  rm -rf "$WORK"/t.*
}

run_nginx() {
  rm -f "$WORK/nginx/nginx.pid"
  # shellcheck disable=SC2046
  $(wrapper "$1") nginx -c "$WORK/nginx.conf" >/dev/null 2>&1 &
  local wpid=$! i
  for i in $(seq 1 200); do
    if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then break; fi
    sleep 0.05
  done
  local rps
  rps=$(wrk -t1 -c8 -d"${DURATION}s" "http://127.0.0.1:$PORT/small.txt" 2>/dev/null |
    awk '/^Requests\/sec/ {printf "%.0f", $2}')
  kill -QUIT "$(cat "$WORK/nginx/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$wpid" 2>/dev/null || true
  wait "$wpid" 2>/dev/null || true
  pkill -KILL -f "nginx -c $WORK/nginx.conf" 2>/dev/null || true
  rm -rf "$WORK"/t.*
  echo "${rps:-0}"
}

RES="$WORK/results"
: >"$RES"
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONFIGS; do
    m=0 n=0
    case " $WORKLOADS " in *" micro "*) m=$(run_micro "$c") ;; esac
    case " $WORKLOADS " in *" nginx "*) n=$(run_nginx "$c") ;; esac
    echo "round $r: $c micro=$m nginx=$n" >&2
    echo "$c $m $n" >>"$RES"
  done
done

echo
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  kernel: $(uname -r)  cpus: $(nproc)  rounds: $ROUNDS  load: $(cut -d' ' -f1-3 /proc/loadavg)  micro procs: $MICRO_PROCS  micro threads: $MICRO_THREADS  nginx workers: $NGINX_WORKERS"
python3 - "$RES" "$CONFIGS" <<'PY'
import sys, statistics
res, configs = sys.argv[1], sys.argv[2].split()
rows = {}
for line in open(res):
    c, m, n = line.split()
    rows.setdefault(c, ([], []))
    rows[c][0].append(float(m)); rows[c][1].append(float(n))
med = {c: (statistics.median(v[0]), statistics.median(v[1])) for c, v in rows.items()}
nat = med.get("native")
st = med.get("strace")
bare = [med[c] for c in med if c.startswith("bare")]
best = (max(b[0] for b in bare), max(b[1] for b in bare)) if bare else None
def ratio(x, ref, i, fmt):
    return format(x / ref[i], fmt) if ref and ref[i] else "-"
print("| configuration | micro iter/s | x native | x strace | x best bare | nginx req/s | x native | x strace | x best bare |")
print("|---|---|---|---|---|---|---|---|---|")
for c in configs:
    if c not in med: continue
    m, n = med[c]
    print(f"| {c} | {m:.0f} | {ratio(m, nat, 0, '.3f')} | {ratio(m, st, 0, '.2f')} | {ratio(m, best, 0, '.2f')} "
          f"| {n:.0f} | {ratio(n, nat, 1, '.3f')} | {ratio(n, st, 1, '.2f')} | {ratio(n, best, 1, '.2f')} |")
print()
print("all rounds (micro iter/s, nginx req/s):")
for c in configs:
    if c in rows:
        print(f"  {c}: {' '.join(f'{x:.0f}' for x in rows[c][0])} | {' '.join(f'{x:.0f}' for x in rows[c][1])}")
PY
