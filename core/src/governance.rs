//! Which team owns which repository, from OpenStack governance data.
//!
//! Two layouts are read, and told apart entry by entry so a user can pass any of the
//! governance files:
//! - `projects.yaml` and `legacy.yaml`: `team -> deliverables -> name -> repos: [org/name]`;
//! - `sigs-repos.yaml`: `SIG -> [ {repo: org/name} ]`.
//!
//! A repository's team comes from the `repos:` lists, never from deliverable names: many
//! repositories are named differently from their deliverable. Teams win over SIGs when both
//! list a repository, and the first source given wins over later ones, so the outcome does not
//! depend on hash order.

use std::collections::BTreeMap;

use serde::Serialize;
use yaml_serde::Value;

use crate::ids::{RepoName, TeamName};
use crate::Error;

/// The snapshot bundled with fleetscan, so scans work offline.
pub const BUILTIN: [(&str, &str); 2] = [
    (
        "built-in projects.yaml",
        include_str!("../governance/projects.yaml"),
    ),
    (
        "built-in sigs-repos.yaml",
        include_str!("../governance/sigs-repos.yaml"),
    ),
];

/// Who owns a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The team or SIG.
    pub team: TeamName,
    /// The deliverable that lists the repository; SIG repositories have none.
    pub deliverable: Option<String>,
    /// True for SIG-owned repositories.
    pub sig: bool,
}

/// The repositories known to governance and their owners.
#[derive(Debug, Clone, Default)]
pub struct Governance {
    owners: BTreeMap<RepoName, Owner>,
}

impl Governance {
    /// Parses the bundled snapshot.
    pub fn builtin() -> Result<Governance, Error> {
        Governance::from_documents([]).map(|(g, _)| g)
    }

    /// Parses governance documents, (source, text) pairs, in order; none means the built-in
    /// snapshot. Returns the data and the names of its sources, for the reports.
    pub fn from_documents<'a>(
        docs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(Governance, Vec<String>), Error> {
        let docs: Vec<(&str, &str)> = docs.into_iter().collect();
        let docs = if docs.is_empty() {
            BUILTIN.to_vec()
        } else {
            docs
        };
        let mut g = Governance::default();
        for (name, text) in &docs {
            g.add_yaml(name, text)?;
        }
        Ok((g, docs.iter().map(|(n, _)| n.to_string()).collect()))
    }

    /// Adds one governance file. `source` names it in errors.
    pub fn add_yaml(&mut self, source: &str, text: &str) -> Result<(), Error> {
        let bad = |why: String| Error::Governance {
            source_name: source.to_string(),
            why,
        };
        let doc: Value = yaml_serde::from_str(text).map_err(|e| bad(e.to_string()))?;
        let Value::Mapping(entries) = doc else {
            return Err(bad(
                "expected a mapping of teams or SIGs at the top level".into()
            ));
        };
        // Teams first, then SIGs, whatever their order in the file.
        let mut sigs = Vec::new();
        for (key, value) in &entries {
            let team = key
                .as_str()
                .ok_or_else(|| bad(format!("top-level key {key:?} is not a string")))?;
            match value {
                Value::Mapping(m) => {
                    let Some(delivs) = m.get("deliverables") else {
                        return Err(bad(format!("team {team:?} has no deliverables")));
                    };
                    let delivs = delivs.as_mapping().ok_or_else(|| {
                        bad(format!("deliverables of team {team:?} is not a mapping"))
                    })?;
                    for (dname, d) in delivs {
                        let dname = dname.as_str().unwrap_or_default();
                        let repos = match d.get("repos") {
                            None | Some(Value::Null) => None,
                            Some(Value::Sequence(list)) => Some(list),
                            // A string here is a common slip; skipping it would drop the
                            // repository from its team without a word.
                            Some(other) => {
                                return Err(bad(format!(
                                    "team {team:?} deliverable {dname:?}: repos is {}, not a list: write `repos: [org/name]`",
                                    describe(other)
                                )))
                            }
                        };
                        for repo in repos.into_iter().flatten() {
                            let repo = parse_repo(repo).map_err(|why| {
                                bad(format!("team {team:?} deliverable {dname:?}: {why}"))
                            })?;
                            self.owners.entry(repo).or_insert_with(|| Owner {
                                team: TeamName(team.to_string()),
                                deliverable: Some(dname.to_string()),
                                sig: false,
                            });
                        }
                    }
                }
                Value::Sequence(items) => sigs.push((team, items)),
                _ => {
                    return Err(bad(format!(
                        "entry {team:?} is neither a team (with deliverables) nor a SIG (list of repos)"
                    )))
                }
            }
        }
        for (sig, items) in sigs {
            for item in items {
                let repo = item
                    .get("repo")
                    .ok_or_else(|| format!("SIG {sig:?} has an item without repo"))
                    .and_then(parse_repo)
                    .map_err(bad)?;
                self.owners.entry(repo).or_insert_with(|| Owner {
                    team: TeamName(sig.to_string()),
                    deliverable: None,
                    sig: true,
                });
            }
        }
        Ok(())
    }

    /// The owner of `repo`, or `None` when governance does not list it ("Unknown Team").
    pub fn owner(&self, repo: &RepoName) -> Option<&Owner> {
        self.owners.get(repo)
    }

    /// Every listed repository, sorted.
    pub fn repos(&self) -> impl Iterator<Item = &RepoName> {
        self.owners.keys()
    }

    /// How many repositories are listed.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// True when nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {s:?}"),
        Value::Mapping(_) => "a mapping".into(),
        other => format!("{other:?}"),
    }
}

fn parse_repo(v: &Value) -> Result<RepoName, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("repo {v:?} is not a string"))?;
    RepoName::parse(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECTS: &str = "
nova:
  ptl: {name: x}
  deliverables:
    nova:
      repos: [openstack/nova]
    python-novaclient:
      repos:
        - openstack/python-novaclient
    os-vif:
      repos: [openstack/os-vif, openstack/os-vif-extra]
oslo:
  deliverables:
    oslo.config:
      repos: [openstack/oslo.config]
";
    const SIGS: &str = "
Ansible:
  - repo: openstack/ansible-collections-openstack
Also:
  - repo: openstack/nova
";

    fn gov() -> Governance {
        let mut g = Governance::default();
        g.add_yaml("projects.yaml", PROJECTS).unwrap();
        g.add_yaml("sigs.yaml", SIGS).unwrap();
        g
    }

    #[test]
    fn team_comes_from_repo_lists_not_deliverable_names() {
        let g = gov();
        let o = g
            .owner(&RepoName::parse("openstack/os-vif-extra").unwrap())
            .unwrap();
        assert_eq!(o.team.0, "nova");
        assert_eq!(o.deliverable.as_deref(), Some("os-vif"));
    }

    #[test]
    fn sig_repos_map_to_their_sig_and_teams_win() {
        let g = gov();
        let o = g
            .owner(&RepoName::parse("openstack/ansible-collections-openstack").unwrap())
            .unwrap();
        assert_eq!((o.team.0.as_str(), o.sig), ("Ansible", true));
        let nova = g
            .owner(&RepoName::parse("openstack/nova").unwrap())
            .unwrap();
        assert_eq!(nova.team.0, "nova");
        assert!(g.owner(&RepoName::parse("x/unlisted").unwrap()).is_none());
    }

    #[test]
    fn malformed_yaml_names_file_and_location() {
        let err = Governance::default()
            .add_yaml("bad.yaml", "nova:\n  deliverables: [\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.yaml"), "{err}");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn wrong_shape_is_an_error_not_a_silent_skip() {
        let err = Governance::default()
            .add_yaml("x.yaml", "nova: 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"nova\""), "{err}");
    }

    #[test]
    fn repos_written_as_a_string_is_an_error_naming_file_and_entry() {
        let yaml = "nova:\n  deliverables:\n    nova:\n      repos: openstack/nova\n";
        let err = Governance::default()
            .add_yaml("projects.yaml", yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains("projects.yaml"), "{err}");
        assert!(
            err.contains("deliverable \"nova\"") && err.contains("openstack/nova"),
            "{err}"
        );
        assert!(err.contains("not a list"), "{err}");
    }

    #[test]
    fn builtin_snapshot_parses() {
        let g = Governance::builtin().unwrap();
        assert!(g.len() > 500, "{}", g.len());
        let o = g
            .owner(&RepoName::parse("openstack/python-novaclient").unwrap())
            .unwrap();
        assert_eq!(o.team.0, "nova");
    }
}
