#!/usr/bin/env bash
# The CPU floor of a cold scan of one repository (default openstack/nova) against fleetscan's
# client CPU for that scan.
#
#   bash tests/bench/floor.sh [MIRROR_DIR]
#
# fleetscan scans the repository cold (empty cache) from `git daemon` on loopback, BENCH_ROUNDS
# times (default 3); its client CPU is user + system time (GNU time). The floor is computed on
# the pack fleetscan fetched (tests/bench/inflate_floor.py): every object inflated once with
# stock zlib and with zlib-ng, and one SHA-1 over every object. A cold scan inflates each
# object twice (the indexer, then the scan) and hashes it once (the indexer), so the floor is
# 2 x inflate + 1 x SHA-1. Needs the `zlib-ng` Python package: installed into a venv under
# the work directory when missing. Markdown on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
rounds=${BENCH_ROUNDS:-3}
all_repos=("${BENCH_REPO:-nova}")

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
find_mirrors
build_fleetscan
make_work fleetscan-floor
py=python3
if ! python3 -c 'import zlib_ng' 2>/dev/null; then
  say "installing the zlib-ng Python package into a venv"
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q --disable-pip-version-check zlib-ng==0.5.1
  py=$work/venv/bin/python3
fi
serve_mirrors
r=${repos[0]}
cpu=()
for ((k = 0; k < rounds; k++)); do
  say "cold scan $((k + 1))/$rounds of openstack/$r"
  rm -rf "$work/cache"
  /usr/bin/time -f '%U %S %M' -o "$work/time" "$fs" scan --pattern eventlet --repo "openstack/$r" \
    --git-base "$base/" --cache-dir "$work/cache" --out "$work/out" -q 2>"$work/err" ||
    { cat "$work/err" >&2; die "scan failed"; }
  read -r user sys rss <"$work/time"
  cpu+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')")
done
git_dir=$(find "$work/cache/git" -type d -name "$r.git" | head -1)
pack=$(ls "$git_dir"/objects/pack/*.pack)
say "floor on $pack"
"$py" "$here/inflate_floor.py" "$pack" "$git_dir" >"$work/floor.tsv"
"$py" - "$work/floor.tsv" "$r" "${cpu[@]}" <<'PY'
import statistics, sys
f = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[1]))
repo, cpu = sys.argv[2], [float(x) for x in sys.argv[3:]]
z, ng, sha = float(f["inflate_zlib"]), float(f["inflate_zlibng"]), float(f["sha1"])
med = statistics.median(cpu)
print(f"## CPU floor of a cold scan of openstack/{repo}\n")
print(f"Pack: {int(f['objects']):,} objects, {int(f['packed_bytes']):,} bytes packed, "
      f"{int(f['inflated_bytes']):,} inflated, {int(f['full_bytes']):,} as full objects.\n")
print("| | CPU s |")
print("| --- | ---: |")
print(f"| inflate every object once, stock zlib | {z:.3f} |")
print(f"| inflate every object once, zlib-ng | {ng:.3f} |")
print(f"| SHA-1 over every object once (OpenSSL) | {sha:.3f} |")
print(f"| floor, stock zlib: 2 x inflate + SHA-1 | {2 * z + sha:.3f} |")
print(f"| floor, zlib-ng: 2 x inflate + SHA-1 | {2 * ng + sha:.3f} |")
print(f"| fleetscan scan, cold, client CPU (median of {', '.join(f'{c:.2f}' for c in cpu)}) | {med:.3f} |")
print(f"\nfleetscan / zlib-ng floor: **{med / (2 * ng + sha):.2f}x**; "
      f"fleetscan / stock-zlib floor: {med / (2 * z + sha):.2f}x.")
PY
