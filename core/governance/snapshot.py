#!/usr/bin/env python3
"""Regenerate the facts-only governance snapshot bundled with fleetscan.

Usage: snapshot.py GOVERNANCE_REFERENCE_DIR SOURCE_LABEL

Keeps only team -> deliverables -> repos (projects.yaml) and SIG -> repo (sigs-repos.yaml):
names and e-mail addresses of people are not needed to map repositories to teams.
"""
import sys

import yaml

src, label = sys.argv[1], sys.argv[2]
projects = yaml.safe_load(open(f"{src}/projects.yaml"))
with open("projects.yaml", "w") as out:
    out.write(f"# Facts-only snapshot of openstack/governance reference/projects.yaml\n# {label}\n")
    out.write("# Regenerate with core/governance/snapshot.py.\n")
    for team in sorted(projects):
        out.write(f"{yaml.safe_dump(team).splitlines()[0]}:\n  deliverables:\n")
        for name, d in sorted(projects[team].get("deliverables", {}).items()):
            out.write(f"    {name}:\n      repos:\n")
            for repo in d.get("repos", []):
                out.write(f"        - {repo}\n")
sigs = yaml.safe_load(open(f"{src}/sigs-repos.yaml"))
with open("sigs-repos.yaml", "w") as out:
    out.write(f"# Facts-only snapshot of openstack/governance reference/sigs-repos.yaml\n# {label}\n")
    for sig in sorted(sigs):
        out.write(f"{yaml.safe_dump(sig).splitlines()[0]}:\n")
        for item in sigs[sig]:
            out.write(f"  - repo: {item['repo']}\n")
