//! History scans over the history corpus (`fleetscan_tests::history`): every point at the
//! right commit, absent repositories shown as absent, the files (golden), a later run that
//! fetches and reads only what is new, the burndown in Chromium, and bad flags.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use fleetscan_tests::{cache_packs, git, history, read, summary_repo, target_dir, Sandbox};
use serde_json::Value;

fn sandbox() -> Sandbox {
    Sandbox::history(env!("CARGO_BIN_EXE_fleetscan"))
}

/// A history scan of the history corpus into `out`.
fn scan(sb: &Sandbox, out: &str, extra: &[&str]) -> Output {
    let res = sb
        .command(out, &history::names())
        .args(["--history", history::HISTORY])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    res
}

fn rows(sb: &Sandbox, out: &str) -> Vec<Value> {
    read(&sb.path(out).join("history.ndjson"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The commit of `repo` last made on `date` or before, by first parents, as git picks it.
fn rev_before(sb: &Sandbox, repo: &str, date: &str) -> String {
    let dir = sb.path("served").join(repo);
    git(
        &dir,
        &[
            "rev-list",
            "--first-parent",
            "-1",
            &format!("--before={date}T23:59:59Z"),
            "HEAD",
        ],
    )
    .trim()
    .to_string()
}

/// The head commit of served repository `repo`.
fn head_commit(sb: &Sandbox, repo: &str) -> String {
    git(&sb.path("served").join(repo), &["rev-parse", "HEAD"])
        .trim()
        .to_string()
}

#[test]
fn history_takes_each_point_at_its_commit_and_shows_absent_repositories() {
    let sb = sandbox();
    scan(&sb, "out", &[]);
    let out = sb.path("out");
    let rows = rows(&sb, "out");
    let points: BTreeSet<&str> = rows.iter().map(|r| r["at"].as_str().unwrap()).collect();
    assert_eq!(points.len(), 11, "{points:?}");
    assert_eq!(rows.len(), 11 * history::names().len());
    // Each point at the commit git's own first-parent walk picks.
    for r in &rows {
        let (repo, at) = (r["repo"].as_str().unwrap(), r["at"].as_str().unwrap());
        let want = rev_before(&sb, repo, at);
        match r["state"].as_str().unwrap() {
            "absent" => assert_eq!(want, "", "{repo} at {at}"),
            "scanned" => assert_eq!(r["commit"], want.as_str(), "{repo} at {at}"),
            other => panic!("{repo} at {at}: {other}"),
        }
    }
    // Image appeared on 2025-03-01: absent before, not failed.
    let image: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r["repo"] == "openstack/image")
        .map(|r| (r["at"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert!(
        image
            .iter()
            .all(|(at, s)| (*at < "2025-03-01") == (*s == "absent")),
        "{image:?}"
    );
    // The side branch merged on 2024-07-05 is not on the first-parent chain at 2024-07-01,
    // though its commit is dated before.
    let side = |at: &str| {
        read(&out.join(format!("history/{at}/occurrences.ndjson"))).contains("compute/side.py")
    };
    assert!(!side("2024-07-01") && side("2024-10-01"));
    // Compute's migration, point by point.
    let compute: Vec<&str> = rows
        .iter()
        .filter(|r| r["repo"] == "openstack/compute")
        .map(|r| r["migration_status"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(compute.first(), Some(&"-"), "absent on 2024-01-01");
    assert_eq!(compute[1], "not started");
    assert_eq!(compute.last(), Some(&"migrated"));
    // Each point is a report directory of its own, with its point named.
    let summary: Value =
        serde_json::from_str(&read(&out.join("history/2025-04-01/summary.json"))).unwrap();
    assert_eq!(summary["scan"]["at"], "2025-04-01");
    let repos: Vec<&str> = summary["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo"].as_str().unwrap())
        .collect();
    assert_eq!(
        repos,
        [
            "openstack/clean-lib",
            "openstack/compute",
            "openstack/image",
            "openstack/storage"
        ]
    );
    // The head is scanned as by a plain scan.
    let head: Value = serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    let compute = summary_repo(&head, "openstack/compute");
    assert_eq!(
        compute["commit"],
        head_commit(&sb, "openstack/compute").as_str()
    );

    for f in ["progress.md", "history.csv", "history.ndjson"] {
        fleetscan_tests::assert_golden(&format!("history/{f}"), &read(&out.join(f)));
    }
    assert!(
        read(&out.join("index.md")).contains(
            "Over time: 11 points from 2024-01-01 to 2026-07-01, in [progress.md](progress.md)."
        ),
        "index.md links the progress"
    );
    // A re-run writes the same bytes.
    scan(&sb, "again", &[]);
    for f in [
        "progress.md",
        "history.csv",
        "history.ndjson",
        "history/2025-04-01/occurrences.ndjson",
    ] {
        assert_eq!(read(&out.join(f)), read(&sb.path("again").join(f)), "{f}");
    }
}

#[test]
fn diff_between_two_points_reports_the_drop_and_nothing_for_the_same_point() {
    let sb = sandbox();
    scan(&sb, "out", &[]);
    scan(&sb, "again", &[]);
    // 2025-08-15: compute's pool moved to native threads, its API and side module went.
    let json: Value =
        serde_json::from_str(&sb.diff("out@2025-07-01", "out@2025-10-01", &["--json"])).unwrap();
    let projects = json["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1, "{json}");
    let compute = &projects[0];
    assert_eq!(compute["repo"], "openstack/compute");
    assert_eq!(compute["added"].as_array().unwrap().len(), 0);
    let removed: BTreeSet<&str> = compute["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        removed,
        BTreeSet::from(["compute/api.py", "compute/pool.py", "compute/side.py"])
    );
    assert_eq!(json["at"], serde_json::json!(["2025-07-01", "2025-10-01"]));
    let md = sb.diff("out@2025-07-01", "out/history/2025-10-01", &[]);
    assert!(md.contains("Old point 2025-07-01 (of the scan of "), "{md}");
    assert!(md.contains("; new point 2025-10-01"), "{md}");
    // The same point, of one run or of a re-run: nothing.
    for (a, b) in [
        ("out@2025-07-01", "out@2025-07-01"),
        ("out@2025-04-01", "again@2025-04-01"),
    ] {
        assert!(sb.diff(a, b, &[]).contains("No changes"), "{a} {b}");
    }
    // A point the scan does not have is one clear error, naming those it has.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fleetscan"))
        .current_dir(sb.path(""))
        .args(["diff", "out@2025-07-02", "out@2025-10-01"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no point 2025-07-02") && stderr.contains("2025-07-01, 2025-10-01"),
        "{stderr}"
    );
}

#[test]
fn at_dates_and_a_default_step_work_alone_or_together() {
    let sb = sandbox();
    let res = sb
        .command("out", &history::names())
        .args(["--at", "2025-06-30", "--at", "2024-02-01"])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let points: BTreeSet<String> = rows(&sb, "out")
        .iter()
        .map(|r| r["at"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        points,
        BTreeSet::from(["2024-02-01".into(), "2025-06-30".into()])
    );
    // Without --every, a quarter; --at adds to the range.
    scan(&sb, "both", &["--at", "2024-02-01"]);
    let points: BTreeSet<String> = rows(&sb, "both")
        .iter()
        .map(|r| r["at"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(points.len(), 12);
    assert!(points.contains("2024-04-01") && points.contains("2024-02-01"));
}

/// The objects in the cache's packs that are not in `before`'s.
fn new_pack_objects(cache: &Path, before: &[PathBuf]) -> usize {
    cache_packs(cache)
        .iter()
        .filter(|p| !before.contains(p))
        .map(|p| {
            let idx = p.with_extension("idx");
            let out = std::process::Command::new("git")
                .args(["show-index"])
                .stdin(std::fs::File::open(&idx).unwrap())
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).lines().count()
        })
        .sum()
}

#[test]
fn a_later_run_fetches_and_reads_only_what_is_new() {
    let sb = sandbox();
    scan(&sb, "first", &[]);
    let cache = sb.path("cache");
    let packs = cache_packs(&cache);
    // Nothing new: nothing fetched, every point from the cache.
    scan(&sb, "second", &[]);
    assert_eq!(cache_packs(&cache), packs);
    // One commit after the last point: one commit, its trees and one blob come over (and the
    // bases libgit2 adds to complete a thin pack), not the repository's 30-odd objects; the
    // points stay as they were, the head moves.
    history::commit(
        &sb.path("served/openstack/compute"),
        "2026-08-01T10:00:00Z",
        &[(
            "doc/source/index.rst",
            Some("Compute used to run on eventlet.\n"),
        )],
    );
    scan(&sb, "third", &[]);
    let fetched = new_pack_objects(&cache, &packs);
    assert!((1..=8).contains(&fetched), "{fetched} objects fetched");
    assert_eq!(
        read(&sb.path("first/history.ndjson")),
        read(&sb.path("third/history.ndjson"))
    );
    let head: Value = serde_json::from_str(&read(&sb.path("third/summary.json"))).unwrap();
    let compute = summary_repo(&head, "openstack/compute");
    assert_eq!(
        compute["commit"],
        head_commit(&sb, "openstack/compute").as_str()
    );
    assert_eq!(compute["cached"], false);
}

#[test]
fn bad_history_flags_are_one_clear_error() {
    let sb = sandbox();
    let cases: [(&[&str], &str); 5] = [
        (&["--history", "2024-01-01"], "START..END"),
        (&["--history", "2024-01-01..2024-02-30"], "--history"),
        (
            &["--history", "2024-01-01..2025-01-01", "--every", "week"],
            "month, quarter or year",
        ),
        (&["--at", "2999-01-01"], "in the future"),
        (&["--at", "01/02/2024"], "--at 01/02/2024"),
    ];
    for (args, needle) in cases {
        let out = sb
            .command("bad", &history::names())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn the_dashboard_shows_the_burndown_with_its_numbers_in_chromium() {
    use fleetscan_tests::browser;
    let sb = sandbox();
    scan(&sb, "out", &["--format", "html,ndjson"]);
    let index = sb.path("out/html/index.html");
    let page = browser::load(&browser::file_url(&index, ""));
    assert!(page.console.is_empty(), "{:#?}", page.console);
    assert!(page.dom.contains("<body data-ready=\"yes\">"));
    assert!(page.dom.contains("id=\"burndown\""), "no burndown");
    // One column per point, and its numbers in the table beside it: at the first point only
    // clean-lib exists (no occurrence); at the last, compute is migrated and storage is not
    // started.
    let figure = page
        .dom
        .split("id=\"burndown\"")
        .nth(1)
        .and_then(|f| f.split("</table></div>").next())
        .unwrap();
    assert_eq!(figure.matches("<td>20").count(), 11, "{figure}");
    assert!(
        figure.contains("<td>2024-01-01</td><td class=\"num\">0</td>"),
        "{figure}"
    );
    let png = target_dir().join("dashboard/history-index.png");
    browser::screenshot(&browser::file_url(&index, ""), &png, 1280, 1600);
    // Without history, no burndown.
    let res = sb
        .command("plain", &history::names())
        .args(["--format", "html"])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(0));
    assert!(!read(&sb.path("plain/html/index.html")).contains("id=\"burndown\""));
}
