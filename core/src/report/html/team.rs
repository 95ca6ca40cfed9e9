//! `html/teams/<Team>.html`: one team, its deliverables and each project's analysis.

use std::fmt::Write;

use super::index::{not_scanned, projects_table, state_chart};
use super::{
    badge, card, cite_any, deliverables, esc, local, page_head, page_tail, project_href, prose,
    state, team_name, Project,
};
use crate::analysis::level;
use crate::report::escape::plural;
use crate::report::fleet::date;
use crate::report::stream::Out;
use crate::report::{Fleet, Results, ScanInfo, Team};

const ROOT: &str = "../";

pub(super) fn render<E>(
    fleet: &Fleet,
    info: &ScanInfo,
    t: &Team,
    results: &mut dyn Results<E>,
    mut body: Out<'_, E>,
) -> Result<(), E> {
    let crumbs = format!(
        "<nav class=\"crumbs\">{}</nav>",
        local(ROOT, "index.html", "Fleet")
    );
    let subtitle = format!(
        "Team &middot; scan started {} &middot; {} repositories",
        date(info.started),
        t.projects.len()
    );
    body.push_str(&page_head(&team_name(t), &crumbs, &subtitle));
    let delivs = deliverables(t.projects.iter().map(|p| (t, p)));
    let occ: usize = t.projects.iter().map(|p| p.count).sum();
    body.push_str("<div class=\"cards\">");
    body.push_str(&card(delivs.len(), "deliverables"));
    body.push_str(&card(
        delivs.values().filter(|s| s.affected()).count(),
        "deliverables with work left",
    ));
    body.push_str(&card(t.projects.len(), "repositories"));
    body.push_str(&card(occ, "occurrences"));
    body.push_str("</div>\n<h2>Deliverables by state</h2>\n");
    body.push_str(&state_chart("states", delivs.values().copied()));

    body.push_str("<h2>Projects</h2>\n");
    let mut all: Vec<(&Team, &Project)> = t.projects.iter().map(|p| (t, p)).collect();
    all.sort_by(|a, b| a.1.rank(b.1));
    projects_table(&mut body, ROOT, "projects", &all, false);

    let found: Vec<(&Team, &Project)> = all.into_iter().filter(|(_, p)| p.count > 0).collect();
    if !found.is_empty() {
        body.push_str("<h2>Analysis</h2>\n");
    }
    fleet.each_full(&found, results, true, &mut |_, p| {
        let mut panel = String::new();
        analysis(&mut panel, fleet, p);
        body.push_str(&panel);
        Ok(())
    })?;
    not_scanned(&mut body, t.projects.iter().map(|p| (t, p)));
    body.push_str(&page_tail());
    body.finish()
}

/// A project's analysis in short, linking to its page.
fn analysis(out: &mut String, fleet: &Fleet, p: &Project) {
    let r = &p.result;
    let _ = write!(
        out,
        "<div class=\"panel\" id=\"{}\"><h3>{} {}</h3>",
        esc(r.repo.short()),
        local(ROOT, &project_href(p), &esc(r.repo.as_str())),
        badge(state(p))
    );
    if let Some(a) = &p.analysis {
        let evidence: Vec<String> = a.evidence.iter().map(|c| cite_any(fleet, p, c)).collect();
        let _ = write!(
            out,
            "<p><strong>Deactivable: {}</strong>: {}. Evidence: {}</p>",
            a.verdict.as_str(),
            prose(&a.reason),
            evidence.join(", ")
        );
        let factors: Vec<String> = a
            .factors
            .iter()
            .filter(|f| f.contribution > 0.0)
            .take(4)
            .map(|f| prose(&f.label))
            .collect();
        let _ = write!(
            out,
            "<p><strong>Complexity {}/10</strong>, {}. Main factors: {}.</p>",
            a.score,
            esc(level(a.score)),
            if factors.is_empty() {
                "none".to_string()
            } else {
                factors.join("; ")
            }
        );
    }
    let _ = writeln!(
        out,
        "<p>{}</p></div>",
        local(
            ROOT,
            &project_href(p),
            &format!(
                "Full analysis and the {} &rarr;",
                plural(p.count, "occurrence")
            )
        )
    );
}
