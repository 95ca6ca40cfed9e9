//! `index.md`: the fleet summary, every team with its totals.

use std::fmt::Write;

use std::collections::{BTreeMap, BTreeSet};

use super::escape::{cell, code, link_target, plural, text};
use super::stream::Out;
use super::{Fleet, ScanInfo, Team, TeamKind};
use crate::analysis::Status;
use crate::result::RepoStatus;

pub(super) fn render<E>(fleet: &Fleet, info: &ScanInfo, mut out: Out<'_, E>) -> Result<(), E> {
    let (scanned, failed, skipped) = fleet.status_counts();
    let occ = fleet.occurrence_count();
    let _ = writeln!(out, "# Fleet summary\n");
    let _ = writeln!(
        out,
        "Patterns: {}\n",
        info.patterns
            .iter()
            .map(|p| code(p))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "{}: {scanned} scanned, {failed} failed, {skipped} skipped; {}.\n",
        plural(scanned + failed + skipped, "repository"),
        plural(occ, "occurrence")
    );
    if let (Some(first), Some(last)) = (fleet.history.first(), fleet.history.last()) {
        let _ = writeln!(
            out,
            "Over time: {} from {} to {}, in [progress.md](progress.md).\n",
            plural(fleet.history.len(), "point"),
            first.at,
            last.at
        );
    }
    for (kind, heading, first) in [
        (TeamKind::Project, "Project teams", "Team"),
        (TeamKind::Sig, "SIGs", "SIG"),
    ] {
        // Unknown Team closes the project teams' table.
        let teams: Vec<&Team> = fleet
            .teams
            .iter()
            .filter(|t| {
                t.kind == kind || (kind == TeamKind::Project && t.kind == TeamKind::Unknown)
            })
            .collect();
        if teams.is_empty() {
            continue;
        }
        blank_line(&mut out);
        let _ = writeln!(out, "## {heading}\n");
        let _ = writeln!(
            out,
            "| {first} | Repositories | With occurrences | Failed | Occurrences |"
        );
        out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
        for t in teams {
            out.push_str(&team_row(t));
        }
    }
    if fleet.profile.is_some() {
        status_tables(&mut out, fleet);
    }
    let mut projects: Vec<_> = fleet.projects().filter(|(_, p)| p.count > 0).collect();
    projects.sort_by(|a, b| a.1.rank(b.1));
    if !projects.is_empty() {
        blank_line(&mut out);
        out.push_str("## Projects ranked by complexity\n\n| Project | Team | Complexity | Deactivable | Status | Occurrences |\n| --- | --- | ---: | --- | --- | ---: |\n");
        for (t, p) in projects {
            let (c, v, st) = p
                .analysis
                .as_ref()
                .map_or(("-".to_string(), "-", "-"), |a| {
                    (a.score.to_string(), a.verdict.as_str(), a.status.as_str())
                });
            let _ = writeln!(
                out,
                "| {} | {} | {c} | {v} | {st} | {} |",
                cell(&text(p.result.repo.as_str())),
                cell(&text(&t.name.0)),
                p.count
            );
        }
    }
    if let Some(prof) = &fleet.profile {
        blank_line(&mut out);
        out.push_str("## Occurrences per category\n\n| Category | Occurrences | Projects |\n| --- | ---: | ---: |\n");
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
        blank_line(&mut out);
        out.push_str("## Failed repositories\n\n");
        for (_, p) in failures {
            let _ = writeln!(
                out,
                "- {}: {}",
                text(p.result.repo.as_str()),
                text(p.result.reason.as_deref().unwrap_or("no reason recorded"))
            );
        }
    }
    out.finish()
}

/// One team's row: its name linking to its file, and its counts. When none of its
/// repositories could be scanned, the occurrence counts are "-": unknown, not zero.
fn team_row(t: &Team) -> String {
    let count =
        |f: &dyn Fn(&crate::report::Project) -> bool| t.projects.iter().filter(|p| f(p)).count();
    let failed = count(&|p| p.result.status == RepoStatus::Failed);
    let scanned = count(&|p| p.result.status == RepoStatus::Scanned);
    let (with, n) = if scanned == 0 && failed > 0 {
        ("-".to_string(), "-".to_string())
    } else {
        let with = count(&|p| p.count > 0);
        let n: usize = t.projects.iter().map(|p| p.count).sum();
        (with.to_string(), n.to_string())
    };
    // An empty name would make a link nobody can click.
    let shown = match t.name.0.as_str() {
        "" => "\"\"".to_string(),
        name => text(name),
    };
    format!(
        "| [{}]({}) | {} | {with} | {failed} | {n} |\n",
        cell(&shown),
        link_target(&t.file),
        t.projects.len()
    )
}

/// Ends `out` with exactly one blank line, so sections are apart whichever come before.
fn blank_line<E>(out: &mut Out<'_, E>) {
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push('\n');
}

/// Deliverables per migration status, fleet-wide and per team. A deliverable counts once,
/// with the status of all its repositories together; a repository listed under no deliverable
/// counts as its own.
fn status_tables<E>(out: &mut Out<'_, E>, fleet: &Fleet) {
    let mut fleet_wide: BTreeMap<Status, BTreeSet<String>> = BTreeMap::new();
    let mut rows = String::new();
    for t in &fleet.teams {
        let mut per: BTreeMap<Status, BTreeSet<String>> = BTreeMap::new();
        for p in &t.projects {
            if let Some(s) = p.deliverable_status {
                let key = p
                    .deliverable
                    .clone()
                    .unwrap_or_else(|| p.result.repo.to_string());
                per.entry(s).or_default().insert(key.clone());
                fleet_wide.entry(s).or_default().insert(key);
            }
        }
        let cells: Vec<String> = Status::ALL
            .iter()
            .map(|s| per.get(s).map_or("-".to_string(), |d| d.len().to_string()))
            .collect();
        let _ = writeln!(
            rows,
            "| {} | {} |",
            cell(&text(&t.name.0)),
            cells.join(" | ")
        );
    }
    let heads: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                fleet_wide.get(s).map_or(0, |d| d.len()),
                s.as_str()
            )
        })
        .collect();
    blank_line(out);
    let _ = writeln!(
        out,
        "## Migration status\n\nDeliverables: {}.\n\n| Team | {} |\n| --- |{}",
        counts.join(", "),
        heads.join(" | "),
        " ---: |".repeat(heads.len())
    );
    out.push_str(&rows);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::Governance;
    use crate::ids::RepoName;
    use crate::link::LinkOptions;
    use crate::result::{Occurrence, RepoResult};

    const GOV: &str = "
Telemetry:
  deliverables:
    ceilometer:
      repos: [openstack/ceilometer]
adjutant:
  deliverables:
    adjutant:
      repos: [openstack/adjutant]
'a|b <script>':
  deliverables:
    gone:
      repos: [openstack/gone]
Ansible SIG:
  - repo: openstack/ansible-x
";

    fn result(name: &str, status: RepoStatus, occurrences: usize) -> RepoResult {
        let mut r = RepoResult::new(RepoName::parse(name).unwrap(), String::new());
        r.status = status;
        r.occurrences = (1..=occurrences as u32)
            .map(|line| Occurrence {
                path: "a.py".into(),
                line,
                text: "import eventlet".into(),
            })
            .collect();
        r
    }

    fn index() -> String {
        let (gov, _) = Governance::from_documents([("gov.yaml", GOV)]).unwrap();
        let results = vec![
            result("openstack/ceilometer", RepoStatus::Scanned, 1),
            result("openstack/adjutant", RepoStatus::Scanned, 0),
            result("openstack/gone", RepoStatus::Failed, 0),
            result("openstack/ansible-x", RepoStatus::Scanned, 2),
            result("openstack/stray", RepoStatus::Scanned, 0),
        ];
        let fleet = Fleet::build(results, &gov, LinkOptions::default(), None);
        let info = crate::report::fixture::info("eventlet");
        crate::report::stream::to_string(|out| render(&fleet, &info, out))
    }

    #[test]
    fn teams_sort_without_regard_to_case_and_sigs_stand_apart() {
        let idx = index();
        let at = |needle: &str| {
            idx.find(needle)
                .unwrap_or_else(|| panic!("{needle}: {idx}"))
        };
        assert!(at("[adjutant]") < at("[Telemetry]"), "{idx}");
        assert!(at("[Telemetry]") < at("[Unknown Team]"), "{idx}");
        assert!(at("[Unknown Team]") < at("## SIGs"), "{idx}");
        assert!(at("## SIGs") < at("[Ansible SIG]"), "{idx}");
        assert!(idx.contains("5 repositories: 4 scanned"), "{idx}");
    }

    #[test]
    fn a_team_whose_repositories_all_failed_shows_a_dash() {
        let idx = index();
        let row = idx.lines().find(|l| l.contains("script")).unwrap();
        assert!(row.ends_with("| 1 | - | 1 | - |"), "{row}");
        // The name is escaped for the cell and the link follows the safe file name.
        assert!(
            row.starts_with(r"| [a\|b \<script\>](teams/a_b%20_script_-"),
            "{row}"
        );
        let row = idx.lines().find(|l| l.contains("[adjutant]")).unwrap();
        assert!(row.ends_with("| 1 | 0 | 0 | 0 |"), "{row}");
    }
}
