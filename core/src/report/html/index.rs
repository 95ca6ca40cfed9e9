//! `html/index.html`: the fleet.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::chart::{self, bars, Bar, Point};
use super::{
    badge, card, count_states, deliverables, esc, local, page_head, page_tail, project_href, state,
    team_href, team_name, State,
};
use crate::report::fleet::date;
use crate::report::stream::Out;
use crate::report::{Fleet, Project, ScanInfo, Team};
use crate::result::RepoStatus;

pub(super) fn render<E>(fleet: &Fleet, info: &ScanInfo, mut body: Out<'_, E>) -> Result<(), E> {
    let title = fleet
        .profile
        .as_ref()
        .map_or("Pattern".to_string(), |p| p.title.clone());
    let (scanned, failed, skipped) = fleet.status_counts();
    let subtitle = format!(
        "Scan started {} &middot; patterns {} &middot; {} repositories",
        date(info.started),
        info.patterns
            .iter()
            .map(|p| format!("<code>{}</code>", esc(p)))
            .collect::<Vec<_>>()
            .join(", "),
        scanned + failed + skipped
    );
    body.push_str(&page_head(
        &format!("{} migration dashboard", esc(&title)),
        "",
        &subtitle,
    ));
    let delivs = deliverables(fleet.projects());
    let affected = delivs.values().filter(|s| s.affected()).count();
    body.push_str("<div class=\"cards\">");
    body.push_str(&card(delivs.len(), "deliverables"));
    body.push_str(&card(affected, "deliverables with work left"));
    body.push_str(&card(fleet.occurrence_count(), "occurrences"));
    body.push_str(&card(scanned, "repositories scanned"));
    body.push_str(&card(failed + skipped, "failed or skipped"));
    body.push_str(&card(fleet.teams.len(), "teams"));
    body.push_str("</div>\n");

    body.push_str("<h2>Deliverables by state</h2>\n");
    body.push_str(&state_chart("states", delivs.values().copied()));
    if !fleet.history.is_empty() {
        body.push_str("<h2>Deliverables over time</h2>\n");
        body.push_str(&burndown(fleet));
    }

    if let Some(prof) = &fleet.profile {
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, p) in fleet.projects() {
            for (cat, n) in p.analysis.iter().flat_map(|a| a.categories.iter()) {
                *per.entry(cat.as_str()).or_default() += n;
            }
        }
        let palette = [
            "#2457a6", "#3a7bd5", "#5b9bd5", "#7fb2e5", "#9cc3ea", "#b8d4f0",
        ];
        let cats: Vec<Bar> = prof
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| Bar {
                label: &c.title,
                value: per.get(c.id.as_str()).copied().unwrap_or(0),
                color: palette[i % palette.len()],
            })
            .collect();
        body.push_str("<h2>Occurrences per category</h2>\n");
        body.push_str(&bars(
            "categories",
            "An occurrence may count in several categories.",
            "Occurrences",
            &cats,
        ));
    }

    body.push_str("<h2>Teams</h2>\n");
    teams_table(&mut body, fleet, &delivs);
    body.push_str("<h2>Projects with occurrences</h2>\n<p class=\"muted\">Most complex first. Click a column to sort; type to filter.</p>\n");
    let mut found: Vec<(&Team, &Project)> = fleet.projects().filter(|(_, p)| p.count > 0).collect();
    found.sort_by(|a, b| a.1.rank(b.1));
    projects_table(&mut body, "", "projects", &found, true);
    not_scanned(&mut body, fleet.projects());
    body.push_str(&page_tail());
    body.finish()
}

/// Deliverables per state at each point of a history scan, the same states as the chart
/// above; deliverables with no occurrence are left out, or they would dwarf the rest.
fn burndown(fleet: &Fleet) -> String {
    let per: Vec<Vec<(State, usize)>> = fleet
        .history
        .iter()
        .map(|m| count_states(deliverables(m.fleet.projects()).into_values()))
        .collect();
    let shown: Vec<State> = State::ALL
        .into_iter()
        .filter(|s| *s != State::NotAffected)
        .filter(|s| per.iter().flatten().any(|(x, n)| x == s && *n > 0))
        .collect();
    let labels: Vec<String> = fleet.history.iter().map(|m| m.at.to_string()).collect();
    let points: Vec<Point> = per
        .iter()
        .zip(&labels)
        .map(|(counts, label)| Point {
            label,
            counts: shown
                .iter()
                .map(|s| counts.iter().find(|(x, _)| x == s).map_or(0, |(_, n)| *n))
                .collect(),
        })
        .collect();
    let series: Vec<(&str, &str)> = shown.iter().map(|s| (s.label(), s.style().1)).collect();
    let caption = "Deliverables that still have occurrences, by state, at each point (the least advanced at the bottom); deliverables with none are not drawn.";
    chart::burndown("burndown", caption, &series, &points)
}

/// The state chart of some deliverables.
pub(super) fn state_chart(id: &str, states: impl Iterator<Item = State>) -> String {
    let counts = count_states(states);
    let b: Vec<Bar> = counts
        .iter()
        .map(|(s, n)| Bar {
            label: s.label(),
            value: *n,
            color: s.style().1,
        })
        .collect();
    bars(
        id,
        "A deliverable's repositories count together, as in index.md: all migrated is migrated, a mix of finished and unfinished is in progress.",
        "Deliverables",
        &b,
    )
}

fn teams_table(out: &mut impl Write, fleet: &Fleet, delivs: &BTreeMap<(String, String), State>) {
    let _ = out.write_str("<table class=\"data\" id=\"teams\"><thead><tr><th>Team</th><th class=\"num\">Repos</th><th class=\"num\">Deliverables</th><th class=\"num\" title=\"Deliverables whose production code uses it with nothing to switch it off\">Not started</th><th class=\"num\" title=\"Deliverables with part of the code or some services done\">In progress</th><th class=\"num\" title=\"Deliverables where a switch turns it off\">Switchable</th><th class=\"num\" title=\"Deliverables where only documentation and notes remain\">Migrated</th><th class=\"num\">Occurrences</th><th class=\"num\">Max complexity</th><th class=\"num\" title=\"Repositories that failed\">Failed</th></tr></thead><tbody>\n");
    for t in &fleet.teams {
        let mine: Vec<State> = delivs
            .iter()
            .filter(|((team, _), _)| *team == t.name.0)
            .map(|(_, s)| *s)
            .collect();
        let n = |s: State| mine.iter().filter(|x| **x == s).count();
        let occ: usize = t.projects.iter().map(|p| p.count).sum();
        let top = t.projects.iter().map(|p| p.score()).max().unwrap_or(0);
        let failed = t
            .projects
            .iter()
            .filter(|p| p.result.status == RepoStatus::Failed)
            .count();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{occ}</td><td class=\"num\">{}</td><td class=\"num\">{failed}</td></tr>",
            local("", &team_href(t), &team_name(t)),
            t.projects.len(),
            mine.len(),
            n(State::NotStarted),
            n(State::InProgress),
            n(State::Switchable),
            n(State::Migrated),
            if top == 0 { "-".to_string() } else { top.to_string() }
        );
    }
    let _ = out.write_str("</tbody></table>\n");
}

/// A sortable table of projects; `root` leads back to `html/`.
pub(super) fn projects_table(
    out: &mut impl Write,
    root: &str,
    id: &str,
    projects: &[(&Team, &Project)],
    with_team: bool,
) {
    let team_th = if with_team { "<th>Team</th>" } else { "" };
    let _ = writeln!(
        out,
        "<table class=\"data\" id=\"{id}\"><thead><tr><th>Project</th>{team_th}<th>State</th><th class=\"num\">Complexity</th><th class=\"num\">Production</th><th class=\"num\">Tests</th><th class=\"num\">Docs</th><th class=\"num\">Config</th><th class=\"num\">Occurrences</th></tr></thead><tbody>"
    );
    for (t, p) in projects {
        let name = esc(p.result.repo.as_str());
        let name = if super::has_page(p) {
            local(root, &project_href(p), &name)
        } else {
            name
        };
        let team_td = if with_team {
            format!("<td>{}</td>", local(root, &team_href(t), &team_name(t)))
        } else {
            String::new()
        };
        let s = state(p);
        let g = |k: &str| {
            p.analysis
                .as_ref()
                .and_then(|a| a.groups.get(k).copied())
                .unwrap_or(0)
        };
        let score = p
            .analysis
            .as_ref()
            .filter(|_| p.count > 0)
            .map_or("-".to_string(), |a| a.score.to_string());
        let _ = writeln!(
            out,
            "<tr><td class=\"repo\">{name}</td>{team_td}<td data-v=\"{}\">{}</td><td class=\"num\" data-v=\"{}\">{score}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s as u8,
            badge(s),
            p.score(),
            g("production"),
            g("tests"),
            g("docs"),
            g("config"),
            p.count
        );
    }
    let _ = out.write_str("</tbody></table>\n");
}

/// Repositories that failed or were skipped, with why.
pub(super) fn not_scanned<'a>(
    out: &mut impl Write,
    projects: impl Iterator<Item = (&'a Team, &'a Project)>,
) {
    let list: Vec<_> = projects
        .filter(|(_, p)| p.result.status != RepoStatus::Scanned)
        .collect();
    if list.is_empty() {
        return;
    }
    let _ = out.write_str("<h2>Repositories not scanned</h2>\n<table class=\"data\" id=\"not-scanned\"><thead><tr><th>Repository</th><th>Team</th><th>Outcome</th><th>Reason</th></tr></thead><tbody>\n");
    for (t, p) in list {
        let r = &p.result;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.repo.as_str()),
            team_name(t),
            if r.status == RepoStatus::Failed {
                "failed"
            } else {
                "skipped"
            },
            esc(r.reason.as_deref().unwrap_or("no reason recorded"))
        );
    }
    let _ = out.write_str("</tbody></table>\n");
}
