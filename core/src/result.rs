//! What scanning one repository produces. The embedded runner, the worker and the coordinator
//! all exchange these, so the two ways to run a scan report the same facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::code::facts::CodeFacts;
use crate::code::roles::CodeFacts as RoleFacts;
use crate::filter::FileOptions;
use crate::history::Day;
use crate::ids::RepoName;
use crate::matcher::MatchOptions;

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Occurrence {
    /// Path in the tree, `/`-separated.
    pub path: String,
    /// 1-based line number.
    pub line: u32,
    /// The line, lossy UTF-8, surrounding white space stripped.
    pub text: String,
}

/// Everything that decides which occurrences a tree yields. Two scans with equal options
/// over the same commit give the same occurrences, which is what the result cache relies on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOptions {
    /// Line matching.
    pub matching: MatchOptions,
    /// File selection.
    pub files: FileOptions,
}

impl ScanOptions {
    /// Compiles the regexes once, so that a bad one is an error before any work starts.
    pub fn check(&self) -> Result<(), crate::Error> {
        crate::matcher::Matcher::new(&self.matching)?;
        crate::filter::FileFilter::new(&self.files)?;
        Ok(())
    }

    /// A stable text form of the options, for cache keys.
    pub fn fingerprint(&self) -> String {
        serde_json::to_string(self).expect("options serialize")
    }
}

/// Outcome of one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoStatus {
    /// Fetched and scanned.
    Scanned,
    /// Could not be fetched or scanned; `reason` says why.
    Failed,
    /// Deliberately not scanned (for example an empty repository); `reason` says why.
    Skipped,
}

/// Counters of one tree scan. Every file of the tree lands in exactly one counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStats {
    /// Files read and searched.
    pub files_scanned: u64,
    /// Bytes read and searched.
    pub bytes_scanned: u64,
    /// Files not searched because of `--file-pattern` / `--exclude-file`.
    pub skipped_by_path: u64,
    /// Files not searched because they look binary.
    pub skipped_binary: u64,
    /// Files not searched because they exceed the size limit.
    pub skipped_too_large: u64,
    /// Symbolic links, never followed.
    pub symlinks: u64,
    /// Submodule paths: recorded, not cloned.
    pub submodules: Vec<String>,
    /// Paths of the files counted in `skipped_too_large`, so a report can say which files
    /// it could not read instead of "no occurrences".
    #[serde(default)]
    pub too_large: Vec<String>,
    /// Files with occurrences whose names are not UTF-8: the lossy form used in
    /// [`Occurrence::path`] mapped to the real bytes, so that links point at the real file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw_paths: BTreeMap<String, Vec<u8>>,
}

/// The result of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoResult {
    /// Which repository.
    pub repo: RepoName,
    /// Where it was fetched from.
    pub url: String,
    /// Outcome.
    pub status: RepoStatus,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The default branch that was scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The commit that was scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Committer time of that commit, seconds since the epoch (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<i64>,
    /// Occurrences, sorted by path then line.
    #[serde(default)]
    pub occurrences: Vec<Occurrence>,
    /// File counters.
    #[serde(default)]
    pub stats: ScanStats,
    /// What parsing the files with occurrences found; classification reads it. Empty for
    /// results from before facts existed, whose lines are then classified by line rules.
    #[serde(default, skip_serializing_if = "RoleFacts::is_empty")]
    pub facts: RoleFacts,
    /// Time spent probing and fetching, milliseconds.
    #[serde(default)]
    pub fetch_ms: u64,
    /// Time spent scanning, milliseconds.
    #[serde(default)]
    pub scan_ms: u64,
    /// Attempts made (1 when the first one succeeded).
    #[serde(default)]
    pub attempts: u32,
    /// True when the results came from the cache: same commit, same options.
    #[serde(default)]
    pub cached: bool,
    /// Why the local clone of this repository was thrown away and fetched again (a truncated,
    /// missing or corrupt pack), when it was: the results are complete, but the cache was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_repaired: Option<String>,
    /// Where the scan stopped when the repository had more occurrences than the cap allows
    /// (the file and line of the last one kept): the occurrences listed are only the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
    /// What the code says about switching the pattern off (Eventlet's `monkey_patch` calls,
    /// their switches, the services); empty when there is nothing to say.
    #[serde(default, skip_serializing_if = "CodeFacts::is_empty")]
    pub code: CodeFacts,
    /// In a history scan, the repository at each point, oldest first (one per point of the
    /// scan); empty otherwise, and when the repository failed or was skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<PointResult>,
}

/// One repository at one point of a history scan: what a scan of the commit the point stands
/// for found, or nothing when the repository did not exist yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointResult {
    /// The point.
    pub at: Day,
    /// The commit it stands for; None when the branch had no commit yet (absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Committer time of that commit, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<i64>,
    /// Occurrences, sorted by path then line.
    #[serde(default)]
    pub occurrences: Vec<Occurrence>,
    /// File counters.
    #[serde(default)]
    pub stats: ScanStats,
    /// What parsing the files with occurrences found.
    #[serde(default, skip_serializing_if = "RoleFacts::is_empty")]
    pub facts: RoleFacts,
    /// The code facts of that commit.
    #[serde(default, skip_serializing_if = "CodeFacts::is_empty")]
    pub code: CodeFacts,
    /// Where the scan stopped at the occurrence cap, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
}

impl PointResult {
    /// The repository did not exist yet at `at`.
    pub fn absent(at: Day) -> PointResult {
        PointResult {
            at,
            commit: None,
            commit_time: None,
            occurrences: Vec::new(),
            stats: ScanStats::default(),
            facts: RoleFacts::default(),
            code: CodeFacts::default(),
            truncated: None,
        }
    }

    /// True when the repository did not exist yet at this point.
    pub fn is_absent(&self) -> bool {
        self.commit.is_none()
    }

    /// The repository `head` (its name, URL and branch) as it was at this point, as an
    /// ordinary result; None when it was absent.
    pub fn into_result(self, head: &RepoResult) -> Option<RepoResult> {
        let mut r = RepoResult::new(head.repo.clone(), head.url.clone());
        r.status = RepoStatus::Scanned;
        r.branch = head.branch.clone();
        r.commit = Some(self.commit?);
        r.commit_time = self.commit_time;
        r.occurrences = self.occurrences;
        r.stats = self.stats;
        r.facts = self.facts;
        r.code = self.code;
        r.truncated = self.truncated;
        Some(r)
    }
}

impl RepoResult {
    /// A result with no outcome yet, for `repo` at `url`.
    pub fn new(repo: RepoName, url: String) -> RepoResult {
        RepoResult {
            repo,
            url,
            status: RepoStatus::Failed,
            reason: None,
            branch: None,
            commit: None,
            commit_time: None,
            occurrences: Vec::new(),
            stats: ScanStats::default(),
            facts: RoleFacts::default(),
            fetch_ms: 0,
            scan_ms: 0,
            attempts: 0,
            cached: false,
            cache_repaired: None,
            truncated: None,
            code: CodeFacts::default(),
            history: Vec::new(),
        }
    }

    /// Marks the result failed with `reason`, dropping any partial occurrences.
    pub fn failed(mut self, reason: impl Into<String>) -> RepoResult {
        self.status = RepoStatus::Failed;
        self.reason = Some(reason.into());
        self.occurrences.clear();
        self.facts = RoleFacts::default();
        self.code = CodeFacts::default();
        self.history.clear();
        self
    }
}
