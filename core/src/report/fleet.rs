//! The scan's results arranged by team, the one view every report is rendered from.

use std::collections::BTreeMap;

use super::escape::{code, link_target};
use super::file_name::team_file_names;
use crate::analysis::{analyze_with, Analysis, Cite, Status};
use crate::code::facts::Line;
use crate::governance::Governance;
use crate::history::Day;
use crate::ids::TeamName;
use crate::link::LinkOptions;
use crate::narrative::Narrative;
use crate::profile::Profile;
use crate::result::{Occurrence, RepoResult, RepoStatus};

/// All teams of a scan.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// Project teams, then SIGs, each sorted by name without regard to case, then
    /// "Unknown Team".
    pub teams: Vec<Team>,
    /// How links are written.
    pub links: LinkOptions,
    /// The analysis profile, when analysing.
    pub profile: Option<Profile>,
    /// The projects hold no occurrences (see [`FleetBuilder::outline`]).
    outline: bool,
    /// In a history scan, the fleet at each point, oldest first
    /// ([`FleetBuilder::with_points`]); empty otherwise. Outlines when this fleet is one.
    pub history: Vec<super::Moment>,
}

/// What kind of owner a team is; governance tells them apart, and the index lists them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TeamKind {
    /// A project team (`projects.yaml`, `legacy.yaml`).
    Project,
    /// A special interest group (`sigs-repos.yaml`).
    Sig,
    /// Repositories governance does not list.
    Unknown,
}

/// One team and its scanned repositories.
#[derive(Debug, Clone)]
pub struct Team {
    /// The team (or SIG) name.
    pub name: TeamName,
    /// Project team, SIG or unknown.
    pub kind: TeamKind,
    /// Its report, relative to the output directory: `teams/<name>.md`, unique and safe
    /// whatever the name holds (see `file_name.rs`).
    pub file: String,
    /// Its repositories, sorted by name.
    pub projects: Vec<Project>,
}

/// One repository with its owner.
#[derive(Debug, Clone)]
pub struct Project {
    /// The deliverable listing it, if any.
    pub deliverable: Option<String>,
    /// What the scan found. In an outline ([`FleetBuilder::outline`]) without the
    /// occurrences, their code facts and the raw bytes of their paths.
    pub result: RepoResult,
    /// How many occurrences the repository has (in an outline too).
    pub count: usize,
    /// The analysis of its occurrences, when a profile is given. In an outline without what
    /// is per occurrence (`classified`, `related`) and what only the project's own section
    /// shows (`reason`, `evidence`, `factors`, `status_detail`, and of the code facts all but
    /// the switches and the files that did not parse).
    pub analysis: Option<Analysis>,
    /// A generated narrative, shown after the analysis; None unless a model was asked.
    pub narrative: Option<Narrative>,
    /// The migration status of its deliverable, from all the deliverable's repositories
    /// ([`Status::combine`]); the repository's own when it belongs to no deliverable. None
    /// when not analysed or when none of them was scanned.
    pub deliverable_status: Option<Status>,
}

impl Project {
    /// Complexity score, 0 when not analysed; reports sort by it.
    pub fn score(&self) -> u8 {
        self.analysis.as_ref().map_or(0, |a| a.score)
    }

    /// The order projects are ranked in: most complex first, then most occurrences, then by
    /// repository name.
    pub fn rank(&self, other: &Project) -> std::cmp::Ordering {
        other
            .score()
            .cmp(&self.score())
            .then(other.count.cmp(&self.count))
            .then(self.result.repo.cmp(&other.result.repo))
    }
}

impl Fleet {
    /// Arranges `results` by the teams `governance` gives them.
    /// With a profile, every project is analysed.
    pub fn build(
        results: Vec<RepoResult>,
        governance: &Governance,
        links: LinkOptions,
        profile: Option<Profile>,
    ) -> Fleet {
        let mut b = FleetBuilder::new(governance, links, profile);
        for r in results {
            b.add(r);
        }
        b.finish()
    }

    /// True when the projects hold no occurrences (see [`FleetBuilder::outline`]): the
    /// renderers read them from a [`super::Results`] as they need them.
    pub fn is_outline(&self) -> bool {
        self.outline
    }

    /// The full project of `light`, an outline project of this fleet, from its `result`:
    /// analysed as [`Fleet::build`] analyses it (when `analyse` and there is a profile), with
    /// what only the whole fleet knows (its deliverable's status) taken from the outline.
    fn expand(&self, light: &Project, mut result: RepoResult, analyse: bool) -> Project {
        normalize(&mut result);
        let analysis = self
            .profile
            .as_ref()
            .filter(|_| analyse)
            .map(|p| analyze_with(p, &result.occurrences, &result.code, &result.facts));
        Project {
            deliverable: light.deliverable.clone(),
            count: result.occurrences.len(),
            result,
            analysis,
            narrative: light.narrative.clone(),
            deliverable_status: light.deliverable_status,
        }
    }

    /// Calls `f` with the full form of each of `list` (projects of this fleet), in that
    /// order: the projects themselves when the fleet holds its occurrences, else each one
    /// read from `results` and analysed when `analyse`, one at a time.
    pub(crate) fn each_full<E>(
        &self,
        list: &[(&Team, &Project)],
        results: &mut dyn super::Results<E>,
        analyse: bool,
        f: &mut dyn FnMut(&Team, &Project) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.outline {
            return list.iter().try_for_each(|(t, p)| f(t, p));
        }
        let names: Vec<crate::ids::RepoName> =
            list.iter().map(|(_, p)| p.result.repo.clone()).collect();
        let mut next = list.iter();
        results.each(&names, &mut |r| {
            let (t, light) = next.next().expect("no more results than asked for");
            debug_assert_eq!(r.repo, light.result.repo);
            f(t, &self.expand(light, r, analyse))
        })
    }

    /// Every project of every team, sorted by repository.
    pub(crate) fn by_repo(&self) -> Vec<(&Team, &Project)> {
        let mut all: Vec<_> = self.projects().collect();
        all.sort_by(|a, b| a.1.result.repo.cmp(&b.1.result.repo));
        all
    }

    /// Every project of every team.
    pub fn projects(&self) -> impl Iterator<Item = (&Team, &Project)> {
        self.teams
            .iter()
            .flat_map(|t| t.projects.iter().map(move |p| (t, p)))
    }

    /// Every occurrence as a beagle link line, by repository, path and line, of a fleet that
    /// holds its occurrences (not an outline).
    pub fn link_lines(&self) -> String {
        let mut files = super::stream::Files::default();
        let Ok(()) = self.write_link_lines(&mut super::Held, &mut files, "");
        files.0.pop().map(|f| f.contents).unwrap_or_default()
    }

    /// [`Fleet::link_lines`] as file `path` of `sink`.
    pub(crate) fn write_link_lines<E>(
        &self,
        results: &mut dyn super::Results<E>,
        sink: &mut dyn super::Sink<E>,
        path: &str,
    ) -> Result<(), E> {
        let found: Vec<_> = self
            .by_repo()
            .into_iter()
            .filter(|(_, p)| p.count > 0)
            .collect();
        let mut out = super::stream::Out::new(sink, path);
        self.each_full(&found, results, false, &mut |_, p| {
            for o in &p.result.occurrences {
                out.push_str(&self.links.line(&p.result, o));
                out.push('\n');
            }
            Ok(())
        })?;
        out.finish()
    }

    /// `path#Lline` of occurrence `i` of `p`, as a Markdown link to it.
    pub fn cite(&self, p: &Project, i: usize) -> String {
        self.link(p, &p.result.occurrences[i])
    }

    fn link(&self, p: &Project, o: &Occurrence) -> String {
        format!(
            "[{}]({})",
            code(&format!("{}#L{}", o.path, o.line)),
            link_target(&self.links.url(&p.result, o))
        )
    }

    /// `path#Lline` of a line the analysis cites, as a Markdown link to it.
    pub fn cite_any(&self, p: &Project, c: &Cite) -> String {
        match c {
            Cite::Occurrence(i) => self.cite(p, *i),
            Cite::Code(l) => self.cite_line(p, l),
        }
    }

    /// `path#Lline` of a line of the repository that need not be an occurrence.
    pub fn cite_line(&self, p: &Project, l: &Line) -> String {
        let o = Occurrence {
            path: l.path.clone(),
            line: l.line,
            text: l.text.clone(),
        };
        self.link(p, &o)
    }

    /// Occurrences across the fleet.
    pub fn occurrence_count(&self) -> usize {
        self.projects().map(|(_, p)| p.count).sum()
    }

    /// How many repositories ended in each state: (scanned, failed, skipped).
    pub fn status_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for (_, p) in self.projects() {
            match p.result.status {
                RepoStatus::Scanned => c.0 += 1,
                RepoStatus::Failed => c.1 += 1,
                RepoStatus::Skipped => c.2 += 1,
            }
        }
        c
    }
}

/// Builds a [`Fleet`] from results given one at a time, in any order.
pub struct FleetBuilder<'g> {
    governance: &'g Governance,
    links: LinkOptions,
    profile: Option<Profile>,
    outline: bool,
    teams: BTreeMap<TeamName, (TeamKind, Vec<Project>)>,
    /// In a history scan, a builder for the fleet at each point ([`FleetBuilder::with_points`]).
    points: Vec<(Day, FleetBuilder<'g>)>,
}

impl<'g> FleetBuilder<'g> {
    /// A builder arranging results by the teams `governance` gives them; with a profile,
    /// every project is analysed.
    pub fn new(
        governance: &'g Governance,
        links: LinkOptions,
        profile: Option<Profile>,
    ) -> FleetBuilder<'g> {
        FleetBuilder {
            governance,
            links,
            profile,
            outline: false,
            teams: BTreeMap::new(),
            points: Vec::new(),
        }
    }

    /// Builds the fleet at each of `points` (a history scan's, oldest first) too, as
    /// [`Fleet::history`]: each result's points go to the fleets of their own as the result
    /// is added, then leave it, so that an outline holds no point longer than its outline.
    /// A scanned repository without a result for a point (from a worker that did not scan
    /// points) is reported failed there rather than guessed; one that did not exist yet at a
    /// point is absent from it.
    pub fn with_points(mut self, points: &[Day]) -> FleetBuilder<'g> {
        self.points = points
            .iter()
            .map(|&at| {
                let mut b =
                    FleetBuilder::new(self.governance, self.links.clone(), self.profile.clone());
                b.outline = self.outline;
                (at, b)
            })
            .collect();
        self
    }

    /// Keeps only an outline of each project: its result and analysis without what is per
    /// occurrence (the occurrences, their code facts, the classification), which is what grows
    /// with a scan. Rendering such a fleet reads each project's full result again, from a
    /// [`super::Results`], when it reaches it.
    pub fn outline(mut self) -> FleetBuilder<'g> {
        self.outline = true;
        for (_, b) in &mut self.points {
            b.outline = true;
        }
        self
    }

    /// Adds one repository's result.
    pub fn add(&mut self, mut result: RepoResult) {
        // Each point moves to its fleet: point i is the result's i-th.
        let mut history = std::mem::take(&mut result.history).into_iter();
        for (at, b) in &mut self.points {
            if let Some(r) = super::history::at_point(&result, history.next(), *at) {
                b.add(r);
            }
        }
        normalize(&mut result);
        let owner = self.governance.owner(&result.repo);
        let (team, kind) = match owner {
            Some(o) if o.sig => (o.team.clone(), TeamKind::Sig),
            Some(o) => (o.team.clone(), TeamKind::Project),
            None => (TeamName::unknown(), TeamKind::Unknown),
        };
        let mut analysis = self
            .profile
            .as_ref()
            .map(|p| analyze_with(p, &result.occurrences, &result.code, &result.facts));
        let count = result.occurrences.len();
        if self.outline {
            result.occurrences = Vec::new();
            result.stats.raw_paths.clear();
            result.code = Default::default();
            // Only which files did not parse is read from the facts without the occurrences.
            result.facts.files.retain(|f| !f.parsed);
            for f in &mut result.facts.files {
                f.lines = Vec::new();
                f.related = Vec::new();
            }
            // What only a project's own section shows (it is rendered from the full project)
            // goes too; the tables keep the verdict, status, score and counts.
            if let Some(a) = &mut analysis {
                a.classified = Vec::new();
                a.related = Vec::new();
                a.reason = String::new();
                a.evidence = Vec::new();
                a.factors = Vec::new();
                a.status_detail = String::new();
                // summary.json lists the switches and the files that did not parse.
                a.code.optional_imports = Vec::new();
                a.code.services = Vec::new();
                a.code.adaptive = Vec::new();
                for p in &mut a.code.patches {
                    p.guards = Vec::new();
                    p.callers = Vec::new();
                    p.unguarded_path = Vec::new();
                }
            }
        }
        let entry = self.teams.entry(team).or_insert((kind, Vec::new()));
        // A name that is both a team and a SIG is listed once, as the team.
        entry.0 = entry.0.min(kind);
        entry.1.push(Project {
            deliverable: owner.and_then(|o| o.deliverable.clone()),
            result,
            count,
            analysis,
            narrative: None,
            deliverable_status: None,
        });
    }

    /// The fleet: teams and projects sorted, each deliverable's status from all its
    /// repositories.
    pub fn finish(self) -> Fleet {
        let mut teams: Vec<(TeamName, TeamKind, Vec<Project>)> = self
            .teams
            .into_iter()
            .map(|(n, (k, p))| (n, k, p))
            .collect();
        // Readers look names up alphabetically: "adjutant" before "Telemetry".
        teams.sort_by(|a, b| {
            (a.1, a.0 .0.to_lowercase(), &a.0).cmp(&(b.1, b.0 .0.to_lowercase(), &b.0))
        });
        let names: Vec<&str> = teams.iter().map(|t| t.0 .0.as_str()).collect();
        let files = team_file_names(&names);
        let mut teams: Vec<Team> = teams
            .into_iter()
            .zip(files)
            .map(|((name, kind, mut projects), file)| {
                projects.sort_by(|a, b| a.result.repo.cmp(&b.result.repo));
                // A project is about a kilobyte even in an outline: no room to spare.
                projects.shrink_to_fit();
                Team {
                    name,
                    kind,
                    file: format!("teams/{file}"),
                    projects,
                }
            })
            .collect();
        // A deliverable's status comes from all its scanned repositories.
        let key = |p: &Project| {
            p.deliverable
                .clone()
                .unwrap_or_else(|| p.result.repo.to_string())
        };
        let mut per: BTreeMap<String, Vec<Status>> = BTreeMap::new();
        for p in teams.iter().flat_map(|t| &t.projects) {
            if let (Some(a), RepoStatus::Scanned) = (&p.analysis, p.result.status) {
                per.entry(key(p)).or_default().push(a.status);
            }
        }
        for p in teams.iter_mut().flat_map(|t| &mut t.projects) {
            p.deliverable_status = per
                .get(&key(p))
                .and_then(|s| Status::combine(s.iter().copied()));
        }
        let history = self
            .points
            .into_iter()
            .map(|(at, b)| super::Moment {
                at,
                fleet: b.finish(),
            })
            .collect();
        Fleet {
            teams,
            links: self.links,
            profile: self.profile,
            outline: self.outline,
            history,
        }
    }
}

/// Occurrences sorted by path and line, each once: the order every report lists them in.
fn normalize(result: &mut RepoResult) {
    result.occurrences.sort();
    result.occurrences.dedup();
}

/// `YYYY-MM-DD` of a Unix time (UTC), without a date library.
pub fn date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_787_346_108), "2026-08-21");
        assert_eq!(date(951_782_400), "2000-02-29");
    }
}
