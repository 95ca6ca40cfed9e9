//! `teams/<Team>.md`: the team file in the shape maintainers already read
//! (`# Analysis for Team:`, `## Project:`, the analysis, `Occurrences Found:`, `***`), with a
//! summary table first. Every statement cites occurrences as `path#Lline` links. An optional
//! generated narrative follows the analysis, apart from it.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::fleet::date;
use super::{Fleet, Project, Team};
use crate::analysis::level;
use crate::narrative::{Narrative, UNVERIFIED};
use crate::profile::Profile;
use crate::result::RepoStatus;

/// Files listed per project before the rest are only counted.
const MAX_FILES: usize = 25;
/// Lines cited per rule and file.
const MAX_LINES: usize = 12;

pub(super) fn render(fleet: &Fleet, team: &Team) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Analysis for Team: {}\n", team.name);
    let mut found: Vec<&Project> = team
        .projects
        .iter()
        .filter(|p| !p.result.occurrences.is_empty())
        .collect();
    found.sort_by(|a, b| {
        b.score()
            .cmp(&a.score())
            .then(a.result.repo.cmp(&b.result.repo))
    });
    if let (Some(prof), false) = (&fleet.profile, found.is_empty()) {
        summary_table(&mut out, prof, &found);
    }
    for p in &found {
        project(&mut out, fleet, p);
    }
    let clean: Vec<_> = team
        .projects
        .iter()
        .filter(|p| p.result.status == RepoStatus::Scanned && p.result.occurrences.is_empty())
        .map(|p| p.result.repo.short())
        .collect();
    if !clean.is_empty() {
        let _ = writeln!(
            out,
            "## Projects with no occurrences\n\n{}\n",
            clean.join(", ")
        );
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
                r.repo.short(),
                r.reason.as_deref().unwrap_or("no reason recorded")
            );
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn summary_table(out: &mut String, prof: &Profile, found: &[&Project]) {
    out.push_str("| Project | Deactivable | Complexity | Production | Tests | Docs | Config | Top categories |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for p in found {
        let Some(a) = &p.analysis else { continue };
        let g = |k: &str| a.groups.get(k).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            p.result.repo.short(),
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
    let _ = writeln!(out, "## Project: {}\n", r.repo.short());
    let scanned = format!(
        "branch `{}` at commit `{}`{}",
        r.branch.as_deref().unwrap_or("unknown"),
        r.commit.as_deref().unwrap_or("unknown"),
        r.commit_time
            .map(|t| format!(" ({})", date(t)))
            .unwrap_or_default()
    );
    match (&p.analysis, &fleet.profile) {
        (Some(a), Some(prof)) => {
            let _ = writeln!(out, "- **Project:** {} ({})", r.repo.short(), r.repo);
            let _ = writeln!(out, "  - **Scanned:** {scanned}");
            let _ = writeln!(
                out,
                "  - **Is {} globally deactivable for this project:** {}",
                prof.title,
                a.verdict.as_str()
            );
            let cites: Vec<String> = a.evidence.iter().map(|&i| fleet.cite(p, i)).collect();
            let _ = writeln!(out, "    - {}: {}", capitalize(&a.reason), cites.join(", "));
            if !a.switches.is_empty() {
                let s: Vec<String> = a
                    .switches
                    .iter()
                    .take(5)
                    .map(|&i| fleet.cite(p, i))
                    .collect();
                let _ = writeln!(out, "    - Existing switches: {}", s.join(", "));
            }
            let _ = writeln!(
                out,
                "  - **Estimated complexity of the migration:** {}",
                a.score
            );
            let _ = writeln!(out, "    - {}", capitalize(level(a.score)));
            let _ = writeln!(
                out,
                "    - Factors (raw score {:.1}; {} production file{} x {}):",
                a.raw,
                a.production_files,
                if a.production_files == 1 { "" } else { "s" },
                prof.complexity.file_weight
            );
            for f in a.factors.iter().filter(|f| f.contribution > 0.0).take(8) {
                let _ = writeln!(
                    out,
                    "      - `{}` in {}: {} occurrence{}, {:.1}",
                    f.rule,
                    f.class,
                    f.count,
                    if f.count == 1 { "" } else { "s" },
                    f.contribution
                );
            }
            files(out, fleet, prof, p);
            conclusion(out, fleet, prof, p);
            if let Some(n) = &p.narrative {
                narrative(out, n);
            }
        }
        _ => {
            let _ = writeln!(out, "- **Project:** {} ({})", r.repo.short(), r.repo);
            let _ = writeln!(out, "  - **Scanned:** {scanned}");
        }
    }
    out.push_str("\nOccurrences Found:\n");
    for o in &r.occurrences {
        out.push_str(&fleet.links.line(r, o));
        out.push('\n');
    }
    out.push_str("\n***\n\n");
}

fn files(out: &mut String, fleet: &Fleet, prof: &Profile, p: &Project) {
    let a = p.analysis.as_ref().expect("analysed");
    let ordered = a.files(prof, &p.result.occurrences);
    out.push_str("  - **Files Analyzed:**\n");
    for f in ordered.iter().take(MAX_FILES) {
        let _ = writeln!(
            out,
            "    - **File:** `{}` ({})",
            f.path, prof.classes[f.class].id
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
                    "          - **Description:** {} (rule `{}`) at {}{more}",
                    prof.rules[*r].title,
                    prof.rules[*r].id,
                    lines.join(", ")
                );
            }
        }
    }
    if ordered.len() > MAX_FILES {
        let _ = writeln!(
            out,
            "    - {} more files not listed (see Occurrences Found)",
            ordered.len() - MAX_FILES
        );
    }
    let mentions = a.classified.iter().filter(|c| c.rules.is_empty()).count();
    if mentions > 0 {
        let _ = writeln!(
            out,
            "    - {mentions} occurrence{} matched no rule (plain mentions)",
            if mentions == 1 { "" } else { "s" }
        );
    }
}

fn conclusion(out: &mut String, fleet: &Fleet, prof: &Profile, p: &Project) {
    let a = p.analysis.as_ref().expect("analysed");
    let g = |k: &str| a.groups.get(k).copied().unwrap_or(0);
    out.push_str("- **Overall Conclusion:**\n");
    let _ = writeln!(
        out,
        "  - **Summary of Key Points:** {} occurrences: {} in production code ({} files), {} in tests, {} in documentation, {} in configuration and dependencies. Deactivable: {}. Complexity {}/10.",
        p.result.occurrences.len(),
        g("production"),
        a.production_files,
        g("tests"),
        g("docs"),
        g("config"),
        a.verdict.as_str(),
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
                "    - {} in production code: {} occurrence{}, first at {}",
                prof.rules[**r].title,
                idx.len(),
                if idx.len() == 1 { "" } else { "s" },
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
                "    - {} (`{}`)",
                prof.rules[r].replacement, prof.rules[r].id
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
/// a heading or an `Occurrences Found:` line), then the unverified paths.
fn narrative(out: &mut String, n: &Narrative) {
    let _ = writeln!(
        out,
        "\n### Narrative (generated by `{}`)\n",
        n.model.replace('`', "'").replace(['\n', '\r'], " ")
    );
    let _ = writeln!(
        out,
        "*Written by a language model from the findings above; not part of the grounded analysis. Paths it names that are not occurrences of this project are marked {UNVERIFIED}.*\n"
    );
    for line in n.text.lines() {
        out.push('>');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
    if !n.unverified.is_empty() {
        let list: Vec<String> = n.unverified.iter().map(|u| format!("`{u}`")).collect();
        let _ = writeln!(out, "\nUnverified paths: {}", list.join(", "));
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
