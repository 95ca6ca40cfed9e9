#!/usr/bin/env bash
# Classification accuracy on real OpenStack lines labelled by hand (tests/testdata/real-labels.tsv).
#
#   bash tests/bench/accuracy-real.sh [--show-held-out] [MIRROR_DIR]
#
# MIRROR_DIR (default: $FLEETSCAN_BENCH_MIRROR, else /work/.mirror) holds bare git directories
# MIRROR_DIR/openstack+<name>/repo with the labelled commits (tests/testdata/real-repos.tsv says
# where they came from). For each labelled repository the script builds a one-commit snapshot of
# the labelled commit's tree (an orphan commit on `master`, objects borrowed from the mirror
# through alternates), serves the snapshots with `git daemon` on loopback, runs
# `fleetscan scan --ignore-comments --format ndjson` on them and compares occurrences.ndjson with
# the labels. Prints Markdown on stdout: per split (tune, held-out, fresh) the share of rows
# exactly right for path class, sub-pattern set, category set and category set without the tests
# category, per path class; then the misses of the tune half with the line read from the mirror.
# --show-held-out also lists the held-out and fresh misses: only for a final report, never for
# tuning (the fresh split was labelled after the rules were frozen, to measure them untuned).
#
# Environment knobs: FLEETSCAN_BIN (skip `cargo build`, use this binary), ACCURACY_KEEP=DIR
# (copy occurrences.ndjson and summary.json there).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
show_held_out=
if [[ ${1:-} == --show-held-out ]]; then
  show_held_out=--show-held-out
  shift
fi
mirror=${1:-${FLEETSCAN_BENCH_MIRROR:-/work/.mirror}}
labels=$top/tests/testdata/real-labels.tsv

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=tests/bench/lib.sh
source "$here/lib.sh"
need_mirror_dir
for tool in git python3; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
[[ -f $labels ]] || die "no labels at $labels"

# repo and commit of each labelled repository, in the order of the file.
declare -A commit_of=()
all_repos=()
while IFS=$'\t' read -r repo commit _; do
  [[ $repo == \#* || $repo == repo || -z $repo ]] && continue
  name=${repo#openstack/}
  [[ $repo == openstack/"$name" && $name != */* ]] ||
    die "$labels: repository '$repo' is not openstack/<name>"
  if [[ -z ${commit_of[$name]:-} ]]; then
    commit_of[$name]=$commit
    all_repos+=("$name")
  elif [[ ${commit_of[$name]} != "$commit" ]]; then
    die "$labels: $repo is labelled at two commits (${commit_of[$name]}, $commit); use one"
  fi
done <"$labels"

find_mirrors
build_fleetscan

make_work fleetscan-accuracy

# The snapshot of openstack/$1: a fresh bare repository whose `master` is one orphan commit with
# the labelled commit's tree, so that the scan sees exactly the labelled files (and not the
# mirror's history). Objects come from the mirror through alternates. A blob the mirror lacks
# (large files may be absent) is replaced by an empty one and named (lib.sh `servable_tree`);
# every other file is byte-identical.
snapshot() {
  local name=$1 src=${gitdir[$1]} commit=${commit_of[$1]} dst=$work/snap/$1 tree got c
  tree=$(git --git-dir="$src" rev-parse -q --verify "$commit^{tree}") ||
    die "openstack/$name: commit $commit not in the mirror $src (fetch it, or relabel at the mirror's commit)"
  git init -q --bare "$dst"
  (cd "$src" && pwd -P) | sed 's|$|/objects|' >"$dst/objects/info/alternates"
  tree=$(servable_tree "$src" "$dst" "$tree" "$name")
  c=$(GIT_AUTHOR_NAME=snapshot GIT_AUTHOR_EMAIL=snapshot@localhost \
    GIT_COMMITTER_NAME=snapshot GIT_COMMITTER_EMAIL=snapshot@localhost \
    GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z' \
    git --git-dir="$dst" commit-tree "$tree" -m "snapshot of $commit")
  git --git-dir="$dst" update-ref refs/heads/master "$c"
  git --git-dir="$dst" symbolic-ref HEAD refs/heads/master
  got=$(git --git-dir="$dst" rev-parse "master^{tree}")
  [[ $got == "$tree" ]] || die "openstack/$name: snapshot tree $got is not $tree"
  # Unless a blob was missing, the scan sees exactly the labelled commit's tree.
  [[ $tree == "$(git --git-dir="$src" rev-parse "$commit^{tree}")" ]] ||
    say "openstack/$name: served with empty blobs in place of the missing ones (their lines are not labelled)"
}

declare -A mirror_of=()
say "building ${#repos[@]} snapshots"
for r in "${repos[@]}"; do
  mirror_of[$r]=${gitdir[$r]}
  snapshot "$r"
  gitdir[$r]=$work/snap/$r
done
serve_mirrors

say "scanning ${#repos[@]} repositories"
"$fs" scan "${repo_args[@]}" --pattern eventlet --git-base "$base/" --ignore-comments \
  --format ndjson,summary --out "$work/out" --cache-dir "$work/cache" --quiet \
  2>"$work/scan.log" || { tail -20 "$work/scan.log" >&2; die "fleetscan scan failed"; }
[[ -f $work/out/occurrences.ndjson ]] || die "the scan wrote no occurrences.ndjson"
if [[ -n ${ACCURACY_KEEP:-} ]]; then
  mkdir -p "$ACCURACY_KEEP"
  cp "$work/out/occurrences.ndjson" "$work/out/summary.json" "$ACCURACY_KEEP/" 2>/dev/null || true
fi

mirrors=$work/mirrors.tsv
for r in "${repos[@]}"; do printf 'openstack/%s\t%s\n' "$r" "${mirror_of[$r]}"; done >"$mirrors"

echo "## Classification accuracy on real labelled lines"
echo
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), fleetscan at $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$top" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)'), $(basename "$labels") ($(grep -vc -e '^#' -e '^repo' "$labels") rows, ${#repos[@]} repositories)."
echo
python3 "$here/accuracy_real.py" $show_held_out "$labels" "$work/out/occurrences.ndjson" "$mirrors"
