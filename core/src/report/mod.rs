//! Rendering of the report files from a finished scan. Pure: it returns the files' contents
//! and the caller writes them, so the embedded CLI and the coordinator render the same bytes.
//!
//! Files:
//! - `teams/<Team>.md`: one per team, in the shape maintainers already read (the name made
//!   safe and unique, see `file_name.rs`);
//! - `index.md`: the fleet summary;
//! - `<name>-usage.txt`: every occurrence as a beagle `link` line;
//! - `occurrences.ndjson`: one JSON object per occurrence;
//! - `occurrences.csv`: the same as CSV;
//! - `summary.json`: per repository its status, commit, counts and durations;
//! - `results.sarif`: SARIF 2.1.0, one result per occurrence in production code;
//! - `html/`: a static dashboard, `index.html` and one page per team and per project.
//!
//! A history scan adds `progress.md` (with md), `history.ndjson` and each point's
//! `history/<date>/occurrences.ndjson` (with ndjson), `history.csv` (with csv), each point's
//! `history/<date>/summary.json` (with summary), and the burndown on the dashboard.

mod csv;
pub mod escape;
mod file_name;
mod fleet;
mod history;
mod html;
mod index;
mod ndjson;
mod sarif;
mod stream;
mod summary;
mod team;

use std::collections::BTreeSet;
use std::str::FromStr;

pub use fleet::{date, Fleet, FleetBuilder, Project, Team, TeamKind};
pub use history::{at_point, Moment};
pub use stream::{Held, Results, Sink};
pub use summary::ScanInfo;

use crate::Error;

/// One output format. Each writes one or more files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// `teams/<Team>.md` and `index.md`.
    Markdown,
    /// `<name>-usage.txt`, beagle link lines.
    Links,
    /// `occurrences.ndjson`.
    Ndjson,
    /// `occurrences.csv`.
    Csv,
    /// `summary.json`.
    Summary,
    /// `results.sarif`.
    Sarif,
    /// `html/`, the dashboard.
    Html,
}

impl Format {
    /// Every format, in the order they are written.
    pub const ALL: [Format; 7] = [
        Format::Markdown,
        Format::Links,
        Format::Ndjson,
        Format::Csv,
        Format::Summary,
        Format::Sarif,
        Format::Html,
    ];

    /// The formats written when none are asked for.
    pub fn defaults() -> BTreeSet<Format> {
        Format::ALL.into_iter().collect()
    }

    /// The formats named, checked; none named means all of them.
    pub fn parse_list(names: &[String]) -> Result<BTreeSet<Format>, Error> {
        if names.is_empty() {
            return Ok(Format::defaults());
        }
        names.iter().map(|n| n.parse()).collect()
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Links => "links",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Summary => "summary",
            Format::Sarif => "sarif",
            Format::Html => "html",
        }
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format, Error> {
        Format::ALL
            .into_iter()
            .find(|f| {
                f.name() == s
                    || (s == "markdown" && *f == Format::Markdown)
                    || (s == "json" && *f == Format::Summary)
                    || (s == "txt" && *f == Format::Links)
            })
            .ok_or_else(|| Error::BadFormat {
                name: s.to_string(),
                known: Format::ALL
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// A rendered file: a path relative to the output directory, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// Relative path, `/`-separated.
    pub path: String,
    /// Contents.
    pub contents: String,
}

/// The name of the link-lines file for these patterns: `eventlet` gives `eventlet-usage.txt`.
pub fn usage_file_name(patterns: &[String]) -> String {
    let mut stem = String::new();
    for c in patterns.join("-").chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.ends_with('-') && !stem.is_empty() {
            stem.push('-');
        }
    }
    let stem = stem.trim_end_matches('-');
    let stem = if stem.is_empty() { "pattern" } else { stem };
    format!(
        "{}-usage.txt",
        &stem[..stem.len().min(60)].trim_end_matches('-')
    )
}

/// Renders the asked-for formats into memory.
pub fn render(fleet: &Fleet, info: &ScanInfo, formats: &BTreeSet<Format>) -> Vec<ReportFile> {
    let mut files = stream::Files::default();
    let Ok(()) = render_to(fleet, info, formats, &mut Held, &mut files);
    files.0
}

/// Renders the asked-for formats into `sink`, one file after the other, in the order
/// [`render`] returns them. When `fleet` is an outline, each project's full result is read
/// from `results` as the renderers reach it, so that at most one project is held at a time.
pub fn render_to<E>(
    fleet: &Fleet,
    info: &ScanInfo,
    formats: &BTreeSet<Format>,
    results: &mut dyn Results<E>,
    sink: &mut dyn Sink<E>,
) -> Result<(), E> {
    for f in formats {
        match f {
            Format::Markdown => {
                for t in &fleet.teams {
                    team::render(fleet, t, results, stream::Out::new(sink, &t.file))?;
                }
                index::render(fleet, info, stream::Out::new(sink, "index.md"))?;
                if !fleet.history.is_empty() {
                    stream::whole(sink, "progress.md", &history::progress(fleet))?;
                }
            }
            Format::Links => {
                fleet.write_link_lines(results, sink, &usage_file_name(&info.patterns))?
            }
            Format::Ndjson => {
                ndjson::render(fleet, results, stream::Out::new(sink, "occurrences.ndjson"))?;
                if !fleet.history.is_empty() {
                    stream::whole(sink, "history.ndjson", &history::ndjson(fleet))?;
                    history::point_ndjson(fleet, results, sink)?;
                }
            }
            Format::Csv => {
                csv::render(fleet, results, stream::Out::new(sink, "occurrences.csv"))?;
                if !fleet.history.is_empty() {
                    stream::whole(sink, "history.csv", &history::csv(fleet))?;
                }
            }
            Format::Summary => {
                summary::render(fleet, info, stream::Out::new(sink, "summary.json"))?;
                history::point_summaries(fleet, info, sink)?;
            }
            Format::Sarif => {
                sarif::render(fleet, results, stream::Out::new(sink, "results.sarif"))?
            }
            Format::Html => html::render(fleet, info, results, sink)?,
        }
    }
    Ok(())
}

/// What the report tests build their fleets from.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::result::{Occurrence, ScanOptions};

    /// Occurrences from (path, line, text).
    pub(crate) fn occurrences(occ: &[(&str, u32, &str)]) -> Vec<Occurrence> {
        occ.iter()
            .map(|(p, l, t)| Occurrence {
                path: p.to_string(),
                line: *l,
                text: t.to_string(),
            })
            .collect()
    }

    /// The facts of a run searching `pattern`, started at the epoch.
    pub(crate) fn info(pattern: &str) -> super::ScanInfo {
        super::ScanInfo {
            patterns: vec![pattern.into()],
            options: ScanOptions {
                matching: crate::matcher::MatchOptions::new([pattern]),
                files: Default::default(),
            },
            git_base: String::new(),
            governance: Vec::new(),
            started: 0,
            duration_ms: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_file_names() {
        assert_eq!(usage_file_name(&["eventlet".into()]), "eventlet-usage.txt");
        assert_eq!(
            usage_file_name(&[r"\bsix\b".into(), "Greenlet".into()]),
            "bsix-b-greenlet-usage.txt"
        );
        assert_eq!(usage_file_name(&["***".into()]), "pattern-usage.txt");
    }

    #[test]
    fn formats_parse() {
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        assert!("pdf"
            .parse::<Format>()
            .unwrap_err()
            .to_string()
            .contains("ndjson"));
    }
}
