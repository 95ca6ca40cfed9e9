//! Conversions between the wire messages and the core's result types. Every field goes both
//! ways, so a result that crosses the network renders the same bytes as one that did not.

use fleetscan_core::code::facts::CodeFacts;
use fleetscan_core::code::roles::CodeFacts as RoleFacts;
use fleetscan_core::filter::FileOptions;
use fleetscan_core::ids::RepoName;
use fleetscan_core::link::{LinkOptions, LinkRef};
use fleetscan_core::matcher::MatchOptions;
use fleetscan_core::plan::{self, JobSpec, ProfileSource, ScanRequest};
use fleetscan_core::result as core;
use fleetscan_core::select::Entry;

use crate::v1;

mod facts;
pub mod history;

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
    /// A field that does not read.
    #[error("{field} is invalid: {why}")]
    Invalid {
        /// The message and field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

impl From<&ScanRequest> for v1::ScanSpec {
    fn from(r: &ScanRequest) -> Self {
        let m = &r.options.matching;
        v1::ScanSpec {
            patterns: m.patterns.clone(),
            ignore_case: m.ignore_case,
            ignore_comments: m.ignore_comments,
            comment_marker: m.comment_marker.clone(),
            file_patterns: r.options.files.include.clone(),
            exclude_files: r.options.files.exclude.clone(),
            max_file_size: r.options.files.max_file_size,
            governance: r
                .governance
                .iter()
                .map(|(name, text)| v1::Document {
                    name: name.clone(),
                    text: text.clone(),
                })
                .collect(),
            repos: r.repos.iter().map(|e| e.text.clone()).collect(),
            repo_pattern: r.repo_pattern.clone(),
            git_base: r.git_base.clone(),
            link_base: r.links.base.clone(),
            link_ref: match r.links.reference {
                LinkRef::Branch => v1::LinkRef::Branch,
                LinkRef::Commit => v1::LinkRef::Commit,
            } as i32,
            profile: Some(v1::Document {
                name: r.profile.name.clone(),
                text: r.profile.text.clone().unwrap_or_default(),
            }),
            timeout_secs: r.timeout_secs,
            connect_timeout_secs: r.connect_timeout_secs,
            max_attempts: r.retries.saturating_add(1),
            points: history::days(&r.points),
        }
    }
}

impl From<&v1::ScanSpec> for ScanRequest {
    /// Fields left at zero or empty take the request's defaults, as the proto documents; the
    /// request's plan then checks everything.
    fn from(s: &v1::ScanSpec) -> Self {
        let or = |v: &str, d: &str| {
            if v.is_empty() {
                d.to_string()
            } else {
                v.to_string()
            }
        };
        let nonzero = |v: u32, d: u32| if v == 0 { d } else { v };
        let mut r = ScanRequest::new(s.patterns.iter().cloned(), &s.git_base);
        r.options.matching = r
            .options
            .matching
            .with_ignore_case(s.ignore_case)
            .with_ignore_comments(
                s.ignore_comments,
                &or(&s.comment_marker, plan::DEFAULT_COMMENT_MARKER),
            );
        r.options.files = FileOptions::default()
            .with_include(s.file_patterns.clone())
            .with_exclude(s.exclude_files.clone());
        if s.max_file_size != 0 {
            r.options.files.max_file_size = s.max_file_size;
        }
        r.governance = s
            .governance
            .iter()
            .map(|d| (d.name.clone(), d.text.clone()))
            .collect();
        r.repos = s
            .repos
            .iter()
            .enumerate()
            .map(|(i, text)| Entry {
                text: text.clone(),
                origin: format!("repos[{i}]"),
            })
            .collect();
        r.repo_pattern = or(&s.repo_pattern, plan::DEFAULT_REPO_PATTERN);
        r.links = LinkOptions {
            base: or(&s.link_base, &LinkOptions::default().base),
            reference: match v1::LinkRef::try_from(s.link_ref) {
                Ok(v1::LinkRef::Commit) => LinkRef::Commit,
                _ => LinkRef::Branch,
            },
        };
        r.profile = match &s.profile {
            None => ProfileSource::default(),
            Some(d) => ProfileSource {
                name: or(&d.name, plan::DEFAULT_PROFILE),
                text: (!d.text.is_empty()).then(|| d.text.clone()),
            },
        };
        r.timeout_secs = nonzero(s.timeout_secs, plan::DEFAULT_TIMEOUT_SECS);
        r.connect_timeout_secs =
            nonzero(s.connect_timeout_secs, plan::DEFAULT_CONNECT_TIMEOUT_SECS);
        r.retries = nonzero(s.max_attempts, plan::DEFAULT_RETRIES + 1) - 1;
        // The coordinator checks the dates when the scan is submitted (spec::plan); a stored
        // spec has only good ones.
        r.points = history::points("ScanSpec.points", &s.points).unwrap_or_default();
        r
    }
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
            max_occurrences: j.max_occurrences,
            max_result_bytes: j.max_result_bytes.unwrap_or(0),
            points: history::days(&j.points),
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
            // Zero is a coordinator from before the field, not a missing option: it refuses
            // results over its own limit, which defaults to this one.
            max_occurrences: match j.max_occurrences {
                0 => plan::DEFAULT_MAX_OCCURRENCES,
                n => n,
            },
            max_result_bytes: (j.max_result_bytes != 0).then_some(j.max_result_bytes),
            points: history::points("JobSpec.points", &j.points)?,
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
            raw_paths: s
                .raw_paths
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
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
            raw_paths: s.raw_paths.into_iter().collect(),
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
        facts: role_facts(&r.facts),
        code_facts: code_facts(&r.code),
        cache_repaired: r.cache_repaired.clone().unwrap_or_default(),
        truncated: r.truncated.clone().unwrap_or_default(),
    }
}

/// The role facts as the wire carries them: absent when empty.
fn role_facts(f: &RoleFacts) -> Option<v1::CodeFacts> {
    (!f.is_empty()).then(|| v1::CodeFacts::from(f))
}

/// The code facts as the wire carries them: JSON, empty when there is nothing to say.
fn code_facts(c: &CodeFacts) -> Vec<u8> {
    if c.is_empty() {
        Vec::new()
    } else {
        serde_json::to_vec(c).expect("code facts serialize")
    }
}

/// [`role_facts`] read back; None when they do not read.
fn role_facts_from(f: Option<v1::CodeFacts>) -> Option<RoleFacts> {
    match f {
        Some(f) => f.try_into().ok(),
        None => Some(RoleFacts::default()),
    }
}

/// [`code_facts`] read back; None when they do not read.
fn code_facts_from(bytes: &[u8]) -> Option<CodeFacts> {
    if bytes.is_empty() {
        Some(CodeFacts::default())
    } else {
        serde_json::from_slice(bytes).ok()
    }
}

/// A core result from its wire parts. `None` when the status is missing or unknown, or the
/// code facts do not parse.
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
    let facts = role_facts_from(o.facts)?;
    let code = code_facts_from(&o.code_facts)?;
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
        facts,
        fetch_ms: o.fetch_ms,
        scan_ms: o.scan_ms,
        attempts,
        cached: o.cached,
        cache_repaired: some(o.cache_repaired),
        truncated: some(o.truncated),
        code,
        history: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_requests_round_trip_and_empty_fields_take_the_defaults() {
        let mut r = ScanRequest::new(["eventlet", "greenlet"], "git://h/");
        r.options.matching = r.options.matching.with_ignore_comments(true, "//");
        r.options.files = FileOptions::default().with_max_file_size(5);
        r.governance = vec![("g.yaml".into(), "x".into())];
        r.repos = vec![Entry {
            text: "openstack/nova".into(),
            origin: "repos[0]".into(),
        }];
        r.links.reference = LinkRef::Commit;
        r.profile = ProfileSource {
            name: "p.toml".into(),
            text: Some("t".into()),
        };
        r.timeout_secs = 9;
        r.retries = 0;
        r.points = fleetscan_core::history::Points::from_days(["2025-04-01".parse().unwrap()]);
        let back = ScanRequest::from(&v1::ScanSpec::from(&r));
        assert_eq!(back.points, r.points);
        assert_eq!(back.options, r.options);
        assert_eq!(back.governance, r.governance);
        assert_eq!(back.repos[0].text, "openstack/nova");
        assert_eq!(back.links, r.links);
        assert_eq!(back.profile, r.profile);
        assert_eq!((back.timeout_secs, back.retries), (9, 0));
        let d = ScanRequest::from(&v1::ScanSpec {
            patterns: vec!["x".into()],
            ..Default::default()
        });
        let want = ScanRequest::new(["x"], "");
        assert_eq!(d.options, want.options);
        assert_eq!(d.repo_pattern, plan::DEFAULT_REPO_PATTERN);
        assert_eq!(d.profile, ProfileSource::default());
        assert_eq!(
            (d.timeout_secs, d.connect_timeout_secs, d.retries),
            (want.timeout_secs, want.connect_timeout_secs, want.retries)
        );
    }

    #[test]
    fn job_specs_round_trip_and_a_missing_part_is_an_error() {
        let spec = JobSpec {
            options: core::ScanOptions {
                matching: MatchOptions::new(["eventlet"]).with_ignore_comments(true, "//"),
                files: FileOptions::default().with_exclude(vec!["^doc/".into()]),
            },
            timeout_secs: 7,
            connect_timeout_secs: 3,
            max_occurrences: 100,
            max_result_bytes: Some(5000),
            points: fleetscan_core::history::Points::from_days(
                ["2025-01-01", "2024-07-01"].map(|d| d.parse().unwrap()),
            ),
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
        let earlier = v1::JobSpec {
            max_occurrences: 0,
            ..wire
        };
        assert_eq!(
            JobSpec::try_from(earlier).unwrap().max_occurrences,
            plan::DEFAULT_MAX_OCCURRENCES,
            "a coordinator from before the cap was sent refuses over the default"
        );
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
        r.facts.files = vec![fleetscan_core::code::roles::FileFacts {
            path: "a.py".into(),
            parsed: true,
            lines: vec![fleetscan_core::code::roles::LineFacts {
                line: 3,
                role: fleetscan_core::code::roles::Role::Import,
                names: vec!["eventlet".into()],
                serves: vec!["eventlet.sleep".into()],
                mocked: true,
                roles: vec![
                    fleetscan_core::code::roles::Role::Import,
                    fleetscan_core::code::roles::Role::Value,
                ],
            }],
            related: vec![fleetscan_core::code::roles::Site {
                line: 9,
                text: "sleep(1)".into(),
                names: vec!["eventlet.sleep".into()],
            }],
        }];
        r.stats.files_scanned = 4;
        r.stats.submodules = vec!["sub".into()];
        // The three fields the wire once dropped, so that distributed reports differed from
        // embedded ones: a repaired cache, a truncated scan and a non-UTF-8 file name.
        r.stats.raw_paths = [("caf\u{fffd}.py".to_string(), b"caf\xe9.py".to_vec())].into();
        r.cache_repaired = Some("damaged clone cache (read commit: bad pack)".into());
        r.truncated = Some("stopped at a.py line 3".into());
        r.fetch_ms = 5;
        r.scan_ms = 6;
        r.attempts = 2;
        r.code
            .optional_imports
            .push(fleetscan_core::code::facts::Line {
                path: "a.py".into(),
                line: 2,
                text: "import eventlet".into(),
            });
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
