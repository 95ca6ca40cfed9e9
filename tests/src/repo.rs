//! Building git repositories with known content and fixed dates, so commit ids are the same on
//! every machine and golden reports can name them.

use std::path::Path;
use std::process::Command;

/// What a file holds.
#[derive(Debug, Clone)]
pub enum Content {
    /// A file with these bytes.
    Bytes(Vec<u8>),
    /// A symbolic link to this target.
    Link(String),
    /// A submodule entry (gitlink) at this commit id.
    Submodule(String),
}

/// A repository to build.
#[derive(Debug, Clone)]
pub struct RepoSpec {
    /// `org/name`.
    pub name: String,
    /// The default branch.
    pub branch: String,
    /// Files by path. Empty means an empty repository (no commit, no branch).
    pub files: Vec<(String, Content)>,
}

impl RepoSpec {
    /// A repository on `master` with text files.
    pub fn new(name: &str, files: &[(&str, &str)]) -> RepoSpec {
        RepoSpec {
            name: name.to_string(),
            branch: "master".to_string(),
            files: files
                .iter()
                .map(|(p, c)| (p.to_string(), Content::Bytes(c.as_bytes().to_vec())))
                .collect(),
        }
    }

    /// Builds it under `root/<org>/<name>` and returns the head commit (None when empty).
    pub fn build(&self, root: &Path) -> Option<String> {
        let dir = root.join(&self.name);
        std::fs::create_dir_all(&dir).unwrap();
        if self.files.is_empty() {
            git(&dir, &["init", "-q", "--bare", "-b", &self.branch]);
            return None;
        }
        git(&dir, &["init", "-q", "-b", &self.branch]);
        for (path, content) in &self.files {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            match content {
                Content::Bytes(b) => std::fs::write(&full, b).unwrap(),
                Content::Link(t) => std::os::unix::fs::symlink(t, &full).unwrap(),
                Content::Submodule(_) => {}
            }
        }
        git(&dir, &["add", "-A"]);
        for (path, content) in &self.files {
            if let Content::Submodule(id) = content {
                git(
                    &dir,
                    &[
                        "update-index",
                        "--add",
                        "--cacheinfo",
                        &format!("160000,{id},{path}"),
                    ],
                );
            }
        }
        git(&dir, &["commit", "-q", "-m", "initial"]);
        Some(git(&dir, &["rev-parse", "HEAD"]).trim().to_string())
    }
}

/// Runs git in `dir` with a fixed identity and dates, isolated from the user's config.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_at(dir, args, "2026-08-01T12:00:00Z")
}

/// [`git`] with author and committer dates `date` (ISO 8601).
pub fn git_at(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Fleet Scan")
        .env("GIT_AUTHOR_EMAIL", "fleetscan@example.org")
        .env("GIT_COMMITTER_NAME", "Fleet Scan")
        .env("GIT_COMMITTER_EMAIL", "fleetscan@example.org")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
