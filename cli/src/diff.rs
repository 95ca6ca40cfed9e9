//! `fleetscan diff OLD NEW`: what changed between two scans. Each side is a report directory,
//! a scan id of a coordinator, or one point of a history scan in either (`DIR@DATE`,
//! `ID@DATE`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use fleetscan_core::diff::{Diff, Snapshot};
use fleetscan_core::history::Day;
use fleetscan_core::report::ReportFile;

use crate::remote::Remote;
use crate::{output, InputError};

/// `fleetscan diff` flags.
#[derive(Debug, Args)]
pub struct DiffCmd {
    /// The earlier scan: a directory written by `fleetscan scan --out` (it needs summary.json
    /// and occurrences.ndjson), or the id of a completed scan on the coordinator
    /// (--coordinator). Add @DATE for one point of a history scan: reports/@2025-01-01.
    #[arg(value_name = "OLD")]
    pub old: String,
    /// The later scan, in the same forms.
    #[arg(value_name = "NEW")]
    pub new: String,
    /// Write diff.md and diff.json into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print JSON instead of Markdown (without --out).
    #[arg(long, conflicts_with = "out")]
    pub json: bool,
    /// Where scan ids are looked up.
    #[command(flatten)]
    pub remote: Remote,
}

pub fn run(cmd: DiffCmd) -> Result<ExitCode> {
    let old = load(&cmd.old, "OLD", &cmd.remote)?;
    let new = load(&cmd.new, "NEW", &cmd.remote)?;
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

/// `spec` without its `@DATE`, and the date; the whole of `spec` when what follows its last
/// `@` is not a date (a directory may have an `@` in its name).
fn split_point(spec: &str) -> (&str, Option<Day>) {
    match spec.rsplit_once('@') {
        Some((base, date)) if !base.is_empty() => match date.parse::<Day>() {
            Ok(d) => (base, Some(d)),
            Err(_) => (spec, None),
        },
        _ => (spec, None),
    }
}

/// True for what can only be a scan id: no path separator, not a directory.
fn is_scan_id(s: &str) -> bool {
    !s.is_empty()
        && !s.contains('/')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !Path::new(s).exists()
}

/// The files of one side under `prefix` (`` or `history/<date>/`).
fn names(at: Option<Day>) -> (String, String) {
    let prefix = at.map_or(String::new(), |d| format!("history/{d}/"));
    (
        format!("{prefix}summary.json"),
        format!("{prefix}occurrences.ndjson"),
    )
}

/// Reads one side: a report directory, a history point in one, or a scan of the coordinator.
fn load(spec: &str, which: &str, remote: &Remote) -> Result<Snapshot> {
    let (base, at) = split_point(spec);
    if is_scan_id(base) {
        return load_remote(base, at, which, remote);
    }
    let top = Path::new(base);
    let dir = match at {
        Some(d) => top.join("history").join(d.to_string()),
        None => top.to_path_buf(),
    };
    if let Some(d) = at.filter(|_| !dir.is_dir()) {
        return Err(InputError(format!(
            "{which} {spec}: {} has no point {d}{}: give one of its points",
            top.display(),
            known_points(top)
        ))
        .into());
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| {
            InputError(format!(
                "{which} {}: cannot read {name}: {e}: give a directory written by `fleetscan scan --out` with the summary and ndjson formats, DIR@DATE for a point of a history scan, or a scan id with --coordinator",
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

/// The points a report directory holds, for an error message.
fn known_points(dir: &Path) -> String {
    let mut points: Vec<String> = std::fs::read_dir(dir.join("history"))
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.parse::<Day>().is_ok())
                .collect()
        })
        .unwrap_or_default();
    points.sort();
    if points.is_empty() {
        " (it holds no history)".into()
    } else {
        format!(" (it holds {})", points.join(", "))
    }
}

/// Reads one side from the coordinator: the reports it renders for scan `id`.
fn load_remote(id: &str, at: Option<Day>, which: &str, remote: &Remote) -> Result<Snapshot> {
    let formats = ["summary".to_string(), "ndjson".to_string()];
    let files = tokio::runtime::Runtime::new()?
        .block_on(crate::remote::report_files(remote, id, &formats))?;
    let (summary, ndjson) = names(at);
    let find = |name: &str| {
        files
            .iter()
            .find(|f| f.path == name)
            .map(|f| f.contents.as_str())
            .ok_or_else(|| {
                let what = match at {
                    Some(d) => format!("has no point {d}"),
                    None => format!("sent no {name}"),
                };
                InputError(format!(
                    "{which} {id}: the scan {what}: give a point it was scanned at"
                ))
            })
    };
    Ok(Snapshot::parse(
        &format!("scan {id}"),
        find(&summary)?,
        find(&ndjson)?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_a_date_after_the_last_at() {
        let d = |s: &str| Some(s.parse::<Day>().unwrap());
        assert_eq!(
            split_point("reports@2025-01-01"),
            ("reports", d("2025-01-01"))
        );
        assert_eq!(split_point("a@b/r@2025-01-01"), ("a@b/r", d("2025-01-01")));
        assert_eq!(split_point("me@host"), ("me@host", None));
        assert_eq!(split_point("@2025-01-01"), ("@2025-01-01", None));
        assert!(is_scan_id("3f2b-9c"));
        assert!(!is_scan_id("reports/"));
    }
}
