//! Processing one repository: probe, fetch, scan, with retries. The embedded runner and the
//! distributed worker both call [`run`], so both modes produce the same results.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetscan_core::code::roles::CodeFacts as RoleFacts;
use fleetscan_core::filter::FileFilter;
use fleetscan_core::history::Points;
use fleetscan_core::matcher::{cut_line, Matcher};
use fleetscan_core::plan;
use fleetscan_core::result::{Occurrence, RepoResult, RepoStatus, ScanOptions};
use fleetscan_core::select;
use fleetscan_core::Error as CoreError;

use crate::cache::{Entry, ResultCache};
use crate::error::{Kind, RepoError};
use crate::facts::{code_facts, Memo};
use crate::git::{self, GitOptions};
use crate::pools::{Pools, Stage};
use crate::scan::{scan_commit, Sinks};

/// One repository to process: the core's selection target.
pub use fleetscan_core::select::Target as Job;

/// Limits and retry policy of one repository.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Time budget of one attempt (probe, fetch and scan). Default 10 min.
    pub timeout: Duration,
    /// Attempts after the first for retryable failures. Default 2.
    pub retries: u32,
    /// First backoff; doubled each retry, with up to 50% jitter added. Default 500 ms.
    pub backoff: Duration,
    /// Network limits.
    pub git: GitOptions,
    /// Occurrences kept per repository; the scan stops at the cap and the result says where.
    /// Default: no cap. [`JobOptions::for_spec`] takes the plan's (in distributed mode the
    /// coordinator's limit, so a repository over it is truncated rather than refused).
    pub max_occurrences: usize,
    /// Bytes of occurrences (paths and lines) kept per repository; the scan stops there too.
    /// Default: no cap. [`JobOptions::for_spec`] takes the plan's.
    pub max_result_bytes: usize,
    /// Longest matched line kept, in bytes; longer ones are cut with a marker. Default 2000.
    pub max_line_length: usize,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            timeout: Duration::from_secs(u64::from(plan::DEFAULT_TIMEOUT_SECS)),
            retries: plan::DEFAULT_RETRIES,
            backoff: plan::DEFAULT_RETRY_BACKOFF,
            git: GitOptions::default(),
            max_occurrences: usize::MAX,
            max_result_bytes: usize::MAX,
            max_line_length: 2000,
        }
    }
}

impl JobOptions {
    /// The limits a planned scan gives each of its jobs, with `retries` in this process (the
    /// distributed worker runs one attempt per lease and lets the queue retry).
    pub fn for_spec(spec: &plan::JobSpec, retries: u32) -> JobOptions {
        JobOptions {
            timeout: Duration::from_secs(u64::from(spec.timeout_secs.max(1))),
            retries,
            backoff: plan::DEFAULT_RETRY_BACKOFF,
            git: GitOptions {
                connect_timeout: Duration::from_secs(u64::from(spec.connect_timeout_secs.max(1))),
                ..GitOptions::default()
            },
            max_occurrences: usize::try_from(spec.max_occurrences.max(1)).unwrap_or(usize::MAX),
            max_result_bytes: spec
                .max_result_bytes
                .map_or(usize::MAX, |b| usize::try_from(b).unwrap_or(usize::MAX)),
            ..JobOptions::default()
        }
    }
}

/// Everything a job needs besides the job itself; built once per scan and shared.
#[derive(Debug)]
pub struct Context {
    pub(crate) matcher: Matcher,
    pub(crate) filter: FileFilter,
    pub(crate) fingerprint: String,
    cache_root: PathBuf,
    pub(crate) results: ResultCache,
    pub(crate) opts: JobOptions,
    /// Network and CPU slots, shared with every other context of the process; `None` runs
    /// each job straight through.
    pools: Option<Arc<Pools>>,
    /// The points of a history scan; empty: the head only.
    pub(crate) points: Points,
}

impl Context {
    /// Compiles `scan` and sets up the caches under `cache_root`.
    pub fn new(
        scan: &ScanOptions,
        cache_root: PathBuf,
        opts: JobOptions,
    ) -> Result<Context, CoreError> {
        git::init();
        Ok(Context {
            matcher: Matcher::new(&scan.matching)?,
            filter: FileFilter::new(&scan.files)?,
            // The caps change what a scan yields, so they are part of the cache key.
            fingerprint: format!(
                "{}\n{} {} {}",
                scan.fingerprint(),
                opts.max_occurrences,
                opts.max_line_length,
                opts.max_result_bytes
            ),
            results: ResultCache::new(&cache_root),
            cache_root,
            opts,
            pools: None,
            points: Points::default(),
        })
    }

    /// Scans each repository at these points too, oldest first, before its head (see
    /// [`crate::history`]). Default: none.
    pub fn with_points(mut self, points: Points) -> Context {
        self.points = points;
        self
    }

    /// Runs the jobs' network and CPU steps in `pools`' slots. Default: no slots, each job
    /// runs straight through on its caller's thread.
    pub fn with_pools(mut self, pools: Arc<Pools>) -> Context {
        self.pools = Some(pools);
        self
    }

    /// The directory of the clone and result caches.
    pub fn cache_root(&self) -> &Path {
        &self.cache_root
    }
}

/// Processes `job`, retrying retryable failures with jittered exponential backoff. Never
/// panics on bad input: every failure ends in a `Failed` result with its reason.
/// `cancel` is checked between attempts and stops the backoff wait.
pub fn run(job: &Job, ctx: &Context, cancel: &AtomicBool) -> RepoResult {
    run_attempts(job, ctx, cancel).0
}

/// Like [`run`], and also says whether a failed result is worth another attempt later: the
/// distributed worker runs one attempt per lease and lets the queue schedule the retries.
pub fn run_attempts(job: &Job, ctx: &Context, cancel: &AtomicBool) -> (RepoResult, bool) {
    if cancel.load(Ordering::Relaxed) {
        let r = RepoResult::new(job.repo.clone(), select::redact_url(&job.url))
            .failed("cancelled before it started");
        return (r, true);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let started = Instant::now();
        let budget = git::Budget {
            deadline: started + ctx.opts.timeout,
            stop: cancel,
        };
        // A password in the URL never reaches a reason or a log line, whatever git said.
        let outcome = attempt_once(job, ctx, budget).map_err(|mut e| {
            if let Some(p) = select::url_password(&job.url) {
                e.message = e.message.replace(p, "***");
            }
            e
        });
        let (mut result, retryable) = match outcome {
            Ok(r) => (r, false),
            Err(e)
                if e.retryable()
                    && attempt <= ctx.opts.retries
                    && !cancel.load(Ordering::Relaxed) =>
            {
                tracing::warn!(repo = %job.repo, attempt, error = %e, "attempt failed, retrying");
                if !sleep_unless_cancelled(backoff(ctx.opts.backoff, attempt), cancel) {
                    let r = RepoResult::new(job.repo.clone(), select::redact_url(&job.url))
                        .failed("cancelled");
                    return (r, true);
                }
                continue;
            }
            Err(e) => {
                let retryable = e.retryable();
                let mut r = RepoResult::new(job.repo.clone(), select::redact_url(&job.url))
                    .failed(e.message);
                r.fetch_ms = started.elapsed().as_millis() as u64;
                (r, retryable)
            }
        };
        result.attempts = attempt;
        return (result, retryable);
    }
}

fn attempt_once(
    job: &Job,
    ctx: &Context,
    budget: git::Budget<'_>,
) -> Result<RepoResult, RepoError> {
    let mut r = RepoResult::new(job.repo.clone(), select::redact_url(&job.url));
    // The attempt's budget, less the time spent waiting for slots.
    let mut stage = Stage::new(ctx.pools.as_deref(), &job.url);
    let attempt = budget;
    let budget = stage.network(attempt)?;
    if !ctx.points.is_empty() {
        // History fetches deeper, in rounds, under its own lock: a probe of its own.
        let t0 = Instant::now();
        let probed = git::probe(&job.url, &ctx.opts.git, budget);
        stage.opened();
        let Some(head) = probed? else {
            empty(&mut r);
            return Ok(r);
        };
        r.branch = Some(head.branch().to_string());
        r.fetch_ms = t0.elapsed().as_millis() as u64;
        crate::history::attempt(job, ctx, &head, attempt, &mut stage, &mut r)?;
        return Ok(r);
    }
    // The cache is locked before the probe, so that the probe's connection, opened on the
    // cache's repository, can carry the fetch too.
    let path = git::cache_path(&ctx.cache_root, &job.url);
    let _lock = git::lock_cache(&path, budget)?;
    let Some((head, first)) = first_try(job, ctx, &path, attempt, budget, &mut stage, &mut r)?
    else {
        return Ok(r);
    };
    // The first try's repository is closed by now: libgit2 shares open packs by path, and a
    // repaired clone's new pack must not be read through the damaged one's.
    let (commit, entry) = match first {
        Err(e) if e.kind == Kind::Cache => repair(job, &path, &mut r, e, |r| {
            fetch_and_scan(job, ctx, &path, &head, None, attempt, &mut stage, r)
        })?,
        other => other?,
    };
    ctx.results.store(&r.url, commit, &ctx.fingerprint, &entry);
    fill(&mut r, commit, entry);
    Ok(r)
}

/// Probes over a connection opened on the clone cache at `path` and, unless `r` is complete
/// (`Ok(None)`: no branches, or a result cached for the head), fetches over that connection
/// and scans: the head, and how that went.
#[allow(clippy::type_complexity)]
fn first_try(
    job: &Job,
    ctx: &Context,
    path: &Path,
    attempt: git::Budget<'_>,
    budget: git::Budget<'_>,
    stage: &mut Stage<'_>,
    r: &mut RepoResult,
) -> Result<Option<(git::Head, Result<(git2::Oid, Entry), RepoError>)>, RepoError> {
    let t0 = Instant::now();
    let repo = git::open_cache(path)?;
    let mut remote = git::remote(&repo, &job.url)?;
    let probed = git::connect(&mut remote, &job.url, &ctx.opts.git, budget)
        .and_then(|conn| Ok((git::default_head(&conn)?, conn)));
    stage.opened();
    let (head, conn) = probed?;
    let Some(head) = head else {
        empty(r);
        return Ok(None);
    };
    r.branch = Some(head.branch().to_string());
    r.fetch_ms = t0.elapsed().as_millis() as u64;
    if let Some(hit) = ctx.results.load(&r.url, head.oid, &ctx.fingerprint) {
        fill(r, head.oid, hit);
        r.cached = true;
        return Ok(None);
    }
    let scanned = fetch_and_scan(
        job,
        ctx,
        path,
        &head,
        Some((&repo, conn)),
        attempt,
        stage,
        r,
    );
    Ok(Some((head, scanned)))
}

/// Marks `r` as a repository with no branches: skipped, with the reason.
fn empty(r: &mut RepoResult) {
    r.status = RepoStatus::Skipped;
    r.reason = Some("empty repository (no branches)".into());
}

/// Runs `work` on the clone at `path`; when it finds the clone damaged (a pack cut short,
/// deleted or corrupt), throws the clone away and runs it once more, within this attempt,
/// and the result says so.
pub(crate) fn with_repair<T>(
    job: &Job,
    path: &Path,
    r: &mut RepoResult,
    mut work: impl FnMut(&mut RepoResult) -> Result<T, RepoError>,
) -> Result<T, RepoError> {
    match work(r) {
        Err(e) if e.kind == Kind::Cache => repair(job, path, r, e, work),
        other => other,
    }
}

/// After `work` found the clone at `path` damaged (`e`): throws it away and runs `work` once
/// more, and the result says so.
fn repair<T>(
    job: &Job,
    path: &Path,
    r: &mut RepoResult,
    e: RepoError,
    mut work: impl FnMut(&mut RepoResult) -> Result<T, RepoError>,
) -> Result<T, RepoError> {
    tracing::warn!(repo = %job.repo, error = %e, "clone cache damaged, fetching again");
    std::fs::remove_dir_all(path).map_err(|io| {
        RepoError::new(
            Kind::Other,
            format!("{e}; cannot remove {}: {io}", path.display()),
        )
    })?;
    r.cache_repaired = Some(e.message);
    work(r)
}

/// Sets what the scan of `commit` found on `r`, now scanned.
pub(crate) fn fill(r: &mut RepoResult, commit: git2::Oid, e: Entry) {
    r.status = RepoStatus::Scanned;
    r.commit = Some(commit.to_string());
    r.commit_time = Some(e.commit_time);
    r.occurrences = e.occurrences;
    r.stats = e.stats;
    r.truncated = e.truncated;
    r.code = e.code;
    r.facts = e.facts;
}

/// Fetches `head` into the clone at `path` if needed (in a network slot), over `open` (the
/// cache's repository and the probe's connection to it) when given, and scans it (in a CPU
/// slot); fills in the timings. `attempt` is the attempt's budget before any wait.
#[allow(clippy::too_many_arguments)]
fn fetch_and_scan(
    job: &Job,
    ctx: &Context,
    path: &Path,
    head: &git::Head,
    open: Option<(&git2::Repository, git2::RemoteConnection<'_, '_, '_>)>,
    attempt: git::Budget<'_>,
    stage: &mut Stage<'_>,
    r: &mut RepoResult,
) -> Result<(git2::Oid, Entry), RepoError> {
    let budget = stage.network(attempt)?;
    let t0 = Instant::now();
    let fetched;
    let repo = match open {
        Some((repo, conn)) => {
            git::fetch_over(repo, conn, head, &ctx.opts.git, budget)?;
            repo
        }
        None => {
            fetched = git::fetch(path, &job.url, head, &ctx.opts.git, budget)?;
            &fetched
        }
    };
    let commit = git::scanned_commit(repo, head)?;
    r.fetch_ms += t0.elapsed().as_millis() as u64;
    let budget = stage.scanning(attempt)?;
    let t1 = Instant::now();
    let entry = scan_entry(repo, commit, ctx, budget)?;
    r.scan_ms += t1.elapsed().as_millis() as u64;
    Ok((commit, entry))
}

/// Scans `commit` of `repo` with the context's options and caps: the whole tree, then the
/// code facts.
pub(crate) fn scan_entry(
    repo: &git2::Repository,
    commit: git2::Oid,
    ctx: &Context,
    budget: git::Budget<'_>,
) -> Result<Entry, RepoError> {
    let commit_time = commit_time(repo, commit)?;
    let t1 = Instant::now();
    let (cap, max_line) = (ctx.opts.max_occurrences, ctx.opts.max_line_length);
    let max_bytes = ctx.opts.max_result_bytes;
    let mut occurrences: Vec<Occurrence> = Vec::new();
    let mut bytes = 0usize;
    // Which cap stopped the scan, if one did.
    let mut over: Option<String> = None;
    let mut facts = RoleFacts::default();
    let sinks = Sinks {
        occurrence: &mut |mut o| {
            if occurrences.len() >= cap {
                over = Some(format!(
                    "more than the --max-occurrences cap of {cap} occurrences"
                ));
                return ControlFlow::Break(());
            }
            o.text = cut_line(o.text, max_line);
            // Counted as the coordinator counts what it accepts: paths and lines.
            let size = o.path.len() + o.text.len();
            if bytes.saturating_add(size) > max_bytes {
                over = Some(format!(
                    "more than the coordinator's --max-result-bytes cap of {max_bytes} bytes of occurrences"
                ));
                return ControlFlow::Break(());
            }
            bytes += size;
            occurrences.push(o);
            ControlFlow::Continue(())
        },
        facts: &mut |f| facts.files.push(f),
        kept: None,
        contents: None,
    };
    let stats = scan_commit(repo, commit, &ctx.matcher, &ctx.filter, budget, sinks)?;
    // Where it stopped: the last occurrence kept, in tree order.
    let truncated = over.map(|why| {
        let last = occurrences
            .last()
            .map_or(String::new(), |o| format!(" at {} line {}", o.path, o.line));
        format!(
            "stopped{last}: {why}; only the first {} are listed",
            occurrences.len()
        )
    });
    occurrences.sort();
    facts.sort();
    let t2 = Instant::now();
    let code = code_facts(repo, commit, &occurrences, &mut Memo::off(), budget)?;
    // What the second pass costs, against the scan it follows (BENCHMARKS.md).
    tracing::debug!(
        %commit,
        scan_ms = (t2 - t1).as_millis() as u64,
        facts_ms = t2.elapsed().as_millis() as u64,
        "code facts"
    );
    Ok(Entry {
        occurrences,
        stats,
        commit_time,
        truncated,
        code,
        facts,
    })
}

/// The committer time of `commit`, Unix seconds.
pub(crate) fn commit_time(repo: &git2::Repository, commit: git2::Oid) -> Result<i64, RepoError> {
    repo.find_commit(commit)
        .map(|c| c.time().seconds())
        .map_err(|e| RepoError::damaged_cache("read commit", &e))
}

/// Backoff before retry `attempt` (1-based): the core's [`plan::retry_backoff`],
/// the one both modes use, with jitter from the clock.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    plan::retry_backoff(base, attempt, jitter())
}

/// A number from 0 to 1 that differs between processes and moments.
pub fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

fn sleep_unless_cancelled(d: Duration, cancel: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use fleetscan_core::filter::FileOptions;
    use fleetscan_core::ids::RepoName;
    use fleetscan_core::matcher::MatchOptions;

    /// Runs `job` on another thread and gives up after `limit`, so a hang fails the test.
    fn run_bounded(job: Job, ctx: Arc<Context>, limit: Duration) -> RepoResult {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(run(&job, &ctx, &AtomicBool::new(false)));
        });
        rx.recv_timeout(limit)
            .expect("the job ended within the watchdog")
    }

    /// Network limits used to be set process-wide by the first scan, so a long-running worker
    /// applied the first scan's limits to every later one.
    #[test]
    fn two_scans_in_one_process_keep_their_own_network_limits() {
        // Accepts connections (the kernel does, into the backlog) and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("git://{}/openstack/silent", silent.local_addr().unwrap());
        let job = Job {
            repo: RepoName::parse("openstack/silent").unwrap(),
            url,
        };
        let scan = ScanOptions {
            matching: MatchOptions::new(["eventlet".to_string()]),
            files: FileOptions::default(),
        };
        let cache = tempfile::tempdir().unwrap();
        let ctx = |timeout: u64, io: u64| {
            let opts = JobOptions {
                timeout: Duration::from_secs(timeout),
                retries: 0,
                git: GitOptions {
                    io_timeout: Duration::from_secs(io),
                    ..GitOptions::default()
                },
                ..JobOptions::default()
            };
            Arc::new(Context::new(&scan, cache.path().to_path_buf(), opts).unwrap())
        };
        let (patient, impatient) = (ctx(2, 120), ctx(120, 1));
        let limit = Duration::from_secs(60);
        let first = run_bounded(job.clone(), patient, limit);
        let reason = first.reason.unwrap_or_default();
        assert!(reason.contains("--timeout ran out"), "{reason}");
        let second = run_bounded(job, impatient, limit);
        let reason = second.reason.unwrap_or_default();
        assert!(reason.contains("sent nothing for 1s"), "{reason}");
        assert!(reason.contains("listing refs"), "{reason}");
    }

    #[test]
    fn backoff_grows_and_jitter_is_bounded() {
        let b = Duration::from_millis(100);
        for attempt in 1..5 {
            let d = backoff(b, attempt);
            let exp = b * (1 << (attempt - 1));
            assert!(d >= exp && d <= exp.mul_f64(1.5), "{attempt}: {d:?}");
        }
    }
}
