#!/usr/bin/env bash
# One distributed scan, start to finish, as one command that a benchmark can time: a private
# Redis, a coordinator and WORKERS worker processes on free loopback ports, `fleetscan submit
# --wait` of the given repositories, then everything stopped. Every process is a child of this
# script and is waited for, so GNU time's user+sys covers them all.
#
#   bash tests/bench/distributed-scan.sh FLEETSCAN WORK_DIR GIT_BASE WORKERS [WORKER_ARGS...] -- SUBMIT_ARGS...
#
# WORKER_ARGS go to each `fleetscan worker` (for example `--concurrency 2`); SUBMIT_ARGS to
# `fleetscan submit` (the repositories, --pattern, --out). Used by network.sh and
# history-memory.sh. Leaves the coordinator's peak resident memory in WORK_DIR/coordinator.hwm.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
say() { echo "distributed-scan: $*" >&2; }
die() { say "error: $*"; exit 1; }
# shellcheck source=tests/bench/lib.sh
all_repos=() # lib.sh's corpus is not used here
source "$here/lib.sh"

[[ $# -ge 4 ]] || die "usage: $0 FLEETSCAN WORK_DIR GIT_BASE WORKERS [WORKER_ARGS...] -- SUBMIT_ARGS..."
fs=$1 dir=$2 base=$3 n=$4
shift 4
worker_args=()
while [[ $# -gt 0 && $1 != -- ]]; do worker_args+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
mkdir -p "$dir"

pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_all EXIT

rport=$(free_port)
redis-server --bind 127.0.0.1 --port "$rport" --dir "$dir" --save '' --appendonly no \
  --logfile redis.log &
pids+=($!)
wait_port "$rport" || die "redis-server did not start"
cport=$(free_port)
"$fs" coordinator --listen "127.0.0.1:$cport" --redis "redis://127.0.0.1:$rport/0" \
  2>"$dir/coordinator.log" &
coordinator=$!
pids+=($!)
wait_port "$cport" || die "the coordinator did not start"
for ((i = 0; i < n; i++)); do
  "$fs" worker --coordinator "http://127.0.0.1:$cport" --cache-dir "$dir/cache$i" \
    --worker-id "w$i" "${worker_args[@]}" 2>"$dir/worker$i.log" &
  pids+=($!)
done
"$fs" submit --coordinator "http://127.0.0.1:$cport" --git-base "$base" --wait -q "$@" \
  >/dev/null 2>"$dir/submit.err" || { cat "$dir/submit.err" >&2; die "the distributed scan failed"; }
# The coordinator's peak resident memory (kB), for scripts that measure it.
awk '/^VmHWM/ { print $2 }' "/proc/$coordinator/status" >"$dir/coordinator.hwm"
