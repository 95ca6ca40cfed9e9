//! One end-to-end sandbox: a temporary directory, the generated corpus served by its own
//! `git daemon`, and the `fleetscan scan` command line the e2e tests share.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{corpus, free_port, hostile, tests_dir, GitDaemon};

/// The corpus, served; everything lives in a temporary directory removed on drop.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// The daemon serving the corpus, for tests that stop or restart it.
    pub daemon: GitDaemon,
    /// The `fleetscan` binary under test (`env!("CARGO_BIN_EXE_fleetscan")`), which only the
    /// test targets of the CLI package know.
    bin: PathBuf,
    /// The governance files the scans read.
    governance: Vec<PathBuf>,
}

impl Sandbox {
    /// Builds and serves the corpus; `bin` is the `fleetscan` binary.
    pub fn new(bin: impl Into<PathBuf>) -> Sandbox {
        Sandbox::serving(bin, corpus::build)
    }

    /// Builds and serves the history corpus ([`crate::history`]) with the corpus's
    /// governance.
    pub fn history(bin: impl Into<PathBuf>) -> Sandbox {
        Sandbox::serving(bin, crate::history::build)
    }

    /// Serves the repositories `build` makes under its root, with the corpus's governance.
    fn serving(bin: impl Into<PathBuf>, build: fn(&Path)) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("served");
        build(&root);
        let daemon = GitDaemon::start(&root);
        let testdata = tests_dir().join("testdata");
        Sandbox {
            dir,
            daemon,
            bin: bin.into(),
            governance: ["governance.yaml", "sigs-repos.yaml"]
                .map(|g| testdata.join(g))
                .to_vec(),
        }
    }

    /// Builds and serves the hostile corpus ([`crate::hostile`]) with its governance.
    pub fn hostile(bin: impl Into<PathBuf>) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("served");
        let governance = dir.path().join("hostile-governance.yaml");
        hostile::build(&root, &governance);
        let daemon = GitDaemon::start(&root);
        Sandbox {
            dir,
            daemon,
            bin: bin.into(),
            governance: vec![governance],
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

    /// Writes `repos` to a repository list file named after `name`.
    pub fn repos_file(&self, name: &str, repos: &[String]) -> PathBuf {
        let f = self.path(&format!("repos-{}.txt", name.replace('/', "-")));
        std::fs::write(&f, format!("# the e2e selection\n{}\n", repos.join("\n"))).unwrap();
        f
    }

    /// The selection and matching flags every e2e scan uses, shared by `scan` and `submit`:
    /// the repositories of `repos_file`, fetched from `git_base`.
    pub fn selection(&self, git_base: &str, repos_file: &Path) -> Vec<String> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let mut v: Vec<String> = vec![
            "--pattern".into(),
            "eventlet".into(),
            "--ignore-comments".into(),
        ];
        for g in &self.governance {
            v.extend(["--governance".into(), path(g)]);
        }
        v.extend(["--repos-file".into(), path(repos_file)]);
        for (k, val) in [
            ("--git-base", git_base.to_string()),
            ("--link-base", "https://opendev.org/".into()),
            ("--max-file-size", corpus::MAX_FILE_SIZE.to_string()),
            ("--retries", "1".into()),
        ] {
            v.extend([k.to_string(), val]);
        }
        v
    }

    /// `fleetscan scan` of `repos` with the options every e2e test uses, reports in `out`;
    /// add arguments before running it.
    pub fn command(&self, out: &str, repos: &[String]) -> Command {
        let repos_file = self.repos_file(out, repos);
        let mut cmd = Command::new(&self.bin);
        cmd.arg("scan")
            .args(self.selection(&self.daemon.base(), &repos_file))
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .arg("--out")
            .arg(self.path(out))
            .args(["--jobs", "3", "-q"])
            .env("FLEETSCAN_LOG", "error");
        cmd
    }

    /// `fleetscan diff OLD NEW EXTRA` run in the sandbox directory (so sides may be named
    /// relative to it); its stdout, which it must exit 0 to give.
    pub fn diff(&self, old: &str, new: &str, extra: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .current_dir(self.dir.path())
            .args(["diff", old, new])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
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

/// The entry of repository `name` in a parsed `summary.json`.
pub fn summary_repo<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == name)
        .unwrap_or_else(|| panic!("{name} missing from summary"))
}

/// Checks that `summary.json` of the e2e selection reports its failures and skips with their
/// reasons: the listed-but-missing repository, the dead host, the empty repository.
pub fn assert_failures_reported(summary: &serde_json::Value) {
    let missing = summary_repo(summary, corpus::MISSING);
    assert_eq!(missing["status"], "failed");
    assert!(
        missing["reason"].as_str().unwrap().contains("not found"),
        "{missing}"
    );
    let dead = summary_repo(summary, "openstack/dead-host");
    assert_eq!(dead["status"], "failed");
    assert!(
        dead["reason"].as_str().unwrap().contains("unreachable"),
        "{dead}"
    );
    assert_eq!(
        summary_repo(summary, "openstack/empty")["status"],
        "skipped"
    );
}
