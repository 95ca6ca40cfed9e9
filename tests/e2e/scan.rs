//! `fleetscan scan` end to end: generated repositories, a real git daemon, the real binary.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use fleetscan_tests::{
    assert_failures_reported, assert_golden, corpus, read, report_files, summary_repo, Content,
    Sandbox,
};
use serde_json::Value;

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_fleetscan"))
}

#[test]
fn scan_finds_exactly_the_expected_occurrences_and_matches_goldens() {
    let sb = sandbox();
    let out = sb.scan("out", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some repos fail, so exit 1; stderr: {stderr}"
    );

    // The exact occurrence set, against an independent reading of the corpus.
    let ndjson = read(&sb.path("out/occurrences.ndjson"));
    let got: Vec<(String, String, u32, String)> = ndjson
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["repo"].as_str().unwrap().into(),
                v["path"].as_str().unwrap().into(),
                v["line"].as_u64().unwrap() as u32,
                v["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    let unique: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "duplicate occurrences");
    assert_eq!(
        unique.into_iter().collect::<Vec<_>>(),
        corpus::expected("eventlet", true)
    );

    // Failures and skips are reported with their reasons, never dropped.
    let summary: Value = serde_json::from_str(&read(&sb.path("out/summary.json"))).unwrap();
    assert_failures_reported(&summary);
    assert_eq!(
        summary_repo(&summary, "openstack/dead-host")["team"],
        "Unknown Team"
    );
    let blobs = summary_repo(&summary, "openstack/blobs");
    assert_eq!(
        (
            blobs["skipped_binary"].as_u64(),
            blobs["skipped_too_large"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let linked = summary_repo(&summary, "openstack/linked");
    assert_eq!(linked["symlinks"], 1);
    assert_eq!(linked["submodules"], serde_json::json!(["vendor/lib"]));
    assert_eq!(
        summary_repo(&summary, "openstack/main-branch")["branch"],
        "main"
    );
    assert_eq!(
        summary_repo(&summary, "openstack/odd-branch")["branch"],
        "development"
    );
    assert_eq!(
        summary_repo(&summary, "openstack/unlisted-thing")["team"],
        "Unknown Team"
    );
    assert_eq!(
        summary_repo(&summary, "openstack/sig-helper")["team"],
        "Helpers"
    );
    let total = corpus::specs().len() + 2;
    assert_eq!(summary["totals"]["repos"].as_u64(), Some(total as u64));

    for f in report_files(&sb.path("out")) {
        assert_golden(&format!("scan/{f}"), &read(&sb.path("out").join(&f)));
    }

    // Verdicts from the guards the worker found: compute patches only behind an upper-case
    // environment switch (a line that is not an occurrence), its services can run without
    // Eventlet; storage patches unconditionally.
    let compute = read(&sb.path("out/teams/Compute.md"));
    for needle in [
        "| compute | switchable | Maybe |",
        "but 9 lines in 2 files still use its APIs without checking which mode runs",
        "Switch: environment variable `OS_COMPUTE_DISABLE_EVENTLET_PATCHING`, read at [`compute/cmd/__init__.py#L13`]",
        "default `''`",
        "Services: 2 of 2 can run without it (`compute-api`, `compute-wsgi`)",
        "**Migration status:** switchable",
    ] {
        assert!(compute.contains(needle), "{needle:?} missing from Compute.md:\n{compute}");
    }
    let storage = read(&sb.path("out/teams/Storage.md"));
    assert!(
        storage.contains("| storage | not started | No |"),
        "{storage}"
    );
    assert_eq!(
        summary_repo(&summary, "openstack/compute")["migration_status"],
        "switchable"
    );

    // Grounding: every `path#Lline` a team file cites is an occurrence of that project (the
    // occurrence set itself was checked against the corpus above), or, for the lines the
    // verdict rests on that the pattern does not match (an upper-case switch, a caller), a
    // line of that repository's Python code.
    let mut known: BTreeSet<(String, String, u32)> = got
        .iter()
        .map(|(r, p, l, _)| (r.rsplit('/').next().unwrap().to_string(), p.clone(), *l))
        .collect();
    for spec in corpus::specs() {
        for (path, content) in &spec.files {
            if let (Content::Bytes(b), true) = (content, path.ends_with(".py")) {
                let n = String::from_utf8_lossy(b).lines().count() as u32;
                let short = spec.name.rsplit('/').next().unwrap().to_string();
                known.extend((1..=n).map(|l| (short.clone(), path.clone(), l)));
            }
        }
    }
    let mut cited = 0;
    for f in report_files(&sb.path("out"))
        .iter()
        .filter(|f| f.starts_with("teams/"))
    {
        let mut project = String::new();
        for line in read(&sb.path("out").join(f)).lines() {
            if let Some(p) = line.strip_prefix("## Project: ") {
                project = p.to_string();
            }
            for cite in line.split("[`").skip(1) {
                let target = cite.split("`]").next().unwrap();
                let (path, l) = target
                    .rsplit_once("#L")
                    .unwrap_or_else(|| panic!("bad citation {target}"));
                assert!(
                    known.contains(&(project.clone(), path.to_string(), l.parse().unwrap())),
                    "{f}: {project} cites {target}, which is not an occurrence"
                );
                cited += 1;
            }
        }
    }
    assert!(cited > 50, "only {cited} citations checked");
}

#[test]
fn warm_rerun_reuses_the_cache_and_writes_the_same_bytes() {
    let sb = sandbox();
    sb.scan("cold", &[]);
    let warm = sb.scan("warm", &[]);
    assert_eq!(warm.status.code(), Some(1));
    assert_scanned_from_cache(&sb.path("warm"));
    for f in report_files(&sb.path("cold")) {
        assert_eq!(
            read(&sb.path("cold").join(&f)),
            read(&sb.path("warm").join(&f)),
            "{f}"
        );
    }
}

/// Every repository that was scanned came from the cache: nothing fetched or scanned again.
fn assert_scanned_from_cache(out: &std::path::Path) {
    let summary: Value = serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    for r in summary["repos"].as_array().unwrap() {
        assert_eq!(r["cached"], r["status"] == "scanned", "{r}");
    }
}

#[test]
fn two_scans_sharing_one_cache_at_once_both_get_the_goldens() {
    let sb = sandbox();
    let repos = sb.all_repos();
    let mut a = sb.command("a", &repos);
    let mut b = sb.command("b", &repos);
    let (a, b) = (a.spawn().unwrap(), b.spawn().unwrap());
    for (name, child) in [("a", a), ("b", b)] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for f in report_files(&sb.path(name)) {
            assert_golden(&format!("scan/{f}"), &read(&sb.path(name).join(&f)));
        }
    }
}

#[test]
fn a_server_restart_between_runs_only_costs_a_reconnect() {
    let mut sb = sandbox();
    sb.daemon.restart();
    let out = sb.scan("out", &["--link-ref", "commit"]);
    assert_eq!(out.status.code(), Some(1));
    let links = read(&sb.path("out/eventlet-usage.txt"));
    assert!(
        links.lines().all(|l| l.contains("/src/commit/")),
        "commit-pinned links"
    );
}

fn fleetscan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetscan"))
        .args(args)
        .env("FLEETSCAN_LOG", "error")
        .output()
        .unwrap()
}

fn assert_input_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit 2 expected; stderr: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "stderr should name {needle:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    std::fs::write(d("bad.yaml"), "nova:\n  deliverables: [\n").unwrap();
    std::fs::write(d("file"), "").unwrap();
    let base = [
        "scan",
        "--pattern",
        "eventlet",
        "--repo",
        "openstack/nova",
        "--git-base",
        "git://127.0.0.1:1/",
    ];
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| fleetscan(&args.iter().map(String::as_str).collect::<Vec<_>>());

    assert_input_error(
        &fleetscan(&["scan", "--pattern", "a(b", "--repo", "openstack/nova"]),
        "a(b",
    );
    assert_input_error(&run(with(&["--governance", &d("bad.yaml")])), "line");
    assert_input_error(&run(with(&["--jobs", "0"])), "--jobs");
    assert_input_error(&run(with(&["--scan-threads", "0"])), "--scan-threads");
    assert_input_error(&run(with(&["--governance", &d("nope.yaml")])), "nope.yaml");
    assert_input_error(
        &run(with(&["--out", &format!("{}/sub", d("file"))])),
        "--out",
    );
    assert_input_error(&run(with(&["--cache-dir", &d("c")])), "git://127.0.0.1:1/");
    assert_input_error(
        &fleetscan(&["scan", "--pattern", "x", "--repo", "nova"]),
        "nova",
    );
    assert_input_error(
        &fleetscan(&[
            "scan",
            "--pattern",
            "x",
            "--repo",
            "a/b",
            "--repo-pattern",
            "x/*",
        ]),
        "--repo-pattern",
    );
    assert_input_error(
        &fleetscan(&["scan", "--pattern", "x", "--repo-pattern", "nothing/*"]),
        "nothing/*",
    );
    assert_input_error(
        &fleetscan(&[
            "scan",
            "--pattern",
            "x",
            "--repo",
            "a/b",
            "--out",
            &d("o"),
            "--format",
            "pdf",
        ]),
        "pdf",
    );
}

/// A report that cannot be written (here `teams` is a file) used to end the run with no
/// `summary.json`, CSV or NDJSON at all. Every other file must be written, the failure named,
/// and the results kept in the cache so that the re-run after the fix fetches nothing.
#[test]
fn a_report_that_cannot_be_written_costs_only_that_report() {
    let sb = sandbox();
    std::fs::create_dir_all(sb.path("out")).unwrap();
    std::fs::write(sb.path("out/teams"), "a file where the directory should be").unwrap();
    let out = sb.scan("out", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("could not write") && stderr.contains("teams/Compute.md"),
        "{stderr}"
    );
    assert!(stderr.contains("run the same command again"), "{stderr}");
    for f in [
        "summary.json",
        "occurrences.csv",
        "occurrences.ndjson",
        "index.md",
        "eventlet-usage.txt",
    ] {
        assert!(sb.path("out").join(f).is_file(), "{f} not written");
    }

    std::fs::remove_file(sb.path("out/teams")).unwrap();
    let again = sb.scan("out", &[]);
    assert_eq!(again.status.code(), Some(1));
    assert_scanned_from_cache(&sb.path("out"));
    for f in report_files(&sb.path("out")) {
        assert_golden(&format!("scan/{f}"), &read(&sb.path("out").join(&f)));
    }
}

/// Re-scanning into the same --out used to leave the previous run's team files beside the new
/// ones, and dashboard pages in directories the new run did not write to. Files the previous
/// run wrote and this one did not are removed; the user's are not.
#[test]
fn a_rescan_into_the_same_out_leaves_no_stale_team_files() {
    let sb = sandbox();
    // A project of another organisation in the first run only: its dashboard page sits in a
    // directory the second run writes nothing to.
    fleetscan_tests::git(
        &sb.path("served"),
        &[
            "clone",
            "-q",
            "--bare",
            "openstack/compute",
            "starlingx/compute",
        ],
    );
    let mut repos = sb.all_repos();
    repos.push("starlingx/compute".into());
    let first = sb.command("out", &repos).output().unwrap();
    assert_eq!(first.status.code(), Some(1));
    assert!(sb
        .path("out/html/projects/starlingx/compute.html")
        .is_file());
    assert!(sb.path("out/teams/Fillers.md").is_file());
    std::fs::write(sb.path("out/teams/our-notes.md"), "kept").unwrap();
    std::fs::write(sb.path("out/notes.txt"), "kept").unwrap();
    std::fs::write(sb.path("out/html/teams/our-page.html"), "kept").unwrap();
    let pages = |dir: &str| -> Vec<String> {
        let root = sb.path(dir);
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(&root).unwrap();
                    found.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        found.sort();
        found
    };
    let before = pages("out/html");
    assert!(before.len() > 4, "{before:?}");

    let second = sb
        .command("out", &["openstack/compute".to_string()])
        .output()
        .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let mut teams: Vec<String> = std::fs::read_dir(sb.path("out/teams"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    teams.sort();
    assert_eq!(teams, ["Compute.md", "our-notes.md"]);
    assert_eq!(read(&sb.path("out/notes.txt")), "kept");
    assert!(!read(&sb.path("out/index.md")).contains("Fillers"));
    // The dashboard too: the pages of the teams and projects no longer scanned are gone.
    assert_eq!(
        pages("out/html"),
        [
            "index.html",
            "projects/openstack/compute.html",
            "teams/Compute.html",
            "teams/our-page.html"
        ],
        "before: {before:?}"
    );
}

/// `fleetscan grep` walks directories on several threads: every file is still searched exactly
/// once, `.git` directories and binary files are skipped, links are not followed, and one
/// file's lines stay together, whatever the number of threads.
#[test]
fn grep_searches_every_file_once_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut expected = Vec::new();
    for i in 0..40 {
        let sub = root.join(format!("d{}/e{}", i % 5, i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        let text: String = (1..=30)
            .map(|l| {
                if l % 7 == i % 7 {
                    format!("import eventlet # {i}\n")
                } else {
                    format!("x = {l}\n")
                }
            })
            .collect();
        let path = sub.join(format!("f{i}.py"));
        std::fs::write(&path, &text).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains("eventlet") {
                expected.push(format!("{}:{}:{line}", path.display(), n + 1));
            }
        }
    }
    std::fs::create_dir_all(root.join(".git/objects")).unwrap();
    std::fs::write(root.join(".git/objects/x"), "eventlet\n").unwrap();
    std::fs::write(root.join("d0/bin"), b"eventlet\0\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("d0/e0/f0.py"), root.join("link.py")).unwrap();
    expected.sort();
    let dir_arg = root.to_string_lossy().into_owned();
    for threads in ["1", "4"] {
        let out = fleetscan(&["grep", "--pattern", "eventlet", "-j", threads, &dir_arg]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        // Each file's lines come together, in line order.
        let mut seen = BTreeSet::new();
        for pair in lines.windows(2) {
            let file = |l: &str| l.rsplitn(3, ':').nth(2).unwrap().to_string();
            if file(pair[0]) != file(pair[1]) {
                assert!(seen.insert(file(pair[0])), "{} split up", file(pair[0]));
            }
        }
        let mut got: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        got.sort();
        assert_eq!(got, expected, "-j {threads}");
        let out = fleetscan(&[
            "grep",
            "--pattern",
            "eventlet",
            "--count",
            "-j",
            threads,
            &dir_arg,
        ]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.starts_with(&format!("{} matching lines in ", expected.len())),
            "{stdout}"
        );
    }
    assert_input_error(
        &fleetscan(&["grep", "--pattern", "x", &format!("{dir_arg}/nope")]),
        "nope",
    );
}
