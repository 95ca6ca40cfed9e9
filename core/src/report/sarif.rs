//! `results.sarif`: SARIF 2.1.0 for code-scanning tools. One run for the fleet; one result per
//! occurrence in production code (tests, docs and configuration are not code to migrate), its
//! rule being the occurrence's heaviest profile rule (`mention` when none matched).
//!
//! Each repository is a `uriBaseId` (its `org/name`): `originalUriBaseIds` resolves it to the
//! code browser at the scanned commit, and `versionControlProvenance` names the repository URL,
//! branch and commit, so every location is pinned to what was scanned. Repositories that failed
//! are `toolExecutionNotifications`, so a consumer sees that they are missing, not clean.
//! Without a profile there are no path classes: every occurrence is a result of rule `match`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::stream::{pretty, Out};
use super::{Fleet, Project, Results, Team};
use crate::link::encoded_path;
use crate::profile::Profile;
use crate::result::{Occurrence, RepoResult, RepoStatus};

/// Where the 2.1.0 schema is published (errata 01, the current text).
const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The rule of occurrences no profile rule matched.
const MENTION: &str = "mention";
/// The one rule when no profile classifies occurrences.
const MATCH: &str = "match";

pub(super) fn render<E>(
    fleet: &Fleet,
    results: &mut dyn Results<E>,
    mut out: Out<'_, E>,
) -> Result<(), E> {
    let rules = Rules::new(fleet.profile.as_ref());
    let projects = fleet.by_repo();
    let failed = |p: &Project| p.result.status == RepoStatus::Failed;
    // Repositories that were scanned, with their code browser root.
    let pinned: Vec<(&Team, &Project, String)> = projects
        .iter()
        .filter(|(_, p)| !failed(p))
        .filter_map(|(t, p)| {
            fleet
                .links
                .commit_root(&p.result)
                .map(|root| (*t, *p, root))
        })
        .collect();
    // The lists as long as the fleet are written an element at a time, in place of markers.
    let mut run = json!({
        "tool": { "driver": {
            "name": "fleetscan",
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": rules.descriptors,
        }},
        "invocations": [{
            "executionSuccessful": !projects.iter().any(|(_, p)| failed(p)),
            "toolExecutionNotifications": pretty::marker(0),
        }],
        "originalUriBaseIds": pretty::marker(1),
        "results": pretty::marker(2),
        "versionControlProvenance": pretty::marker(3),
    });
    if fleet.profile.is_none() {
        run["properties"] = json!({ "note": "no analysis profile: every occurrence is a result" });
    }
    let doc = json!({ "$schema": SCHEMA, "version": "2.1.0", "runs": [run] });
    let parts = pretty::split(&serde_json::to_string_pretty(&doc).expect("json"), 4);

    out.push_str(&parts[0].0);
    let mut notes = pretty::Members::open(&mut out, true, parts[0].1);
    for (_, p) in projects.iter().filter(|(_, p)| failed(p)) {
        let r = &p.result;
        notes.element(&mut out, &json!({
            "level": "error",
            "message": { "text": format!("{}: not scanned: {}", r.repo, r.reason.as_deref().unwrap_or("no reason recorded")) },
        }));
    }
    notes.close(&mut out);

    out.push_str(&parts[1].0);
    let mut bases = pretty::Members::open(&mut out, false, parts[1].1);
    for (_, p, root) in &pinned {
        bases.member(&mut out, p.result.repo.as_str(), &json!({ "uri": root }));
    }
    bases.close(&mut out);

    out.push_str(&parts[2].0);
    let mut found = pretty::Members::open(&mut out, true, parts[2].1);
    let with: Vec<(&Team, &Project)> = pinned
        .iter()
        .filter(|(_, p, _)| p.count > 0)
        .map(|(t, p, _)| (*t, *p))
        .collect();
    fleet.each_full(&with, results, true, &mut |team, p| {
        for i in 0..p.result.occurrences.len() {
            if let Some(mut v) = result(fleet, &rules, p, i) {
                v["properties"]["team"] = json!(team.name);
                found.element(&mut out, &v);
            }
        }
        Ok(())
    })?;
    found.close(&mut out);

    out.push_str(&parts[3].0);
    let mut provenance = pretty::Members::open(&mut out, true, parts[3].1);
    for (_, p, _) in &pinned {
        let r = &p.result;
        let mut vcs = json!({
            "repositoryUri": r.url,
            "revisionId": r.commit,
            "mappedTo": { "uriBaseId": r.repo.as_str() },
        });
        if let Some(b) = &r.branch {
            vcs["branch"] = json!(b);
        }
        provenance.element(&mut out, &vcs);
    }
    provenance.close(&mut out);
    out.push_str(&parts[4].0);
    out.push('\n');
    out.finish()
}

/// The result for occurrence `i` of `p`, or None when it is not in production code.
fn result(fleet: &Fleet, rules: &Rules, p: &Project, i: usize) -> Option<Value> {
    let r = &p.result;
    let o = &r.occurrences[i];
    let (rule, title, props) = match (&fleet.profile, &p.analysis) {
        (Some(prof), Some(a)) => {
            let c = &a.classified[i];
            if prof.classes[c.class].id != "production" {
                return None;
            }
            let primary = prof.heaviest(c).or_else(|| c.rules.first().copied());
            let (id, title) = primary.map_or((MENTION, "mention"), |x| {
                (prof.rules[x].id.as_str(), prof.rules[x].title.as_str())
            });
            let props = json!({
                "pathClass": prof.classes[c.class].id,
                "categories": prof.categories_of(c),
                "rules": prof.rule_ids_of(c),
            });
            (id, title, props)
        }
        _ => (MATCH, "match", json!({})),
    };
    let index = rules.index[rule];
    let mut props = props;
    if let Some(d) = &p.deliverable {
        props["deliverable"] = json!(d);
    }
    Some(json!({
        "ruleId": rule,
        "ruleIndex": index,
        "level": rules.levels[index],
        "message": { "text": format!("{title}: {}", o.text) },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": relative_uri(r, o), "uriBaseId": r.repo.as_str() },
                "region": { "startLine": o.line, "snippet": { "text": o.text } },
            },
        }],
        "partialFingerprints": { "lineText/v1": fingerprint(r.repo.as_str(), &o.path, &o.text) },
        "properties": props,
    }))
}

/// The rule descriptors, one per rule id in profile order, then `mention`.
struct Rules {
    descriptors: Vec<Value>,
    levels: Vec<&'static str>,
    index: BTreeMap<String, usize>,
}

impl Rules {
    fn new(profile: Option<&Profile>) -> Rules {
        let mut rules = Rules {
            descriptors: Vec::new(),
            levels: Vec::new(),
            index: BTreeMap::new(),
        };
        let Some(prof) = profile else {
            rules.push(
                MATCH,
                "pattern match",
                "A line matching the scanned pattern.",
                "note",
                json!({}),
            );
            return rules;
        };
        for r in &prof.rules {
            if rules.index.contains_key(&r.id) {
                continue;
            }
            // What forces the runtime on (the deactivation blockers) is a warning; the rest
            // are API uses to replace.
            let level = if prof.deactivation.blocker_rules.contains(&r.id) {
                "warning"
            } else {
                "note"
            };
            let help = format!("{} Categories: {}.", r.replacement, r.categories.join(", "));
            let props = json!({ "categories": r.categories, "weight": r.weight });
            rules.push(&r.id, &r.title, &help, level, props);
        }
        let help = format!(
            "A line naming {} that matched no rule: usually an import, a comment or a string.",
            prof.title
        );
        rules.push(MENTION, "plain mention", &help, "note", json!({}));
        rules
    }

    fn push(&mut self, id: &str, title: &str, help: &str, level: &'static str, props: Value) {
        self.index.insert(id.to_string(), self.descriptors.len());
        self.levels.push(level);
        self.descriptors.push(json!({
            "id": id,
            "shortDescription": { "text": title },
            "fullDescription": { "text": help },
            "help": { "text": help },
            "defaultConfiguration": { "level": level },
            "properties": props,
        }));
    }
}

/// A path as a relative URI reference: percent-encoded, and with `:` encoded too so that a
/// first segment such as `javascript:x.py` cannot read as a scheme.
fn relative_uri(repo: &RepoResult, occ: &Occurrence) -> String {
    encoded_path(repo, occ).replace(':', "%3A")
}

/// A stable fingerprint of an occurrence that survives lines moving: FNV-1a of repository,
/// path and text, in hex.
fn fingerprint(repo: &str, path: &str, text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [repo, path, text] {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::Governance;
    use crate::ids::RepoName;
    use crate::link::LinkOptions;
    use crate::result::RepoResult;

    fn repo(name: &str, occ: &[(&str, u32, &str)]) -> RepoResult {
        let mut r = RepoResult::new(RepoName::parse(name).unwrap(), format!("git://h/{name}"));
        r.status = RepoStatus::Scanned;
        r.branch = Some("master".into());
        r.commit = Some("c0ffee".into());
        r.occurrences = crate::report::fixture::occurrences(occ);
        r
    }

    fn render_one(results: Vec<RepoResult>, profile: Option<Profile>) -> Value {
        let fleet = Fleet::build(
            results,
            &Governance::default(),
            LinkOptions::default(),
            profile,
        );
        serde_json::from_str(&crate::report::stream::to_string(|out| {
            render(&fleet, &mut crate::report::Held, out)
        }))
        .unwrap()
    }

    #[test]
    fn one_result_per_production_occurrence_pinned_to_the_commit() {
        let r = repo(
            "openstack/nova",
            &[
                ("nova/cmd/api.py", 3, "eventlet.monkey_patch()"),
                ("nova/tests/test_a.py", 1, "import eventlet"),
                ("doc/source/a.rst", 1, "eventlet is used"),
                ("nova/a b:c.py", 9, "import eventlet"),
            ],
        );
        let mut failed = RepoResult::new(RepoName::parse("openstack/gone").unwrap(), "x".into());
        failed.reason = Some("not found".into());
        let v = render_one(vec![r, failed], Some(Profile::eventlet()));
        let run = &v["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2, "{results:#?}");
        // Sorted by path: `nova/a b:c.py` first.
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "nova/a%20b%3Ac.py"
        );
        assert_eq!(results[0]["ruleId"], "import_only");
        assert_eq!(results[1]["ruleId"], "monkey_patch");
        assert_eq!(results[1]["level"], "warning");
        let loc = &results[1]["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "nova/cmd/api.py");
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "openstack/nova");
        assert_eq!(loc["region"]["startLine"], 3);
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for res in results {
            let i = res["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], res["ruleId"]);
        }
        assert_eq!(
            run["originalUriBaseIds"]["openstack/nova"]["uri"],
            "https://opendev.org/openstack/nova/src/commit/c0ffee/"
        );
        let vcs = &run["versionControlProvenance"][0];
        assert_eq!(vcs["revisionId"], "c0ffee");
        assert_eq!(vcs["repositoryUri"], "git://h/openstack/nova");
        let inv = &run["invocations"][0];
        assert_eq!(inv["executionSuccessful"], false);
        assert!(inv["toolExecutionNotifications"][0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("openstack/gone"));
    }

    #[test]
    fn without_a_profile_every_occurrence_is_a_match() {
        let r = repo("openstack/nova", &[("doc/a.rst", 1, "eventlet")]);
        let v = render_one(vec![r], None);
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0]["ruleId"], "match");
    }

    #[test]
    fn fingerprints_ignore_the_line_number() {
        assert_eq!(fingerprint("a", "b", "c"), fingerprint("a", "b", "c"));
        assert_ne!(fingerprint("a", "b", "c"), fingerprint("a", "bc", ""));
    }
}
