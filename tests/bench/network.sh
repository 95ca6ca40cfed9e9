#!/usr/bin/env bash
# fleetscan against the obvious shell loops, on loopback and behind an emulated WAN link.
#
#   bash tests/bench/network.sh [MIRROR_DIR]
#
# The corpus (13 OpenStack repositories by default) is served by `git daemon` on loopback from
# MIRROR_DIR/openstack+<name>/repo, as in tests/bench/scan.sh. The WAN is the test harness's
# proxy (tests/src/wan.rs, run as `examples/wan_proxy`) in front of that daemon: 50 ms each way
# and 2 MB/s per connection and direction. For each network, BENCH_ROUNDS rounds (default 3),
# the order of the contenders rotated each round, each from a cold cache:
#   - fleetscan scan at default settings (--jobs 8), and at --jobs 2 and 16 (--per-host 16);
#   - naive: xargs -P2 of `git clone --bare --depth 1` + `git grep HEAD`;
#   - clone only: xargs -P2 and -P8 of `git clone --bare --depth 1`;
#   - distributed-2w: the distributed mode (tests/bench/distributed-scan.sh: Redis, a
#     coordinator and 2 workers at default settings, `submit --wait`; their start-up is timed
#     too); distributed-2w-cN gives the workers --concurrency N;
# then, on loopback, a warm re-run of the default scan. With BENCH_BEFORE_BIN set, that
# binary's default scan runs too, as "before" (an older build to compare with). Ratios are taken within each round
# and their median printed. Markdown on stdout, progress on stderr.
#
# Knobs: FLEETSCAN_BIN, WAN_PROXY_BIN (skip the builds), BENCH_BEFORE_BIN, BENCH_ROUNDS, BENCH_NETS ("wan lo"),
# BENCH_DELAY_MS (50), BENCH_RATE (2000000 bytes/s), BENCH_REPOS (space-separated names),
# BENCH_CONTENDERS (space-separated; default every one above but the cN variants).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
rounds=${BENCH_ROUNDS:-3}
nets=${BENCH_NETS:-wan lo}
delay_ms=${BENCH_DELAY_MS:-50}
rate=${BENCH_RATE:-2000000}
pattern=eventlet
read -r -a all_repos <<<"${BENCH_REPOS:-nova glance cinder heat oslo.service neutron nova-specs python-novaclient swift oslo.messaging keystone ironic octavia}"

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
for tool in git python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
find_mirrors
build_fleetscan
if [[ -n ${WAN_PROXY_BIN:-} ]]; then
  proxy_bin=$WAN_PROXY_BIN
else
  say "building the WAN proxy (cargo build --release -p fleetscan-tests --example wan_proxy)"
  cargo build --release -q -p fleetscan-tests --example wan_proxy --manifest-path "$top/Cargo.toml"
  proxy_bin=$top/target/release/examples/wan_proxy
fi

make_work fleetscan-net
proxy=
trap 'stop_daemon; [[ -n $proxy ]] && kill "$proxy" 2>/dev/null; rm -rf "$work"' EXIT
serve_mirrors
lo_base=$base
"$proxy_bin" "${lo_base##*:}" "$delay_ms" "$rate" >"$work/proxy.port" &
proxy=$!
for _ in $(seq 100); do [[ -s $work/proxy.port ]] && break; sleep 0.05; done
wan_base=git://127.0.0.1:$(cat "$work/proxy.port")
wait_port "${wan_base##*:}" || die "the WAN proxy did not start"

res=$work/results.tsv
: >"$res"
clone_grep() { # REPO DEST BASE PATTERN
  git clone -q --bare --depth 1 "$3/openstack/$1" "$2/$1.git" || return 1
  git --git-dir="$2/$1.git" grep -e "$4" HEAD >"$2/$1.out" || [[ $? -eq 1 ]]
}
export -f clone_grep

contender() { # contender NET NAME ROUND
  local net=$1 name=$2 k=$3 b dir=$work/$1.$2.$3
  [[ $net == wan ]] && b=$wan_base || b=$lo_base
  mkdir -p "$dir"
  case $name in
  fleetscan* | before)
    local extra=() bin=$fs
    [[ $name == before ]] && bin=$BENCH_BEFORE_BIN
    case $name in
    fleetscan-j16) extra=(--jobs 16 --per-host 16) ;;
    fleetscan-j*) extra=(--jobs "${name#fleetscan-j}") ;;
    esac
    local cmd=("$bin" scan --pattern "$pattern" "${repo_args[@]}" --git-base "$b/"
      --cache-dir "$dir/cache" --out "$dir/out" -q "${extra[@]}")
    timed_run "$net" "$name" "$k" "${cmd[@]}"
    python3 "$here/report.py" check "$dir/out/summary.json" "${#repos[@]}" cold >/dev/null
    if [[ $name == fleetscan && $net == lo ]]; then
      timed_run "$net" fleetscan-warm "$k" "${cmd[@]}"
      python3 "$here/report.py" check "$dir/out/summary.json" "${#repos[@]}" warm >/dev/null
    fi
    ;;
  distributed-2w*)
    # Redis, a coordinator and 2 workers of their own, started and stopped inside the timed run.
    local wargs=()
    [[ $name == distributed-2w-c* ]] && wargs=(--concurrency "${name#distributed-2w-c}")
    timed_run "$net" "$name" "$k" bash "$here/distributed-scan.sh" "$fs" "$dir/d" "$b/" 2 \
      "${wargs[@]}" -- --pattern "$pattern" "${repo_args[@]}" --out "$dir/out"
    python3 "$here/report.py" check "$dir/out/summary.json" "${#repos[@]}" cold >/dev/null
    ;;
  naive-P2)
    timed_run "$net" "$name" "$k" bash -c 'printf "%s\n" "${@:3}" | xargs -P2 -I{} bash -c "clone_grep {} \"\$1\" \"\$2\" eventlet" _ "$1" "$2"' \
      _ "$dir" "$b" "${repos[@]}"
    ;;
  clone-P*)
    timed_run "$net" "$name" "$k" bash -c 'printf "%s\n" "${@:4}" | xargs -P"$3" -I{} bash -c "clone_only {} \"\$1\" \"\$2\"" _ "$1" "$2"' \
      _ "$dir" "$b" "${name#clone-P}" "${repos[@]}"
    ;;
  esac
  rm -rf "$dir"
}

read -r -a contenders <<<"${BENCH_CONTENDERS:-fleetscan fleetscan-j2 fleetscan-j16 naive-P2 clone-P2 clone-P8 distributed-2w}"
[[ -n ${BENCH_BEFORE_BIN:-} ]] && contenders+=(before)
if ! command -v redis-server >/dev/null; then
  say "no redis-server: leaving out the distributed mode (apt-get install -y redis-server)"
  read -r -a contenders <<<"$(printf '%s ' "${contenders[@]}" | sed 's/distributed-2w[^ ]*//g')"
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ((k = 0; k < rounds; k++)); do
  for net in $nets; do
    for ((i = 0; i < ${#contenders[@]}; i++)); do
      c=${contenders[(i + k) % ${#contenders[@]}]}
      say "round $((k + 1))/$rounds, $net: $c"
      contender "$net" "$c" "$k"
    done
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## fleetscan vs shell loops ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${#repos[@]} repositories)"
echo
echo "fleetscan $(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown); WAN: ${delay_ms} ms each way, ${rate} bytes/s per connection;"
echo "$rounds rounds, order rotated; load average at start $load_start, at end $load_end."
echo
python3 - "$res" <<'PY'
import statistics, sys
from collections import defaultdict
runs = defaultdict(dict)  # (net, name) -> round -> (wall, cpu, server, rss)
for line in open(sys.argv[1]):
    net, name, k, wall, cpu, srv, rss = line.rstrip("\n").split("\t")
    runs[(net, name)][k] = (float(wall), float(cpu), float(srv), int(rss))
def ratio(net, name, other):
    a, b = runs[(net, name)], runs.get((net, other), {})
    r = [b[k][0] / a[k][0] for k in a if k in b and a[k][0] > 0]
    return f"{statistics.median(r):.2f}x" if r else "-"
def wall_vs(net, by, other):
    o = runs.get((net, other), {})
    r = [by[k][0] / o[k][0] for k in by if k in o]
    return f"{statistics.median(r):.2f}x" if r else "-"
print("| network | contender | wall s (median) | runs (round order) | speed vs naive xargs -P2 | wall vs clone-only -P2 | wall vs clone-only -P8 | client CPU s | server CPU s | peak RSS MiB |")
print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for (net, name), by in runs.items():
    v = [by[k] for k in sorted(by, key=int)]
    med = lambda i: statistics.median(x[i] for x in v)
    print(f"| {net} | {name} | {med(0):.2f} | {', '.join(f'{x[0]:.2f}' for x in v)} | "
          f"{ratio(net, name, 'naive-P2')} | {wall_vs(net, by, 'clone-P2')} | {wall_vs(net, by, 'clone-P8')} | "
          f"{med(1):.2f} | {med(2):.2f} | {max(x[3] for x in v) / 1024:.0f} |")
warm, cold = runs.get(("lo", "fleetscan-warm")), runs.get(("lo", "fleetscan"))
if warm and cold:
    r = [warm[k][0] / cold[k][0] for k in warm if k in cold]
    print(f"\nWarm re-run on loopback: {statistics.median(r) * 100:.0f} % of the cold run's wall time (median of the rounds).")
PY
