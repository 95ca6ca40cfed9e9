//! Which file paths a reply mentions, and which of them the project's occurrences verify.

use std::fmt::Write;
use std::sync::LazyLock;

use regex::Regex;

use super::UNVERIFIED;
use crate::link::LinkOptions;
use crate::result::RepoResult;

static LINE_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:#[Ln]?\d+(?:-[Ln]?\d+)?|:\d+(?:[-:]\d+)?)$").expect("valid regex")
});

/// File extensions that make a slash-less word a file name.
const EXTENSIONS: [&str; 24] = [
    "py", "pyi", "rst", "txt", "md", "cfg", "ini", "conf", "toml", "yaml", "yml", "json", "po",
    "pot", "sh", "j2", "html", "js", "sql", "xml", "c", "h", "go", "rs",
];

/// `text` with [`UNVERIFIED`] after each mention of a path that `result`'s occurrences do not
/// verify, and those mentions in order.
pub(super) fn flag(text: &str, links: &LinkOptions, result: &RepoResult) -> (String, Vec<String>) {
    let ground = Ground {
        paths: result.occurrences.iter().map(|o| o.path.as_str()).collect(),
        links,
        result,
    };
    ground.flag(text)
}

/// What a narrative is checked against: one project's occurrence paths and links.
struct Ground<'a> {
    paths: Vec<&'a str>,
    links: &'a LinkOptions,
    result: &'a RepoResult,
}

/// Characters that end a plain word; a path never holds them.
fn is_delim(c: char) -> bool {
    c.is_whitespace() || "`[](){}<>\"',;|*".contains(c)
}

/// Punctuation that may follow a mention without being part of it.
const TRAILING: &[char] = &['.', ':', '!', '?'];

impl Ground<'_> {
    /// `text` with [`UNVERIFIED`] after each unverified mention, and those mentions.
    fn flag(&self, text: &str) -> (String, Vec<String>) {
        let mut out = String::with_capacity(text.len());
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let (unit, bad, mark_after_label) = if let Some((len, label, url)) = md_link(rest) {
                let mut bad = self.words(label, label.contains('`'));
                bad.extend(self.check(url, true));
                (len, bad, Some(label))
            } else if let Some(len) = code_span(rest) {
                (len, self.words(&rest[1..len - 1], true), None)
            } else if is_delim(c) {
                (c.len_utf8(), Vec::new(), None)
            } else {
                let len = rest.find(is_delim).unwrap_or(rest.len());
                let word = rest[..len].trim_end_matches(TRAILING);
                (word.len().max(1), self.words(word, false), None)
            };
            match (bad.is_empty(), mark_after_label) {
                (true, _) => out.push_str(&rest[..unit]),
                // A link to a path that is not verified loses its target.
                (false, Some(label)) => {
                    let _ = write!(out, "{label} {UNVERIFIED}");
                }
                (false, None) => {
                    let _ = write!(out, "{} {UNVERIFIED}", &rest[..unit]);
                }
            }
            found.extend(bad);
            rest = &rest[unit..];
        }
        (out, found)
    }

    /// The unverified mentions among the words of `s`.
    fn words(&self, s: &str, in_code: bool) -> Vec<String> {
        s.split(is_delim)
            .map(|w| w.trim_end_matches(TRAILING))
            .filter_map(|w| self.check(w, in_code))
            .collect()
    }

    /// Some(mention) when `word` names a file this project's occurrences do not verify.
    fn check(&self, word: &str, in_code: bool) -> Option<String> {
        if word.starts_with("http://") || word.starts_with("https://") {
            let url = word.split('#').next().unwrap_or(word);
            return match self.links.path_of(self.result, word) {
                Some(p) if self.known(&p) => None,
                Some(_) => Some(url.to_string()),
                None => {
                    let base = self.links.base.trim_end_matches('/');
                    (word.starts_with(base) && word.contains("/src/")).then(|| url.to_string())
                }
            };
        }
        let path = LINE_SUFFIX.replace(word, "");
        let path = path.trim_start_matches("./");
        (is_path(path, in_code) && !self.known(path)).then(|| path.to_string())
    }

    /// An occurrence path, a trailing part of one, or a directory holding one.
    fn known(&self, path: &str) -> bool {
        let p = format!("/{}/", path.trim_matches('/'));
        p != "//" && self.paths.iter().any(|o| format!("/{o}/").contains(&p))
    }
}

/// Whether a word (line suffix removed) reads as a file path.
fn is_path(w: &str, in_code: bool) -> bool {
    let chars_ok = w
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./-+@~".contains(c));
    if !chars_ok || !w.chars().any(|c| c.is_ascii_alphabetic()) || w.contains("//") {
        return false;
    }
    if w.contains('/') {
        let parts: Vec<&str> = w.split('/').collect();
        let letters = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic());
        let ident = |s: &&str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let prose = parts.iter().all(letters) || (parts.len() == 2 && parts.iter().all(ident));
        return in_code || !prose;
    }
    w.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
}

/// A Markdown link at the start of `s`: (its length, label, target).
fn md_link(s: &str) -> Option<(usize, &str, &str)> {
    let close = s.strip_prefix('[')?.find([']', '[', '\n'])? + 1;
    if !s[close..].starts_with("](") {
        return None;
    }
    let start = close + 2;
    let end = start + s[start..].find([')', '\n', ' '])?;
    s[end..]
        .starts_with(')')
        .then(|| (end + 1, &s[1..close], &s[start..end]))
}

/// The length of a one-backtick code span at the start of `s`.
fn code_span(s: &str) -> Option<usize> {
    let inner = s.strip_prefix('`')?;
    if inner.starts_with('`') {
        return None;
    }
    let end = inner.find(['`', '\n'])?;
    inner[end..].starts_with('`').then_some(end + 2)
}

#[cfg(test)]
mod tests {
    use super::super::tests::flagged;
    use super::*;

    #[test]
    fn real_paths_pass_in_every_form() {
        for reply in [
            "See `storage/__init__.py#L3`.",
            "See storage/__init__.py:3, then setup.cfg.",
            "See [`storage/backup/manager.py#L1`](https://opendev.org/openstack/storage/src/branch/master/storage/backup/manager.py#n1).",
            "See https://opendev.org/openstack/storage/src/commit/abc123/setup.cfg#n6!",
            "The manager.py module and backup/manager.py:1-2 and the storage/backup/ package.",
            "Tests in ./storage/tests/unit/test_manager.py (mocked).",
            "Threads and/or greenlets, spawn/spawn_n; verdict Yes/No/Maybe; see https://docs.python.org/3/library/threading.html.",
        ] {
            let n = flagged(reply);
            assert!(n.unverified.is_empty(), "{reply}: {:?}", n.unverified);
            assert_eq!(n.text, reply);
        }
    }

    #[test]
    fn invented_paths_are_marked_and_listed_once() {
        let n = flagged("Start with `storage/volume/driver.py#L12`, then libvirt_driver.py: and storage/volume/driver.py again.");
        assert_eq!(
            n.unverified,
            ["storage/volume/driver.py", "libvirt_driver.py"]
        );
        assert_eq!(
            n.text,
            format!("Start with `storage/volume/driver.py#L12` {UNVERIFIED}, then libvirt_driver.py {UNVERIFIED}: and storage/volume/driver.py {UNVERIFIED} again.")
        );
    }

    #[test]
    fn links_to_unverified_paths_lose_their_target() {
        let n = flagged("See [`nova/virt/driver.py#L3`](https://opendev.org/openstack/storage/src/branch/master/nova/virt/driver.py#n3) and [here](https://opendev.org/openstack/nova/src/branch/master/nova/a.py).");
        assert_eq!(
            n.text,
            format!("See `nova/virt/driver.py#L3` {UNVERIFIED} and here {UNVERIFIED}.")
        );
        assert_eq!(
            n.unverified,
            [
                "nova/virt/driver.py",
                "https://opendev.org/openstack/storage/src/branch/master/nova/virt/driver.py",
                "https://opendev.org/openstack/nova/src/branch/master/nova/a.py"
            ]
        );
        // Under another link base or not a file: not a claim about this project.
        let n =
            flagged("[repo](https://opendev.org/openstack/nova) and https://example.org/src/x.py");
        assert!(n.unverified.is_empty(), "{:?}", n.unverified);
        // Word pairs inside code are paths, and so are longer ones outside it.
        assert_eq!(flagged("`threads/pool`").unverified, ["threads/pool"]);
        assert_eq!(
            flagged("in nova/virt_x/hub.").unverified,
            ["nova/virt_x/hub"]
        );
    }
}
