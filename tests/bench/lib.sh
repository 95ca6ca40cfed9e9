# Shared by the benchmark scripts (sourced): finding the local mirrors and serving them.
# Expects `mirror`, `all_repos` and `work` to be set and `say`/`die` to exist.

# The mirrors may belong to another user than the one running the benchmark.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'

# Sets `gitdir` (name -> git directory) and `repos` (the usable names); exits 0 when none is.
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
