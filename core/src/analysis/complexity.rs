//! The complexity score: how hard the migration is, not how many lines mention it.
//!
//! Lines are counted once per distinct change: occurrences with the same text in the same
//! file are one site (35 identical `tpool.Proxy(...)` lines in one driver are one change).
//! Each factor is a count times a weight, said in words, and the raw score is exactly their
//! sum (each factor is rounded to one decimal before summing, so what the report prints adds
//! up):
//! - per rule, the distinct production sites whose heaviest rule it is, times the rule's weight;
//! - tests: their distinct lines per file, each its heaviest rule's weight times its path
//!   class weight; configuration and documentation: their distinct texts, one edit each times
//!   the path class weight;
//! - call sites reached through imported names, which the pattern does not match;
//! - services that patch: unconditionally, or behind a switch;
//! - the categories production code is in, each a different kind of change.
//!
//! `score = 1 + round(9 x (1 - e^(-raw / scale)))`, a curve that keeps a handful of changes
//! near the bottom and never passes 10.

use std::collections::{BTreeMap, BTreeSet};

use crate::code::facts::{Line, ServicePatching};
use crate::profile::Complexity;
use crate::report::escape::plural;

use super::verdict::Facts;

/// One term of the complexity sum, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// What is counted and its weight, e.g. "`tpool` in production code: 2 distinct call
    /// sites (of 37 lines) x 4".
    pub label: String,
    /// Its part of the raw score, rounded to one decimal.
    pub contribution: f64,
}

/// The score and its factors.
#[derive(Debug, Clone)]
pub struct Score {
    /// 1..10.
    pub score: u8,
    /// The exact sum of the factors.
    pub raw: f64,
    /// Non-zero terms, largest first.
    pub factors: Vec<Factor>,
    /// Distinct production call sites.
    pub production_sites: usize,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn fmt_weight(w: f64) -> String {
    let s = format!("{w:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The site key of an occurrence: its file and its text with white space collapsed.
fn site(path: &str, text: &str) -> (String, String) {
    (
        path.to_string(),
        text.split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

pub(super) fn score(f: &Facts, related: &[Line], c: &Complexity) -> Score {
    let p = f.profile;
    let mut factors: Vec<Factor> = Vec::new();
    let mut push = |label: String, x: f64| {
        let contribution = round1(x);
        if contribution > 0.0 {
            factors.push(Factor {
                label,
                contribution,
            });
        }
    };

    // Production: one factor per rule, distinct sites.
    let mut by_rule: BTreeMap<usize, (BTreeSet<(String, String)>, usize)> = BTreeMap::new();
    let mut categories: BTreeSet<&str> = BTreeSet::new();
    for i in 0..f.occ.len() {
        if !f.is_production_use(i) {
            continue;
        }
        categories.extend(p.categories_of(&f.classified[i]));
        if let Some(r) = p.heaviest(&f.classified[i]) {
            let e = by_rule.entry(r).or_default();
            e.0.insert(site(&f.occ[i].path, &f.occ[i].text));
            e.1 += 1;
        }
    }
    categories.remove("docs");
    let mut production_sites = 0;
    for (r, (sites, lines)) in &by_rule {
        let rule = &p.rules[*r];
        let d = sites.len();
        production_sites += d;
        let of = if *lines > d {
            format!(" (of {lines} lines)")
        } else {
            String::new()
        };
        push(
            format!(
                "`{}` ({}) in production code: {}{of} x {}",
                rule.id,
                rule.title,
                plural(d, "distinct call site"),
                fmt_weight(rule.weight)
            ),
            d as f64 * rule.weight,
        );
    }

    // Tests: distinct lines per file, each its API's weight x the class weight (a test of a
    // green pool needs more rework than one of a sleep). Configuration and documentation:
    // distinct texts across files, one edit each x the class weight, since a logger stanza or
    // a sentence repeated in many files is one mechanical change.
    for (group, words) in [
        ("tests", "tests"),
        ("config", "configuration and dependencies"),
        ("docs", "documentation, release notes and translations"),
    ] {
        let per_file = group == "tests";
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let (mut lines, mut sum) = (0usize, 0.0);
        let mut weights: BTreeSet<String> = BTreeSet::new();
        for i in 0..f.occ.len() {
            let class = &p.classes[f.classified[i].class];
            if class.group != group {
                continue;
            }
            lines += 1;
            let path = if per_file { f.occ[i].path.as_str() } else { "" };
            if seen.insert(site(path, &f.occ[i].text)) {
                sum += if per_file {
                    p.cost(&f.classified[i])
                } else if p.heaviest(&f.classified[i]).is_some() {
                    class.weight
                } else {
                    0.0
                };
                weights.insert(format!("{} {}", class.id, fmt_weight(class.weight)));
            }
        }
        if seen.is_empty() {
            continue;
        }
        let of = if lines > seen.len() {
            format!(" (of {lines})")
        } else {
            String::new()
        };
        let (what, each) = if per_file {
            ("distinct line", "each its rule's weight x")
        } else {
            ("distinct text", "each one edit x")
        };
        push(
            format!(
                "{words}: {}{of}, {each} its path class weight ({})",
                plural(seen.len(), what),
                weights.into_iter().collect::<Vec<_>>().join(", ")
            ),
            sum,
        );
    }

    let related: BTreeSet<(String, String)> =
        related.iter().map(|l| site(&l.path, &l.text)).collect();
    if !related.is_empty() {
        push(
            format!(
                "{} reached through imported names (without the word) x {}",
                plural(related.len(), "call site"),
                fmt_weight(c.related_weight)
            ),
            related.len() as f64 * c.related_weight,
        );
    }

    let services = &f.code.services;
    let count = |w: ServicePatching| services.iter().filter(|s| s.patching == w).count();
    let (always, switched) = (
        count(ServicePatching::Always),
        count(ServicePatching::Switchable),
    );
    if always + switched > 0 {
        push(
            format!(
                "services that patch: {always} unconditionally x {}, {switched} behind a switch x {}",
                fmt_weight(c.service_weight),
                fmt_weight(c.switched_service_weight)
            ),
            always as f64 * c.service_weight + switched as f64 * c.switched_service_weight,
        );
    }
    if !categories.is_empty() {
        let titles: Vec<&str> = p
            .categories
            .iter()
            .filter(|x| categories.contains(x.id.as_str()))
            .map(|x| x.title.as_str())
            .collect();
        push(
            format!(
                "kinds of change in production code: {} ({}) x {}",
                titles.len(),
                titles.join("; "),
                fmt_weight(c.category_weight)
            ),
            titles.len() as f64 * c.category_weight,
        );
    }

    factors.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then(a.label.cmp(&b.label))
    });
    // Folded from +0.0: an empty float sum is -0.0, which would print as "-0.0".
    let raw = round1(factors.iter().fold(0.0, |s, x| s + x.contribution));
    let score = if f.occ.is_empty() {
        1
    } else {
        (1 + (9.0 * (1.0 - (-raw / c.scale).exp())).round() as u8).min(10)
    };
    Score {
        score,
        raw,
        factors,
        production_sites,
    }
}
