//! The diff as Markdown: a summary, counts per team, analysis changes, then each project's
//! removed and added lines. Everything from a repository is in a code span or escaped.

use std::fmt::Write;

use super::{Diff, ProjectDiff, Side};
use crate::report::date;
use crate::report::escape::{cell, code, plural, text};
use crate::result::Occurrence;

pub(super) fn render(d: &Diff) -> String {
    let mut out = String::from("# Changes between two scans\n\n");
    // A history point is named by its date; the scan it belongs to, by when it ran.
    let side = |at: Option<crate::history::Day>, started: i64| match at {
        Some(at) => format!("point {at} (of the scan of {})", date(started)),
        None => format!("scan: {}", date(started)),
    };
    let _ = writeln!(
        out,
        "Old {}; new {}. Patterns: {}.\n",
        side(d.at.0, d.started.0),
        side(d.at.1, d.started.1),
        patterns(&d.patterns.1)
    );
    if d.patterns.0 != d.patterns.1 {
        let _ = writeln!(
            out,
            "**The scans searched different patterns** (old: {}), so added and removed lines may only reflect that.\n",
            patterns(&d.patterns.0)
        );
    }
    let added: usize = d.projects.iter().map(|p| p.added.len()).sum();
    let removed: usize = d.projects.iter().map(|p| p.removed.len()).sum();
    if d.is_empty() {
        out.push_str(
            "No changes: no occurrence added or removed, no analysis or repository state changed.",
        );
    } else {
        let _ = write!(
            out,
            "{} added and {removed} removed; {} changed.",
            plural(added, "occurrence"),
            plural(d.projects.len(), "project")
        );
    }
    if d.moved > 0 {
        let _ = write!(
            out,
            " {} only moved (same path and text at another line) and {} not counted as changes.",
            plural(d.moved, "line"),
            if d.moved == 1 { "is" } else { "are" }
        );
    }
    out.push('\n');
    teams(&mut out, d);
    analysis(&mut out, d);
    for p in &d.projects {
        project(&mut out, p);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn teams(out: &mut String, d: &Diff) {
    let changed: Vec<_> = d
        .teams
        .iter()
        .filter(|t| t.added + t.removed > 0 || t.occurrences.0 != t.occurrences.1)
        .collect();
    if changed.is_empty() {
        return;
    }
    out.push_str("\n## Per team\n\n| Team | Occurrences before | After | Change | Added | Removed | Projects with occurrences before | After |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for t in changed {
        let delta = t.occurrences.1 as i64 - t.occurrences.0 as i64;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {delta:+} | {} | {} | {} | {} |",
            cell(&text(&t.team.0)),
            t.occurrences.0,
            t.occurrences.1,
            t.added,
            t.removed,
            t.projects_with_occurrences.0,
            t.projects_with_occurrences.1
        );
    }
}

fn analysis(out: &mut String, d: &Diff) {
    let changed: Vec<&ProjectDiff> = d.projects.iter().filter(|p| p.analysis_changed()).collect();
    if changed.is_empty() {
        return;
    }
    out.push_str("\n## Analysis changes\n\n| Project | Team | Deactivable | Complexity | Status |\n| --- | --- | --- | --- | --- |\n");
    for p in changed {
        let (o, n) = (p.old.as_ref().unwrap(), p.new.as_ref().unwrap());
        let cmp = |a: Option<String>, b: Option<String>| {
            let show = |x: Option<String>| x.map_or("-".to_string(), |x| cell(&text(&x)));
            if a == b {
                show(a)
            } else {
                format!("{} → {}", show(a), show(b))
            }
        };
        let (oa, na) = (&o.analysis, &n.analysis);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&text(p.repo.as_str())),
            cell(&text(&p.team.0)),
            cmp(oa.verdict.clone(), na.verdict.clone()),
            cmp(
                oa.complexity.map(|c| c.to_string()),
                na.complexity.map(|c| c.to_string())
            ),
            cmp(oa.migration.clone(), na.migration.clone()),
        );
    }
}

fn project(out: &mut String, p: &ProjectDiff) {
    let _ = writeln!(
        out,
        "\n## Project: {} ({})\n",
        text(p.repo.short()),
        text(&p.team.0)
    );
    let at = |s: &Option<Side>| match s {
        None => "not in the scan".to_string(),
        Some(s) => format!(
            "{} at `{}`, {}",
            match s.status {
                crate::result::RepoStatus::Scanned => "scanned",
                crate::result::RepoStatus::Failed => "failed",
                crate::result::RepoStatus::Skipped => "skipped",
            },
            s.commit.as_deref().unwrap_or("no commit"),
            plural(s.occurrences, "occurrence")
        ),
    };
    let _ = writeln!(out, "- Old: {}\n- New: {}", at(&p.old), at(&p.new));
    if let Some(why) = &p.not_compared {
        let _ = writeln!(out, "- Occurrences not compared: {}", text(why));
    }
    if p.moved > 0 {
        let _ = writeln!(
            out,
            "- {} only moved (same path and text, another line)",
            plural(p.moved, "line")
        );
    }
    for (title, list) in [("Removed", &p.removed), ("Added", &p.added)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title} ({}):\n", plural(list.len(), "occurrence"));
        for o in list {
            let _ = writeln!(out, "- {}", line(o));
        }
    }
}

/// `path#Lline`: text, both as code spans.
fn line(o: &Occurrence) -> String {
    format!(
        "{}: {}",
        code(&format!("{}#L{}", o.path, o.line)),
        code(&o.text)
    )
}

fn patterns(p: &[String]) -> String {
    p.iter().map(|x| code(x)).collect::<Vec<_>>().join(", ")
}
