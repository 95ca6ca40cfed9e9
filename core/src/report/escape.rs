//! Escaping for every context a value from a repository or from governance lands in, and the
//! plural helper. Repository content is hostile: a matched line, a file name, a branch or a
//! team name must come out of a Markdown renderer as the text it is, never as markup, raw HTML
//! or a link.
//!
//! Which function for which context:
//! - [`text`]: plain inline Markdown (headings, list items, prose);
//! - [`code`]: a code span, for paths, branches, commits and rule ids;
//! - [`cell`]: a table cell, applied to what [`text`] or [`code`] made;
//! - [`link_target`]: a link destination;
//! - [`fence`]: a fenced code block around lines kept exactly as they are.
//!
//! ```
//! use fleetscan_core::report::escape::{cell, code, plural, text};
//! assert_eq!(text("**kwargs <b>"), r"\*\*kwargs \<b\>");
//! assert_eq!(code("a`b"), "``a`b``");
//! assert_eq!(cell(&code("a|b")), r"`a\|b`");
//! assert_eq!(plural(1, "file"), "1 file");
//! assert_eq!(plural(2, "repository"), "2 repositories");
//! ```

/// What a line ending in a value shows as: code spans and inline text are one line, and a
/// line ending there would end a list item or a table row.
const NEWLINE: &str = "\u{2424}";

/// `n` and the noun, plural unless `n` is 1: `plural(1, "file")` is "1 file",
/// `plural(3, "repository")` is "3 repositories".
pub fn plural(n: usize, noun: &str) -> String {
    format!("{n} {}", noun_for(n, noun))
}

/// The noun alone, plural unless `n` is 1.
pub fn noun_for(n: usize, noun: &str) -> String {
    if n == 1 {
        return noun.to_string();
    }
    match noun.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{noun}s"),
    }
}

/// `s` as plain inline Markdown text: every character CommonMark could read as markup is
/// backslash-escaped (`\`, `` ` ``, `*`, `[`, `]`, `<`, `>`, `#`, `~`, `$`, `_` where it could open
/// or close emphasis, `&` where it could start an entity), and so is a first character that
/// could start a block (`-`, `+`, `=`, `1.`), since values also open list items. Line endings
/// show as ␤, and a space at either end as `&#32;`. Letters, digits, `.`, `-`, `/`, `_` inside words stay as they are, so names such
/// as `python-novaclient` or `oslo_config` read (and grep) the same.
pub fn text(s: &str) -> String {
    let chars: Vec<char> = one_line(s).chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric());
    for (i, &c) in chars.iter().enumerate() {
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '#' | '~' | '$' => true,
            '_' => !(i > 0 && word(chars.get(i - 1)) && word(chars.get(i + 1))),
            '&' => chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#'),
            '-' | '+' | '=' => i == 0,
            // `1.` or `1)` at the start is an ordered list marker.
            '.' | ')' => chars[..i].iter().all(char::is_ascii_digit) && i > 0,
            _ => false,
        };
        if c == ' ' && (i == 0 || i + 1 == chars.len()) {
            // Markdown drops white space at the ends of a line; an entity survives.
            out.push_str("&#32;");
            continue;
        }
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` as a code span: the delimiter is one backtick longer than the longest run inside, with
/// a padding space when the content starts or ends with a backtick or would lose a space, so
/// nothing inside can close it. Line endings show as ␤ (a span cannot hold one).
pub fn code(s: &str) -> String {
    let s = one_line(s);
    if s.is_empty() {
        return "` `".to_string();
    }
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    let pad = s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' ') && s.trim() != "");
    let p = if pad { " " } else { "" };
    format!("{ticks}{p}{s}{p}{ticks}")
}

/// Markdown made by [`text`] or [`code`] as a table cell: `|` would end the cell, even inside
/// a code span, so every one gets a backslash, which GFM removes before it reads the cell
/// (in a code span too). Outside tables `|` is plain text, so [`text`] leaves it.
pub fn cell(markdown: &str) -> String {
    one_line(markdown).replace('|', "\\|")
}

/// A URL or relative path as a link destination: what would end the destination or let it be
/// read as something else (space, parentheses, `<`, `>`, quotes, backslash, backtick, control
/// characters, non-ASCII) is percent-encoded; existing `%XX` escapes stay.
pub fn link_target(url: &str) -> String {
    crate::link::percent_encode(url, b"-._~/?#[]@!$&'*+,;=:%")
}

/// `lines`, each kept byte for byte, in a fenced code block whose fence is longer than any
/// backtick run in them, so no line can close it (CommonMark: a closing fence needs at least
/// as many backticks as the opening one). Ends with a newline.
pub fn fence(lines: &[String]) -> String {
    let longest = lines.iter().map(|l| longest_run(l, '`')).max().unwrap_or(0);
    let f = "`".repeat(longest.max(2) + 1);
    let mut out = format!("{f}\n");
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&f);
    out.push('\n');
    out
}

/// One line of Markdown written by a language model (which read repository content, so it
/// may repeat it): its emphasis, lists and code spans stay, but outside code spans `<`, `[`,
/// `]` and an entity-like `&` are escaped, so it can hold no raw HTML, link, image or entity.
pub fn model_line(line: &str) -> String {
    let b: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() + 8);
    let mut i = 0;
    let mut backslashes = 0;
    while i < b.len() {
        let c = b[i];
        if c == '`' && backslashes % 2 == 0 {
            let run = b[i..].iter().take_while(|&&x| x == '`').count();
            // The span ends at the next run of exactly the same length, if any.
            let mut j = i + run;
            let mut end = None;
            while j < b.len() {
                let r = b[j..].iter().take_while(|&&x| x == '`').count();
                if r == run {
                    end = Some(j + r);
                    break;
                }
                j += r.max(1);
            }
            let stop = end.unwrap_or(i + run);
            out.extend(&b[i..stop]);
            i = stop;
            backslashes = 0;
            continue;
        }
        let escape = match c {
            '<' | '[' | ']' => true,
            '&' => b
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#'),
            _ => false,
        };
        if escape && backslashes % 2 == 0 {
            out.push('\\');
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
        out.push(c);
        i += 1;
    }
    out
}

fn one_line(s: &str) -> String {
    s.replace("\r\n", NEWLINE).replace(['\n', '\r'], NEWLINE)
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(plural(0, "occurrence"), "0 occurrences");
        assert_eq!(plural(1, "occurrence"), "1 occurrence");
        assert_eq!(plural(1, "repository"), "1 repository");
        assert_eq!(plural(2, "day"), "2 days");
        assert_eq!(noun_for(5, "file"), "files");
    }

    #[test]
    fn text_escapes_markup_but_keeps_names_readable() {
        assert_eq!(text("python-novaclient"), "python-novaclient");
        assert_eq!(text("oslo_config"), "oslo_config");
        assert_eq!(text("_x_"), r"\_x\_");
        assert_eq!(text("I18n Team"), "I18n Team");
        assert_eq!(text("<!-- x"), r"\<!-- x");
        assert_eq!(text("a &amp; b & c"), r"a \&amp; b & c");
        assert_eq!(text("](javascript:alert(1))"), r"\](javascript:alert(1))");
        assert_eq!(text("- item"), r"\- item");
        assert_eq!(text("12. x"), r"12\. x");
        assert_eq!(text("v1.2"), "v1.2");
        assert_eq!(text("a\nb"), "a\u{2424}b");
        assert_eq!(text(r"C:\x"), r"C:\\x");
    }

    #[test]
    fn code_spans_cannot_be_closed_from_inside() {
        assert_eq!(code("a.py"), "`a.py`");
        assert_eq!(code("``x"), "``` ``x ```");
        assert_eq!(code(" a "), "`  a  `");
        assert_eq!(code("   "), "`   `");
        assert_eq!(code(""), "` `");
        assert_eq!(code("a\n<div>"), "`a\u{2424}<div>`");
    }

    #[test]
    fn cells_escape_every_pipe() {
        assert_eq!(cell("a|b"), r"a\|b");
        assert_eq!(cell(r"a\|b"), r"a\\|b");
    }

    #[test]
    fn link_targets_stay_inside_the_parentheses() {
        assert_eq!(link_target("teams/I18n Team.md"), "teams/I18n%20Team.md");
        assert_eq!(link_target("https://x/a).py#n1"), "https://x/a%29.py#n1");
        assert_eq!(link_target("a%20b<é>"), "a%20b%3C%C3%A9%3E");
    }

    /// Hostile values, each placed in every context, through a real CommonMark renderer with
    /// the GitHub extensions: no raw HTML, no link, and the value comes back as it was.
    #[test]
    fn a_renderer_reads_back_exactly_the_value() {
        use pulldown_cmark::{Event, Options, Parser, Tag};
        let hostile = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<!-- hide",
            "**kwargs",
            "__init__",
            "_a_ b",
            "x\n<div>y",
            "](javascript:alert(1))",
            "[a](javascript:alert(1))",
            "`` ` ```",
            "a | b || c \\| d",
            "&amp; &#60; &lt",
            "~~gone~~ ~x~",
            "$x$ $$y$$",
            "# h",
            "- item",
            "1. one",
            "> quote",
            "trailing\\",
            " spaced ",
            "http://example.org/ www.example.org",
        ];
        let opts = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_MATH
            | Options::ENABLE_GFM;
        let rendered = |md: &str| {
            let (mut text, mut links) = (String::new(), 0);
            for ev in Parser::new_ext(md, opts) {
                match ev {
                    Event::Text(t) | Event::Code(t) => text.push_str(&t),
                    Event::Start(Tag::Link { .. } | Tag::Image { .. }) => links += 1,
                    Event::Html(h) | Event::InlineHtml(h) => panic!("raw HTML {h:?} from {md:?}"),
                    Event::Start(Tag::Emphasis | Tag::Strong | Tag::Strikethrough) => {
                        panic!("markup from {md:?}")
                    }
                    Event::InlineMath(_) | Event::DisplayMath(_) => panic!("math from {md:?}"),
                    _ => {}
                }
            }
            (text, links)
        };
        for v in hostile {
            let shown = one_line(v);
            assert_eq!(
                rendered(&format!("- {}\n", text(v))),
                (shown.clone(), 0),
                "{v:?}"
            );
            assert_eq!(
                rendered(&format!("# Team: {}\n", text(v))).0,
                format!("Team: {shown}")
            );
            assert_eq!(
                rendered(&format!("x {} y\n", code(v))).0,
                format!("x {shown} y")
            );
            let table = format!(
                "| a | b |\n| --- | --- |\n| {} | {} |\n",
                cell(&text(v)),
                cell(&code(v))
            );
            assert_eq!(rendered(&table).0, format!("ab{shown}{shown}"), "{v:?}");
            let link = format!("[{}]({})\n", text(v), link_target(&format!("teams/{v}.md")));
            let (t, n) = rendered(&link);
            assert_eq!((t.as_str(), n), (shown.as_str(), 1), "{v:?}");
            let block = fence(&[format!("https://x/a#n1 : {v}"), v.to_string()]);
            let events: Vec<_> = Parser::new_ext(&block, opts).collect();
            assert!(matches!(events.last(), Some(Event::End(_))), "{v:?}");
            assert!(
                events
                    .iter()
                    .all(|e| !matches!(e, Event::Html(_) | Event::InlineHtml(_))),
                "{v:?}"
            );
        }
    }

    #[test]
    fn model_lines_keep_their_formatting_but_no_html_or_links() {
        use pulldown_cmark::{Event, Parser, Tag};
        for line in [
            "Use **threads** and `<queue>` here <script>alert(1)</script>",
            "[click](javascript:alert(1)) ![x](http://127.0.0.1/x.png) <http://127.0.0.1/>",
            "\\`<img src=x onerror=alert(1)>` and \\[x](javascript:y)",
            "&#60;script&#62; ``a ` <b>`` <!-- c",
        ] {
            let md = format!("> {}\n", model_line(line));
            for ev in Parser::new(&md) {
                assert!(
                    !matches!(
                        ev,
                        Event::Html(_)
                            | Event::InlineHtml(_)
                            | Event::Start(Tag::Link { .. } | Tag::Image { .. })
                    ),
                    "{line:?} gave {ev:?}"
                );
            }
        }
        assert_eq!(model_line("**bold** `<x>` <y>"), r"**bold** `<x>` \<y>");
    }

    #[test]
    fn fences_outlast_the_backticks_inside() {
        assert_eq!(fence(&["a".into()]), "```\na\n```\n");
        assert_eq!(fence(&["x ````` y".into()]), "``````\nx ````` y\n``````\n");
    }
}
