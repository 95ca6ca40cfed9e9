#!/usr/bin/env bash
# What parsing Python files adds to a cold scan: the same cold `fleetscan scan` over the same
# mirrors with a binary from before the code analysis and one from after, alternated.
#
#   bash tests/bench/analysis-cost.sh BEFORE_BIN AFTER_BIN [MIRROR_DIR]
#
# BEFORE_BIN is a release build of a commit without the Python parse (for example
# `git worktree add /tmp/base 2ed2bd0 && cargo build --release --manifest-path
# /tmp/base/Cargo.toml -p fleetscan-cli`), AFTER_BIN one of the commit to measure. MIRROR_DIR
# (default: $FLEETSCAN_BENCH_MIRROR, else /work/.mirror) holds bare git directories
# MIRROR_DIR/openstack+<name>/repo, served on loopback by `git daemon`. Each round scans every
# mirror cold (a fresh cache directory) with the default profile once per binary, in
# alternating order; the median wall time and the median CPU time of the fleetscan process
# (user + system; steadier than wall time on a shared machine) per binary are printed as
# Markdown, with how many Python files were parsed and how many of those did not parse.
#
# Environment knobs: COST_ROUNDS (default 3), COST_JOBS (fleetscan --jobs, default 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[[ $# -ge 2 ]] || { echo "usage: $0 BEFORE_BIN AFTER_BIN [MIRROR_DIR]" >&2; exit 2; }
before=$1
after=$2
mirror=${3:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
rounds=${COST_ROUNDS:-3}
jobs=${COST_JOBS:-2}

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
for b in "$before" "$after"; do [[ -x $b ]] || die "no fleetscan binary at $b"; done
all_repos=()
for d in "$mirror"/openstack+*; do [[ -d $d ]] && all_repos+=("${d##*/openstack+}"); done
find_mirrors
make_work fleetscan-cost
serve_mirrors

# "wall cpu" seconds of one cold scan with binary $1 and extra flags $2..
scan() {
  local bin=$1
  shift
  rm -rf "$work/cache" "$work/out"
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$bin" scan --pattern eventlet --git-base "$base" --cache-dir "$work/cache" --out "$work/out" --jobs "$jobs" \
    --format summary --format ndjson "$@" "${repo_args[@]}" >/dev/null 2>"$work/scan.log" || true
  # A repository that fails (a mirror missing a blob) fails for both binaries alike.
  [[ -s $work/out/summary.json ]] || { cat "$work/scan.log" >&2; die "scan failed"; }
  # GNU time puts "Command exited with non-zero status" first when a repository failed.
  tail -n 1 "$work/time" | awk '{printf "%.2f %.2f\n", $1, $2 + $3}'
}

command -v /usr/bin/time >/dev/null || die "GNU time (/usr/bin/time) is required"
declare -A times=() cpus=()
for round in $(seq "$rounds"); do
  order=("before" "after")
  ((round % 2 == 0)) && order=("after" "before")
  for which in "${order[@]}"; do
    bin=$before
    [[ $which == after ]] && bin=$after
    read -r t c < <(scan "$bin")
    times[$which]+="$t "
    cpus[$which]+="$c "
    say "round $round: $which: ${t}s wall, ${c}s CPU"
  done
done
counts=$(python3 -c "
import json
d = json.load(open('$work/out/summary.json'))
unparsed = sum(len(r.get('unparsed', [])) for r in d['repos'])
py = {(o['repo'], o['path']) for o in map(json.loads, open('$work/out/occurrences.ndjson')) if 'role' in o}
print(f'{len(py) + unparsed} Python files with an occurrence parsed, {unparsed} of them with syntax errors')")
median() { python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" $1; }

echo "## Cost of the code analysis on a cold scan"
echo
echo "$(date -u +%FT%TZ), ${#repos[@]} repositories from $mirror, --jobs $jobs, median of $rounds rounds."
echo
echo "| binary | wall, median (s) | CPU, median (s) | wall runs (s) |"
echo "|---|---:|---:|---|"
for which in before after; do
  echo "| $which | $(median "${times[$which]}") | $(median "${cpus[$which]}") | ${times[$which]}|"
done
pct() { python3 -c "print(f'{($2 - $1) / $1 * 100:+.1f} %')"; }
echo
echo "Added by the analysis: wall $(pct "$(median "${times[before]}")" "$(median "${times[after]}")"), CPU $(pct "$(median "${cpus[before]}")" "$(median "${cpus[after]}")") ($counts)."
