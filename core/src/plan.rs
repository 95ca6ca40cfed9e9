//! One plan for both ways of running a scan. A [`ScanRequest`] is what a user asked for (the
//! flags of `fleetscan scan` and `fleetscan submit`, or a submitted `ScanSpec`), with its
//! documented defaults written here once; [`ScanRequest::plan`] checks it and decides
//! everything else: the repositories, what each job needs ([`JobSpec`]), the attempts, and
//! what rendering the reports needs. The embedded scan, `submit` and the coordinator all call
//! it, so both modes scan the same repositories with the same options.
//!
//! ```
//! use fleetscan_core::plan::ScanRequest;
//! use fleetscan_core::select::Entry;
//! let mut req = ScanRequest::new(["eventlet"], "git://127.0.0.1:9418/");
//! req.repos = vec![Entry { text: "openstack/nova".into(), origin: "--repo".into() }];
//! let plan = req.plan().unwrap();
//! assert_eq!(plan.targets[0].url, "git://127.0.0.1:9418/openstack/nova");
//! assert_eq!(plan.max_attempts, 3);
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::filter::FileOptions;
use crate::governance::Governance;
use crate::history::Points;
use crate::link::LinkOptions;
use crate::matcher::MatchOptions;
use crate::profile::Profile;
use crate::report::{Fleet, FleetBuilder, ScanInfo};
use crate::result::{RepoResult, ScanOptions};
use crate::select::{self, Entry, Target};
use crate::Error;

/// Budget of one attempt at one repository, seconds, when none is given.
pub const DEFAULT_TIMEOUT_SECS: u32 = 600;
/// Limit for opening a git connection, seconds, when none is given.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u32 = 10;
/// Occurrences kept per repository, when no cap is given: the embedded scan's
/// `--max-occurrences` and the coordinator's `--max-occurrences-per-repo` both default to it.
pub const DEFAULT_MAX_OCCURRENCES: u64 = 2_000_000;
/// Retries of a repository after a retryable failure, when none is given.
pub const DEFAULT_RETRIES: u32 = 2;
/// Governance repositories scanned when no explicit list is given.
pub const DEFAULT_REPO_PATTERN: &str = "openstack/*";
/// The comment marker of `ignore_comments`, when none is given.
pub const DEFAULT_COMMENT_MARKER: &str = "#";
/// The analysis profile, when none is given.
pub const DEFAULT_PROFILE: &str = "eventlet";
/// Where repositories are fetched from, and where links point, when nothing else is given.
pub const DEFAULT_GIT_BASE: &str = "https://opendev.org/";
/// First retry backoff.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait before a retry, jitter included.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(60);

/// The wait before retry `attempt` (1-based): `base * 2^(attempt-1)`, plus `jitter` (0 to 1)
/// times half of that, so that workers retrying the same host do not stay in step; never more
/// than [`MAX_RETRY_BACKOFF`]. Both modes wait this long: the embedded runner sleeps it, and
/// the coordinator hands it to the queue script that schedules the retry.
pub fn retry_backoff(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let with_jitter = exp.saturating_add(exp.mul_f64(jitter.clamp(0.0, 1.0) / 2.0));
    with_jitter.min(MAX_RETRY_BACKOFF)
}

/// What a worker needs to run any job of a scan; the same for every job of the scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Matching and file options.
    pub options: ScanOptions,
    /// Budget of one attempt, seconds. Default [`DEFAULT_TIMEOUT_SECS`].
    pub timeout_secs: u32,
    /// Connect timeout, seconds. Default [`DEFAULT_CONNECT_TIMEOUT_SECS`].
    pub connect_timeout_secs: u32,
    /// Occurrences kept per repository; the scan stops there and the result says where.
    /// Default [`DEFAULT_MAX_OCCURRENCES`]; the coordinator sets its own limit, so that a
    /// repository over it is reported truncated rather than refused.
    #[serde(default = "default_max_occurrences")]
    pub max_occurrences: u64,
    /// Bytes of occurrences (paths and lines) kept per repository, for the same reason.
    /// Default none; the coordinator sets its own limit.
    #[serde(default)]
    pub max_result_bytes: Option<u64>,
    /// The points of a history scan: each job scans its repository at each of them, oldest
    /// first, then at its head. Empty: the head only.
    #[serde(default)]
    pub points: Points,
}

fn default_max_occurrences() -> u64 {
    DEFAULT_MAX_OCCURRENCES
}

impl JobSpec {
    /// A job spec for `options` with the default time limits.
    pub fn new(options: ScanOptions) -> JobSpec {
        JobSpec {
            options,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            max_occurrences: DEFAULT_MAX_OCCURRENCES,
            max_result_bytes: None,
            points: Points::default(),
        }
    }
}

/// The analysis profile asked for: a built-in name (`eventlet`, `none`), or a TOML document
/// and the name of its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSource {
    /// `eventlet`, `none`, or the file name. Default [`DEFAULT_PROFILE`].
    pub name: String,
    /// The TOML text, for a file.
    pub text: Option<String>,
}

impl Default for ProfileSource {
    fn default() -> Self {
        ProfileSource {
            name: DEFAULT_PROFILE.into(),
            text: None,
        }
    }
}

/// A scan as asked for. Inputs are already read (files, URLs): this is pure data.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// Matching and file options. Default: [`MatchOptions::new`] and [`FileOptions::default`].
    pub options: ScanOptions,
    /// Governance documents as (source, text). Default none: the built-in snapshot.
    pub governance: Vec<(String, String)>,
    /// Explicit repositories. Default none: every governance repository matching
    /// `repo_pattern`.
    pub repos: Vec<Entry>,
    /// Glob over governance repository names. Default [`DEFAULT_REPO_PATTERN`].
    pub repo_pattern: String,
    /// Base URL repositories are fetched from. Default [`DEFAULT_GIT_BASE`].
    pub git_base: String,
    /// How links are written. Default [`LinkOptions::default`].
    pub links: LinkOptions,
    /// The analysis profile. Default [`DEFAULT_PROFILE`].
    pub profile: ProfileSource,
    /// Budget of one attempt, seconds. Default [`DEFAULT_TIMEOUT_SECS`].
    pub timeout_secs: u32,
    /// Connect timeout, seconds. Default [`DEFAULT_CONNECT_TIMEOUT_SECS`].
    pub connect_timeout_secs: u32,
    /// Retries after retryable failures. Default [`DEFAULT_RETRIES`].
    pub retries: u32,
    /// Points in time to scan besides the head ([`Points::parse`] checks the flags). Default
    /// none.
    pub points: Points,
}

impl ScanRequest {
    /// A request for `patterns` fetched from `git_base`, every other field at its default.
    pub fn new<S: Into<String>>(
        patterns: impl IntoIterator<Item = S>,
        git_base: &str,
    ) -> ScanRequest {
        ScanRequest {
            options: ScanOptions {
                matching: MatchOptions::new(patterns),
                files: FileOptions::default(),
            },
            governance: Vec::new(),
            repos: Vec::new(),
            repo_pattern: DEFAULT_REPO_PATTERN.into(),
            git_base: git_base.into(),
            links: LinkOptions::default(),
            profile: ProfileSource::default(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            retries: DEFAULT_RETRIES,
            points: Points::default(),
        }
    }

    /// What rendering needs, without choosing the repositories (a scan's reports are rendered
    /// from its results, long after the plan).
    pub fn render_parts(&self) -> Result<RenderParts, Error> {
        let (governance, governance_names) = Governance::from_documents(
            self.governance
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str())),
        )?;
        Ok(RenderParts {
            governance,
            governance_names,
            profile: Profile::named(&self.profile.name, self.profile.text.as_deref())?,
            links: self.links.clone(),
            patterns: self.options.matching.patterns.clone(),
            options: self.options.clone(),
            git_base: self.git_base.clone(),
            points: self.points.clone(),
        })
    }

    /// Checks the request and plans the scan. Errors name the input and the fix.
    pub fn plan(&self) -> Result<Plan, Error> {
        self.options.check()?;
        check_git_base(&self.git_base)?;
        let render = self.render_parts()?;
        let targets = select::targets(
            &render.governance,
            &self.repos,
            &self.repo_pattern,
            &self.git_base,
        )?;
        for t in &targets {
            check_git_base(&t.url)?;
        }
        Ok(Plan {
            targets,
            job_spec: JobSpec {
                options: self.options.clone(),
                timeout_secs: self.timeout_secs.max(1),
                connect_timeout_secs: self.connect_timeout_secs.max(1),
                max_occurrences: DEFAULT_MAX_OCCURRENCES,
                max_result_bytes: None,
                points: self.points.clone(),
            },
            max_attempts: self.retries.saturating_add(1),
            render,
        })
    }
}

/// Refuses fetch URLs that are not network git: `file://` would read the scanning host's own
/// disk, and `ext::` runs a command. The embedded scan, `submit` and the coordinator all
/// check here.
pub fn check_git_base(url: &str) -> Result<(), Error> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("git" | "http" | "https") => Ok(()),
        _ => Err(Error::Selection(format!(
            "git URL {:?} is not supported: use git://, http:// or https:// (file:// and ext:: are refused: they would read local files or run commands)",
            select::redact_url(url)
        ))),
    }
}

/// A checked scan.
#[derive(Debug)]
pub struct Plan {
    /// The repositories, one job each, sorted by name.
    pub targets: Vec<Target>,
    /// What every job needs.
    pub job_spec: JobSpec,
    /// Attempts per repository: the retries plus the first.
    pub max_attempts: u32,
    /// What rendering needs.
    pub render: RenderParts,
}

/// Everything besides the results that rendering a scan's reports needs.
#[derive(Debug)]
pub struct RenderParts {
    /// Team ownership.
    pub governance: Governance,
    /// Where the governance came from.
    pub governance_names: Vec<String>,
    /// The analysis profile; `None` for `none`.
    pub profile: Option<Profile>,
    /// How links are written.
    pub links: LinkOptions,
    /// The patterns searched.
    pub patterns: Vec<String>,
    /// Matching and file options.
    pub options: ScanOptions,
    /// Where repositories were fetched from (the reports show it with any password
    /// redacted).
    pub git_base: String,
    /// The points of a history scan; empty for a scan of the heads only.
    pub points: Points,
}

impl RenderParts {
    /// The results arranged for rendering, with the facts of the run (start, Unix seconds,
    /// and wall time): what both modes render reports from, so both give the same bytes.
    pub fn fleet(
        self,
        results: Vec<RepoResult>,
        started: i64,
        duration_ms: u64,
    ) -> (Fleet, ScanInfo) {
        let info = self.info(started, duration_ms);
        (self.build(results), info)
    }

    /// The results arranged by team, analysed, with the fleet at each point of a history
    /// scan.
    pub fn build(self, results: Vec<RepoResult>) -> Fleet {
        let mut b = self.builder();
        for r in results {
            b.add(r);
        }
        b.finish()
    }

    /// A builder of the fleet, with the fleet at each point of a history scan
    /// ([`FleetBuilder::with_points`]). Every way of rendering a scan's reports builds with
    /// it, so they give the same bytes.
    pub fn builder(&self) -> FleetBuilder<'_> {
        FleetBuilder::new(&self.governance, self.links.clone(), self.profile.clone())
            .with_points(self.points.days())
    }

    /// The facts of the run the reports show: start (Unix seconds) and wall time.
    pub fn info(&self, started: i64, duration_ms: u64) -> ScanInfo {
        ScanInfo {
            patterns: self.patterns.clone(),
            options: self.options.clone(),
            git_base: select::redact_url(&self.git_base),
            governance: self.governance_names.clone(),
            started,
            duration_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ScanRequest {
        let mut r = ScanRequest::new(["eventlet"], "git://127.0.0.1:1/");
        r.repos = vec![Entry {
            text: "openstack/nova".into(),
            origin: "--repo".into(),
        }];
        r
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = request().plan().unwrap();
        assert_eq!(p.max_attempts, DEFAULT_RETRIES + 1);
        assert_eq!(p.job_spec.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert_eq!(
            p.job_spec.options.matching.comment_marker,
            DEFAULT_COMMENT_MARKER
        );
        assert!(p.render.profile.is_some(), "eventlet by default");
    }

    #[test]
    fn file_and_ext_git_bases_are_refused() {
        for base in ["file:///etc/", "ext::sh -c touch% /tmp/x", "/srv/git"] {
            let mut r = request();
            r.git_base = base.into();
            let e = r.plan().unwrap_err().to_string();
            assert!(e.contains("not supported"), "{base}: {e}");
        }
        let mut r = request();
        r.repos[0].text = "file:///srv/openstack/nova".into();
        assert!(r.plan().unwrap_err().to_string().contains("file://"));
        let mut r = request();
        r.git_base = "HTTPS://h/".into();
        assert!(r.plan().is_ok());
    }

    #[test]
    fn retry_backoff_doubles_and_is_capped_at_a_minute() {
        let b = Duration::from_millis(100);
        for attempt in 1..6 {
            let exp = b * (1 << (attempt - 1));
            assert_eq!(retry_backoff(b, attempt, 0.0), exp);
            assert_eq!(retry_backoff(b, attempt, 1.0), exp.mul_f64(1.5));
        }
        assert_eq!(retry_backoff(b, 30, 1.0), MAX_RETRY_BACKOFF);
        assert_eq!(
            retry_backoff(Duration::from_secs(50), 1, 1.0),
            MAX_RETRY_BACKOFF,
            "jitter included"
        );
    }
}
