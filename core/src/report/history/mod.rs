//! History: the fleet at several points in time, and the files that show it.
//!
//! - [`super::FleetBuilder::with_points`] builds, for each point, the fleet as it was then
//!   (every repository at the commit the point stands for, analysed like a head scan;
//!   repositories that did not exist yet are absent, not failed), with [`at_point`];
//! - `history.ndjson` / `history.csv`: one row per point and repository with its counts per
//!   category and per path class, its status, verdict and complexity;
//! - `progress.md`: the fleet and each team over time, deliverables per status at each point,
//!   and the deliverables that changed status between consecutive points;
//! - `history/<date>/summary.json` and `occurrences.ndjson`: each point as a report directory
//!   of its own, so `fleetscan diff` compares two points as it compares two scans.

mod progress;
mod rows;

pub(in crate::report) use progress::progress;
pub(in crate::report) use rows::{csv, ndjson};

use super::stream::Out;
use super::{Fleet, Project, Results, ScanInfo, Sink};
use crate::history::Day;
use crate::ids::RepoName;
use crate::result::{PointResult, RepoResult, RepoStatus};

/// The fleet at one point of a history scan.
#[derive(Debug, Clone)]
pub struct Moment {
    /// The point.
    pub at: Day,
    /// Every repository that existed then, at the commit the point stands for (or failed or
    /// skipped, as in the scan).
    pub fleet: Fleet,
}

/// Repository `r` at the point `at`, from its result for the point; None when it did not
/// exist yet. A scanned repository without a result for the point (from a worker that did
/// not scan points) is failed there rather than guessed.
pub fn at_point(r: &RepoResult, point: Option<PointResult>, at: Day) -> Option<RepoResult> {
    if r.status != RepoStatus::Scanned {
        let mut same = RepoResult::new(r.repo.clone(), r.url.clone());
        same.status = r.status;
        same.reason = r.reason.clone();
        same.branch = r.branch.clone();
        return Some(same);
    }
    match point {
        Some(p) if p.at == at => p.into_result(r),
        _ => Some(
            RepoResult::new(r.repo.clone(), r.url.clone())
                .failed(format!("no result for the point {at}")),
        ),
    }
}

/// The full results of point `i` of an outline fleet, read from the source of the head
/// fleet ([`Results::each_at`]).
struct AtPoint<'a, E> {
    results: &'a mut dyn Results<E>,
    i: usize,
    at: Day,
}

impl<E> Results<E> for AtPoint<'_, E> {
    fn each(
        &mut self,
        repos: &[RepoName],
        f: &mut dyn FnMut(RepoResult) -> Result<(), E>,
    ) -> Result<(), E> {
        self.results.each_at(repos, self.i, self.at, f)
    }
}

/// A repository's state at a point, as the history files print it.
pub(super) fn state(p: Option<&Project>) -> &'static str {
    match p.map(|p| p.result.status) {
        None => "absent",
        Some(RepoStatus::Scanned) => "scanned",
        Some(RepoStatus::Failed) => "failed",
        Some(RepoStatus::Skipped) => "skipped",
    }
}

/// `history/<date>/summary.json` for each point: each point is a report directory of its
/// own, which `fleetscan diff` reads.
pub(super) fn point_summaries<E>(
    fleet: &Fleet,
    info: &ScanInfo,
    sink: &mut dyn Sink<E>,
) -> Result<(), E> {
    for m in &fleet.history {
        let path = format!("history/{}/summary.json", m.at);
        super::summary::render_at(&m.fleet, info, Some(m.at), Out::new(sink, path))?;
    }
    Ok(())
}

/// `history/<date>/occurrences.ndjson` for each point. The points of an outline fleet are
/// outlines too: their occurrences are read from `results`, the head fleet's source, one
/// repository at a time.
pub(super) fn point_ndjson<E>(
    fleet: &Fleet,
    results: &mut dyn Results<E>,
    sink: &mut dyn Sink<E>,
) -> Result<(), E> {
    for (i, m) in fleet.history.iter().enumerate() {
        let path = format!("history/{}/occurrences.ndjson", m.at);
        let mut source = AtPoint {
            results: &mut *results,
            i,
            at: m.at,
        };
        super::ndjson::render(&m.fleet, &mut source, Out::new(sink, path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::Governance;
    use crate::link::LinkOptions;
    use crate::profile::Profile;
    use crate::report::FleetBuilder;
    use crate::result::Occurrence;

    const GOV: &str = "
'a|b <script>':
  deliverables:
    '=x|y':
      repos: [openstack/svc]
Other:
  deliverables:
    later:
      repos: [openstack/later]
";

    fn point(at: &str, commit: Option<&str>, lines: &[&str]) -> PointResult {
        let mut p = PointResult::absent(at.parse().unwrap());
        p.commit = commit.map(String::from);
        p.commit_time = commit.map(|_| 1_700_000_000);
        p.occurrences = lines
            .iter()
            .enumerate()
            .map(|(i, t)| Occurrence {
                path: "svc/main.py".into(),
                line: i as u32 + 1,
                text: t.to_string(),
            })
            .collect();
        p
    }

    fn fleet() -> Fleet {
        let (gov, _) = Governance::from_documents([("gov.yaml", GOV)]).unwrap();
        let mut svc = RepoResult::new(RepoName::parse("openstack/svc").unwrap(), String::new());
        svc.status = RepoStatus::Scanned;
        svc.commit = Some("c2".into());
        svc.history = vec![
            point(
                "2025-01-01",
                Some("c1"),
                &["import eventlet", "eventlet.monkey_patch()"],
            ),
            point("2025-04-01", Some("c2"), &[]),
        ];
        let mut later = RepoResult::new(RepoName::parse("openstack/later").unwrap(), String::new());
        later.status = RepoStatus::Scanned;
        later.commit = Some("d1".into());
        later.history = vec![
            point("2025-01-01", None, &[]),
            point("2025-04-01", Some("d1"), &[]),
        ];
        let gone = RepoResult::new(RepoName::parse("openstack/gone").unwrap(), String::new())
            .failed("not found");
        let profile = Profile::named("eventlet", None).unwrap();
        let days = ["2025-01-01", "2025-04-01"].map(|d| d.parse().unwrap());
        let mut b = FleetBuilder::new(&gov, LinkOptions::default(), profile).with_points(&days);
        for r in [svc, later, gone] {
            b.add(r);
        }
        b.finish()
    }

    #[test]
    fn each_point_has_its_repositories_absent_ones_left_out() {
        let f = fleet();
        assert_eq!(f.history.len(), 2);
        let repos = |i: usize| -> Vec<String> {
            f.history[i]
                .fleet
                .projects()
                .map(|(_, p)| format!("{} {:?}", p.result.repo, p.result.status))
                .collect()
        };
        assert_eq!(repos(0), ["openstack/svc Scanned", "openstack/gone Failed"]);
        assert_eq!(repos(1).len(), 3);
        let nd = ndjson(&f);
        assert_eq!(nd.lines().count(), 6);
        assert!(nd.contains("\"at\":\"2025-01-01\"") && nd.contains("\"state\":\"absent\""));
        assert!(nd.contains("\"state\":\"failed\""));
    }

    #[test]
    fn progress_and_csv_escape_what_governance_names() {
        let f = fleet();
        let md = progress(&f);
        assert!(!md.contains("<script>"), "{md}");
        assert!(md.contains(r"a\|b"), "{md}");
        // The deliverable went from not started to not affected, and `later` appeared.
        assert!(md.contains("| not started | not affected |"), "{md}");
        assert!(md.contains("| absent | not affected |"), "{md}");
        let csv = csv(&f);
        assert!(csv.contains("\"'=x|y\""), "a formula is neutralised: {csv}");
        assert_eq!(csv.lines().count(), 7);
    }
}
