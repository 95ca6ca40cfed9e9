//! Conversions between the wire messages and the core's result types. Every field goes both
//! ways, so a result that crosses the network renders the same bytes as one that did not.

use fleetscan_core::ids::RepoName;
use fleetscan_core::result as core;

use crate::v1;

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
