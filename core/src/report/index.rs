//! `index.md`: the fleet summary, every team with its totals.

use std::fmt::Write;

use super::{Fleet, ScanInfo};
use crate::result::RepoStatus;

pub(super) fn render(fleet: &Fleet, info: &ScanInfo) -> String {
    let (scanned, failed, skipped) = fleet.status_counts();
    let occ = fleet.occurrence_count();
    let mut out = String::new();
    let _ = writeln!(out, "# Fleet summary\n");
    let _ = writeln!(
        out,
        "Patterns: {}\n",
        info.patterns
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "{} repositories: {scanned} scanned, {failed} failed, {skipped} skipped; {occ} occurrences.\n",
        scanned + failed + skipped
    );
    out.push_str("| Team | Repositories | With occurrences | Failed | Occurrences |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
    for t in &fleet.teams {
        let with = t
            .projects
            .iter()
            .filter(|p| !p.result.occurrences.is_empty())
            .count();
        let failed = t
            .projects
            .iter()
            .filter(|p| p.result.status == RepoStatus::Failed)
            .count();
        let n: usize = t.projects.iter().map(|p| p.result.occurrences.len()).sum();
        let _ = writeln!(
            out,
            "| [{}](teams/{}.md) | {} | {with} | {failed} | {n} |",
            t.name,
            t.name.file_stem().replace(' ', "%20"),
            t.projects.len()
        );
    }
    let mut projects: Vec<_> = fleet
        .projects()
        .filter(|(_, p)| !p.result.occurrences.is_empty())
        .collect();
    projects.sort_by(|a, b| {
        b.1.score()
            .cmp(&a.1.score())
            .then(
                b.1.result
                    .occurrences
                    .len()
                    .cmp(&a.1.result.occurrences.len()),
            )
            .then(a.1.result.repo.cmp(&b.1.result.repo))
    });
    if !projects.is_empty() {
        out.push_str("\n## Projects ranked by complexity\n\n| Project | Team | Complexity | Deactivable | Occurrences |\n| --- | --- | ---: | --- | ---: |\n");
        for (t, p) in projects {
            let (c, v) = p.analysis.as_ref().map_or(("-".to_string(), "-"), |a| {
                (a.score.to_string(), a.verdict.as_str())
            });
            let _ = writeln!(
                out,
                "| {} | {} | {c} | {v} | {} |",
                p.result.repo,
                t.name,
                p.result.occurrences.len()
            );
        }
    }
    if let Some(prof) = &fleet.profile {
        out.push_str("\n## Occurrences per category\n\n| Category | Occurrences | Projects |\n| --- | ---: | ---: |\n");
        for cat in &prof.categories {
            let per: Vec<usize> = fleet
                .projects()
                .filter_map(|(_, p)| {
                    p.analysis
                        .as_ref()
                        .and_then(|a| a.categories.get(&cat.id).copied())
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cat.title,
                per.iter().sum::<usize>(),
                per.len()
            );
        }
    }
    let failures: Vec<_> = fleet
        .projects()
        .filter(|(_, p)| p.result.status == RepoStatus::Failed)
        .collect();
    if !failures.is_empty() {
        out.push_str("\n## Failed repositories\n\n");
        for (_, p) in failures {
            let _ = writeln!(
                out,
                "- {}: {}",
                p.result.repo,
                p.result.reason.as_deref().unwrap_or("")
            );
        }
    }
    out
}
