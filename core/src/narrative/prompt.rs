//! The prompt: a template whose placeholders are filled with a project's grounded findings.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::LazyLock;

use regex::Regex;

use crate::analysis::{level, Cite};
use crate::report::escape::plural;
use crate::report::{Fleet, Project, Team};
use crate::Error;

/// The built-in prompt template (`core/profiles/narrative-prompt.txt`).
pub const DEFAULT_PROMPT: &str = include_str!("../../profiles/narrative-prompt.txt");

/// The placeholders a template may use, with what each becomes.
pub const PLACEHOLDERS: [(&str, &str); 17] = [
    ("title", "the profile's display name, e.g. Eventlet"),
    ("project", "the repository's short name, e.g. nova"),
    ("repo", "the repository, e.g. openstack/nova"),
    ("team", "the owning team"),
    ("branch", "the scanned branch"),
    ("commit", "the scanned commit"),
    ("verdict", "deactivable: Yes, No or Maybe"),
    ("reason", "why, in words"),
    (
        "evidence",
        "the occurrences the verdict rests on, one `path#Lline`: text per line",
    ),
    ("score", "the complexity, 1 to 10"),
    ("level", "what the complexity means"),
    ("factors", "the terms of the complexity score, one per line"),
    (
        "counts",
        "occurrence counts by production, tests, docs and config",
    ),
    ("categories", "occurrence counts per category, one per line"),
    (
        "files",
        "the files analysed, heaviest first, with their patterns and lines",
    ),
    (
        "recommendations",
        "the replacement advice for each rule found",
    ),
    (
        "findings",
        "all of the above as one block; the built-in template uses it",
    ),
];

/// Files and lines per rule quoted in the prompt; the rest are counted.
const PROMPT_FILES: usize = 25;
const PROMPT_LINES: usize = 5;

static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{([a-z][a-z_]*)\}").expect("valid regex"));

/// A checked prompt template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
}

impl Default for Template {
    fn default() -> Template {
        Template {
            text: DEFAULT_PROMPT.to_string(),
        }
    }
}

impl Template {
    /// Checks `text`: every `{name}` must be one of [`PLACEHOLDERS`] (other braces, as in
    /// `{"a": 1}`, are kept as they are). `source_name` names the file in errors.
    pub fn parse(source_name: &str, text: &str) -> Result<Template, Error> {
        if let Some(c) = PLACEHOLDER
            .captures_iter(text)
            .find(|c| !PLACEHOLDERS.iter().any(|(n, _)| *n == &c[1]))
        {
            return Err(Error::Prompt {
                source_name: source_name.to_string(),
                why: format!(
                    "unknown placeholder {{{}}}: use {}",
                    &c[1],
                    PLACEHOLDERS
                        .iter()
                        .map(|(n, _)| format!("{{{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        Ok(Template {
            text: text.to_string(),
        })
    }

    /// The prompt for project `p` of `team`; None when it was not analysed or has no
    /// occurrences, so there is nothing to narrate.
    pub fn render(&self, fleet: &Fleet, team: &Team, p: &Project) -> Option<String> {
        let values = findings(fleet, team, p)?;
        Some(
            PLACEHOLDER
                .replace_all(&self.text, |c: &regex::Captures| values[&c[1]].clone())
                .into_owned(),
        )
    }
}

/// The value of every placeholder for `p`.
fn findings(fleet: &Fleet, team: &Team, p: &Project) -> Option<BTreeMap<&'static str, String>> {
    let (a, prof) = (p.analysis.as_ref()?, fleet.profile.as_ref()?);
    let r = &p.result;
    if r.occurrences.is_empty() {
        return None;
    }
    let occ = &r.occurrences;
    let cite = |i: usize| format!("`{}#L{}`: {}", occ[i].path, occ[i].line, occ[i].text);
    let g = |k: &str| a.groups.get(k).copied().unwrap_or(0);

    let mut v: BTreeMap<&'static str, String> = BTreeMap::new();
    v.insert("title", prof.title.clone());
    v.insert("project", r.repo.short().to_string());
    v.insert("repo", r.repo.to_string());
    v.insert("team", team.name.to_string());
    v.insert(
        "branch",
        r.branch.clone().unwrap_or_else(|| "unknown".into()),
    );
    v.insert(
        "commit",
        r.commit.clone().unwrap_or_else(|| "unknown".into()),
    );
    v.insert("verdict", a.verdict.as_str().to_string());
    v.insert("reason", a.reason.clone());
    let evidence: Vec<String> = a
        .evidence
        .iter()
        .map(|c| match c {
            Cite::Occurrence(i) => format!("- {}", cite(*i)),
            Cite::Code(l) => format!("- `{}#L{}`: {}", l.path, l.line, l.text),
        })
        .collect();
    v.insert("evidence", evidence.join("\n"));
    v.insert("score", a.score.to_string());
    v.insert("level", level(a.score).to_string());
    let mut factors = String::new();
    for f in &a.factors {
        let _ = writeln!(factors, "- {}: {:.1}", f.label, f.contribution);
    }
    let factors = factors.trim_end().to_string();
    v.insert("factors", factors);
    v.insert(
        "counts",
        format!(
            "{} occurrences: {} in production code ({}), {} in tests, {} in documentation, {} in configuration and dependencies",
            occ.len(),
            g("production"),
            plural(a.production_files, "file"),
            g("tests"),
            g("docs"),
            g("config")
        ),
    );
    let categories: Vec<String> = prof
        .categories
        .iter()
        .filter_map(|c| {
            a.categories
                .get(&c.id)
                .map(|n| format!("- {}: {n}", c.title))
        })
        .collect();
    v.insert("categories", categories.join("\n"));
    let all_files = a.files(prof, occ);
    let mut files = String::new();
    for f in all_files.iter().take(PROMPT_FILES) {
        let _ = writeln!(files, "- `{}` ({})", f.path, prof.classes[f.class].id);
        for (ci, rules) in &f.patterns {
            for (ri, idx) in rules {
                let rule = &prof.rules[*ri];
                let _ = writeln!(
                    files,
                    "  - {}: {} (rule `{}`)",
                    prof.categories[*ci].title, rule.title, rule.id
                );
                for &i in idx.iter().take(PROMPT_LINES) {
                    let _ = writeln!(files, "    - {}", cite(i));
                }
                if idx.len() > PROMPT_LINES {
                    let _ = writeln!(files, "    - and {} more lines", idx.len() - PROMPT_LINES);
                }
            }
        }
    }
    if all_files.len() > PROMPT_FILES {
        let _ = writeln!(files, "- and {} more files", all_files.len() - PROMPT_FILES);
    }
    v.insert("files", files.trim_end().to_string());
    let recs: Vec<String> = a
        .rules_found(prof)
        .into_iter()
        .map(|r| format!("- `{}`: {}", prof.rules[r].id, prof.rules[r].replacement))
        .collect();
    v.insert("recommendations", recs.join("\n"));
    let all = format!(
        "Is {title} globally deactivable: {verdict}. {reason}.\nEvidence:\n{evidence}\n\n\
         Estimated migration complexity: {score}/10 ({level}); raw score {raw:.1}.\nFactors:\n{factors}\n\n\
         {counts}.\nCategories:\n{categories}\n\n\
         Files analysed, heaviest first:\n{files}\n\nRecommendations:\n{recommendations}",
        title = v["title"],
        verdict = v["verdict"],
        reason = capitalize(&v["reason"]),
        evidence = v["evidence"],
        score = v["score"],
        level = v["level"],
        raw = a.raw,
        factors = v["factors"],
        counts = v["counts"],
        categories = v["categories"],
        files = v["files"],
        recommendations = v["recommendations"],
    );
    v.insert("findings", all);
    Some(v)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::Governance;
    use crate::link::LinkOptions;
    use crate::narrative::tests::result;
    use crate::profile::Profile;

    fn fleet() -> Fleet {
        let gov = Governance::default();
        let links = LinkOptions::default();
        Fleet::build(vec![result()], &gov, links, Some(Profile::eventlet()))
    }

    #[test]
    fn prompt_carries_the_grounded_findings() {
        let f = fleet();
        let (t, p) = (&f.teams[0], &f.teams[0].projects[0]);
        let prompt = Template::default().render(&f, t, p).unwrap();
        for needle in [
            "openstack/storage (team Unknown Team)",
            "branch master at commit abc123",
            "Is Eventlet globally deactivable: No. 1 of 1 `monkey_patch` call in production code runs with no switch guarding it",
            "- `storage/__init__.py#L3`: eventlet.monkey_patch()  # noqa",
            "Estimated migration complexity: ",
            "- `monkey_patch` (monkey patching) in production code: 1 distinct call site x 8: 8.0",
            "4 occurrences: 2 in production code (2 files), 1 in tests, 0 in documentation, 1 in configuration",
            "- Green Threads and GreenPool: ",
            "- `storage/backup/manager.py` (production)",
            "    - `storage/backup/manager.py#L1`: from eventlet import greenthread",
            "- `monkey_patch`: Drop `eventlet.monkey_patch()`",
        ] {
            assert!(prompt.contains(needle), "{needle:?} missing from:\n{prompt}");
        }
        assert!(!PLACEHOLDER.is_match(&prompt), "{prompt}");
        // Placeholders are replaced once: a value holding braces stays as it is.
        let t2 = Template::parse("p", "{project}|{verdict}|{score}|{\"json\": 1}").unwrap();
        let s = t2.render(&f, t, p).unwrap();
        assert!(
            s.starts_with("storage|No|") && s.ends_with("|{\"json\": 1}"),
            "{s}"
        );
        // Not analysed, or nothing found: no prompt.
        let mut bare = fleet();
        bare.teams[0].projects[0].analysis = None;
        assert!(Template::default()
            .render(&bare, &bare.teams[0], &bare.teams[0].projects[0])
            .is_none());
    }

    #[test]
    fn unknown_placeholders_are_rejected_with_the_known_ones() {
        let e = Template::parse("p.txt", "Hi {findngs}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.txt") && e.contains("{findngs}") && e.contains("{findings}"),
            "{e}"
        );
        assert!(Template::parse("builtin", DEFAULT_PROMPT).is_ok());
    }
}
