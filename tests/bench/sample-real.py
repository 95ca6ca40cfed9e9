#!/usr/bin/env python3
"""Draws the lines of the real-repository labelled set (tests/testdata/real-labels.tsv).

    python3 tests/bench/sample-real.py [MIRROR_DIR] > rows.tsv
    python3 tests/bench/sample-real.py --split fresh --seed N --total 150 \
        --repos openstack/a,openstack/b,... [MIRROR_DIR] > rows.tsv

Reads tests/testdata/real-repos.tsv (repo, commit), finds the occurrence lines of each commit in
MIRROR_DIR/openstack+<name>/repo (lines matching `eventlet`, case-sensitive, minus lines whose
first non-blank character is `#`, as a scan with --ignore-comments sees them) and draws a
stratified sample with a fixed seed: about 45 % production code, 30 % tests, 25 % the rest, no
repository above 8 % of the set. Prints repo, commit, path, line, split and the path class used
for the strata (the labels themselves are written by hand). Nothing here reads fleetscan's output.

Without --split, the draw is the original one (seed 20261130, 470 rows) over the repositories
that have no `fresh` rows in real-labels.tsv, and each row gets a `tune` / `held-out` split, drawn
50/50 within its path class. With --split NAME, the draw covers only the --repos given (which
must be listed in real-repos.tsv) and every row gets split NAME: a separate set, such as the
`fresh` one labelled after the rules were frozen, that is never divided for tuning.
"""
import argparse
import random
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

SEED = 20261130
TOTAL = 470
SHARES = {"production": 0.45, "test": 0.30, "rest": 0.25}
MAX_REPO_SHARE = 0.08

top = Path(__file__).resolve().parents[2]


def path_class(repo, path):
    """The spec's path classes (docs/classification.md), for stratifying only."""
    name = path.rsplit("/", 1)[-1]
    parts = path.split("/")
    if "locale" in parts or name.endswith(".po"):
        return "translations"
    if path.startswith("releasenotes/"):
        return "releasenotes"
    if "tests" in parts or name.startswith("test_") or any(
        p.endswith("_integrationtests") for p in parts
    ):
        return "test"
    if repo.endswith("-specs") or parts[0] in ("doc", "specs", "api-ref") or name.startswith(
        ("README", "HACKING", "CONTRIBUTING")
    ):
        return "docs"
    if name.endswith("requirements.txt") or name in ("bindep.txt", "pkg-map", "package-installs.yaml"):
        return "packaging"
    if name.endswith(".py"):
        return "production"
    return "ci_config"


def stratum(cls):
    return cls if cls in ("production", "test") else "rest"


def occurrences(mirror, repo, commit):
    gitdir = mirror / f"openstack+{repo.split('/')[1]}" / "repo"
    if (gitdir / ".git").is_dir():
        gitdir = gitdir / ".git"
    r = subprocess.run(
        ["git", f"--git-dir={gitdir}", "grep", "-I", "-n", "-e", "eventlet", commit],
        capture_output=True, text=True, check=False,
    )
    # git grep exits 1 when nothing matches; anything else means the mirror or commit is unusable.
    if r.returncode not in (0, 1):
        sys.exit(f"{repo}: cannot read commit {commit} in {gitdir} ({r.stderr.strip()}); "
                 "fetch github:openstack/<name> into the mirror directory")
    out = r.stdout
    for row in out.splitlines():
        _, path, line, text = row.split(":", 3)
        if re.match(r"\s*#", text):
            continue
        yield path, int(line)


def data_rows(name):
    """The rows of a TSV under tests/testdata, without comments and header."""
    return [
        l.split("\t")
        for l in (top / "tests/testdata" / name).read_text().splitlines()
        if l and not l.startswith(("#", "repo\t"))
    ]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mirror", nargs="?", default="/work/.mirror")
    ap.add_argument("--split", help="draw a separate set whose rows all get this split")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--total", type=int, default=TOTAL)
    ap.add_argument("--repos", help="comma-separated openstack/<name> list (with --split)")
    args = ap.parse_args()
    if (args.split is None) != (args.repos is None):
        ap.error("--split and --repos go together: a separate set names its repositories")
    if args.split in ("tune", "held-out"):
        ap.error("--split names a separate set; tune and held-out are the default draw's halves")
    return args


def main():
    args = parse_args()
    mirror = Path(args.mirror)
    rng = random.Random(args.seed)
    listed = [r[:2] for r in data_rows("real-repos.tsv")]
    if args.repos is None:
        separate = {r[0] for r in data_rows("real-labels.tsv") if r[4] not in ("tune", "held-out")}
        repos = [r for r in listed if r[0] not in separate]
    else:
        wanted = [x.strip() for x in args.repos.split(",") if x.strip()]
        known = dict(listed)
        unknown = [r for r in wanted if r not in known]
        if unknown:
            sys.exit(f"not in tests/testdata/real-repos.tsv: {', '.join(unknown)} (add repo, commit, source there first)")
        repos = [[r, known[r]] for r in wanted]
    total = args.total
    pools = defaultdict(lambda: defaultdict(list))  # stratum -> repo -> [(path, line, class)]
    for repo, commit in repos:
        for path, line in occurrences(mirror, repo, commit):
            cls = path_class(repo, path)
            pools[stratum(cls)][repo].append((path, line, cls))
    cap = int(total * MAX_REPO_SHARE)
    taken = defaultdict(int)
    rows = []
    commits = dict(repos)
    for st, share in SHARES.items():
        want = round(total * share)
        for lines in pools[st].values():
            rng.shuffle(lines)
        names = sorted(pools[st])
        got = 0
        # Round robin over the repositories so that small ones are represented too.
        while got < want:
            progress = False
            for repo in names:
                if got >= want:
                    break
                if taken[repo] >= cap or not pools[st][repo]:
                    continue
                path, line, cls = pools[st][repo].pop()
                rows.append((repo, commits[repo], path, line, cls))
                taken[repo] += 1
                got += 1
                progress = True
            if not progress:
                break
    if args.split is not None:
        for row in sorted(rows):
            repo, commit, path, line, cls = row
            print(f"{repo}\t{commit}\t{path}\t{line}\t{args.split}\t{cls}")
        return
    by_class = defaultdict(list)
    for row in rows:
        by_class[row[4]].append(row)
    split = {}
    for cls in sorted(by_class):
        members = sorted(by_class[cls])
        rng.shuffle(members)
        for i, row in enumerate(members):
            split[row] = "tune" if i % 2 == 0 else "held-out"
    for row in sorted(rows):
        repo, commit, path, line, cls = row
        print(f"{repo}\t{commit}\t{path}\t{line}\t{split[row]}\t{cls}")


if __name__ == "__main__":
    main()
