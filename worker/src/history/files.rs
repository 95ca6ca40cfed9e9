//! What a scan found in each file of one commit, kept so that the next commit re-reads only
//! the blobs that changed.
//!
//! [`Files::full`] scans every file of a tree, as a head scan does. [`Files::advance`] moves to
//! another commit: a tree diff (which skips every sub-tree whose id did not change) lists the
//! paths that differ, only those blobs are read again, and every other file keeps what it had:
//! its occurrences, its parse facts, and how it counted. [`Files::entry`] adds them up into
//! the same result a head scan of that commit gives; the tests check that they are equal.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use fleetscan_core::code::reparse::{Kept, Parses};
use fleetscan_core::code::roles::{CodeFacts as RoleFacts, FileFacts};
use fleetscan_core::filter::FileFilter;
use fleetscan_core::matcher::{cut_line, Matcher};
use fleetscan_core::result::{Occurrence, ScanStats};
use git2::{Delta, DiffOptions, ObjectType, Oid, Repository};
use serde::{Deserialize, Serialize};

use crate::error::RepoError;
use crate::git::Budget;
use crate::scan::{scan_blob, Sinks};

/// Git file modes the scan treats apart.
const MODE_LINK: i32 = 0o120000;
const MODE_COMMIT: i32 = 0o160000;

/// How the files of a tree are searched: the scan's own matcher and filter.
pub struct Scanner<'a> {
    /// Line matching.
    pub matcher: &'a Matcher,
    /// File selection.
    pub filter: &'a FileFilter,
    /// Longest line kept.
    pub max_line: usize,
}

/// How a file counted in the scan's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Seen {
    /// Read and searched: its size.
    Scanned(u64),
    /// Left out by the file patterns.
    ByPath,
    /// Looks binary.
    Binary,
    /// Over the size limit.
    TooLarge,
    /// A symbolic link, not followed.
    Link,
    /// A submodule, recorded.
    Submodule,
}

/// One file of the tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct File {
    seen: Seen,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    occurrences: Vec<Occurrence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    facts: Option<FileFacts>,
}

/// Every file of one commit's tree, by path (raw bytes, so in tree order).
#[derive(Debug)]
pub struct Files {
    /// The commit.
    pub commit: Oid,
    files: BTreeMap<Vec<u8>, File>,
    /// The parse of each file parsed at this commit, for its next version: the files that
    /// change between points are mostly the same busy ones, and parsing them from their
    /// previous tree costs a fraction of a parse from scratch (`reparse` in the core).
    /// Only the current version of a path is kept, and only while [`MAX_KEPT`] and the
    /// process's bound ([`super::KEPT`]) allow.
    kept: Parses<Vec<u8>>,
}

/// What the parses kept for the next point may cost, source and trees (`Kept::cost` in the
/// core). Past it, files are parsed from scratch as before.
const MAX_KEPT: usize = 24 << 20;

/// What moving to another commit changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// Paths added, removed or modified.
    pub paths: Vec<String>,
    /// Blobs read again.
    pub read: u64,
    /// The contents of the blobs read again that the code facts read too
    /// (`super::read_by_code_facts`), up to [`MAX_HANDED`] bytes: handed to them
    /// (`Memo::hand`), they are not inflated twice.
    pub contents: Vec<(Oid, Vec<u8>)>,
}

/// Bytes of contents [`Changes::contents`] holds at most.
const MAX_HANDED: usize = 16 << 20;

/// The sums of [`Files::entry`].
pub struct Sums {
    /// Occurrences, sorted.
    pub occurrences: Vec<Occurrence>,
    /// Parse facts, sorted.
    pub facts: RoleFacts,
    /// File counters.
    pub stats: ScanStats,
}

impl Files {
    /// Scans every file of `commit`.
    pub fn full(
        repo: &Repository,
        commit: Oid,
        scanner: &Scanner<'_>,
        budget: Budget<'_>,
    ) -> Result<Files, RepoError> {
        let git = |what: &'static str| move |e: git2::Error| RepoError::damaged_cache(what, &e);
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(git("read commit"))?;
        let odb = repo.odb().map_err(git("open object database"))?;
        let mut files = BTreeMap::new();
        let mut kept = Parses::new(MAX_KEPT, super::KEPT.clone());
        crate::tree::walk(repo, tree, git("read tree"), |e| {
            let blob = e.kind == Some(ObjectType::Blob);
            let mut parse = None;
            let f = scan_file(
                &odb, e.raw, e.mode, blob, e.id, scanner, budget, &mut parse, None,
            )?;
            if let Some(f) = f {
                files.insert(e.raw.to_vec(), f);
            }
            kept.keep(e.raw.to_vec(), parse);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(Files {
            commit,
            files,
            kept,
        })
    }

    /// Moves to `commit`, reading only the files that differ from the current commit's.
    pub fn advance(
        &mut self,
        repo: &Repository,
        commit: Oid,
        scanner: &Scanner<'_>,
        budget: Budget<'_>,
    ) -> Result<Changes, RepoError> {
        let mut changes = Changes::default();
        if commit == self.commit {
            return Ok(changes);
        }
        let git = |what: &'static str| move |e: git2::Error| RepoError::damaged_cache(what, &e);
        let tree_of = |c: Oid| {
            repo.find_commit(c)
                .and_then(|c| c.tree())
                .map_err(git("read commit"))
        };
        let (old, new) = (tree_of(self.commit)?, tree_of(commit)?);
        let mut opts = DiffOptions::new();
        // Submodule entries are compared by their commit id, never opened.
        opts.ignore_submodules(false).include_typechange(false);
        let diff = repo
            .diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))
            .map_err(git("compare trees"))?;
        let odb = repo.odb().map_err(git("open object database"))?;
        let mut handed = 0;
        for d in diff.deltas() {
            let (o, n) = (d.old_file(), d.new_file());
            // The old version's parse, when the path stays: the new one parses from it.
            let mut parse = None;
            if d.status() != Delta::Added {
                if let Some(p) = o.path_bytes() {
                    self.files.remove(p);
                    parse = self.kept.take(p);
                    changes.paths.push(String::from_utf8_lossy(p).into_owned());
                }
            }
            if d.status() == Delta::Deleted {
                continue;
            }
            let Some(raw) = n.path_bytes() else { continue };
            let mode = i32::from(n.mode());
            let blob = mode != MODE_COMMIT && mode & 0o170000 != 0o040000;
            let (mut contents, path) = (None, String::from_utf8_lossy(raw));
            let want =
                (handed < MAX_HANDED && super::read_by_code_facts(&path)).then_some(&mut contents);
            let f = scan_file(
                &odb,
                raw,
                mode,
                blob,
                n.id(),
                scanner,
                budget,
                &mut parse,
                want,
            )?;
            if let Some(c) = contents {
                handed += c.len();
                changes.contents.push((n.id(), c));
            }
            if let Some(f) = f {
                changes.read += u64::from(matches!(f.seen, Seen::Scanned(_)));
                self.files.insert(raw.to_vec(), f);
            }
            self.kept.keep(raw.to_vec(), parse);
            if d.status() == Delta::Added {
                changes
                    .paths
                    .push(String::from_utf8_lossy(raw).into_owned());
            }
        }
        self.commit = commit;
        Ok(changes)
    }

    /// Occurrences in all files.
    pub fn occurrence_count(&self) -> usize {
        self.files.values().map(|f| f.occurrences.len()).sum()
    }

    /// Bytes of occurrences (paths and lines), as the result cap counts them.
    pub fn occurrence_bytes(&self) -> usize {
        self.files
            .values()
            .flat_map(|f| &f.occurrences)
            .map(|o| o.path.len() + o.text.len())
            .sum()
    }

    /// What a head scan of this commit reports, summed over the files.
    pub fn entry(&self) -> Sums {
        let mut stats = ScanStats::default();
        let mut occurrences = Vec::new();
        let mut facts = RoleFacts::default();
        for (raw, f) in &self.files {
            let path = || String::from_utf8_lossy(raw).into_owned();
            match f.seen {
                Seen::Scanned(bytes) => {
                    stats.files_scanned += 1;
                    stats.bytes_scanned += bytes;
                }
                Seen::ByPath => stats.skipped_by_path += 1,
                Seen::Binary => stats.skipped_binary += 1,
                Seen::TooLarge => {
                    stats.skipped_too_large += 1;
                    stats.too_large.push(path());
                }
                Seen::Link => stats.symlinks += 1,
                Seen::Submodule => stats.submodules.push(path()),
            }
            if !f.occurrences.is_empty() && std::str::from_utf8(raw).is_err() {
                stats.raw_paths.entry(path()).or_insert(raw.clone());
            }
            occurrences.extend(f.occurrences.iter().cloned());
            facts.files.extend(f.facts.clone());
        }
        occurrences.sort();
        facts.sort();
        Sums {
            occurrences,
            facts,
            stats,
        }
    }

    /// The files as they are saved between runs.
    pub fn save(&self) -> Saved {
        Saved {
            commit: self.commit.to_string(),
            files: self
                .files
                .iter()
                .map(|(raw, f)| match std::str::from_utf8(raw) {
                    Ok(p) => (SavedPath::Utf8(p.to_string()), f.clone()),
                    Err(_) => (SavedPath::Raw(raw.clone()), f.clone()),
                })
                .collect(),
        }
    }

    /// Files saved by [`Files::save`]; None when they do not read back.
    pub fn load(saved: Saved) -> Option<Files> {
        let commit = Oid::from_str(&saved.commit).ok()?;
        let files = saved
            .files
            .into_iter()
            .map(|(p, f)| match p {
                SavedPath::Utf8(s) => (s.into_bytes(), f),
                SavedPath::Raw(b) => (b, f),
            })
            .collect();
        Some(Files {
            commit,
            files,
            kept: Parses::new(MAX_KEPT, super::KEPT.clone()),
        })
    }
}

/// [`Files`] on disk.
#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    commit: String,
    files: Vec<(SavedPath, File)>,
}

/// A path on disk: text when it is UTF-8, its bytes otherwise.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum SavedPath {
    Utf8(String),
    Raw(Vec<u8>),
}

/// Scans one entry of a tree as a head scan does; None for entries a head scan does not count
/// (trees, and anything that is neither a blob, a link nor a submodule). `parse` holds the
/// parse of the path's previous version, if kept, and is left holding this version's
/// ([`Sinks::kept`]); `contents`, when given, receives the blob's contents
/// ([`Sinks::contents`]).
#[allow(clippy::too_many_arguments)]
fn scan_file(
    odb: &git2::Odb<'_>,
    raw: &[u8],
    mode: i32,
    blob: bool,
    id: Oid,
    scanner: &Scanner<'_>,
    budget: Budget<'_>,
    parse: &mut Option<Kept>,
    contents: Option<&mut Option<Vec<u8>>>,
) -> Result<Option<File>, RepoError> {
    let seen = match mode {
        MODE_LINK => Seen::Link,
        MODE_COMMIT => Seen::Submodule,
        _ if blob => {
            budget.check("while scanning")?;
            let path = String::from_utf8_lossy(raw).into_owned();
            let mut stats = ScanStats::default();
            let mut occurrences = Vec::new();
            let mut facts = None;
            // The sink never stops, so neither does the scan.
            let _ = scan_blob(
                odb,
                id,
                path,
                scanner.matcher,
                scanner.filter,
                &mut stats,
                Sinks {
                    occurrence: &mut |mut o| {
                        o.text = cut_line(o.text, scanner.max_line);
                        occurrences.push(o);
                        ControlFlow::Continue(())
                    },
                    facts: &mut |f| facts = Some(f),
                    kept: Some(parse),
                    contents,
                },
            )?;
            let seen = if stats.files_scanned > 0 {
                Seen::Scanned(stats.bytes_scanned)
            } else if stats.skipped_by_path > 0 {
                Seen::ByPath
            } else if stats.skipped_binary > 0 {
                Seen::Binary
            } else {
                Seen::TooLarge
            };
            return Ok(Some(File {
                seen,
                occurrences,
                facts,
            }));
        }
        _ => return Ok(None),
    };
    Ok(Some(File {
        seen,
        occurrences: Vec::new(),
        facts: None,
    }))
}
