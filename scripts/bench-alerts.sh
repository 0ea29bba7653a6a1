#!/usr/bin/env bash
# The cost of live rule evaluation (`capture --rules`), and the delay from
# syscall to alert under load.
#
#   bash scripts/bench-alerts.sh [ROUNDS]        (default 3; needs root or
#                                                 CAP_SYS_PTRACE, nginx, wrk)
#
# Workload: nginx (1 worker, access log off) serving a 13-byte file to
# `wrk -t1 -c8` on 127.0.0.1 for $DURATION s, beside a shell that reads
# /etc/shadow every 0.2 s (one Falco alert each: "Read sensitive file
# untrusted"), both under capture --syscalls falco.
#
# Configurations, interleaved (each round runs both, so they see the same
# machine load; the table is the median over rounds):
#   falco        capture --syscalls falco
#   falco-rules  the same with --rules (Falco's stable, incubating and
#                sandbox files) and --alerts to a file
# For falco-rules, capture's exit summary gives the alerts raised and the
# median and worst delay from syscall to alert.
#
# Environment: DURATION (seconds per run, default 4), CAPTURE (the binary;
# default: `cargo build --profile dist -p capture`, what ships),
# SYSREC_FALCO_RULES (directory of Falco's rule files; default
# ../shared/falco-rules, as .cargo/config.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
DURATION=${DURATION:-4}
PORT=${PORT:-18481}
RULES_DIR=${SYSREC_FALCO_RULES:-../shared/falco-rules}

for t in nginx wrk; do
  command -v "$t" >/dev/null || { echo "bench-alerts: $t is missing" >&2; exit 2; }
done
if [ -z "${CAPTURE:-}" ]; then
  cargo build --profile dist -q -p capture --bin capture
  CAPTURE=$PWD/target/dist/capture
fi
RULES=()
for f in falco_rules.yaml falco-incubating_rules.yaml falco-sandbox_rules.yaml; do
  [ -f "$RULES_DIR/$f" ] || { echo "bench-alerts: $RULES_DIR/$f is missing" >&2; exit 2; }
  RULES+=(--rules "$RULES_DIR/$f")
done

WORK=$(mktemp -d /tmp/bench-alerts.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/www" "$WORK/nginx"
printf 'hello, bench\n' >"$WORK/www/small.txt"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
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
# The workload: nginx, and a shell raising one alert every 0.2 s while
# nginx runs.
WORKLOAD="nginx -c $WORK/nginx.conf & n=\$!; while kill -0 \$n 2>/dev/null; do cat /etc/shadow >/dev/null; sleep 0.2; done; wait \$n"

# run CONFIG: requests/s on stdout; capture's stderr in $WORK/CONFIG.err.
run() {
  local extra=()
  [ "$1" = falco-rules ] && extra=("${RULES[@]}" --alerts "$WORK/alerts.json")
  rm -f "$WORK/nginx/nginx.pid"
  "$CAPTURE" -o "$WORK/t.zst" --syscalls falco "${extra[@]}" -- sh -c "$WORKLOAD" \
    >/dev/null 2>"$WORK/$1.err" &
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
  rm -rf "$WORK"/t.* "$WORK/alerts.json"
  echo "${rps:-0}"
}

for r in $(seq 1 "$ROUNDS"); do
  for c in falco falco-rules; do
    n=$(run "$c")
    echo "round $r: $c nginx=$n req/s" >&2
    echo "$c $n" >>"$WORK/results"
    if [ "$c" = falco-rules ]; then
      grep '^capture: alerts:' "$WORK/$c.err" | sed "s/^/round $r: /" >&2 || true
    fi
  done
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    c, n = line.split()
    rows.setdefault(c, []).append(float(n))
base = statistics.median(rows["falco"])
print("| configuration | nginx req/s (median) | x falco | rounds |")
print("|---|---|---|---|")
for c in ("falco", "falco-rules"):
    m = statistics.median(rows[c])
    print(f"| {c} | {m:.0f} | {m / base:.3f} | {' '.join(f'{v:.0f}' for v in rows[c])} |")
PY
