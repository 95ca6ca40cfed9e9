//! Links to occurrences, in beagle's `link` format:
//! `<base><org>/<repo>/src/branch/<branch>/<path>#n<line> : <text>`.

use serde::{Deserialize, Serialize};

use crate::result::{Occurrence, RepoResult};

/// What a link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkRef {
    /// The branch, as beagle does: the link follows the branch as it moves.
    #[default]
    Branch,
    /// The scanned commit: the link always shows the line that was found.
    Commit,
}

/// How links are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOptions {
    /// Base URL of the code browser, ending in `/`. Default `https://opendev.org/`.
    pub base: String,
    /// Branch or commit links. Default branch.
    pub reference: LinkRef,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            base: "https://opendev.org/".into(),
            reference: LinkRef::Branch,
        }
    }
}

impl LinkOptions {
    /// The link to `occ` in `repo`, without the ` : text` part.
    pub fn url(&self, repo: &RepoResult, occ: &Occurrence) -> String {
        let (kind, at) = match (self.reference, &repo.commit) {
            (LinkRef::Commit, Some(c)) => ("commit", c.as_str()),
            _ => ("branch", repo.branch.as_deref().unwrap_or("master")),
        };
        let base = self.base.trim_end_matches('/');
        format!(
            "{base}/{}/src/{kind}/{}/{}#n{}",
            repo.repo,
            encode(at),
            encode(&occ.path),
            occ.line
        )
    }

    /// The whole beagle line: `<link> : <text>`.
    pub fn line(&self, repo: &RepoResult, occ: &Occurrence) -> String {
        format!("{} : {}", self.url(repo, occ), occ.text)
    }
}

/// Percent-encodes what would break a URL path; `/` and the usual path characters stay.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RepoName;

    fn repo() -> RepoResult {
        let mut r = RepoResult::new(RepoName::parse("openstack/nova").unwrap(), String::new());
        r.branch = Some("main".into());
        r.commit = Some("abc".into());
        r
    }

    #[test]
    fn beagle_link_line() {
        let o = Occurrence {
            path: "nova/a b#.py".into(),
            line: 7,
            text: "import eventlet".into(),
        };
        let l = LinkOptions::default();
        assert_eq!(
            l.line(&repo(), &o),
            "https://opendev.org/openstack/nova/src/branch/main/nova/a%20b%23.py#n7 : import eventlet"
        );
        let c = LinkOptions {
            base: "http://x/".into(),
            reference: LinkRef::Commit,
        };
        assert_eq!(
            c.url(&repo(), &o),
            "http://x/openstack/nova/src/commit/abc/nova/a%20b%23.py#n7"
        );
    }
}
