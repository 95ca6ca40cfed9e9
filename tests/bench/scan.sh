#!/usr/bin/env bash
# Benchmark of the embedded scan (`fleetscan scan`) on real OpenStack repositories, offline.
#
#   bash tests/bench/scan.sh [MIRROR_DIR]
#
# MIRROR_DIR (default: $FLEETSCAN_BENCH_MIRROR, else /work/.mirror) holds bare git directories
# MIRROR_DIR/openstack+<name>/repo (or .../repo/.git). Nothing is fetched from the internet: the
# mirrors are served on loopback by `git daemon`. Missing mirrors are skipped with a message;
# with none at all the script exits 0 without measuring (CI never runs it; it is a manual tool).
#
# Measured, all on the same data in one run (see BENCHMARKS.md for what each number means):
#   1. engine throughput on checked-out files: fleetscan grep vs rg, each with 1 thread and the
#      default (the number of CPUs), vs git grep; the tools take turns within each run
#   2. end-to-end cold: fleetscan scan --jobs 2/4 vs a serial clone+grep loop and a naive
#      2-way parallel loop, all fetching from the same git daemon
#   3. warm re-run of fleetscan scan (same cache)
#   4. peak RSS of fleetscan scan (GNU time)
#   5. scanning blobs from the object database vs checking out + scanning files
# The Markdown report goes to stdout, progress to stderr.
#
# Environment knobs: FLEETSCAN_BIN (skip `cargo build`, use this binary), BENCH_RUNS (engine
# timing runs after one warm-up, default 5), BENCH_ROUNDS (end-to-end rounds, default 3),
# BENCH_PATTERN (default eventlet), BENCH_KEEP=DIR (copy raw results there).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
runs=${BENCH_RUNS:-5}
rounds=${BENCH_ROUNDS:-3}
pattern=${BENCH_PATTERN:-eventlet}

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
for tool in git rg python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
find_mirrors
build_fleetscan

# A previous run's cleanup deletes ~100k files; see create_cost below for why that matters.
stamp=${TMPDIR:-/tmp}/fleetscan-bench.cleaned
if [[ -f $stamp ]]; then
  age=$(($(date +%s) - $(cat "$stamp" 2>/dev/null || echo 0)))
  if ((age >= 0 && age < 65)); then
    say "the previous run cleaned up ${age} s ago; waiting $((65 - age)) s (see create_cost)"
    sleep $((65 - age))
  fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fleetscan-bench.XXXXXX")
daemon=
cleanup() {
  stop_daemon
  rm -rf "$work"
  date +%s >"$stamp" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

res=$work/results.tsv
: >"$res"
rec() { printf '%s\t%s\n' "$1" "$2" >>"$res"; } # rec KEY VALUE; a key may repeat (a series)
now_us() { local t=$EPOCHREALTIME; echo "${t/[.,]/}"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e6 }'; }
ok_or_nomatch() { local rc=$?; [[ $rc -eq 0 || $rc -eq 1 ]]; } # grep tools exit 1 on no match

rec meta.date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
rec meta.nproc "$(nproc)"
rec meta.cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
rec meta.mem_kb "$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)"
rec meta.kernel "$(uname -sr)"
rec meta.load "$(cut -d' ' -f1-3 /proc/loadavg)"
rec meta.git "$(git --version)"
rec meta.rg "$(rg --version | head -1)"
rec meta.fleetscan "$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
rec meta.mirror "$mirror"
rec meta.pattern "$pattern"
rec meta.runs "$runs"
rec meta.rounds "$rounds"

# File creation cost on the work directory's file system. On ext4 without a journal (as on the
# machine of BENCHMARKS.md) each new inode is checked against every inode deleted in the last
# 60 s, so creating files right after deleting tens of thousands (e.g. the previous run's
# cleanup) costs ~1 ms per file instead of ~0.1 ms. Nothing is deleted before the end of this
# run for that reason, and a slow start waits once for the window to pass.
create_cost() { # create_cost NAME: microseconds per empty file created, 2000 files
  local d=$work/create.$1 i t0 t1
  mkdir -p "$d"
  t0=$(now_us)
  for ((i = 0; i < 2000; i++)); do : >"$d/$i"; done
  t1=$(now_us)
  echo $(((t1 - t0) / 2000))
}
c=$(create_cost start)
if ((c > 400)); then
  say "creating a file costs ${c} us here (recently deleted inodes?); waiting 65 s once"
  rec meta.create_us_slow_start "$c"
  sleep 65
  c=$(create_cost start2)
fi
rec meta.create_us_start "$c"

# ---------------------------------------------------------------------------------------------
# Corpus: one HEAD tree per repository, written once to disk (no .git directory in it).
# read-tree with a private index file leaves the mirror untouched; git grep reuses that index.
say "corpus: checking out HEAD of ${#repos[@]} repositories"
mkdir -p "$work/tree" "$work/idx"
for r in "${repos[@]}"; do
  d=${gitdir[$r]}
  rec "repo.$r.commit" "$(git --git-dir="$d" rev-parse HEAD)"
  rec "repo.$r.branch" "$(git --git-dir="$d" symbolic-ref -q --short HEAD || echo '(detached)')"
  git --git-dir="$d" ls-tree -r -l HEAD |
    awk '$2 == "blob" && $1 != "120000" { n++; s += $4 } END { print n + 0, s + 0 }' |
    { read -r n s; rec "repo.$r.blobs" "$n"; rec "repo.$r.blob_bytes" "$s"; }
  mkdir -p "$work/tree/$r"
  GIT_INDEX_FILE=$work/idx/$r git --git-dir="$d" --work-tree="$work/tree/$r" read-tree -u --reset HEAD
done

# ---------------------------------------------------------------------------------------------
# 1. Engine throughput over the same files, page cache hot: one warm-up, then best of $runs.
t_fleetscan1() { "$fs" grep --pattern "$pattern" --count -j1 "$work/tree"; }
t_fleetscan() { "$fs" grep --pattern "$pattern" --count "$work/tree"; }
t_rg1() { rg --no-ignore --hidden --no-config -j1 -c -e "$pattern" "$work/tree"; }
t_rg() { rg --no-ignore --hidden --no-config -c -e "$pattern" "$work/tree"; }
t_gitgrep() { # one git grep per repository (git grep searches one repository at a time)
  local r
  for r in "${repos[@]}"; do
    (cd "$work/tree/$r" &&
      GIT_INDEX_FILE=$work/idx/$r git --git-dir="${gitdir[$r]}" --work-tree=. grep -c -e "$pattern") ||
      ok_or_nomatch
  done
}
# The tools take turns within each run, so that a change in the machine's load hits them alike.
engines=(fleetscan1 fleetscan rg1 rg gitgrep)
for name in "${engines[@]}"; do "t_$name" >"$work/engine.$name.out" || ok_or_nomatch; done
for ((i = 0; i < runs; i++)); do
  say "engine: run $((i + 1))/$runs"
  for name in "${engines[@]}"; do
    t0=$(now_us)
    "t_$name" >/dev/null || ok_or_nomatch
    t1=$(now_us)
    rec "engine.$name.s" "$(secs "$t0" "$t1")"
  done
done
read -r hits _ _ _ bytes _ <"$work/engine.fleetscan.out"
rec engine.fleetscan.count "$hits"
rec engine.bytes "$bytes"
rec engine.fleetscan1.count "$(awk '{ print $1 }' "$work/engine.fleetscan1.out")"
for name in rg1 rg gitgrep; do
  rec "engine.$name.count" "$(awk -F: '{ s += $NF } END { print s + 0 }' "$work/engine.$name.out")"
done
rec engine.files "$(find "$work/tree" -type f | wc -l)"
rec engine.disk_bytes "$(find "$work/tree" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')"

# ---------------------------------------------------------------------------------------------
serve_mirrors
tck=$(getconf CLK_TCK)
server_cpu() { sleep 0.3; awk -v t="$tck" '{ printf "%.2f", ($16 + $17) / t }' "/proc/$daemon/stat"; }

# The contenders. Each writes its matching lines so the counts can be checked afterwards.
serial_loop() { # DEST BASE PATTERN REPO...
  local dest=$1 base=$2 pattern=$3 r
  shift 3
  for r in "$@"; do
    git clone -q --depth 1 "$base/openstack/$r" "$dest/$r" || return 1
    git -C "$dest/$r" grep -n -e "$pattern" >>"$dest.out" || [[ $? -eq 1 ]] || return 1
  done
}
parallel_one() { # REPO DEST BASE PATTERN
  git clone -q --bare --depth 1 "$3/openstack/$1" "$2/$1.git" || return 1
  git --git-dir="$2/$1.git" grep -e "$4" HEAD >"$2/$1.out" || [[ $? -eq 1 ]]
}
export -f serial_loop parallel_one

timed() { # timed NAME CMD...: wall, CPU and peak RSS of CMD (GNU time) plus the server's CPU
  local name=$1 before after
  shift
  before=$(server_cpu)
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >"$work/$name.stdout" 2>"$work/$name.stderr" ||
    { cat "$work/$name.stderr" >&2; die "$name failed"; }
  after=$(server_cpu)
  read -r wall user sys rss <"$work/time"
  rec "e2e.$name.wall" "$wall"
  rec "e2e.$name.cpu" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
  rec "e2e.$name.rss_kb" "$rss"
  rec "e2e.$name.server_cpu" "$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f", b - a }')"
}

run_contender() { # run_contender NAME ROUND
  local name=$1 k=$2 dir=$work/e2e/$1.$2
  mkdir -p "$dir"
  case $name in
  serial)
    timed serial bash -c 'serial_loop "$@"' _ "$dir/c" "$base" "$pattern" "${repos[@]}"
    rec e2e.serial.lines "$(cat "$dir/c.out" | wc -l)"
    ;;
  parallel)
    mkdir -p "$dir/c"
    timed parallel bash -c 'printf "%s\n" "${@:4}" | xargs -P2 -I{} bash -c "parallel_one \"\$@\"" _ {} "$1" "$2" "$3"' \
      _ "$dir/c" "$base" "$pattern" "${repos[@]}"
    rec e2e.parallel.lines "$(cat "$dir"/c/*.out | wc -l)"
    ;;
  fleetscan-j2 | fleetscan-j4)
    local jobs=${name#fleetscan-j}
    local cmd=("$fs" scan --pattern "$pattern" "${repo_args[@]}" --git-base "$base/"
      --cache-dir "$dir/cache" --out "$dir/out" --jobs "$jobs" -q)
    timed "$name" "${cmd[@]}"
    cp "$dir/out/summary.json" "$dir/cold-summary.json"
    python3 "$here/report.py" check "$dir/cold-summary.json" "${#repos[@]}" cold >>"$res"
    rec "e2e.$name.lines" "$(python3 "$here/report.py" occurrences "$dir/cold-summary.json")"
    timed "$name-warm" "${cmd[@]}"
    python3 "$here/report.py" check "$dir/out/summary.json" "${#repos[@]}" warm >>"$res"
    if [[ $name == fleetscan-j2 ]]; then last_cache=$dir/cache last_summary=$dir/cold-summary.json; fi
    ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# 2-4. End-to-end, cold client cache, $rounds rounds; the order rotates each round.
contenders=(serial parallel fleetscan-j2 fleetscan-j4)
last_cache= last_summary=
for ((k = 0; k < rounds; k++)); do
  for ((i = 0; i < ${#contenders[@]}; i++)); do
    c=${contenders[(i + k) % ${#contenders[@]}]}
    say "end-to-end round $((k + 1))/$rounds: $c"
    rec e2e.order "$c"
    run_contender "$c" "$k"
  done
done
python3 "$here/report.py" summary "$last_summary" cold >>"$res"

# ---------------------------------------------------------------------------------------------
# 5. Object database vs checkout, on fleetscan's own (shallow) cache from the last --jobs 2 run.
# ODB: `fleetscan scan --jobs 1` again with a --max-file-size that selects the same files; the
# result-cache key changes, so the commit (already in the cache: no fetch) is scanned again.
# Best of 3, each with its own size limit. Checkout: `git read-tree -u` of the same commit out of
# the same cache into an empty directory, then `fleetscan grep` over it, then removing it.
for k in 1 2 3; do
  say "odb scan: isolated re-scan $k/3"
  "$fs" scan --pattern "$pattern" "${repo_args[@]}" --git-base "$base/" --cache-dir "$last_cache" \
    --out "$work/rescan$k" --jobs 1 --max-file-size $((32 * 1024 * 1024 - k)) -q 2>"$work/rescan.err" ||
    { cat "$work/rescan.err" >&2; die "re-scan failed"; }
  python3 "$here/report.py" check "$work/rescan$k/summary.json" "${#repos[@]}" rescan >>"$res"
  python3 "$here/report.py" summary "$work/rescan$k/summary.json" rescan >>"$res"
done
for r in "${repos[@]}"; do
  say "checkout + grep: $r"
  cg=$(find "$last_cache" -type d -name "$r.git" | head -1)
  [[ -n $cg ]] || die "no cache directory for $r under $last_cache"
  commit=$(python3 "$here/report.py" commit "$last_summary" "openstack/$r")
  for k in 1 2 3; do
    co=$work/checkout/$r.$k
    mkdir -p "$co"
    t0=$(now_us)
    GIT_INDEX_FILE=$co.idx git --git-dir="$cg" --work-tree="$co" read-tree -u --reset "$commit"
    t1=$(now_us)
    "$fs" grep --pattern "$pattern" --count "$co" >"$co.out" || ok_or_nomatch
    t2=$(now_us)
    rec "co.$r.checkout_s" "$(secs "$t0" "$t1")"
    rec "co.$r.grep_s" "$(secs "$t1" "$t2")"
    rec "co.$r.bytes" "$(awk '{ print $5 }' "$co.out")"
  done
done
rec meta.create_us_end "$(create_cost end)"
# Removing the work trees is part of the checkout approach's cost; timed last, after every
# file this run creates, so the deletions slow down no measurement (see create_cost).
for r in "${repos[@]}"; do
  for k in 1 2 3; do
    t0=$(now_us)
    rm -rf "$work/checkout/$r.$k"
    t1=$(now_us)
    rec "co.$r.rm_s" "$(secs "$t0" "$t1")"
  done
done

if [[ -n ${BENCH_KEEP:-} ]]; then mkdir -p "$BENCH_KEEP" && cp "$res" "$BENCH_KEEP/"; fi
python3 "$here/report.py" report "$res"
