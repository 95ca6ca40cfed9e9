#!/usr/bin/env bash
# Offline demo: builds a small local corpus, serves it with `git daemon` on loopback and runs
# `fleetscan scan` against it. Nothing leaves the machine.
#   bash tests/demo.sh [OUT_DIR]
# With DISTRIBUTED=1 it runs the same scan in distributed mode instead: its own redis-server,
# a coordinator and two workers on loopback, then `fleetscan submit --wait`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/demo-reports}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

mk() { # mk ORG/NAME BRANCH FILE CONTENT [FILE CONTENT]...
  local dir=$work/served/$1 branch=$2; shift 2
  git init -q -b "$branch" "$dir"
  while [ $# -gt 0 ]; do mkdir -p "$dir/$(dirname "$1")"; printf '%b' "$2" > "$dir/$1"; shift 2; done
  git -C "$dir" add -A
  git -C "$dir" -c user.name=demo -c user.email=demo@example.org commit -qm demo
}
mk openstack/demo-service master \
  demo/cmd/__init__.py 'import eventlet\neventlet.monkey_patch()\n' \
  demo/server.py 'import eventlet.wsgi\n\ndef serve(sock, app):\n    eventlet.wsgi.server(sock, app)\n' \
  demo/pool.py '# eventlet pool\nfrom eventlet import greenpool\npool = greenpool.GreenPool(10)\n' \
  requirements.txt 'eventlet>=0.30.1 # MIT\n'
mk openstack/demo-client main \
  democlient/tests/test_x.py "import mock\n@mock.patch('eventlet.sleep')\ndef test(m):\n    pass\n"
mk openstack/demo-specs master \
  specs/remove.rst 'Replace eventlet.GreenPool with concurrent.futures.\n'

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$(git --exec-path)/git-daemon" --export-all --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$work/served" "$work/served" 2>"$work/daemon.log" &
pids+=($!)
up() { for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
up "$port"
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cargo build --release -q -p fleetscan-cli --manifest-path "$top/Cargo.toml"
fs=$top/target/release/fleetscan
scan=(--pattern eventlet --ignore-comments
  --repo openstack/demo-service --repo openstack/demo-client --repo openstack/demo-specs
  --git-base "git://127.0.0.1:$port/" --out "$out")
if [[ ${DISTRIBUTED:-0} == 1 ]]; then
  rport=$(free) cport=$(free)
  redis-server --bind 127.0.0.1 --port "$rport" --save '' --dir "$work" --logfile redis.log &
  pids+=($!)
  up "$rport"
  redis=redis://127.0.0.1:$rport/0
  "$fs" coordinator --listen "127.0.0.1:$cport" --redis "$redis" 2>"$work/coordinator.log" &
  pids+=($!)
  up "$cport"
  for i in 1 2; do
    "$fs" worker --coordinator "http://127.0.0.1:$cport" --cache-dir "$work/cache$i" \
      2>"$work/worker$i.log" &
    pids+=($!)
  done
  "$fs" submit --coordinator "http://127.0.0.1:$cport" "${scan[@]}" --wait
else
  "$fs" scan "${scan[@]}" --cache-dir "$work/cache"
fi
echo "reports written to $out"
