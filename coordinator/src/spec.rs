//! Checking a submitted [`ScanSpec`] against the limits on what arrives over the network, so
//! one bad or hostile request cannot exhaust the coordinator or Redis, then planning it with
//! the core's [`ScanRequest::plan`], the same plan `fleetscan scan` makes.

use fleetscan_core::plan::{Plan, RenderParts, ScanRequest};
use fleetscan_core::report::{Fleet, ScanInfo};
use fleetscan_core::result::RepoResult;
use fleetscan_proto::v1::ScanSpec;

/// Limits on a submitted scan.
pub mod limits {
    /// Patterns per scan.
    pub const PATTERNS: usize = 64;
    /// Path regexes per scan (include plus exclude).
    pub const PATH_REGEXES: usize = 256;
    /// Bytes of one pattern, regex, URL or repository entry.
    pub const STRING: usize = 4096;
    /// Repositories per scan.
    pub const REPOS: usize = 200_000;
    /// Governance documents per scan.
    pub const DOCUMENTS: usize = 16;
    /// Bytes of governance documents and profile together.
    pub const DOCUMENT_BYTES: usize = 32 << 20;
    /// Attempts per job.
    pub const ATTEMPTS: u32 = 20;
    /// Seconds of one attempt.
    pub const TIMEOUT_SECS: u32 = 24 * 3600;
    /// History points per scan.
    pub const POINTS: usize = fleetscan_core::history::MAX_POINTS;
}

fn check_len(what: &str, s: &str) -> Result<(), String> {
    if s.len() > limits::STRING {
        return Err(format!(
            "{what} is {} bytes long; the limit is {}",
            s.len(),
            limits::STRING
        ));
    }
    Ok(())
}

fn check_all(what: &str, v: &[String], max: usize) -> Result<(), String> {
    if v.len() > max {
        return Err(format!("{} {what} given; the limit is {max}", v.len()));
    }
    v.iter().try_for_each(|s| check_len(what, s))
}

/// Checks `spec` and plans its jobs. The error is one line naming the field and the fix.
pub fn plan(spec: &ScanSpec) -> Result<Plan, String> {
    if spec.patterns.is_empty() {
        return Err("no pattern to search for: give at least one pattern".into());
    }
    check_all("patterns", &spec.patterns, limits::PATTERNS)?;
    check_all(
        "path regexes",
        &[spec.file_patterns.clone(), spec.exclude_files.clone()].concat(),
        limits::PATH_REGEXES,
    )?;
    check_all("repositories", &spec.repos, limits::REPOS)?;
    for s in [
        &spec.repo_pattern,
        &spec.git_base,
        &spec.link_base,
        &spec.comment_marker,
    ] {
        check_len("a string field", s)?;
    }
    if spec.governance.len() > limits::DOCUMENTS {
        return Err(format!(
            "{} governance documents given; the limit is {}",
            spec.governance.len(),
            limits::DOCUMENTS
        ));
    }
    let bytes: usize = spec.governance.iter().map(|d| d.text.len()).sum::<usize>()
        + spec.profile.as_ref().map_or(0, |d| d.text.len());
    if bytes > limits::DOCUMENT_BYTES {
        return Err(format!(
            "governance and profile documents hold {bytes} bytes; the limit is {}",
            limits::DOCUMENT_BYTES
        ));
    }
    if spec.git_base.is_empty() {
        return Err("git_base is empty: give the base URL repositories are fetched from".into());
    }
    if spec.max_attempts > limits::ATTEMPTS {
        return Err(format!(
            "max_attempts is {}; the limit is {}",
            spec.max_attempts,
            limits::ATTEMPTS
        ));
    }
    if spec.timeout_secs > limits::TIMEOUT_SECS || spec.connect_timeout_secs > limits::TIMEOUT_SECS
    {
        return Err(format!(
            "timeouts are limited to {} seconds",
            limits::TIMEOUT_SECS
        ));
    }
    if spec.points.len() > limits::POINTS {
        return Err(format!(
            "{} history points given; the limit is {}",
            spec.points.len(),
            limits::POINTS
        ));
    }
    fleetscan_proto::convert::history::points("points", &spec.points)
        .map_err(|e| format!("{e}: give dates as YYYY-MM-DD"))?;
    ScanRequest::from(spec).plan().map_err(|e| e.to_string())
}

/// What rendering a scan needs besides its results, and the facts of the run (from the
/// scan's creation and end, Unix milliseconds).
pub fn render_parts(
    spec: &ScanSpec,
    created_ms: i64,
    finished_ms: i64,
) -> Result<(RenderParts, ScanInfo), String> {
    let parts = ScanRequest::from(spec)
        .render_parts()
        .map_err(|e| e.to_string())?;
    let info = parts.info(created_ms / 1000, (finished_ms - created_ms).max(0) as u64);
    Ok((parts, info))
}

/// A scan's results arranged for rendering, with the facts of the run: what a client
/// rendering for itself (say, to add narratives) builds, with the parts the coordinator
/// renders from ([`render_parts`]), so both give the same bytes.
pub fn fleet(
    spec: &ScanSpec,
    created_ms: i64,
    finished_ms: i64,
    results: Vec<RepoResult>,
) -> Result<(Fleet, ScanInfo), String> {
    let (parts, info) = render_parts(spec, created_ms, finished_ms)?;
    Ok((parts.build(results), info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetscan_core::plan::{DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECS};
    use fleetscan_proto::v1;

    fn spec() -> ScanSpec {
        ScanSpec {
            patterns: vec!["eventlet".into()],
            repos: vec!["openstack/nova".into()],
            git_base: "git://127.0.0.1:1/".into(),
            ..ScanSpec::default()
        }
    }

    #[test]
    fn defaults_fill_zero_fields() {
        let p = plan(&spec()).unwrap();
        assert_eq!(p.targets.len(), 1);
        assert_eq!(p.targets[0].url, "git://127.0.0.1:1/openstack/nova");
        assert_eq!(p.max_attempts, DEFAULT_RETRIES + 1);
        assert_eq!(p.job_spec.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert!(p.render.profile.is_some());
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        let cases: Vec<(ScanSpec, &str)> = vec![
            (
                ScanSpec {
                    patterns: vec![],
                    ..spec()
                },
                "no pattern",
            ),
            (
                ScanSpec {
                    patterns: vec!["(".into()],
                    ..spec()
                },
                "invalid regex",
            ),
            (
                ScanSpec {
                    patterns: vec!["x".repeat(5000)],
                    ..spec()
                },
                "limit is 4096",
            ),
            (
                ScanSpec {
                    repos: vec!["nova".into()],
                    ..spec()
                },
                "repos[0]",
            ),
            (
                ScanSpec {
                    git_base: String::new(),
                    ..spec()
                },
                "git_base",
            ),
            (
                ScanSpec {
                    git_base: "file:///srv/git/".into(),
                    ..spec()
                },
                "file://",
            ),
            (
                ScanSpec {
                    git_base: "ext::sh -c id".into(),
                    ..spec()
                },
                "not supported",
            ),
            (
                ScanSpec {
                    max_attempts: 99,
                    ..spec()
                },
                "max_attempts",
            ),
            (
                ScanSpec {
                    governance: vec![v1::Document {
                        name: "g.yaml".into(),
                        text: "[".into(),
                    }],
                    ..spec()
                },
                "g.yaml",
            ),
            (
                ScanSpec {
                    profile: Some(v1::Document {
                        name: "p.toml".into(),
                        text: "x =".into(),
                    }),
                    ..spec()
                },
                "p.toml",
            ),
            (
                ScanSpec {
                    profile: Some(v1::Document {
                        name: "six".into(),
                        text: String::new(),
                    }),
                    ..spec()
                },
                "not built in",
            ),
        ];
        for (s, want) in cases {
            let err = plan(&s).unwrap_err();
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}
