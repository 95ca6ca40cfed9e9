//! The incremental scan must give, at every commit, exactly what a head scan of that commit
//! gives: the same occurrences, parse facts, counters and code facts.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use fleetscan_core::code::facts::CodeFacts;
use fleetscan_core::filter::FileOptions;
use fleetscan_core::history::{Day, Points};
use fleetscan_core::matcher::MatchOptions;
use fleetscan_core::result::ScanOptions;
use fleetscan_tests::git_at as git;
use git2::{Oid, Repository};

use super::*;
use crate::job::JobOptions;

fn write(dir: &Path, path: &[u8], data: &[u8]) {
    let p = dir.join(std::ffi::OsStr::from_bytes(path));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

const BIG: usize = 4096;

/// A repository whose commits add, change, delete, rename and retype files of every kind a
/// scan counts apart: Python with and without patching, text, binary, too large, symbolic
/// links, a submodule, a name that is not UTF-8, package metadata. Returns its commits,
/// oldest first.
fn build(dir: &Path) -> Vec<Oid> {
    git(dir, &["init", "-q", "-b", "master"], "2024-01-01T00:00:00Z");
    let mut commits = Vec::new();
    // A gitlink at `vendor/lib` (an empty directory, so `add -A` leaves it alone).
    std::fs::create_dir_all(dir.join("vendor/lib")).unwrap();
    let commit = |dir: &Path, date: &str, gitlink: Option<&str>, commits: &mut Vec<Oid>| {
        git(dir, &["add", "-A"], date);
        if let Some(id) = gitlink {
            let info = format!("160000,{id},vendor/lib");
            git(dir, &["update-index", "--add", "--cacheinfo", &info], date);
        }
        git(dir, &["commit", "-q", "--allow-empty", "-m", date], date);
        commits.push(Oid::from_str(git(dir, &["rev-parse", "HEAD"], date).trim()).unwrap());
    };
    write(
        dir,
        b"svc/__init__.py",
        b"import eventlet\n\neventlet.monkey_patch()\n",
    );
    write(
        dir,
        b"svc/pool.py",
        b"import eventlet\n\ndef f():\n    eventlet.sleep(0)\n",
    );
    write(dir, b"doc/a.rst", b"We use eventlet.\n");
    write(dir, b"data.bin", b"\x00eventlet\x00");
    write(dir, b"big.txt", &b"eventlet\n".repeat(BIG));
    write(dir, b"caf\xe9/x.py", b"import eventlet\n");
    std::os::unix::fs::symlink("svc/pool.py", dir.join("alias.py")).unwrap();
    write(
        dir,
        b"svc/tests/test_pool.py",
        b"import mock\n\n@mock.patch('eventlet.sleep')\ndef t(m):\n    pass\n",
    );
    commit(dir, "2024-02-01T12:00:00Z", None, &mut commits);
    write(
        dir,
        b"svc/pool.py",
        b"import eventlet\nimport os\n\ndef f():\n    eventlet.sleep(0)\n    eventlet.spawn(f)\n",
    );
    std::fs::remove_file(dir.join("doc/a.rst")).unwrap();
    write(dir, b"doc/b.rst", b"We use eventlet.\n");
    std::fs::rename(dir.join("svc/tests"), dir.join("svc/unit")).unwrap();
    write(dir, b"big.txt", b"eventlet, small now\n");
    write(dir, b"data.bin", b"eventlet, text now\n");
    commit(
        dir,
        "2024-03-01T12:00:00Z",
        Some("0123456789abcdef0123456789abcdef01234567"),
        &mut commits,
    );
    // Only documentation: the code facts stay.
    write(dir, b"doc/b.rst", b"We used eventlet.\nNo more eventlet.\n");
    commit(dir, "2024-04-01T12:00:00Z", None, &mut commits);
    std::fs::remove_file(dir.join("alias.py")).unwrap();
    write(dir, b"alias.py", b"import eventlet  # a file now\n");
    std::fs::remove_file(dir.join("svc/pool.py")).unwrap();
    std::os::unix::fs::symlink("alias.py", dir.join("svc/pool.py")).unwrap();
    write(
        dir,
        b"setup.cfg",
        b"[entry_points]\nconsole_scripts =\n    svc = svc:main\n",
    );
    write(dir, b"svc/__init__.py", b"import os\nimport eventlet\n\nif os.environ.get('SVC_EVENTLET'):\n    eventlet.monkey_patch()\n");
    commit(
        dir,
        "2024-05-01T12:00:00Z",
        Some("89abcdef0123456789abcdef0123456789abcdef"),
        &mut commits,
    );
    commits
}

fn context(cache: &Path) -> Context {
    let scan = ScanOptions {
        matching: MatchOptions::new(["eventlet".to_string()]),
        files: FileOptions::default().with_max_file_size(BIG as u64),
    };
    Context::new(&scan, cache.to_path_buf(), JobOptions::default()).unwrap()
}

fn budget(stop: &AtomicBool) -> Budget<'_> {
    Budget {
        deadline: Instant::now() + Duration::from_secs(120),
        stop,
    }
}

/// Everything but the commit time, which the two ways read alike.
fn same(a: &Entry, b: &Entry, what: &str) {
    assert_eq!(a.occurrences, b.occurrences, "{what}: occurrences");
    assert_eq!(a.facts, b.facts, "{what}: facts");
    assert_eq!(a.stats, b.stats, "{what}: stats");
    assert_eq!(a.code, b.code, "{what}: code facts");
    assert_eq!(a.truncated, b.truncated, "{what}: truncated");
    assert_eq!(a.commit_time, b.commit_time, "{what}: commit time");
}

/// Each commit of the repository `build` makes in `dir`, scanned whole; checks that walking
/// them in each of `orders` gives the same at every step, and returns how many answers each
/// walk took from its memo.
fn walks_equal_head_scans(
    dir: &Path,
    build: fn(&Path) -> Vec<Oid>,
    orders: &[&[usize]],
    check: impl Fn(&[Entry]),
) -> Vec<usize> {
    let commits = build(dir);
    let repo = Repository::open(dir).unwrap();
    let stop = AtomicBool::new(false);
    let cache = tempfile::tempdir().unwrap();
    let ctx = context(cache.path());
    let whole: Vec<Entry> = commits
        .iter()
        .map(|c| scan_entry(&repo, *c, &ctx, budget(&stop)).unwrap())
        .collect();
    check(&whole);
    let mut hits = Vec::new();
    for order in orders {
        let mut walk = Walk::new(&ctx, &repo, "u", budget(&stop));
        for &i in *order {
            let e = walk.scan(commits[i]).unwrap();
            same(&e, &whole[i], &format!("commit {i} in {order:?}"));
        }
        hits.push(walk.memo.hits());
    }
    hits
}

#[test]
fn every_commit_scanned_incrementally_equals_its_head_scan() {
    let work = tempfile::tempdir().unwrap();
    // Forwards, backwards and skipping: each step re-reads only what changed.
    let orders: [&[usize]; 3] = [&[0, 1, 2, 3], &[3, 2, 1, 0], &[0, 3, 1]];
    walks_equal_head_scans(work.path(), build, &orders, |whole| {
        assert!(!whole[0].stats.raw_paths.is_empty() && !whole[1].stats.submodules.is_empty());
        assert_eq!(whole[0].stats.skipped_too_large, 1);
        assert!(
            !whole[3].code.is_empty(),
            "the last commit has switch facts"
        );
    });
}

#[test]
fn a_commit_that_only_changes_documentation_reads_one_blob() {
    let work = tempfile::tempdir().unwrap();
    let commits = build(work.path());
    let repo = Repository::open(work.path()).unwrap();
    let stop = AtomicBool::new(false);
    let scanner = context(work.path());
    let scanner = Scanner {
        matcher: &scanner.matcher,
        filter: &scanner.filter,
        max_line: 2000,
    };
    let mut files = Files::full(&repo, commits[1], &scanner, budget(&stop)).unwrap();
    let c = files
        .advance(&repo, commits[2], &scanner, budget(&stop))
        .unwrap();
    assert_eq!((c.paths, c.read), (vec!["doc/b.rst".to_string()], 1));
    // Saved and loaded, the files are the same.
    let again =
        Files::load(serde_json::from_slice(&serde_json::to_vec(&files.save()).unwrap()).unwrap())
            .unwrap();
    assert_eq!(again.entry().stats, files.entry().stats);
    assert_eq!(again.entry().occurrences, files.entry().occurrences);
}

#[test]
fn points_pick_their_commits_and_a_rerun_reads_only_the_new_head() {
    let work = tempfile::tempdir().unwrap();
    let commits = build(work.path());
    let repo = Repository::open(work.path()).unwrap();
    let stop = AtomicBool::new(false);
    let cache = tempfile::tempdir().unwrap();
    let day = |s: &str| s.parse::<Day>().unwrap();
    let points =
        Points::from_days(["2024-01-15", "2024-02-01", "2024-03-31", "2024-04-15"].map(day));
    let ctx = context(cache.path()).with_points(points);
    let chain = |tip: Oid| first_parents(&repo, tip, day("2024-01-15").end()).unwrap();
    let c = chain(commits[2]);
    assert_eq!(c.end, End::Root);
    let (tip, head, at) = scan_points(&ctx, &repo, "u", &c, budget(&stop)).unwrap();
    assert_eq!(tip, commits[2]);
    let picked: Vec<Option<String>> = at.iter().map(|p| p.commit.clone()).collect();
    let id = |i: usize| Some(commits[i].to_string());
    assert_eq!(picked, [None, id(0), id(1), id(2)]);
    assert!(at[0].is_absent() && at[0].occurrences.is_empty());
    assert_eq!(at[3].occurrences, head.occurrences);
    // The next run finds every point in the result cache and the files of the last commit
    // saved: a new head is one step from them.
    let saved = ctx.results.load_files("u", &ctx.fingerprint).unwrap();
    assert_eq!(Files::load(saved).unwrap().commit, commits[2]);
    let c = chain(commits[3]);
    let mut walk = Walk::new(&ctx, &repo, "u", budget(&stop));
    for &(i, _) in &c.commits[1..] {
        assert!(ctx.results.load("u", i, &ctx.fingerprint).is_some());
    }
    let e = walk.scan(commits[3]).unwrap();
    let whole = scan_entry(&repo, commits[3], &ctx, budget(&stop)).unwrap();
    same(&e, &whole, "new head from the saved files");
}

#[test]
fn fetching_deepens_until_the_oldest_point_and_later_fetches_only_what_is_new() {
    // 100 commits, one a day up to a day ago, served by a real git daemon. The dates are
    // recent so that the first fetch is shallow (its depth grows with how far back the oldest
    // point is, from now) and the deepening is exercised.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("openstack/long");
    std::fs::create_dir_all(&dir).unwrap();
    git(
        &dir,
        &["init", "-q", "-b", "master"],
        "2024-01-01T00:00:00Z",
    );
    let first = Day::of_unix(super::fetch::now_unix() - 101 * 86_400);
    let day = |i: u32| Day::of_unix(first.end() - 86_400 + i64::from(i) * 86_400);
    for i in 0..100 {
        write(&dir, b"f.txt", format!("eventlet {i}\n").as_bytes());
        let date = format!("{}T12:00:00Z", day(i));
        git(&dir, &["add", "-A"], &date);
        git(&dir, &["commit", "-q", "-m", &date], &date);
    }
    let daemon = fleetscan_tests::GitDaemon::start(root.path());
    let url = format!("{}openstack/long", daemon.base());
    let stop = AtomicBool::new(false);
    let opts = crate::git::GitOptions::default();
    let head = crate::git::probe(&url, &opts, budget(&stop))
        .unwrap()
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let path = cache.path().join("long.git");
    // The oldest point is 40 commits back: more than the first fetch's depth (16 for a point
    // 41 days ago), so the cache is deepened.
    let cut = day(60).end();
    let (repo, chain) = fetch_history(&path, &url, &head, cut, &opts, budget(&stop)).unwrap();
    assert_eq!(chain.end, End::Reached);
    assert_eq!(
        chain.commits.len(),
        40,
        "from the head down to the first commit before the cut"
    );
    assert_eq!(Day::of_unix(chain.commits[39].1), day(60));
    assert!(repo.is_shallow(), "not the whole history");
    let packs = crate::git::pack_count;
    assert_eq!(
        packs(&path),
        3,
        "fetched at depth 16, then deepened to 32 and 64"
    );
    // A point before the first commit: the whole history, down to the root.
    let (_, chain) = fetch_history(
        &path,
        &url,
        &head,
        day(0).end() - 86_400,
        &opts,
        budget(&stop),
    )
    .unwrap();
    assert_eq!((chain.end, chain.commits.len()), (End::Root, 100));
    // A new commit: one fetch of what is new, and the chain goes on through the old ones.
    write(&dir, b"f.txt", b"no more\n");
    let date = format!("{}T12:00:00Z", day(100));
    git(&dir, &["add", "-A"], &date);
    git(&dir, &["commit", "-q", "-m", "new"], &date);
    let head = crate::git::probe(&url, &opts, budget(&stop))
        .unwrap()
        .unwrap();
    let before = packs(&path);
    let (_, chain) = fetch_history(&path, &url, &head, cut, &opts, budget(&stop)).unwrap();
    assert_eq!((chain.end, chain.commits.len()), (End::Reached, 41));
    assert_eq!(packs(&path) - before, 1, "one pack, of what is new");
}

/// Code facts worth the name: patch calls guarded by an option defined in another file and by
/// an environment variable, reached from declared services through callers in other files.
/// Each commit changes some of those files and leaves the others as they were.
fn build_code(dir: &Path) -> Vec<Oid> {
    git(dir, &["init", "-q", "-b", "master"], "2024-01-01T00:00:00Z");
    let mut commits = Vec::new();
    let mut commit = |dir: &Path, date: &str| {
        git(dir, &["add", "-A"], date);
        git(dir, &["commit", "-q", "-m", date], date);
        commits.push(Oid::from_str(git(dir, &["rev-parse", "HEAD"], date).trim()).unwrap());
    };
    let setup = b"[entry_points]\nconsole_scripts =\n    svc-api = svc.cmd.api:main\n    svc-worker = svc.cmd.worker:main\n";
    write(dir, b"setup.cfg", setup);
    write(dir, b"svc/__init__.py", b"");
    write(dir, b"svc/cmd/__init__.py", b"");
    write(
        dir,
        b"svc/opts.py",
        b"from oslo_config import cfg\n\nopts = [\n    cfg.StrOpt('mode', default='eventlet',\n               choices=['eventlet', 'threading']),\n]\n",
    );
    write(
        dir,
        b"svc/patch.py",
        b"import eventlet\nfrom oslo_config import cfg\n\nCONF = cfg.CONF\n\n\ndef setup():\n    if CONF.mode == 'eventlet':\n        eventlet.monkey_patch()\n",
    );
    write(
        dir,
        b"svc/cmd/api.py",
        b"from svc import patch\n\n\ndef main():\n    patch.setup()\n",
    );
    write(
        dir,
        b"svc/cmd/worker.py",
        b"import eventlet\n\n\ndef main():\n    eventlet.monkey_patch()\n",
    );
    write(dir, b"svc/util.py", b"def helper():\n    return 1\n");
    commit(dir, "2024-02-01T12:00:00Z");
    // The worker's call gets a guard; an unrelated file changes.
    write(
        dir,
        b"svc/cmd/worker.py",
        b"import os\n\nimport eventlet\n\n\ndef main():\n    if os.environ.get('SVC_EVENTLET'):\n        eventlet.monkey_patch()\n",
    );
    write(dir, b"svc/util.py", b"def helper():\n    return 2\n");
    commit(dir, "2024-03-01T12:00:00Z");
    // The API reaches the patching through a new caller in another file; the option's
    // default changes.
    write(
        dir,
        b"svc/service.py",
        b"from svc import patch\n\n\ndef start():\n    patch.setup()\n",
    );
    // Found for its calls to `setup` in one round and to `start` in the next: each
    // function is parsed only when its callee is asked for.
    write(
        dir,
        b"svc/cmd/api.py",
        b"from svc import patch, service\n\n\ndef main():\n    service.start()\n\n\ndef legacy():\n    patch.setup()\n",
    );
    write(
        dir,
        b"svc/opts.py",
        b"from oslo_config import cfg\n\nopts = [\n    cfg.StrOpt('mode', default='threading',\n               choices=['eventlet', 'threading']),\n]\n",
    );
    commit(dir, "2024-04-01T12:00:00Z");
    // The guard goes away.
    write(
        dir,
        b"svc/patch.py",
        b"import eventlet\n\n\ndef setup():\n    eventlet.monkey_patch()\n",
    );
    commit(dir, "2024-05-01T12:00:00Z");
    commits
}

#[test]
fn code_facts_from_the_memo_of_earlier_commits_equal_a_fresh_pass() {
    let work = tempfile::tempdir().unwrap();
    let orders: [&[usize]; 3] = [&[0, 1, 2, 3], &[3, 2, 1, 0], &[1, 3, 0, 2, 1]];
    let hits = walks_equal_head_scans(work.path(), build_code, &orders, |whole| {
        // The facts are rich enough to go wrong, and differ from commit to commit.
        let first = &whole[0].code;
        assert_eq!(first.patches.len(), 2, "{first:#?}");
        assert_eq!(first.services.len(), 2, "{first:#?}");
        let defined_apart = |c: &CodeFacts| {
            c.switches().iter().any(|s| {
                s.defined.as_ref().is_some_and(|d| d.path == "svc/opts.py")
                    && s.default.as_deref() == Some("'eventlet'")
            })
        };
        assert!(defined_apart(first), "{first:#?}");
        // The API's service reaches the patching through its caller.
        let via = |c: &CodeFacts, text: &str| {
            c.services
                .iter()
                .any(|s| s.via.as_ref().is_some_and(|v| v.text == text))
        };
        assert!(via(first, "patch.setup()"), "{first:#?}");
        assert!(
            via(&whole[2].code, "service.start()"),
            "{:#?}",
            whole[2].code
        );
        for w in whole.windows(2) {
            assert_ne!(w[0].code, w[1].code);
        }
    });
    assert!(
        hits.iter().all(|&h| h > 0),
        "the memo answered nothing: {hits:?}"
    );
}
