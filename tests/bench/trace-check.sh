#!/usr/bin/env bash
# Pruning the files of the guard search (core/src/code/prune.rs, `Tracer::add_calling`) must
# not change a single code fact: for each mirror's head tree, the search runs with its files
# pruned and parsed whole, and both are timed.
#
#   bash tests/bench/trace-check.sh [MIRROR_DIR]
#
# MIRROR_DIR (default: $FLEETSCAN_BENCH_MIRROR, else /work/.mirror) holds bare git directories
# MIRROR_DIR/openstack+<name>/repo. Exits 1 when any repository's facts differ.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
say() { echo "bench: $*" >&2; }
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'
[[ -d $mirror ]] || { say "skipping: no mirror directory $mirror"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/tmp}/trace-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
dirs=()
for d in "$mirror"/openstack+*/repo; do
  name=$(basename "$(dirname "$d")")
  mkdir -p "$work/$name"
  # A mirror missing a blob still gives the files it has.
  git -C "$d" archive HEAD | tar -x -C "$work/$name" --wildcards '*.py' 'setup.cfg' 2>/dev/null || true
  dirs+=("$work/$name")
done
cargo run --release -q -p fleetscan-core --example trace_check --manifest-path "$top/Cargo.toml" \
  "${dirs[@]}"
