#!/usr/bin/env bash
# Benchmark of distributed mode on real OpenStack repositories, offline.
#
#   bash tests/bench/distributed.sh [MIRROR_DIR]
#
# Same corpus and git daemon as tests/bench/scan.sh (MIRROR_DIR/openstack+<name>/repo bare git
# directories served on loopback). Measured, each over BENCH_ROUNDS rounds (default 3) with
# cold clone caches:
#   1. the queue and the ingestion (coordinator/examples/bench.rs, on its own Redis);
#   2. `fleetscan scan --jobs 2` (embedded);
#   3. `fleetscan submit --wait` with 1, 2 and 4 worker processes of --concurrency 1, one
#      coordinator and Redis (AOF on, fsync every second), all on this machine;
#   4. peak RSS of the coordinator and of each worker (VmHWM);
# and it checks that every distributed run wrote the same report files as the embedded one.
# A Markdown table goes to stdout, progress to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
rounds=${BENCH_ROUNDS:-3}

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
for tool in git python3 redis-server /usr/bin/time; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
find_mirrors

say "building (cargo build --release)"
cargo build --release -q -p fleetscan-cli --manifest-path "$top/Cargo.toml"
cargo build --release -q -p fleetscan-coordinator --example bench --manifest-path "$top/Cargo.toml"
fs=$top/target/release/fleetscan

work=$(mktemp -d "${TMPDIR:-/tmp}/fleetscan-dbench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}" ${daemon:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

serve_mirrors

start_redis() { # start_redis DIR: sets redis_url
  local port
  port=$(free_port)
  mkdir -p "$1"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$1" --appendonly yes --appendfsync everysec \
    --save '' --logfile redis.log &
  pids+=($!)
  wait_port "$port" || die "redis-server did not start"
  redis_url=redis://127.0.0.1:$port/0
}

hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }

# 1. Queue and ingestion.
start_redis "$work/redis-q"
say "queue and ingestion"
queue_table=$("$top/target/release/examples/bench" "$redis_url" 50000 2000000)

# 2-4.
table=$work/table.tsv
: >"$table"
for ((k = 1; k <= rounds; k++)); do
  say "round $k/$rounds: embedded --jobs 2"
  t0=$(now)
  /usr/bin/time -f '%M' -o "$work/rss" "$fs" scan --pattern eventlet "${repo_args[@]}" --git-base "$base/" \
    --cache-dir "$work/emb$k/cache" --out "$work/emb$k/out" --jobs 2 -q 2>"$work/emb.err" ||
    { cat "$work/emb.err" >&2; die "embedded scan failed"; }
  printf 'embedded --jobs 2\t%s\t%s\t-\n' "$(echo "$(now) - $t0" | bc)" "$(cat "$work/rss")" >>"$table"
  for n in 1 2 4; do
    say "round $k/$rounds: $n workers"
    d=$work/d$k-$n
    start_redis "$d/redis"
    cport=$(free_port)
    "$fs" coordinator --listen "127.0.0.1:$cport" --redis "$redis_url" 2>"$d/coordinator.log" &
    coord=$!
    pids+=("$coord")
    wait_port "$cport" || die "coordinator did not start"
    workers=()
    for ((i = 0; i < n; i++)); do
      "$fs" worker --coordinator "http://127.0.0.1:$cport" --concurrency 1 \
        --cache-dir "$d/cache$i" --worker-id "w$i" 2>"$d/worker$i.log" &
      workers+=($!)
      pids+=($!)
    done
    sleep 1 # workers connect and wait for jobs
    t0=$(now)
    "$fs" submit --coordinator "http://127.0.0.1:$cport" --pattern eventlet "${repo_args[@]}" \
      --git-base "$base/" --wait --out "$d/out" -q >/dev/null 2>"$d/submit.err" ||
      { cat "$d/submit.err" >&2; die "distributed scan failed"; }
    wall=$(echo "$(now) - $t0" | bc)
    wrss=0
    for p in "${workers[@]}"; do v=$(hwm_kb "$p"); ((v > wrss)) && wrss=$v; done
    printf '%s worker(s)\t%s\t%s\t%s\n' "$n" "$wall" "$wrss" "$(hwm_kb "$coord")" >>"$table"
    diff -r -x summary.json "$work/emb$k/out" "$d/out" >"$d/diff" ||
      { head -20 "$d/diff" >&2; die "distributed reports differ from embedded ones ($n workers)"; }
    kill "${workers[@]}" "$coord" 2>/dev/null || true
  done
done

echo "## Distributed mode ($(date -u +%Y-%m-%d), $(nproc) cores, ${#repos[@]} repositories)"
echo
echo "$queue_table"
echo
python3 - "$table" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, wall, rss, crss = line.rstrip("\n").split("\t")
    r = rows.setdefault(name, {"wall": [], "rss": [], "crss": []})
    r["wall"].append(float(wall)); r["rss"].append(int(rss))
    if crss != "-": r["crss"].append(int(crss))
base = statistics.median(rows["embedded --jobs 2"]["wall"])
print("| run | wall, median (s) | runs | vs embedded --jobs 2 | peak RSS worker/scan (MiB) | peak RSS coordinator (MiB) |")
print("| --- | ---: | --- | ---: | ---: | ---: |")
for name, r in rows.items():
    med = statistics.median(r["wall"])
    runs = ", ".join(f"{w:.2f}" for w in r["wall"])
    crss = f"{max(r['crss']) / 1024:.0f}" if r["crss"] else "-"
    print(f"| {name} | {med:.2f} | {runs} | {med / base:.2f}x | {max(r['rss']) / 1024:.0f} | {crss} |")
PY
echo
echo "Every distributed run wrote the same report files as the embedded scan (diff -r, summary.json aside)."
