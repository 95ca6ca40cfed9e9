//! The grounded analysis of one project: every verdict and factor is computed from classified
//! occurrences and cites them, so the same input always gives the same analysis.
//!
//! - **Deactivable** (Yes / No / Maybe), decided in this order:
//!   1. no occurrence in production code matches a code rule: **Yes**;
//!   2. a blocker (monkey patching, the WSGI server) in production code that no switch guards:
//!      **No**; a switch guards a blocker when a switch occurrence (an env var or config
//!      option whose text says disable / threading / native / backend) is in the same file
//!      within `conditional_window` lines above it;
//!   3. otherwise **Maybe**: production code uses the APIs, but nothing forces the runtime
//!      (or every forcing call is behind a switch).
//! - **Complexity** 1..10: `raw = sum(max rule weight x path class weight) + file_weight x
//!   production files`, `score = 1 + round(9 x (1 - exp(-raw / scale)))`. The saturating
//!   curve keeps one-off mentions near 1 and large services near 10 without a hard cap.

use std::collections::{BTreeMap, BTreeSet};

use crate::classify::{classify_all, Related};
use crate::code::CodeFacts;
use crate::profile::{Classified, Profile};
use crate::result::Occurrence;

/// Yes / No / Maybe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing in production code needs it.
    Yes,
    /// Production code forces it unconditionally.
    No,
    /// Production code uses it, but nothing forces it or a switch exists.
    Maybe,
}

impl Verdict {
    /// As reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Yes => "Yes",
            Verdict::No => "No",
            Verdict::Maybe => "Maybe",
        }
    }
}

/// One term of the complexity sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// Rule id (or `mention`).
    pub rule: String,
    /// Path class id.
    pub class: String,
    /// Occurrences counted.
    pub count: usize,
    /// Their contribution to the raw score.
    pub contribution: f64,
}

/// The analysis of one project.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// One classification per occurrence, in occurrence order.
    pub classified: Vec<Classified>,
    /// Call sites reached through imported names on lines without the pattern.
    pub related: Vec<Related>,
    /// Deactivation verdict.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
    /// Occurrences (indexes) the verdict rests on.
    pub evidence: Vec<usize>,
    /// Switch occurrences found (indexes).
    pub switches: Vec<usize>,
    /// 1..10.
    pub score: u8,
    /// The raw sum behind the score.
    pub raw: f64,
    /// Terms of the sum, largest first.
    pub factors: Vec<Factor>,
    /// Production files using the pattern.
    pub production_files: usize,
    /// Occurrence counts per path class group (production, tests, docs, config).
    pub groups: BTreeMap<String, usize>,
    /// Occurrence counts per category id.
    pub categories: BTreeMap<String, usize>,
}

/// Analyses the occurrences of one project (sorted by path and line), with the facts its
/// scan gathered about their files.
pub fn analyze(profile: &Profile, occ: &[Occurrence], facts: &CodeFacts) -> Analysis {
    let classification = classify_all(profile, occ, facts);
    let classified = classification.classified;
    let is_prod = |c: &Classified| profile.classes[c.class].id == "production";
    let docs = profile.classification.docs_category;
    let code_use = |c: &Classified| c.categories.iter().any(|&k| k != docs);
    let d = &profile.deactivation;
    let has_rule = |c: &Classified, ids: &[String]| {
        c.rules.iter().any(|&r| ids.contains(&profile.rules[r].id))
    };

    let switches: Vec<usize> = (0..occ.len())
        .filter(|&i| {
            has_rule(&classified[i], &d.switch_rules) && d.switch_regex.is_match(&occ[i].text)
        })
        .collect();
    let prod_use: Vec<usize> = (0..occ.len())
        .filter(|&i| is_prod(&classified[i]) && code_use(&classified[i]))
        .collect();
    let guarded = |i: usize| {
        switches.iter().any(|&s| {
            occ[s].path == occ[i].path
                && occ[s].line < occ[i].line
                && occ[i].line - occ[s].line <= d.conditional_window
        })
    };
    let blockers: Vec<usize> = prod_use
        .iter()
        .copied()
        .filter(|&i| has_rule(&classified[i], &d.blocker_rules))
        .collect();
    let unguarded: Vec<usize> = blockers.iter().copied().filter(|&i| !guarded(i)).collect();

    let (verdict, reason, evidence) = if prod_use.is_empty() {
        let others: Vec<usize> = (0..occ.len()).take(3).collect();
        (Verdict::Yes, "no production code uses it; the occurrences are in tests, documentation or configuration".to_string(), others)
    } else if !unguarded.is_empty() {
        (Verdict::No, "production code forces it unconditionally (monkey patching or its WSGI server, with no switch guarding the call)".to_string(), unguarded.iter().copied().take(5).collect())
    } else if !blockers.is_empty() {
        let mut ev: Vec<usize> = blockers.iter().copied().take(3).collect();
        ev.extend(switches.iter().copied().take(2));
        (Verdict::Maybe, "every call that forces it is behind a switch, so the service can start without it; the APIs it uses still need replacing".to_string(), ev)
    } else {
        (Verdict::Maybe, "production code uses its APIs but nothing here monkey patches the runtime or runs its WSGI server; the APIs need replacing before it can go".to_string(), prod_use.iter().copied().take(5).collect())
    };

    // Complexity.
    let mut terms: BTreeMap<(String, String), (usize, f64)> = BTreeMap::new();
    let mut raw = 0.0;
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    for c in &classified {
        let class = &profile.classes[c.class];
        *groups.entry(class.group.clone()).or_default() += 1;
        for cat in profile.categories_of(c) {
            *categories.entry(cat.to_string()).or_default() += 1;
        }
        let rule = profile
            .heaviest(c)
            .map_or("mention", |r| profile.rules[r].id.as_str())
            .to_string();
        let contribution = profile.cost(c);
        raw += contribution;
        let t = terms.entry((rule, class.id.clone())).or_default();
        t.0 += 1;
        t.1 += contribution;
    }
    let production_files = prod_use
        .iter()
        .map(|&i| &occ[i].path)
        .collect::<BTreeSet<_>>()
        .len();
    raw += profile.complexity.file_weight * production_files as f64;
    let score = if occ.is_empty() {
        1
    } else {
        1 + (9.0 * (1.0 - (-raw / profile.complexity.scale).exp())).round() as u8
    };
    let mut factors: Vec<Factor> = terms
        .into_iter()
        .map(|((rule, class), (count, contribution))| Factor {
            rule,
            class,
            count,
            contribution,
        })
        .collect();
    factors.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then(a.rule.cmp(&b.rule))
            .then(a.class.cmp(&b.class))
    });
    Analysis {
        classified,
        related: classification.related,
        verdict,
        reason,
        evidence,
        switches,
        score: score.min(10),
        raw,
        factors,
        production_files,
        groups,
        categories,
    }
}

/// The patterns found in one file: what "Files Analyzed" lists and the narrative prompt quotes.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFindings<'a> {
    /// Path in the tree.
    pub path: &'a str,
    /// Index into [`Profile::classes`].
    pub class: usize,
    /// Category index -> rule index -> occurrence indexes, in profile and line order.
    pub patterns: BTreeMap<usize, BTreeMap<usize, Vec<usize>>>,
}

impl Analysis {
    /// The files where a rule matched, heaviest first (summed occurrence cost), then by path.
    /// `occ` are the occurrences this analysis was made from.
    pub fn files<'a>(&self, profile: &Profile, occ: &'a [Occurrence]) -> Vec<FileFindings<'a>> {
        let mut by_file: BTreeMap<&str, (f64, FileFindings<'a>)> = BTreeMap::new();
        for (i, c) in self.classified.iter().enumerate() {
            let path = occ[i].path.as_str();
            let e = by_file.entry(path).or_insert_with(|| {
                let f = FileFindings {
                    path,
                    class: c.class,
                    patterns: BTreeMap::new(),
                };
                (0.0, f)
            });
            e.0 += profile.cost(c);
            // Each category of the line lists the rules that give it, or (for an import that
            // takes what it serves, or a test line) the line's heaviest rule.
            for &ci in &c.categories {
                let cat = &profile.categories[ci].id;
                let mut giving: Vec<usize> = c
                    .rules
                    .iter()
                    .copied()
                    .filter(|&r| profile.rules[r].categories.contains(cat))
                    .collect();
                if giving.is_empty() {
                    giving.extend(profile.heaviest(c).or(c.rules.first().copied()));
                }
                for r in giving {
                    e.1.patterns
                        .entry(ci)
                        .or_default()
                        .entry(r)
                        .or_default()
                        .push(i);
                }
            }
        }
        let mut ordered: Vec<(f64, FileFindings)> = by_file
            .into_values()
            .filter(|(_, f)| !f.patterns.is_empty())
            .collect();
        ordered.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.path.cmp(b.1.path)));
        ordered.into_iter().map(|(_, f)| f).collect()
    }

    /// The rules that matched at least one occurrence, in profile order, one per rule id
    /// (several profile entries may share an id): what the recommendations are made of.
    pub fn rules_found(&self, profile: &Profile) -> Vec<usize> {
        let mut seen: Vec<&str> = Vec::new();
        let mut found = Vec::new();
        for (r, rule) in profile.rules.iter().enumerate() {
            if seen.contains(&rule.id.as_str())
                || !self.classified.iter().any(|c| c.rules.contains(&r))
            {
                continue;
            }
            seen.push(&rule.id);
            found.push(r);
        }
        found
    }
}

/// What a complexity level means (the scale maintainers know).
pub fn level(score: u8) -> &'static str {
    match score {
        0..=3 => "simple: a few mechanical changes",
        4..=7 => "moderate: significant refactoring",
        _ => "complex: extensive changes across the codebase",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(path: &str, line: u32, text: &str) -> Occurrence {
        Occurrence {
            path: path.into(),
            line,
            text: text.into(),
        }
    }

    #[test]
    fn docs_and_tests_only_is_yes_and_scores_low() {
        let p = Profile::eventlet();
        let a = analyze(
            &p,
            &[
                occ("doc/source/a.rst", 1, "eventlet is used"),
                occ("x/tests/test_a.py", 3, "@mock.patch('eventlet.sleep')"),
            ],
            &CodeFacts::default(),
        );
        assert_eq!(a.verdict, Verdict::Yes);
        assert_eq!(a.score, 1);
    }

    #[test]
    fn unconditional_monkey_patch_is_no() {
        let p = Profile::eventlet();
        let a = analyze(
            &p,
            &[occ("svc/cmd/__init__.py", 3, "eventlet.monkey_patch()")],
            &CodeFacts::default(),
        );
        assert_eq!(a.verdict, Verdict::No);
        assert_eq!(a.evidence, vec![0]);
    }

    #[test]
    fn a_switch_just_above_makes_monkey_patch_conditional() {
        let p = Profile::eventlet();
        let o = [
            occ(
                "svc/cmd/__init__.py",
                10,
                "if os.environ.get('OS_SVC_DISABLE_EVENTLET_PATCHING'):",
            ),
            occ("svc/cmd/__init__.py", 11, "eventlet.monkey_patch()"),
        ];
        let a = analyze(&p, &o, &CodeFacts::default());
        assert_eq!(a.verdict, Verdict::Maybe, "{}", a.reason);
        assert_eq!(a.switches, vec![0]);
        // Too far above: not a guard.
        let far = [
            o[0].clone(),
            occ("svc/cmd/__init__.py", 40, "eventlet.monkey_patch()"),
        ];
        assert_eq!(
            analyze(&p, &far, &CodeFacts::default()).verdict,
            Verdict::No
        );
    }

    #[test]
    fn api_use_without_blockers_is_maybe() {
        let p = Profile::eventlet();
        let a = analyze(
            &p,
            &[occ("lib/pool.py", 1, "pool = eventlet.GreenPool()")],
            &CodeFacts::default(),
        );
        assert_eq!(a.verdict, Verdict::Maybe);
    }

    #[test]
    fn complexity_edges() {
        let p = Profile::eventlet();
        assert_eq!(analyze(&p, &[], &CodeFacts::default()).score, 1);
        let many: Vec<Occurrence> = (0..2000)
            .map(|i| occ(&format!("svc/m{i}.py"), 1, "eventlet.monkey_patch()"))
            .collect();
        let a = analyze(&p, &many, &CodeFacts::default());
        assert_eq!(a.score, 10);
        let few = analyze(&p, &many[..3], &CodeFacts::default());
        assert!(few.score > 1 && few.score < a.score, "{}", few.score);
        // Weights: one production GreenPool outweighs many doc mentions.
        let docs: Vec<Occurrence> = (0..50)
            .map(|i| occ("doc/a.rst", i + 1, "eventlet"))
            .collect();
        let prod = analyze(
            &p,
            &[occ("svc/a.py", 1, "eventlet.GreenPool()")],
            &CodeFacts::default(),
        );
        assert!(prod.raw > analyze(&p, &docs, &CodeFacts::default()).raw);
    }
}
