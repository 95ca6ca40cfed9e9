//! `fleetscan scan` against hostile servers, damaged caches and awkward input: no hang, nothing
//! lost, a clear reason. Every scan runs under a generous watchdog, so a regression fails the
//! test instead of hanging it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fleetscan_tests::proxy::{SlowProxy, Stall, StallServer};
use fleetscan_tests::{read, summary_repo, GitDaemon, GitHttp, RepoSpec};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_fleetscan");

/// Runs `cmd`, killing it and failing the test if it is still running after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after {limit:?}; stderr: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

/// `fleetscan scan` of `repos` (URLs or names under `git_base`), reports in `dir/out`.
fn scan(dir: &Path, git_base: &str, repos: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["scan", "--pattern", "eventlet", "--profile", "none"])
        .args(["--git-base", git_base])
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--jobs", "2", "-q"])
        .env("FLEETSCAN_LOG", "error");
    for r in repos {
        cmd.args(["--repo", r]);
    }
    cmd
}

/// Scans `repos` under the watchdog, checks the exit code and returns summary.json.
fn scan_expecting(dir: &Path, git_base: &str, repos: &[&str], code: i32) -> Value {
    let out = run_bounded(scan(dir, git_base, repos), Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    summary(dir)
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&read(&dir.join("out/summary.json"))).unwrap()
}

/// The budget holds before any object is sent: a server that accepts and stays silent, and one
/// that trickles a byte every second, used to cost 60 s per attempt and for ever.
#[test]
fn budget_holds_against_silent_and_trickling_servers() {
    for (name, stall, scheme) in [
        ("silent", Stall::Silent, "git"),
        ("silent over http", Stall::Silent, "http"),
        ("trickle", Stall::Trickle(Duration::from_millis(700)), "git"),
    ] {
        let server = StallServer::start(stall);
        let dir = tempfile::tempdir().unwrap();
        let base = server.base().replace("git://", &format!("{scheme}://"));
        let url = format!("{base}openstack/stalled");
        let mut cmd = scan(dir.path(), &server.base(), &[&url]);
        cmd.args(["--timeout", "2", "--retries", "0"]);
        let out = run_bounded(cmd, Duration::from_secs(45));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        let r = summary_repo(&summary(dir.path()), "openstack/stalled").clone();
        let reason = r["reason"].as_str().unwrap();
        assert_eq!(r["status"], "failed", "{name}: {r}");
        assert!(
            reason.contains("timed out") && reason.contains("listing refs"),
            "{name}: the reason names the timeout and the phase: {reason}"
        );
    }
}

/// Runs git in `dir` (with an identity for commits); panics with its stderr on failure.
fn git_in(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=F", "-c", "user.email=f@example.org"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A served directory with `repos` built in it and its daemon.
fn serve(dir: &Path, repos: &[RepoSpec]) -> GitDaemon {
    let root = dir.join("served");
    for r in repos {
        r.build(&root);
    }
    GitDaemon::start(&root)
}

fn nova() -> RepoSpec {
    let big: String = (0..400)
        .map(|i| format!("value_{i} = compute({i})\n"))
        .collect();
    RepoSpec::new(
        "openstack/nova",
        &[
            ("nova/a.py", "import eventlet\n"),
            ("nova/big.py", &big),
            ("nova/b.py", "eventlet.sleep(0)\n"),
        ],
    )
}

fn the_pack(cache: &Path) -> std::path::PathBuf {
    let mut found = fleetscan_tests::cache_packs(cache);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// A truncated, deleted or bit-flipped pack used to fail the repository on every later run
/// with a wrong reason ("repository not found (object not found)").
#[test]
fn a_damaged_clone_cache_is_fetched_again_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = serve(dir.path(), &[nova()]);
    let run = || scan_expecting(dir.path(), &daemon.base(), &["openstack/nova"], 0);
    let first = run();
    assert!(summary_repo(&first, "openstack/nova")["cache_repaired"].is_null());
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 3] = [
        ("truncated", |p| {
            let len = std::fs::metadata(p).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap()
                .set_len(len / 2)
                .unwrap();
        }),
        ("deleted", |p| std::fs::remove_file(p).unwrap()),
        ("bit-flipped", |p| {
            let mut b = std::fs::read(p).unwrap();
            let mid = b.len() / 2;
            for x in &mut b[mid..mid + 8] {
                *x ^= 0x10;
            }
            std::fs::write(p, b).unwrap();
        }),
    ];
    for (name, damage) in damages {
        damage(&the_pack(&dir.path().join("cache")));
        // Without the result cache, the scan must read the damaged clone.
        std::fs::remove_dir_all(dir.path().join("cache/results")).unwrap();
        let s = run();
        let r = summary_repo(&s, "openstack/nova");
        assert_eq!(r["status"], "scanned", "{name}: {r}");
        assert_eq!(r["occurrences"], 2, "{name}: {r}");
        assert!(
            r["cache_repaired"]
                .as_str()
                .is_some_and(|w| w.contains("damaged clone cache")),
            "{name}: summary.json says the cache was repaired: {r}"
        );
    }
}

/// A repository costs one connection: the probe's, kept open for the fetch (each connection
/// is a round trip or more on a distant server, and a process on it). A re-run opens one per
/// repository to see whether its head moved, and one more after a damaged cache is thrown
/// away. Every run also opens one at start-up, to check that the git base is reachable.
#[test]
fn the_fetch_reuses_the_probes_connection() {
    let dir = tempfile::tempdir().unwrap();
    let other = RepoSpec::new("openstack/glance", &[("g.py", "import eventlet\n")]);
    let daemon = serve(dir.path(), &[nova(), other]);
    let proxy = SlowProxy::start(daemon.port(), Duration::ZERO);
    let base = proxy.base();
    let repos = ["openstack/nova", "openstack/glance"];
    let cold = scan_expecting(dir.path(), &base, &repos, 0);
    for r in repos {
        assert_eq!(summary_repo(&cold, r)["status"], "scanned", "{cold}");
    }
    assert_eq!(summary_repo(&cold, "openstack/nova")["occurrences"], 2);
    assert_eq!(
        proxy.connections(),
        1 + 2,
        "cold: one connection a repository"
    );
    let warm = scan_expecting(dir.path(), &base, &repos, 0);
    assert_eq!(summary_repo(&warm, "openstack/nova")["cached"], true);
    assert_eq!(
        proxy.connections(),
        3 + 1 + 2,
        "warm: one probe a repository"
    );
    // A clone whose pack is gone: the fetch over the probe's connection finds the cache
    // damaged, and the repair fetches over a connection of its own.
    let packs = fleetscan_tests::cache_packs(&dir.path().join("cache"));
    let nova_pack = packs
        .iter()
        .find(|p| p.to_string_lossy().contains("nova"))
        .expect("nova's pack");
    std::fs::remove_file(nova_pack).unwrap();
    std::fs::remove_dir_all(dir.path().join("cache/results")).unwrap();
    let repaired = scan_expecting(dir.path(), &base, &repos, 0);
    for r in repos {
        assert_eq!(
            summary_repo(&repaired, r)["status"],
            "scanned",
            "{repaired}"
        );
    }
    assert_eq!(summary_repo(&repaired, "openstack/nova")["occurrences"], 2);
    assert!(summary_repo(&repaired, "openstack/nova")["cache_repaired"].is_string());
    assert_eq!(
        proxy.connections(),
        6 + 1 + 3,
        "two probes and the repair's fetch"
    );
}

/// A cache directory that cannot be written used to fail every repository, one by one.
#[test]
fn an_unwritable_cache_dir_is_one_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    // A file where the clone cache's directory must go: unwritable even for root.
    std::fs::write(cache.join("git"), "").unwrap();
    let daemon = serve(dir.path(), &[nova()]);
    let out = run_bounded(
        scan(dir.path(), &daemon.base(), &["openstack/nova"]),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--cache-dir") && stderr.contains(&*cache.to_string_lossy()),
        "{stderr}"
    );
    assert!(!dir.path().join("out/summary.json").exists());
}

/// Every file under `dir`, names and contents, and `extra`, must not contain `secret`.
fn assert_nowhere(secret: &str, dir: &Path, extra: &str) {
    assert!(!extra.contains(secret), "{extra}");
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            assert!(!p.to_string_lossy().contains(secret), "{}", p.display());
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(secret),
                    "{} holds the password",
                    p.display()
                );
            }
        }
    }
}

/// A password in a repository URL used to land in summary.json and the cache folder name.
#[test]
fn a_password_in_a_url_is_written_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = serve(dir.path(), &[nova()]);
    let secret = "s3cretPassw0rd";
    let base = daemon
        .base()
        .replace("git://", &format!("git://bot:{secret}@"));
    let good = format!("{base}openstack/nova");
    let missing = format!("{base}openstack/missing");
    let out = run_bounded(
        scan(dir.path(), &base, &[&good, &missing]),
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let s = summary(dir.path());
    assert_eq!(summary_repo(&s, "openstack/nova")["status"], "scanned");
    assert_eq!(summary_repo(&s, "openstack/missing")["status"], "failed");
    assert!(read(&dir.path().join("out/summary.json")).contains("bot:***@"));
    assert_nowhere(secret, &dir.path().join("out"), &stderr);
    assert_nowhere(
        secret,
        &dir.path().join("cache"),
        &String::from_utf8_lossy(&out.stdout),
    );
}

/// One repository full of matching lines used to take gigabytes of memory and reports; now
/// the scan stops at the cap, says where, and long lines are cut with a marker.
#[test]
fn occurrences_over_the_cap_are_reported_as_truncated_and_long_lines_cut() {
    let dir = tempfile::tempdir().unwrap();
    let big: String = (1..=500)
        .map(|i| format!("eventlet.sleep({i})\n"))
        .collect();
    let long = format!("import eventlet  # {}\n", "x".repeat(5000));
    let spec = RepoSpec::new(
        "openstack/generated",
        &[("a.py", &long), ("gen/big.py", &big)],
    );
    let daemon = serve(dir.path(), &[spec]);
    let mut cmd = scan(dir.path(), &daemon.base(), &["openstack/generated"]);
    cmd.args(["--max-occurrences", "100", "--max-line-length", "200"]);
    let out = run_bounded(cmd, Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(dir.path());
    let r = summary_repo(&s, "openstack/generated");
    assert_eq!(r["occurrences"], 100, "{r}");
    let truncated = r["truncated"].as_str().unwrap_or_default();
    assert!(truncated.contains("gen/big.py line 99"), "says where: {r}");
    let ndjson = read(&dir.path().join("out/occurrences.ndjson"));
    let first: Value = serde_json::from_str(ndjson.lines().next().unwrap()).unwrap();
    let text = first["text"].as_str().unwrap();
    assert!(text.len() < 300 && text.contains("line cut: "), "{text}");
    // The one team file, whatever its name.
    let teams: Vec<_> = std::fs::read_dir(dir.path().join("out/teams"))
        .unwrap()
        .collect();
    assert_eq!(teams.len(), 1);
    let team = read(&teams[0].as_ref().unwrap().path());
    assert!(
        team.contains("**Truncated:**") && team.contains("gen/big.py line 99"),
        "{team}"
    );
}

/// Builds `served/openstack/shallow.git` under `dir`: a bare mirror made with `--depth 1`
/// from a repository of two commits, with `a.py` and `b.py` holding one occurrence each.
fn shallow_mirror(dir: &Path) -> std::path::PathBuf {
    let full = dir.join("full");
    let spec = RepoSpec::new("openstack/deep", &[("a.py", "import eventlet\n")]);
    spec.build(&full);
    let src = full.join("openstack/deep");
    std::fs::write(src.join("b.py"), "eventlet.sleep(1)\n").unwrap();
    git_in(&src, &["add", "-A"]);
    git_in(&src, &["commit", "-q", "-m", "second"]);
    let served = dir.join("served");
    std::fs::create_dir_all(served.join("openstack")).unwrap();
    let url = format!("file://{}", src.display());
    git_in(
        &served.join("openstack"),
        &["clone", "-q", "--bare", "--depth", "1", &url, "shallow.git"],
    );
    assert!(
        served.join("openstack/shallow.git/shallow").exists(),
        "the mirror is shallow"
    );
    served
}

/// A server whose repository is itself shallow (a mirror of depth-1 clones) lists `shallow`
/// lines in its ref advertisement, which made every fetch fail with "invalid packet line",
/// retried as a network error. Over git:// it is now scanned; over http(s) the reason names
/// the cause and the fix, and it is not retried.
#[test]
fn a_shallow_repository_on_the_server_is_scanned_or_named() {
    let dir = tempfile::tempdir().unwrap();
    let served = shallow_mirror(dir.path());
    let daemon = GitDaemon::start(&served);
    let s = scan_expecting(dir.path(), &daemon.base(), &["openstack/shallow"], 0);
    let r = summary_repo(&s, "openstack/shallow");
    assert_eq!(
        (r["status"].as_str(), r["occurrences"].as_u64()),
        (Some("scanned"), Some(2)),
        "{r}"
    );

    let http = GitHttp::start(&served);
    let s = scan_expecting(dir.path(), &http.base(), &["openstack/shallow"], 1);
    let r = summary_repo(&s, "openstack/shallow");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("shallow") && reason.contains("--unshallow"),
        "{r}"
    );
    assert_eq!(r["attempts"], 1, "not retried: {r}");
}

/// The sockets fleetscan gives libgit2 carry the smart HTTP transport too.
#[test]
fn repositories_are_fetched_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("served");
    nova().build(&root);
    let http = GitHttp::start(&root);
    let s = scan_expecting(dir.path(), &http.base(), &["openstack/nova"], 0);
    assert_eq!(summary_repo(&s, "openstack/nova")["occurrences"], 2);
    // The start-up check's connection, then one that lists the refs and, kept alive, carries
    // the fetch: over https that is one TLS handshake a repository, not two.
    assert_eq!(http.connections(), 2);
}

/// HEAD naming a missing branch, with no main or master, used to read "empty repository (no
/// branches)" although the repository has branches.
#[test]
fn a_head_naming_a_missing_branch_is_reported_with_the_branches() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = RepoSpec::new("openstack/headless", &[("a.py", "import eventlet\n")]);
    spec.branch = "development".into();
    let daemon = serve(dir.path(), &[spec]);
    let repo = dir.path().join("served/openstack/headless");
    git_in(&repo, &["branch", "feature"]);
    git_in(&repo, &["symbolic-ref", "HEAD", "refs/heads/gone"]);
    let s = scan_expecting(dir.path(), &daemon.base(), &["openstack/headless"], 1);
    let r = summary_repo(&s, "openstack/headless");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        reason.contains("development, feature") && !reason.contains("empty"),
        "{reason}"
    );
    assert_eq!(r["attempts"], 1, "not retried: {r}");
}

/// `fleetscan scan | head` used to panic with exit 101 when head closed the pipe.
#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = serve(dir.path(), &[nova()]);
    let mut cmd = Command::new(BIN);
    cmd.args(["scan", "--pattern", "eventlet", "--profile", "none", "-q"])
        .args(["--git-base", &daemon.base(), "--repo", "openstack/nova"])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // The reader goes away before the link lines are printed.
    drop(child.stdout.take());
    let out = finish(child, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

fn finish(mut child: std::process::Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// When stderr is not a terminal, a scan used to print only a count line: no failed
/// repository, no reason, and nothing about summary.json.
#[test]
fn failures_and_their_reasons_reach_stderr_when_it_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = serve(dir.path(), &[nova()]);
    let out = run_bounded(
        scan(
            dir.path(),
            &daemon.base(),
            &["openstack/nova", "openstack/absent"],
        ),
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("1 repositories failed:\n  openstack/absent: repository not found"),
        "{stderr}"
    );
    let summary = dir.path().join("out/summary.json");
    assert!(stderr.contains(&*summary.to_string_lossy()), "{stderr}");
}

/// Ctrl-C used to kill the scan with nothing written; now it stops the jobs, says so, and
/// writes the reports of what was scanned.
#[test]
fn ctrl_c_stops_the_scan_and_still_writes_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = serve(dir.path(), &[nova()]);
    let stall = StallServer::start(Stall::Trickle(Duration::from_secs(1)));
    let stuck = format!("{}openstack/stuck", stall.base());
    let mut cmd = scan(dir.path(), &daemon.base(), &["openstack/nova", &stuck]);
    cmd.args(["--timeout", "600"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Give the scan time to start its jobs; the stuck one never ends by itself.
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = finish(child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted: stopping"), "{stderr}");
    let s = summary(dir.path());
    // Every repository is in the reports, whether it was scanned before the Ctrl-C or not.
    summary_repo(&s, "openstack/nova");
    let r = summary_repo(&s, "openstack/stuck");
    assert_eq!(r["status"], "failed", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("cancelled"), "{r}");
}

/// File and directory names that are not UTF-8: a directory's used to fail the whole
/// repository, and a file's got a link to a name with U+FFFD in it, which does not exist.
#[test]
fn names_that_are_not_utf8_are_scanned_and_linked_to_the_real_file() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let daemon = serve(dir.path(), &[nova()]);
    let repo = dir.path().join("served/openstack/nova");
    let name = |b: &[u8]| std::ffi::OsStr::from_bytes(b).to_os_string();
    std::fs::write(repo.join(name(b"caf\xe9.py")), "import eventlet\n").unwrap();
    std::fs::create_dir(repo.join(name(b"d\xffir"))).unwrap();
    std::fs::write(repo.join(name(b"d\xffir/x.py")), "import eventlet\n").unwrap();
    git_in(&repo, &["add", "-A"]);
    git_in(&repo, &["commit", "-q", "-m", "odd names"]);
    scan_expecting(dir.path(), &daemon.base(), &["openstack/nova"], 0);
    let links = read(&dir.path().join("out/eventlet-usage.txt"));
    assert!(links.contains("/caf%E9.py#n1 : "), "{links}");
    assert!(links.contains("/d%FFir/x.py#n1 : "), "{links}");
}
