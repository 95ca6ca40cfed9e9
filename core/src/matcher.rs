//! The line matcher: finds the lines of a buffer that match any of the patterns.
//!
//! Semantics follow beagle/hound so results compare line for line with today's reports:
//! a line that matches once or several times is one occurrence; line numbers are 1-based; the
//! text is the line decoded as lossy UTF-8 with surrounding white space stripped; with
//! `ignore_comments`, a line whose text starts with the comment marker is dropped.
//!
//! Speed comes from searching the whole buffer at once (the regex engine's literal prefilters
//! skip most bytes) and only then looking at the line around each candidate, as ripgrep does.
//! A candidate is confirmed against its line alone, so a pattern such as `a\sb` never matches
//! across a line break.

use std::ops::ControlFlow;

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::Error;

/// What to look for and how. Built with [`MatchOptions::new`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchOptions {
    /// Regular expressions (Rust `regex` syntax); a line matching any of them is a hit.
    pub patterns: Vec<String>,
    /// Match case-insensitively. Default: false.
    pub ignore_case: bool,
    /// Drop hits whose stripped line starts with `comment_marker`. Default: false.
    pub ignore_comments: bool,
    /// The comment marker for `ignore_comments`. Default: `#`.
    pub comment_marker: String,
}

impl MatchOptions {
    /// Options for `patterns`, case-sensitive, keeping comments.
    pub fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> MatchOptions {
        MatchOptions {
            patterns: patterns.into_iter().map(Into::into).collect(),
            ignore_case: false,
            ignore_comments: false,
            comment_marker: crate::plan::DEFAULT_COMMENT_MARKER.to_string(),
        }
    }

    /// Sets case-insensitive matching (default off).
    pub fn with_ignore_case(mut self, yes: bool) -> Self {
        self.ignore_case = yes;
        self
    }

    /// Sets beagle's comment rule (default off) and its marker (default `#`).
    pub fn with_ignore_comments(mut self, yes: bool, marker: &str) -> Self {
        self.ignore_comments = yes;
        self.comment_marker = marker.to_string();
        self
    }
}

/// A compiled [`MatchOptions`].
#[derive(Debug, Clone)]
pub struct Matcher {
    re: Regex,
    ignore_comments: bool,
    marker: Vec<u8>,
}

impl Matcher {
    /// Compiles the options. Each pattern is checked alone first so an error names it.
    pub fn new(opts: &MatchOptions) -> Result<Matcher, Error> {
        if opts.patterns.is_empty() {
            return Err(Error::NoPattern);
        }
        if opts.ignore_comments && opts.comment_marker.is_empty() {
            return Err(Error::EmptyCommentMarker);
        }
        let build = |p: &str| {
            RegexBuilder::new(p)
                .case_insensitive(opts.ignore_case)
                .multi_line(true)
                .crlf(true)
                .size_limit(64 << 20)
                .build()
        };
        for p in &opts.patterns {
            build(p).map_err(|e| Error::BadRegex {
                what: "--pattern".into(),
                pattern: p.clone(),
                why: crate::error::regex_reason(&e),
            })?;
        }
        let joined = opts
            .patterns
            .iter()
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|");
        let re = build(&joined).map_err(|e| Error::BadRegex {
            what: "--pattern".into(),
            pattern: joined.clone(),
            why: crate::error::regex_reason(&e),
        })?;
        Ok(Matcher {
            re,
            ignore_comments: opts.ignore_comments,
            marker: opts.comment_marker.as_bytes().to_vec(),
        })
    }

    /// Calls `sink(line_number, raw_line)` for every matching line of `buf`, in order.
    /// `raw_line` excludes the line terminator. The sink may stop the scan with `Break`.
    pub fn scan<B>(
        &self,
        buf: &[u8],
        mut sink: impl FnMut(u32, &[u8]) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let mut pos = 0; // where the next search starts; always a line start
        let mut counted = 0; // bytes whose newlines are already counted
        let mut line_no: u32 = 1;
        while pos < buf.len() {
            let Some(m) = self.re.find_at(buf, pos) else {
                break;
            };
            let start = memchr::memrchr(b'\n', &buf[pos..m.start()]).map_or(pos, |i| pos + i + 1);
            let end = memchr::memchr(b'\n', &buf[m.start()..]).map_or(buf.len(), |i| m.start() + i);
            line_no += memchr::memchr_iter(b'\n', &buf[counted..start]).count() as u32;
            counted = start;
            let mut line = &buf[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let confirmed = m.end() <= end || self.re.is_match(line);
            if confirmed && !(self.ignore_comments && self.is_comment(line)) {
                sink(line_no, line)?;
            }
            pos = end + 1;
        }
        ControlFlow::Continue(())
    }

    /// Whether `text` holds a match: applied by code analysis to names and string contents.
    pub fn is_match(&self, text: &str) -> bool {
        self.re.is_match(text.as_bytes())
    }

    /// Convenience for tests and small inputs: every matching line as `(line, text)`.
    pub fn lines(&self, buf: &[u8]) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        let _ = self.scan::<()>(buf, |n, l| {
            out.push((n, line_text(l)));
            ControlFlow::Continue(())
        });
        out
    }

    fn is_comment(&self, line: &[u8]) -> bool {
        let first = line.iter().position(|b| !b.is_ascii_whitespace());
        first.is_some_and(|i| line[i..].starts_with(&self.marker))
    }
}

/// A raw line as reports print it: lossy UTF-8, surrounding white space stripped.
pub fn line_text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).trim().to_string()
}

/// `text` cut to at most `max` bytes (at a character boundary) with a marker saying how much
/// was left out, so one minified or generated line cannot fill the reports.
pub fn cut_line(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = text.len() - end;
    text.truncate(end);
    text.push_str(&format!(" [… line cut: {dropped} more bytes]"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_with_a_marker() {
        assert_eq!(cut_line("short".into(), 10), "short");
        assert_eq!(
            cut_line("abcdef".into(), 3),
            "abc [… line cut: 3 more bytes]"
        );
        // Never inside a character: "é" is two bytes.
        assert_eq!(cut_line("aéb".into(), 2), "a [… line cut: 3 more bytes]");
    }

    fn m(p: &[&str]) -> Matcher {
        Matcher::new(&MatchOptions::new(p.iter().copied())).unwrap()
    }

    #[test]
    fn one_occurrence_per_line_and_one_based_numbers() {
        let got = m(&["eventlet"]).lines(b"x\nimport eventlet; eventlet.sleep()\n\n  eventlet  \n");
        assert_eq!(
            got,
            vec![
                (2, "import eventlet; eventlet.sleep()".into()),
                (4, "eventlet".into())
            ]
        );
    }

    #[test]
    fn no_trailing_newline_and_crlf() {
        assert_eq!(
            m(&["b"]).lines(b"a\r\nb\r\nab"),
            vec![(2, "b".into()), (3, "ab".into())]
        );
    }

    #[test]
    fn match_never_spans_lines() {
        assert_eq!(m(&[r"a\sb"]).lines(b"a\nb\na b\n"), vec![(3, "a b".into())]);
        assert_eq!(m(&[r"^b"]).lines(b"ab\nb\n"), vec![(2, "b".into())]);
    }

    #[test]
    fn comments_follow_beagles_rule() {
        let mut o = MatchOptions::new(["eventlet"]).with_ignore_comments(true, "#");
        let mt = Matcher::new(&o).unwrap();
        let got =
            mt.lines(b"# eventlet\n  #eventlet\nimport eventlet  # noqa\n\"\"\"eventlet\"\"\"\n");
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![3, 4]);
        o.comment_marker = "//".into();
        assert_eq!(
            Matcher::new(&o)
                .unwrap()
                .lines(b"// eventlet\n# eventlet\n")
                .len(),
            1
        );
    }

    #[test]
    fn a_dropped_comment_does_not_hide_later_lines() {
        let o = MatchOptions::new(["e"]).with_ignore_comments(true, "#");
        assert_eq!(
            Matcher::new(&o).unwrap().lines(b"# e\ne\n"),
            vec![(2, "e".into())]
        );
    }

    #[test]
    fn case_and_several_patterns() {
        let o = MatchOptions::new(["Eventlet", "greenlet"]).with_ignore_case(true);
        let got = Matcher::new(&o)
            .unwrap()
            .lines(b"EVENTLET\nGreenlet\nnone\n");
        assert_eq!(got.len(), 2);
        assert_eq!(m(&["Eventlet"]).lines(b"eventlet\n").len(), 0);
    }

    #[test]
    fn non_utf8_is_lossy_not_dropped() {
        let got = m(&["caf"]).lines(b"caf\xe9 \xc3\xa9ventlet\n");
        assert_eq!(got[0].1, "caf\u{fffd} \u{e9}ventlet");
    }

    #[test]
    fn bad_regex_names_the_pattern() {
        let err = Matcher::new(&MatchOptions::new(["a(b"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a(b"), "{err}");
        assert!(Matcher::new(&MatchOptions::new(Vec::<String>::new())).is_err());
    }
}
