//! Checking a submitted [`ScanSpec`] and turning it into what the queue, the workers and the
//! report renderer need. Everything that arrives over the network has limits, so one bad or
//! hostile request cannot exhaust the coordinator or Redis.

use fleetscan_core::filter::FileOptions;
use fleetscan_core::governance::Governance;
use fleetscan_core::link::{LinkOptions, LinkRef};
use fleetscan_core::matcher::MatchOptions;
use fleetscan_core::plan::{JobSpec, DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_TIMEOUT_SECS};
use fleetscan_core::profile::Profile;
use fleetscan_core::report::{Fleet, ScanInfo};
use fleetscan_core::result::{RepoResult, ScanOptions};
use fleetscan_core::select::{self, Entry, Target};
use fleetscan_proto::v1::{self, ScanSpec};

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
}

/// Default attempts per job: the embedded default retries plus the first attempt.
pub const DEFAULT_MAX_ATTEMPTS: u32 = fleetscan_core::plan::DEFAULT_RETRIES + 1;

/// A checked scan.
#[derive(Debug)]
pub struct Plan {
    /// The repositories, one job each.
    pub targets: Vec<Target>,
    /// For the workers.
    pub job_spec: JobSpec,
    /// Attempts per job.
    pub max_attempts: u32,
}

/// Everything besides the results that rendering a scan's reports needs.
#[derive(Debug)]
pub struct RenderParts {
    /// Team ownership.
    pub governance: Governance,
    /// Where the governance came from.
    pub governance_names: Vec<String>,
    /// The analysis profile.
    pub profile: Option<Profile>,
    /// How links are written.
    pub links: LinkOptions,
    /// Matching and file options.
    pub options: ScanOptions,
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

/// The matching and file options of `spec`, compiled once to check them.
pub fn options(spec: &ScanSpec) -> Result<ScanOptions, String> {
    let marker = if spec.comment_marker.is_empty() {
        "#"
    } else {
        &spec.comment_marker
    };
    let opts = ScanOptions {
        matching: MatchOptions::new(spec.patterns.iter().cloned())
            .with_ignore_case(spec.ignore_case)
            .with_ignore_comments(spec.ignore_comments, marker),
        files: FileOptions::default()
            .with_include(spec.file_patterns.clone())
            .with_exclude(spec.exclude_files.clone())
            .with_max_file_size(spec.max_file_size),
    };
    opts.check().map_err(|e| e.to_string())?;
    Ok(opts)
}

fn governance(spec: &ScanSpec) -> Result<(Governance, Vec<String>), String> {
    let docs = spec
        .governance
        .iter()
        .map(|d| (d.name.as_str(), d.text.as_str()));
    Governance::from_documents(docs).map_err(|e| e.to_string())
}

fn profile(spec: &ScanSpec) -> Result<Option<Profile>, String> {
    let (name, text) = match &spec.profile {
        None => ("eventlet", None),
        Some(d) => (
            if d.name.is_empty() {
                "eventlet"
            } else {
                d.name.as_str()
            },
            (!d.text.is_empty()).then_some(d.text.as_str()),
        ),
    };
    Profile::named(name, text).map_err(|e| e.to_string())
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
    let options = options(spec)?;
    let (gov, _) = governance(spec)?;
    profile(spec)?;
    let entries: Vec<Entry> = spec
        .repos
        .iter()
        .enumerate()
        .map(|(i, r)| Entry {
            text: r.clone(),
            origin: format!("repos[{i}]"),
        })
        .collect();
    let pattern = if spec.repo_pattern.is_empty() {
        "openstack/*"
    } else {
        &spec.repo_pattern
    };
    let targets =
        select::targets(&gov, &entries, pattern, &spec.git_base).map_err(|e| e.to_string())?;
    let or = |v: u32, d: u32| if v == 0 { d } else { v };
    Ok(Plan {
        targets,
        job_spec: JobSpec {
            options,
            timeout_secs: or(spec.timeout_secs, DEFAULT_TIMEOUT_SECS),
            connect_timeout_secs: or(spec.connect_timeout_secs, DEFAULT_CONNECT_TIMEOUT_SECS),
        },
        max_attempts: or(spec.max_attempts, DEFAULT_MAX_ATTEMPTS),
    })
}

/// What rendering needs, from a spec that [`plan`] accepted.
pub fn render_parts(spec: &ScanSpec) -> Result<RenderParts, String> {
    let (governance, governance_names) = governance(spec)?;
    Ok(RenderParts {
        governance,
        governance_names,
        profile: profile(spec)?,
        links: LinkOptions {
            base: spec.link_base.clone(),
            reference: match v1::LinkRef::try_from(spec.link_ref) {
                Ok(v1::LinkRef::Commit) => LinkRef::Commit,
                _ => LinkRef::Branch,
            },
        },
        options: options(spec)?,
    })
}

/// A scan's results arranged for rendering, with the facts of the run: what the coordinator
/// renders reports from, and what a client rendering for itself (say, to add narratives)
/// builds from the same parts, so both give the same bytes.
pub fn fleet(
    spec: &ScanSpec,
    created_ms: i64,
    finished_ms: i64,
    results: Vec<RepoResult>,
) -> Result<(Fleet, ScanInfo), String> {
    let parts = render_parts(spec)?;
    let info = ScanInfo {
        patterns: spec.patterns.clone(),
        options: parts.options,
        git_base: spec.git_base.clone(),
        governance: parts.governance_names,
        started: created_ms / 1000,
        duration_ms: (finished_ms - created_ms).max(0) as u64,
    };
    let fleet = Fleet::build(results, &parts.governance, parts.links, parts.profile);
    Ok((fleet, info))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(p.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(p.job_spec.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert!(render_parts(&spec()).unwrap().profile.is_some());
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
