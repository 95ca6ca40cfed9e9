//! The result cache: occurrences by (repository URL, commit, options).
//!
//! A re-run whose remote head is the commit already scanned with the same options needs no
//! fetch and no scan. Entries are written to a temporary file and renamed, so a crash never
//! leaves a torn entry, and a corrupt entry is treated as missing.

use std::path::{Path, PathBuf};

use fleetscan_core::code::facts::CodeFacts;
use fleetscan_core::code::roles::CodeFacts as RoleFacts;
use fleetscan_core::result::{Occurrence, ScanStats};
use git2::{ObjectType, Oid};
use serde::{Deserialize, Serialize};

/// Fails, naming the directory, unless the clone and result caches under `root` can be
/// written: a read-only cache is one start-up error, not one failure per repository.
pub fn check_writable(root: &Path) -> Result<(), crate::InputError> {
    for dir in [root.join("git"), root.join("results")] {
        let probe = dir.join(format!(".write-test-{}", std::process::id()));
        let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&probe, b""));
        let _ = std::fs::remove_file(&probe);
        if let Err(e) = written {
            return Err(crate::InputError(format!(
                "cannot write to --cache-dir {} ({}: {e}): give a writable directory",
                root.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// A cached scan of one commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The occurrences found.
    pub occurrences: Vec<Occurrence>,
    /// What parsing their files found: the role of each occurrence line.
    pub facts: RoleFacts,
    /// The file counters.
    pub stats: ScanStats,
    /// The committer time of the commit.
    pub commit_time: i64,
    /// Where the scan stopped at the occurrence cap, if it did.
    #[serde(default)]
    pub truncated: Option<String>,
    /// The code facts of the commit.
    #[serde(default)]
    pub code: CodeFacts,
}

/// Bumped when what an entry holds changes meaning, so that older entries are not read as
/// complete: version 2 added the code facts, 3 the role facts of each occurrence line, 4 every
/// role of a line, dynamic imports and what an optional import's fallback serves, 5 the value
/// of a keyword that turns the pattern off (`fix_eventlet=False`).
const VERSION: u32 = 5;

/// The cache under `<root>/results`.
#[derive(Debug, Clone)]
pub struct ResultCache {
    dir: PathBuf,
}

impl ResultCache {
    /// A cache rooted at `root`.
    pub fn new(root: &Path) -> ResultCache {
        ResultCache {
            dir: root.join("results"),
        }
    }

    fn path(&self, url: &str, commit: Oid, fingerprint: &str) -> PathBuf {
        let key = format!("v{VERSION}\n{url}\n{commit}\n{fingerprint}");
        let id = Oid::hash_object(ObjectType::Blob, key.as_bytes()).expect("hashing cannot fail");
        self.dir.join(format!("{id}.json"))
    }

    /// The entry for this key, if present and readable.
    pub fn load(&self, url: &str, commit: Oid, fingerprint: &str) -> Option<Entry> {
        let text = std::fs::read(self.path(url, commit, fingerprint)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Stores an entry. Failing to cache is not an error for the scan, so this is best effort.
    pub fn store(&self, url: &str, commit: Oid, fingerprint: &str, entry: &Entry) {
        self.write(&self.path(url, commit, fingerprint), entry);
    }

    /// What each file of the last commit a history scan of `url` read held
    /// ([`crate::history::Files`]), so that the next run re-reads only what changed since.
    pub fn load_files(&self, url: &str, fingerprint: &str) -> Option<crate::history::files::Saved> {
        let text = std::fs::read(self.files_path(url, fingerprint)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Stores [`ResultCache::load_files`]' record, replacing the one before; best effort.
    pub fn store_files(&self, url: &str, fingerprint: &str, saved: &crate::history::files::Saved) {
        self.write(&self.files_path(url, fingerprint), saved);
    }

    fn files_path(&self, url: &str, fingerprint: &str) -> PathBuf {
        let key = format!("v{VERSION}\nfiles\n{url}\n{fingerprint}");
        let id = Oid::hash_object(ObjectType::Blob, key.as_bytes()).expect("hashing cannot fail");
        self.dir.join(format!("{id}.files.json"))
    }

    /// Writes `value` to a temporary file and renames it into place, so a reader never sees a
    /// torn file. Failing to cache is not an error for the scan: a warning.
    fn write(&self, path: &Path, value: &impl Serialize) {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let ok = std::fs::create_dir_all(&self.dir).is_ok()
            && serde_json::to_vec(value).is_ok_and(|b| std::fs::write(&tmp, b).is_ok())
            && std::fs::rename(&tmp, path).is_ok();
        if !ok {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(path = %path.display(), "could not write result cache entry");
        }
    }
}
