//! `summary.json`: the run as a whole and every repository's outcome, for tools and for
//! checking that no repository was dropped.

use serde::Serialize;
use serde_json::json;

use super::stream::{pretty, Out};
use super::Fleet;
use crate::history::Day;
use crate::result::{RepoStatus, ScanOptions};

/// Facts about the run that are not per repository.
#[derive(Debug, Clone, Serialize)]
pub struct ScanInfo {
    /// The patterns searched.
    pub patterns: Vec<String>,
    /// Matching and file options.
    pub options: ScanOptions,
    /// Where repositories were fetched from.
    pub git_base: String,
    /// Where the governance data came from.
    pub governance: Vec<String>,
    /// Start of the run, Unix seconds.
    pub started: i64,
    /// Wall time of the run, milliseconds.
    pub duration_ms: u64,
}

/// The analysis facts added to a repository's entry when the project was analysed:
/// `verdict`, `complexity` and `migration` (the deliverable's migration status), which
/// `fleetscan diff` compares; `migration_status` (the repository's own, when it was scanned),
/// the `switches` its patching rests on, and the Python files that did not parse cleanly.
fn assessment(p: &super::Project, entry: &mut serde_json::Value) {
    let Some(a) = &p.analysis else { return };
    entry["verdict"] = json!(a.verdict.as_str());
    entry["complexity"] = json!(a.score);
    entry["migration"] = json!(p.deliverable_status.map(|s| s.as_str()));
    entry["migration_status"] =
        json!((p.result.status == RepoStatus::Scanned).then(|| a.status.as_str()));
    let switches: Vec<serde_json::Value> = a
        .code
        .switches()
        .into_iter()
        .map(|s| {
            json!({
                "kind": s.kind,
                "name": s.name,
                "path": s.read.path,
                "line": s.read.line,
                "default": s.default,
            })
        })
        .collect();
    entry["switches"] = json!(switches);
    entry["unparsed"] = json!(a.code.unparsed);
}

pub(super) fn render<E>(fleet: &Fleet, info: &ScanInfo, out: Out<'_, E>) -> Result<(), E> {
    render_at(fleet, info, None, out)
}

/// The summary of `fleet`; for a point of a history scan, `at` names the point (`scan.at`),
/// and `fleetscan diff` shows it.
pub(super) fn render_at<E>(
    fleet: &Fleet,
    info: &ScanInfo,
    at: Option<Day>,
    mut out: Out<'_, E>,
) -> Result<(), E> {
    let (scanned, failed, skipped) = fleet.status_counts();
    let projects = fleet.by_repo();
    let (mut occ, mut files, mut bytes) = (0usize, 0u64, 0u64);
    for (_, p) in &projects {
        occ += p.count;
        files += p.result.stats.files_scanned;
        bytes += p.result.stats.bytes_scanned;
    }
    // Written a repository at a time: the list is as long as the fleet.
    let mut scan = json!(info);
    if let Some(at) = at {
        scan["at"] = json!(at);
    }
    let doc = json!({
        "scan": scan,
        "totals": {
            "repos": projects.len(),
            "scanned": scanned,
            "failed": failed,
            "skipped": skipped,
            "occurrences": occ,
            "files_scanned": files,
            "bytes_scanned": bytes,
        },
        "repos": pretty::marker(0),
    });
    let parts = pretty::split(&serde_json::to_string_pretty(&doc).expect("json"), 1);
    out.push_str(&parts[0].0);
    let mut repos = pretty::Members::open(&mut out, true, parts[0].1);
    for (team, p) in projects {
        let r = &p.result;
        let mut entry = json!({
            "repo": r.repo,
            "team": team.name,
            "deliverable": p.deliverable,
            "url": r.url,
            "status": r.status,
            "reason": r.reason,
            "branch": r.branch,
            "commit": r.commit,
            "occurrences": p.count,
            "files_scanned": r.stats.files_scanned,
            "bytes_scanned": r.stats.bytes_scanned,
            "skipped_by_path": r.stats.skipped_by_path,
            "skipped_binary": r.stats.skipped_binary,
            "skipped_too_large": r.stats.skipped_too_large,
            "too_large": r.stats.too_large,
            "symlinks": r.stats.symlinks,
            "submodules": r.stats.submodules,
            // Python files with syntax errors, whose lines were classified by line rules.
            "unparsed": r.facts.unparsed().collect::<Vec<_>>(),
            "fetch_ms": r.fetch_ms,
            "scan_ms": r.scan_ms,
            "attempts": r.attempts,
            "cached": r.cached,
            "cache_repaired": r.cache_repaired,
            "truncated": r.truncated,
        });
        assessment(p, &mut entry);
        repos.element(&mut out, &entry);
    }
    repos.close(&mut out);
    out.push_str(&parts[1].0);
    out.push('\n');
    out.finish()
}
