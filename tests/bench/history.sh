#!/usr/bin/env bash
# History scans on real repositories: what 8 quarterly points cost against one scan of the
# head, what fetching the history costs, and the migration they show. Prints Markdown
# (BENCHMARKS.md, "History"); progress on stderr.
#
#   bash tests/bench/history.sh [MIRROR_DIR]
#
# MIRROR_DIR (default: $FLEETSCAN_BENCH_MIRROR, else /work/.mirror) holds full-history bare
# clones MIRROR_DIR/openstack+<name>/repo, served as they are by `git daemon` on loopback.
# Knobs: HISTORY_REPOS (the cost tables, default "nova neutron cinder"), HISTORY_SHOW (the
# migration tables, default "nova glance cinder"), BENCH_ROUNDS (3), COST_POINTS (the 8
# quarterly points, default 2024-07-01..2026-04-01), SHOW_POINTS (default
# 2024-04-01..2026-10-01), FLEETSCAN_BIN (default: a release build), BENCH_KEEP=DIR keeps
# the reports.
#
# 1. Cold: an empty cache, then `scan` of the head alone and `scan --history` with 8 points,
#    each into its own cache: wall time, client CPU, fetch and scan time, the clone's size
#    against the depth-1 clone and the mirror.
# 2. Scan cost, interleaved: with the clones kept and the result cache emptied, the head scan
#    and the history scan take turns for BENCH_ROUNDS rounds; the medians of scan_ms
#    (summary.json, which covers reading and analysing, not fetching) and of CPU are compared.
#    In the same rounds, both again with a pattern found nowhere (FLOOR_PATTERN): nothing is
#    parsed or analysed, so what is left is reading and searching the blobs, the floor that no
#    reuse of the analysis can go below.
# 3. Warm: the history scan again on its cache: nothing fetched, nothing scanned.
# 4. The migration: `scan --history SHOW_POINTS` of HISTORY_SHOW, its progress table, the
#    dashboard's burndown numbers, and `fleetscan diff` between two points.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
rounds=${BENCH_ROUNDS:-3}
cost_points=${COST_POINTS:-2024-07-01..2026-04-01}
show_points=${SHOW_POINTS:-2024-04-01..2026-10-01}

say() { echo "history: $*" >&2; }
die() { say "error: $*"; exit 1; }

read -r -a cost_repos <<<"${HISTORY_REPOS:-nova neutron cinder}"
read -r -a show_repos <<<"${HISTORY_SHOW:-nova glance cinder}"
all_repos=("${cost_repos[@]}")
for r in "${show_repos[@]}"; do [[ " ${all_repos[*]} " == *" $r "* ]] || all_repos+=("$r"); done

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
find_mirrors
build_fleetscan
make_work fleetscan-history
serve_mirrors
[[ -z ${BENCH_KEEP:-} ]] || mkdir -p "$BENCH_KEEP"

# run NAME CACHE REPO [ARGS...]: one scan of openstack/REPO for $pattern into $work/out/NAME;
# appends "NAME wall cpu fetch_ms scan_ms" to $work/runs.
pattern=eventlet
floor_pattern=${FLOOR_PATTERN:-zq9xv8-nowhere}
run() {
  local name=$1 cache=$2 repo=$3
  shift 3
  local out=$work/out/$name
  rm -rf "$out"
  # The history module's debug lines say how many blobs each point read again.
  FLEETSCAN_LOG=fleetscan_worker::history=debug /usr/bin/time -f "%e %U %S" -o "$work/time" \
    "$fs" scan --pattern "$pattern" --ignore-comments \
    --repo "openstack/$repo" --git-base "$base/" --cache-dir "$cache" --out "$out" \
    --format summary,ndjson,csv,md,html -q "$@" 2>"$work/log" || die "scan $name failed: $(tail -3 "$work/log")"
  read -r wall user sys <"$work/time"
  python3 - "$out/summary.json" "$name" "$wall" "$user" "$sys" "$work/log" >>"$work/runs" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1]))
r = s["repos"][0]
assert r["status"] == "scanned", r
name, wall, user, sys_, log = sys.argv[2:]
reads = [int(m) for m in re.findall(r"files since the last commit .* read=(\d+)", open(log).read())]
fetches = len(re.findall(r"fetching history", open(log).read()))
print(name, wall, round(float(user) + float(sys_), 2), r["fetch_ms"], r["scan_ms"], r["files_scanned"],
      sum(reads), len(reads), fetches)
PY
}

size_mb() { du -sm "$1" | cut -f1; }

: >"$work/runs"
: >"$work/sizes"
for r in "${cost_repos[@]}"; do
  say "openstack/$r: cold head scan and cold history scan"
  run "$r.cold-head" "$work/cache-head-$r" "$r"
  run "$r.cold-history" "$work/cache-history-$r" "$r" --history "$cost_points" --every quarter
  echo "$r $(size_mb "$work/cache-head-$r/git") $(size_mb "$work/cache-history-$r/git") $(size_mb "${gitdir[$r]}")" >>"$work/sizes"
  for i in $(seq "$rounds"); do
    say "openstack/$r: round $i of $rounds"
    # Turns alternate so that neither always runs on a warmer machine.
    if ((i % 2)); then order=(head history floor-history floor-head); else order=(history head floor-head floor-history); fi
    for kind in "${order[@]}"; do
      pattern=eventlet
      [[ $kind != floor-* ]] || pattern=$floor_pattern
      rm -rf "$work/cache-${kind#floor-}-$r/results"
      if [[ ${kind#floor-} == head ]]; then
        run "$r.$kind" "$work/cache-head-$r" "$r"
      else
        run "$r.$kind" "$work/cache-history-$r" "$r" --history "$cost_points" --every quarter
      fi
    done
    pattern=eventlet
  done
  say "openstack/$r: warm history scan"
  packs_before=$(find "$work/cache-history-$r/git" -name '*.pack' | sort | md5sum)
  run "$r.warm-history" "$work/cache-history-$r" "$r" --history "$cost_points" --every quarter
  packs_after=$(find "$work/cache-history-$r/git" -name '*.pack' | sort | md5sum)
  [[ $packs_before == "$packs_after" ]] && echo "$r unchanged" >>"$work/sizes" || echo "$r changed" >>"$work/sizes"
done

say "the migration: ${show_repos[*]} at $show_points"
show_args=()
for r in "${show_repos[@]}"; do show_args+=(--repo "openstack/$r"); done
"$fs" scan --pattern eventlet --ignore-comments "${show_args[@]}" --git-base "$base/" \
  --cache-dir "$work/cache-show" --out "$work/show" --history "$show_points" --every quarter -q \
  2>>"$work/stderr" || die "history scan failed: $(tail -3 "$work/stderr")"
first=$(python3 -c "import sys; print(sys.argv[1].split('..')[0])" "$show_points")
"$fs" diff "$work/show/history/2025-01-01" "$work/show/history/2026-07-01" --json >"$work/diff.json"
"$fs" diff "$work/show/history/$first" "$work/show/history/$first" --json >"$work/same.json"
[[ -z ${BENCH_KEEP:-} ]] || cp -r "$work/out" "$work/show" "$work/runs" "$work/sizes" "$BENCH_KEEP/"

python3 - "$work" "$cost_points" "$show_points" "$rounds" <<'PY'
import json, re, statistics, sys, html
work, cost_points, show_points, rounds = sys.argv[1:]
runs = {}
for line in open(f"{work}/runs"):
    name, wall, cpu, fetch, scan, files, reads, steps, fetches = line.split()
    runs.setdefault(name, []).append((float(wall), float(cpu), int(fetch), int(scan), int(files), int(reads), int(steps), int(fetches)))
sizes, warm = {}, {}
for line in open(f"{work}/sizes"):
    p = line.split()
    if len(p) == 4:
        sizes[p[0]] = p[1:]
    else:
        warm[p[0]] = p[1]
med = lambda xs: statistics.median(xs)
repos = list(sizes)
print(f"#### Cost of 8 quarterly points ({cost_points}) against one head scan\n")
print(f"Clones kept, result cache emptied; head and history scans take turns, median of {rounds} rounds. "
      "`scan` is summary.json's scan_ms (reading, matching, parsing, code facts); CPU is the client's user+sys.\n")
print("| repository | head scan | 8 points + head | ratio | CPU head | CPU history | CPU ratio | files at head | blobs read again per later point |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in repos:
    h, y = runs[f"{r}.head"], runs[f"{r}.history"]
    hs, ys = med([x[3] for x in h]), med([x[3] for x in y])
    hc, yc = med([x[1] for x in h]), med([x[1] for x in y])
    files, reads, steps = h[0][4], y[0][5], max(y[0][6], 1)
    print(f"| openstack/{r} | {hs/1000:.2f} s | {ys/1000:.2f} s | {ys/hs:.2f}× | {hc:.2f} s | {yc:.2f} s | {yc/hc:.2f}× | {files} | {reads/steps:.0f} |")
print(f"\nThe floor, from the same rounds: both scans again with a pattern found nowhere, so that nothing is parsed or "
      "analysed and only the tree diffs, reading the blobs and searching them are left. No reuse of the analysis "
      "makes a history cheaper than this.\n")
print("| repository | head scan, reading only | 8 points + head, reading only | ratio | CPU ratio | analysis's share of the history |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for r in repos:
    h, y = runs[f"{r}.floor-head"], runs[f"{r}.floor-history"]
    hs, ys = med([x[3] for x in h]), med([x[3] for x in y])
    hc, yc = med([x[1] for x in h]), med([x[1] for x in y])
    full = med([x[3] for x in runs[f"{r}.history"]])
    print(f"| openstack/{r} | {hs/1000:.2f} s | {ys/1000:.2f} s | {ys/hs:.2f}× | {yc/hc:.2f}× | {1 - ys/full:.0%} |")
print("\n#### Fetching the history, cold\n")
print("| repository | head: wall / fetch | history: wall / fetch (rounds) | depth-1 clone | history clone | full mirror | re-run: packs fetched |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
for r in repos:
    hw, hf = runs[f"{r}.cold-head"][0][0], runs[f"{r}.cold-head"][0][2]
    yw, yf, rounds = runs[f"{r}.cold-history"][0][0], runs[f"{r}.cold-history"][0][2], runs[f"{r}.cold-history"][0][7]
    d1, hist, full = sizes[r]
    print(f"| openstack/{r} | {hw:.1f} s / {hf/1000:.1f} s | {yw:.1f} s / {yf/1000:.1f} s ({rounds}) | {d1} MB | {hist} MB | {full} MB | "
          f"{'none' if warm.get(r) == 'unchanged' else 'some'} ({runs[f'{r}.warm-history'][0][0]:.1f} s) |")

show = f"{work}/show"
rows = [json.loads(l) for l in open(f"{show}/history.ndjson")]
points = sorted({r["at"] for r in rows})
names = sorted({r["repo"] for r in rows})
print(f"\n#### The migration, {show_points} by quarter\n")
print("Occurrences (of which in production code), migration status, deactivable verdict and complexity of each repository at each point:\n")
print("| point | " + " | ".join(names) + " |")
print("| --- |" + " --- |" * len(names))
for p in points:
    cells = []
    for n in names:
        r = next(x for x in rows if x["at"] == p and x["repo"] == n)
        if r["state"] != "scanned":
            cells.append(r["state"])
            continue
        prod = r["path_classes"].get("production", 0)
        cells.append(f"{r['occurrences']} ({prod}), {r['migration_status']}, {r['verdict']}, {r['complexity']}")
    print(f"| {p} | " + " | ".join(cells) + " |")
idx = open(f"{show}/html/index.html").read()
fig = idx.split('id="burndown"', 1)[1].split("</table></div>", 1)[0]
heads = [html.unescape(re.sub("<[^>]+>", "", h)).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", fig)]
print("\nThe dashboard's burndown (deliverables with occurrences, by state), its table:\n")
print("| " + " | ".join(heads) + " |")
print("|" + " --- |" * len(heads))
for tr in re.findall(r"<tr><td>(.*?)</tr>", fig):
    cells = [html.unescape(re.sub("<[^>]+>", "", c)) for c in re.split(r"</td><td[^>]*>", tr)]
    print("| " + " | ".join(c.replace("</td>", "") for c in cells) + " |")
d = json.load(open(f"{work}/diff.json"))
same = json.load(open(f"{work}/same.json"))
print("\n`fleetscan diff history/2025-01-01 history/2026-07-01`, per project:\n")
print("| project | occurrences | added | removed | moved | verdict | complexity | status |")
print("| --- | ---: | ---: | ---: | ---: | --- | --- | --- |")
for p in d["projects"]:
    o, n = p["old"] or {}, p["new"] or {}
    arrow = lambda k: f"{o.get(k)} → {n.get(k)}"
    print(f"| {p['repo']} | {o.get('occurrences')} → {n.get('occurrences')} | {len(p['added'])} | {len(p['removed'])} | {p['moved']} | "
          f"{arrow('verdict')} | {arrow('complexity')} | {arrow('migration')} |")
print(f"\nThe same point against itself: {len(same['projects'])} projects changed.")
PY
