//! `fleetscan grep`: the scanning engine over files on disk, for checking a local tree and for
//! measuring the engine against `rg` and `git grep` on the same files.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use fleetscan_core::filter::{FileFilter, FileOptions};
use fleetscan_core::matcher::{line_text, MatchOptions, Matcher};

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
    /// Files or directories to search (`.git` directories are skipped; links not followed).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

pub fn run(cmd: GrepCmd) -> Result<ExitCode> {
    let matcher = Matcher::new(
        &MatchOptions::new(cmd.patterns.iter().cloned())
            .with_ignore_case(cmd.ignore_case)
            .with_ignore_comments(cmd.ignore_comments, "#"),
    )?;
    let filter = FileFilter::new(&FileOptions::default())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut hits, mut bytes) = (0u64, 0u64);
    let mut stack: Vec<PathBuf> = cmd.paths.clone();
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p)
            .map_err(|e| InputError(format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort_unstable_by(|a, b| b.cmp(a));
            stack.extend(entries);
        } else if meta.is_file() {
            if filter.check_meta("", meta.len()).is_err() {
                continue;
            }
            let data = std::fs::read(&p)?;
            if filter.check_content(&data).is_err() {
                continue;
            }
            bytes += data.len() as u64;
            let _ = matcher.scan::<()>(&data, |line, raw| {
                hits += 1;
                if !cmd.count {
                    let _ = writeln!(out, "{}:{line}:{}", display(&p), line_text(raw));
                }
                ControlFlow::Continue(())
            });
        }
    }
    if cmd.count {
        writeln!(out, "{hits} matching lines in {bytes} bytes")?;
    }
    out.flush()?;
    Ok(if hits > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn display(p: &Path) -> String {
    p.to_string_lossy().trim_start_matches("./").to_string()
}
