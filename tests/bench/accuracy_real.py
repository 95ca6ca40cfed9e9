#!/usr/bin/env python3
"""Helper of tests/bench/accuracy-real.sh: compares fleetscan's occurrences with the hand labels.

    accuracy_real.py [--show-held-out] LABELS.tsv OCCURRENCES.ndjson MIRRORS.tsv

Scores each split apart: tune (rules were developed on it), held-out (scored several times while
rules were developed, so possibly optimistic) and fresh (labelled after the rules were frozen, on
repositories no rule was tuned on). Only the tune misses are listed unless --show-held-out asks
for the held-out and fresh ones too (for a final report, never for tuning).

MIRRORS.tsv maps each scanned repository to its mirror (repo TAB git dir); the miss list reads
each missed line from there (the line is printed, never stored). Rows of repositories that were
not scanned are counted apart, not scored. Prints Markdown on stdout.
"""

import json
import subprocess
import sys
from collections import defaultdict

# Path class ids of the classifier before the spec's names were adopted.
OLD_PATH_CLASS = {"tests": "test", "release_notes": "releasenotes", "requirements": "packaging"}
CLASS_ORDER = ["production", "test", "docs", "releasenotes", "translations", "packaging", "ci_config"]
TESTS_CATEGORY = "tests_mock"
# Split -> the heading of its table.
SPLITS = {
    "tune": "tune half",
    "held-out": "held-out half",
    "fresh": "fresh half: labelled after the rules were frozen",
}
FIELDS = [
    ("path class", "path_class"),
    ("sub-patterns", "subpatterns"),
    ("categories", "categories"),
    ("categories without tests", "categories_nt"),
]


def parse_set(text):
    return frozenset(x for x in text.split(",") if x and x != "-")


def show_set(s):
    return ",".join(sorted(s)) or "-"


def read_labels(path):
    rows = []
    header = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if header is None:
                header = cols
                continue
            if len(cols) < len(header) - 1:
                sys.exit(f"{path}:{n}: expected {len(header)} tab-separated columns, got {len(cols)}")
            row = dict(zip(header, cols))
            try:
                row["line"] = int(row["line"])
            except ValueError:
                sys.exit(f"{path}:{n}: line '{row['line']}' is not a number")
            if row["split"] not in SPLITS:
                sys.exit(f"{path}:{n}: split '{row['split']}' is not one of {', '.join(SPLITS)}")
            row["subpatterns"] = parse_set(row["subpatterns"])
            row["categories"] = parse_set(row["categories"])
            row["categories_nt"] = row["categories"] - {TESTS_CATEGORY}
            rows.append(row)
    if header is None:
        sys.exit(f"{path}: no header row")
    return rows


def read_occurrences(path):
    got = {}
    emitted = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                o = json.loads(line)
                key = (o["repo"], o["path"], int(o["line"]))
            except (ValueError, KeyError) as e:
                sys.exit(f"{path}:{n}: not an occurrence record ({e})")
            cls = o.get("path_class", "")
            cats = frozenset(o.get("categories") or [])
            subs = o.get("subpatterns")
            emitted = emitted or subs is not None
            got[key] = {
                "path_class": OLD_PATH_CLASS.get(cls, cls),
                "subpatterns": frozenset(subs or []),
                "categories": cats,
                "categories_nt": cats - {TESTS_CATEGORY},
            }
    return got, emitted


def line_text(gitdir, commit, path, line):
    r = subprocess.run(
        ["git", f"--git-dir={gitdir}", "show", f"{commit}:{path}"], capture_output=True, check=False
    )
    lines = r.stdout.decode("utf-8", "replace").split("\n")
    if r.returncode != 0 or not 0 < line <= len(lines):
        return "(line not readable from the mirror)"
    text = lines[line - 1].strip()
    text = "".join(c if c.isprintable() else " " for c in text)
    if len(text) > 120:
        text = text[:117] + "..."
    # Shown in a code span: a backtick in the text would end it.
    return "`" + text.replace("`", "'") + "`"


def pct(ok, n):
    return f"{100 * ok / n:.1f} % ({ok}/{n})" if n else "-"


def main():
    args = sys.argv[1:]
    show_held_out = "--show-held-out" in args
    args = [a for a in args if a != "--show-held-out"]
    if len(args) != 3:
        sys.exit(__doc__)
    labels, occ_path, mirrors_path = args
    rows = read_labels(labels)
    got, emitted = read_occurrences(occ_path)
    mirrors = dict(
        line.rstrip("\n").split("\t", 1) for line in open(mirrors_path, encoding="utf-8") if line.strip()
    )
    scored = [r for r in rows if r["repo"] in mirrors]
    skipped = len(rows) - len(scored)
    fields = FIELDS if emitted else [f for f in FIELDS if f[1] != "subpatterns"]

    if not emitted:
        print("sub-patterns: not emitted (the occurrences carry no `subpatterns` field)")
        print()
    if skipped:
        print(f"{skipped} labelled rows of repositories without a usable mirror are not scored.")
        print()

    misses = defaultdict(list)
    for split, heading in SPLITS.items():
        part = [r for r in scored if r["split"] == split]
        if not part and split == "fresh":
            continue
        ok = defaultdict(lambda: defaultdict(int))
        count = defaultdict(int)
        for r in part:
            g = got.get((r["repo"], r["path"], r["line"]))
            wrong = []
            for klass in ("all", r["path_class"]):
                count[klass] += 1
            for name, key in fields:
                right = g is not None and g[key] == r[key]
                if right:
                    ok["all"][key] += 1
                    ok[r["path_class"]][key] += 1
                elif g is not None:
                    wrong.append(name)
            if g is None or wrong:
                misses[split].append((r, g, wrong))
        print(f"### {heading}: {len(part)} rows")
        print()
        print("| path class | rows | " + " | ".join(name for name, _ in fields) + " |")
        print("|---|---:|" + "---:|" * len(fields))
        classes = ["all"] + [c for c in CLASS_ORDER if count[c]] + sorted(
            c for c in count if c != "all" and c not in CLASS_ORDER
        )
        for c in classes:
            cells = [pct(ok[c][key], count[c]) for _, key in fields]
            label = "**all**" if c == "all" else c
            print(f"| {label} | {count[c]} | " + " | ".join(cells) + " |")
        print()

    shown = ["tune"] + (["held-out", "fresh"] if show_held_out else [])
    for split in shown:
        if split == "fresh" and not any(r["split"] == "fresh" for r in scored):
            continue
        print(f"### Misses of the {split} half ({len(misses[split])})")
        print()
        for r, g, wrong in misses[split]:
            where = f"{r['repo']} {r['path']}#{r['line']}"
            text = line_text(mirrors[r["repo"]], r["commit"], r["path"], r["line"])
            if g is None:
                print(f"- {where}: not reported as an occurrence; expected {r['path_class']} "
                      f"[{show_set(r['subpatterns'])}] {{{show_set(r['categories'])}}}: {text}")
                continue
            parts = []
            for name, key in fields:
                if name not in wrong or key == "categories_nt":
                    continue
                want, have = r[key], g[key]
                if key != "path_class":
                    want, have = show_set(want), show_set(have)
                parts.append(f"{name} {want} vs {have}")
            print(f"- {where}: " + "; ".join(parts) + f": {text}")
        print()
    if not show_held_out:
        print("Held-out and fresh misses are not listed (`--show-held-out` lists them, for a final "
              "report only).")


if __name__ == "__main__":
    main()
