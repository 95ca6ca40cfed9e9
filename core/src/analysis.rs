//! The grounded analysis of one project: every verdict and factor is computed from classified
//! occurrences and the repository's code facts, and cites them, so the same input always gives
//! the same analysis.
//!
//! - `verdict`: deactivable Yes / No / Maybe from the switches that really guard each
//!   `monkey_patch` call, and the migration [`Status`];
//! - `complexity`: a 1..10 score that counts distinct changes, with factors in words.

mod complexity;
mod verdict;

use std::collections::{BTreeMap, BTreeSet};

pub use complexity::Factor;
pub use verdict::{Cite, Status};

use crate::classify::classify_all;
use crate::code::facts::{CodeFacts, Line};
use crate::code::roles::CodeFacts as RoleFacts;
use crate::profile::{Classified, Profile};
use crate::result::Occurrence;

/// Yes / No / Maybe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Production code can run without it today.
    Yes,
    /// A service patches it in unconditionally.
    No,
    /// A switch exists for some services only, or the code uses its APIs without forcing it.
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

/// The analysis of one project.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// One classification per occurrence, in occurrence order.
    pub classified: Vec<Classified>,
    /// Call sites reached through imported names that the pattern does not match; they count
    /// towards complexity and are cited as related.
    pub related: Vec<Line>,
    /// Deactivation verdict.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
    /// The lines the verdict rests on.
    pub evidence: Vec<Cite>,
    /// The code facts the verdict rests on (patch calls, switches, services).
    pub code: CodeFacts,
    /// The repository's migration status.
    pub status: Status,
    /// What the status rests on, in words.
    pub status_detail: String,
    /// 1..10.
    pub score: u8,
    /// The raw sum behind the score: exactly the sum of the factors.
    pub raw: f64,
    /// Terms of the sum, largest first.
    pub factors: Vec<Factor>,
    /// Production files whose lines use the pattern in code.
    pub production_files: usize,
    /// Distinct production call sites (same file and text counted once).
    pub production_sites: usize,
    /// Occurrence counts per path class group (production, tests, docs, config).
    pub groups: BTreeMap<String, usize>,
    /// Occurrence counts per category id.
    pub categories: BTreeMap<String, usize>,
    /// Occurrence counts per path class id: with `categories`, what a history row counts,
    /// kept when an outline drops `classified`.
    pub classes: BTreeMap<String, usize>,
}

/// Analyses the occurrences of one project (sorted by path and line) with its code facts.
pub fn analyze(profile: &Profile, occ: &[Occurrence], code: &CodeFacts) -> Analysis {
    analyze_with(profile, occ, code, &RoleFacts::default())
}

/// [`analyze`] with the facts the scan's parse gathered about each occurrence line, which the
/// classification reads (without them, every line is classified by line rules).
pub fn analyze_with(
    profile: &Profile,
    occ: &[Occurrence],
    code: &CodeFacts,
    facts: &RoleFacts,
) -> Analysis {
    let classification = classify_all(profile, occ, facts);
    let classified: Vec<Classified> = classification.classified;
    let related: Vec<Line> = classification
        .related
        .into_iter()
        .map(|r| Line {
            path: r.path,
            line: r.line,
            text: r.text,
        })
        .collect();
    let facts = verdict::Facts {
        profile,
        occ,
        classified: &classified,
        code,
    };
    let decision = verdict::decide(&facts);
    let score = complexity::score(&facts, &related, &profile.complexity);
    let production_files = (0..occ.len())
        .filter(|&i| facts.is_production_use(i))
        .map(|i| &occ[i].path)
        .collect::<BTreeSet<_>>()
        .len();
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    let mut classes: BTreeMap<String, usize> = BTreeMap::new();
    for c in &classified {
        *groups
            .entry(profile.classes[c.class].group.clone())
            .or_default() += 1;
        *classes
            .entry(profile.classes[c.class].id.clone())
            .or_default() += 1;
        for cat in profile.categories_of(c) {
            *categories.entry(cat.to_string()).or_default() += 1;
        }
    }
    Analysis {
        classified,
        related,
        verdict: decision.verdict,
        reason: decision.reason,
        evidence: decision.evidence,
        code: code.clone(),
        status: decision.status,
        status_detail: decision.status_detail,
        score: score.score,
        raw: score.raw,
        factors: score.factors,
        production_files,
        production_sites: score.production_sites,
        groups,
        categories,
        classes,
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
            for &r in &c.rules {
                for cat in &profile.rules[r].categories {
                    let ci = profile
                        .categories
                        .iter()
                        .position(|x| &x.id == cat)
                        .unwrap_or(0);
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
    use crate::code::facts::{Patch, Service, ServicePatching, Switch, SwitchKind};

    fn occ(path: &str, line: u32, text: &str) -> Occurrence {
        Occurrence {
            path: path.into(),
            line,
            text: text.into(),
        }
    }

    fn line(path: &str, line: u32, text: &str) -> Line {
        Line {
            path: path.into(),
            line,
            text: text.into(),
        }
    }

    fn patch(guarded: bool) -> CodeFacts {
        let site = line("svc/monkey.py", 11, "eventlet.monkey_patch()");
        let read = line(
            "svc/monkey.py",
            21,
            "env = os.environ.get('OS_SVC_DISABLE_EVENTLET_PATCHING', '').lower()",
        );
        CodeFacts {
            patches: vec![Patch {
                site: site.clone(),
                function: Some("_monkey_patch".into()),
                guarded,
                script: false,
                switches: if guarded {
                    vec![Switch {
                        kind: SwitchKind::Env,
                        name: "OS_SVC_DISABLE_EVENTLET_PATCHING".into(),
                        read,
                        default: Some("''".into()),
                        defined: None,
                        choices: None,
                    }]
                } else {
                    vec![]
                },
                guards: if guarded {
                    vec![line("svc/monkey.py", 33, "if do_patch:")]
                } else {
                    vec![]
                },
                callers: vec![line("svc/monkey.py", 34, "if _monkey_patch():")],
                unguarded_path: if guarded { vec![] } else { vec![site] },
            }],
            services: vec![Service {
                name: "svc-api".into(),
                group: "console_scripts".into(),
                target: "svc.cmd.api:main".into(),
                declared: line("setup.cfg", 6, "svc-api = svc.cmd.api:main"),
                patching: if guarded {
                    ServicePatching::Switchable
                } else {
                    ServicePatching::Always
                },
                via: None,
            }],
            ..CodeFacts::default()
        }
    }

    fn prod_patch() -> Vec<Occurrence> {
        vec![
            occ("svc/monkey.py", 10, "import eventlet"),
            occ("svc/monkey.py", 11, "eventlet.monkey_patch()"),
            occ("svc/pool.py", 3, "pool = eventlet.GreenPool()"),
        ]
    }

    #[test]
    fn docs_only_is_migrated_yes_and_scores_low() {
        let p = Profile::eventlet();
        let docs: Vec<Occurrence> = (0..300)
            .map(|i| {
                occ(
                    &format!("doc/source/a{}.rst", i % 30),
                    i + 1,
                    &format!("eventlet note {i}"),
                )
            })
            .collect();
        let a = analyze(&p, &docs, &CodeFacts::default());
        assert_eq!((a.verdict, a.status), (Verdict::Yes, Status::Migrated));
        assert!(a.score <= 3, "{}", a.score);
    }

    #[test]
    fn tests_remaining_is_in_progress() {
        let p = Profile::eventlet();
        let a = analyze(
            &p,
            &[
                occ("doc/source/a.rst", 1, "eventlet is used"),
                occ("x/tests/test_a.py", 3, "@mock.patch('eventlet.sleep')"),
            ],
            &CodeFacts::default(),
        );
        assert_eq!((a.verdict, a.status), (Verdict::Yes, Status::InProgress));
    }

    #[test]
    fn a_production_mention_is_cited_as_what_it_is() {
        let p = Profile::eventlet();
        let a = analyze(
            &p,
            &[
                occ("doc/a.rst", 1, "eventlet"),
                occ("svc/a.py", 5, "LOG.info('not using eventlet')"),
            ],
            &CodeFacts::default(),
        );
        assert_eq!((a.verdict, a.status), (Verdict::Yes, Status::Migrated));
        assert!(
            a.reason.starts_with("production code only names it"),
            "{}",
            a.reason
        );
        assert_eq!(a.evidence, vec![Cite::Occurrence(1)]);
    }

    /// A lint check that bans Eventlet, a keyword that turns a fix off and logger stanzas name
    /// the word without needing it: ironic, neutron and openstack-helm had finished and were
    /// reported "not started" or "in progress" when such lines counted as use.
    #[test]
    fn identifiers_and_logger_names_are_not_use() {
        let p = Profile::eventlet();
        let a = analyze(
            &p,
            &[
                occ("doc/a.rst", 1, "eventlet"),
                occ(
                    "svc/hacking/checks.py",
                    62,
                    "def no_eventlet_imports(logical_line):",
                ),
                occ(
                    "svc/common/config.py",
                    121,
                    "logging.setup(cfg.CONF, product_name, fix_eventlet=False)",
                ),
                occ("chart/values.yaml", 531, "qualname: eventlet.wsgi.server"),
            ],
            &CodeFacts::default(),
        );
        assert_eq!(
            (a.verdict, a.status),
            (Verdict::Yes, Status::Migrated),
            "{}",
            a.reason
        );
    }

    #[test]
    fn an_unguarded_patch_is_no_and_not_started() {
        let p = Profile::eventlet();
        let a = analyze(&p, &prod_patch(), &patch(false));
        assert_eq!((a.verdict, a.status), (Verdict::No, Status::NotStarted));
        assert_eq!(
            a.evidence,
            vec![Cite::Code(line(
                "svc/monkey.py",
                11,
                "eventlet.monkey_patch()"
            ))]
        );
    }

    #[test]
    fn a_patch_behind_a_switch_is_yes_and_switchable() {
        let p = Profile::eventlet();
        let mut code = patch(true);
        // The pool is used only in Eventlet mode.
        code.adaptive = vec!["svc/pool.py".into()];
        let a = analyze(&p, &prod_patch(), &code);
        assert_eq!((a.verdict, a.status), (Verdict::Yes, Status::Switchable));
        assert_eq!(
            a.status_detail,
            "switch: environment variable OS_SVC_DISABLE_EVENTLET_PATCHING (default '')"
        );
        assert!(a
            .evidence
            .contains(&Cite::Code(line("svc/monkey.py", 33, "if do_patch:"))));
    }

    #[test]
    fn a_switch_with_api_use_that_never_checks_the_mode_is_maybe() {
        let p = Profile::eventlet();
        let mut o = prod_patch();
        o.push(occ(
            "svc/drivers/backup.py",
            7,
            "x = eventlet.tpool.Proxy(conn)",
        ));
        let a = analyze(&p, &o, &patch(true));
        assert_eq!((a.verdict, a.status), (Verdict::Maybe, Status::Switchable));
        assert!(
            a.evidence.contains(&Cite::Occurrence(3)),
            "{:?}",
            a.evidence
        );
        // A file that asks which mode runs before using the API does not count.
        let mut code = patch(true);
        code.adaptive = vec!["svc/drivers/backup.py".into(), "svc/pool.py".into()];
        assert_eq!(analyze(&p, &o, &code).verdict, Verdict::Yes);
    }

    /// nova's request log asks the WSGI environ whether Eventlet's server runs
    /// (`environ.get('eventlet.input')`): reading a key of a dict needs no Eventlet, so a
    /// switched-off nova does not still use it there. It made nova "Maybe".
    #[test]
    fn reading_a_key_of_the_wsgi_environ_is_not_api_use() {
        let p = Profile::eventlet();
        let mut code = patch(true);
        code.adaptive = vec!["svc/pool.py".into()];
        let mut o = prod_patch();
        o.push(occ(
            "svc/api/requestlog.py",
            59,
            "        if req.environ.get('eventlet.input', None) is not None:",
        ));
        let a = analyze(&p, &o, &code);
        assert_eq!(
            (a.verdict, a.status),
            (Verdict::Yes, Status::Switchable),
            "{}",
            a.reason
        );
        // An API call in that file would still count.
        o.push(occ("svc/api/requestlog.py", 70, "eventlet.sleep(0)"));
        assert_eq!(analyze(&p, &o, &code).verdict, Verdict::Maybe);
    }

    /// Code that asks a library for its Eventlet mode by name and imports nothing of it
    /// (glance's `set_threadpool_model('eventlet')`) can run without Eventlet installed; the
    /// setting is left to change.
    #[test]
    fn settings_alone_are_yes_and_in_progress() {
        let p = Profile::eventlet();
        let o = [
            occ("doc/a.rst", 1, "eventlet"),
            occ(
                "svc/cmd/prefetcher.py",
                57,
                "    glance.async_.set_threadpool_model('eventlet')",
            ),
        ];
        let a = analyze(&p, &o, &CodeFacts::default());
        assert_eq!(
            (a.verdict, a.status),
            (Verdict::Yes, Status::InProgress),
            "{}",
            a.reason
        );
        assert!(a.reason.contains("only in settings"), "{}", a.reason);
        assert_eq!(a.evidence, vec![Cite::Occurrence(1)]);
        // With an import beside it, the package is needed.
        let mut o = o.to_vec();
        o.push(occ("svc/pool.py", 3, "pool = eventlet.GreenPool()"));
        let a = analyze(&p, &o, &CodeFacts::default());
        assert_eq!((a.verdict, a.status), (Verdict::Maybe, Status::NotStarted));
    }

    #[test]
    fn some_services_switching_is_maybe_and_in_progress() {
        let p = Profile::eventlet();
        let mut code = patch(false);
        let mut other = code.services[0].clone();
        other.name = "svc-agent".into();
        other.patching = ServicePatching::Switchable;
        code.services.push(other);
        let a = analyze(&p, &prod_patch(), &code);
        assert_eq!((a.verdict, a.status), (Verdict::Maybe, Status::InProgress));
    }

    #[test]
    fn an_optional_import_without_a_requirement_is_yes() {
        let p = Profile::eventlet();
        let o = vec![
            occ("cli/common/http.py", 2, "import eventlet"),
            occ("cli/common/http.py", 9, "eventlet.sleep(0)"),
        ];
        let code = CodeFacts {
            optional_imports: vec![line("cli/common/http.py", 2, "import eventlet")],
            ..CodeFacts::default()
        };
        let a = analyze(&p, &o, &code);
        assert_eq!(a.verdict, Verdict::Yes, "{}", a.reason);
        assert!(a.reason.contains("optionally"));
        assert!(a.score <= 3, "{}", a.score);
        // With a requirement line it is a dependency after all.
        let mut with_req = o.clone();
        with_req.push(occ("requirements.txt", 4, "eventlet>=0.30.1 # MIT"));
        assert_eq!(analyze(&p, &with_req, &code).verdict, Verdict::Maybe);
        // Without the fallback the same lines are plain API use.
        let a = analyze(&p, &o, &CodeFacts::default());
        assert_eq!((a.verdict, a.status), (Verdict::Maybe, Status::NotStarted));
    }

    #[test]
    fn identical_lines_in_one_file_are_one_change_and_factors_add_up() {
        let p = Profile::eventlet();
        let mut many = vec![occ("svc/backup/driver.py", 2, "from eventlet import tpool")];
        many.extend(
            (0..35).map(|i| occ("svc/backup/driver.py", 10 + i, "self._f = tpool.Proxy(f)")),
        );
        let one = analyze(&p, &many[..2], &CodeFacts::default());
        let all = analyze(&p, &many, &CodeFacts::default());
        let tpool = |a: &Analysis| {
            a.factors
                .iter()
                .find(|f| f.label.starts_with("`tpool`"))
                .unwrap()
                .clone()
        };
        assert_eq!(tpool(&one).contribution, tpool(&all).contribution);
        assert!(
            tpool(&all)
                .label
                .contains("2 distinct call sites (of 36 lines)"),
            "{}",
            tpool(&all).label
        );
        for a in [&one, &all, &analyze(&p, &prod_patch(), &patch(true))] {
            let sum: f64 = a.factors.iter().map(|f| f.contribution).sum();
            assert_eq!(format!("{sum:.1}"), format!("{:.1}", a.raw));
        }
    }

    #[test]
    fn complexity_edges() {
        let p = Profile::eventlet();
        assert_eq!(analyze(&p, &[], &CodeFacts::default()).score, 1);
        let many: Vec<Occurrence> = (0..400)
            .map(|i| {
                occ(
                    &format!("svc/m{i}.py"),
                    1,
                    &format!("p{i} = eventlet.GreenPool()"),
                )
            })
            .collect();
        let a = analyze(&p, &many, &CodeFacts::default());
        assert_eq!(a.score, 10);
        let few = analyze(&p, &many[..3], &CodeFacts::default());
        assert!(few.score > 1 && few.score < a.score, "{}", few.score);
        // Services that patch count.
        let with = analyze(&p, &prod_patch(), &patch(false));
        let without = analyze(&p, &prod_patch(), &CodeFacts::default());
        assert!(with.raw > without.raw);
        assert!(with.factors.iter().any(|f| f
            .label
            .starts_with("services that patch: 1 unconditionally")));
    }
}
