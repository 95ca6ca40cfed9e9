//! Reading Python code for the verdict: which `monkey_patch` calls a switch guards, and which
//! services start them. The worker reads the files; everything here is pure.
//!
//! - [`switches`]: the facts of one file (calls and the switches guarding them, functions,
//!   imports, option definitions, optional imports), parsed with tree-sitter;
//! - [`trace`]: the call graph over many files, and the [`facts::CodeFacts`] it yields;
//! - [`services`]: the console and WSGI scripts a package declares;
//! - [`facts`]: what is carried in a repository's result;
//! - [`python`] and [`roles`]: the syntactic role of each occurrence line, for classification;
//! - [`reparse`]: parsing a file's next version from its previous tree, for history scans.

pub mod facts;
pub mod prune;
pub mod python;
pub mod reparse;
pub mod roles;
pub mod services;
pub mod switches;
pub mod trace;

/// Whether `path` is a production Python file for the second pass: a `.py` file outside
/// tests, documentation, release notes and developer tooling. The same split as the profile's
/// path classes, written out because the worker runs without a profile.
pub fn is_production_python(path: &str) -> bool {
    if !path.ends_with(".py") {
        return false;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.starts_with("test_") || name.ends_with("_test.py") || name == "conftest.py" {
        return false;
    }
    let dirs: Vec<&str> = path.split('/').collect();
    let dirs = &dirs[..dirs.len() - 1];
    const NOT: [&str; 11] = [
        "tests",
        "test",
        "doc",
        "docs",
        "releasenotes",
        "specs",
        "tools",
        "playbooks",
        "devstack",
        "api-ref",
        "api-guide",
    ];
    !dirs
        .iter()
        .any(|d| NOT.contains(d) || d.ends_with("_integrationtests"))
}

/// Whether a file asks which mode it runs in (`is_patched()`, `is_monkey_patched(...)`,
/// `concurrency_mode_threading()`), read from its text: cheap enough for every file that uses
/// the pattern, where parsing each would cost more than the scan.
pub fn checks_mode(src: &[u8]) -> bool {
    [
        "patched(",
        "concurrency_mode",
        "threading_mode",
        "eventlet_mode",
    ]
    .iter()
    .any(|k| memchr::memmem::find(src, k.as_bytes()).is_some())
}

/// Whether a file may import eventlet optionally (a `try`/`except ImportError`, a
/// `try_import`, a look into `sys.modules`), so that parsing it can find out.
pub fn may_import_optionally(src: &[u8]) -> bool {
    [
        "ImportError",
        "ModuleNotFoundError",
        "try_import",
        "sys.modules",
        "except:",
    ]
    .iter()
    .any(|k| memchr::memmem::find(src, k.as_bytes()).is_some())
}

#[cfg(test)]
mod tests;
