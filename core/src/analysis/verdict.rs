//! The deactivation verdict and the migration status of one repository, from its classified
//! occurrences and its code facts (the `monkey_patch` calls, their switches, the services).
//!
//! Verdict, in this order:
//! 1. no production occurrence is a use (only strings, comments, identifiers): **Yes**;
//! 2. some `monkey_patch` call is reachable with no switch on the way: **No**, or **Maybe**
//!    when some declared services can switch and none patches unconditionally;
//! 3. every `monkey_patch` call runs only behind a switch: **Yes**, naming the switches, or
//!    **Maybe** when production files that never ask which mode runs still use its APIs;
//! 4. no patch call, eventlet imported optionally (`try: import eventlet` / `except
//!    ImportError:` with a fallback, or `importutils.try_import('eventlet')`), and no line of
//!    `requirements.txt` names it: **Yes**;
//! 5. otherwise production code uses its APIs without forcing the runtime: **Maybe**.
//!
//! Status: not affected (no occurrence); migrated (only documentation, release notes,
//! translations and prose remain); switchable (every patch call behind a switch); in progress
//! (some patch calls or services switch and others not, production code that adapts to
//! whether Eventlet is in use or imports it optionally, or production done and tests or
//! configuration remaining); not started (production code uses it with no switch).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::code::facts::{CodeFacts, Line, ServicePatching, Switch, SwitchKind};
use crate::profile::{Classified, Profile};
use crate::report::escape::{noun_for, plural};
use crate::result::Occurrence;

use super::Verdict;

/// Where a deliverable stands in the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Status {
    /// Production code uses it and nothing switches it off.
    #[serde(rename = "not started")]
    NotStarted,
    /// Part of the code or some services are done.
    #[serde(rename = "in progress")]
    InProgress,
    /// A working switch turns it off.
    #[serde(rename = "switchable")]
    Switchable,
    /// Only documentation and notes remain.
    #[serde(rename = "migrated")]
    Migrated,
    /// No occurrence at all.
    #[serde(rename = "not affected")]
    NotAffected,
}

impl Status {
    /// Every status, least advanced first: the order of report columns.
    pub const ALL: [Status; 5] = [
        Status::NotStarted,
        Status::InProgress,
        Status::Switchable,
        Status::Migrated,
        Status::NotAffected,
    ];

    /// As reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "not started",
            Status::InProgress => "in progress",
            Status::Switchable => "switchable",
            Status::Migrated => "migrated",
            Status::NotAffected => "not affected",
        }
    }

    /// One status for a deliverable made of several repositories: those without occurrences
    /// do not count unless all are; all migrated is migrated; all switchable or migrated
    /// (at least one switchable) is switchable; all not started is not started; any other mix
    /// is in progress, since part of the deliverable has moved and part has not. None for no
    /// repository (all failed, or not analysed).
    pub fn combine(all: impl IntoIterator<Item = Status>) -> Option<Status> {
        let all: Vec<Status> = all.into_iter().collect();
        if all.is_empty() {
            return None;
        }
        let affected: Vec<Status> = all
            .into_iter()
            .filter(|s| *s != Status::NotAffected)
            .collect();
        let every = |f: &dyn Fn(Status) -> bool| affected.iter().all(|s| f(*s));
        Some(if affected.is_empty() {
            Status::NotAffected
        } else if every(&|s| s == Status::Migrated) {
            Status::Migrated
        } else if every(&|s| matches!(s, Status::Switchable | Status::Migrated)) {
            Status::Switchable
        } else if every(&|s| s == Status::NotStarted) {
            Status::NotStarted
        } else {
            Status::InProgress
        })
    }
}

/// A line the analysis cites: an occurrence, or a line the code facts found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cite {
    /// Index into the occurrences.
    Occurrence(usize),
    /// A line that need not be an occurrence (a caller, a switch read).
    Code(Line),
}

/// What the verdict and the status rest on.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Yes / No / Maybe.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
    /// The lines it rests on.
    pub evidence: Vec<Cite>,
    /// The repository's migration status.
    pub status: Status,
    /// What the status rests on, in words (the switch and its default when switchable).
    pub status_detail: String,
}

/// Sub-patterns of settings: they name the package (an option, a value that selects it, an
/// environment variable, a requirement) without importing or calling it.
const SETTING: [&str; 4] = ["config_option", "env_switch", "greendns", "dependency"];

/// The inputs, with the small questions the decision asks of a classification. These are
/// the only places that know how the classification is expressed.
pub(super) struct Facts<'a> {
    pub profile: &'a Profile,
    pub occ: &'a [Occurrence],
    pub classified: &'a [Classified],
    pub code: &'a CodeFacts,
}

impl Facts<'_> {
    fn class(&self, i: usize) -> &str {
        &self.profile.classes[self.classified[i].class].id
    }

    fn group(&self, i: usize) -> &str {
        &self.profile.classes[self.classified[i].class].group
    }

    /// A line that uses the pattern in code: a rule other than a documentation one whose
    /// lines need the package at run time ([`crate::profile::Rule::runtime`]: an identifier or string that
    /// merely contains the word, a logger's name, a keyword that turns it off do not).
    /// Counting those as use made finished repositories "not started", and a switchable
    /// service "Maybe".
    pub fn is_use(&self, i: usize) -> bool {
        self.uses_by(i, &[])
    }

    /// Whether a rule of line `i` that needs the package at run time, is not a documentation
    /// one and is none of `except` matched it.
    fn uses_by(&self, i: usize, except: &[&[&str]]) -> bool {
        self.classified[i].rules.iter().any(|&r| {
            let rule = &self.profile.rules[r];
            rule.runtime
                && !except.iter().any(|ids| ids.contains(&rule.id.as_str()))
                && !rule.categories.iter().all(|c| c == "docs")
        })
    }

    /// A production use that needs the package installed: more than a setting that names it.
    fn needs_package(&self, i: usize) -> bool {
        self.is_production_use(i) && self.uses_by(i, &[&SETTING])
    }

    /// A production line that uses the pattern in code.
    pub fn is_production_use(&self, i: usize) -> bool {
        self.class(i) == "production" && self.is_use(i)
    }

    /// Documentation, release notes, translations, or a line that does not use it anywhere
    /// (prose, a message, an identifier that contains the word).
    pub fn is_note(&self, i: usize) -> bool {
        self.group(i) == "docs" || !self.is_use(i)
    }

    /// A requirement line: `requirements.txt`, what every install pulls in (extras, test
    /// requirements and constraints are not).
    pub fn is_requirement(&self, i: usize) -> bool {
        self.occ[i].path.rsplit('/').next() == Some("requirements.txt")
            && self.classified[i]
                .rules
                .iter()
                .any(|&r| self.profile.rules[r].id == "dependency")
    }

    /// A production use of an Eventlet API, not only its import, patching, or a setting.
    fn is_api_use(&self, i: usize) -> bool {
        const NOT_API: [&str; 3] = ["import", "import_only", "monkey_patch"];
        self.is_production_use(i) && self.uses_by(i, &[&SETTING, &NOT_API])
    }

    /// Production code that branches on whether Eventlet is patched in.
    fn adapts(&self, i: usize) -> bool {
        self.class(i) == "production"
            && (self.occ[i].text.contains("is_monkey_patched")
                || self.occ[i].text.contains("is_patched("))
    }
}

pub(super) fn decide(f: &Facts) -> Decision {
    let n = f.occ.len();
    let prod: Vec<usize> = (0..n).filter(|&i| f.class(i) == "production").collect();
    let uses: Vec<usize> = prod
        .iter()
        .copied()
        .filter(|&i| f.is_production_use(i))
        .collect();
    // A patch that runs only when its file is run as a script is a developer's tool.
    let patches: Vec<_> = f.code.patches.iter().filter(|p| !p.script).collect();
    let unguarded: Vec<_> = patches.iter().filter(|p| !p.guarded).collect();
    let services = &f.code.services;
    let switching = services
        .iter()
        .filter(|s| s.patching == ServicePatching::Switchable)
        .count();
    let always = services
        .iter()
        .filter(|s| s.patching == ServicePatching::Always)
        .count();
    let occ_cites = |v: &[usize], k: usize| -> Vec<Cite> {
        v.iter().take(k).map(|&i| Cite::Occurrence(i)).collect()
    };

    // Verdict.
    let requirements: Vec<usize> = (0..n).filter(|&i| f.is_requirement(i)).collect();
    // Production lines that use its APIs where nothing asks which mode runs: what a
    // switched-off service may still reach.
    let patch_files: BTreeSet<&str> = patches.iter().map(|p| p.site.path.as_str()).collect();
    let adaptive: BTreeSet<&str> = f.code.adaptive.iter().map(String::as_str).collect();
    let still: Vec<usize> = uses
        .iter()
        .copied()
        .filter(|&i| f.is_api_use(i))
        .filter(|&i| {
            let p = f.occ[i].path.as_str();
            !patch_files.contains(p) && !adaptive.contains(p)
        })
        .collect();
    let (verdict, reason, evidence) = if uses.is_empty() {
        if prod.is_empty() {
            (
                Verdict::Yes,
                "no production code uses it; the occurrences are in tests, documentation or configuration".to_string(),
                occ_cites(&(0..n).collect::<Vec<_>>(), 3),
            )
        } else {
            (
                Verdict::Yes,
                "production code only names it in strings, comments or identifiers; nothing there calls or imports it".to_string(),
                occ_cites(&prod, 3),
            )
        }
    } else if !unguarded.is_empty() {
        let mut ev: Vec<Cite> = Vec::new();
        for p in unguarded.iter().take(2) {
            ev.extend(p.unguarded_path.iter().cloned().map(Cite::Code));
        }
        let what = format!(
            "{} of {} `monkey_patch` {} in production code {} with no switch guarding {}",
            unguarded.len(),
            patches.len(),
            noun_for(patches.len(), "call"),
            if unguarded.len() == 1 { "runs" } else { "run" },
            if unguarded.len() == 1 { "it" } else { "them" }
        );
        if always == 0 && switching > 0 {
            (
                Verdict::Maybe,
                format!(
                    "{what}, but no declared service reaches {}; {} can run without it",
                    if unguarded.len() == 1 { "it" } else { "them" },
                    plural(switching, "service")
                ),
                ev,
            )
        } else if always > 0 && switching > 0 {
            (Verdict::Maybe, format!("{what}: only some services can switch ({switching} can, {always} patch unconditionally)"), ev)
        } else {
            (
                Verdict::No,
                format!("{what} (cited from where the code starts down to the call)"),
                ev,
            )
        }
    } else if !patches.is_empty() && !still.is_empty() {
        let files: BTreeSet<&str> = still.iter().map(|&i| f.occ[i].path.as_str()).collect();
        let mut ev: Vec<Cite> = patches
            .iter()
            .take(1)
            .flat_map(|p| p.guards.iter().take(1).cloned().map(Cite::Code))
            .collect();
        ev.extend(occ_cites(&still, 4));
        (
            Verdict::Maybe,
            format!(
                "every `monkey_patch` call in production code runs only behind a switch, but {} in {} still {} its APIs without checking which mode runs, so switched off they may still need it",
                if still.len() == 1 { "1 line".to_string() } else { format!("{} lines", still.len()) },
                if files.len() == 1 { "1 file".to_string() } else { format!("{} files", files.len()) },
                if still.len() == 1 { "uses" } else { "use" },
            ),
            ev,
        )
    } else if !patches.is_empty() {
        let mut ev: Vec<Cite> = Vec::new();
        for p in patches.iter().take(2) {
            ev.push(Cite::Code(p.site.clone()));
            ev.extend(p.guards.iter().take(2).cloned().map(Cite::Code));
        }
        (
            Verdict::Yes,
            format!(
                "every `monkey_patch` call in production code ({}) runs only behind a switch",
                patches.len()
            ),
            ev,
        )
    } else if patches.is_empty() && !uses.iter().any(|&i| f.needs_package(i)) {
        // `executor='eventlet'`, `set_threadpool_model('eventlet')`: code that asks a library
        // for its Eventlet mode by name, and imports nothing of it itself.
        (
            Verdict::Yes,
            format!(
                "production code names it only in settings ({}: an option, or a value that selects it); nothing there imports or calls it",
                plural(uses.len(), "line")
            ),
            occ_cites(&uses, 3),
        )
    } else if !f.code.optional_imports.is_empty() && requirements.is_empty() {
        // Not installed with the package, imported only when present: whatever else uses it
        // runs only where someone installed it on purpose.
        (
            Verdict::Yes,
            "production code imports it only optionally (`try: import` with an `except ImportError` fallback) and no requirement names it".to_string(),
            f.code.optional_imports.iter().take(3).cloned().map(Cite::Code).collect(),
        )
    } else {
        (
            Verdict::Maybe,
            "production code uses its APIs but nothing here monkey patches the runtime; the APIs need replacing before it can go".to_string(),
            occ_cites(&uses, 5),
        )
    };

    // Status.
    let (status, status_detail) = if n == 0 {
        (Status::NotAffected, "no occurrence".to_string())
    } else if (0..n).all(|i| f.is_note(i)) {
        (
            Status::Migrated,
            "only documentation, release notes, translations or prose remain".to_string(),
        )
    } else if !patches.is_empty() && unguarded.is_empty() {
        (Status::Switchable, switch_summary(&f.code.switches()))
    } else if !patches.is_empty() && (unguarded.len() < patches.len() || switching > 0) {
        (
            Status::InProgress,
            format!(
                "{} of {} `monkey_patch` calls behind a switch; {switching} of {} services can run without it",
                patches.len() - unguarded.len(),
                patches.len(),
                services.len()
            ),
        )
    } else if !patches.is_empty() {
        (
            Status::NotStarted,
            "production code patches with no switch".to_string(),
        )
    } else if uses.is_empty() {
        (
            Status::InProgress,
            "production code no longer uses it; tests or configuration still do".to_string(),
        )
    } else if !uses.iter().any(|&i| f.needs_package(i)) {
        (
            Status::InProgress,
            "production code no longer imports or calls it; settings still select it".to_string(),
        )
    } else if verdict == Verdict::Yes {
        (
            Status::InProgress,
            "production code imports it only optionally".to_string(),
        )
    } else if prod.iter().any(|&i| f.adapts(i)) {
        (
            Status::InProgress,
            "production code adapts to whether Eventlet is patched in".to_string(),
        )
    } else {
        (
            Status::NotStarted,
            "production code uses its APIs with no switch".to_string(),
        )
    };
    Decision {
        verdict,
        reason,
        evidence,
        status,
        status_detail,
    }
}

/// `switch: environment variable X (default ''), option y (default 'auto')`, in plain words.
fn switch_summary(switches: &[&Switch]) -> String {
    let parts: Vec<String> = switches
        .iter()
        .map(|s| {
            let kind = match s.kind {
                SwitchKind::Env => "environment variable",
                SwitchKind::Option => "option",
            };
            let default = match (&s.default, s.kind) {
                (Some(d), _) => d.as_str(),
                (None, SwitchKind::Env) => "unset",
                (None, SwitchKind::Option) => "not found",
            };
            format!("{kind} {} (default {default})", s.name)
        })
        .collect();
    format!("switch: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliverable_status_combines() {
        use Status::*;
        assert_eq!(Status::combine([]), None);
        assert_eq!(
            Status::combine([NotAffected, NotAffected]),
            Some(NotAffected)
        );
        assert_eq!(Status::combine([Migrated, NotAffected]), Some(Migrated));
        assert_eq!(Status::combine([Switchable, Migrated]), Some(Switchable));
        assert_eq!(Status::combine([NotStarted, NotAffected]), Some(NotStarted));
        assert_eq!(Status::combine([NotStarted, Migrated]), Some(InProgress));
        assert_eq!(Status::combine([NotStarted, Switchable]), Some(InProgress));
    }
}
