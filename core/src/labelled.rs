//! Measuring a profile against a labelled set of occurrence lines.
//!
//! The set is TSV with a header `path, text, categories, rules`; categories and rules are
//! comma-separated, `-` for none; `#` lines are comments. A row counts as correct when the
//! classifier gives exactly its category set; rule agreement is reported alongside.

use std::collections::{BTreeMap, BTreeSet};

use crate::profile::Profile;
use crate::Error;

/// One labelled line.
#[derive(Debug, Clone)]
pub struct Row {
    /// Path of the file.
    pub path: String,
    /// The stripped line.
    pub text: String,
    /// Expected category ids, sorted.
    pub categories: Vec<String>,
    /// Expected rule ids, sorted.
    pub rules: Vec<String>,
}

/// Parses the TSV.
pub fn parse(text: &str) -> Result<Vec<Row>, Error> {
    let list = |s: &str| -> Vec<String> {
        if s == "-" {
            Vec::new()
        } else {
            let mut v: Vec<String> = s.split(',').map(str::to_string).collect();
            v.sort();
            v
        }
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 4 {
            return Err(Error::Profile {
                source_name: "labelled set".into(),
                why: format!("line {}: expected 4 tab-separated fields", i + 1),
            });
        }
        rows.push(Row {
            path: f[0].into(),
            text: f[1].into(),
            categories: list(f[2]),
            rules: list(f[3]),
        });
    }
    Ok(rows)
}

/// How a profile did on a labelled set.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Rows.
    pub total: usize,
    /// Rows whose category set matched exactly.
    pub categories_correct: usize,
    /// Rows whose rule set matched exactly.
    pub rules_correct: usize,
    /// Per rule id: (true positives, false positives, false negatives).
    pub per_rule: BTreeMap<String, (usize, usize, usize)>,
    /// Per path class id of the rows' paths: (rows with the right categories, rows).
    pub per_class: BTreeMap<String, (usize, usize)>,
    /// Rows whose categories were wrong: (path, text, expected, got).
    pub misses: Vec<(String, String, String, String)>,
    /// Rows whose rule set was wrong: (path, text, expected, got).
    pub rule_misses: Vec<(String, String, String, String)>,
}

impl Evaluation {
    /// Share of rows with the right categories.
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.categories_correct as f64 / self.total as f64
        }
    }
}

/// Classifies every row with `profile` and compares.
pub fn evaluate(profile: &Profile, rows: &[Row]) -> Evaluation {
    let mut ev = Evaluation {
        total: rows.len(),
        ..Default::default()
    };
    for row in rows {
        let c = profile.classify(&row.path, &row.text);
        let mut cats: Vec<String> = profile
            .categories_of(&c)
            .into_iter()
            .map(String::from)
            .collect();
        cats.sort();
        let mut rules: Vec<String> = profile
            .rule_ids_of(&c)
            .into_iter()
            .map(String::from)
            .collect();
        rules.sort();
        let class = ev
            .per_class
            .entry(profile.classes[c.class].id.clone())
            .or_default();
        class.1 += 1;
        if cats == row.categories {
            ev.categories_correct += 1;
            class.0 += 1;
        } else {
            ev.misses.push((
                row.path.clone(),
                row.text.clone(),
                row.categories.join(","),
                cats.join(","),
            ));
        }
        if rules == row.rules {
            ev.rules_correct += 1;
        } else {
            ev.rule_misses.push((
                row.path.clone(),
                row.text.clone(),
                row.rules.join(","),
                rules.join(","),
            ));
        }
        let union: BTreeSet<&String> = rules.iter().chain(&row.rules).collect();
        for r in union {
            let e = ev.per_rule.entry(r.clone()).or_default();
            match (rules.contains(r), row.rules.contains(r)) {
                (true, true) => e.0 += 1,
                (true, false) => e.1 += 1,
                _ => e.2 += 1,
            }
        }
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventlet_profile_on_the_labelled_set() {
        let rows = parse(include_str!("../../tests/testdata/labelled.tsv")).unwrap();
        assert!(rows.len() >= 200, "{}", rows.len());
        let ev = evaluate(&Profile::eventlet(), &rows);
        for m in &ev.misses {
            eprintln!("MISS {}\t{}\texpected {}\tgot {}", m.0, m.1, m.2, m.3);
        }
        eprintln!(
            "accuracy {:.3} rules {}/{}",
            ev.accuracy(),
            ev.rules_correct,
            ev.total
        );
        // The benchmark prints the figure; this floor catches regressions.
        assert!(
            ev.accuracy() >= 0.95,
            "category accuracy {:.3}",
            ev.accuracy()
        );
    }
}
