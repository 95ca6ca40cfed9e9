//! Conversions between the wire messages and the core's result types. Every field goes both
//! ways, so a result that crosses the network renders the same bytes as one that did not.

use fleetscan_core::filter::FileOptions;
use fleetscan_core::ids::RepoName;
use fleetscan_core::matcher::MatchOptions;
use fleetscan_core::plan::JobSpec;
use fleetscan_core::result as core;

use crate::v1;

/// A message that cannot become a core type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// A required field is absent.
    #[error("{message} has no {field}: coordinator and worker releases differ")]
    Missing {
        /// The message.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
}

fn missing(message: &'static str, field: &'static str) -> WireError {
    WireError::Missing { message, field }
}

impl From<&MatchOptions> for v1::MatchOptions {
    fn from(m: &MatchOptions) -> Self {
        v1::MatchOptions {
            patterns: m.patterns.clone(),
            ignore_case: m.ignore_case,
            ignore_comments: m.ignore_comments,
            comment_marker: m.comment_marker.clone(),
        }
    }
}

impl From<v1::MatchOptions> for MatchOptions {
    fn from(m: v1::MatchOptions) -> Self {
        MatchOptions {
            patterns: m.patterns,
            ignore_case: m.ignore_case,
            ignore_comments: m.ignore_comments,
            comment_marker: m.comment_marker,
        }
    }
}

impl From<&FileOptions> for v1::FileOptions {
    fn from(f: &FileOptions) -> Self {
        v1::FileOptions {
            include: f.include.clone(),
            exclude: f.exclude.clone(),
            max_file_size: f.max_file_size,
        }
    }
}

impl From<v1::FileOptions> for FileOptions {
    fn from(f: v1::FileOptions) -> Self {
        FileOptions {
            include: f.include,
            exclude: f.exclude,
            max_file_size: f.max_file_size,
        }
    }
}

impl From<&JobSpec> for v1::JobSpec {
    fn from(j: &JobSpec) -> Self {
        v1::JobSpec {
            matching: Some((&j.options.matching).into()),
            files: Some((&j.options.files).into()),
            timeout_secs: j.timeout_secs,
            connect_timeout_secs: j.connect_timeout_secs,
        }
    }
}

impl TryFrom<v1::JobSpec> for JobSpec {
    type Error = WireError;

    /// A missing part is an error, not a default: a default would scan with other options
    /// than the ones submitted.
    fn try_from(j: v1::JobSpec) -> Result<Self, WireError> {
        let nonzero = |v: u32, field| {
            if v == 0 {
                Err(missing("JobSpec", field))
            } else {
                Ok(v)
            }
        };
        Ok(JobSpec {
            options: core::ScanOptions {
                matching: j.matching.ok_or(missing("JobSpec", "matching"))?.into(),
                files: j.files.ok_or(missing("JobSpec", "files"))?.into(),
            },
            timeout_secs: nonzero(j.timeout_secs, "timeout_secs")?,
            connect_timeout_secs: nonzero(j.connect_timeout_secs, "connect_timeout_secs")?,
        })
    }
}

impl From<&core::Occurrence> for v1::Occurrence {
    fn from(o: &core::Occurrence) -> Self {
        v1::Occurrence {
            path: o.path.clone(),
            line: o.line,
            text: o.text.clone(),
        }
    }
}

impl From<v1::Occurrence> for core::Occurrence {
    fn from(o: v1::Occurrence) -> Self {
        core::Occurrence {
            path: o.path,
            line: o.line,
            text: o.text,
        }
    }
}

impl From<core::RepoStatus> for v1::RepoStatus {
    fn from(s: core::RepoStatus) -> Self {
        match s {
            core::RepoStatus::Scanned => v1::RepoStatus::Scanned,
            core::RepoStatus::Failed => v1::RepoStatus::Failed,
            core::RepoStatus::Skipped => v1::RepoStatus::Skipped,
        }
    }
}

impl From<&core::ScanStats> for v1::ScanStats {
    fn from(s: &core::ScanStats) -> Self {
        v1::ScanStats {
            files_scanned: s.files_scanned,
            bytes_scanned: s.bytes_scanned,
            skipped_by_path: s.skipped_by_path,
            skipped_binary: s.skipped_binary,
            skipped_too_large: s.skipped_too_large,
            symlinks: s.symlinks,
            submodules: s.submodules.clone(),
            too_large: s.too_large.clone(),
        }
    }
}

impl From<v1::ScanStats> for core::ScanStats {
    fn from(s: v1::ScanStats) -> Self {
        core::ScanStats {
            files_scanned: s.files_scanned,
            bytes_scanned: s.bytes_scanned,
            skipped_by_path: s.skipped_by_path,
            skipped_binary: s.skipped_binary,
            skipped_too_large: s.skipped_too_large,
            symlinks: s.symlinks,
            submodules: s.submodules,
            too_large: s.too_large,
            raw_paths: Default::default(),
        }
    }
}

/// The outcome part of `r`; `retryable` says whether another attempt may succeed.
pub fn outcome(r: &core::RepoResult, retryable: bool) -> v1::Outcome {
    v1::Outcome {
        status: v1::RepoStatus::from(r.status) as i32,
        reason: r.reason.clone().unwrap_or_default(),
        branch: r.branch.clone().unwrap_or_default(),
        commit: r.commit.clone().unwrap_or_default(),
        commit_time: r.commit_time.unwrap_or_default(),
        stats: Some(v1::ScanStats::from(&r.stats)),
        fetch_ms: r.fetch_ms,
        scan_ms: r.scan_ms,
        cached: r.cached,
        occurrences: r.occurrences.len() as u64,
        retryable,
    }
}

/// A core result from its wire parts. `None` when the status is missing or unknown.
pub fn result(
    repo: RepoName,
    url: String,
    o: v1::Outcome,
    occurrences: Vec<core::Occurrence>,
    attempts: u32,
) -> Option<core::RepoResult> {
    let status = match v1::RepoStatus::try_from(o.status).ok()? {
        v1::RepoStatus::Scanned => core::RepoStatus::Scanned,
        v1::RepoStatus::Failed => core::RepoStatus::Failed,
        v1::RepoStatus::Skipped => core::RepoStatus::Skipped,
        v1::RepoStatus::Unspecified => return None,
    };
    let some = |s: String| (!s.is_empty()).then_some(s);
    Some(core::RepoResult {
        repo,
        url,
        status,
        reason: some(o.reason),
        branch: some(o.branch),
        commit: some(o.commit),
        commit_time: (status == core::RepoStatus::Scanned).then_some(o.commit_time),
        occurrences,
        stats: o.stats.map(Into::into).unwrap_or_default(),
        fetch_ms: o.fetch_ms,
        scan_ms: o.scan_ms,
        attempts,
        cached: o.cached,
        cache_repaired: None,
        truncated: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_specs_round_trip_and_a_missing_part_is_an_error() {
        let spec = JobSpec {
            options: core::ScanOptions {
                matching: MatchOptions::new(["eventlet"]).with_ignore_comments(true, "//"),
                files: FileOptions::default().with_exclude(vec!["^doc/".into()]),
            },
            timeout_secs: 7,
            connect_timeout_secs: 3,
        };
        let wire = v1::JobSpec::from(&spec);
        assert_eq!(JobSpec::try_from(wire.clone()).unwrap(), spec);
        for (broken, field) in [
            (
                v1::JobSpec {
                    matching: None,
                    ..wire.clone()
                },
                "matching",
            ),
            (
                v1::JobSpec {
                    files: None,
                    ..wire.clone()
                },
                "files",
            ),
            (
                v1::JobSpec {
                    timeout_secs: 0,
                    ..wire.clone()
                },
                "timeout_secs",
            ),
        ] {
            let e = JobSpec::try_from(broken).unwrap_err();
            assert_eq!(e, missing("JobSpec", field));
        }
    }

    #[test]
    fn results_round_trip() {
        let mut r = core::RepoResult::new(
            RepoName::parse("openstack/nova").unwrap(),
            "git://h/openstack/nova".into(),
        );
        r.status = core::RepoStatus::Scanned;
        r.branch = Some("master".into());
        r.commit = Some("abc".into());
        r.commit_time = Some(1_700_000_000);
        r.occurrences = vec![core::Occurrence {
            path: "a.py".into(),
            line: 3,
            text: "import eventlet".into(),
        }];
        r.stats.files_scanned = 4;
        r.stats.submodules = vec!["sub".into()];
        r.fetch_ms = 5;
        r.scan_ms = 6;
        r.attempts = 2;
        let back = result(
            r.repo.clone(),
            r.url.clone(),
            outcome(&r, false),
            r.occurrences
                .iter()
                .map(v1::Occurrence::from)
                .map(Into::into)
                .collect(),
            2,
        )
        .unwrap();
        assert_eq!(back, r);
        let failed = core::RepoResult::new(r.repo.clone(), r.url.clone()).failed("gone");
        let back = result(
            r.repo.clone(),
            r.url.clone(),
            outcome(&failed, true),
            vec![],
            0,
        );
        assert_eq!(back.unwrap(), failed);
    }
}
