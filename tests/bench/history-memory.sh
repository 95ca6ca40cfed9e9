#!/usr/bin/env bash
# Memory of rendering a history scan of a fleet: synthetic repositories whose Eventlet lines
# shrink over four dated commits, scanned at 8 quarterly points. Prints Markdown (BENCHMARKS.md,
# "Memory of history scans"); progress on stderr.
#
#   bash tests/bench/history-memory.sh
#
# Knobs: HISTORY_MEMORY_REPOS (300), HISTORY_MEMORY_LINES (the first commit's Eventlet calls per
# file, 190; three files a repository, fewer at each later commit), BENCH_ROUNDS (3),
# FLEETSCAN_BIN (default: a release build), FLEETSCAN_BIN_BEFORE (another build, run in the same
# rounds, taking turns, for a before/after table), DISTRIBUTED=1 (each scan through a private
# Redis, a coordinator and one worker, `distributed-scan.sh`; the peak is the coordinator's).
#
# One cold scan per build fills its cache; then each round runs every build warm (every point
# from the result cache, nothing fetched or scanned), so what is measured is gathering the
# results and rendering every format. Peak RSS is `/usr/bin/time -f %M`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
rounds=${BENCH_ROUNDS:-3}
count=${HISTORY_MEMORY_REPOS:-300}
lines=${HISTORY_MEMORY_LINES:-190}
points=2024-04-01..2026-01-01

say() { echo "history-memory: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

mirror=/nonexistent
# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
build_fleetscan
make_work fleetscan-history-memory
builds=(after)
declare -A bin=([after]=$fs)
if [[ -n ${FLEETSCAN_BIN_BEFORE:-} ]]; then
  [[ -x $FLEETSCAN_BIN_BEFORE ]] || die "no fleetscan binary at $FLEETSCAN_BIN_BEFORE"
  builds=(before after)
  bin[before]=$FLEETSCAN_BIN_BEFORE
fi

say "building $count repositories, 4 dated commits each"
mkdir -p "$work/served/openstack" "$work/src"
: >"$work/repos.txt"
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org \
  GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
for i in $(seq "$count"); do
  d=$work/src/r$i
  mkdir -p "$d/pkg"
  git -C "$d" init -q -b master
  n=0
  for date in 2024-05-01 2024-11-01 2025-05-01 2025-11-01; do
    k=$((lines - n * 50))
    n=$((n + 1))
    [[ $k -gt 0 ]] || k=1
    python3 - "$k" "$i" >"$d/pkg/svc.py" <<'PY'
import sys
k, i = int(sys.argv[1]), sys.argv[2]
print("import eventlet\nfrom eventlet import greenthread\n")
for j in range(k):
    print(f"def f{j}():\n    eventlet.sleep({j})  # repository {i}, call {j}\n    greenthread.spawn(f{j})\n")
PY
    cp "$d/pkg/svc.py" "$d/pkg/test_svc.py"
    cp "$d/pkg/svc.py" "$d/pkg/tools.py"
    git -C "$d" add -A
    GIT_AUTHOR_DATE="$date 12:00" GIT_COMMITTER_DATE="$date 12:00" git -C "$d" commit -qm "commit $n"
  done
  git clone -q --bare "$d" "$work/served/openstack/r$i"
  echo "openstack/r$i" >>"$work/repos.txt"
done
rm -rf "$work/src"
port=$(free_port)
"$(git --exec-path)/git-daemon" --export-all --reuseaddr --listen=127.0.0.1 --port="$port" \
  --base-path="$work/served" "$work/served" 2>"$work/daemon.log" &
daemon=$!
wait_port "$port" || die "git daemon did not start: $(cat "$work/daemon.log")"

# run BUILD KIND: one scan with BUILD into its own cache; appends "BUILD KIND rss_kb wall".
run() {
  local b=$1 kind=$2 args
  args=(--pattern eventlet --ignore-comments --repos-file "$work/repos.txt" --out "$work/out-$b"
    --history "$points" --every quarter)
  if [[ -n ${DISTRIBUTED:-} ]]; then
    /usr/bin/time -f "%M %e" -o "$work/time" bash "$here/distributed-scan.sh" "${bin[$b]}" \
      "$work/dist-$b" "git://127.0.0.1:$port/" 1 -- "${args[@]}" 2>"$work/log" ||
      die "$b scan failed: $(tail -3 "$work/log")"
    echo "$b $kind $(cat "$work/dist-$b/coordinator.hwm") $(cut -d' ' -f2 "$work/time")" >>"$work/runs"
    return
  fi
  /usr/bin/time -f "%M %e" -o "$work/time" "${bin[$b]}" scan "${args[@]}" \
    --git-base "git://127.0.0.1:$port/" --cache-dir "$work/cache-$b" -q 2>"$work/log" ||
    die "$b scan failed: $(tail -3 "$work/log")"
  echo "$b $kind $(cat "$work/time")" >>"$work/runs"
}

: >"$work/runs"
for b in "${builds[@]}"; do
  say "$b: cold scan"
  run "$b" cold
done
for i in $(seq "$rounds"); do
  say "round $i of $rounds"
  order=("${builds[@]}")
  ((i % 2)) || order=($(printf '%s\n' "${builds[@]}" | tac))
  for b in "${order[@]}"; do run "$b" warm; done
done
if [[ ${#builds[@]} -eq 2 ]]; then
  # Both builds render the same reports, timings aside.
  diff -r -q -I '"duration_ms"' -I '"started"' -I '"fetch_ms"' -I '"scan_ms"' -I 'Duration\|duration\|took' \
    "$work/out-before" "$work/out-after" >"$work/diff" || say "the builds' reports differ: $(head -3 "$work/diff")"
fi
occ=$(cat "$work"/out-after/history/*/occurrences.ndjson | wc -l)

python3 - "$work/runs" "$count" "$occ" "$rounds" <<'PY'
import os, statistics, sys
path, count, occ, rounds = sys.argv[1:]
runs = {}
for line in open(path):
    b, kind, rss, wall = line.split()
    runs.setdefault((b, kind), []).append((int(rss) / 1024, float(wall)))
mode = "distributed (the coordinator's peak)" if os.environ.get("DISTRIBUTED") else "embedded"
print(f"{count} repositories, 8 quarterly points, {int(occ):,} occurrences over the points, {mode}; "
      f"warm: median of {rounds} rounds taking turns.\n")
print("| build | cold: peak RSS / wall | warm: peak RSS (min–max) | warm: wall (median) |")
print("| --- | ---: | ---: | ---: |")
for b in [b for b in ("before", "after") if (b, "cold") in runs]:
    (crss, cwall), = runs[(b, "cold")]
    w = runs[(b, "warm")]
    rss = [x[0] for x in w]
    print(f"| {b} | {crss:.0f} MiB / {cwall:.1f} s | {statistics.median(rss):.0f} MiB ({min(rss):.0f}–{max(rss):.0f}) "
          f"| {statistics.median([x[1] for x in w]):.1f} s |")
PY
