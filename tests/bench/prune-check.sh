#!/usr/bin/env bash
# Leaving functions out before parsing (core/src/code/prune.rs) must not change a single fact:
# for every Python file with an occurrence in the mirrors' head trees, the facts from the
# pruned source are compared with those from the whole file, and both parses are timed.
#
#   bash tests/bench/prune-check.sh [MIRROR_DIR] [PATTERN]
#
# MIRROR_DIR (default: $FLEETSCAN_BENCH_MIRROR, else /work/.mirror) holds bare git directories
# MIRROR_DIR/openstack+<name>/repo. Exits 1 when any file's facts differ.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
pattern=${2:-eventlet}
say() { echo "bench: $*" >&2; }
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'
[[ -d $mirror ]] || { say "skipping: no mirror directory $mirror"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/tmp}/prune-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
for d in "$mirror"/openstack+*/repo; do
  name=$(basename "$(dirname "$d")")
  mkdir -p "$work/$name"
  # A mirror missing a blob still gives the files it has; one with no match gives none (git
  # grep exits 1, which must not end the script under pipefail).
  { git -C "$d" grep -l -F "$pattern" HEAD -- '*.py' 2>/dev/null || true; } | sed 's/^HEAD://' |
    while read -r f; do
      mkdir -p "$work/$name/$(dirname "$f")"
      git -C "$d" cat-file blob "HEAD:$f" >"$work/$name/$f" 2>/dev/null || rm -f "$work/$name/$f"
    done
done
cargo run --release -q -p fleetscan-core --example prune_check --manifest-path "$top/Cargo.toml" \
  "$work" "$pattern"
