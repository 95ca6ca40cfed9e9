//! History scans: one repository at each point in time, then at its head, in one job.
//!
//! The history the points need is fetched into the same bare cache ([`fetch`]); each point
//! stands for a commit of the default branch's first-parent chain
//! ([`fleetscan_core::history::pick`]). The head is scanned first and the points after it,
//! newest to oldest, each re-reading only the blobs that changed since the commit before
//! ([`files`]). The code facts (the bounded second pass) are computed again only when a file
//! they read changed, and then reuse what the commits before learnt about every blob that
//! did not ([`crate::facts::Memo`]). Every commit's result goes to the result cache under its
//! commit, like a head scan's, and what each file held at the head is kept, so a later run
//! with a moved head reads only what changed since.
//!
//! The result is the head's, as in a head scan, with one [`PointResult`] per point.

mod fetch;
pub mod files;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use fleetscan_core::code::facts::CodeFacts;
use fleetscan_core::code::is_production_python;
use fleetscan_core::code::reparse::Ledger;
use fleetscan_core::result::{PointResult, RepoResult};
use git2::{Oid, Repository};

use crate::cache::Entry;
use crate::error::RepoError;
use crate::facts::{code_facts, Memo};
use crate::git::{self, Budget, Head};
use crate::job::{commit_time, fill, scan_entry, with_repair, Context, Job};
use crate::pools::Stage;

pub use fetch::{fetch_history, first_parents, Chain, End};
pub use files::{Files, Scanner};

/// What the parses kept between points (`reparse` in the core) may cost in all, in this
/// process: each scan slot runs a history walk of its own, and each walk's own bounds
/// (`files::MAX_KEPT`, `facts::MAX_KEPT`) times the slots let a worker's memory grow with its
/// CPUs. Past it, a walk parses from scratch, which gives the same result. Trees cost about
/// twenty times their source, so this keeps about 1.5 MB of (pruned) source.
pub(crate) static KEPT: LazyLock<Arc<Ledger>> = LazyLock::new(|| Arc::new(Ledger::new(32 << 20)));

/// Scans `job` at every point of `ctx` and at `head`; fills `r` (already probed) as a head
/// scan would, plus its per-point results.
pub(crate) fn attempt(
    job: &Job,
    ctx: &Context,
    head: &Head,
    attempt: Budget<'_>,
    stage: &mut Stage<'_>,
    r: &mut RepoResult,
) -> Result<(), RepoError> {
    let path = git::cache_path(ctx.cache_root(), &job.url);
    let budget = stage.network(attempt)?;
    let _lock = git::lock_cache(&path, budget)?;
    let (tip, entry, points) = with_repair(job, &path, r, |r| {
        let budget = stage.network(attempt)?;
        let t0 = Instant::now();
        let oldest = ctx.points.oldest().expect("a history scan has points");
        let (repo, chain) =
            fetch_history(&path, &job.url, head, oldest.end(), &ctx.opts.git, budget)?;
        r.fetch_ms += t0.elapsed().as_millis() as u64;
        let budget = stage.scanning(attempt)?;
        let t1 = Instant::now();
        let out = scan_points(ctx, &repo, &r.url, &chain, budget);
        r.scan_ms += t1.elapsed().as_millis() as u64;
        out
    })?;
    fill(r, tip, entry);
    r.history = points;
    Ok(())
}

/// Scans the points of `ctx` along `chain`, then its tip.
fn scan_points(
    ctx: &Context,
    repo: &Repository,
    url: &str,
    chain: &Chain,
    budget: Budget<'_>,
) -> Result<(Oid, Entry, Vec<PointResult>), RepoError> {
    let times: Vec<i64> = chain.commits.iter().map(|c| c.1).collect();
    let picks = fleetscan_core::history::pick(&times, ctx.points.days());
    let mut walk = Walk::new(ctx, repo, url, budget);
    // The tip first, then the points newest to oldest: git stores the newest version of a
    // file whole and older ones as deltas against it, so the one commit read whole costs
    // least at the tip, and each step back reads only what changed. The files are saved at
    // the tip, where the next run starts.
    let tip = chain.commits[0].0;
    let entry = walk.entry(tip)?;
    walk.save();
    let mut entries = HashMap::new();
    for &i in picks.iter().rev().flatten() {
        let commit = chain.commits[i].0;
        entries.insert(commit, walk.entry(commit)?);
    }
    let points = ctx
        .points
        .days()
        .iter()
        .zip(picks)
        .map(|(&at, pick)| {
            let Some(i) = pick else {
                return PointResult::absent(at);
            };
            let commit = chain.commits[i].0;
            let e = entries[&commit].clone();
            PointResult {
                at,
                commit: Some(commit.to_string()),
                commit_time: Some(e.commit_time),
                occurrences: e.occurrences,
                stats: e.stats,
                facts: e.facts,
                code: e.code,
                truncated: e.truncated,
            }
        })
        .collect();
    Ok((tip, entry, points))
}

/// Going from commit to commit of one repository.
struct Walk<'a> {
    ctx: &'a Context,
    repo: &'a Repository,
    url: &'a str,
    budget: Budget<'a>,
    /// Every file at the last commit scanned; None before the first, and after the caps
    /// were reached (then every commit is scanned whole, as a head scan does).
    files: Option<Files>,
    /// The code facts of `files`' commit, when computed.
    code: Option<CodeFacts>,
    /// What the code facts learnt about blobs at the commits before (`Memo` says why).
    memo: Memo,
    /// False once a commit has more occurrences than the caps allow.
    incremental: bool,
    /// Whether `files` changed in this run, and is worth saving.
    moved: bool,
    /// Results of this run, by commit: two points with no commit between them are one scan.
    done: HashMap<Oid, Entry>,
}

impl<'a> Walk<'a> {
    fn new(ctx: &'a Context, repo: &'a Repository, url: &'a str, budget: Budget<'a>) -> Walk<'a> {
        Walk {
            ctx,
            repo,
            url,
            budget,
            files: None,
            code: None,
            memo: Memo::default(),
            incremental: true,
            moved: false,
            done: HashMap::new(),
        }
    }

    /// The result of `commit`: from this run, from the result cache, or scanned.
    fn entry(&mut self, commit: Oid) -> Result<Entry, RepoError> {
        if let Some(e) = self.done.get(&commit) {
            return Ok(e.clone());
        }
        let fp = &self.ctx.fingerprint;
        let e = match self.ctx.results.load(self.url, commit, fp) {
            Some(hit) => hit,
            None => {
                let e = self.scan(commit)?;
                self.ctx.results.store(self.url, commit, fp, &e);
                e
            }
        };
        self.done.insert(commit, e.clone());
        Ok(e)
    }

    fn scanner(&self) -> Scanner<'a> {
        Scanner {
            matcher: &self.ctx.matcher,
            filter: &self.ctx.filter,
            max_line: self.ctx.opts.max_line_length,
        }
    }

    /// Scans `commit`, from the files of the last commit when there is one (in this run, or
    /// saved by an earlier one).
    fn scan(&mut self, commit: Oid) -> Result<Entry, RepoError> {
        if !self.incremental {
            return scan_entry(self.repo, commit, self.ctx, self.budget);
        }
        let scanner = self.scanner();
        if self.files.is_none() {
            self.files = self
                .ctx
                .results
                .load_files(self.url, &self.ctx.fingerprint)
                .and_then(Files::load)
                .filter(|f| self.repo.find_commit(f.commit).is_ok());
        }
        let t0 = Instant::now();
        let changed = match &mut self.files {
            Some(f) => {
                let c = f.advance(self.repo, commit, &scanner, self.budget)?;
                tracing::debug!(%commit, changed = c.paths.len(), read = c.read, "files since the last commit");
                self.memo.hand(c.contents);
                Some(c.paths)
            }
            None => {
                self.files = Some(Files::full(self.repo, commit, &scanner, self.budget)?);
                None
            }
        };
        self.moved = true;
        let files = self.files.as_ref().expect("set above");
        let opts = &self.ctx.opts;
        if files.occurrence_count() > opts.max_occurrences
            || files.occurrence_bytes() > opts.max_result_bytes
        {
            // The caps bound memory: past them, hold no per-file state.
            self.incremental = false;
            self.files = None;
            self.moved = false;
            return scan_entry(self.repo, commit, self.ctx, self.budget);
        }
        let t1 = Instant::now();
        let sums = files.entry();
        let t2 = Instant::now();
        let reuse = match (&self.code, &changed) {
            (Some(_), Some(paths)) => !paths.iter().any(|p| read_by_code_facts(p)),
            _ => false,
        };
        let code = match (reuse, self.code.take()) {
            (true, Some(c)) => c,
            _ => code_facts(
                self.repo,
                commit,
                &sums.occurrences,
                &mut self.memo,
                self.budget,
            )?,
        };
        self.code = Some(code.clone());
        tracing::debug!(
            %commit,
            files_ms = (t1 - t0).as_millis() as u64,
            sum_ms = (t2 - t1).as_millis() as u64,
            code_ms = t2.elapsed().as_millis() as u64,
            reuse,
            memo_kb = self.memo.bytes() >> 10,
            memo_hits = self.memo.hits(),
            "commit scanned"
        );
        Ok(Entry {
            occurrences: sums.occurrences,
            facts: sums.facts,
            stats: sums.stats,
            commit_time: commit_time(self.repo, commit)?,
            truncated: None,
            code,
        })
    }

    /// Keeps the files of the last commit for the next run.
    fn save(&self) {
        if let (true, Some(f)) = (self.moved, &self.files) {
            self.ctx
                .results
                .store_files(self.url, &self.ctx.fingerprint, &f.save());
        }
    }
}

/// True for the files the code facts read: production Python and the package metadata
/// (`crate::facts`). A commit that changes none of them has the code facts of the one before.
fn read_by_code_facts(path: &str) -> bool {
    is_production_python(path) || path == "setup.cfg" || path == "pyproject.toml"
}
