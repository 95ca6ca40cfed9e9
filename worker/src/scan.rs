//! Scanning the tree of a commit straight from the object database.
//!
//! No checkout: each blob is read from the pack, searched and dropped, so memory stays bounded
//! by the largest file scanned (at most the size limit), and no disk is spent on a work tree.
//! BENCHMARKS.md compares this with a checkout followed by a file scan.
//!
//! A Python file with at least one occurrence is also parsed while its blob is in memory, and
//! its facts (the role of each occurrence line, related call sites) go to a second sink; only
//! the few files that match pay for it.

use std::ops::ControlFlow;

use fleetscan_core::code::python;
use fleetscan_core::code::reparse::Kept;
use fleetscan_core::code::roles::{self, FileFacts};
use fleetscan_core::filter::{FileFilter, Skip};
use fleetscan_core::matcher::{line_text, Matcher};
use fleetscan_core::result::{Occurrence, ScanStats};
use git2::{ObjectType, Oid, Repository};

use crate::error::RepoError;
use crate::git::Budget;

const MODE_LINK: i32 = 0o120000;
const MODE_COMMIT: i32 = 0o160000;

/// Where a scan pushes what it finds.
pub struct Sinks<'a> {
    /// Each matching line; may stop the scan (then the stats count the files read until then).
    pub occurrence: &'a mut dyn FnMut(Occurrence) -> ControlFlow<()>,
    /// The facts of each Python file with an occurrence.
    pub facts: &'a mut dyn FnMut(FileFacts),
    /// For a history scan's files (`crate::history::files`): the parse of the same path at
    /// the commit before, if kept, to parse this version from (`reparse` in the core says
    /// why); it is replaced by this version's, or None when this one is not parsed. Scans of a
    /// single commit pass None and keep nothing.
    pub kept: Option<&'a mut Option<Kept>>,
    /// When given, receives the blob's contents once read and searched: a history scan hands
    /// the production Python files it read to the code facts, which would inflate them again.
    pub contents: Option<&'a mut Option<Vec<u8>>>,
}

/// Searches every file of `commit`'s tree, pushing each matching line and the facts of each
/// Python file that has one into `sinks`. Both arrive in tree order; callers that need
/// another order sort.
pub fn scan_commit(
    repo: &Repository,
    commit: Oid,
    matcher: &Matcher,
    filter: &FileFilter,
    budget: Budget<'_>,
    sinks: Sinks<'_>,
) -> Result<ScanStats, RepoError> {
    let Sinks {
        occurrence: sink,
        facts,
        kept: _,
        contents: _,
    } = sinks;
    // Everything here reads the local clone, so any git error means it is damaged.
    let git = |what: &'static str| move |e: git2::Error| RepoError::damaged_cache(what, &e);
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(git("read commit"))?;
    let odb = repo.odb().map_err(git("open object database"))?;
    let mut stats = ScanStats::default();
    // Pre-order, in tree order, with byte names (crate::tree says why).
    crate::tree::walk(repo, tree, git("read tree"), |e| {
        let path = String::from_utf8_lossy(e.raw).into_owned();
        match (e.mode, e.kind) {
            (MODE_LINK, _) => stats.symlinks += 1,
            (MODE_COMMIT, _) => stats.submodules.push(path),
            (_, Some(ObjectType::Blob)) => {
                budget.check("while scanning")?;
                let found = &mut false;
                let flow = scan_blob(
                    &odb,
                    e.id,
                    path.clone(),
                    matcher,
                    filter,
                    &mut stats,
                    Sinks {
                        occurrence: &mut |o| {
                            *found = true;
                            sink(o)
                        },
                        facts: &mut *facts,
                        kept: None,
                        contents: None,
                    },
                )?;
                // Links to a file whose name is not UTF-8 need its real bytes.
                if *found && std::str::from_utf8(e.raw).is_err() {
                    stats.raw_paths.entry(path).or_insert(e.raw.to_vec());
                }
                return Ok(flow);
            }
            _ => {}
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(stats)
}

/// Searches one blob as [`scan_commit`] does for each file of a tree: counts it in `stats`,
/// pushes its occurrences and facts into `sinks`.
pub fn scan_blob(
    odb: &git2::Odb<'_>,
    id: Oid,
    path: String,
    matcher: &Matcher,
    filter: &FileFilter,
    stats: &mut ScanStats,
    sinks: Sinks<'_>,
) -> Result<ControlFlow<()>, RepoError> {
    let git = |e: git2::Error| RepoError::damaged_cache(&format!("read {path}"), &e);
    let (size, _) = odb.read_header(id).map_err(git)?;
    if let Err(skip) = filter.check_meta(&path, size as u64) {
        count(stats, skip, path);
        return Ok(ControlFlow::Continue(()));
    }
    let obj = odb.read(id).map_err(git)?;
    let data = obj.data();
    if let Err(skip) = filter.check_content(data) {
        count(stats, skip, path);
        return Ok(ControlFlow::Continue(()));
    }
    stats.files_scanned += 1;
    stats.bytes_scanned += data.len() as u64;
    if let Some(c) = sinks.contents {
        *c = Some(data.to_vec());
    }
    let mut lines = Vec::new();
    let flow = matcher.scan::<()>(data, |line, raw| {
        lines.push(line);
        (sinks.occurrence)(Occurrence {
            path: path.clone(),
            line,
            text: line_text(raw),
        })
    });
    let parsed = flow.is_continue() && !lines.is_empty() && roles::is_python(&path, data);
    let is_match = |s: &str| matcher.is_match(s);
    match sinks.kept {
        Some(kept) if parsed => {
            let (facts, next) =
                python::extract_again(&path, data, &lines, &is_match, kept.as_ref());
            *kept = next;
            (sinks.facts)(facts);
        }
        Some(kept) => *kept = None,
        None if parsed => (sinks.facts)(python::extract(&path, data, &lines, &is_match)),
        None => {}
    }
    Ok(flow)
}

fn count(stats: &mut ScanStats, skip: Skip, path: String) {
    match skip {
        Skip::Path => stats.skipped_by_path += 1,
        Skip::TooLarge => {
            stats.skipped_too_large += 1;
            stats.too_large.push(path);
        }
        Skip::Binary => stats.skipped_binary += 1,
    }
}
