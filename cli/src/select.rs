//! Which repositories a scan covers and where each is fetched from.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use fleetscan_core::governance::Governance;
use fleetscan_core::ids::RepoName;
use fleetscan_worker::Job;
use globset::Glob;

use crate::InputError;

/// Loads governance: the built-in snapshot, or the given files and URLs in order.
pub fn governance(sources: &[String]) -> Result<(Governance, Vec<String>)> {
    if sources.is_empty() {
        let names = fleetscan_core::governance::BUILTIN
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        return Ok((Governance::builtin()?, names));
    }
    let mut g = Governance::default();
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
        g.add_yaml(src, &text)?;
    }
    Ok((g, sources.to_vec()))
}

/// One entry of `--repo` / `--repos-file`: `ORG/NAME`, or a URL ending in `/ORG/NAME[.git]`,
/// which overrides `--git-base` for that repository.
pub fn parse_entry(entry: &str, git_base: &str) -> Result<Job> {
    let entry = entry.trim();
    if entry.contains("://") {
        let path = entry.split_once("://").map(|(_, r)| r).unwrap_or_default();
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        if parts.len() < 3 {
            return Err(InputError(format!(
                "repository URL {entry:?} does not end in /ORG/NAME"
            ))
            .into());
        }
        let name = format!(
            "{}/{}",
            parts[parts.len() - 2],
            parts[parts.len() - 1].trim_end_matches(".git")
        );
        let repo = RepoName::parse(&name)
            .map_err(|e| InputError(format!("repository URL {entry:?}: {e}")))?;
        return Ok(Job {
            repo,
            url: entry.to_string(),
        });
    }
    let repo = RepoName::parse(entry)?;
    Ok(Job {
        url: url_for(git_base, &repo),
        repo,
    })
}

/// The fetch URL of `repo` under `git_base`.
pub fn url_for(git_base: &str, repo: &RepoName) -> String {
    format!("{}/{}", git_base.trim_end_matches('/'), repo)
}

/// The jobs of a scan: the explicit list when there is one, else every governance repository
/// matching `pattern`. Duplicates are dropped; the order is by repository name.
pub fn jobs(
    gov: &Governance,
    explicit: &[String],
    repos_file: Option<&str>,
    pattern: &str,
    git_base: &str,
) -> Result<Vec<Job>> {
    let mut entries: Vec<(String, String)> = explicit
        .iter()
        .map(|e| (e.clone(), "--repo".to_string()))
        .collect();
    if let Some(f) = repos_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| InputError(format!("cannot read --repos-file {f}: {e}")))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                entries.push((line.to_string(), format!("{f}:{}", i + 1)));
            }
        }
        if entries.is_empty() {
            return Err(InputError(format!("--repos-file {f} lists no repositories")).into());
        }
    }
    let mut jobs = BTreeMap::new();
    if entries.is_empty() {
        let glob = Glob::new(pattern)
            .map_err(|e| InputError(format!("invalid --repo-pattern {pattern:?}: {e}")))?
            .compile_matcher();
        for repo in gov.repos().filter(|r| glob.is_match(r.as_str())) {
            jobs.insert(
                repo.clone(),
                Job {
                    repo: repo.clone(),
                    url: url_for(git_base, repo),
                },
            );
        }
        if jobs.is_empty() {
            return Err(InputError(format!(
                "--repo-pattern {pattern:?} matches none of the {} governance repositories",
                gov.len()
            ))
            .into());
        }
    }
    for (entry, origin) in entries {
        let job = parse_entry(&entry, git_base).with_context(|| format!("in {origin}"))?;
        if gov.owner(&job.repo).is_none() {
            tracing::warn!(repo = %job.repo, "not in the governance data: reported under Unknown Team");
        }
        jobs.insert(job.repo.clone(), job);
    }
    Ok(jobs.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let j = parse_entry("openstack/nova", "git://h:1/").unwrap();
        assert_eq!(j.url, "git://h:1/openstack/nova");
        let j = parse_entry("http://h/git/openstack/oslo.config.git", "x").unwrap();
        assert_eq!(j.repo.as_str(), "openstack/oslo.config");
        assert!(parse_entry("nova", "x").is_err());
        assert!(parse_entry("git://h/nova", "x").is_err());
    }
}
