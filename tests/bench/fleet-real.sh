#!/usr/bin/env bash
# fleetscan at default settings against clone-only `xargs -P8` on 300+ real OpenStack
# repositories, on loopback.
#
#   bash tests/bench/fleet-real.sh [MIRROR_DIR]
#
# The repositories are the names in tests/bench/fleet-real.txt (or BENCH_REPOS_FILE), each a
# mirror MIRROR_DIR/openstack+<name>/repo (default $FLEETSCAN_BENCH_MIRROR, else /work/.mirror);
# missing mirrors are skipped with a message. The mirrors hold full history, so each is served as
# its HEAD tree in one orphan commit (lib.sh `snapshot_mirrors`): a depth-1 clone then asks the
# server for the same objects as fleetscan's depth-1 fetch, whatever the mirror's history.
# `git daemon` serves them on loopback (lib.sh `serve_mirrors`).
#
# Per round (BENCH_ROUNDS, default 3), in an order rotated each round, each from a cold cache:
#   - fleetscan: `fleetscan scan --pattern eventlet` over every repository, default settings;
#   - clone-P8: `xargs -P8` of `git clone --bare --depth 1`, one per repository.
# N = 8 because fleetscan's default is `--jobs 8` ("repositories probed and fetched at once
# (network slots)", `fleetscan scan --help`), with `--per-host 8`: at most 8 fetches from the one
# host here, the same concurrency as the xargs. The ratio fleetscan / clone-P8 is taken within
# each round, as the machine is shared and its load moves between rounds; the median is printed.
# Recorded per run: wall time, client CPU (user + sys of the command and its children, GNU time),
# server CPU (the daemon's reaped children: upload-pack and pack-objects) and peak RSS (the
# largest single process of the command, GNU time %M). Markdown on stdout, progress on stderr.
#
# Knobs: FLEETSCAN_BIN (skip the build), BENCH_ROUNDS, BENCH_REPOS_FILE.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
rounds=${BENCH_ROUNDS:-3}
list=${BENCH_REPOS_FILE:-$here/fleet-real.txt}
jobs=8 # fleetscan's default --jobs; see above.

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ -r $list ]] || die "cannot read the repository list '$list' (one name per line; set BENCH_REPOS_FILE)"
mapfile -t all_repos < <(grep -v -e '^#' -e '^[[:space:]]*$' "$list")
[[ ${#all_repos[@]} -gt 0 ]] || die "the repository list '$list' names no repository"

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
for tool in git python3 /usr/bin/time xargs; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
find_mirrors
build_fleetscan
make_work fleetscan-fleet-real
say "snapshotting ${#repos[@]} mirrors"
snapshot_mirrors
serve_mirrors
say "serving ${#repos[@]} repositories at $base"

res=$work/results.tsv
: >"$res"
printf 'openstack/%s\n' "${repos[@]}" >"$work/repos.txt"

contender() { # contender NAME ROUND
  local name=$1 k=$2 dir=$work/$1.$2
  mkdir -p "$dir"
  case $name in
  fleetscan)
    timed_run lo fleetscan "$k" "$fs" scan --pattern eventlet --repos-file "$work/repos.txt" \
      --git-base "$base/" --cache-dir "$dir/cache" --out "$dir/out" -q
    python3 "$here/report.py" check "$dir/out/summary.json" "${#repos[@]}" cold >/dev/null
    ;;
  clone-P*)
    timed_run lo "$name" "$k" bash -c 'xargs -P"$3" -I{} bash -c "clone_only {} \"\$1\" \"\$2\"" _ "$1" "$2" <"$4"' \
      _ "$dir" "$base" "${name#clone-P}" "$work/names.txt"
    local got
    got=$(find "$dir" -maxdepth 1 -name '*.git' | wc -l)
    [[ $got -eq ${#repos[@]} ]] || die "clone-only round $k: $got of ${#repos[@]} clones"
    ;;
  esac
  rm -rf "$dir"
}
printf '%s\n' "${repos[@]}" >"$work/names.txt"

contenders=(fleetscan "clone-P$jobs")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ((k = 0; k < rounds; k++)); do
  for ((i = 0; i < ${#contenders[@]}; i++)); do
    c=${contenders[(i + k) % ${#contenders[@]}]}
    say "round $((k + 1))/$rounds: $c"
    contender "$c" "$k"
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## fleetscan vs clone-only on ${#repos[@]} real repositories, loopback ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
echo
echo "$("$fs" --version 2>/dev/null | head -1) at $fs (checkout $(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)),"
echo "default settings (--jobs $jobs); clone-only: xargs -P$jobs git clone --bare --depth 1."
echo "$rounds rounds, order rotated; load average at start $load_start, at end $load_end."
echo
python3 - "$res" "fleetscan" "clone-P$jobs" <<'PY'
import statistics, sys
path, fs, base = sys.argv[1:4]
runs = {fs: {}, base: {}}  # name -> round -> (wall, cpu, server, rss KiB)
order = {}
for line in open(path):
    _, name, k, wall, cpu, srv, rss = line.rstrip("\n").split("\t")
    runs[name][int(k)] = (float(wall), float(cpu), float(srv), int(rss))
    order.setdefault(int(k), []).append(name)
print(f"| round (order) | {fs} wall s | {base} wall s | wall ratio | {fs} client CPU s | {base} client CPU s "
      f"| {fs} server CPU s | {base} server CPU s | {fs} peak RSS MiB | {base} peak RSS MiB |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
ratios = []
for k in sorted(runs[fs]):
    if k not in runs[base]:
        continue
    a, b = runs[fs][k], runs[base][k]
    ratios.append(a[0] / b[0])
    print(f"| {k + 1} ({' then '.join(order[k])}) | {a[0]:.1f} | {b[0]:.1f} | {a[0] / b[0]:.2f}x | {a[1]:.1f} | {b[1]:.1f} "
          f"| {a[2]:.1f} | {b[2]:.1f} | {a[3] / 1024:.0f} | {b[3] / 1024:.0f} |")
med = lambda name, i: statistics.median(r[i] for r in runs[name].values())
print(f"| median | {med(fs, 0):.1f} | {med(base, 0):.1f} | {statistics.median(ratios):.2f}x | {med(fs, 1):.1f} | {med(base, 1):.1f} "
      f"| {med(fs, 2):.1f} | {med(base, 2):.1f} | {med(fs, 3) / 1024:.0f} | {med(base, 3) / 1024:.0f} |")
print()
print(f"Median ratio of wall times, fleetscan / clone-only, within a round: {statistics.median(ratios):.2f}x "
      f"(target: at most 1.15x).")
PY
