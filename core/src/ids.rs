//! Newtypes for the names that flow through a scan, so a team cannot be passed where a repo is
//! expected.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A repository name as governance spells it: `org/name`, e.g. `openstack/nova`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoName(String);

impl RepoName {
    /// Parses `org/name`. Both parts must be non-empty, made of ASCII letters, digits, `.`, `_`
    /// and `-`, and neither may be `.` or `..`, so a name can never escape a cache directory.
    pub fn parse(s: &str) -> Result<RepoName, Error> {
        let bad = |why: &str| Error::BadRepoName {
            name: s.to_string(),
            why: why.to_string(),
        };
        let (org, name) = s
            .split_once('/')
            .ok_or_else(|| bad("expected ORG/NAME, e.g. openstack/nova"))?;
        for part in [org, name] {
            if part.is_empty() || part == "." || part == ".." {
                return Err(bad("expected ORG/NAME, e.g. openstack/nova"));
            }
            if let Some(c) = part
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(bad(&format!("character {c:?} is not allowed")));
            }
        }
        Ok(RepoName(s.to_string()))
    }

    /// The whole `org/name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the slash, which reports use as the project name.
    pub fn short(&self) -> &str {
        self.0.split_once('/').map(|(_, n)| n).unwrap_or(&self.0)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RepoName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        RepoName::parse(&s)
    }
}

impl From<RepoName> for String {
    fn from(r: RepoName) -> String {
        r.0
    }
}

/// A governance team or SIG name, or [`TeamName::unknown`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TeamName(pub String);

impl TeamName {
    /// The team of every repository that governance does not list.
    pub fn unknown() -> TeamName {
        TeamName("Unknown Team".to_string())
    }
}

impl fmt::Display for TeamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        assert_eq!(RepoName::parse("openstack/nova").unwrap().short(), "nova");
        assert!(RepoName::parse("openstack/oslo.config").is_ok());
        for bad in [
            "nova",
            "/nova",
            "openstack/",
            "a/b/c",
            "../x",
            "openstack/..",
            "a/b c",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
    }
}
