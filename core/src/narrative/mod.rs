//! The optional narrative: a paragraph a language model writes from a project's grounded
//! findings. This is the pure half: the prompt the model is given and the checks on what it
//! answers. Asking the model is the caller's business (the CLI does it over HTTP).
//!
//! The narrative never replaces or alters the analysis. Team files show it after the grounded
//! analysis, under a heading naming the model, and every file path it mentions that is not
//! among the project's occurrence paths is marked [`UNVERIFIED`] and listed, because models
//! invent files: that is what the grounded analysis exists to fix.
//!
//! A mention counts as a path when it contains `/` or ends in a common file extension
//! (`.py`, `.rst`, `.yaml`, ...), whether written bare, in backticks, as `path#L12`,
//! `path:12` or as a Markdown link, trailing punctuation ignored. Outside backticks, words
//! joined by slashes are prose, not paths, when every part is letters only (`and/or`,
//! `Yes/No/Maybe`) or when there are two parts without a dot (`spawn/spawn_n`). A path is
//! verified when it is an occurrence path, a trailing part of one (`manager.py`,
//! `backup/manager.py`) or a directory holding one (`storage/backup/`). A URL under the link
//! base that points at a file (`/src/`) must point into this project at a verified path;
//! other URLs are left alone.
//!
//! ```
//! use fleetscan_core::narrative::Template;
//! let t = Template::parse("my-prompt.txt", "Explain {findings} for {project}.").unwrap();
//! assert!(Template::parse("bad.txt", "{nonsense}").is_err());
//! # let _ = t;
//! ```

mod paths;
mod prompt;

pub use prompt::{Template, DEFAULT_PROMPT, PLACEHOLDERS};

use crate::link::LinkOptions;
use crate::result::RepoResult;

/// What follows a mention of a path that is not among the project's occurrences.
pub const UNVERIFIED: &str = "**(unverified path)**";

/// Replies are cut at this many bytes (at a word): a narrative is a paragraph.
const MAX_REPLY: usize = 4000;

/// A model's paragraph about one project, checked against its occurrences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrative {
    /// The model that wrote it, named in the report.
    pub model: String,
    /// The reply, tidied, with [`UNVERIFIED`] after every unverified path.
    pub text: String,
    /// The unverified paths (and URLs), in order of first mention, each once.
    pub unverified: Vec<String>,
}

impl Narrative {
    /// Checks `reply`, the text `model` gave for the project scanned as `result`: drops
    /// `<think>` reasoning blocks, trims, cuts an over-long reply at a word, and marks every
    /// path that is not among `result`'s occurrences. None when nothing is left.
    pub fn from_reply(
        model: &str,
        reply: &str,
        links: &LinkOptions,
        result: &RepoResult,
    ) -> Option<Narrative> {
        let text = tidy(reply);
        if text.is_empty() {
            return None;
        }
        let (text, mut unverified) = paths::flag(&text, links, result);
        let mut seen = Vec::new();
        unverified.retain(|u| {
            let new = !seen.contains(u);
            seen.push(u.clone());
            new
        });
        Some(Narrative {
            model: model.to_string(),
            text,
            unverified,
        })
    }
}

/// Reasoning blocks out, line ends normalised, at most one blank line in a row, cut at
/// [`MAX_REPLY`].
fn tidy(reply: &str) -> String {
    let mut s = reply.replace("\r\n", "\n");
    while let Some(start) = s.find("<think>") {
        let end = s[start..]
            .find("</think>")
            .map_or(s.len(), |e| start + e + "</think>".len());
        s.replace_range(start..end, "");
    }
    let mut out = String::new();
    for line in s.trim().lines().map(str::trim_end) {
        if !(line.is_empty() && (out.ends_with("\n\n") || out.is_empty())) {
            out.push_str(line);
            out.push('\n');
        }
    }
    let mut out = out.trim_end().to_string();
    if out.len() > MAX_REPLY {
        let mut cut = MAX_REPLY;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = out[..cut].rfind(char::is_whitespace).unwrap_or(cut);
        out.truncate(cut);
        out.push_str(" …");
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ids::RepoName;
    use crate::result::{Occurrence, RepoStatus};

    pub(crate) fn result() -> RepoResult {
        let mut r = RepoResult::new(RepoName::parse("openstack/storage").unwrap(), String::new());
        r.status = RepoStatus::Scanned;
        r.branch = Some("master".into());
        r.commit = Some("abc123".into());
        let occ = |path: &str, line, text: &str| Occurrence {
            path: path.into(),
            line,
            text: text.into(),
        };
        r.occurrences = vec![
            occ("setup.cfg", 6, "eventlet>=0.30.1"),
            occ("storage/__init__.py", 3, "eventlet.monkey_patch()  # noqa"),
            occ(
                "storage/backup/manager.py",
                1,
                "from eventlet import greenthread",
            ),
            occ(
                "storage/tests/unit/test_manager.py",
                6,
                "self.useFixture(fixtures.MockPatch('eventlet.greenthread.sleep'))",
            ),
        ];
        let site = crate::code::facts::Line {
            path: "storage/__init__.py".into(),
            line: 3,
            text: "eventlet.monkey_patch()  # noqa".into(),
        };
        r.code.patches.push(crate::code::facts::Patch {
            site: site.clone(),
            function: None,
            guarded: false,
            script: false,
            switches: vec![],
            guards: vec![],
            callers: vec![],
            unguarded_path: vec![site],
        });
        r
    }

    pub(crate) fn flagged(reply: &str) -> Narrative {
        Narrative::from_reply("m", reply, &LinkOptions::default(), &result()).unwrap()
    }

    #[test]
    fn replies_are_tidied() {
        let n = flagged("<think>maybe nova/x.py</think>\r\n\r\n  First.\n\n\n\nSecond.  \n");
        assert_eq!(n.text, "First.\n\nSecond.");
        assert!(n.unverified.is_empty());
        assert!(Narrative::from_reply(
            "m",
            " <think>never closed",
            &LinkOptions::default(),
            &result()
        )
        .is_none());
        let long = "word ".repeat(2000);
        let n = flagged(&long);
        assert!(n.text.len() <= MAX_REPLY + 4 && n.text.ends_with("word …"));
        // Unclosed backticks and brackets are plain text.
        assert_eq!(flagged("a ` b [c] (d").text, "a ` b [c] (d");
    }
}
