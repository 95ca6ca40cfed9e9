//! Analysis profiles: the rules that classify occurrences, as data.
//!
//! A profile (TOML) names the patterns of a migration, the path classes (production code,
//! tests, docs, ...), the categories reports group by, the rules that put an occurrence into
//! categories, the deactivation signals and the complexity weights. The Eventlet profile is
//! built in; `--profile FILE` loads another, so the next migration needs a file, not code.

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::Deserialize;

use crate::Error;

/// The built-in Eventlet profile.
pub const EVENTLET: &str = include_str!("../profiles/eventlet.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    title: String,
    patterns: Vec<String>,
    categories: Vec<Category>,
    path_classes: Vec<RawClass>,
    rules: Vec<RawRule>,
    deactivation: Deactivation,
    complexity: Complexity,
}

/// A report category, such as "Green Threads and GreenPool".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Identifier used by rules and in `occurrences.ndjson`.
    pub id: String,
    /// Heading in reports.
    pub title: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    id: String,
    globs: Vec<String>,
    weight: f64,
    group: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: String,
    categories: Vec<String>,
    regex: String,
    #[serde(default)]
    not_regex: Option<String>,
    #[serde(default)]
    strings: bool,
    #[serde(default)]
    comment: bool,
    #[serde(default)]
    exclusive: bool,
    #[serde(default)]
    classes: Option<Vec<String>>,
    weight: f64,
    replacement: String,
}

/// What forces the runtime on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deactivation {
    /// Rules whose uses force the runtime on (SARIF reports them as warnings). The verdict
    /// itself rests on the code facts, not on these.
    pub blocker_rules: Vec<String>,
}

/// Parameters of the complexity formula.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complexity {
    /// Raw score at which the scale is about 63% of the way from 1 to 10.
    pub scale: f64,
    /// Per service (console or WSGI script) that patches unconditionally.
    pub service_weight: f64,
    /// Per service that patches only behind a switch.
    pub switched_service_weight: f64,
    /// Per category of change production code is in.
    pub category_weight: f64,
    /// Per distinct call site reached through an imported name.
    pub related_weight: f64,
}

/// A path class with its weight.
#[derive(Debug, Clone)]
pub struct PathClass {
    /// Identifier (`production`, `tests`, ...).
    pub id: String,
    /// Weight of one occurrence in this class towards complexity.
    pub weight: f64,
    /// Column in the team table: production, tests, docs or config.
    pub group: String,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Identifier, in `occurrences.ndjson` and reports.
    pub id: String,
    /// Human name.
    pub title: String,
    /// Category ids it puts an occurrence into.
    pub categories: Vec<String>,
    /// Cost of one occurrence towards complexity.
    pub weight: f64,
    /// Advice when found in production code.
    pub replacement: String,
    regex: Regex,
    not_regex: Option<Regex>,
    strings: bool,
    comment: bool,
    exclusive: bool,
    classes: Vec<String>,
}

/// A compiled profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Short name, e.g. `eventlet`.
    pub name: String,
    /// Display name, e.g. `Eventlet`.
    pub title: String,
    /// Patterns searched when none are given on the command line.
    pub patterns: Vec<String>,
    /// Categories in report order.
    pub categories: Vec<Category>,
    /// Path classes in match order.
    pub classes: Vec<PathClass>,
    /// Rules in profile order.
    pub rules: Vec<Rule>,
    /// What forces the runtime on.
    pub deactivation: Deactivation,
    /// Complexity parameters.
    pub complexity: Complexity,
    globs: Vec<GlobSet>,
}

/// How one occurrence was classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// Index into [`Profile::classes`].
    pub class: usize,
    /// Indexes into [`Profile::rules`]; empty means a plain mention.
    pub rules: Vec<usize>,
}

const CODE_CLASSES: [&str; 4] = ["production", "tests", "ci_config", "requirements"];

impl Profile {
    /// The built-in Eventlet profile.
    pub fn eventlet() -> Profile {
        Profile::from_toml("built-in eventlet profile", EVENTLET)
            .expect("built-in profile is valid")
    }

    /// The profile a user named: `none` (no analysis), `eventlet` (built in), or the TOML
    /// `text` of the file `name`. Both modes of running a scan choose the profile here.
    pub fn named(name: &str, text: Option<&str>) -> Result<Option<Profile>, Error> {
        match (name, text) {
            ("none", None) => Ok(None),
            ("eventlet", None) => Ok(Some(Profile::eventlet())),
            (name, Some(text)) => Profile::from_toml(name, text).map(Some),
            (name, None) => Err(Error::Profile {
                source_name: name.to_string(),
                why: "not built in and came without its text: give `eventlet`, `none` or a TOML profile file".into(),
            }),
        }
    }

    /// Whether `name` is one that [`Profile::named`] knows without a file.
    pub fn is_builtin_name(name: &str) -> bool {
        matches!(name, "none" | "eventlet")
    }

    /// Parses and checks a profile; `source` names it in errors.
    pub fn from_toml(source: &str, text: &str) -> Result<Profile, Error> {
        let bad = |why: String| Error::Profile {
            source_name: source.to_string(),
            why,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let re = |what: &str, p: &str| {
            Regex::new(p).map_err(|e| {
                bad(format!(
                    "{what}: invalid regex {p:?}: {}",
                    crate::error::regex_reason(&e)
                ))
            })
        };
        let mut classes = Vec::new();
        let mut globs = Vec::new();
        for c in raw.path_classes {
            let mut b = GlobSetBuilder::new();
            for g in &c.globs {
                b.add(Glob::new(g).map_err(|e| bad(format!("path class {}: {e}", c.id)))?);
            }
            globs.push(
                b.build()
                    .map_err(|e| bad(format!("path class {}: {e}", c.id)))?,
            );
            classes.push(PathClass {
                id: c.id,
                weight: c.weight,
                group: c.group,
            });
        }
        if classes.is_empty() {
            return Err(bad("no path_classes".into()));
        }
        let known_cat = |id: &str| raw.categories.iter().any(|c| c.id == id);
        let known_class = |id: &str| classes.iter().any(|c| c.id == id);
        let mut rules = Vec::new();
        for r in raw.rules {
            if let Some(c) = r.categories.iter().find(|c| !known_cat(c)) {
                return Err(bad(format!("rule {}: unknown category {c:?}", r.id)));
            }
            let rule_classes = r
                .classes
                .unwrap_or_else(|| CODE_CLASSES.map(String::from).to_vec());
            if let Some(c) = rule_classes.iter().find(|c| !known_class(c)) {
                return Err(bad(format!("rule {}: unknown path class {c:?}", r.id)));
            }
            rules.push(Rule {
                regex: re(&format!("rule {}", r.id), &r.regex)?,
                not_regex: r
                    .not_regex
                    .as_deref()
                    .map(|p| re(&format!("rule {}", r.id), p))
                    .transpose()?,
                id: r.id,
                title: r.title,
                categories: r.categories,
                weight: r.weight,
                replacement: r.replacement,
                strings: r.strings,
                comment: r.comment,
                exclusive: r.exclusive,
                classes: rule_classes,
            });
        }
        if let Some(id) = raw
            .deactivation
            .blocker_rules
            .iter()
            .find(|id| !rules.iter().any(|r| &r.id == *id))
        {
            return Err(bad(format!("deactivation names unknown rule {id:?}")));
        }
        Ok(Profile {
            name: raw.name,
            title: raw.title,
            patterns: raw.patterns,
            categories: raw.categories,
            classes,
            rules,
            deactivation: raw.deactivation,
            complexity: raw.complexity,
            globs,
        })
    }

    /// The path class of `path` (first match; the last class should match everything).
    pub fn class_of(&self, path: &str) -> usize {
        self.globs
            .iter()
            .position(|g| g.is_match(path))
            .unwrap_or(self.classes.len() - 1)
    }

    /// Classifies one occurrence line (`text` already stripped) in `path`.
    pub fn classify(&self, path: &str, text: &str) -> Classified {
        let class = self.class_of(path);
        let class_id = self.classes[class].id.as_str();
        let in_code = CODE_CLASSES.contains(&class_id);
        let comment = is_comment(text);
        let code = code_part(text, true);
        let uncommented = code_part(text, false);
        let mut rules: Vec<usize> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.classes.iter().any(|c| c == class_id))
            .filter(|(_, r)| r.comment == comment || (!r.comment && !in_code))
            .filter(|(_, r)| {
                let subject = match (in_code && !r.comment, r.strings) {
                    (false, _) => text,
                    (true, true) => uncommented.as_str(),
                    (true, false) => code.as_str(),
                };
                r.regex.is_match(subject)
                    && !r.not_regex.as_ref().is_some_and(|n| n.is_match(subject))
            })
            .map(|(i, _)| i)
            .collect();
        if let Some(&x) = rules.iter().find(|&&i| self.rules[i].exclusive) {
            rules = vec![x];
        }
        Classified { class, rules }
    }

    /// The rule that prices an occurrence: the first of its rules with the highest positive
    /// weight; None for plain mentions and weightless rules.
    pub fn heaviest(&self, c: &Classified) -> Option<usize> {
        c.rules
            .iter()
            .copied()
            .fold(None, |best: Option<usize>, r| match best {
                Some(b) if self.rules[r].weight <= self.rules[b].weight => Some(b),
                _ if self.rules[r].weight > 0.0 => Some(r),
                _ => best,
            })
    }

    /// What one occurrence adds to the complexity sum: its heaviest rule's weight times its
    /// path class weight.
    pub fn cost(&self, c: &Classified) -> f64 {
        self.heaviest(c).map_or(0.0, |r| self.rules[r].weight) * self.classes[c.class].weight
    }

    /// Category ids of a classification, in profile order, without repeats.
    pub fn categories_of(&self, c: &Classified) -> Vec<&str> {
        self.categories
            .iter()
            .filter(|cat| {
                c.rules
                    .iter()
                    .any(|&r| self.rules[r].categories.contains(&cat.id))
            })
            .map(|cat| cat.id.as_str())
            .collect()
    }

    /// Rule ids of a classification; `mention` when no rule matched.
    pub fn rule_ids_of(&self, c: &Classified) -> Vec<&str> {
        if c.rules.is_empty() {
            return vec!["mention"];
        }
        let mut ids: Vec<&str> = Vec::new();
        for &r in &c.rules {
            if !ids.contains(&self.rules[r].id.as_str()) {
                ids.push(&self.rules[r].id);
            }
        }
        ids
    }
}

/// A comment or docstring line: starts with `#`, triple quotes, or a Sphinx field
/// (`:param x:`), which only docstrings hold.
fn is_comment(text: &str) -> bool {
    text.starts_with('#')
        || text.starts_with("\"\"\"")
        || text.starts_with("'''")
        || [":param ", ":returns:", ":raises ", ":type ", ":rtype:"]
            .iter()
            .any(|p| text.starts_with(p))
}

/// The code of a line: trailing `#` comment cut and, with `blank_strings`, string literal
/// contents blanked, so that a log message or a comment naming an API does not count as
/// using it.
fn code_part(text: &str, blank_strings: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                    out.push(if blank_strings { ' ' } else { ch });
                } else if ch == '\\' {
                    escaped = true;
                    out.push(if blank_strings { ' ' } else { ch });
                } else if ch == q {
                    quote = None;
                    out.push(ch);
                } else {
                    out.push(if blank_strings { ' ' } else { ch });
                }
            }
            None => match ch {
                '\'' | '"' => {
                    quote = Some(ch);
                    out.push(ch);
                }
                '#' => break,
                _ => out.push(ch),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_part_blanks_strings_and_cuts_comments() {
        assert_eq!(
            code_part(r#"LOG.info("eventlet.spawn") # x"#, true),
            r#"LOG.info("              ") "#
        );
        assert_eq!(code_part("a = 'it\\'s' # c", true), "a = '     ' ");
        assert_eq!(code_part("p('#x') # c", false), "p('#x') ");
    }

    #[test]
    fn builtin_profile_classifies() {
        let p = Profile::eventlet();
        let ids = |path: &str, text: &str| p.rule_ids_of(&p.classify(path, text)).join(",");
        assert_eq!(
            ids("nova/cmd/__init__.py", "eventlet.monkey_patch()"),
            "monkey_patch"
        );
        assert_eq!(
            ids("nova/a.py", "from eventlet import greenpool"),
            "greenpool,import"
        );
        assert_eq!(
            ids(
                "nova/a.py",
                "LOG.warning('eventlet.monkey_patch() was called')"
            ),
            "mention"
        );
        assert_eq!(
            ids("doc/source/a.rst", "eventlet.monkey_patch()"),
            "doc_mention"
        );
        assert_eq!(ids("nova/a.py", "# eventlet is slow"), "comment_mention");
        assert_eq!(
            ids("requirements.txt", "eventlet>=0.30.1 # MIT"),
            "dependency"
        );
        assert_eq!(
            p.classes[p.class_of("nova/locale/de/LC_MESSAGES/nova.po")].id,
            "translations"
        );
        assert_eq!(
            p.classes[p.class_of("nova/tests/unit/test_a.py")].id,
            "tests"
        );
        assert_eq!(
            p.classes[p.class_of("nova/compute/manager.py")].id,
            "production"
        );
        assert_eq!(
            p.classes[p.class_of("tools/load_generator.py")].id,
            "ci_config"
        );
        assert_eq!(p.classes[p.class_of("CHANGELOG")].id, "docs");
        // Assigning a stub is not monkey patching; calling it is.
        assert_eq!(
            ids("svc/m.py", "eventlet.monkey_patch = _refuse"),
            "mention"
        );
    }

    #[test]
    fn bad_profiles_are_clear_errors() {
        let e = Profile::from_toml("p.toml", "name = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml"), "{e}");
        let broken = EVENTLET.replace(r"regex = '\bmonkey_patch\s*\('", "regex = '(('");
        let e = Profile::from_toml("p.toml", &broken)
            .unwrap_err()
            .to_string();
        assert!(e.contains("monkey_patch") && e.contains("(("), "{e}");
    }
}
