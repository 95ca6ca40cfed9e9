#!/usr/bin/env python3
"""A synthetic fleet of small git repositories, made quickly: one `git fast-import` stream for
all of them into one object store, then one bare repository per name that borrows the store's
objects (alternates) and points its `master` at its own commit. No `git commit` per repository.

    fleet.py stream N          > stream     # the fast-import stream, on stdout
    fleet.py layout N STORE MARKS SERVED    # the bare repositories under SERVED/openstack/
    fleet.py governance N      > gov.yaml   # teams of 100 repositories, for --governance

Repository i is `openstack/sNNNNN`. Its content is fixed by i (a seeded generator), so every run
builds the same fleet:
- most are small: a README, setup.cfg, a package with a service module and a test, a
  requirements file; about seven in ten use Eventlet somewhere (1 to 12 matching lines);
- every 2000th (5 of 10,000) has 3,000 files;
- every 2000th, offset by 1000, has one module of 20,000 matching lines.
"""

import random
import sys

COMMIT_TIME = 1_767_225_600  # 2026-01-01, so that the reports' dates never change
MANY_FILES = 3000
MANY_MATCHES = 20_000


def name(i):
    return f"s{i:05d}"


def files(i):
    """The (path, text) of repository i."""
    rng = random.Random(i)
    n = name(i)
    out = [
        ("README.rst", f"{n}\n{'=' * len(n)}\n\nA service of the synthetic fleet.\n"),
        ("setup.cfg", f"[metadata]\nname = {n}\n\n[entry_points]\nconsole_scripts =\n    {n}-api = {n}.cmd.api:main\n"),
        (f"{n}/__init__.py", ""),
    ]
    uses = rng.random() < 0.7
    service = [f'"""The {n} service."""', "import logging", ""]
    if uses:
        service[1:1] = ["import eventlet"]
        if rng.random() < 0.5:
            service += ["eventlet.monkey_patch()", ""]
        for k in range(rng.randint(0, 6)):
            service += [f"def work_{k}():", f"    eventlet.sleep({k})", ""]
    service += ["def main():", "    logging.info('started')", ""]
    out.append((f"{n}/cmd/api.py", "\n".join(service)))
    test = ["import unittest", ""]
    if uses and rng.random() < 0.5:
        test += ["from unittest import mock", "", "@mock.patch('eventlet.spawn')"]
    test += ["class TestApi(unittest.TestCase):", "    def test_main(self):", "        pass", ""]
    out.append((f"{n}/tests/test_api.py", "\n".join(test)))
    reqs = ["pbr>=2.0", "oslo.config>=9.0"]
    if uses:
        reqs.append("eventlet>=0.30.0")
    out.append(("requirements.txt", "\n".join(reqs) + "\n"))
    if i % 2000 == 0:
        for k in range(MANY_FILES):
            body = f"# module {k} of {n}\nVALUE = {k}\n"
            if k % 100 == 0:
                body += "import eventlet\n"
            out.append((f"{n}/gen/m{k:04d}.py", body))
    if i % 2000 == 1000:
        lines = [f"eventlet.sleep({k})  # {n}" for k in range(MANY_MATCHES)]
        out.append((f"{n}/busy.py", "import eventlet\n" + "\n".join(lines) + "\n"))
    return out


def stream(count):
    w = sys.stdout.buffer
    for i in range(count):
        msg = f"{name(i)}: initial\n".encode()
        w.write(f"commit refs/heads/{name(i)}\nmark :{i + 1}\n".encode())
        w.write(f"committer Fleet <fleet@localhost> {COMMIT_TIME} +0000\n".encode())
        w.write(b"data %d\n%s" % (len(msg), msg))
        # Each commit starts from an empty tree: no `from`, so no parent.
        for path, text in files(i):
            data = text.encode()
            w.write(f"M 100644 inline {path}\ndata {len(data)}\n".encode())
            w.write(data + b"\n")
        w.write(b"\n")


def layout(count, store, marks, served):
    import os

    sha = {}
    for line in open(marks):
        mark, value = line.split()
        sha[int(mark[1:])] = value
    objects = os.path.abspath(os.path.join(store, "objects"))
    for i in range(count):
        d = os.path.join(served, "openstack", name(i))
        os.makedirs(os.path.join(d, "objects", "info"), exist_ok=True)
        os.makedirs(os.path.join(d, "refs", "heads"), exist_ok=True)
        os.makedirs(os.path.join(d, "refs", "tags"), exist_ok=True)
        with open(os.path.join(d, "HEAD"), "w") as f:
            f.write("ref: refs/heads/master\n")
        with open(os.path.join(d, "config"), "w") as f:
            f.write("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")
        with open(os.path.join(d, "objects", "info", "alternates"), "w") as f:
            f.write(objects + "\n")
        with open(os.path.join(d, "refs", "heads", "master"), "w") as f:
            f.write(sha[i + 1] + "\n")


def governance(count):
    teams = {}
    for i in range(count):
        teams.setdefault(f"Team {i // 100:03d}", []).append(name(i))
    for team, names in teams.items():
        print(f"{team}:\n  deliverables:")
        for n in names:
            print(f"    {n}:\n      repos: [openstack/{n}]")


if __name__ == "__main__":
    cmd, count = sys.argv[1], int(sys.argv[2])
    if cmd == "stream":
        stream(count)
    elif cmd == "layout":
        layout(count, *sys.argv[3:6])
    elif cmd == "governance":
        governance(count)
    else:
        sys.exit(f"unknown command {cmd}: stream, layout or governance")
