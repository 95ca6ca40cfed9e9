//! `fleetscan diff OLD NEW`: what changed between two report directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use fleetscan_core::diff::{Diff, Snapshot};
use fleetscan_core::report::ReportFile;

use crate::{output, InputError};

/// `fleetscan diff` flags.
#[derive(Debug, Args)]
pub struct DiffCmd {
    /// The earlier scan: a directory written by `fleetscan scan --out` (it needs
    /// summary.json and occurrences.ndjson).
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The later scan, the same kind of directory.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Write diff.md and diff.json into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print JSON instead of Markdown (without --out).
    #[arg(long, conflicts_with = "out")]
    pub json: bool,
}

pub fn run(cmd: DiffCmd) -> Result<ExitCode> {
    let old = load(&cmd.old, "OLD")?;
    let new = load(&cmd.new, "NEW")?;
    let diff = Diff::between(&old, &new);
    match &cmd.out {
        Some(dir) => {
            output::check_writable(dir)?;
            output::write_all(
                dir,
                &[
                    ReportFile {
                        path: "diff.md".into(),
                        contents: diff.markdown(),
                    },
                    ReportFile {
                        path: "diff.json".into(),
                        contents: diff.json(),
                    },
                ],
            )?;
        }
        None => {
            let text = if cmd.json {
                diff.json()
            } else {
                diff.markdown()
            };
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads one report directory.
fn load(dir: &Path, which: &str) -> Result<Snapshot> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| {
            InputError(format!(
                "{which} {}: cannot read {name}: {e}: give a directory written by `fleetscan scan --out` with the summary and ndjson formats",
                dir.display()
            ))
        })
    };
    let summary = read("summary.json")?;
    let ndjson = read("occurrences.ndjson")?;
    Ok(Snapshot::parse(
        &dir.display().to_string(),
        &summary,
        &ndjson,
    )?)
}
