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
            encoded_path(repo, occ),
            occ.line
        )
    }

    /// The path in `repo` that `url` points at, when it is a link as [`LinkOptions::url`]
    /// writes them (to the scanned branch or commit, any `#` fragment or `?` query ignored);
    /// None for any other URL.
    pub fn path_of(&self, repo: &RepoResult, url: &str) -> Option<String> {
        let url = url.split(['#', '?']).next().unwrap_or_default();
        let rest = url
            .strip_prefix(self.base.trim_end_matches('/'))?
            .strip_prefix('/')?
            .strip_prefix(repo.repo.as_str())?
            .strip_prefix("/src/")?;
        let refs = [("branch/", &repo.branch), ("commit/", &repo.commit)];
        refs.iter().find_map(|(kind, at)| {
            let at = encode(at.as_deref()?);
            let path = rest
                .strip_prefix(kind)?
                .strip_prefix(&at)?
                .strip_prefix('/')?;
            Some(decode(path)).filter(|p| !p.is_empty())
        })
    }

    /// The browsable root of `repo` at its scanned commit, ending in `/`, which paths in the
    /// repository (percent-encoded) resolve against; None when no commit was scanned.
    pub fn commit_root(&self, repo: &RepoResult) -> Option<String> {
        let commit = repo.commit.as_deref()?;
        Some(format!(
            "{}/{}/src/commit/{}/",
            self.base.trim_end_matches('/'),
            repo.repo,
            encode(commit)
        ))
    }

    /// The whole beagle line: `<link> : <text>`.
    pub fn line(&self, repo: &RepoResult, occ: &Occurrence) -> String {
        format!("{} : {}", self.url(repo, occ), occ.text)
    }
}

/// The path of `occ` percent-encoded for a URL, from its real bytes when the name is not
/// UTF-8.
pub(crate) fn encoded_path(repo: &RepoResult, occ: &Occurrence) -> String {
    match repo.stats.raw_paths.get(&occ.path) {
        Some(raw) => encode_bytes(raw),
        None => encode(&occ.path),
    }
}

/// Percent-encodes what would break a URL path; `/` and the usual path characters stay.
pub(crate) fn encode(s: &str) -> String {
    encode_bytes(s.as_bytes())
}

/// [`encode`] for a path that may not be UTF-8: its bytes as they are in the repository.
fn encode_bytes(s: &[u8]) -> String {
    percent_encode_bytes(s, b"-._~/!$&'()*+,;=:@")
}

/// Percent-encodes every byte of `s` but ASCII letters, digits and `keep`.
pub(crate) fn percent_encode(s: &str, keep: &[u8]) -> String {
    percent_encode_bytes(s.as_bytes(), keep)
}

fn percent_encode_bytes(s: &[u8], keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes [`encode`] (and any other `%XX`); invalid escapes stay as they are.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

    #[test]
    fn path_of_reads_back_the_links_it_writes() {
        let o = Occurrence {
            path: "nova/a b#.py".into(),
            line: 7,
            text: String::new(),
        };
        for reference in [LinkRef::Branch, LinkRef::Commit] {
            let l = LinkOptions {
                base: "https://opendev.org/".into(),
                reference,
            };
            let url = l.url(&repo(), &o);
            assert_eq!(l.path_of(&repo(), &url).as_deref(), Some("nova/a b#.py"));
        }
        let l = LinkOptions::default();
        let p = |u: &str| l.path_of(&repo(), u);
        assert_eq!(
            p("https://opendev.org/openstack/nova/src/branch/main/nova/x.py?display=source")
                .as_deref(),
            Some("nova/x.py")
        );
        assert_eq!(p("https://opendev.org/openstack/nova"), None);
        assert_eq!(
            p("https://opendev.org/openstack/nova-specs/src/branch/main/a.rst"),
            None
        );
        assert_eq!(
            p("https://opendev.org/openstack/nova/src/branch/stable/a.py"),
            None
        );
        assert_eq!(
            p("https://github.com/openstack/nova/blob/main/nova/x.py"),
            None
        );
        assert_eq!(decode("a%2"), "a%2");
    }
}
