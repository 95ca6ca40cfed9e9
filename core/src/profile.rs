//! Analysis profiles: the rules that classify occurrences, as data.
//!
//! A profile (TOML) names the patterns of a migration, the path classes (production code,
//! tests, docs, ...), the categories reports group by, the rules that put an occurrence into
//! categories, the deactivation signals and the complexity weights. The Eventlet profile is
//! built in; `--profile FILE` loads another, so the next migration needs a file, not code.

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::Deserialize;

use crate::code::roles::Role;
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
    classification: RawClassification,
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
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    not_regex: Option<String>,
    #[serde(default)]
    names: Option<String>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    strings: bool,
    #[serde(default)]
    comment: bool,
    #[serde(default)]
    exclusive: bool,
    #[serde(default)]
    classes: Option<Vec<String>>,
    #[serde(default = "yes")]
    runtime: bool,
    weight: f64,
    replacement: String,
}

fn yes() -> bool {
    true
}

/// What forces the runtime on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deactivation {
    /// Rules whose uses force the runtime on (SARIF reports them as warnings). The verdict
    /// itself rests on the code facts, not on these.
    pub blocker_rules: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClassification {
    docs_classes: Vec<String>,
    test_classes: Vec<String>,
    docs_category: String,
    tests_category: String,
    prose: String,
    mock: String,
    other: String,
    #[serde(default)]
    code_sample: Option<String>,
    #[serde(default)]
    lint_globs: Vec<String>,
    #[serde(default)]
    context: Option<RawContext>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContext {
    trigger: String,
    subpatterns: Vec<String>,
    #[serde(default)]
    names: Option<String>,
    category: String,
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
    /// Identifier (`production`, `test`, ...).
    pub id: String,
    /// Weight of one occurrence in this class towards complexity.
    pub weight: f64,
    /// Column in the team table: production, tests, docs or config.
    pub group: String,
}

/// A compiled rule: one entry of a sub-pattern.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The sub-pattern, in `occurrences.ndjson` and reports.
    pub id: String,
    /// Human name.
    pub title: String,
    /// Category ids it puts an occurrence into.
    pub categories: Vec<String>,
    /// Cost of one occurrence towards complexity.
    pub weight: f64,
    /// Advice when found in production code.
    pub replacement: String,
    /// Whether a line it matches needs the package at run time. `runtime = false` in the
    /// profile marks lines that only name it: an identifier or string containing the word, a
    /// logger's name, a key of the WSGI environ its server reads, a keyword that turns it off.
    /// Such a line is work for the migration, but it does not keep a service on the runtime,
    /// so the verdict and the status do not count it as use.
    pub runtime: bool,
    pub(crate) regex: Option<Regex>,
    pub(crate) not_regex: Option<Regex>,
    pub(crate) names: Option<Regex>,
    pub(crate) roles: Vec<Role>,
    pub(crate) strings: bool,
    pub(crate) comment: bool,
    pub(crate) exclusive: bool,
    pub(crate) classes: Vec<String>,
}

/// The rules of the spec that are not about one line, as the profile names their parts.
#[derive(Debug, Clone)]
pub struct Classification {
    /// Path classes (indexes) whose lines are documentation only.
    pub docs_classes: Vec<usize>,
    /// Path classes (indexes) whose non-prose lines are also "Use in Tests".
    pub test_classes: Vec<usize>,
    /// Category (index) of documentation.
    pub docs_category: usize,
    /// Category (index) of tests.
    pub tests_category: usize,
    /// Sub-pattern of prose.
    pub prose: String,
    /// Sub-pattern of mocks.
    pub mock: String,
    /// Sub-pattern of a line nothing else matches.
    pub other: String,
    /// A file using a name matching this ...
    pub context_trigger: Option<Regex>,
    /// ... adds `context_category` to lines with these sub-patterns ...
    pub context_subpatterns: Vec<String>,
    /// ... or using names that match this.
    pub context_names: Option<Regex>,
    /// Category (index) the context adds.
    pub context_category: Option<usize>,
    /// A documentation line matching this is a code sample: it also gets code sub-patterns.
    pub code_sample: Option<Regex>,
    /// Files of lint checks, which name the pattern to ban it: their code lines get no
    /// category (but "Use in Tests" in tests).
    pub lint: Option<GlobSet>,
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
    /// How rules combine into categories.
    pub classification: Classification,
    /// What forces the runtime on.
    pub deactivation: Deactivation,
    /// Complexity parameters.
    pub complexity: Complexity,
    globs: Vec<GlobSet>,
    /// The patterns, to tell a line that names them only inside strings or a comment.
    pub(crate) pattern: Option<Regex>,
}

/// How one occurrence was classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// Index into [`Profile::classes`].
    pub class: usize,
    /// Indexes into [`Profile::rules`]: the entries that matched, whose ids are the
    /// sub-patterns.
    pub rules: Vec<usize>,
    /// Indexes into [`Profile::categories`], in profile order.
    pub categories: Vec<usize>,
    /// The line's syntactic role; None when it was classified by line rules.
    pub role: Option<Role>,
}

pub(crate) const CODE_CLASSES: [&str; 4] = ["production", "test", "ci_config", "packaging"];

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
        let cat_index = |id: &str, what: &str| {
            raw.categories
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| bad(format!("{what}: unknown category {id:?}")))
        };
        let class_index = |id: &str, what: &str| {
            classes
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| bad(format!("{what}: unknown path class {id:?}")))
        };
        let mut rules = Vec::new();
        for r in raw.rules {
            let what = format!("rule {}", r.id);
            for c in &r.categories {
                cat_index(c, &what)?;
            }
            let rule_classes = r
                .classes
                .unwrap_or_else(|| CODE_CLASSES.map(String::from).to_vec());
            for c in &rule_classes {
                class_index(c, &what)?;
            }
            let roles = match r.roles {
                None => Role::ALL.into_iter().filter(|r| r.is_code()).collect(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        Role::parse(n).ok_or_else(|| bad(format!("{what}: unknown role {n:?}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let opt = |p: &Option<String>| p.as_deref().map(|p| re(&what, p)).transpose();
            rules.push(Rule {
                regex: opt(&r.regex)?,
                not_regex: opt(&r.not_regex)?,
                names: opt(&r.names)?,
                roles,
                id: r.id,
                title: r.title,
                categories: r.categories,
                weight: r.weight,
                replacement: r.replacement,
                runtime: r.runtime,
                strings: r.strings,
                comment: r.comment,
                exclusive: r.exclusive,
                classes: rule_classes,
            });
        }
        let known_rule = |id: &str, what: &str| {
            if rules.iter().any(|r| r.id == id) {
                Ok(())
            } else {
                Err(bad(format!("{what} names unknown rule {id:?}")))
            }
        };
        let c = raw.classification;
        for id in [&c.prose, &c.mock, &c.other] {
            known_rule(id, "classification")?;
        }
        let context = c.context.as_ref();
        if let Some(x) = context {
            for id in &x.subpatterns {
                known_rule(id, "classification.context")?;
            }
        }
        let classification = Classification {
            docs_classes: c
                .docs_classes
                .iter()
                .map(|id| class_index(id, "classification.docs_classes"))
                .collect::<Result<_, _>>()?,
            test_classes: c
                .test_classes
                .iter()
                .map(|id| class_index(id, "classification.test_classes"))
                .collect::<Result<_, _>>()?,
            docs_category: cat_index(&c.docs_category, "classification.docs_category")?,
            tests_category: cat_index(&c.tests_category, "classification.tests_category")?,
            context_category: context
                .map(|x| cat_index(&x.category, "classification.context"))
                .transpose()?,
            context_trigger: context
                .map(|x| re("classification.context.trigger", &x.trigger))
                .transpose()?,
            context_subpatterns: context.map(|x| x.subpatterns.clone()).unwrap_or_default(),
            context_names: context
                .and_then(|x| x.names.as_deref())
                .map(|p| re("classification.context.names", p))
                .transpose()?,
            code_sample: c
                .code_sample
                .as_deref()
                .map(|p| re("classification.code_sample", p))
                .transpose()?,
            lint: if c.lint_globs.is_empty() {
                None
            } else {
                let mut b = GlobSetBuilder::new();
                for g in &c.lint_globs {
                    b.add(
                        Glob::new(g).map_err(|e| bad(format!("classification.lint_globs: {e}")))?,
                    );
                }
                Some(
                    b.build()
                        .map_err(|e| bad(format!("classification.lint_globs: {e}")))?,
                )
            },
            prose: c.prose,
            mock: c.mock,
            other: c.other,
        };
        if let Some(id) = raw
            .deactivation
            .blocker_rules
            .iter()
            .find(|id| !rules.iter().any(|r| &r.id == *id))
        {
            return Err(bad(format!("deactivation names unknown rule {id:?}")));
        }
        let pattern = Regex::new(&format!("(?i){}", raw.patterns.join("|"))).ok();
        Ok(Profile {
            name: raw.name,
            title: raw.title,
            patterns: raw.patterns,
            categories: raw.categories,
            classes,
            rules,
            classification,
            deactivation: raw.deactivation,
            complexity: raw.complexity,
            globs,
            pattern,
        })
    }

    /// The path class of `path` (first match; the last class should match everything).
    pub fn class_of(&self, path: &str) -> usize {
        self.globs
            .iter()
            .position(|g| g.is_match(path))
            .unwrap_or(self.classes.len() - 1)
    }

    /// Whether `path` holds lint checks ([`Classification::lint`]).
    pub fn is_lint(&self, path: &str) -> bool {
        self.classification
            .lint
            .as_ref()
            .is_some_and(|g| g.is_match(path))
    }

    /// The rule that prices an occurrence: the first of its rules with the highest positive
    /// weight; None when every rule it matched weighs nothing.
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
        c.categories
            .iter()
            .map(|&i| self.categories[i].id.as_str())
            .collect()
    }

    /// Sub-pattern ids of a classification, in profile order, without repeats.
    pub fn subpatterns_of(&self, c: &Classified) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for &r in &c.rules {
            if !ids.contains(&self.rules[r].id.as_str()) {
                ids.push(&self.rules[r].id);
            }
        }
        ids
    }

    /// Rule ids of a classification: since rules are entries of sub-patterns, its
    /// sub-pattern ids ([`Profile::subpatterns_of`]).
    pub fn rule_ids_of(&self, c: &Classified) -> Vec<&str> {
        self.subpatterns_of(c)
    }

    /// The first rule entry of sub-pattern `id`.
    pub fn rule_index(&self, id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.id == id)
    }
}

/// A comment or docstring line: starts with `#`, triple quotes, or a Sphinx field
/// (`:param x:`), which only docstrings hold.
pub(crate) fn is_comment(text: &str) -> bool {
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
pub(crate) fn code_part(text: &str, blank_strings: bool) -> String {
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
    fn path_classes_are_the_specs() {
        let p = Profile::eventlet();
        let class = |path: &str| p.classes[p.class_of(path)].id.as_str();
        for (path, want) in [
            ("nova/compute/manager.py", "production"),
            ("nova/cmd/__init__.py", "production"),
            ("nova/tests/unit/test_a.py", "test"),
            ("nova/tests/fixtures/eventlet.py", "test"),
            ("test_utils.py", "test"),
            ("heat_integrationtests/common/a.py", "test"),
            ("doc/source/a.rst", "docs"),
            ("specs/2025.1/a.rst", "docs"),
            ("README.rst", "docs"),
            ("HACKING.rst", "docs"),
            ("CHANGELOG", "docs"),
            ("releasenotes/notes/drop-eventlet-0123.yaml", "releasenotes"),
            ("releasenotes/source/2024.1.rst", "releasenotes"),
            ("nova/locale/de/LC_MESSAGES/nova.po", "translations"),
            (
                "releasenotes/source/locale/fr/LC_MESSAGES/releasenotes.po",
                "translations",
            ),
            ("requirements.txt", "packaging"),
            ("test-requirements.txt", "packaging"),
            ("doc/requirements.txt", "packaging"),
            ("bindep.txt", "packaging"),
            ("elements/svc/pkg-map", "packaging"),
            ("elements/svc/package-installs.yaml", "packaging"),
            ("openstack_venus.egg-info/SOURCES.txt", "packaging"),
            ("openstack_venus.egg-info/requires.txt", "packaging"),
            ("src/pkg.egg-info/PKG-INFO", "packaging"),
            (".zuul.yaml", "ci_config"),
            (".coveragerc", "ci_config"),
            ("tox.ini", "ci_config"),
            ("etc/nova/logging_sample.conf", "ci_config"),
            ("nova/values.yaml", "ci_config"),
            // Python under tools/ is code the project runs; its shell scripts are tooling.
            ("tools/load_generator.py", "production"),
            ("tools/run_tests.sh", "ci_config"),
            (
                "integration/scripts/files/elements/guest/install.d/15-deps",
                "packaging",
            ),
        ] {
            assert_eq!(class(path), want, "{path}");
        }
    }

    #[test]
    fn bad_profiles_are_clear_errors() {
        let e = Profile::from_toml("p.toml", "name = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml"), "{e}");
        let broken = EVENTLET.replace(r"regex = '\bmonkey_patch\s*\(|", "regex = '((|");
        let e = Profile::from_toml("p.toml", &broken)
            .unwrap_err()
            .to_string();
        assert!(e.contains("monkey_patch") && e.contains("(("), "{e}");
    }
}
