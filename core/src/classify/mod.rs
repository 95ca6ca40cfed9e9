//! Classification of occurrences by the rules of docs/classification.md: a path class, the
//! sub-patterns (the ids of the profile rules that match) and the categories.
//!
//! A line of a Python file that parsed is classified by its syntactic role and the names it
//! uses ([`crate::code`]); any other line by the rules' line regexes. Then:
//! 1. in documentation classes a line is documentation only;
//! 2. prose (comments, docstrings, messages) is documentation only;
//! 3. otherwise the sub-patterns give the categories;
//! 4. in tests every non-prose line is also "Use in Tests", and a mock is only that;
//! 5. an import takes the categories of what its names serve in the file;
//! 6. in a file that runs the WSGI server, its hub and socket lines are WSGI too.
//!
//! Code of lint checks (the profile's `lint_globs`), which names the pattern to ban it, gets
//! no category but "Use in Tests" in tests.

use std::collections::{BTreeMap, BTreeSet};

use crate::code::roles::{CodeFacts, FileFacts, LineFacts, Role};
use crate::profile::{code_part, is_comment, Classified, Profile, CODE_CLASSES};
use crate::result::Occurrence;

/// A line without the pattern that reaches it through an imported name
/// (`greenthread.sleep(1)` after `from eventlet import greenthread`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Path in the tree.
    pub path: String,
    /// 1-based line number.
    pub line: u32,
    /// The line, white space stripped.
    pub text: String,
    /// Indexes into [`Profile::rules`]; its sub-patterns.
    pub rules: Vec<usize>,
}

/// The classification of one repository's occurrences.
#[derive(Debug, Clone)]
pub struct Classification {
    /// One per occurrence, in occurrence order.
    pub classified: Vec<Classified>,
    /// Related call sites, by path and line.
    pub related: Vec<Related>,
}

/// Classifies every occurrence of one repository with the facts its scan gathered.
pub fn classify_all(profile: &Profile, occ: &[Occurrence], facts: &CodeFacts) -> Classification {
    let mut context: BTreeMap<&str, bool> = BTreeMap::new();
    let modules = OwnModules::new(occ.iter().map(|o| o.path.as_str()));
    let classified = occ
        .iter()
        .map(|o| {
            let file = facts.file(&o.path).filter(|f| f.parsed);
            let ctx = *context
                .entry(o.path.as_str())
                .or_insert_with(|| file.is_some_and(|f| profile.file_in_context(f)));
            let line = file.and_then(|f| f.line(o.line));
            // An import of one of the repository's own modules named after the pattern
            // (`from watcher import eventlet as helper`) is not an import of the pattern's
            // package: it is what its names serve.
            let own = line.filter(|l| {
                l.role == Role::Import && l.names.iter().any(|n| modules.contains(n, &o.path))
            });
            match own {
                Some(l) => {
                    let mut l = l.clone();
                    l.names.retain(|n| !modules.contains(n, &o.path));
                    profile.classify_line(&o.path, &o.text, Some(&l), ctx)
                }
                None => profile.classify_line(&o.path, &o.text, line, ctx),
            }
        })
        .collect();
    let mut related = Vec::new();
    for f in facts.files.iter().filter(|f| f.parsed) {
        let class = profile.class_of(&f.path);
        for s in &f.related {
            let mut rules = profile.by_names(class, Role::Call, &s.names);
            if rules.is_empty() {
                rules.extend(profile.entry(&profile.classification.other, class, None));
            }
            related.push(Related {
                path: f.path.clone(),
                line: s.line,
                text: s.text.clone(),
                rules,
            });
        }
    }
    Classification {
        classified,
        related,
    }
}

/// The Python modules of a repository, by dotted name, from the paths of its files:
/// `watcher/eventlet.py` is `watcher.eventlet`.
struct OwnModules(BTreeSet<String>);

impl OwnModules {
    fn new<'a>(paths: impl Iterator<Item = &'a str>) -> OwnModules {
        let mut set = BTreeSet::new();
        for p in paths {
            let Some(stem) = p.strip_suffix(".py") else {
                continue;
            };
            let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
            let name = stem.replace('/', ".");
            if let Some(rest) = name.strip_prefix("src.") {
                set.insert(rest.to_string());
            }
            set.insert(name);
        }
        OwnModules(set)
    }

    /// Whether the imported `name` (relative names resolved from `path`) is one of them.
    fn contains(&self, name: &str, path: &str) -> bool {
        let dots = name.len() - name.trim_start_matches('.').len();
        if dots == 0 {
            return self.0.contains(name);
        }
        // `from . import x` in a/b/c.py is a.b.x; each further dot goes one package up.
        let mut package: Vec<&str> = path.split('/').collect();
        package.pop();
        for _ in 1..dots {
            package.pop();
        }
        package.push(&name[dots..]);
        self.0.contains(&package.join("."))
    }
}

impl Profile {
    /// Classifies one line `text` of `path` by line rules alone, as for a file that is not
    /// Python or does not parse.
    pub fn classify(&self, path: &str, text: &str) -> Classified {
        self.classify_occurrence(path, 0, text, None, false)
    }

    /// Classifies occurrence `line` (`text`) of `path`, with the facts of its file when it
    /// parsed; `context` says the file runs the WSGI server (rule 6).
    pub fn classify_occurrence(
        &self,
        path: &str,
        line: u32,
        text: &str,
        file: Option<&FileFacts>,
        context: bool,
    ) -> Classified {
        self.classify_line(path, text, file.and_then(|f| f.line(line)), context)
    }

    /// Classifies the line `text` of `path` with its facts, if its file parsed.
    fn classify_line(
        &self,
        path: &str,
        text: &str,
        facts: Option<&LineFacts>,
        context: bool,
    ) -> Classified {
        let class = self.class_of(path);
        let k = &self.classification;
        let docs = k.docs_classes.contains(&class);
        let facts = facts.filter(|l| !docs && l.role != Role::Other);
        let mut rules = match facts {
            Some(l) => self.by_role(class, l),
            None => self.by_line(class, text),
        };
        // A lint check names the pattern to ban it: its code stands for no API.
        let prose = !rules.is_empty() && rules.iter().all(|&r| self.rules[r].id == k.prose);
        let lint = !docs && !prose && self.is_lint(path);
        if rules.is_empty() || lint {
            rules = self
                .entry(&k.other, class, facts.map(|l| l.role))
                .into_iter()
                .collect();
        }
        let mut categories = self.categories_for(class, &rules, facts, context);
        if lint {
            categories.retain(|&c| c == k.tests_category);
        }
        Classified {
            class,
            rules,
            categories,
            role: facts.map(|l| l.role),
        }
    }

    /// The entry of sub-pattern `id` that applies in `class`, else its first entry.
    /// An entry made for `role` alone (`roles = ["import"]`) comes first, then one for any
    /// role. Entries limited to some names are not fallbacks: [`Profile::by_names`] finds
    /// them.
    fn entry(&self, id: &str, class: usize, role: Option<Role>) -> Option<usize> {
        let cid = &self.classes[class].id;
        let fits =
            |r: &crate::profile::Rule| r.id == id && r.classes.contains(cid) && r.names.is_none();
        let pos = |f: &dyn Fn(&crate::profile::Rule) -> bool| self.rules.iter().position(f);
        pos(&|r| fits(r) && role.is_some_and(|x| r.roles == [x]))
            .or_else(|| pos(&|r| fits(r) && r.roles.len() > 1))
            .or_else(|| pos(&fits))
            .or_else(|| self.rule_index(id))
    }

    /// Rules whose `names` match one of `names` for a line with `role` in `class`.
    fn by_names(&self, class: usize, role: Role, names: &[String]) -> Vec<usize> {
        let cid = &self.classes[class].id;
        (0..self.rules.len())
            .filter(|&i| {
                let r = &self.rules[i];
                r.roles.contains(&role)
                    && r.classes.contains(cid)
                    && r.names.as_ref().is_some_and(|re| {
                        names.iter().any(|n| {
                            re.is_match(n) && !r.not_regex.as_ref().is_some_and(|x| x.is_match(n))
                        })
                    })
            })
            .collect()
    }

    fn by_role(&self, class: usize, l: &LineFacts) -> Vec<usize> {
        let k = &self.classification;
        if l.role.is_prose() {
            return self.entry(&k.prose, class, None).into_iter().collect();
        }
        if l.role == Role::Mock {
            return self.entry(&k.mock, class, None).into_iter().collect();
        }
        let mut own = self.by_names(class, l.role, &l.names);
        // The line's other roles: an option read on the line of a name that merely
        // contains the word (`debug = conf.get('eventlet_debug')`).
        for &r in l.roles.iter().filter(|r| **r != l.role && !r.is_prose()) {
            if !own.is_empty() {
                break;
            }
            own = self.by_names(class, r, &l.names);
        }
        if own.is_empty() {
            // An import of a helper module (`from oslo_utils import eventletutils`), and the
            // fallback of an optional import or a guard on it, are what the import serves.
            own = self.by_names(class, Role::Call, &l.serves);
        }
        if own.is_empty() && l.roles.iter().any(|r| r.is_prose()) {
            // Nothing on the line is an Eventlet API, and it holds a message: the message is
            // what the line says (`skipIf(not eventlet_utils.AVAILABLE, 'needs eventlet')`).
            own.extend(self.entry(&k.prose, class, None));
        }
        own
    }

    /// Line rules: what a line says, for files without facts.
    fn by_line(&self, class: usize, text: &str) -> Vec<usize> {
        let class_id = self.classes[class].id.as_str();
        let k = &self.classification;
        let in_code = CODE_CLASSES.contains(&class_id);
        let comment = is_comment(text);
        let code = code_part(text, true);
        let uncommented = code_part(text, false);
        let sample = !in_code && k.code_sample.as_ref().is_some_and(|re| re.is_match(text));
        let mut rules: Vec<usize> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.classes.iter().any(|c| c == class_id)
                    || (sample && r.classes.iter().any(|c| c == "production") && !r.comment)
            })
            .filter(|(_, r)| r.comment == comment || (!r.comment && !in_code))
            .filter(|(_, r)| {
                let subject = match (in_code && !r.comment, r.strings) {
                    (false, _) => text,
                    (true, true) => uncommented.as_str(),
                    (true, false) => code.as_str(),
                };
                r.regex.as_ref().is_some_and(|re| re.is_match(subject))
                    && !r.not_regex.as_ref().is_some_and(|n| n.is_match(subject))
            })
            .map(|(i, _)| i)
            .collect();
        if let Some(&x) = rules.iter().find(|&&i| self.rules[i].exclusive) {
            rules = vec![x];
        }
        // Named only inside a string or a comment (`LOG.info('no eventlet')`): prose.
        if rules.is_empty() && in_code && self.pattern.as_ref().is_some_and(|p| !p.is_match(&code))
        {
            rules.extend(self.entry(&k.prose, class, None));
        }
        rules
    }

    fn categories_for(
        &self,
        class: usize,
        rules: &[usize],
        facts: Option<&LineFacts>,
        context: bool,
    ) -> Vec<usize> {
        let k = &self.classification;
        let only = |c: usize| vec![c];
        let is_test = k.test_classes.contains(&class);
        let has = |id: &str| rules.iter().any(|&r| self.rules[r].id == id);
        // Rules 1 and 2: documentation classes and prose.
        if k.docs_classes.contains(&class) || rules.iter().all(|&r| self.rules[r].id == k.prose) {
            return only(k.docs_category);
        }
        // Rule 4: a mock is "Use in Tests" only, and that category is for tests only.
        if has(&k.mock) {
            return if is_test {
                only(k.tests_category)
            } else {
                Vec::new()
            };
        }
        let mut cats: BTreeSet<usize> = BTreeSet::new();
        let add = |rs: &[usize], cats: &mut BTreeSet<usize>| {
            for &r in rs {
                for c in &self.rules[r].categories {
                    if let Some(i) = self.categories.iter().position(|x| &x.id == c) {
                        cats.insert(i);
                    }
                }
            }
        };
        match facts {
            // Rule 5: an import takes the categories of what its names serve.
            Some(l) if l.role == Role::Import => {
                if l.serves.is_empty() && l.mocked && is_test {
                    return only(k.tests_category);
                }
                let served = self.by_names(class, Role::Call, &l.serves);
                if served.is_empty() {
                    add(rules, &mut cats);
                } else {
                    add(&served, &mut cats);
                }
            }
            _ => add(rules, &mut cats),
        }
        // Rule 6: the WSGI server's hub and sockets.
        let context_name = |l: &LineFacts| {
            k.context_names
                .as_ref()
                .is_some_and(|re| l.names.iter().any(|n| re.is_match(n)))
        };
        if context
            && facts.is_none_or(|l| l.role != Role::Import)
            && (rules
                .iter()
                .any(|&r| k.context_subpatterns.contains(&self.rules[r].id))
                || facts.is_some_and(context_name))
        {
            cats.extend(k.context_category);
        }
        cats.remove(&k.docs_category);
        if is_test {
            cats.insert(k.tests_category);
        } else {
            cats.remove(&k.tests_category);
        }
        cats.into_iter().collect()
    }

    /// Whether a file uses the context trigger (rule 6): the Eventlet WSGI server.
    fn file_in_context(&self, f: &FileFacts) -> bool {
        self.classification
            .context_trigger
            .as_ref()
            .is_some_and(|re| f.uses(|n| re.is_match(n)))
    }
}

#[cfg(test)]
mod tests;
