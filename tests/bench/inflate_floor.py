#!/usr/bin/env python3
"""The CPU floor of a cold scan: what inflating every object of a pack once costs, with stock
zlib (Python's) and with zlib-ng (the `zlib-ng` package), and what one SHA-1 over every object
costs (hashlib: OpenSSL's, with the CPU's SHA instructions where it has them).

  inflate_floor.py PACK_FILE GIT_DIR

PACK_FILE's .idx gives the object offsets; each entry's zlib stream is inflated on its own
(deltas as deltas, as an indexer does). GIT_DIR gives the objects in full for the SHA-1.
Prints `KEY<TAB>VALUE` lines: objects, packed and inflated bytes, and the best of 3 seconds
for each of inflate_zlib, inflate_zlibng and sha1.
"""

import hashlib
import subprocess
import sys
import time
import zlib

import zlib_ng.zlib_ng as zng


def entries(pack_path):
    idx = pack_path[: -len(".pack")] + ".idx"
    with open(idx, "rb") as f:
        out = subprocess.run(["git", "show-index"], stdin=f, capture_output=True, check=True).stdout
    offsets = sorted(int(line.split()[0]) for line in out.decode().splitlines())
    with open(pack_path, "rb") as f:
        pack = f.read()
    ends = offsets[1:] + [len(pack) - 20]
    streams = []
    for start, end in zip(offsets, ends):
        i = start
        c = pack[i]
        kind = (c >> 4) & 7
        i += 1
        while c & 0x80:
            c = pack[i]
            i += 1
        if kind == 6:  # OFS_DELTA: a variable-length base offset
            c = pack[i]
            i += 1
            while c & 0x80:
                c = pack[i]
                i += 1
        elif kind == 7:  # REF_DELTA: the base's id
            i += 20
        streams.append(pack[i:end])
    return streams


def best(f, n=3):
    times = []
    for _ in range(n):
        t0 = time.process_time()
        f()
        times.append(time.process_time() - t0)
    return min(times)


def inflate_all(module, streams):
    total = 0
    for s in streams:
        d = module.decompressobj()
        total += len(d.decompress(s))
    return total


def full_objects(git_dir):
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True, check=True,
    ).stdout
    objs, i = [], 0
    while i < len(out):
        nl = out.index(b"\n", i)
        _, kind, size = out[i:nl].split()
        size = int(size)
        objs.append(kind + b" " + str(size).encode() + b"\0" + out[nl + 1 : nl + 1 + size])
        i = nl + 1 + size + 1
    return objs


def main(pack_path, git_dir):
    streams = entries(pack_path)
    objs = full_objects(git_dir)
    print(f"objects\t{len(streams)}")
    print(f"packed_bytes\t{sum(map(len, streams))}")
    print(f"inflated_bytes\t{inflate_all(zlib, streams)}")
    print(f"full_bytes\t{sum(map(len, objs))}")
    print(f"inflate_zlib\t{best(lambda: inflate_all(zlib, streams)):.4f}")
    print(f"inflate_zlibng\t{best(lambda: inflate_all(zng, streams)):.4f}")
    print(f"sha1\t{best(lambda: [hashlib.sha1(o).digest() for o in objs]):.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
