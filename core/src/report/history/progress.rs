//! `progress.md`: the fleet and each team over time.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::analysis::Status;
use crate::history::Day;
use crate::ids::TeamName;
use crate::report::escape::{cell, plural, text};
use crate::report::{Fleet, Project};
use crate::result::RepoStatus;

/// Where a deliverable stands at a point, for `progress.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Standing {
    /// Its migration status (from all its scanned repositories).
    Status(Status),
    /// None of its repositories could be scanned.
    NotScanned,
    /// Scanned, but not analysed (no profile).
    Scanned,
}

impl Standing {
    fn label(self) -> &'static str {
        match self {
            Standing::Status(s) => s.as_str(),
            Standing::NotScanned => "not scanned",
            Standing::Scanned => "scanned",
        }
    }
}

/// A deliverable: its team and name (a repository under no deliverable is its own).
type Deliverable = (TeamName, String);

/// Every deliverable that existed at the point, with where it stood.
fn standings(fleet: &Fleet) -> BTreeMap<Deliverable, Standing> {
    let mut out: BTreeMap<Deliverable, Standing> = BTreeMap::new();
    for (t, p) in fleet.projects() {
        let key = (
            t.name.clone(),
            p.deliverable
                .clone()
                .unwrap_or_else(|| p.result.repo.to_string()),
        );
        let s = match (p.deliverable_status, p.result.status) {
            (Some(s), _) => Standing::Status(s),
            (None, RepoStatus::Scanned) if fleet.profile.is_none() => Standing::Scanned,
            (None, RepoStatus::Skipped) if fleet.profile.is_none() => Standing::Scanned,
            (None, RepoStatus::Scanned | RepoStatus::Skipped) => {
                Standing::Status(Status::NotAffected)
            }
            (None, RepoStatus::Failed) => Standing::NotScanned,
        };
        // The deliverable status already covers all its scanned repositories; a failed one
        // only counts when nothing else was scanned.
        out.entry(key)
            .and_modify(|x| {
                if *x == Standing::NotScanned {
                    *x = s;
                }
            })
            .or_insert(s);
    }
    out
}

/// The columns of the status tables, in report order.
fn columns(fleet: &Fleet) -> Vec<Standing> {
    if fleet.profile.is_some() {
        Status::ALL
            .iter()
            .map(|s| Standing::Status(*s))
            .chain([Standing::NotScanned])
            .collect()
    } else {
        vec![Standing::Scanned, Standing::NotScanned]
    }
}

/// `progress.md`.
pub(in crate::report) fn progress(fleet: &Fleet) -> String {
    let title = fleet
        .profile
        .as_ref()
        .map_or("Pattern".to_string(), |p| p.title.clone());
    let points: Vec<Day> = fleet.history.iter().map(|m| m.at).collect();
    let mut out = format!("# {} migration over time\n\n", text(&title));
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = writeln!(
            out,
            "{} from {first} to {last}. At each point every repository is taken at the last commit of its default branch (following first parents) made by the end of that day (UTC); a repository with no commit yet is absent and left out of the counts. A deliverable counts once, with the status of all its repositories together.\n",
            plural(points.len(), "point"),
        );
    }
    let all: Vec<BTreeMap<Deliverable, Standing>> =
        fleet.history.iter().map(|m| standings(&m.fleet)).collect();
    let cols = columns(fleet);
    out.push_str("## Fleet\n\n");
    table(&mut out, fleet, &cols, &all, None);
    changes(&mut out, &points, &all, None);
    for t in &fleet.teams {
        let _ = writeln!(out, "## {}\n", text(&t.name.0));
        table(&mut out, fleet, &cols, &all, Some(&t.name));
        changes(&mut out, &points, &all, Some(&t.name));
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Deliverables per standing at each point, and the occurrences, of the fleet or one team.
fn table(
    out: &mut String,
    fleet: &Fleet,
    cols: &[Standing],
    all: &[BTreeMap<Deliverable, Standing>],
    team: Option<&TeamName>,
) {
    let heads: Vec<&str> = cols.iter().map(|c| c.label()).collect();
    let _ = writeln!(
        out,
        "| Point | Deliverables | {} | Occurrences | Repositories |\n| --- | ---: |{} ---: | ---: |",
        heads.join(" | "),
        " ---: |".repeat(cols.len())
    );
    for (m, st) in fleet.history.iter().zip(all) {
        let mine: Vec<Standing> = st
            .iter()
            .filter(|((t, _), _)| team.is_none_or(|x| x == t))
            .map(|(_, s)| *s)
            .collect();
        let cells: Vec<String> = cols
            .iter()
            .map(|c| mine.iter().filter(|s| *s == c).count().to_string())
            .collect();
        let projects: Vec<&Project> = m
            .fleet
            .projects()
            .filter(|(t, _)| team.is_none_or(|x| *x == t.name))
            .map(|(_, p)| p)
            .collect();
        let occ: usize = projects.iter().map(|p| p.count).sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {occ} | {} |",
            m.at,
            mine.len(),
            cells.join(" | "),
            projects.len()
        );
    }
    out.push('\n');
}

/// The deliverables whose standing changed between consecutive points.
fn changes(
    out: &mut String,
    points: &[Day],
    all: &[BTreeMap<Deliverable, Standing>],
    team: Option<&TeamName>,
) {
    let mut rows = String::new();
    for i in 1..all.len() {
        let (before, after) = (&all[i - 1], &all[i]);
        let mut keys: Vec<&Deliverable> = before.keys().chain(after.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            if team.is_some_and(|t| *t != k.0) {
                continue;
            }
            let (b, a) = (before.get(k), after.get(k));
            if b == a {
                continue;
            }
            let label = |s: Option<&Standing>| s.map_or("absent", |s| s.label());
            let team_cell = if team.is_none() {
                format!(" {} |", cell(&text(&k.0 .0)))
            } else {
                String::new()
            };
            let _ = writeln!(
                rows,
                "| {} → {} | {} |{team_cell} {} | {} |",
                points[i - 1],
                points[i],
                cell(&text(&k.1)),
                label(b),
                label(a)
            );
        }
    }
    let what = if team.is_none() {
        "### Status changes"
    } else {
        "### Status changes in this team"
    };
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "{what}\n\nNo deliverable changed status between consecutive points.\n"
        );
        return;
    }
    let (team_head, team_rule) = if team.is_none() {
        (" Team |", " --- |")
    } else {
        ("", "")
    };
    let _ = writeln!(
        out,
        "{what}\n\n| Between | Deliverable |{team_head} Before | After |\n| --- | --- |{team_rule} --- | --- |\n{rows}"
    );
}
