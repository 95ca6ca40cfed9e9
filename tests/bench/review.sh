#!/usr/bin/env bash
# Runs the analysis on real OpenStack repositories, offline, and draws a fixed-seed sample of
# its decisions for a person to review.
#
#   bash tests/bench/review.sh [MIRROR_DIR]
#
# MIRROR_DIR (default: $FLEETSCAN_BENCH_MIRROR, else /work/.mirror) holds bare git directories
# MIRROR_DIR/openstack+<name>/repo, served on loopback by `git daemon` as in scan.sh. The scan is
# `fleetscan scan --pattern eventlet --ignore-comments` over every mirror found.
#
# Writes to REVIEW_OUT (default: a new directory under $TMPDIR, kept and printed):
#   reports/      the reports (team files with each project's verdict and score);
#   sample.tsv    REVIEW_SIZE (default 200) occurrences drawn with seed REVIEW_SEED (default 5),
#                 stratified by repository and path class, with two empty columns for the
#                 reviewer's judgement (path class right? categories right?).
# and prints on stdout a Markdown table of each repository's verdict, complexity, raw score and
# occurrence counts, and the make-up of the sample. The sample holds code from the scanned
# repositories: keep it out of this repository and record only aggregate figures.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
size=${REVIEW_SIZE:-200}
seed=${REVIEW_SEED:-5}

say() { echo "review: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
find_mirrors
build_fleetscan

out=${REVIEW_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fleetscan-review.XXXXXX")}
mkdir -p "$out"
make_work fleetscan-review-work
serve_mirrors

say "scanning ${#repos[@]} repositories into $out/reports"
rm -rf "$out/reports"
"$fs" scan --pattern eventlet --ignore-comments "${repo_args[@]}" --git-base "$base/" \
  --cache-dir "$work/cache" --out "$out/reports" -q

python3 - "$out" "$size" "$seed" <<'EOF'
import glob, json, random, re, sys
from collections import Counter, defaultdict

out, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
occ = [json.loads(l) for l in open(f"{out}/reports/occurrences.ndjson")]

# Per repository: verdict, score, raw score and counts from the team files.
rows = {}
for team in sorted(glob.glob(f"{out}/reports/teams/*.md")):
    text = open(team).read()
    for project, verdict, score, prod, tests, docs, config in re.findall(
            r"^\| ([\w.-]+) \| (Yes|No|Maybe) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", text, re.M):
        raw = re.search(r"## Project: " + re.escape(project) + r"\n(?:.*\n)*?.*raw score ([\d.]+); (\d+) production files", text)
        rows[project] = (verdict, score, raw.group(1) if raw else "0", raw.group(2) if raw else "0",
                         prod, tests, docs, config)
    none = re.search(r"^## Projects with no occurrences\n\n(.*?)(?:\n\n|\Z)", text, re.M | re.S)
    for project in re.split(r"[,\s]+", none.group(1).strip()) if none else []:
        rows[project] = ("–", "–", "0", "0", "0", "0", "0", "0")  # not analysed
print("| repository | deactivable | complexity | raw score | production files | production | tests | docs | config |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for project, r in sorted(rows.items(), key=lambda kv: (-float(kv[1][2]), kv[0])):
    print(f"| {project} | " + " | ".join(r) + " |")

# A sample stratified by (repository, path class): every stratum gets at least one draw, the
# rest is shared in proportion to the stratum's size.
strata = defaultdict(list)
for i, o in enumerate(occ):
    strata[(o["repo"], o["path_class"])].append(i)
rng = random.Random(seed)
keys = sorted(strata)
take = {k: 1 for k in keys}
left = max(size - len(keys), 0)
total = sum(len(strata[k]) - 1 for k in keys)
for k in keys:
    take[k] += round(left * (len(strata[k]) - 1) / total) if total else 0
picked = []
for k in keys:
    picked += rng.sample(strata[k], min(take[k], len(strata[k])))
picked.sort()
with open(f"{out}/sample.tsv", "w") as f:
    f.write("n\trepo\tpath\tline\tpath_class\tcategories\tsubpatterns\ttext\tclass_ok\tcategories_ok\n")
    for n, i in enumerate(picked, 1):
        o = occ[i]
        f.write("\t".join(map(str, [n, o["repo"], o["path"], o["line"], o["path_class"],
                ",".join(o["categories"]) or "-", ",".join(o["subpatterns"]), o["text"].replace("\t", " "), "", ""])) + "\n")
print()
print(f"{len(occ)} occurrences; sample of {len(picked)} (seed {seed}) by path class: " +
      ", ".join(f"{c} {n}" for c, n in sorted(Counter(occ[i]["path_class"] for i in picked).items())))
EOF
say "reports and sample.tsv in $out"
