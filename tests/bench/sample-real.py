#!/usr/bin/env python3
"""Draws the lines of the real-repository labelled set (tests/testdata/real-labels.tsv).

    python3 tests/bench/sample-real.py [MIRROR_DIR] > rows.tsv

Reads tests/testdata/real-repos.tsv (repo, commit), finds the occurrence lines of each commit in
MIRROR_DIR/openstack+<name>/repo (lines matching `eventlet`, case-sensitive, minus lines whose
first non-blank character is `#`, as a scan with --ignore-comments sees them) and draws a
stratified sample with a fixed seed: about 45 % production code, 30 % tests, 25 % the rest, no
repository above 8 % of the set. Each row gets a `tune` / `held-out` split, drawn 50/50 within
its path class. Prints repo, commit, path, line, split and the path class used for the strata
(the labels themselves are written by hand). Nothing here reads fleetscan's output.
"""
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
mirror = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror")


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


def occurrences(repo, commit):
    gitdir = mirror / f"openstack+{repo.split('/')[1]}" / "repo"
    out = subprocess.run(
        ["git", f"--git-dir={gitdir}", "grep", "-I", "-n", "-e", "eventlet", commit],
        capture_output=True, text=True, check=False,
    ).stdout
    for row in out.splitlines():
        _, path, line, text = row.split(":", 3)
        if re.match(r"\s*#", text):
            continue
        yield path, int(line)


def main():
    rng = random.Random(SEED)
    repos = [
        l.split("\t")[:2]
        for l in (top / "tests/testdata/real-repos.tsv").read_text().splitlines()
        if l and not l.startswith(("#", "repo\t"))
    ]
    pools = defaultdict(lambda: defaultdict(list))  # stratum -> repo -> [(path, line, class)]
    for repo, commit in repos:
        for path, line in occurrences(repo, commit):
            cls = path_class(repo, path)
            pools[stratum(cls)][repo].append((path, line, cls))
    cap = int(TOTAL * MAX_REPO_SHARE)
    taken = defaultdict(int)
    rows = []
    commits = dict(repos)
    for st, share in SHARES.items():
        want = round(TOTAL * share)
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
