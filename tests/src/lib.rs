//! The end-to-end sandbox: real git repositories built on the fly, served by a real
//! `git daemon` (or `git http-backend`) on a free loopback port, a real `redis-server`, and
//! helpers to run the `fleetscan` binary as a single process or as a coordinator with workers.
//!
//! Every test gets its own temporary directory and daemon ([`Sandbox`]), so tests run in
//! parallel and can kill and restart what they started. Dropping a [`GitDaemon`] kills it.
//! [`ModelStub`] stands in for a language model server.

pub mod browser;
pub mod cluster;
pub mod corpus;
mod daemon;
pub mod history;
pub mod hostile;
mod http;
mod model_stub;
pub mod process;
pub mod proxy;
pub mod redis;
mod repo;
mod sandbox;
mod server;
pub mod wan;

pub use daemon::GitDaemon;
pub use http::GitHttp;
pub use model_stub::{strip_narratives, ModelStub, Reply, Request, NARRATIVE_HEADING};
pub use repo::{git, git_at, Content, RepoSpec};
pub use sandbox::{assert_failures_reported, read, report_files, summary_repo, Sandbox};

use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

/// The pack files of the clone cache under `cache` (a `--cache-dir`), for tests that damage
/// them.
pub fn cache_packs(cache: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![cache.join("git")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pack") {
                found.push(p);
            }
        }
    }
    found
}

/// The repository's `tests/` directory (golden files and test data live there).
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Where screenshots and other test output go: under the workspace's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| tests_dir().join("../target"))
}

/// Compares `actual` with the golden file `name` under `tests/golden/`, or rewrites the golden
/// file when `FLEETSCAN_BLESS=1`.
pub fn assert_golden(name: &str, actual: &str) {
    let path = tests_dir().join("golden").join(name);
    if std::env::var("FLEETSCAN_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden {} missing ({e}); run with FLEETSCAN_BLESS=1",
            path.display()
        )
    });
    if expected != actual {
        let diff_at = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n(rerun with FLEETSCAN_BLESS=1 to accept)",
            diff_at + 1,
            expected.lines().nth(diff_at),
            actual.lines().nth(diff_at)
        );
    }
}
