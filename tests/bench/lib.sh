# Shared by the benchmark scripts (sourced): finding the local mirrors, serving them and the
# fleetscan binary. Expects `mirror`, `top` and (for serve_mirrors) `work` to be set and
# `say`/`die` to exist; `all_repos` defaults to the corpus below.

# The mirrors may belong to another user than the one running the benchmark.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'

# The corpus: openstack/<name> for each name.
[[ -v all_repos ]] ||
  all_repos=(nova glance cinder heat oslo.service neutron nova-specs python-novaclient swift oslo.messaging)

# Exits 0 with a message when the mirror directory is absent (the benchmarks are manual tools).
need_mirror_dir() {
  if [[ ! -d "$mirror" ]]; then
    say "skipping: mirror directory '$mirror' not found (expected $mirror/openstack+<name>/repo bare git dirs)"
    exit 0
  fi
}

# Sets `fs`: $FLEETSCAN_BIN, else a release build of this checkout.
build_fleetscan() {
  if [[ -n ${FLEETSCAN_BIN:-} ]]; then
    fs=$FLEETSCAN_BIN
  else
    say "building fleetscan (cargo build --release -p fleetscan-cli)"
    cargo build --release -q -p fleetscan-cli --manifest-path "$top/Cargo.toml"
    fs=$top/target/release/fleetscan
  fi
  [[ -x $fs ]] || die "no fleetscan binary at $fs"
}

# Sets `gitdir` (name -> git directory), `repos` (the usable names) and `repo_args` (one
# `--repo openstack/<name>` per usable name); exits 0 when none is usable.
find_mirrors() {
  declare -gA gitdir=()
  repos=()
  local r d
  for r in "${all_repos[@]}"; do
    d=$mirror/openstack+$r/repo
    [[ -d $d/.git ]] && d=$d/.git
    if git --git-dir="$d" rev-parse -q --verify HEAD^{commit} >/dev/null 2>&1; then
      gitdir[$r]=$d
      repos+=("$r")
    else
      say "skipping openstack/$r: no git directory with a HEAD commit at $d"
    fi
  done
  if [[ ${#repos[@]} -eq 0 ]]; then
    say "skipping: no usable mirror under '$mirror'"
    exit 0
  fi
  repo_args=()
  for r in "${repos[@]}"; do repo_args+=(--repo "openstack/$r"); done
}

# A free loopback port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:$1 accepts connections.
wait_port() {
  local _
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# The server: git daemon on a free loopback port, the mirrors linked in as openstack/<name>.
# Started as git-daemon itself (not through the `git` wrapper) so that its children's CPU time
# (upload-pack, pack-objects; fields 16-17 of /proc/PID/stat once reaped) is the server's cost.
# Sets `daemon` (its pid) and `base` (git://127.0.0.1:PORT).
serve_mirrors() {
  local r port
  mkdir -p "$work/served/openstack"
  for r in "${repos[@]}"; do ln -s "${gitdir[$r]}" "$work/served/openstack/$r"; done
  port=$(free_port)
  "$(git --exec-path)/git-daemon" --export-all --reuseaddr --listen=127.0.0.1 --port="$port" \
    --base-path="$work/served" "$work/served" 2>"$work/daemon.log" &
  daemon=$!
  wait_port "$port"
  kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log" >&2; die "git daemon did not start"; }
  base=git://127.0.0.1:$port
}

# Sets `work` to a new temporary directory named after $1, removed on exit together with the git
# daemon that serve_mirrors may start (for scripts with nothing else to clean up).
make_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  daemon=
  trap 'stop_daemon; rm -rf "$work"' EXIT
  trap 'exit 130' INT TERM
}

# Stops the git daemon that serve_mirrors started, if any (for the scripts' cleanup traps).
stop_daemon() {
  if [[ -n ${daemon:-} ]]; then
    kill "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
  fi
}

# Replaces each `gitdir[$r]` by a fresh bare repository under $work/snapshots whose only commit
# is the mirror's HEAD tree, as an orphan commit (same author date, so runs are repeatable).
# The objects are borrowed through alternates, so nothing is copied and the mirrors are not
# written to; the served history is one commit, whatever the mirror holds.
# Prints the id of TREE (of the mirror SRC) as the bare repository DST can serve it: the same
# tree when DST (borrowing SRC's objects) has every blob, else a copy in which each blob the
# mirror lacks (large files may be absent from a fetched mirror) is an empty one, named on
# stderr, since upload-pack cannot send a missing object.
servable_tree() {
  local src=$1 dst=$2 tree=$3 name=$4 missing empty path
  # One `cat-file --batch-check` over all blobs (not a process per blob: the fleet benchmark
  # snapshots hundreds of repositories); it answers "<id> missing" for an absent object.
  git --git-dir="$src" ls-tree -r "$tree" |
    awk -F'\t' '$1 ~ / blob / {split($1, m, " "); print m[3] "\t" $2}' >"$dst/blobs"
  missing=$(cut -f1 "$dst/blobs" |
    git --git-dir="$src" cat-file --batch-check='%(objectname) %(objecttype)' |
    paste -d '\t' - "$dst/blobs" | awk -F'\t' '$1 ~ / missing$/ {print $3}')
  rm -f "$dst/blobs"
  if [[ -z $missing ]]; then
    echo "$tree"
    return
  fi
  empty=$(git --git-dir="$dst" hash-object -w --stdin </dev/null)
  local index
  index=$(mktemp "${TMPDIR:-/tmp}/fleetscan-index.XXXXXX")
  GIT_INDEX_FILE=$index git --git-dir="$dst" read-tree "$tree"
  while IFS= read -r path; do
    echo "bench: openstack/$name: the mirror lacks the blob of '$path'; served empty" >&2
    GIT_INDEX_FILE=$index git --git-dir="$dst" update-index --cacheinfo "100644,$empty,$path"
  done <<<"$missing"
  GIT_INDEX_FILE=$index git --git-dir="$dst" write-tree
  rm -f "$index"
}

snapshot_mirrors() {
  local r d snap tree date commit
  mkdir -p "$work/snapshots"
  for r in "${repos[@]}"; do
    d=${gitdir[$r]}
    snap=$work/snapshots/$r.git
    git init -q --bare "$snap"
    echo "$(cd "$d" && pwd -P)/objects" >"$snap/objects/info/alternates"
    tree=$(servable_tree "$d" "$snap" "$(git --git-dir="$d" rev-parse "HEAD^{tree}")" "$r")
    date=$(git --git-dir="$d" log -1 --format=%cI HEAD)
    commit=$(GIT_AUTHOR_NAME=snapshot GIT_AUTHOR_EMAIL=snapshot@localhost \
      GIT_COMMITTER_NAME=snapshot GIT_COMMITTER_EMAIL=snapshot@localhost \
      GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
      git --git-dir="$snap" commit-tree "$tree" -m "snapshot of openstack/$r")
    git --git-dir="$snap" update-ref refs/heads/master "$commit"
    git --git-dir="$snap" symbolic-ref HEAD refs/heads/master
    gitdir[$r]=$snap
  done
}

# Server CPU seconds so far: the git daemon's reaped children (upload-pack, pack-objects),
# fields 16-17 of /proc/$daemon/stat. The pause lets the daemon reap the last ones.
server_cpu() {
  sleep 0.2
  awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($16 + $17) / t }' "/proc/$daemon/stat"
}

# The clone-only baseline: one `git clone --bare --depth 1` of BASE/openstack/REPO into DEST
# (arguments REPO DEST BASE), for `xargs -P` through `bash -c`.
clone_only() { git clone -q --bare --depth 1 "$3/openstack/$1" "$2/$1.git"; }
export -f clone_only

# timed_run NET NAME ROUND CMD...: runs CMD under GNU time and appends to $res one line of
# net, name, round, wall s, client CPU s (user + sys of CMD and its children), server CPU s
# (the daemon's children during the run) and peak RSS KiB (of the largest single process).
timed_run() {
  local net=$1 name=$2 k=$3 before after wall user sys rss
  shift 3
  before=$(server_cpu)
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" ||
    { cat "$work/err" >&2; die "$net $name failed"; }
  after=$(server_cpu)
  read -r wall user sys rss <"$work/time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$net" "$name" "$k" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
    "$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f", b - a }')" "$rss" >>"$res"
}
