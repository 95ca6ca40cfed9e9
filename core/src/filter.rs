//! Which files of a tree are scanned.
//!
//! Decided in this order, cheapest first, so a skipped file costs no read: the path filters,
//! then the size limit (known from the object header), then the binary check on the content.
//! Every skip is counted by the caller; nothing is dropped silently.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Bytes git looks at to call a file binary (git's `FIRST_FEW_BYTES`).
pub const BINARY_PROBE: usize = 8000;

/// The default size limit, as hound has it: 32 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 32 << 20;

/// Path and size filters. Built with [`FileOptions::default`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOptions {
    /// Scan only paths matching one of these regexes. Default: none (every path).
    pub include: Vec<String>,
    /// Skip paths matching one of these regexes. Default: none.
    pub exclude: Vec<String>,
    /// Skip files larger than this many bytes. Default: [`DEFAULT_MAX_FILE_SIZE`].
    pub max_file_size: u64,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            include: Vec::new(),
            exclude: Vec::new(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

impl FileOptions {
    /// Sets the include regexes (default none).
    pub fn with_include(mut self, v: Vec<String>) -> Self {
        self.include = v;
        self
    }
    /// Sets the exclude regexes (default none).
    pub fn with_exclude(mut self, v: Vec<String>) -> Self {
        self.exclude = v;
        self
    }
    /// Sets the size limit in bytes (default 32 MiB).
    pub fn with_max_file_size(mut self, n: u64) -> Self {
        self.max_file_size = n;
        self
    }
}

/// A compiled [`FileOptions`].
#[derive(Debug, Clone)]
pub struct FileFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    max_file_size: u64,
}

/// Why a file was not scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Excluded by `--file-pattern` / `--exclude-file`.
    Path,
    /// Larger than the size limit.
    TooLarge,
    /// Looks binary (a NUL byte in the first 8000 bytes).
    Binary,
}

impl FileFilter {
    /// Compiles the options; a bad regex names the flag and the pattern.
    pub fn new(opts: &FileOptions) -> Result<FileFilter, Error> {
        let compile = |what: &str, v: &[String]| {
            v.iter()
                .map(|p| {
                    Regex::new(p).map_err(|e| Error::BadRegex {
                        what: what.into(),
                        pattern: p.clone(),
                        why: crate::error::regex_reason(&e),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(FileFilter {
            include: compile("--file-pattern", &opts.include)?,
            exclude: compile("--exclude-file", &opts.exclude)?,
            max_file_size: opts.max_file_size,
        })
    }

    /// Checks the path and the size, before any content is read.
    pub fn check_meta(&self, path: &str, size: u64) -> Result<(), Skip> {
        if !self.include.is_empty() && !self.include.iter().any(|r| r.is_match(path)) {
            return Err(Skip::Path);
        }
        if self.exclude.iter().any(|r| r.is_match(path)) {
            return Err(Skip::Path);
        }
        if size > self.max_file_size {
            return Err(Skip::TooLarge);
        }
        Ok(())
    }

    /// Checks the content: binary files are skipped, as git does it.
    pub fn check_content(&self, data: &[u8]) -> Result<(), Skip> {
        let probe = &data[..data.len().min(BINARY_PROBE)];
        if memchr::memchr(0, probe).is_some() {
            return Err(Skip::Binary);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_in_order() {
        let f = FileFilter::new(
            &FileOptions::default()
                .with_include(vec![r"\.py$".into()])
                .with_exclude(vec!["^tests/".into()])
                .with_max_file_size(10),
        )
        .unwrap();
        assert_eq!(f.check_meta("a.py", 5), Ok(()));
        assert_eq!(f.check_meta("a.rst", 5), Err(Skip::Path));
        assert_eq!(f.check_meta("tests/a.py", 5), Err(Skip::Path));
        assert_eq!(f.check_meta("a.py", 11), Err(Skip::TooLarge));
    }

    #[test]
    fn binary_is_a_nul_in_the_first_8000_bytes() {
        let f = FileFilter::new(&FileOptions::default()).unwrap();
        assert_eq!(f.check_content(b"ab\0c"), Err(Skip::Binary));
        let mut late = vec![b'a'; BINARY_PROBE];
        late.push(0);
        assert_eq!(f.check_content(&late), Ok(()));
    }

    #[test]
    fn bad_filter_regex_names_the_flag() {
        let e = FileFilter::new(&FileOptions::default().with_exclude(vec!["(".into()]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--exclude-file"), "{e}");
    }
}
