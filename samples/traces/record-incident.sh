#!/usr/bin/env bash
# Re-records samples/traces/incident.zst: a shell that reads /etc/shadow,
# plants a symlink to it, greps for private keys and runs a binary from
# /dev/shm. Needs a built capture (cargo build --release -p capture).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work" /dev/shm/sysrec-sample-payload' EXIT
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root target/release/capture -q -o samples/traces/incident.zst -- sh -c "
  cat /etc/shadow > /dev/null
  ln -s /etc/shadow $work/innocent
  grep -r 'BEGIN RSA PRIVATE' $work 2>/dev/null || true
  cp /bin/true /dev/shm/sysrec-sample-payload && /dev/shm/sysrec-sample-payload
  ls / > /dev/null
"
target/release/replay verify samples/traces/incident.zst
