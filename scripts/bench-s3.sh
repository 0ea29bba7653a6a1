#!/usr/bin/env bash
# S3 shipping benchmarks (BENCHMARKS.md): upload throughput of the client to
# a local moto server, and the workload's throughput under capture with and
# without --s3, alternated in one run and reported as ratios.
# Needs: moto's server (pip install 'moto[server]'), ptrace permitted.
# ROUNDS=5 N=400000 bash scripts/bench-s3.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
N=${N:-200000}

cargo build --release -q -p capture -p replay -p sysrec-s3 --example upload_throughput
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
tmp=$(mktemp -d)
trap 'kill $moto; rm -rf "$tmp"' EXIT
python3 - "$port" <<'PY'
import http.client, sys, time
port = int(sys.argv[1])
for _ in range(300):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("PUT", "/bench")
        assert c.getresponse().status == 200
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("moto did not start")
PY
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"

echo "== upload throughput to moto on 127.0.0.1"
./target/release/examples/upload_throughput bench 8 16
./target/release/examples/upload_throughput bench 64 2

echo "== workload under capture: dd of $N 512-byte blocks (2 syscalls each), 4 MiB segments"
now() { date +%s%N; }
run() { # run DIR [capture options...]
  local dir=$1; shift
  rm -rf "$dir"; mkdir -p "$dir"
  local t0; t0=$(now)
  ./target/release/capture -q -o "$dir/t.zst" --rotate-size 4M "$@" -- \
    dd if=/dev/zero of=/dev/null bs=512 count="$N" 2>/dev/null
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
printf '%-6s %12s %12s %8s\n' round "local (s)" "--s3 (s)" ratio
for r in $(seq 1 "$ROUNDS"); do
  a=$(run "$tmp/local")
  b=$(run "$tmp/s3" --s3 "s3://bench/run$r")
  printf '%-6s %12s %12s %8s\n' "$r" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
done
echo "== replay verify straight from S3 (ranged GETs, read-ahead), each round's trace"
for r in $(seq 1 "$ROUNDS"); do
  t0=$(now)
  ./target/release/replay verify "s3://bench/run$r/" | sed -n 2p
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "  verified in %.3f s\n", (b - a) / 1e9 }'
done
echo "shipped: $(python3 - "$port" <<'PY'
import http.client, sys, re
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/bench?list-type=2&prefix=run")
print(len(re.findall(r"<Key>", c.getresponse().read().decode())), "objects")
PY
)"
