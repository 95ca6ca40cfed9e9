#!/usr/bin/env bash
# What the code analysis (parsing Python files with an occurrence, and the second pass that
# finds the guards of monkey_patch) adds to a cold scan: the same cold `fleetscan scan` over
# the same mirrors with this checkout's binary and with the same source with the analysis
# switched off (tests/bench/no-analysis.patch), alternated.
#
#   bash tests/bench/analysis-cost.sh [MIRROR_DIR]
#
# The baseline is built in a temporary worktree of HEAD with the patch applied, into
# target/bench-no-analysis (kept between runs); set BEFORE_BIN and AFTER_BIN to compare two
# binaries of your own instead. Uncommitted changes are in AFTER (this checkout's release
# build) but not in the baseline. MIRROR_DIR (default: $FLEETSCAN_BENCH_MIRROR, else
# /work/.mirror) holds bare git directories MIRROR_DIR/openstack+<name>/repo, served on
# loopback by `git daemon`. Each round scans every mirror cold (a fresh cache directory) with
# the default profile once per binary, in alternating order; the median wall time and the
# median CPU time of the fleetscan process (user + system; steadier than wall time on a shared
# machine) per binary are printed as Markdown, with how many Python files were parsed and how
# many of those did not parse.
#
# Environment knobs: COST_ROUNDS (default 3), COST_JOBS (fleetscan --jobs, default 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
rounds=${COST_ROUNDS:-3}
jobs=${COST_JOBS:-2}

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
if [[ -z ${AFTER_BIN:-} ]]; then
  say "building this checkout (cargo build --release -p fleetscan-cli)"
  cargo build --release -q -p fleetscan-cli --manifest-path "$top/Cargo.toml"
fi
after=${AFTER_BIN:-$top/target/release/fleetscan}
if [[ -z ${BEFORE_BIN:-} ]]; then
  src=$(mktemp -d "${TMPDIR:-/tmp}/fleetscan-no-analysis.XXXXXX")/src
  git -C "$top" worktree add -q --detach "$src" HEAD
  ok=true
  if ! git -C "$src" apply "$here/no-analysis.patch"; then
    ok=false
    say "tests/bench/no-analysis.patch no longer applies: switch the analysis off by hand in worker/src/scan.rs and job.rs and regenerate it with git diff"
  else
    say "building the baseline without the analysis (target/bench-no-analysis)"
    cargo build --release -q -p fleetscan-cli --manifest-path "$src/Cargo.toml" \
      --target-dir "$top/target/bench-no-analysis" || ok=false
  fi
  git -C "$top" worktree remove --force "$src"
  rm -rf "${src%/src}"
  $ok || die "no baseline"
fi
before=${BEFORE_BIN:-$top/target/bench-no-analysis/release/fleetscan}
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
