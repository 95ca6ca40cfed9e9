//! History points on the wire: the points of a scan as `YYYY-MM-DD` strings, and each
//! repository's result at each point.

use fleetscan_core::history::{Day, Points};
use fleetscan_core::result as core;

use super::WireError;
use crate::v1;

/// The points as the wire carries them, oldest first.
pub fn days(points: &Points) -> Vec<String> {
    points.days().iter().map(Day::to_string).collect()
}

/// The points of `field`, every one checked: a date the receiver cannot read is an error,
/// not a point left out.
pub fn points(field: &'static str, days: &[String]) -> Result<Points, WireError> {
    let parsed: Result<Vec<Day>, String> = days.iter().map(|d| d.parse()).collect();
    parsed
        .map(Points::from_days)
        .map_err(|why| WireError::Invalid { field, why })
}

/// The outcome of one point, without its occurrences.
pub fn point_outcome(p: &core::PointResult) -> v1::PointOutcome {
    v1::PointOutcome {
        at: p.at.to_string(),
        commit: p.commit.clone().unwrap_or_default(),
        commit_time: p.commit_time.unwrap_or_default(),
        stats: Some(v1::ScanStats::from(&p.stats)),
        facts: super::role_facts(&p.facts),
        code_facts: super::code_facts(&p.code),
        truncated: p.truncated.clone().unwrap_or_default(),
        occurrences: p.occurrences.len() as u64,
    }
}

/// One point from its wire parts. `None` when its date, facts or code facts do not read.
pub fn point_result(
    o: v1::PointOutcome,
    occurrences: Vec<core::Occurrence>,
) -> Option<core::PointResult> {
    let some = |s: String| (!s.is_empty()).then_some(s);
    let commit = some(o.commit);
    Some(core::PointResult {
        at: o.at.parse().ok()?,
        commit_time: commit.as_ref().map(|_| o.commit_time),
        commit,
        occurrences,
        stats: o.stats.map(Into::into).unwrap_or_default(),
        facts: super::role_facts_from(o.facts)?,
        code: super::code_facts_from(&o.code_facts)?,
        truncated: some(o.truncated),
    })
}

/// Every point of `r`, with its occurrences, for export.
pub fn export(r: &core::RepoResult) -> Vec<v1::PointResult> {
    r.history
        .iter()
        .map(|p| v1::PointResult {
            outcome: Some(point_outcome(p)),
            occurrences: p.occurrences.iter().map(Into::into).collect(),
        })
        .collect()
}

/// The points of an exported result; `None` when one does not read.
pub fn import(history: Vec<v1::PointResult>) -> Option<Vec<core::PointResult>> {
    history
        .into_iter()
        .map(|p| {
            let occ = p.occurrences.into_iter().map(Into::into).collect();
            point_result(p.outcome?, occ)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_crosses_the_wire_unchanged() {
        let mut p = core::PointResult::absent("2025-04-01".parse().unwrap());
        let back = point_result(point_outcome(&p), Vec::new()).unwrap();
        assert_eq!(back, p);
        p.commit = Some("a".repeat(40));
        p.commit_time = Some(1_700_000_000);
        p.truncated = Some("stopped".into());
        p.stats.files_scanned = 3;
        p.occurrences = vec![core::Occurrence {
            path: "a.py".into(),
            line: 2,
            text: "import eventlet".into(),
        }];
        let out = export(&core::RepoResult {
            history: vec![p.clone()],
            ..core::RepoResult::new(
                fleetscan_core::ids::RepoName::parse("o/a").unwrap(),
                String::new(),
            )
        });
        assert_eq!(import(out).unwrap(), vec![p]);
    }

    #[test]
    fn bad_dates_are_errors_naming_the_field() {
        let e = points("JobSpec.points", &["2025-02-30".into()]).unwrap_err();
        assert!(e.to_string().contains("JobSpec.points"), "{e}");
        assert_eq!(
            days(&points("x", &["2025-01-01".into(), "2024-01-01".into()]).unwrap()),
            ["2024-01-01", "2025-01-01"]
        );
    }
}
