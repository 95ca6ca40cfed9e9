//! `fleetscan scan`: the whole pipeline in one process.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use clap::Args;
use fleetscan_core::filter::FileOptions;
use fleetscan_core::history::{Day, Points};
use fleetscan_core::link::{LinkOptions, LinkRef};
use fleetscan_core::matcher::MatchOptions;
use fleetscan_core::plan::{self as defaults, ProfileSource, ScanRequest};
use fleetscan_core::profile::Profile;
use fleetscan_core::report::{self, Format};
use fleetscan_core::result::{RepoResult, RepoStatus, ScanOptions};
use fleetscan_worker::job::{Context, JobOptions};
use fleetscan_worker::pools::{PoolOptions, Pools};
use fleetscan_worker::runner;

use crate::spill::Spill;
use crate::{output, progress, select, InputError};

/// Selection, matching and output options shared by `scan` and `submit`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Regex to find (Rust regex syntax); repeat for several. A line matching any is a hit.
    #[arg(
        long = "pattern",
        value_name = "REGEX",
        required = true,
        env = "FLEETSCAN_PATTERN"
    )]
    pub patterns: Vec<String>,
    /// Match case-insensitively.
    #[arg(long, env = "FLEETSCAN_IGNORE_CASE")]
    pub ignore_case: bool,
    /// Drop hits whose line, with leading white space removed, starts with the comment marker
    /// (beagle's rule: trailing comments, docstrings and prose stay).
    #[arg(long, env = "FLEETSCAN_IGNORE_COMMENTS")]
    pub ignore_comments: bool,
    /// Comment marker for --ignore-comments.
    #[arg(
        long,
        default_value = defaults::DEFAULT_COMMENT_MARKER,
        value_name = "S",
        env = "FLEETSCAN_COMMENT_MARKER"
    )]
    pub comment_marker: String,
    /// Scan only files whose path matches this regex; repeat for several.
    #[arg(long = "file-pattern", value_name = "REGEX")]
    pub file_patterns: Vec<String>,
    /// Skip files whose path matches this regex; repeat for several.
    #[arg(long = "exclude-file", value_name = "REGEX")]
    pub exclude_files: Vec<String>,
    /// Skip files larger than this many bytes (counted in summary.json).
    #[arg(long, default_value_t = fleetscan_core::filter::DEFAULT_MAX_FILE_SIZE, value_name = "BYTES", env = "FLEETSCAN_MAX_FILE_SIZE")]
    pub max_file_size: u64,
    /// Governance file or URL (projects.yaml, sigs-repos.yaml, legacy.yaml); repeat to combine.
    /// Default: the snapshot built into fleetscan.
    #[arg(
        long = "governance",
        value_name = "PATH_OR_URL",
        env = "FLEETSCAN_GOVERNANCE",
        value_delimiter = ','
    )]
    pub governance: Vec<String>,
    /// File listing the repositories to scan, one ORG/NAME (or URL) per line; `#` comments.
    #[arg(long, value_name = "FILE", conflicts_with = "repo_pattern")]
    pub repos_file: Option<String>,
    /// Scan this repository (ORG/NAME, or a URL ending in /ORG/NAME); repeat for several.
    #[arg(
        long = "repo",
        value_name = "ORG/NAME",
        conflicts_with = "repo_pattern"
    )]
    pub repos: Vec<String>,
    /// Glob over governance repository names, used when no explicit list is given.
    #[arg(
        long,
        default_value = defaults::DEFAULT_REPO_PATTERN,
        value_name = "GLOB",
        env = "FLEETSCAN_REPO_PATTERN"
    )]
    pub repo_pattern: String,
    /// Where repositories are fetched from: git://, http:// or https:// base URL.
    #[arg(
        long,
        default_value = defaults::DEFAULT_GIT_BASE,
        value_name = "URL",
        env = "FLEETSCAN_GIT_BASE"
    )]
    pub git_base: String,
    /// Base URL of the links in the reports.
    #[arg(
        long,
        default_value = defaults::DEFAULT_GIT_BASE,
        value_name = "URL",
        env = "FLEETSCAN_LINK_BASE"
    )]
    pub link_base: String,
    /// Analysis profile: `eventlet` (built in), `none`, or a TOML file (see
    /// core/profiles/eventlet.toml).
    #[arg(
        long,
        default_value = defaults::DEFAULT_PROFILE,
        value_name = "NAME_OR_FILE",
        env = "FLEETSCAN_PROFILE"
    )]
    pub profile: String,
    /// Link to the branch (as beagle does) or pin links to the scanned commit.
    #[arg(long, value_enum, default_value = "branch", env = "FLEETSCAN_LINK_REF")]
    pub link_ref: LinkRefArg,
    /// Also scan every repository as it was at points in time from START to END (YYYY-MM-DD),
    /// one every --every and END itself: writes history.ndjson, history.csv, progress.md and
    /// history/<date>/. A point is the default branch's last first-parent commit made by the
    /// end of that day (UTC).
    #[arg(long, value_name = "START..END", env = "FLEETSCAN_HISTORY")]
    pub history: Option<String>,
    /// The step of --history: month, quarter (the default) or year.
    #[arg(
        long,
        value_name = "STEP",
        requires = "history",
        env = "FLEETSCAN_EVERY"
    )]
    pub every: Option<String>,
    /// Also scan every repository as it was at the end of this day (YYYY-MM-DD, UTC); repeat
    /// for several, with or without --history.
    #[arg(long = "at", value_name = "DATE")]
    pub at: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LinkRefArg {
    Branch,
    Commit,
}

/// `fleetscan scan` flags.
#[derive(Debug, Args)]
pub struct ScanCmd {
    #[command(flatten)]
    pub common: ScanArgs,
    /// Local clone and result cache, reused across runs (fetch, not re-clone).
    /// Default: the per-user cache directory.
    #[arg(long, value_name = "DIR", env = "FLEETSCAN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Repositories probed and fetched at once (network slots). Scanning has its own slots
    /// (--scan-threads), so a slot is never idle while its repository is scanned.
    #[arg(long, default_value_t = PoolOptions::default().net, value_name = "N", env = "FLEETSCAN_JOBS")]
    pub jobs: usize,
    /// Of the --jobs slots, at most this many fetch from one host.
    #[arg(long, default_value_t = PoolOptions::default().per_host, value_name = "N", env = "FLEETSCAN_PER_HOST")]
    pub per_host: usize,
    /// Repositories scanned at once. Default: the number of CPUs.
    #[arg(long, value_name = "N", env = "FLEETSCAN_SCAN_THREADS")]
    pub scan_threads: Option<usize>,
    /// Occurrences kept per repository. A repository with more is reported as truncated in
    /// summary.json and its team file, with the file and line where the scan stopped; the cap
    /// bounds memory and report size. Same default as the coordinator's.
    #[arg(
        long,
        default_value_t = fleetscan_core::plan::DEFAULT_MAX_OCCURRENCES as usize,
        value_name = "N",
        env = "FLEETSCAN_MAX_OCCURRENCES"
    )]
    pub max_occurrences: usize,
    /// Longest matched line kept in the reports, in bytes; longer ones are cut with a marker.
    #[arg(
        long,
        default_value_t = 2000,
        value_name = "BYTES",
        env = "FLEETSCAN_MAX_LINE_LENGTH"
    )]
    pub max_line_length: usize,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub llm: crate::llm::LlmArgs,
}

/// Limits and output flags shared by `scan` and `submit`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Time budget of one attempt at one repository, seconds.
    #[arg(
        long,
        default_value_t = defaults::DEFAULT_TIMEOUT_SECS,
        value_name = "SECS",
        env = "FLEETSCAN_TIMEOUT"
    )]
    pub timeout: u32,
    /// Retries of a repository after network failures or timeouts.
    #[arg(long, default_value_t = defaults::DEFAULT_RETRIES, value_name = "N", env = "FLEETSCAN_RETRIES")]
    pub retries: u32,
    /// Limit for opening a git connection, seconds.
    #[arg(
        long,
        default_value_t = defaults::DEFAULT_CONNECT_TIMEOUT_SECS,
        value_name = "SECS",
        env = "FLEETSCAN_CONNECT_TIMEOUT"
    )]
    pub connect_timeout: u32,
    /// Directory for the reports. Without it, `scan` prints link lines to stdout.
    #[arg(long, value_name = "DIR", env = "FLEETSCAN_OUT")]
    pub out: Option<PathBuf>,
    /// Output formats, comma-separated: md, links, ndjson, csv, summary, sarif, html. Default: all.
    #[arg(
        long = "format",
        value_name = "LIST",
        value_delimiter = ',',
        requires = "out"
    )]
    pub formats: Vec<String>,
    /// Never draw the progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    /// The chosen formats, checked.
    pub fn formats(&self) -> Result<BTreeSet<Format>> {
        Ok(Format::parse_list(&self.formats)?)
    }
}

impl ScanArgs {
    /// The typed options, checked: bad regexes are reported here, before any network work.
    pub fn options(&self) -> Result<ScanOptions> {
        let opts = ScanOptions {
            matching: MatchOptions::new(self.patterns.iter().cloned())
                .with_ignore_case(self.ignore_case)
                .with_ignore_comments(self.ignore_comments, &self.comment_marker),
            files: FileOptions::default()
                .with_include(self.file_patterns.clone())
                .with_exclude(self.exclude_files.clone())
                .with_max_file_size(self.max_file_size),
        };
        opts.check()?;
        Ok(opts)
    }

    /// The text of the `--profile` file; `None` for the built-in names.
    pub fn profile_text(&self) -> Result<Option<String>> {
        let path = &self.profile;
        if Profile::is_builtin_name(path) {
            return Ok(None);
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            InputError(format!(
                "cannot read --profile {path}: {e}: give `eventlet`, `none` or a TOML profile file"
            ))
        })?;
        Ok(Some(text))
    }

    /// The request these flags and `run` make, with every file they name read: the one
    /// input of the plan both `scan` and `submit` make.
    pub fn request(&self, run: &RunArgs) -> Result<ScanRequest> {
        let mut r = ScanRequest::new(self.patterns.iter().cloned(), &self.git_base);
        r.options = self.options()?;
        r.governance = select::governance_docs(&self.governance)?;
        r.repos = select::entries(&self.repos, self.repos_file.as_deref())?;
        r.repo_pattern = self.repo_pattern.clone();
        r.links = self.links();
        r.profile = ProfileSource {
            name: self.profile.clone(),
            text: self.profile_text()?,
        };
        r.timeout_secs = run.timeout;
        r.connect_timeout_secs = run.connect_timeout;
        r.retries = run.retries;
        r.points = self.points()?;
        Ok(r)
    }

    /// The history points of --history, --every and --at, checked against today's date.
    pub fn points(&self) -> Result<Points> {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Ok(Points::parse(
            self.history.as_deref(),
            self.every.as_deref(),
            &self.at,
            Day::of_unix(now),
        )?)
    }

    /// The link options.
    pub fn links(&self) -> LinkOptions {
        LinkOptions {
            base: self.link_base.clone(),
            reference: match self.link_ref {
                LinkRefArg::Branch => LinkRef::Branch,
                LinkRefArg::Commit => LinkRef::Commit,
            },
        }
    }
}

pub fn run(cmd: ScanCmd) -> Result<ExitCode> {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let args = &cmd.common;
    let formats = cmd.run.formats()?;
    let mut pools = PoolOptions::default()
        .with_net(cmd.jobs)
        .with_per_host(cmd.per_host);
    if let Some(n) = cmd.scan_threads {
        pools = pools.with_cpu(n);
    }
    for (flag, n) in [
        ("--jobs", pools.net),
        ("--per-host", pools.per_host),
        ("--scan-threads", pools.cpu),
    ] {
        if n == 0 {
            return Err(InputError(format!("{flag} must be at least 1")).into());
        }
    }
    if let Some(out) = &cmd.run.out {
        output::check_writable(out)?;
    }
    let request = args.request(&cmd.run)?;
    let plan = request.plan()?;
    select::warn_unknown(&plan.render.governance, &plan.targets, cmd.run.quiet);
    let jobs = plan.targets;
    if jobs
        .iter()
        .any(|j| j.url.starts_with(args.git_base.trim_end_matches('/')))
    {
        output::check_reachable(
            &fleetscan_core::select::redact_url(&args.git_base),
            Duration::from_secs(u64::from(cmd.run.connect_timeout)),
        )?;
    }
    let cache = match &cmd.cache_dir {
        Some(d) => d.clone(),
        None => dirs::cache_dir()
            .ok_or_else(|| InputError("no per-user cache directory: give --cache-dir DIR".into()))?
            .join("fleetscan"),
    };
    fleetscan_worker::cache::check_writable(&cache)?;
    let job_opts = JobOptions {
        max_occurrences: cmd.max_occurrences.max(1),
        max_line_length: cmd.max_line_length.max(1),
        ..JobOptions::for_spec(&plan.job_spec, request.retries)
    };
    let threads = pools.threads();
    let ctx = Arc::new(
        Context::new(&plan.job_spec.options, cache, job_opts)?
            .with_pools(Arc::new(Pools::new(pools)))
            .with_points(plan.job_spec.points.clone()),
    );
    let bar = progress::Bar::new(jobs.len(), cmd.run.quiet);
    let cancel = crate::interrupt::cancel_on_ctrl_c();
    // Written reports are rendered from an outline, each project's result read back from a
    // temporary file when its turn comes, as the coordinator renders from Redis: memory does
    // not grow with the fleet. Link lines on stdout and narratives read every occurrence at
    // once, so they keep the results in memory.
    let mut spill = match (&cmd.run.out, &cmd.llm.llm_url) {
        (Some(_), None) => Some(
            Spill::new(jobs.len())
                .map_err(|e| anyhow::anyhow!("no temporary file for the results: {e}"))?,
        ),
        _ => None,
    };
    let mut held: Vec<Option<RepoResult>> = Vec::new();
    if spill.is_none() {
        held.resize(jobs.len(), None);
    }
    let (mut failed, mut spill_error) = (0, None);
    runner::run_each(
        jobs,
        ctx,
        threads,
        cancel,
        |ev| bar.event(ev),
        |i, r| {
            failed += usize::from(r.status == RepoStatus::Failed);
            match &mut spill {
                Some(s) => {
                    if let Err(e) = s.put(i, r) {
                        spill_error.get_or_insert(e);
                    }
                }
                None => held[i] = Some(r),
            }
        },
    );
    bar.finish();
    if let Some(e) = spill_error {
        anyhow::bail!("could not keep a result in the temporary file: {e}");
    }

    let started = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let duration_ms = t0.elapsed().as_millis() as u64;
    let (mut fleet, info) = match &mut spill {
        Some(s) => {
            let parts = plan.render;
            let info = parts.info(started, duration_ms);
            let fleet = s
                .outline(parts.builder().outline())
                .map_err(|e| anyhow::anyhow!("could not read a result back: {e}"))?;
            (fleet, info)
        }
        None => plan
            .render
            .fleet(held.into_iter().flatten().collect(), started, duration_ms),
    };
    cmd.llm.narrate(&mut fleet);
    match &cmd.run.out {
        Some(out) => {
            // Each file goes to disk as it is rendered, never all of them in memory at once.
            let mut w = output::Writer::new(out);
            let Ok(()) = match &mut spill {
                Some(s) => report::render_to(&fleet, &info, &formats, s, &mut w),
                None => report::render_to(&fleet, &info, &formats, &mut report::Held, &mut w),
            };
            if let Some(e) = spill.as_mut().and_then(Spill::error) {
                anyhow::bail!("could not read a result back while writing the reports: {e}");
            }
            w.finish()?;
        }
        None => print!("{}", fleet.link_lines()),
    }
    // Failures reach stderr in every case, terminal or not, with or without --out.
    eprint!("{}", progress::failure_list(&fleet));
    let summary = cmd
        .run
        .out
        .as_deref()
        .filter(|_| formats.contains(&Format::Summary));
    eprintln!(
        "{}",
        progress::summary_line(&fleet, cmd.run.out.as_deref(), summary, t0.elapsed())
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
