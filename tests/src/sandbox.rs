//! One end-to-end sandbox: a temporary directory, the generated corpus served by its own
//! `git daemon`, and the `fleetscan scan` command line the e2e tests share.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{corpus, free_port, tests_dir, GitDaemon};

/// The corpus, served; everything lives in a temporary directory removed on drop.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// The daemon serving the corpus, for tests that stop or restart it.
    pub daemon: GitDaemon,
    /// The `fleetscan` binary under test (`env!("CARGO_BIN_EXE_fleetscan")`), which only the
    /// test targets of the CLI package know.
    bin: PathBuf,
}

impl Sandbox {
    /// Builds and serves the corpus; `bin` is the `fleetscan` binary.
    pub fn new(bin: impl Into<PathBuf>) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("served");
        corpus::build(&root);
        let daemon = GitDaemon::start(&root);
        Sandbox {
            dir,
            daemon,
            bin: bin.into(),
        }
    }

    /// `p` inside the sandbox directory.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Every repository of the corpus, the listed-but-missing one, and one on a dead host.
    pub fn all_repos(&self) -> Vec<String> {
        let mut names: Vec<String> = corpus::specs().into_iter().map(|s| s.name).collect();
        names.push(corpus::MISSING.into());
        names.push(format!(
            "git://127.0.0.1:{}/openstack/dead-host",
            free_port()
        ));
        names
    }

    /// `fleetscan scan` of `repos` with the options every e2e test uses, reports in `out`;
    /// add arguments before running it.
    pub fn command(&self, out: &str, repos: &[String]) -> Command {
        let testdata = tests_dir().join("testdata");
        let repos_file = self.path(&format!("repos-{}.txt", out.replace('/', "-")));
        std::fs::write(
            &repos_file,
            format!("# the e2e selection\n{}\n", repos.join("\n")),
        )
        .unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("scan")
            .args(["--pattern", "eventlet", "--ignore-comments"])
            .arg("--governance")
            .arg(testdata.join("governance.yaml"))
            .arg("--governance")
            .arg(testdata.join("sigs-repos.yaml"))
            .arg("--repos-file")
            .arg(repos_file)
            .args([
                "--git-base",
                &self.daemon.base(),
                "--link-base",
                "https://opendev.org/",
            ])
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .arg("--out")
            .arg(self.path(out))
            .args([
                "--max-file-size",
                &corpus::MAX_FILE_SIZE.to_string(),
                "--jobs",
                "3",
                "--retries",
                "1",
                "-q",
            ])
            .env("FLEETSCAN_LOG", "error");
        cmd
    }

    /// Scans every repository of [`Sandbox::all_repos`] with `extra` arguments.
    pub fn scan(&self, out: &str, extra: &[&str]) -> Output {
        self.command(out, &self.all_repos())
            .args(extra)
            .output()
            .unwrap()
    }
}

/// The contents of `p`; panics naming it.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The report files under `out` that golden files cover: the link lines, the NDJSON, the
/// index and every team file.
pub fn report_files(out: &Path) -> Vec<String> {
    let mut files: Vec<String> = ["eventlet-usage.txt", "occurrences.ndjson", "index.md"]
        .map(String::from)
        .to_vec();
    let mut teams: Vec<String> = std::fs::read_dir(out.join("teams"))
        .unwrap()
        .map(|e| format!("teams/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    teams.sort();
    files.extend(teams);
    files
}
