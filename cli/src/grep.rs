//! `fleetscan grep`: the scanning engine over files on disk, for checking a local tree and for
//! measuring the engine against `rg` and `git grep` on the same files.
//!
//! Directories are walked by the `ignore` crate's parallel walker (the one `rg` uses), with
//! every ignore rule off: each thread reads, searches and prints whole files, so one file's
//! lines stay together while files come in no set order, as with `rg`.

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::Result;
use clap::Args;
use fleetscan_core::filter::{FileFilter, FileOptions};
use fleetscan_core::matcher::{line_text, MatchOptions, Matcher};
use ignore::{WalkBuilder, WalkState};

use crate::InputError;

/// `fleetscan grep` flags.
#[derive(Debug, Args)]
pub struct GrepCmd {
    /// Regex to find; repeat for several.
    #[arg(long = "pattern", value_name = "REGEX", required = true)]
    patterns: Vec<String>,
    /// Match case-insensitively.
    #[arg(long)]
    ignore_case: bool,
    /// Drop hits whose stripped line starts with `#`.
    #[arg(long)]
    ignore_comments: bool,
    /// Print only the number of matching lines and bytes searched.
    #[arg(long)]
    count: bool,
    /// Threads searching at once. Default: the number of CPUs.
    #[arg(long, short = 'j', value_name = "N")]
    threads: Option<usize>,
    /// Files or directories to search (`.git` directories are skipped; links not followed).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// What every thread adds to.
struct Totals {
    hits: AtomicU64,
    bytes: AtomicU64,
    /// The first file that could not be read; the walk stops there.
    error: Mutex<Option<String>>,
}

pub fn run(cmd: GrepCmd) -> Result<ExitCode> {
    let matcher = Matcher::new(
        &MatchOptions::new(cmd.patterns.iter().cloned())
            .with_ignore_case(cmd.ignore_case)
            .with_ignore_comments(cmd.ignore_comments, "#"),
    )?;
    let filter = FileFilter::new(&FileOptions::default())?;
    for p in &cmd.paths {
        std::fs::symlink_metadata(p).map_err(|e| InputError(format!("{}: {e}", p.display())))?;
    }
    let threads = match cmd.threads {
        Some(0) => return Err(InputError("--threads must be at least 1".into()).into()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let mut walk = WalkBuilder::new(&cmd.paths[0]);
    for p in &cmd.paths[1..] {
        walk.add(p);
    }
    walk.standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(|e| !(e.file_name() == ".git" && e.file_type().is_some_and(|t| t.is_dir())));
    let totals = Totals {
        hits: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        error: Mutex::new(None),
    };
    let stdout = std::io::stdout();
    walk.build_parallel().run(|| {
        let (matcher, filter, totals, stdout) = (&matcher, &filter, &totals, &stdout);
        let count_only = cmd.count;
        let mut data = Vec::new();
        let mut out = Vec::new();
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => return fail(totals, e.to_string()),
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let path = entry.path();
            if let Err(e) = read_small(path, filter, &mut data) {
                return fail(totals, format!("{}: {e}", path.display()));
            }
            if data.is_empty() || filter.check_content(&data).is_err() {
                return WalkState::Continue;
            }
            totals.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
            let mut hits = 0;
            let _ = matcher.scan::<()>(&data, |line, raw| {
                hits += 1;
                if !count_only {
                    let _ = writeln!(out, "{}:{line}:{}", display(path), line_text(raw));
                }
                ControlFlow::Continue(())
            });
            totals.hits.fetch_add(hits, Ordering::Relaxed);
            if !out.is_empty() {
                if stdout.lock().write_all(&out).is_err() {
                    return WalkState::Quit;
                }
                out.clear();
            }
            WalkState::Continue
        })
    });
    if let Some(e) = totals.error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(InputError(e).into());
    }
    let hits = totals.hits.into_inner();
    let mut out = stdout.lock();
    if cmd.count {
        writeln!(
            out,
            "{hits} matching lines in {} bytes",
            totals.bytes.into_inner()
        )?;
    }
    out.flush()?;
    Ok(if hits > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads `path` into `data` unless it is over the size limit (then `data` is left empty). The
/// size comes from the open file, so a file costs no extra `stat` by path, and the read goes
/// through `Take`: `File`'s own `read_to_end` asks the file for its size and position again
/// (a `statx` and an `lseek` a file, a tenth of the system calls). The file is read up to the
/// size it had when opened.
fn read_small(path: &Path, filter: &FileFilter, data: &mut Vec<u8>) -> std::io::Result<()> {
    data.clear();
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if filter.check_meta("", len).is_ok() {
        data.reserve(len as usize);
        (&file).take(len).read_to_end(data)?;
    }
    Ok(())
}

fn fail(totals: &Totals, message: String) -> WalkState {
    let mut first = totals.error.lock().unwrap_or_else(|e| e.into_inner());
    first.get_or_insert(message);
    WalkState::Quit
}

fn display(p: &Path) -> String {
    p.to_string_lossy().trim_start_matches("./").to_string()
}
