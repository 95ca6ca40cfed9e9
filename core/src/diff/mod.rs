//! What changed between two scans: occurrences added and removed per project, analysis
//! changes (verdict, complexity, migration status), and counts per team.
//!
//! A line that only moved, because lines were added or removed above it, is not a change.
//! Occurrences are matched on path and text first; among several with the same path and text,
//! the closest lines are paired first ([`match_lines`]). What stays unpaired was added or
//! removed. A repository that failed or was skipped on either side is reported as not
//! comparable instead of as every occurrence removed.
//!
//! ```
//! use fleetscan_core::diff::{Diff, Snapshot};
//! let summary = r#"{"scan":{"patterns":["eventlet"]},"repos":[{"repo":"openstack/nova","team":"nova","status":"scanned"}]}"#;
//! let old = Snapshot::parse("old", summary, r#"{"repo":"openstack/nova","path":"a.py","line":3,"text":"import eventlet"}"#).unwrap();
//! let new = Snapshot::parse("new", summary, r#"{"repo":"openstack/nova","path":"a.py","line":5,"text":"import eventlet"}"#).unwrap();
//! assert!(Diff::between(&old, &new).is_empty());
//! ```

mod markdown;
mod snapshot;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::Day;
use crate::ids::{RepoName, TeamName};
use crate::result::{Occurrence, RepoStatus};
pub use snapshot::{Assessment, RepoState, Snapshot};

/// The differences between two snapshots.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// The patterns of each side; a diff across different patterns is flagged.
    pub patterns: (Vec<String>, Vec<String>),
    /// Start of each scan, Unix seconds.
    pub started: (i64, i64),
    /// The history point each side is, when it is one.
    #[serde(skip_serializing_if = "both_none")]
    pub at: (Option<Day>, Option<Day>),
    /// Projects with a change, by repository name.
    pub projects: Vec<ProjectDiff>,
    /// Every team of either side with its counts.
    pub teams: Vec<TeamCounts>,
    /// Occurrences found on both sides at another line, in all projects: not changes.
    pub moved: usize,
}

/// One repository that changed.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectDiff {
    /// The repository.
    pub repo: RepoName,
    /// Its team (on the new side when it has one).
    pub team: TeamName,
    /// Its state in the old scan; None when it was not in it.
    pub old: Option<Side>,
    /// Its state in the new scan; None when it is not in it.
    pub new: Option<Side>,
    /// Occurrences only in the new scan.
    pub added: Vec<Occurrence>,
    /// Occurrences only in the old scan.
    pub removed: Vec<Occurrence>,
    /// Occurrences found on both sides at another line: shown as a count, not as changes.
    pub moved: usize,
    /// Why occurrences were not compared (failed or skipped on a side), when they were not.
    pub not_compared: Option<String>,
}

/// One side of a project's change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// Scanned, failed or skipped.
    pub status: RepoStatus,
    /// The commit scanned.
    pub commit: Option<String>,
    /// Occurrences found.
    pub occurrences: usize,
    /// Verdict, complexity, migration status.
    #[serde(flatten)]
    pub analysis: Assessment,
}

/// Totals of one team on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamCounts {
    /// The team.
    pub team: TeamName,
    /// Occurrences in the old and the new scan.
    pub occurrences: (usize, usize),
    /// Projects with occurrences in the old and the new scan.
    pub projects_with_occurrences: (usize, usize),
    /// Occurrences added and removed between them.
    pub added: usize,
    /// See `added`.
    pub removed: usize,
}

impl ProjectDiff {
    /// True when the analysis facts differ between the sides.
    pub fn analysis_changed(&self) -> bool {
        match (&self.old, &self.new) {
            (Some(o), Some(n)) => o.analysis != n.analysis,
            _ => false,
        }
    }
}

impl Diff {
    /// Compares `old` with `new`.
    pub fn between(old: &Snapshot, new: &Snapshot) -> Diff {
        let mut names: Vec<&RepoName> = old.repos.keys().chain(new.repos.keys()).collect();
        names.sort();
        names.dedup();
        let mut projects = Vec::new();
        let mut teams: BTreeMap<TeamName, TeamCounts> = BTreeMap::new();
        let mut moved = 0;
        for name in names {
            let (o, n) = (old.repos.get(name), new.repos.get(name));
            let p = project(name, o, n);
            let t = teams.entry(p.team.clone()).or_insert_with(|| TeamCounts {
                team: p.team.clone(),
                occurrences: (0, 0),
                projects_with_occurrences: (0, 0),
                added: 0,
                removed: 0,
            });
            let count = |s: Option<&RepoState>| s.map_or(0, |s| s.occurrences.len());
            t.occurrences.0 += count(o);
            t.occurrences.1 += count(n);
            t.projects_with_occurrences.0 += usize::from(count(o) > 0);
            t.projects_with_occurrences.1 += usize::from(count(n) > 0);
            t.added += p.added.len();
            t.removed += p.removed.len();
            moved += p.moved;
            let same_side = |a: &Option<Side>, b: &Option<Side>| match (a, b) {
                (Some(a), Some(b)) => a.status == b.status,
                (None, None) => true,
                _ => false,
            };
            if !p.added.is_empty()
                || !p.removed.is_empty()
                || p.analysis_changed()
                || !same_side(&p.old, &p.new)
            {
                projects.push(p);
            }
        }
        Diff {
            patterns: (old.patterns.clone(), new.patterns.clone()),
            started: (old.started, new.started),
            at: (old.at, new.at),
            projects,
            teams: teams.into_values().collect(),
            moved,
        }
    }

    /// True when nothing changed: no occurrence added or removed, no analysis or repository
    /// state change. Lines that only moved do not count.
    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
    }

    /// The diff as Markdown.
    pub fn markdown(&self) -> String {
        markdown::render(self)
    }

    /// The diff as pretty JSON.
    pub fn json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("json");
        s.push('\n');
        s
    }
}

fn both_none(at: &(Option<Day>, Option<Day>)) -> bool {
    at.0.is_none() && at.1.is_none()
}

fn side(s: &RepoState) -> Side {
    Side {
        status: s.status,
        commit: s.commit.clone(),
        occurrences: s.occurrences.len(),
        analysis: s.analysis.clone(),
    }
}

fn project(name: &RepoName, old: Option<&RepoState>, new: Option<&RepoState>) -> ProjectDiff {
    let team = new
        .or(old)
        .map_or_else(TeamName::unknown, |s| s.team.clone());
    let mut p = ProjectDiff {
        repo: name.clone(),
        team,
        old: old.map(side),
        new: new.map(side),
        added: Vec::new(),
        removed: Vec::new(),
        moved: 0,
        not_compared: None,
    };
    let scanned = |s: Option<&RepoState>| s.is_none_or(|s| s.status == RepoStatus::Scanned);
    if !scanned(old) || !scanned(new) {
        let why = [("old", old), ("new", new)]
            .into_iter()
            .filter_map(|(label, s)| {
                let s = s.filter(|s| s.status != RepoStatus::Scanned)?;
                let state = if s.status == RepoStatus::Failed {
                    "failed"
                } else {
                    "skipped"
                };
                Some(format!(
                    "{state} in the {label} scan ({})",
                    s.reason.as_deref().unwrap_or("no reason recorded")
                ))
            })
            .collect::<Vec<_>>()
            .join("; ");
        p.not_compared = Some(why);
        return p;
    }
    let empty = Vec::new();
    let o = old.map_or(&empty, |s| &s.occurrences);
    let n = new.map_or(&empty, |s| &s.occurrences);
    let m = match_lines(o, n);
    p.added = m.added.iter().map(|&i| n[i].clone()).collect();
    p.removed = m.removed.iter().map(|&i| o[i].clone()).collect();
    p.moved = m.moved;
    p
}

/// The outcome of matching two lists of occurrences of one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMatch {
    /// Indexes into the new list with no partner, in order.
    pub added: Vec<usize>,
    /// Indexes into the old list with no partner, in order.
    pub removed: Vec<usize>,
    /// Pairs whose line number differs.
    pub moved: usize,
}

/// Pairs occurrences of `old` and `new` with the same path and text, closest lines first
/// (ties to the lower old line), so a block shifted by an edit above it pairs up in order.
pub fn match_lines(old: &[Occurrence], new: &[Occurrence]) -> LineMatch {
    type Key<'a> = (&'a str, &'a str);
    let mut groups: BTreeMap<Key, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, o) in old.iter().enumerate() {
        groups.entry((&o.path, &o.text)).or_default().0.push(i);
    }
    for (i, o) in new.iter().enumerate() {
        groups.entry((&o.path, &o.text)).or_default().1.push(i);
    }
    let mut out = LineMatch::default();
    let (mut used_old, mut used_new) = (vec![false; old.len()], vec![false; new.len()]);
    for (olds, news) in groups.values() {
        let mut pairs: Vec<(u32, u32, usize, usize)> = Vec::new();
        for &i in olds {
            for &j in news {
                let (a, b) = (old[i].line, new[j].line);
                pairs.push((a.abs_diff(b), a, i, j));
            }
        }
        pairs.sort();
        for (d, _, i, j) in pairs {
            if used_old[i] || used_new[j] {
                continue;
            }
            used_old[i] = true;
            used_new[j] = true;
            out.moved += usize::from(d > 0);
        }
        out.removed
            .extend(olds.iter().copied().filter(|&i| !used_old[i]));
        out.added
            .extend(news.iter().copied().filter(|&j| !used_new[j]));
    }
    out.added.sort();
    out.removed.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(path: &str, line: u32, text: &str) -> Occurrence {
        Occurrence {
            path: path.into(),
            line,
            text: text.into(),
        }
    }

    #[test]
    fn lines_shifted_by_an_edit_above_are_not_changes() {
        let old = [
            occ("a.py", 3, "import eventlet"),
            occ("a.py", 10, "eventlet.sleep(0)"),
        ];
        let new = [
            occ("a.py", 7, "import eventlet"),
            occ("a.py", 14, "eventlet.sleep(0)"),
        ];
        let m = match_lines(&old, &new);
        assert_eq!((m.added.len(), m.removed.len(), m.moved), (0, 0, 2));
    }

    #[test]
    fn same_text_pairs_with_the_nearest_line() {
        // Three identical lines; the middle one is deleted and the rest shift up by 1.
        let old = [
            occ("a.py", 10, "x"),
            occ("a.py", 20, "x"),
            occ("a.py", 30, "x"),
        ];
        let new = [occ("a.py", 9, "x"), occ("a.py", 29, "x")];
        let m = match_lines(&old, &new);
        assert_eq!(m.removed, vec![1]);
        assert!(m.added.is_empty());
        assert_eq!(m.moved, 2);
    }

    #[test]
    fn changed_text_or_path_is_a_removal_and_an_addition() {
        let old = [occ("a.py", 3, "import eventlet"), occ("b.py", 1, "x")];
        let new = [
            occ("a.py", 3, "import eventlet  # noqa"),
            occ("c.py", 1, "x"),
        ];
        let m = match_lines(&old, &new);
        assert_eq!((m.added, m.removed, m.moved), (vec![0, 1], vec![0, 1], 0));
    }

    fn snap(repos: &[(&str, RepoStatus, &[Occurrence], Option<&str>)]) -> Snapshot {
        Snapshot {
            patterns: vec!["eventlet".into()],
            started: 0,
            at: None,
            repos: repos
                .iter()
                .map(|(name, status, occ, verdict)| {
                    let state = RepoState {
                        team: TeamName("T".into()),
                        status: *status,
                        reason: Some("gone".into()).filter(|_| *status != RepoStatus::Scanned),
                        commit: None,
                        analysis: Assessment {
                            verdict: verdict.map(String::from),
                            ..Assessment::default()
                        },
                        occurrences: occ.to_vec(),
                    };
                    (RepoName::parse(name).unwrap(), state)
                })
                .collect(),
        }
    }

    #[test]
    fn a_rerun_is_empty_and_a_drop_is_reported_per_project_and_team() {
        use RepoStatus::*;
        let two = [
            occ("a.py", 1, "import eventlet"),
            occ("a.py", 5, "eventlet.sleep()"),
        ];
        let old = snap(&[
            ("o/a", Scanned, &two, Some("No")),
            ("o/b", Scanned, &[], None),
        ]);
        assert!(Diff::between(&old, &old).is_empty());
        let new = snap(&[
            ("o/a", Scanned, &two[..1], Some("Yes")),
            ("o/b", Scanned, &[], None),
        ]);
        let d = Diff::between(&old, &new);
        assert_eq!(d.projects.len(), 1);
        let p = &d.projects[0];
        assert_eq!(p.removed, vec![two[1].clone()]);
        assert!(p.added.is_empty());
        assert!(p.analysis_changed());
        assert_eq!(d.teams[0].occurrences, (2, 1));
        assert_eq!((d.teams[0].added, d.teams[0].removed), (0, 1));
    }

    #[test]
    fn a_repository_that_failed_is_not_compared() {
        use RepoStatus::*;
        let two = [occ("a.py", 1, "import eventlet")];
        let old = snap(&[("o/a", Scanned, &two, None)]);
        let new = snap(&[("o/a", Failed, &[], None)]);
        let d = Diff::between(&old, &new);
        let p = &d.projects[0];
        assert!(p.removed.is_empty());
        assert!(p
            .not_compared
            .as_deref()
            .unwrap()
            .contains("failed in the new scan"));
        // New repositories: everything is added.
        let d = Diff::between(&snap(&[]), &old);
        assert_eq!(d.projects[0].added.len(), 1);
        assert!(d.projects[0].old.is_none());
    }
}
