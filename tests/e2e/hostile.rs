//! Hostile repository content and governance names, scanned end to end and every report read
//! back by a real CommonMark renderer (pulldown-cmark, GitHub extensions on): no raw HTML and
//! no `javascript:` link come out of repository content, the hostile text is still there (as
//! text), the CSV runs no formula, and every team gets its own safe file.

use std::collections::BTreeSet;
use std::path::Path;

use fleetscan_tests::{hostile, read, summary_repo, Sandbox};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

/// What a renderer made of one Markdown file.
#[derive(Default)]
struct Rendered {
    /// All text, code and code block content, in order.
    text: String,
    /// Link and image destinations.
    targets: Vec<String>,
    /// Raw HTML, which must stay empty.
    html: Vec<String>,
    /// Text that came out bold or emphasised.
    emphasised: String,
}

fn render(md: &str) -> Rendered {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    let mut r = Rendered::default();
    let mut depth = 0;
    for ev in Parser::new_ext(md, opts) {
        match ev {
            Event::Text(t) | Event::Code(t) => {
                if depth > 0 {
                    r.emphasised.push_str(&t);
                }
                r.text.push_str(&t);
            }
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::TableCell
                | TagEnd::CodeBlock,
            ) => r.text.push('\n'),
            Event::Html(h) | Event::InlineHtml(h) => r.html.push(h.to_string()),
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                r.targets.push(dest_url.to_string())
            }
            Event::Start(Tag::Emphasis | Tag::Strong | Tag::Strikethrough) => depth += 1,
            Event::End(TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough) => depth -= 1,
            _ => {}
        }
    }
    r
}

fn markdown_files(out: &Path) -> Vec<String> {
    let mut v = vec!["index.md".to_string()];
    for e in std::fs::read_dir(out.join("teams")).unwrap() {
        v.push(format!(
            "teams/{}",
            e.unwrap().file_name().to_string_lossy()
        ));
    }
    v.sort();
    v
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn hostile_content_renders_as_text_in_every_report() {
    let sb = Sandbox::hostile(env!("CARGO_BIN_EXE_fleetscan"));
    let mut repos: Vec<String> = hostile::specs().into_iter().map(|s| s.name).collect();
    repos.push(hostile::NEVER_SERVED.into());
    let out = sb.command("out", &repos).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one repository is never served: {stderr}"
    );
    let dir = sb.path("out");

    // Every team has its own file, safe on any file system, and index.md links to each.
    let files = markdown_files(&dir);
    let teams = hostile::team_names().len() + 1;
    assert_eq!(files.len(), teams + 1, "{files:?}");
    let folded: BTreeSet<String> = files.iter().map(|f| f.to_lowercase()).collect();
    assert_eq!(folded.len(), files.len(), "{files:?}");
    for f in &files {
        let name = f.trim_start_matches("teams/");
        assert!(name.len() < 255 && !name.starts_with('.'), "{f}");
    }

    let mut all_text = String::new();
    for f in &files {
        let md = read(&dir.join(f));
        let r = render(&md);
        assert!(r.html.is_empty(), "{f}: raw HTML {:?}", r.html);
        for t in &r.targets {
            let t = t.trim().to_ascii_lowercase();
            assert!(!t.starts_with("javascript:"), "{f}: link to {t}");
            assert!(
                t.starts_with("https://opendev.org/openstack/") || t.starts_with("teams/"),
                "{f}: unexpected link target {t}"
            );
        }
        assert!(!r.emphasised.contains("kwargs"), "{f}: {}", r.emphasised);
        all_text.push_str(&r.text);
    }
    let index = render(&read(&dir.join("index.md")));
    let linked: BTreeSet<String> = index
        .targets
        .iter()
        .filter(|t| t.starts_with("teams/"))
        .map(|t| percent_decode(t))
        .collect();
    assert_eq!(linked.len(), teams, "{linked:?}");
    for t in &linked {
        assert!(
            dir.join(t).is_file(),
            "index.md links to {t}, which is missing"
        );
    }

    // The hostile text is all still there, as text.
    for needle in hostile::HOSTILE_LINES {
        assert!(all_text.contains(needle), "{needle:?} lost");
    }
    for p in hostile::HOSTILE_PATHS {
        let shown = p.replace('\n', "\u{2424}");
        assert!(all_text.contains(&shown), "path {shown:?} lost");
    }
    for (team, _) in hostile::team_names() {
        assert!(
            all_text.contains(&format!("Analysis for Team: {team}")),
            "team {team:?} lost"
        );
    }

    // The link file keeps one line per occurrence, the path percent-encoded.
    let links = read(&dir.join("eventlet-usage.txt"));
    assert!(links.lines().all(|l| l.starts_with("https://")), "{links}");
    assert!(links.contains("/x%0A%3Cdiv%3Eeventlet.py#n1 : import eventlet"));

    // No spreadsheet formula: a cell starting with = is prefixed with ' and quoted.
    let csv = read(&dir.join("occurrences.csv"));
    assert!(csv.contains("\"'=1+1.py\""), "{csv}");
    assert!(csv.contains("\"'=HYPERLINK("), "{csv}");
    assert!(
        !csv.lines()
            .any(|l| l.starts_with('=') || l.contains(",=") || l.contains(",\"=")),
        "{csv}"
    );

    // A project whose only file is too large says so and names the file.
    let summary: Value = serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    let huge = summary_repo(&summary, "openstack/huge-only");
    assert_eq!(huge["too_large"], serde_json::json!([hostile::HUGE_PATH]));
    let huge_team = files
        .iter()
        .map(|f| read(&dir.join(f)))
        .find(|md| md.contains("huge-only"))
        .unwrap();
    assert!(
        huge_team.contains(&format!(
            "huge-only: no occurrences in the files read; 1 file skipped (too large): `{}`",
            hostile::HUGE_PATH
        )),
        "{huge_team}"
    );
    assert!(
        !huge_team.contains("## Projects with no occurrences"),
        "{huge_team}"
    );

    // The team whose only repository failed shows "-", not 0 occurrences.
    let row = read(&dir.join("index.md"))
        .lines()
        .find(|l| l.starts_with("| [All Failed]"))
        .map(str::to_string)
        .unwrap();
    assert!(row.ends_with("| 1 | - | 1 | - |"), "{row}");
}
