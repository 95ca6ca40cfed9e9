//! Writing reports, and the checks that fail fast before a long scan starts.

use std::collections::BTreeSet;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use fleetscan_core::report::ReportFile;

use crate::InputError;

/// Fails unless `dir` exists (or can be made) and takes a file.
pub fn check_writable(dir: &Path) -> Result<()> {
    let bad = |e: std::io::Error| {
        InputError(format!(
            "cannot write to --out {}: {e}: choose a writable directory",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(bad)?;
    let probe = dir.join(".fleetscan-write-test");
    std::fs::write(&probe, b"").map_err(bad)?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Fails unless the host of `base` accepts a TCP connection, so a mistyped or dead
/// `--git-base` is one clear error instead of hundreds of failed repositories.
pub fn check_reachable(base: &str, timeout: Duration) -> Result<()> {
    // The plan has refused every other scheme already; asking it again keeps the schemes
    // accepted here the same as there (no file:// shortcut, upper case allowed).
    fleetscan_core::plan::check_git_base(base)
        .map_err(|e| InputError(format!("--git-base: {e}")))?;
    let (scheme, rest) = base.split_once("://").unwrap_or_default();
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "git" => 9418,
        "http" => 80,
        _ => 443,
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let hostport = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    let unreachable = |why: String| {
        InputError(format!(
            "git base {base} is unreachable ({why}): check --git-base"
        ))
    };
    let addrs: Vec<_> = hostport
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last).into())
}

/// Where `write_all` records the files it wrote, relative to the output directory, one a
/// line. A re-run removes what it finds there and no longer writes; files that are not
/// listed there (the user's own) are never touched.
pub const MANIFEST: &str = ".fleetscan-files";

/// Writes every file under `dir`, each through a temporary name and a rename, so readers
/// never see half a report. A file that cannot be written does not stop the others: every
/// one that can be is written, and the error lists the rest with their reasons.
///
/// Files an earlier run wrote (per [`MANIFEST`]) and this one did not are removed when this
/// run wrote their format (see [`family`]): a team or project that is gone leaves no stale
/// `teams/<Team>.md` or dashboard page, and a run asking for other formats keeps the files of
/// the formats it did not ask for. Directories left empty by the removal go too.
pub fn write_all(dir: &Path, files: &[ReportFile]) -> Result<()> {
    let mut w = Writer::new(dir);
    for f in files {
        w.write(&f.path, f.contents.as_bytes());
        w.end(&f.path);
    }
    w.finish()
}

/// [`write_all`] for files that arrive a piece at a time, one file after the other, so that
/// at most one piece is held: each file goes to its temporary name as its pieces come, and is
/// renamed into place when it ends. Dropped before [`Writer::finish`] (a stream that broke),
/// it removes the file it was writing and leaves the manifest as it was.
pub struct Writer {
    dir: PathBuf,
    previous: BTreeSet<String>,
    written: BTreeSet<String>,
    /// Every file started, written or not: the formats this run wrote.
    attempted: BTreeSet<String>,
    failed: Vec<String>,
    /// The file being written: its path, its temporary name and the open file (`None` once
    /// writing it failed; the failure is in `failed`).
    open: Option<(String, PathBuf, Option<std::fs::File>)>,
}

impl Writer {
    /// A writer into `dir`.
    pub fn new(dir: &Path) -> Writer {
        Writer {
            dir: dir.to_path_buf(),
            previous: read_manifest(dir),
            written: BTreeSet::new(),
            attempted: BTreeSet::new(),
            failed: Vec::new(),
            open: None,
        }
    }

    /// The file being written, if any.
    pub fn current(&self) -> Option<&str> {
        self.open.as_ref().map(|(p, _, _)| p.as_str())
    }

    /// Appends `data` to file `path` (relative, `/`-separated), starting it if it is not the
    /// file being written.
    pub fn write(&mut self, path: &str, data: &[u8]) {
        use std::io::Write;
        if self.current() != Some(path) {
            self.abandon();
            self.attempted.insert(path.to_string());
            let (tmp, file) = match start(&self.dir, path) {
                Ok((tmp, f)) => (tmp, Some(f)),
                Err(e) => {
                    self.failed.push(format!("{path}: {e}"));
                    (PathBuf::new(), None)
                }
            };
            self.open = Some((path.to_string(), tmp, file));
        }
        let Some((_, tmp, file)) = &mut self.open else {
            return;
        };
        if let Some(f) = file {
            if let Err(e) = f.write_all(data) {
                self.failed.push(format!("{path}: {e}"));
                let _ = std::fs::remove_file(tmp);
                *file = None;
            }
        }
    }

    /// Ends file `path`: moves it into place.
    pub fn end(&mut self, path: &str) {
        if self.current() != Some(path) {
            self.write(path, b"");
        }
        let Some((path, tmp, file)) = self.open.take() else {
            return;
        };
        let Some(f) = file else { return };
        drop(f);
        let result = std::fs::rename(&tmp, self.dir.join(&path));
        match result {
            Ok(()) => {
                self.written.insert(path);
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                self.failed.push(format!("{path}: {e}"));
            }
        }
    }

    /// Removes the half-written file, if any.
    fn abandon(&mut self) {
        if let Some((_, tmp, Some(_))) = self.open.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }

    /// Removes the stale files, writes the manifest, and reports the files that could not be
    /// written.
    pub fn finish(mut self) -> Result<()> {
        if let Some(path) = self.current().map(str::to_string) {
            self.failed
                .push(format!("{path}: ended before all of it arrived"));
            self.abandon();
        }
        let dir = self.dir.clone();
        let mut failed = std::mem::take(&mut self.failed);
        let written = std::mem::take(&mut self.written);
        let families: BTreeSet<_> = self.attempted.iter().map(|f| family(f)).collect();
        let mut kept: BTreeSet<String> = written.clone();
        for old in self.previous.difference(&written) {
            if !families.contains(&family(old)) {
                kept.insert(old.clone());
                continue;
            }
            match std::fs::remove_file(dir.join(old)) {
                Ok(()) => remove_empty_parents(&dir, old),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    failed.push(format!(
                        "{old}: stale file from an earlier run not removed: {e}"
                    ));
                    kept.insert(old.clone());
                }
            }
        }
        let list: String = kept.iter().map(|p| format!("{p}\n")).collect();
        if let Err(e) = write_one(
            &dir,
            &ReportFile {
                path: MANIFEST.into(),
                contents: list,
            },
        ) {
            failed.push(format!("{MANIFEST}: {e}"));
        }
        if failed.is_empty() {
            return Ok(());
        }
        Err(InputError(format!(
            "could not write {} of the report files in {} ({} written):\n  {}\nfix the cause and run the same command again: the scan's results are cached, so only the reports are redone",
            failed.len(),
            dir.display(),
            written.len(),
            failed.join("\n  ")
        ))
        .into())
    }
}

/// Rendered reports go straight to their files: a failure to write one is recorded and
/// reported by [`Writer::finish`], and does not stop the others.
impl fleetscan_core::report::Sink<std::convert::Infallible> for Writer {
    fn write(&mut self, path: &str, data: &str) -> Result<(), std::convert::Infallible> {
        Writer::write(self, path, data.as_bytes());
        Ok(())
    }

    fn end(&mut self, path: &str) -> Result<(), std::convert::Infallible> {
        Writer::end(self, path);
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// Opens the temporary file that becomes `dir/path`.
fn start(dir: &Path, path: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = path.into_os_string();
    tmp.push(format!(".tmp-fleetscan-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let file = std::fs::File::create(&tmp)?;
    Ok((tmp, file))
}

/// Which format wrote `path`, as far as stale files go: its top directory (`teams`, `html`;
/// none for a top-level file) and its extension. Grouping by the top directory, not the
/// parent, lets a dashboard page go stale when its whole directory does
/// (`html/projects/<org>/` of an organisation no longer scanned). A history point's files
/// (`history/<date>/occurrences.ndjson`) belong to their format's top-level file: a re-run
/// with other points, or none, removes the points it no longer has.
fn family(path: &str) -> (Option<String>, Option<String>) {
    let p = Path::new(path);
    let top = path
        .split_once('/')
        .map(|(top, _)| top.to_string())
        .filter(|top| top != "history");
    (top, p.extension().map(|e| e.to_string_lossy().into_owned()))
}

/// Removes the directories above `removed` (relative to `dir`) that are now empty; stops at
/// the first that is not, so a directory holding anything of the user's stays.
fn remove_empty_parents(dir: &Path, removed: &str) {
    let mut p = Path::new(removed).parent();
    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
        if std::fs::remove_dir(dir.join(d)).is_err() {
            break;
        }
        p = d.parent();
    }
}

fn write_one(dir: &Path, f: &ReportFile) -> std::io::Result<()> {
    use std::io::Write;
    let (tmp, mut file) = start(dir, &f.path)?;
    let result = file
        .write_all(f.contents.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, dir.join(&f.path)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The paths the last run listed in [`MANIFEST`]; only plain relative paths are taken, so an
/// edited manifest cannot make a re-run delete anything outside `dir`.
fn read_manifest(dir: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
    text.lines()
        .filter(|l| {
            !l.is_empty()
                && *l != MANIFEST
                && Path::new(l)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> ReportFile {
        ReportFile {
            path: path.into(),
            contents: format!("{path}\n"),
        }
    }

    #[test]
    fn a_rerun_removes_only_its_own_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_all(
            d,
            &[
                file("index.md"),
                file("teams/Old.md"),
                file("teams/Kept.md"),
                file("occurrences.csv"),
            ],
        )
        .unwrap();
        std::fs::write(d.join("teams/mine.md"), "the user's notes").unwrap();
        std::fs::write(d.join("notes.txt"), "the user's notes").unwrap();
        // The second run writes Markdown only: its team files replace the first run's, and
        // the CSV it did not ask for stays.
        write_all(
            d,
            &[
                file("index.md"),
                file("teams/Kept.md"),
                file("teams/New.md"),
            ],
        )
        .unwrap();
        assert!(!d.join("teams/Old.md").exists());
        for kept in [
            "teams/Kept.md",
            "teams/New.md",
            "teams/mine.md",
            "notes.txt",
            "occurrences.csv",
        ] {
            assert!(d.join(kept).exists(), "{kept}");
        }
        let manifest = read_manifest(d);
        assert!(manifest.contains("occurrences.csv") && !manifest.contains("teams/Old.md"));
    }

    /// Files that arrive in pieces: each is in place once it ends, and one whose stream broke
    /// leaves neither itself nor its temporary file, nor a changed manifest.
    #[test]
    fn files_written_a_piece_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut w = Writer::new(d);
        w.write("teams/A.md", b"# A\n");
        w.write("teams/A.md", b"more\n");
        assert!(!d.join("teams/A.md").exists(), "not before its end");
        w.end("teams/A.md");
        w.end("empty.txt");
        w.finish().unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("teams/A.md")).unwrap(),
            "# A\nmore\n"
        );
        assert_eq!(std::fs::read_to_string(d.join("empty.txt")).unwrap(), "");

        let mut w = Writer::new(d);
        w.write("index.md", b"half");
        drop(w);
        let names: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with("index.md")),
            "{names:?}"
        );
        assert!(read_manifest(d).contains("teams/A.md"));

        let mut w = Writer::new(d);
        w.write("index.md", b"half");
        let e = w.finish().unwrap_err().to_string();
        assert!(
            e.contains("index.md: ended before all of it arrived"),
            "{e}"
        );
        assert!(!d.join("index.md").exists());
    }

    #[test]
    fn stale_pages_go_with_their_directories_and_the_users_stay() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_all(
            d,
            &[
                file("html/index.html"),
                file("html/projects/a/x.html"),
                file("html/projects/gone/y.html"),
                file("html/projects/mixed/z.html"),
            ],
        )
        .unwrap();
        std::fs::write(d.join("html/projects/mixed/mine.html"), "the user's").unwrap();
        write_all(
            d,
            &[file("html/index.html"), file("html/projects/a/x.html")],
        )
        .unwrap();
        assert!(!d.join("html/projects/gone").exists());
        assert!(!d.join("html/projects/mixed/z.html").exists());
        assert!(d.join("html/projects/mixed/mine.html").exists());
        assert!(d.join("html/projects/a/x.html").exists());
    }

    #[test]
    fn history_points_a_rerun_no_longer_has_go() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_all(
            d,
            &[
                file("occurrences.ndjson"),
                file("history/2025-01-01/occurrences.ndjson"),
                file("history/2025-04-01/occurrences.ndjson"),
            ],
        )
        .unwrap();
        write_all(
            d,
            &[
                file("occurrences.ndjson"),
                file("history/2025-04-01/occurrences.ndjson"),
            ],
        )
        .unwrap();
        assert!(!d.join("history/2025-01-01").exists());
        assert!(d.join("history/2025-04-01/occurrences.ndjson").exists());
        // A run without history removes every point, and the directory with them.
        write_all(d, &[file("occurrences.ndjson")]).unwrap();
        assert!(!d.join("history").exists());
        assert!(d.join("occurrences.ndjson").exists());
    }

    /// Used to let `file://` through unchecked and refuse an upper-case `GIT://` that the plan
    /// accepts.
    #[test]
    fn reachability_takes_the_schemes_the_plan_takes() {
        let t = Duration::from_millis(500);
        for base in [
            "file:///srv/git/",
            "ssh://127.0.0.1/",
            "ext::sh -c x",
            "no-url",
        ] {
            let e = check_reachable(base, t).unwrap_err();
            assert!(
                e.is::<InputError>() && e.to_string().contains("not supported"),
                "{base}: {e}"
            );
        }
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = open.local_addr().unwrap().port();
        check_reachable(&format!("GIT://127.0.0.1:{port}/"), t).unwrap();
        drop(open);
        let e = check_reachable(&format!("git://127.0.0.1:{port}/"), t).unwrap_err();
        assert!(e.to_string().contains("unreachable"), "{e}");
    }

    #[test]
    fn a_manifest_cannot_point_outside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MANIFEST),
            "../x.md\n/etc/passwd\nteams/A.md\n",
        )
        .unwrap();
        assert_eq!(
            read_manifest(dir.path()),
            BTreeSet::from(["teams/A.md".to_string()])
        );
    }

    #[test]
    fn one_file_that_cannot_be_written_does_not_stop_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("teams"), "a file where the directory should be").unwrap();
        let err = write_all(
            d,
            &[
                file("teams/A.md"),
                file("summary.json"),
                file("occurrences.csv"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("teams/A.md") && err.contains("1 of the report files"),
            "{err}"
        );
        assert!(d.join("summary.json").exists() && d.join("occurrences.csv").exists());
    }
}
