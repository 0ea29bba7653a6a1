#!/usr/bin/env bash
# The aarch64 static binaries, built and checked: they start under
# qemu-user and replay a sample trace as the host's replay does
# (tests/tests/static_binaries.rs, ignored in the normal suite because
# this build does not fit CI's time; BENCHMARKS.md has its cost).
# ptrace cannot be tested under qemu-user (it gives its guest no ptrace),
# so capture's recording on aarch64 needs a real Graviton machine.
#
#   bash scripts/check-static-aarch64.sh
#
# Needs: cargo-zigbuild and ziglang (pip), qemu-user-static (apt),
# rustup target aarch64-unknown-linux-musl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-static.sh aarch64
cargo nextest run -p e2e-tests --test static_binaries --run-ignored only
