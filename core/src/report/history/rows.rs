//! `history.ndjson` and `history.csv`: one row per point and repository.

use std::collections::BTreeMap;

use serde_json::json;

use super::state;
use crate::analysis::Status;
use crate::history::Day;
use crate::ids::RepoName;
use crate::report::{Fleet, Project, Team};
use crate::result::RepoStatus;

/// One row of `history.ndjson` / `history.csv`.
struct Row<'a> {
    at: Day,
    team: &'a Team,
    head: &'a Project,
    then: Option<&'a Project>,
}

/// Every (point, repository) row: points oldest first, repositories in the head fleet's order.
fn rows(fleet: &Fleet) -> Vec<Row<'_>> {
    let mut out = Vec::new();
    for m in &fleet.history {
        let then: BTreeMap<&RepoName, &Project> = m
            .fleet
            .projects()
            .map(|(_, p)| (&p.result.repo, p))
            .collect();
        for (team, head) in fleet.projects() {
            out.push(Row {
                at: m.at,
                team,
                head,
                then: then.get(&head.result.repo).copied(),
            });
        }
    }
    out
}

/// Counts of one row: per category id and per path class id, in profile order.
fn counts(fleet: &Fleet, p: Option<&Project>) -> (Vec<usize>, Vec<usize>) {
    let Some(prof) = &fleet.profile else {
        return (Vec::new(), Vec::new());
    };
    // From the analysis's counts, which an outline keeps.
    let a = p.and_then(|p| p.analysis.as_ref());
    let count = |by_id: Option<&BTreeMap<String, usize>>, id: &str| {
        by_id.and_then(|m| m.get(id)).copied().unwrap_or(0)
    };
    let cats = (prof.categories.iter())
        .map(|c| count(a.map(|a| &a.categories), &c.id))
        .collect();
    let classes = (prof.classes.iter())
        .map(|c| count(a.map(|a| &a.classes), &c.id))
        .collect();
    (cats, classes)
}

/// `history.ndjson`.
pub(in crate::report) fn ndjson(fleet: &Fleet) -> String {
    let mut out = String::new();
    for row in rows(fleet) {
        let p = row.then;
        let r = p.map(|p| &p.result);
        let mut v = json!({
            "at": row.at,
            "team": row.team.name,
            "deliverable": row.head.deliverable,
            "repo": row.head.result.repo,
            "state": state(p),
            "commit": r.and_then(|r| r.commit.as_ref()),
            "commit_date": r.and_then(|r| r.commit_time).map(crate::report::date),
            "occurrences": p.map_or(0, |p| p.count),
        });
        if let Some(prof) = &fleet.profile {
            let (cats, classes) = counts(fleet, p);
            let by_id =
                |ids: Vec<&str>, n: Vec<usize>| -> serde_json::Map<String, serde_json::Value> {
                    ids.into_iter()
                        .zip(n)
                        .map(|(k, n)| (k.to_string(), json!(n)))
                        .collect()
                };
            v["categories"] = json!(by_id(
                prof.categories.iter().map(|c| c.id.as_str()).collect(),
                cats
            ));
            v["path_classes"] = json!(by_id(
                prof.classes.iter().map(|c| c.id.as_str()).collect(),
                classes
            ));
            let a = p.and_then(|p| p.analysis.as_ref());
            let scanned = r.is_some_and(|r| r.status == RepoStatus::Scanned);
            v["migration_status"] = json!(a.filter(|_| scanned).map(|a| a.status.as_str()));
            v["deliverable_status"] =
                json!(p.and_then(|p| p.deliverable_status).map(Status::as_str));
            v["verdict"] = json!(a.filter(|_| scanned).map(|a| a.verdict.as_str()));
            v["complexity"] = json!(a.filter(|_| scanned).map(|a| a.score));
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// `history.csv`: the same rows, one column per category and per path class.
pub(in crate::report) fn csv(fleet: &Fleet) -> String {
    let mut head: Vec<String> = [
        "at",
        "team",
        "deliverable",
        "repo",
        "state",
        "commit",
        "commit_date",
        "occurrences",
    ]
    .map(String::from)
    .to_vec();
    if let Some(prof) = &fleet.profile {
        head.extend(prof.categories.iter().map(|c| format!("category:{}", c.id)));
        head.extend(prof.classes.iter().map(|c| format!("path_class:{}", c.id)));
        head.extend(
            [
                "migration_status",
                "deliverable_status",
                "verdict",
                "complexity",
            ]
            .map(String::from),
        );
    }
    let mut out = head.join(",");
    out.push('\n');
    for row in rows(fleet) {
        let p = row.then;
        let r = p.map(|p| &p.result);
        let mut cells: Vec<String> = vec![
            row.at.to_string(),
            row.team.name.0.clone(),
            row.head.deliverable.clone().unwrap_or_default(),
            row.head.result.repo.to_string(),
            state(p).to_string(),
            r.and_then(|r| r.commit.clone()).unwrap_or_default(),
            r.and_then(|r| r.commit_time)
                .map(crate::report::date)
                .unwrap_or_default(),
            p.map_or(0, |p| p.count).to_string(),
        ];
        if fleet.profile.is_some() {
            let (cats, classes) = counts(fleet, p);
            cells.extend(cats.iter().chain(&classes).map(usize::to_string));
            let a = p
                .and_then(|p| p.analysis.as_ref())
                .filter(|_| r.is_some_and(|r| r.status == RepoStatus::Scanned));
            cells.push(a.map(|a| a.status.as_str()).unwrap_or("").into());
            cells.push(
                p.and_then(|p| p.deliverable_status)
                    .map_or("", Status::as_str)
                    .into(),
            );
            cells.push(a.map_or("", |a| a.verdict.as_str()).into());
            cells.push(a.map(|a| a.score.to_string()).unwrap_or_default());
        }
        let quoted: Vec<String> = cells.iter().map(|c| crate::report::csv::quote(c)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}
