//! `teams/<Team>.md`: the team file in the shape maintainers already read
//! (`# Analysis for Team:`, `## Project:`, the analysis, `Occurrences Found:` and its link
//! lines in a fenced block, `***`), with a summary table first. Every value from a repository or
//! from governance goes through [`super::escape`]. Every statement cites occurrences as
//! `path#Lline` links. An optional generated narrative follows the analysis, apart from it.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::escape::{cell, code, fence, model_line, plural, text};
use super::fleet::date;
use super::stream::Out;
use super::{Fleet, Project, Results, Team};
use crate::analysis::{level, Analysis, Status};
use crate::code::facts::{ServicePatching, Switch, SwitchKind};
use crate::narrative::{Narrative, UNVERIFIED};
use crate::profile::Profile;
use crate::result::{RepoStatus, ScanStats};

/// Files listed per project before the rest are only counted.
const MAX_FILES: usize = 25;
/// Lines cited per rule and file.
const MAX_LINES: usize = 12;

pub(super) fn render<E>(
    fleet: &Fleet,
    team: &Team,
    results: &mut dyn Results<E>,
    mut out: Out<'_, E>,
) -> Result<(), E> {
    let _ = writeln!(out, "# Analysis for Team: {}\n", text(&team.name.0));
    let mut found: Vec<(&Team, &Project)> = team
        .projects
        .iter()
        .filter(|p| p.count > 0)
        .map(|p| (team, p))
        .collect();
    found.sort_by(|(_, a), (_, b)| {
        b.score()
            .cmp(&a.score())
            .then(a.result.repo.cmp(&b.result.repo))
    });
    if let (Some(prof), false) = (&fleet.profile, found.is_empty()) {
        summary_table(&mut out, prof, found.iter().map(|(_, p)| *p));
    }
    fleet.each_full(&found, results, true, &mut |_, p| {
        let mut section = String::new();
        project(&mut section, fleet, p);
        out.push_str(&section);
        Ok(())
    })?;
    let scanned_empty = |p: &&Project| p.result.status == RepoStatus::Scanned && p.count == 0;
    let unread: Vec<&Project> = team
        .projects
        .iter()
        .filter(scanned_empty)
        .filter(|p| p.result.stats.skipped_too_large > 0)
        .collect();
    if !unread.is_empty() {
        // Not "no occurrences": files were left unread, and they may hold some.
        out.push_str("## Projects with files not read\n\n");
        for p in unread {
            let _ = writeln!(
                out,
                "- {}: no occurrences in the files read; {}",
                text(p.result.repo.short()),
                too_large(&p.result.stats)
            );
        }
        out.push('\n');
    }
    // One line naming every such project, written a name at a time.
    let mut clean = team
        .projects
        .iter()
        .filter(scanned_empty)
        .filter(|p| p.result.stats.skipped_too_large == 0)
        .peekable();
    if clean.peek().is_some() {
        out.push_str("## Projects with no occurrences\n\n");
        for (i, p) in clean.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&text(p.result.repo.short()));
        }
        out.push_str("\n\n");
    }
    let not_scanned: Vec<_> = team
        .projects
        .iter()
        .filter(|p| p.result.status != RepoStatus::Scanned)
        .collect();
    if !not_scanned.is_empty() {
        out.push_str("## Projects not scanned\n\n");
        for p in not_scanned {
            let r = &p.result;
            let state = if r.status == RepoStatus::Failed {
                "failed"
            } else {
                "skipped"
            };
            let _ = writeln!(
                out,
                "- {} ({state}): {}",
                text(r.repo.short()),
                text(r.reason.as_deref().unwrap_or("no reason recorded"))
            );
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.finish()
}

fn summary_table<'a, E>(
    out: &mut Out<'_, E>,
    prof: &Profile,
    found: impl Iterator<Item = &'a Project>,
) {
    out.push_str("| Project | Status | Deactivable | Complexity | Production | Tests | Docs | Config | Top categories |\n");
    out.push_str("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for p in found {
        let Some(a) = &p.analysis else { continue };
        let g = |k: &str| a.groups.get(k).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&text(p.result.repo.short())),
            p.deliverable_status.unwrap_or(a.status).as_str(),
            a.verdict.as_str(),
            a.score,
            g("production"),
            g("tests"),
            g("docs"),
            g("config"),
            top_categories(prof, &a.categories, 3)
        );
    }
    out.push('\n');
}

fn top_categories(prof: &Profile, counts: &BTreeMap<String, usize>, n: usize) -> String {
    let mut v: Vec<(&String, &usize)> = counts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .take(n)
        .map(|(id, c)| {
            format!(
                "{} ({c})",
                prof.categories
                    .iter()
                    .find(|x| &x.id == *id)
                    .map_or(id.as_str(), |x| x.title.as_str())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn project(out: &mut String, fleet: &Fleet, p: &Project) {
    let r = &p.result;
    let short = text(r.repo.short());
    let full = text(r.repo.as_str());
    let _ = writeln!(out, "## Project: {short}\n");
    if let Some(t) = &r.truncated {
        let _ = writeln!(out, "**Truncated:** {}\n", text(t));
    }
    let scanned = format!(
        "branch {} at commit {}{}",
        code(r.branch.as_deref().unwrap_or("unknown")),
        code(r.commit.as_deref().unwrap_or("unknown")),
        r.commit_time
            .map(|t| format!(" ({})", date(t)))
            .unwrap_or_default()
    );
    match (&p.analysis, &fleet.profile) {
        (Some(a), Some(prof)) => {
            let _ = writeln!(out, "- **Project:** {short} ({full})");
            let _ = writeln!(out, "  - **Scanned:** {scanned}");
            if r.stats.skipped_too_large > 0 {
                let _ = writeln!(out, "  - **Not read:** {}", too_large(&r.stats));
            }
            let _ = writeln!(
                out,
                "  - **Is {} globally deactivable for this project:** {}",
                prof.title,
                a.verdict.as_str()
            );
            let cites: Vec<String> = a.evidence.iter().map(|c| fleet.cite_any(p, c)).collect();
            let _ = writeln!(out, "    - {}: {}", capitalize(&a.reason), cites.join(", "));
            switches(out, fleet, p, a);
            services(out, a);
            status(out, p, a);
            let _ = writeln!(
                out,
                "  - **Estimated complexity of the migration:** {}",
                a.score
            );
            let _ = writeln!(out, "    - {}", capitalize(level(a.score)));
            if a.factors.is_empty() {
                out.push_str("    - Factors: none (raw score 0.0)\n");
            } else {
                let _ = writeln!(
                    out,
                    "    - Factors (raw score {:.1}, their exact sum):",
                    a.raw
                );
            }
            for f in &a.factors {
                let _ = writeln!(out, "      - {}: {:.1}", f.label, f.contribution);
            }
            files(out, fleet, prof, p);
            conclusion(out, fleet, prof, p);
            if let Some(n) = &p.narrative {
                narrative(out, n);
            }
        }
        _ => {
            let _ = writeln!(out, "- **Project:** {short} ({full})");
            let _ = writeln!(out, "  - **Scanned:** {scanned}");
            if r.stats.skipped_too_large > 0 {
                let _ = writeln!(out, "  - **Not read:** {}", too_large(&r.stats));
            }
        }
    }
    // Each line exactly as beagle prints it, so scripts still find them; the fence keeps
    // Markdown from joining them into one paragraph or reading anything in them.
    out.push_str("\nOccurrences Found:\n");
    let lines: Vec<String> = r
        .occurrences
        .iter()
        .map(|o| fleet.links.line(r, o))
        .collect();
    out.push_str(&fence(&lines));
    out.push_str("\n***\n\n");
}

/// Each switch guarding the patching: where it is read, its default, where it is defined.
fn switches(out: &mut String, fleet: &Fleet, p: &Project, a: &Analysis) {
    for s in a.code.switches() {
        let kind = match s.kind {
            SwitchKind::Env => "environment variable",
            SwitchKind::Option => "option",
        };
        let mut line = format!(
            "    - Switch: {kind} {}, read at {}, default {}",
            code(&s.name),
            fleet.cite_line(p, &s.read),
            default(s)
        );
        if let Some(c) = &s.choices {
            let _ = write!(line, ", choices {}", code(c));
        }
        if let Some(d) = &s.defined {
            let _ = write!(line, ", defined at {}", fleet.cite_line(p, d));
        }
        out.push_str(&line);
        out.push('\n');
    }
    if a.code.truncated {
        out.push_str(
            "    - The search for callers stopped at its bound: a caller may be missing.\n",
        );
    }
}

/// A switch's default as a code span, or why there is none.
fn default(s: &Switch) -> String {
    match (&s.default, s.kind) {
        (Some(d), _) => code(d),
        (None, SwitchKind::Env) => "unset".to_string(),
        (None, SwitchKind::Option) => "not found".to_string(),
    }
}

/// Which services can run without the pattern.
fn services(out: &mut String, a: &Analysis) {
    let s = &a.code.services;
    if s.is_empty() {
        return;
    }
    let names = |always: bool| -> Vec<String> {
        s.iter()
            .filter(|x| (x.patching == ServicePatching::Always) == always)
            .map(|x| code(&x.name))
            .collect()
    };
    let (without, always) = (names(false), names(true));
    let _ = writeln!(
        out,
        "    - Services: {} of {} can run without it{}{}",
        without.len(),
        s.len(),
        if without.is_empty() {
            String::new()
        } else {
            format!(" ({})", without.join(", "))
        },
        if always.is_empty() {
            String::new()
        } else {
            format!("; patching unconditionally: {}", always.join(", "))
        }
    );
}

/// The migration status of the repository and of its deliverable.
fn status(out: &mut String, p: &Project, a: &Analysis) {
    let _ = write!(
        out,
        "  - **Migration status:** {} ({})",
        a.status.as_str(),
        if a.status == Status::Switchable {
            let parts: Vec<String> = a
                .code
                .switches()
                .into_iter()
                .map(|s| format!("{} (default {})", code(&s.name), default(s)))
                .collect();
            format!("switch: {}", parts.join(", "))
        } else {
            text(&a.status_detail)
        }
    );
    match (&p.deliverable, p.deliverable_status) {
        (Some(d), Some(ds)) if ds != a.status => {
            let _ = write!(out, "; deliverable {}: {}", code(d), ds.as_str());
        }
        _ => {}
    }
    out.push('\n');
}

fn files(out: &mut String, fleet: &Fleet, prof: &Profile, p: &Project) {
    let a = p.analysis.as_ref().expect("analysed");
    let ordered = a.files(prof, &p.result.occurrences);
    out.push_str("  - **Files Analyzed:**\n");
    for f in ordered.iter().take(MAX_FILES) {
        let _ = writeln!(
            out,
            "    - **File:** {} ({})",
            code(f.path),
            text(&prof.classes[f.class].id)
        );
        out.push_str("      - **Identified Patterns:**\n");
        for (ci, rules) in &f.patterns {
            let _ = writeln!(out, "        - **Pattern:** {}", prof.categories[*ci].title);
            for (r, idx) in rules {
                let lines: Vec<String> = idx
                    .iter()
                    .take(MAX_LINES)
                    .map(|&i| fleet.cite(p, i))
                    .collect();
                let more = if idx.len() > MAX_LINES {
                    format!(" and {} more", idx.len() - MAX_LINES)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "          - **Description:** {} (rule {}) at {}{more}",
                    prof.rules[*r].title,
                    code(&prof.rules[*r].id),
                    lines.join(", ")
                );
            }
        }
    }
    if ordered.len() > MAX_FILES {
        let _ = writeln!(
            out,
            "    - {} more not listed (see Occurrences Found)",
            plural(ordered.len() - MAX_FILES, "file")
        );
    }
}

fn conclusion(out: &mut String, fleet: &Fleet, prof: &Profile, p: &Project) {
    let a = p.analysis.as_ref().expect("analysed");
    let g = |k: &str| a.groups.get(k).copied().unwrap_or(0);
    out.push_str("- **Overall Conclusion:**\n");
    let _ = writeln!(
        out,
        "  - **Summary of Key Points:** {}: {} in production code ({} in {} using it), {} in tests, {} in documentation, {} in configuration and dependencies. Deactivable: {}. Status: {}. Complexity {}/10.",
        plural(p.count, "occurrence"),
        g("production"),
        plural(a.production_sites, "distinct call site"),
        plural(a.production_files, "file"),
        g("tests"),
        g("docs"),
        g("config"),
        a.verdict.as_str(),
        a.status.as_str(),
        a.score
    );
    // Rules found in production code, heaviest first, each with its first citation.
    let mut prod_rules: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, c) in a.classified.iter().enumerate() {
        if prof.classes[c.class].id == "production" {
            for &r in &c.rules {
                prod_rules.entry(r).or_default().push(i);
            }
        }
    }
    let mut heavy: Vec<(&usize, &Vec<usize>)> = prod_rules
        .iter()
        .filter(|(r, _)| prof.rules[**r].weight >= 3.0)
        .collect();
    heavy.sort_by(|a, b| {
        prof.rules[*b.0]
            .weight
            .total_cmp(&prof.rules[*a.0].weight)
            .then(a.0.cmp(b.0))
    });
    if heavy.is_empty() {
        out.push_str("  - **Potential Challenges:** none found in production code.\n");
    } else {
        out.push_str("  - **Potential Challenges:**\n");
        for (r, idx) in &heavy {
            let _ = writeln!(
                out,
                "    - {} in production code: {}, first at {}",
                prof.rules[**r].title,
                plural(idx.len(), "occurrence"),
                fleet.cite(p, idx[0])
            );
        }
    }
    // One recommendation per rule found anywhere, in profile order.
    let recs: Vec<String> = a
        .rules_found(prof)
        .into_iter()
        .map(|r| {
            format!(
                "    - {} ({})",
                prof.rules[r].replacement,
                code(&prof.rules[r].id)
            )
        })
        .collect();
    if recs.is_empty() {
        out.push_str(
            "  - **Recommendations:** nothing to change beyond the plain mentions listed below.\n",
        );
    } else {
        out.push_str("  - **Recommendations:**\n");
        for r in recs {
            out.push_str(&r);
            out.push('\n');
        }
    }
}

/// The generated narrative, after the grounded analysis and apart from it: its own heading
/// naming the model, a line saying what it is, the reply quoted (so nothing in it can pass for
/// a heading or an `Occurrences Found:` line) with no raw HTML or link in it, then the
/// unverified paths.
fn narrative(out: &mut String, n: &Narrative) {
    let _ = writeln!(out, "\n### Narrative (generated by {})\n", code(&n.model));
    let _ = writeln!(
        out,
        "*Written by a language model from the findings above; not part of the grounded analysis. Paths it names that are not occurrences of this project are marked {UNVERIFIED}.*\n"
    );
    for line in n.text.lines() {
        out.push('>');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(&model_line(line));
        }
        out.push('\n');
    }
    if !n.unverified.is_empty() {
        let list: Vec<String> = n.unverified.iter().map(|u| code(u)).collect();
        let _ = writeln!(out, "\nUnverified paths: {}", list.join(", "));
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// "N files skipped (too large): `a`, `b`", the paths cut after [`MAX_FILES`].
fn too_large(stats: &ScanStats) -> String {
    let mut s = format!(
        "{} skipped (too large)",
        plural(stats.skipped_too_large as usize, "file")
    );
    let listed: Vec<String> = stats
        .too_large
        .iter()
        .take(MAX_FILES)
        .map(|p| code(p))
        .collect();
    if !listed.is_empty() {
        s.push_str(": ");
        s.push_str(&listed.join(", "));
    }
    if stats.too_large.len() > MAX_FILES {
        s.push_str(&format!(" and {} more", stats.too_large.len() - MAX_FILES));
    }
    s
}
