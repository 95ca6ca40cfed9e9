#!/usr/bin/env bash
# Runs fleetscan on real OpenStack repositories, offline, and prints per repository its
# migration status, verdict, switches, services and complexity: the verdict table of
# BENCHMARKS.md ("Verdicts on real repositories").
#
#   bash tests/bench/verdicts.sh [MIRROR_DIR]
#
# MIRROR_DIR (default: $FLEETSCAN_BENCH_MIRROR, else /work/.mirror) holds bare git directories
# MIRROR_DIR/openstack+<name>/repo. Each mirror's HEAD tree is served as one orphan commit of a
# fresh bare repository (lib.sh `snapshot_mirrors`), by `git daemon` on loopback. The
# repositories are VERDICT_REPOS (space-separated names), by default the list below; missing
# mirrors are skipped with a message. FLEETSCAN_BIN picks the binary (default: a release build).
# The reports are kept in VERDICT_OUT (default: a new temporary directory).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}

say() { echo "verdicts: $*" >&2; }
die() { say "error: $*"; exit 1; }

read -r -a all_repos <<<"${VERDICT_REPOS:-nova cinder neutron swift oslo.service oslo.messaging glance \
  ironic manila octavia keystone designate heat barbican mistral masakari watcher aodh \
  os-brick oslo.concurrency oslo.log taskflow openstack-helm \
  python-glanceclient python-cinderclient python-novaclient nova-specs neutron-specs}"

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
find_mirrors
build_fleetscan

out=${VERDICT_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fleetscan-verdicts.XXXXXX")}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/fleetscan-verdicts-work.XXXXXX")
daemon=
cleanup() {
  stop_daemon
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
snapshot_mirrors
serve_mirrors

say "scanning ${#repos[@]} repositories into $out/reports"
rm -rf "$out/reports"
start=$(date +%s.%N)
"$fs" scan --pattern eventlet "${repo_args[@]}" --git-base "$base/" \
  --cache-dir "$work/cache" --out "$out/reports" -q || [[ $? -eq 1 ]]
end=$(date +%s.%N)
say "scan took $(python3 -c "print(round($end - $start, 1))") s"

python3 - "$out/reports" "$top/tests/testdata/real-verdicts.tsv" <<'PY'
import json, re, sys

reports, judged_file = sys.argv[1], sys.argv[2]
# The hand judgement (tests/testdata/real-verdicts.tsv): status and deactivable per repository.
judged = {}
with open(judged_file, encoding="utf-8") as f:
    for line in f:
        cols = line.rstrip("\n").split("\t")
        if line.startswith("#") or cols[0] == "repo" or len(cols) < 4:
            continue
        judged[cols[0].split("/")[-1]] = (cols[2], cols[3])
summary = json.load(open(f"{reports}/summary.json"))
teams = {}
for r in summary["repos"]:
    teams.setdefault(r["team"], None)
# Per project, the analysis text of its team file: services and factors.
text = ""
for t in teams:
    try:
        text += open(f"{reports}/teams/{t.replace('/', '_')}.md").read()
    except OSError:
        pass
print("| repository | status | deactivable | switch (default) | services without eventlet | complexity (raw) | production sites | occurrences | by hand (status / deactivable) |")
print("| --- | --- | --- | --- | --- | ---: | ---: | ---: | --- |")
agree = {"status": 0, "deactivable": 0, "judged": 0}
differ = []
for r in sorted(summary["repos"], key=lambda r: (-(r.get("complexity") or 0), r["repo"])):
    name = r["repo"].split("/")[-1]
    switches = ", ".join(f"{s['name']} ({s['default'] if s['default'] is not None else 'unset' if s['kind'] == 'env' else '?'})"
                         for s in (r.get("switches") or [])) or "-"
    section = re.search(r"^## Project: " + re.escape(name) + r"\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    body = section.group(1) if section else ""
    services = re.search(r"Services: (\d+ of \d+)", body)
    raw = re.search(r"raw score ([\d.]+)", body)
    sites = re.search(r"\((\d+) distinct call sites? in", body)
    status, verdict = r.get("migration_status") or "-", r.get("verdict") or "-"
    hand = "-"
    if name in judged:
        js, jv = judged[name]
        agree["judged"] += 1
        agree["status"] += js == status
        agree["deactivable"] += jv == verdict
        if (js, jv) != (status, verdict):
            differ.append(f"{name} ({status} / {verdict} here, {js} / {jv} by hand)")
        hand = f"{js} / {jv}" if (js, jv) != (status, verdict) else "same"
    print(f"| {name} | {status} | {verdict} | {switches} | "
          f"{services.group(1) if services else '-'} | {r.get('complexity') or '-'} ({raw.group(1) if raw else '0'}) | "
          f"{sites.group(1) if sites else 0} | {r['occurrences']} | {hand} |")
print()
print(f"Against the hand judgement ({agree['judged']} judged repositories scanned): status agrees on "
      f"{agree['status']}, deactivable on {agree['deactivable']}."
      + (" Differ: " + "; ".join(differ) + "." if differ else ""))
PY
say "reports in $out/reports"
