//! Which repositories a scan covers and where each is fetched from. The embedded scan and the
//! coordinator both call [`targets`], so both modes scan the same list.

use std::collections::BTreeMap;

use globset::Glob;

use crate::governance::Governance;
use crate::ids::RepoName;
use crate::Error;

/// One repository to scan and its fetch URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The repository.
    pub repo: RepoName,
    /// Where to fetch it from.
    pub url: String,
}

/// One explicitly listed repository and where it was listed, for error messages.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `ORG/NAME`, or a URL ending in `/ORG/NAME[.git]`.
    pub text: String,
    /// Where it came from, e.g. `--repo` or `repos.txt:3`.
    pub origin: String,
}

/// `url` with the password of its user information, if any, replaced by `***`, for every
/// place a URL is shown or stored: reports, errors, logs, cache names.
pub fn redact_url(url: &str) -> String {
    match url_password(url) {
        Some(p) => url.replacen(&format!(":{p}@"), ":***@", 1),
        None => url.to_string(),
    }
}

/// The password in `url`'s user information (`scheme://user:password@host/...`), if any.
pub fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// The fetch URL of `repo` under `git_base`.
pub fn url_for(git_base: &str, repo: &RepoName) -> String {
    format!("{}/{}", git_base.trim_end_matches('/'), repo)
}

/// Reads one entry: `ORG/NAME`, or a URL ending in `/ORG/NAME[.git]`, which overrides
/// `git_base` for that repository.
pub fn parse_entry(entry: &str, git_base: &str) -> Result<Target, Error> {
    let entry = entry.trim();
    let bad = |why: String| Error::BadRepoName {
        name: entry.to_string(),
        why,
    };
    if let Some((_, path)) = entry.split_once("://") {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        if parts.len() < 3 {
            return Err(bad("a repository URL must end in /ORG/NAME".into()));
        }
        let name = format!(
            "{}/{}",
            parts[parts.len() - 2],
            parts[parts.len() - 1].trim_end_matches(".git")
        );
        let repo = RepoName::parse(&name).map_err(|e| bad(e.to_string()))?;
        return Ok(Target {
            repo,
            url: entry.to_string(),
        });
    }
    // `org/name.git` is the same repository as `org/name`, as in a URL.
    let repo = RepoName::parse(entry.strip_suffix(".git").unwrap_or(entry))?;
    Ok(Target {
        url: url_for(git_base, &repo),
        repo,
    })
}

/// The repositories of a scan: the explicit entries when there are any, else every
/// governance repository matching the glob `pattern`. Duplicates are dropped; the order is by
/// repository name.
pub fn targets(
    gov: &Governance,
    entries: &[Entry],
    pattern: &str,
    git_base: &str,
) -> Result<Vec<Target>, Error> {
    let mut out = BTreeMap::new();
    if entries.is_empty() {
        let glob = Glob::new(pattern)
            .map_err(|e| Error::Selection(format!("invalid --repo-pattern {pattern:?}: {e}")))?
            .compile_matcher();
        for repo in gov.repos().filter(|r| glob.is_match(r.as_str())) {
            let url = url_for(git_base, repo);
            out.insert(
                repo.clone(),
                Target {
                    repo: repo.clone(),
                    url,
                },
            );
        }
        if out.is_empty() {
            return Err(Error::Selection(format!(
                "--repo-pattern {pattern:?} matches none of the {} governance repositories",
                gov.len()
            )));
        }
    }
    for e in entries {
        let t = parse_entry(&e.text, git_base)
            .map_err(|err| Error::Selection(format!("in {}: {err}", e.origin)))?;
        out.insert(t.repo.clone(), t);
    }
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Entry {
        Entry {
            text: text.into(),
            origin: "--repo".into(),
        }
    }

    #[test]
    fn passwords_are_redacted() {
        let url = "https://bot:s3cr:et@h:8443/openstack/nova";
        assert_eq!(url_password(url), Some("s3cr:et"));
        assert_eq!(redact_url(url), "https://bot:***@h:8443/openstack/nova");
        assert_eq!(redact_url("git://h/a@b/c"), "git://h/a@b/c");
        assert_eq!(redact_url("https://user@h/o/n"), "https://user@h/o/n");
        assert_eq!(url_password("openstack/nova"), None);
    }

    #[test]
    fn entries() {
        let t = parse_entry("openstack/nova", "git://h:1/").unwrap();
        assert_eq!(t.url, "git://h:1/openstack/nova");
        let t = parse_entry("http://h/git/openstack/oslo.config.git", "x").unwrap();
        assert_eq!(t.repo.as_str(), "openstack/oslo.config");
        assert!(parse_entry("nova", "x").is_err());
        assert!(parse_entry("git://h/nova", "x").is_err());
    }

    #[test]
    fn explicit_list_wins_and_is_deduplicated() {
        let gov = Governance::builtin().unwrap();
        let list = [
            entry("openstack/b"),
            entry("openstack/a"),
            entry("openstack/b"),
        ];
        let t = targets(&gov, &list, "openstack/*", "git://h").unwrap();
        let names: Vec<_> = t.iter().map(|t| t.repo.as_str()).collect();
        assert_eq!(names, ["openstack/a", "openstack/b"]);
        // `.git` or not, one repository.
        let list = [entry("openstack/nova.git"), entry("openstack/nova")];
        let t = targets(&gov, &list, "openstack/*", "git://h").unwrap();
        assert_eq!(t, [parse_entry("openstack/nova", "git://h").unwrap()]);
        let err = targets(&gov, &[entry("nova")], "", "git://h").unwrap_err();
        assert!(err.to_string().starts_with("in --repo: "), "{err}");
    }

    #[test]
    fn pattern_selects_from_governance() {
        let gov = Governance::builtin().unwrap();
        let t = targets(&gov, &[], "openstack/nova", "git://h/").unwrap();
        assert_eq!(t, [parse_entry("openstack/nova", "git://h").unwrap()]);
        assert!(targets(&gov, &[], "nothing/*", "x").is_err());
        assert!(targets(&gov, &[], "[", "x").is_err());
    }
}
