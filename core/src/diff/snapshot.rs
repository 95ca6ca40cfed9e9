//! One side of a diff: a report directory's `summary.json` and `occurrences.ndjson`, read back
//! into typed values. The caller reads the files; this only parses their text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::Day;
use crate::ids::{RepoName, TeamName};
use crate::result::{Occurrence, RepoStatus};
use crate::Error;

/// What a report directory says about a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The patterns searched.
    pub patterns: Vec<String>,
    /// Start of the run, Unix seconds.
    pub started: i64,
    /// For one point of a history scan (`history/<date>/`), the point.
    pub at: Option<Day>,
    /// Every repository of the scan, by name.
    pub repos: BTreeMap<RepoName, RepoState>,
}

/// One repository in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoState {
    /// Owning team.
    pub team: TeamName,
    /// Scanned, failed or skipped.
    pub status: RepoStatus,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// The commit scanned.
    pub commit: Option<String>,
    /// Analysis facts compared between scans.
    #[serde(flatten)]
    pub analysis: Assessment,
    /// Occurrences, sorted by path and line.
    #[serde(skip)]
    pub occurrences: Vec<Occurrence>,
}

/// The analysis facts of one repository that a diff reports changes of. Absent in a report
/// written without a profile (or before these fields existed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// Deactivable: Yes / No / Maybe.
    #[serde(default)]
    pub verdict: Option<String>,
    /// Complexity 1..10.
    #[serde(default)]
    pub complexity: Option<u8>,
    /// Migration status of the deliverable (not affected, migrated, switchable, in progress,
    /// not started), when the report carries one.
    #[serde(default)]
    pub migration: Option<String>,
}

#[derive(Deserialize)]
struct Summary {
    scan: ScanPart,
    repos: Vec<SummaryRepo>,
}

#[derive(Deserialize)]
struct ScanPart {
    patterns: Vec<String>,
    #[serde(default)]
    started: i64,
    #[serde(default)]
    at: Option<Day>,
}

#[derive(Deserialize)]
struct SummaryRepo {
    repo: RepoName,
    team: TeamName,
    status: RepoStatus,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(flatten)]
    analysis: Assessment,
}

#[derive(Deserialize)]
struct NdjsonLine {
    repo: RepoName,
    path: String,
    line: u32,
    text: String,
}

impl Snapshot {
    /// Parses a report directory's files; `dir` names it in errors.
    pub fn parse(dir: &str, summary: &str, ndjson: &str) -> Result<Snapshot, Error> {
        let bad = |file: &str, why: String| Error::BadReport {
            file: format!("{}/{file}", dir.trim_end_matches('/')),
            why,
        };
        let s: Summary = serde_json::from_str(summary)
            .map_err(|e| bad("summary.json", format!("not a fleetscan summary: {e}")))?;
        let mut repos: BTreeMap<RepoName, RepoState> = s
            .repos
            .into_iter()
            .map(|r| {
                let state = RepoState {
                    team: r.team,
                    status: r.status,
                    reason: r.reason,
                    commit: r.commit,
                    analysis: r.analysis,
                    occurrences: Vec::new(),
                };
                (r.repo, state)
            })
            .collect();
        for (i, line) in ndjson.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let o: NdjsonLine = serde_json::from_str(line)
                .map_err(|e| bad("occurrences.ndjson", format!("line {}: {e}", i + 1)))?;
            let repo = repos.get_mut(&o.repo).ok_or_else(|| {
                bad(
                    "occurrences.ndjson",
                    format!(
                        "line {}: repository {} is not in summary.json: the two files are from different scans",
                        i + 1,
                        o.repo
                    ),
                )
            })?;
            repo.occurrences.push(Occurrence {
                path: o.path,
                line: o.line,
                text: o.text,
            });
        }
        for r in repos.values_mut() {
            r.occurrences.sort();
        }
        Ok(Snapshot {
            patterns: s.scan.patterns,
            started: s.scan.started,
            at: s.scan.at,
            repos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = r#"{"scan":{"patterns":["eventlet"],"started":5},"repos":[
        {"repo":"openstack/nova","team":"nova","status":"scanned","commit":"a","verdict":"No","complexity":7},
        {"repo":"openstack/gone","team":"x","status":"failed","reason":"not found"}]}"#;

    #[test]
    fn reads_both_files() {
        let nd = "{\"repo\":\"openstack/nova\",\"path\":\"b.py\",\"line\":2,\"text\":\"t\"}\n\
                  {\"repo\":\"openstack/nova\",\"path\":\"a.py\",\"line\":9,\"text\":\"u\"}\n";
        let s = Snapshot::parse("old", SUMMARY, nd).unwrap();
        let nova = &s.repos[&RepoName::parse("openstack/nova").unwrap()];
        assert_eq!(nova.occurrences[0].path, "a.py");
        assert_eq!(nova.analysis.verdict.as_deref(), Some("No"));
        assert_eq!(nova.analysis.complexity, Some(7));
        let gone = &s.repos[&RepoName::parse("openstack/gone").unwrap()];
        assert_eq!(gone.analysis, Assessment::default());
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = Snapshot::parse("old/", SUMMARY, "{}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("old/occurrences.ndjson") && e.contains("line 1"),
            "{e}"
        );
        let nd = "{\"repo\":\"openstack/other\",\"path\":\"b.py\",\"line\":2,\"text\":\"t\"}";
        let e = Snapshot::parse("old", SUMMARY, nd).unwrap_err().to_string();
        assert!(e.contains("different scans"), "{e}");
        let e = Snapshot::parse("old", "[]", "").unwrap_err().to_string();
        assert!(e.contains("old/summary.json"), "{e}");
    }
}
