//! Reading the selection inputs (governance files and URLs, `--repos-file`) for the core's
//! [`fleetscan_core::select`], which decides the repository list.

use anyhow::Result;
use fleetscan_core::governance::Governance;
use fleetscan_core::select::{self, Entry, Target};

use crate::InputError;

/// The governance documents named by `sources`, read from files or downloaded, as
/// (source, text) pairs. Empty when `sources` is: the built-in snapshot applies.
pub fn governance_docs(sources: &[String]) -> Result<Vec<(String, String)>> {
    let mut docs = Vec::new();
    for src in sources {
        let text = if src.starts_with("http://") || src.starts_with("https://") {
            ureq::get(src)
                .call()
                .and_then(|mut r| r.body_mut().read_to_string())
                .map_err(|e| InputError(format!("cannot download --governance {src}: {e}")))?
        } else {
            std::fs::read_to_string(src)
                .map_err(|e| InputError(format!("cannot read --governance {src}: {e}: give an existing governance YAML file or URL")))?
        };
        docs.push((src.clone(), text));
    }
    Ok(docs)
}

/// Parses governance documents; none means the built-in snapshot. Returns the data and the
/// names of its sources.
pub fn parse_governance(docs: &[(String, String)]) -> Result<(Governance, Vec<String>)> {
    Ok(Governance::from_documents(
        docs.iter().map(|(n, t)| (n.as_str(), t.as_str())),
    )?)
}

/// The explicit entries: `--repo` values, then the lines of `--repos-file`.
pub fn entries(explicit: &[String], repos_file: Option<&str>) -> Result<Vec<Entry>> {
    let mut out: Vec<Entry> = explicit
        .iter()
        .map(|e| Entry {
            text: e.clone(),
            origin: "--repo".into(),
        })
        .collect();
    if let Some(f) = repos_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| InputError(format!("cannot read --repos-file {f}: {e}")))?;
        let before = out.len();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                out.push(Entry {
                    text: line.to_string(),
                    origin: format!("{f}:{}", i + 1),
                });
            }
        }
        if out.len() == before {
            return Err(InputError(format!("--repos-file {f} lists no repositories")).into());
        }
    }
    Ok(out)
}

/// The repositories to scan, with a warning for each one governance does not know.
pub fn targets(
    gov: &Governance,
    entries: &[Entry],
    pattern: &str,
    git_base: &str,
) -> Result<Vec<Target>> {
    let targets = select::targets(gov, entries, pattern, git_base)?;
    for t in &targets {
        if gov.owner(&t.repo).is_none() {
            tracing::warn!(repo = %t.repo, "not in the governance data: reported under Unknown Team");
        }
    }
    Ok(targets)
}
