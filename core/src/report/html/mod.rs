//! `html/`: a static dashboard. `index.html` shows the fleet (deliverables per state, occurrences
//! per category, every team and project in sortable, filterable tables); `teams/<Team>.html`
//! one team with each project's analysis; `projects/<org>/<name>.html` one project with its
//! full analysis and occurrences, each linked to the code.
//!
//! Self-contained: the CSS, the script and the charts (hand-made SVG) are inline, nothing is
//! fetched, and the pages work from `file://`. A Content-Security-Policy forbids every network
//! load, so a page that tried one would fail its browser test. Every string from a repository
//! or from governance goes through [`esc`]; links to code are written only for http(s) URLs.
//!
//! History: [`chart::burndown`] draws deliverables per state over several points in time;
//! the fleet page gets it when a scan has history (see `index::render`).

mod chart;
mod index;
mod project;
mod team;

use std::collections::BTreeMap;
use std::fmt::Write;

use super::stream::{whole, Out};
use super::{Fleet, Project, Results, ScanInfo, Sink, Team};
use crate::analysis::Status;
use crate::link::encode;
use crate::result::RepoStatus;

const CSS: &str = include_str!("dashboard.css");
const JS: &str = include_str!("dashboard.js");

/// Renders every page: the fleet, then each team followed by its projects.
pub(super) fn render<E>(
    fleet: &Fleet,
    info: &ScanInfo,
    results: &mut dyn Results<E>,
    sink: &mut dyn Sink<E>,
) -> Result<(), E> {
    index::render(fleet, info, Out::new(sink, "html/index.html"))?;
    for t in &fleet.teams {
        let path = format!("html/{}", team_href(t));
        team::render(fleet, info, t, results, Out::new(sink, path))?;
        let pages: Vec<(&Team, &Project)> = t
            .projects
            .iter()
            .filter(|p| has_page(p))
            .map(|p| (t, p))
            .collect();
        fleet.each_full(&pages, results, true, &mut |t, p| {
            let path = format!("html/{}", project_href(p));
            whole(sink, &path, &project::render(fleet, info, t, p))
        })?;
    }
    Ok(())
}

/// Where a deliverable stands in the migration, from the analysis of its repositories; least
/// advanced first, so that repositories without a combined status take the worst of theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum State {
    /// A repository could not be scanned, so nothing can be said.
    NotScanned,
    /// Occurrences found, no analysis profile.
    Found,
    /// Production code uses it and nothing switches it off.
    NotStarted,
    /// Part of the code or some services are done.
    InProgress,
    /// A working switch turns it off.
    Switchable,
    /// Only documentation and notes remain.
    Migrated,
    /// No occurrence at all.
    NotAffected,
}

impl State {
    /// Every state, worst first.
    pub(crate) const ALL: [State; 7] = [
        State::NotScanned,
        State::Found,
        State::NotStarted,
        State::InProgress,
        State::Switchable,
        State::Migrated,
        State::NotAffected,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            State::NotScanned => "Not scanned",
            State::Found => "Occurrences, not analysed",
            State::NotStarted => "Not started",
            State::InProgress => "In progress",
            State::Switchable => "Switchable",
            State::Migrated => "Migrated",
            State::NotAffected => "Not affected",
        }
    }

    /// CSS class of its badge, and its colour in charts.
    pub(crate) fn style(self) -> (&'static str, &'static str) {
        match self {
            State::NotScanned => ("b-failed", "#6c3483"),
            State::Found => ("b-maybe", "#d68910"),
            State::NotStarted => ("b-no", "#c0392b"),
            State::InProgress => ("b-maybe", "#d68910"),
            State::Switchable => ("b-yes", "#52be80"),
            State::Migrated => ("b-yes", "#1e8449"),
            State::NotAffected => ("b-none", "#95a5a6"),
        }
    }

    /// Affected: something is left to do or to find out.
    pub(crate) fn affected(self) -> bool {
        !matches!(self, State::NotAffected | State::Migrated)
    }
}

/// The state of one project: its migration status. This is the one place the dashboard
/// decides it.
pub(crate) fn state(p: &Project) -> State {
    match (p.result.status, &p.analysis) {
        (RepoStatus::Failed, _) => State::NotScanned,
        _ if p.count == 0 => State::NotAffected,
        (_, None) => State::Found,
        (_, Some(a)) => State::from(a.status),
    }
}

impl From<Status> for State {
    fn from(s: Status) -> State {
        match s {
            Status::NotStarted => State::NotStarted,
            Status::InProgress => State::InProgress,
            Status::Switchable => State::Switchable,
            Status::Migrated => State::Migrated,
            Status::NotAffected => State::NotAffected,
        }
    }
}

/// Deliverables (a repository without one counts as its own) and their state: the status of
/// all their scanned repositories together ([`Project::deliverable_status`], what `index.md`,
/// the team pages and `progress.md` count), else the worst of their repositories' states (all
/// failed, or found with no analysis).
pub(crate) fn deliverables<'a>(
    projects: impl Iterator<Item = (&'a Team, &'a Project)>,
) -> BTreeMap<(String, String), State> {
    let mut out: BTreeMap<(String, String), (bool, State)> = BTreeMap::new();
    for (t, p) in projects {
        let name = p
            .deliverable
            .clone()
            .unwrap_or_else(|| p.result.repo.to_string());
        let (combined, s) = match p.deliverable_status {
            Some(d) => (true, State::from(d)),
            None => (false, state(p)),
        };
        let e = out.entry((t.name.0.clone(), name)).or_insert((combined, s));
        // The combined status wins over a single repository's state; states alone take the
        // worst.
        *e = match (e.0, combined) {
            (false, true) => (true, s),
            (false, false) => (false, e.1.min(s)),
            (true, _) => (true, if combined { s } else { e.1 }),
        };
    }
    out.into_iter().map(|(k, (_, s))| (k, s)).collect()
}

/// Counts per state, in [`State::ALL`] order, states with none left out.
pub(crate) fn count_states(states: impl Iterator<Item = State>) -> Vec<(State, usize)> {
    let mut n: BTreeMap<State, usize> = BTreeMap::new();
    for s in states {
        *n.entry(s).or_default() += 1;
    }
    State::ALL
        .iter()
        .filter_map(|s| n.get(s).map(|c| (*s, *c)))
        .collect()
}

/// A project gets its own page when there is something to show on it.
pub(crate) fn has_page(p: &Project) -> bool {
    p.count > 0
}

/// `teams/<name>.html`, relative to `html/`: the team's Markdown file name (unique and safe
/// whatever the team is called), as HTML.
pub(crate) fn team_href(t: &Team) -> String {
    format!("{}.html", t.file.strip_suffix(".md").unwrap_or(&t.file))
}

/// `projects/<org>/<name>.html`, relative to `html/`. Repository names are checked ASCII.
pub(crate) fn project_href(p: &Project) -> String {
    format!("projects/{}.html", p.result.repo)
}

/// Escapes text for HTML element content and quoted attribute values alike.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '`' => out.push_str("&#96;"),
            c => out.push(c),
        }
    }
    out
}

/// Profile prose with `code` spans (replacement advice, titles), as escaped HTML.
pub(crate) fn prose(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", esc(part))
            } else {
                esc(part)
            }
        })
        .collect()
}

/// `<a href=url>inner</a>` when `url` is http(s), else just `inner` (already HTML).
pub(crate) fn link(url: &str, inner: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!("<a href=\"{}\">{inner}</a>", esc(url))
    } else {
        inner.to_string()
    }
}

/// A relative link within the dashboard: `root` leads back to `html/`.
pub(crate) fn local(root: &str, href: &str, inner: &str) -> String {
    format!(
        "<a href=\"{}{}\">{inner}</a>",
        esc(root),
        esc(&encode(href))
    )
}

/// A team's name as HTML; an empty one shows as `""`, so its link can still be clicked.
pub(crate) fn team_name(t: &Team) -> String {
    match t.name.0.as_str() {
        "" => "&quot;&quot;".to_string(),
        name => esc(name),
    }
}

/// A state badge.
pub(crate) fn badge(s: State) -> String {
    format!("<span class=\"badge {}\">{}</span>", s.style().0, s.label())
}

/// The link to occurrence `i` of `p`, shown as `path#Lline`.
pub(crate) fn cite(fleet: &Fleet, p: &Project, i: usize) -> String {
    let o = &p.result.occurrences[i];
    let text = format!("<code>{}#L{}</code>", esc(&o.path), o.line);
    link(&fleet.links.url(&p.result, o), &text)
}

/// The link to a line the analysis cites.
pub(crate) fn cite_any(fleet: &Fleet, p: &Project, c: &crate::analysis::Cite) -> String {
    match c {
        crate::analysis::Cite::Occurrence(i) => cite(fleet, p, *i),
        crate::analysis::Cite::Code(l) => cite_line(fleet, p, l),
    }
}

/// The link to a line of `p` that need not be an occurrence (a switch read, a caller).
pub(crate) fn cite_line(fleet: &Fleet, p: &Project, l: &crate::code::facts::Line) -> String {
    let o = crate::result::Occurrence {
        path: l.path.clone(),
        line: l.line,
        text: l.text.clone(),
    };
    let text = format!("<code>{}#L{}</code>", esc(&o.path), o.line);
    link(&fleet.links.url(&p.result, &o), &text)
}

/// One whole page. `title` and `subtitle` are HTML; `root` leads back to `html/`.
pub(crate) fn page(title: &str, crumbs: &str, subtitle: &str, body: &str) -> String {
    let mut out = page_head(title, crumbs, subtitle);
    out.push_str(body);
    out.push_str(&page_tail());
    out
}

/// A page up to its body, for pages written a piece at a time.
pub(crate) fn page_head(title: &str, crumbs: &str, subtitle: &str) -> String {
    let mut out = String::with_capacity(CSS.len() + 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Nothing may be fetched: the page is whole as written.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n");
    let plain_title = strip_tags(title);
    let _ = writeln!(out, "<title>{plain_title}</title>");
    let _ = writeln!(out, "<style>\n{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(
        out,
        "<header class=\"top\">{crumbs}<h1>{title}</h1><p>{subtitle}</p></header>\n<main>"
    );
    out
}

/// A page after its body.
pub(crate) fn page_tail() -> String {
    let mut out = String::with_capacity(JS.len() + 512);
    let _ = writeln!(
        out,
        "<footer>Written by fleetscan {}. Every figure is counted from the occurrences listed; every code link points at the scanned branch or commit.</footer>\n</main>",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "<script>\n{JS}</script>\n</body>\n</html>");
    out
}

/// The text of already-escaped HTML, for `<title>`.
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// A number card.
pub(crate) fn card(n: impl std::fmt::Display, label: &str) -> String {
    format!("<div class=\"card\"><div class=\"n\">{n}</div><div class=\"l\">{label}</div></div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_every_breakout() {
        assert_eq!(esc("<script>\"'`&"), "&lt;script&gt;&quot;&#39;&#96;&amp;");
        assert_eq!(prose("use `a<b>` now"), "use <code>a&lt;b&gt;</code> now");
        assert_eq!(link("javascript:alert(1)", "x"), "x");
        assert_eq!(
            link("https://h/a\"b", "x"),
            "<a href=\"https://h/a&quot;b\">x</a>"
        );
        assert_eq!(
            local("../", "teams/A b.html", "A"),
            "<a href=\"../teams/A%20b.html\">A</a>"
        );
    }

    #[test]
    fn hostile_paths_and_lines_stay_text_on_every_page() {
        use crate::governance::Governance;
        use crate::ids::RepoName;
        use crate::link::LinkOptions;
        use crate::profile::Profile;
        use crate::result::{Occurrence, RepoResult};

        let mut r = RepoResult::new(RepoName::parse("openstack/x").unwrap(), "u".into());
        r.status = RepoStatus::Scanned;
        r.branch = Some("<b>main".into());
        r.commit = Some("\"><script>".into());
        r.occurrences = vec![Occurrence {
            path: "x/<script>alert(1)</script>.py".into(),
            line: 1,
            text: "eventlet.monkey_patch()  # <img src=x onerror=alert(2)> `](javascript:x)".into(),
        }];
        let fleet = Fleet::build(
            vec![r],
            &Governance::default(),
            LinkOptions::default(),
            Some(Profile::eventlet()),
        );
        let mut info = crate::report::fixture::info("x");
        info.patterns = vec!["<i>".into()];
        let files = crate::report::render(&fleet, &info, &[crate::report::Format::Html].into());
        assert_eq!(files.len(), 3, "index, the team, the project");
        for f in &files {
            let c = &f.contents;
            assert_eq!(c.matches("<script").count(), 1, "{}", f.path);
            for bad in ["<img", "<b>", "<i>"] {
                assert!(!c.contains(bad), "{} contains {bad}", f.path);
            }
        }
        let project = &files[2];
        assert!(project
            .contents
            .contains("<code>&quot;&gt;&lt;script&gt;</code>"));
    }

    /// A deliverable of a repository that is not started and one that is migrated is in
    /// progress, on the dashboard as in `index.md`; it used to show the worse of the two.
    #[test]
    fn a_deliverable_shows_the_status_index_counts() {
        use crate::governance::Governance;
        use crate::ids::RepoName;
        use crate::link::LinkOptions;
        use crate::profile::Profile;
        use crate::result::{Occurrence, RepoResult};

        let gov = "Compute:\n  deliverables:\n    nova:\n      repos: [openstack/nova, openstack/nova-docs]\n";
        let (gov, _) = Governance::from_documents([("gov.yaml", gov)]).unwrap();
        let repo = |name: &str, text: &str, path: &str| {
            let mut r = RepoResult::new(RepoName::parse(name).unwrap(), "u".into());
            r.status = RepoStatus::Scanned;
            r.occurrences = vec![Occurrence {
                path: path.into(),
                line: 1,
                text: text.into(),
            }];
            r
        };
        let fleet = Fleet::build(
            vec![
                repo("openstack/nova", "eventlet.spawn(f)", "nova/a.py"),
                repo(
                    "openstack/nova-docs",
                    "Eventlet is gone",
                    "doc/source/a.rst",
                ),
            ],
            &gov,
            LinkOptions::default(),
            Some(Profile::eventlet()),
        );
        let states: Vec<State> = fleet.projects().map(|(_, p)| state(p)).collect();
        assert!(states.contains(&State::NotStarted), "{states:?}");
        assert!(states.contains(&State::Migrated), "{states:?}");
        let d = deliverables(fleet.projects());
        assert_eq!(
            d.values().copied().collect::<Vec<_>>(),
            vec![State::InProgress],
            "{d:?}"
        );
        let p = fleet.projects().next().unwrap().1;
        assert_eq!(p.deliverable_status, Some(Status::InProgress));
    }

    #[test]
    fn a_deliverable_takes_its_worst_state() {
        assert!(State::NotScanned < State::NotStarted && State::NotStarted < State::Migrated);
        let states =
            count_states([State::Migrated, State::NotStarted, State::Migrated].into_iter());
        assert_eq!(states, vec![(State::NotStarted, 1), (State::Migrated, 2)]);
    }
}
