#!/usr/bin/env python3
"""Helpers of tests/bench/scan.sh: reads fleetscan's summary.json and renders the results.

  report.py check SUMMARY N LABEL    fail unless N repos are all scanned (cached as LABEL implies)
  report.py summary SUMMARY LABEL    per-repo scan_ms, fetch_ms, bytes, files as result records
  report.py occurrences SUMMARY      total occurrences
  report.py commit SUMMARY REPO      the commit scanned for REPO
  report.py report RESULTS.tsv       the Markdown report (stdout)

Result records are `KEY<TAB>VALUE` lines; a key that repeats is a series (runs, rounds).
"""

import json
import statistics
import sys
from collections import defaultdict

MB = 1e6
MIB = 1 << 20


def load_summary(path):
    with open(path) as f:
        return json.load(f)["repos"]


def short(repo):
    return repo.split("/", 1)[-1]


def cmd_check(path, n, label):
    repos = load_summary(path)
    bad = [r["repo"] for r in repos if r["status"] != "scanned"]
    if len(repos) != int(n) or bad:
        sys.exit(f"{path}: expected {n} scanned repositories, got {len(repos)}; not scanned: {bad}")
    want_cached = label == "warm"
    wrong = [r["repo"] for r in repos if bool(r.get("cached")) != want_cached]
    if wrong:
        sys.exit(f"{path}: {label} run but cached={not want_cached} for {wrong}")


def cmd_summary(path, label):
    for r in load_summary(path):
        name = short(r["repo"])
        for field in ("scan_ms", "fetch_ms", "bytes_scanned", "files_scanned", "skipped_binary"):
            print(f"odb.{label}.{name}.{field}\t{r[field]}")


def cmd_occurrences(path):
    print(sum(r["occurrences"] for r in load_summary(path)))


def cmd_commit(path, repo):
    for r in load_summary(path):
        if r["repo"] == repo:
            print(r["commit"])
            return
    sys.exit(f"{repo} not in {path}")


def read_results(path):
    res = defaultdict(list)
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            res[key].append(value)
    return res


def cmd_report(path):
    res = read_results(path)
    one = lambda k: res[k][0]
    nums = lambda k: [float(v) for v in res[k]]
    repos = [k[len("repo."):-len(".commit")] for k in res if k.startswith("repo.") and k.endswith(".commit")]
    nproc = int(one("meta.nproc"))
    out = []
    p = out.append

    p(f"Run {one('meta.date')} on {nproc} × {one('meta.cpu')}, "
      f"{int(one('meta.mem_kb')) / (1 << 20):.1f} GiB, {one('meta.kernel')}; "
      f"load average at start {one('meta.load')}.")
    p(f"fleetscan {one('meta.fleetscan')}, {one('meta.git')}, {one('meta.rg')}. "
      f"Pattern `{one('meta.pattern')}`; mirrors from `{one('meta.mirror')}`.")
    slow = res.get("meta.create_us_slow_start")
    p(f"Creating an empty file in the work directory: {one('meta.create_us_start')} µs at start, "
      f"{one('meta.create_us_end')} µs at end"
      + (f" (first probe {slow[0]} µs: waited 65 s for recently deleted inodes to age)." if slow else "."))
    p("")

    # Corpus
    p("### Corpus")
    p("")
    p("| repository | HEAD | files (blobs) | blob bytes | text bytes scanned |")
    p("| --- | --- | ---: | ---: | ---: |")
    tb = tt = tf = 0
    for r in repos:
        blobs, bb = int(one(f"repo.{r}.blobs")), int(one(f"repo.{r}.blob_bytes"))
        text = int(one(f"odb.cold.{r}.bytes_scanned"))
        tf, tb, tt = tf + blobs, tb + bb, tt + text
        p(f"| openstack/{r} | `{one(f'repo.{r}.commit')}` | {blobs} | {bb:,} | {text:,} |")
    p(f"| **total** ({len(repos)}) | | {tf} | {tb:,} | {tt:,} |")
    p("")
    p("Text bytes: what fleetscan reads and searches (it skips binary files: a NUL in the first "
      "8000 bytes). rg and git grep detect binaries their own way; the match counts below show "
      "whether they searched the same text.")
    p("")

    # 1. Engine
    nbytes = int(one("engine.bytes"))
    runs = one("meta.runs")
    p(f"### 1. Engine throughput (files on disk, page cache hot, best of {runs} after a warm-up)")
    p("")
    p(f"Same {one('engine.files')} checked-out files ({int(one('engine.disk_bytes')):,} bytes on disk); "
      f"MB/s = {nbytes:,} text bytes / best time (1 MB = 10^6 bytes).")
    p("")
    p("| tool | command | threads | best s | median s | MB/s | matching lines |")
    p("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    rows = [
        ("fleetscan grep -j1", "fleetscan grep --pattern P --count -j1 DIR", "1", "fleetscan1"),
        ("fleetscan grep", "fleetscan grep --pattern P --count DIR", str(nproc), "fleetscan"),
        ("ripgrep -j1", "rg --no-ignore --hidden -j1 -c P DIR", "1", "rg1"),
        ("ripgrep", "rg --no-ignore --hidden -c P DIR", str(nproc), "rg"),
        ("git grep", "git grep -c P, once per repository (10 processes)", f"{nproc} (grep.threads)", "gitgrep"),
    ]
    counts = set()
    for label, cmd, threads, key in rows:
        t = nums(f"engine.{key}.s")
        count = one(f"engine.{key}.count")
        counts.add(count)
        p(f"| {label} | `{cmd}` | {threads} | {min(t):.3f} | {statistics.median(t):.3f} | "
          f"{nbytes / MB / min(t):,.0f} | {count} |")
    p("")
    p("Match counts agree." if len(counts) == 1 else f"**Match counts differ: {sorted(counts)}**")
    p("")

    # 2-4. End to end
    rounds = int(one("meta.rounds"))
    names = [("serial", "serial loop: `git clone --depth 1` + `git grep -n`"),
             ("parallel", "naive parallel: `xargs -P2` of `git clone --bare --depth 1` + `git grep HEAD`"),
             ("fleetscan-j2", "`fleetscan scan --jobs 2`, cold cache"),
             ("fleetscan-j4", "`fleetscan scan --jobs 4`, cold cache"),
             ("fleetscan-j2-warm", "`fleetscan scan --jobs 2`, warm re-run"),
             ("fleetscan-j4-warm", "`fleetscan scan --jobs 4`, warm re-run")]
    med = {n: statistics.median(nums(f"e2e.{n}.wall")) for n, _ in names}
    p(f"### 2. End to end over git daemon on loopback (median of {rounds} rounds, order rotated)")
    p("")
    p("| contender | wall s (median) | min – max | speedup vs serial | client CPU s | "
      "git daemon CPU s | peak RSS MiB | matching lines |")
    p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, label in names:
        w = nums(f"e2e.{n}.wall")
        lines = res.get(f"e2e.{n}.lines", ["–"])
        lines = lines[0] if len(set(lines)) == 1 else "/".join(sorted(set(lines)))
        p(f"| {label} | {med[n]:.2f} | {min(w):.2f} – {max(w):.2f} | {med['serial'] / med[n]:.2f}× | "
          f"{statistics.median(nums(f'e2e.{n}.cpu')):.2f} | "
          f"{statistics.median(nums(f'e2e.{n}.server_cpu')):.2f} | "
          f"{max(nums(f'e2e.{n}.rss_kb')) / 1024:.1f} | {lines} |")
    p("")
    order = res["e2e.order"]
    per = len(order) // rounds
    cont = [n for n, _ in names if not n.endswith("-warm")]
    p("")
    p("Per round, wall s (round order in the last column):")
    p("")
    p("| round | " + " | ".join(cont) + " | order |")
    p("| --- | " + " | ".join("---:" for _ in cont) + " | --- |")
    for k in range(rounds):
        p(f"| {k + 1} | " + " | ".join(f"{nums(f'e2e.{n}.wall')[k]:.2f}" for n in cont)
          + f" | {', '.join(order[k * per:(k + 1) * per])} |")
    p("")
    p("Client CPU: user + system of the command and its children (GNU time). git daemon CPU: "
      "user + system of the daemon's reaped children (upload-pack, pack-objects) during the run, "
      "from /proc/PID/stat. Both share the same "
      f"{nproc} cores. Peak RSS: the largest single process (GNU time `%M`, as in `time -v`).")
    srv = statistics.median(nums("e2e.fleetscan-j2.server_cpu"))
    p("")
    p(f"Bound: serving the corpus once costs the git daemon about {srv:.2f} s of CPU; on {nproc} cores "
      f"that alone needs ≥ {srv / nproc:.2f} s of wall time, so no client can be more than "
      f"{med['serial'] / (srv / nproc):.2f}× faster than the serial loop on this machine.")
    p("")

    cold_sum = lambda lab, f: sum(int(one(f"odb.{lab}.{r}.{f}")) for r in repos)
    p("### 3. Warm re-run, 4. peak RSS")
    p("")
    p("| | cold s | warm s | warm / cold | peak RSS cold MiB | peak RSS warm MiB |")
    p("| --- | ---: | ---: | ---: | ---: | ---: |")
    for j in ("j2", "j4"):
        c, w = med[f"fleetscan-{j}"], med[f"fleetscan-{j}-warm"]
        p(f"| `fleetscan scan --jobs {j[1:]}` | {c:.2f} | {w:.2f} | {100 * w / c:.1f} % | "
          f"{max(nums(f'e2e.fleetscan-{j}.rss_kb')) / 1024:.1f} | "
          f"{max(nums(f'e2e.fleetscan-{j}-warm.rss_kb')) / 1024:.1f} |")
    p("")

    # 5. ODB vs checkout
    p("### 5. Scanning blobs from the object database vs checkout + file scan")
    p("")
    p("Both from fleetscan's own shallow cache of the last `--jobs 2` cold run. ODB: summary.json "
      "`scan_ms` (cold run, 2 jobs + git daemon competing for the cores; and an isolated "
      "`--jobs 1` re-scan, best of 3). Checkout: `git read-tree -u` of the same commit into an empty "
      "directory, then `fleetscan grep --count` on it (best of 3 each); `rm -rf` of each tree, timed "
      "at the end of the run.")
    p("")
    p("| repository | files | MB | ODB scan ms (cold run) | ODB scan ms (isolated) | checkout ms | "
      "grep ms | checkout + grep ms | rm ms | (checkout + grep) / ODB |")
    p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    tot = defaultdict(float)
    for r in repos:
        files = int(one(f"odb.cold.{r}.files_scanned"))
        mb = int(one(f"odb.cold.{r}.bytes_scanned")) / MB
        cold = int(one(f"odb.cold.{r}.scan_ms"))
        iso = min(nums(f"odb.rescan.{r}.scan_ms"))
        for b in res[f"odb.rescan.{r}.bytes_scanned"]:
            assert int(b) == int(one(f"odb.cold.{r}.bytes_scanned")), f"{r}: re-scan read other bytes"
        for b in res[f"co.{r}.bytes"]:
            assert int(b) == int(one(f"odb.cold.{r}.bytes_scanned")), f"{r}: checkout scan read other bytes"
        co = min(nums(f"co.{r}.checkout_s")) * 1000
        gr = min(nums(f"co.{r}.grep_s")) * 1000
        rm = min(nums(f"co.{r}.rm_s")) * 1000
        for k, v in (("files", files), ("mb", mb), ("cold", cold), ("iso", iso), ("co", co), ("gr", gr), ("rm", rm)):
            tot[k] += v
        ratio = f"{(co + gr) / iso:.1f}×" if iso else "–"
        p(f"| openstack/{r} | {files} | {mb:.1f} | {cold} | {iso:.0f} | {co:.0f} | {gr:.0f} | "
          f"{co + gr:.0f} | {rm:.0f} | {ratio} |")
    p(f"| **total** | {tot['files']:.0f} | {tot['mb']:.1f} | {tot['cold']:.0f} | {tot['iso']:.0f} | "
      f"{tot['co']:.0f} | {tot['gr']:.0f} | {tot['co'] + tot['gr']:.0f} | {tot['rm']:.0f} | "
      f"{(tot['co'] + tot['gr']) / tot['iso']:.1f}× |")
    p("")
    p(f"ODB scan throughput (isolated): {tot['mb'] / (tot['iso'] / 1000):.0f} MB/s including "
      f"inflating the blobs; fetch_ms summed over the cold `--jobs 2` run: {cold_sum('cold', 'fetch_ms')} ms "
      f"(per-repo times overlap, 2 at a time).")
    p("")

    # Targets
    sp = med["serial"] / med["fleetscan-j2"]
    sp4 = med["serial"] / med["fleetscan-j4"]
    warm = 100 * med["fleetscan-j2-warm"] / med["fleetscan-j2"]
    rss = max(max(nums("e2e.fleetscan-j2.rss_kb")), max(nums("e2e.fleetscan-j4.rss_kb"))) / 1024
    met = lambda b: "met" if b else "**missed**"
    p("### Targets")
    p("")
    p("| target | result | |")
    p("| --- | --- | --- |")
    p(f"| cold `fleetscan scan` ≥ 3× faster than the serial loop | {sp:.2f}× at `--jobs 2`, "
      f"{sp4:.2f}× at `--jobs 4` | {met(sp >= 3)} |")
    p(f"| warm re-run ≤ 25 % of cold | {warm:.1f} % | {met(warm <= 25)} |")
    p(f"| peak RSS < 150 MiB | {rss:.1f} MiB | {met(rss < 150)} |")
    print("\n".join(out))


def main(argv):
    cmds = {"check": cmd_check, "summary": cmd_summary, "occurrences": cmd_occurrences,
            "commit": cmd_commit, "report": cmd_report}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
