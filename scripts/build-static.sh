#!/usr/bin/env bash
# Static (musl) builds of capture and replay, stripped, for any image:
#
#   bash scripts/build-static.sh x86_64     # -> target/x86_64-unknown-linux-musl/dist/{capture,replay}
#   bash scripts/build-static.sh aarch64    # -> target/aarch64-unknown-linux-musl/dist/{capture,replay}
#
# Toolchains (no downloads outside the package registries):
#   x86_64   Debian's musl-tools (musl-gcc compiles the C dependencies:
#            zstd, ring); Rust's own self-contained musl links.
#   aarch64  cargo-zigbuild with zig from PyPI (`pip install ziglang
#            cargo-zigbuild`): zig is the C compiler and the linker.
#   rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl
#
# Profile `dist` (stripped, thin LTO, one codegen unit), as the glibc build.
# BINS (default "capture replay") picks the binaries. The script checks that
# `file` calls each result static ("statically linked", or "static-pie
# linked": Rust's musl targets link static PIE by default, which `file`
# names so; both have no interpreter and no shared libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:?usage: build-static.sh x86_64|aarch64}
BINS=${BINS:-"capture replay"}
TARGET=$ARCH-unknown-linux-musl

bin_args=()
pkgs=()
for b in $BINS; do
  bin_args+=(--bin "$b")
  pkgs+=(-p "$b")
done

case "$ARCH" in
  x86_64)
    if [ "$(uname -m)" != x86_64 ]; then
      echo "build-static: the x86_64 build uses the host's musl-gcc; run it on x86_64" >&2
      exit 2
    fi
    command -v musl-gcc >/dev/null || { echo "build-static: musl-gcc is missing (apt-get install musl-tools)" >&2; exit 2; }
    CC_x86_64_unknown_linux_musl=musl-gcc \
      cargo build --locked --profile dist --target "$TARGET" "${pkgs[@]}" "${bin_args[@]}"
    ;;
  aarch64)
    command -v cargo-zigbuild >/dev/null || { echo "build-static: cargo-zigbuild is missing (pip install ziglang cargo-zigbuild)" >&2; exit 2; }
    cargo zigbuild --locked --profile dist --target "$TARGET" "${pkgs[@]}" "${bin_args[@]}"
    ;;
  *)
    echo "build-static: unknown architecture \`$ARCH\` (x86_64 or aarch64)" >&2
    exit 2
    ;;
esac

for b in $BINS; do
  out=${CARGO_TARGET_DIR:-target}/$TARGET/dist/$b
  desc=$(file -b "$out")
  case "$desc" in
    *"statically linked"* | *"static-pie linked"*) ;;
    *)
      echo "build-static: $out is not static: $desc" >&2
      exit 1
      ;;
  esac
  case "$desc" in
    *"not stripped"*) echo "build-static: $out is not stripped" >&2; exit 1 ;;
  esac
  printf '%s\t%s bytes\t%s\n' "$out" "$(stat -c %s "$out")" "$desc"
done
