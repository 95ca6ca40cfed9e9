//! `teams/<Team>.md`: the team file in the shape maintainers already read
//! (`# Analysis for Team:`, `## Project:`, `Occurrences Found:`, `***`).

use std::fmt::Write;

use super::fleet::date;
use super::{Fleet, Team};
use crate::result::RepoStatus;

pub(super) fn render(fleet: &Fleet, team: &Team) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Analysis for Team: {}\n", team.name);
    let found: Vec<_> = team
        .projects
        .iter()
        .filter(|p| !p.result.occurrences.is_empty())
        .collect();
    for p in &found {
        let r = &p.result;
        let _ = writeln!(out, "## Project: {}\n", r.repo.short());
        let _ = writeln!(out, "- **Repository:** {}", r.repo);
        if let Some(d) = &p.deliverable {
            let _ = writeln!(out, "- **Deliverable:** {d}");
        }
        let commit = r.commit.as_deref().unwrap_or("unknown");
        let _ = writeln!(
            out,
            "- **Scanned:** branch `{}` at commit `{}`{}",
            r.branch.as_deref().unwrap_or("unknown"),
            commit,
            r.commit_time
                .map(|t| format!(" ({})", date(t)))
                .unwrap_or_default()
        );
        let files = r
            .occurrences
            .iter()
            .map(|o| &o.path)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let _ = writeln!(
            out,
            "- **Occurrences:** {} in {} file{}\n",
            r.occurrences.len(),
            files,
            if files == 1 { "" } else { "s" }
        );
        out.push_str("Occurrences Found:\n");
        for o in &r.occurrences {
            out.push_str(&fleet.links.line(r, o));
            out.push('\n');
        }
        out.push_str("\n***\n\n");
    }
    let clean: Vec<_> = team
        .projects
        .iter()
        .filter(|p| p.result.status == RepoStatus::Scanned && p.result.occurrences.is_empty())
        .map(|p| p.result.repo.short())
        .collect();
    if !clean.is_empty() {
        let _ = writeln!(
            out,
            "## Projects with no occurrences\n\n{}\n",
            clean.join(", ")
        );
    }
    let not_scanned: Vec<_> = team
        .projects
        .iter()
        .filter(|p| p.result.status != RepoStatus::Scanned)
        .collect();
    if !not_scanned.is_empty() {
        out.push_str("## Projects not scanned\n\n");
        for p in not_scanned {
            let r = &p.result;
            let _ = writeln!(
                out,
                "- {} ({}): {}",
                r.repo.short(),
                if r.status == RepoStatus::Failed {
                    "failed"
                } else {
                    "skipped"
                },
                r.reason.as_deref().unwrap_or("no reason recorded")
            );
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}
