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

mod csv;
pub mod escape;
mod file_name;
mod fleet;
mod html;
mod index;
mod ndjson;
mod sarif;
mod summary;
mod team;

use std::collections::BTreeSet;
use std::str::FromStr;

pub use fleet::{date, Fleet, Project, Team, TeamKind};
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

/// Renders the asked-for formats.
pub fn render(fleet: &Fleet, info: &ScanInfo, formats: &BTreeSet<Format>) -> Vec<ReportFile> {
    let mut files = Vec::new();
    for f in formats {
        match f {
            Format::Markdown => {
                for t in &fleet.teams {
                    files.push(ReportFile {
                        path: t.file.clone(),
                        contents: team::render(fleet, t),
                    });
                }
                files.push(ReportFile {
                    path: "index.md".into(),
                    contents: index::render(fleet, info),
                });
            }
            Format::Links => files.push(ReportFile {
                path: usage_file_name(&info.patterns),
                contents: fleet.link_lines(),
            }),
            Format::Ndjson => files.push(ReportFile {
                path: "occurrences.ndjson".into(),
                contents: ndjson::render(fleet),
            }),
            Format::Csv => files.push(ReportFile {
                path: "occurrences.csv".into(),
                contents: csv::render(fleet),
            }),
            Format::Summary => files.push(ReportFile {
                path: "summary.json".into(),
                contents: summary::render(fleet, info),
            }),
            Format::Sarif => files.push(ReportFile {
                path: "results.sarif".into(),
                contents: sarif::render(fleet),
            }),
            Format::Html => files.extend(html::render(fleet, info)),
        }
    }
    files
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
