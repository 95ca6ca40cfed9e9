//! `fleetscan scan` against hostile servers, damaged caches and awkward input: no hang, nothing
//! lost, a clear reason. Every scan runs under a generous watchdog, so a regression fails the
//! test instead of hanging it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fleetscan_tests::proxy::{Stall, StallServer};
use fleetscan_tests::{read, summary_repo};
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

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&read(&dir.join("out/summary.json"))).unwrap()
}

/// The budget holds before any object is sent: a server that accepts and stays silent, and one
/// that trickles a byte every second, used to cost 60 s per attempt and for ever.
#[test]
fn budget_holds_against_silent_and_trickling_servers() {
    for (name, stall) in [
        ("silent", Stall::Silent),
        ("trickle", Stall::Trickle(Duration::from_millis(700))),
    ] {
        let server = StallServer::start(stall);
        let dir = tempfile::tempdir().unwrap();
        let url = format!("{}openstack/stalled", server.base());
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
