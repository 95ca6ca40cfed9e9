//! Reading the selection inputs (governance files and URLs, `--repos-file`) for the core's
//! plan, which decides the repository list.

use anyhow::Result;
use fleetscan_core::governance::Governance;
use fleetscan_core::select::{Entry, Target};

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
        // Editors on Windows start UTF-8 files with a byte order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
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

/// Names the repositories of the plan that governance does not know in one warning line (the
/// count and the first few), unless `quiet`: one line per repository buried the progress bar
/// of a large scan.
pub fn warn_unknown(gov: &Governance, targets: &[Target], quiet: bool) {
    let unknown: Vec<&str> = targets
        .iter()
        .filter(|t| gov.owner(&t.repo).is_none())
        .map(|t| t.repo.as_str())
        .collect();
    if !quiet {
        if let Some(line) = unknown_line(&unknown) {
            tracing::warn!("{line}");
        }
    }
}

/// The one line about repositories not in governance, or None when there are none.
fn unknown_line(unknown: &[&str]) -> Option<String> {
    const SHOWN: usize = 5;
    let n = unknown.len();
    let (first, rest) = match n {
        0 => return None,
        _ if n <= SHOWN => (unknown.join(", "), String::new()),
        _ => (
            unknown[..SHOWN].join(", "),
            format!(" and {} more", n - SHOWN),
        ),
    };
    Some(format!(
        "{n} repositories not in the governance data are reported under Unknown Team: {first}{rest}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_in_the_repos_file_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("repos.txt");
        std::fs::write(&f, "\u{feff}openstack/nova\nopenstack/glance\n").unwrap();
        let e = entries(&[], Some(f.to_str().unwrap())).unwrap();
        let names: Vec<&str> = e.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(names, ["openstack/nova", "openstack/glance"]);
        let gov = Governance::builtin().unwrap();
        let t = fleetscan_core::select::targets(&gov, &e, "", "git://h/").unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn repositories_not_in_governance_are_summarised_in_one_line() {
        assert_eq!(unknown_line(&[]), None);
        let many: Vec<String> = (0..100_000).map(|i| format!("x/r{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let line = unknown_line(&many).unwrap();
        assert!(line.starts_with("100000 repositories"), "{line}");
        assert!(line.ends_with("x/r4 and 99995 more"), "{line}");
    }
}
