#!/usr/bin/env bash
# Benchmark at fleet scale: 10,000 synthetic repositories, distributed against embedded.
#
#   bash tests/bench/fleet10k.sh            # BENCH_REPOS=10000 BENCH_ROUNDS=3
#
# 1. Generates the fleet (tests/bench/fleet.py: one `git fast-import` stream into one object
#    store, one bare repository per name borrowing its objects) and a governance file of 100
#    teams of 100 repositories, and serves them with `git daemon` on a free loopback port.
# 2. Per round, in alternating order (the machine is shared: ratios come from runs that took
#    turns, and medians over rounds are reported):
#    - embedded: `fleetscan scan --jobs 8` with a cold clone cache;
#    - distributed: a private `redis-server` (free loopback port, AOF with fsync every second),
#      one coordinator and 4 workers of `--concurrency 2` (8 jobs at a time, as --jobs 8), all
#      on this machine; `fleetscan submit --wait`, then `fleetscan report` separately, so the
#      render is timed on its own.
#    Recorded: wall times, jobs/s, occurrences/s, peak RSS (VmHWM) of the coordinator (during
#    the scan and during the report), of each worker and of Redis, Redis memory (INFO
#    used_memory, and MEMORY USAGE of the results hash and of job hashes), the CPU the
#    coordinator spent rendering, and the size of the outline the coordinator renders from
#    (coordinator/examples/outline.rs, counted by the allocator).
# 3. Checks that every distributed run wrote the same report files as the embedded run of its
#    round (`diff -r`, summary.json aside: it holds timings).
# A Markdown table goes to stdout, progress to stderr. Needs git, python3, redis-server,
# redis-cli, GNU time and bc; nothing is fetched from the network.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
count=${BENCH_REPOS:-10000}
rounds=${BENCH_ROUNDS:-3}
workers=${BENCH_WORKERS:-4}
per_worker=${BENCH_WORKER_CONCURRENCY:-2}
jobs=$((workers * per_worker))

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
for tool in git python3 redis-server redis-cli /usr/bin/time bc; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
build_fleetscan
say "building the outline measurement (cargo build --release --example outline)"
cargo build --release -q -p fleetscan-coordinator --example outline --manifest-path "$top/Cargo.toml"
outline_bin=$top/target/release/examples/outline

work=$(mktemp -d "${TMPDIR:-/tmp}/fleetscan-fleet10k.XXXXXX")
pids=()
daemon=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  stop_daemon
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# CPU seconds (user + system) of process $1 so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
# CPU seconds of the git daemon's children so far (upload-pack, pack-objects), once reaped:
# what serving the fleet costs.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($16 + $17) / hz }' "/proc/$daemon/stat"; }

# 1. The fleet.
say "generating $count repositories"
t0=$(now)
git init -q --bare "$work/store.git"
python3 "$here/fleet.py" stream "$count" |
  git --git-dir="$work/store.git" fast-import --quiet --export-marks="$work/marks"
python3 "$here/fleet.py" layout "$count" "$work/store.git" "$work/marks" "$work/served"
python3 "$here/fleet.py" governance "$count" >"$work/governance.yaml"
gen_s=$(echo "$(now) - $t0" | bc)
say "generated in ${gen_s}s ($(du -sh "$work/store.git/objects" | cut -f1) of objects)"

port=$(free_port)
"$(git --exec-path)/git-daemon" --export-all --reuseaddr --listen=127.0.0.1 --port="$port" \
  --base-path="$work/served" "$work/served" 2>"$work/daemon.log" &
daemon=$!
wait_port "$port" || die "git daemon did not start"
base=git://127.0.0.1:$port
selection=(--pattern eventlet --governance "$work/governance.yaml" --repo-pattern 'openstack/*'
  --git-base "$base/" -q)

rows=$work/rows.jsonl
: >"$rows"

embedded() { # embedded ROUND
  local d=$work/e$1 t wall
  mkdir -p "$d"
  say "round $1: embedded --jobs $jobs"
  local server0
  server0=$(server_cpu)
  t=$(now)
  /usr/bin/time -f '%M %U %S' -o "$d/time" "$fs" scan "${selection[@]}" --jobs "$jobs" \
    --cache-dir "$d/cache" --out "$d/out" 2>"$d/err" || [[ $? -eq 1 ]] ||
    { tail -5 "$d/err" >&2; die "embedded scan failed"; }
  wall=$(echo "$(now) - $t" | bc)
  read -r rss user sys <"$d/time"
  row "$d/out/summary.json" mode=embedded round="$1" wall="$wall" rss_kb="$rss" \
    cpu="$(echo "$user + $sys" | bc)" server_cpu="$(echo "$(server_cpu) - $server0" | bc)"
  rm -rf "$d/cache"
}

# row SUMMARY KEY=VALUE...: one JSON line into $rows, with the totals of summary.json.
row() {
  python3 - "$@" >>"$rows" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
row = {k: t[k] for k in ("repos", "failed", "occurrences")}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    row[k] = v if k in ("mode", "workers_kb") else float(v)
print(json.dumps(row))
PY
}

# CPU seconds Redis on port $1 has used.
redis_cpu() {
  redis-cli -p "$1" info cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { print s }'
}

distributed() { # distributed ROUND
  local d=$work/d$1 rport cport redis coord t t1 wall render i id wrss base_mem
  local -a ws=()
  mkdir -p "$d/redis"
  say "round $1: distributed, $workers workers of --concurrency $per_worker"
  rport=$(free_port)
  redis-server --bind 127.0.0.1 --port "$rport" --dir "$d/redis" --appendonly yes \
    --appendfsync everysec --save '' --logfile redis.log &
  redis=$!
  pids+=("$redis")
  wait_port "$rport" || die "redis-server did not start"
  cport=$(free_port)
  "$fs" coordinator --listen "127.0.0.1:$cport" --redis "redis://127.0.0.1:$rport/0" \
    2>"$d/coordinator.log" &
  coord=$!
  pids+=("$coord")
  wait_port "$cport" || die "coordinator did not start"
  for ((i = 0; i < workers; i++)); do
    "$fs" worker --coordinator "http://127.0.0.1:$cport" --concurrency "$per_worker" \
      --cache-dir "$d/cache$i" --worker-id "w$i" 2>"$d/worker$i.log" &
    ws+=($!)
    pids+=($!)
  done
  sleep 1 # the workers connect and wait for jobs
  local base_mem coord_cpu0 redis_cpu0 workers_cpu0=0
  base_mem=$(redis-cli -p "$rport" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
  coord_cpu0=$(cpu_s "$coord")
  redis_cpu0=$(redis_cpu "$rport")
  for p in "${ws[@]}"; do workers_cpu0=$(echo "$workers_cpu0 + $(cpu_s "$p")" | bc); done
  local server0
  server0=$(server_cpu)
  t=$(now)
  id=$("$fs" submit --coordinator "http://127.0.0.1:$cport" "${selection[@]}" --wait \
    2>"$d/submit.err") || [[ $? -eq 1 ]] || { tail -5 "$d/submit.err" >&2; die "submit failed"; }
  t1=$(now)
  wall=$(echo "$t1 - $t" | bc)
  local server
  server=$(echo "$(server_cpu) - $server0" | bc)
  local wrss="" workers_cpu=0 p
  for p in "${ws[@]}"; do
    wrss+="$(hwm_kb "$p"),"
    workers_cpu=$(echo "$workers_cpu + $(cpu_s "$p")" | bc)
  done
  local coord_scan coord_rss0 coord_cpu1 redis_hwm mem results jobmem
  coord_scan=$(hwm_kb "$coord")
  coord_rss0=$(rss_kb "$coord")
  coord_cpu1=$(cpu_s "$coord")
  redis_hwm=$(hwm_kb "$redis")
  mem=$(redis-cli -p "$rport" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
  results=$(redis-cli -p "$rport" memory usage "fleetscan:scan:$id:results" samples 0)
  jobmem=0
  for ((i = 0; i < 100; i++)); do
    jobmem=$((jobmem + $(redis-cli -p "$rport" memory usage "fleetscan:job:$id:$((i * count / 100))" samples 0)))
  done
  local outline
  outline=$("$outline_bin" "redis://127.0.0.1:$rport/0" "$id" | awk '{ print $3 }')
  say "round $1: report"
  t=$(now)
  /usr/bin/time -f '%M' -o "$d/client-rss" "$fs" report "$id" --coordinator "http://127.0.0.1:$cport" \
    --out "$d/out" 2>"$d/report.err" || { tail -5 "$d/report.err" >&2; die "report failed"; }
  render=$(echo "$(now) - $t" | bc)
  row "$d/out/summary.json" mode=distributed round="$1" wall="$(echo "$wall + $render" | bc)" \
    scan_wall="$wall" render="$render" rss_kb="$(cat "$d/client-rss")" workers_kb="${wrss%,}" \
    coord_scan_kb="$coord_scan" coord_before_report_kb="$coord_rss0" \
    coord_report_kb="$(hwm_kb "$coord")" coord_scan_cpu="$(echo "$coord_cpu1 - $coord_cpu0" | bc)" \
    coord_render_cpu="$(echo "$(cpu_s "$coord") - $coord_cpu1" | bc)" \
    redis_cpu="$(echo "$(redis_cpu "$rport") - $redis_cpu0" | bc)" \
    workers_cpu="$(echo "$workers_cpu - $workers_cpu0" | bc)" redis_kb="$redis_hwm" \
    redis_bytes="$((mem - base_mem))" results_bytes="$results" job_bytes="$((jobmem / 100))" \
    outline_bytes="$outline" server_cpu="$server"
  kill "${ws[@]}" "$coord" "$redis" 2>/dev/null || true
  wait "${ws[@]}" "$coord" "$redis" 2>/dev/null || true
  rm -rf "$d"/cache* "$d/redis"
}

# Both runs of round $1 wrote the same report files (summary.json aside: it holds timings).
same_reports() {
  diff -r -x summary.json -I 'started [0-9]\{4\}-' "$work/e$1/out" "$work/d$1/out" >"$work/diff$1" ||
    { head -20 "$work/diff$1" >&2; die "round $1: the distributed reports differ from the embedded ones"; }
  rm -rf "$work/e$1/out" "$work/d$1/out"
}

for ((k = 1; k <= rounds; k++)); do
  if ((k % 2)); then
    embedded "$k"
    distributed "$k"
  else
    distributed "$k"
    embedded "$k"
  fi
  same_reports "$k"
done

echo "## $count repositories ($(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "Fleet generated in ${gen_s} s. Embedded \`scan --jobs $jobs\`; distributed: $workers workers of"
echo "\`--concurrency $per_worker\`, one coordinator, Redis with AOF (fsync every second)."
echo
python3 - "$rows" <<'PY'
import json, statistics as st, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
emb = sorted((r for r in rows if r["mode"] == "embedded"), key=lambda r: r["round"])
dis = sorted((r for r in rows if r["mode"] == "distributed"), key=lambda r: r["round"])
med = lambda rs, k: st.median(r[k] for r in rs)
runs = lambda rs, k, f="{:.1f}": ", ".join(f.format(r[k]) for r in rs)
mib = lambda kb: f"{kb / 1024:.0f}"
repos, occ = int(emb[0]["repos"]), int(emb[0]["occurrences"])
print(f"{repos:,} repositories, {occ:,} occurrences; failed per run: {', '.join(str(int(r['failed'])) for r in rows)}.\n")
ratio = [d["wall"] / e["wall"] for e, d in zip(emb, dis)]
ew, dw, ds, dr = med(emb, "wall"), med(dis, "wall"), med(dis, "scan_wall"), med(dis, "render")
print("| | embedded | distributed |")
print("| --- | ---: | ---: |")
print(f"| wall, scan and all reports, median (s) | {ew:.1f} | {dw:.1f} |")
print(f"| runs, by round (s) | {runs(emb, 'wall')} | {runs(dis, 'wall')} |")
print(f"| distributed / embedded, each round | | {', '.join(f'{x:.2f}' for x in ratio)}; median **{st.median(ratio):.2f}** |")
print(f"| scan until completed, median (s) | - | {ds:.1f} ({runs(dis, 'scan_wall')}) |")
print(f"| jobs/s | {repos / ew:.0f} (scan and reports) | {repos / ds:.0f} (scan) |")
print(f"| occurrences/s ingested | - | {occ / ds:,.0f} |")
print(f"| `fleetscan report`, all formats (s) | - | {dr:.1f} ({runs(dis, 'render')}) |")
print(f"| CPU (s): embedded scan / workers | {med(emb, 'cpu'):.0f} | {med(dis, 'workers_cpu'):.0f} |")
print(f"| CPU (s): the git daemon serving the fleet | {med(emb, 'server_cpu'):.0f} | {med(dis, 'server_cpu'):.0f} |")
print(f"| CPU (s): coordinator during the scan / rendering | - | {med(dis, 'coord_scan_cpu'):.1f} / {med(dis, 'coord_render_cpu'):.1f} |")
print(f"| CPU (s): Redis during the scan | - | {med(dis, 'redis_cpu'):.1f} ({1e6 * med(dis, 'redis_cpu') / repos:.0f} µs a job) |")
print(f"| peak RSS (MiB): embedded scan / `fleetscan report` client | {mib(max(r['rss_kb'] for r in emb))} | {mib(max(r['rss_kb'] for r in dis))} |")
ws = [[int(x) for x in r["workers_kb"].split(",")] for r in dis]
print(f"| peak RSS (MiB): each worker, last round (highest of all rounds) | - | {', '.join(mib(x) for x in ws[-1])} ({mib(max(max(w) for w in ws))}) |")
print(f"| peak RSS (MiB): coordinator during the scan | - | {mib(max(r['coord_scan_kb'] for r in dis))} |")
print(f"| peak RSS (MiB): coordinator with the report (RSS before it) | - | **{mib(max(r['coord_report_kb'] for r in dis))}** ({mib(med(dis, 'coord_before_report_kb'))}) |")
print(f"| outline the coordinator renders from (MiB; bytes a repository) | - | {med(dis, 'outline_bytes') / 2**20:.1f}; {med(dis, 'outline_bytes') / repos:,.0f} |")
print(f"| peak RSS (MiB): Redis | - | {mib(max(r['redis_kb'] for r in dis))} |")
mem, res, job = med(dis, "redis_bytes"), med(dis, "results_bytes"), med(dis, "job_bytes")
print(f"| Redis memory for the scan (MiB) | - | {mem / 2**20:.1f} |")
print(f"| Redis memory per repository (bytes) | - | {mem / repos:,.0f} (its job hash: {job:,.0f}) |")
print(f"| Redis memory per occurrence (bytes) | - | {mem / occ:,.0f} (the results hash alone: {res / occ:,.0f}) |")
PY
echo
echo "Every distributed run wrote the same report files as the embedded run of its round (diff -r, summary.json aside)."
