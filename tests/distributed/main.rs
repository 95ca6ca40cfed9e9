//! Distributed mode end to end: a real `redis-server`, a coordinator and three workers as
//! separate `fleetscan` processes, and the generated corpus behind a real `git daemon`. Every
//! scenario checks the final reports against the golden files of the embedded scan, so "the
//! same results as a fault-free run" means byte-identical reports: the same occurrences, none
//! duplicated, no repository missing.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use fleetscan_tests::cluster::{finish_within, http_get, Cluster};
use fleetscan_tests::proxy::{SlowProxy, Stall, StallServer};
use fleetscan_tests::{
    assert_failures_reported, assert_golden, cache_packs, corpus, free_port, git, read,
    report_files, strip_narratives, summary_repo, GitDaemon, ModelStub, Reply, RepoSpec, Sandbox,
    NARRATIVE_HEADING,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_fleetscan");
const WAIT: Duration = Duration::from_secs(180);

struct World {
    sb: Sandbox,
    cluster: Cluster,
    repos_file: PathBuf,
}

impl World {
    fn new(workers: usize, token: Option<&str>) -> World {
        let sb = Sandbox::new(BIN);
        let repos_file = sb.repos_file("all", &sb.all_repos());
        let cluster = Cluster::start(Path::new(BIN), &sb.path("cluster"), workers, token);
        World {
            sb,
            cluster,
            repos_file,
        }
    }

    fn args(&self, cmd: &str, git_base: &str, extra: &[&str]) -> Vec<String> {
        let mut v = vec![cmd.to_string()];
        v.extend(self.sb.selection(git_base, &self.repos_file));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    /// Submits the e2e selection fetched from `git_base`; returns the scan id.
    fn submit(&self, git_base: &str, extra: &[&str]) -> String {
        let out = self
            .cluster
            .cli(&self.args("submit", git_base, extra), WAIT);
        assert!(
            out.status.success(),
            "submit: {}\n{}",
            stderr(&out),
            self.cluster.logs()
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn run(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.cluster.cli(&args, WAIT)
    }

    /// Waits for the scan to end; returns `watch`'s output.
    fn watch(&self, id: &str) -> Output {
        self.run(&["watch", id, "-q"])
    }

    /// Waits for a scan of the e2e selection to complete: exit 1, since some of its
    /// repositories always fail.
    fn wait_done(&self, id: &str) {
        let out = self.watch(id);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}\n{}",
            stderr(&out),
            self.cluster.logs()
        );
    }

    /// Writes the scan's reports into `out` and checks them against the embedded goldens.
    fn check_reports(&self, id: &str, out: &str) -> Value {
        let dir = self.sb.path(out);
        let o = self.run(&["report", id, "--out", dir.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "report: {}\n{}",
            stderr(&o),
            self.cluster.logs()
        );
        for f in report_files(&dir) {
            assert_golden(&format!("scan/{f}"), &read(&dir.join(&f)));
        }
        let summary: Value = serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
        assert_eq!(
            summary["totals"]["repos"].as_u64(),
            Some(corpus::specs().len() as u64 + 2),
            "no repository missing"
        );
        summary
    }

    fn status(&self, id: &str) -> String {
        let o = self.run(&["status", id]);
        assert!(o.status.success(), "status: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Jobs that started on a worker (its log) but did not finish there.
fn unfinished_jobs(log: &str) -> Vec<String> {
    let job = |l: &str| {
        l.split("job=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .map(String::from)
    };
    let started: Vec<String> = log
        .lines()
        .filter(|l| l.contains("job started"))
        .filter_map(job)
        .collect();
    let done: Vec<String> = log
        .lines()
        .filter(|l| l.contains("job done"))
        .filter_map(job)
        .collect();
    started.into_iter().filter(|j| !done.contains(j)).collect()
}

#[test]
fn distributed_reports_equal_the_embedded_goldens_and_failures_are_dead_lettered() {
    let mut w = World::new(0, None);
    let health = free_port();
    w.cluster
        .start_worker(&["--health-listen", &format!("127.0.0.1:{health}")], &[]);
    w.cluster.start_worker(&[], &[]);
    w.cluster.start_worker(&[], &[]);
    let dir = w.sb.path("waited");
    let mut args = w.args("submit", &w.sb.daemon.base(), &["--wait", "-q", "--out"]);
    args.push(dir.to_string_lossy().into_owned());
    let out = w.cluster.cli(&args, WAIT);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some repos fail: exit 1\n{}\n{}",
        stderr(&out),
        w.cluster.logs()
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    for f in report_files(&dir) {
        assert_golden(&format!("scan/{f}"), &read(&dir.join(&f)));
    }

    // `report` writes the same files again, and summary.json keeps the failures.
    let summary = w.check_reports(&id, "report");
    assert_failures_reported(&summary);
    let dead = summary_repo(&summary, "openstack/dead-host");
    assert_eq!(
        dead["attempts"], 2,
        "retried once (--retries 1), then dead: {dead}"
    );

    // summary.json too is the embedded scan's, but for timings and the cache.
    let embedded = w.sb.path("embedded");
    let mut args = w.args("scan", &w.sb.daemon.base(), &["-q", "--cache-dir"]);
    args.push(w.sb.path("embedded-cache").to_string_lossy().into_owned());
    args.extend(["--out".to_string(), embedded.to_string_lossy().into_owned()]);
    let o = std::process::Command::new(BIN)
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        timeless_summary(&embedded, &w.sb.path("embedded-cache")),
        timeless_summary(&w.sb.path("report"), &w.sb.path("cluster"))
    );
    // And every other file, in every format the coordinator renders a piece at a time.
    let files = every_file(&embedded);
    for f in ["occurrences.csv", "results.sarif", "html/index.html"] {
        assert!(files.contains(&f.to_string()), "{f} in {files:?}");
    }
    for f in files.iter().filter(|f| *f != "summary.json") {
        assert_eq!(
            undated(&read(&w.sb.path("report").join(f))),
            undated(&read(&embedded.join(f))),
            "{f}"
        );
    }

    // The dead-letter state is visible in `status`, with the error.
    let status = w.status(&id);
    assert!(status.contains("completed"), "{status}");
    let dead_line = status
        .lines()
        .find(|l| l.contains("openstack/dead-host"))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(
        dead_line.trim_start().starts_with("dead") && dead_line.contains("unreachable"),
        "{dead_line}"
    );
    // With a model, the client renders from the exported results with the same code and adds
    // narratives; without them the files are the goldens again.
    let stub = ModelStub::start(|_| Reply::ollama("Uses eventlet in its service entry points."));
    let llm = w.sb.path("llm");
    let o = w.run(&[
        "report",
        &id,
        "--out",
        llm.to_str().unwrap(),
        "--llm-url",
        &stub.url(),
        "--llm-model",
        "stub",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stub.requests().is_empty());
    let mut narrated = 0;
    for f in report_files(&llm) {
        let text = read(&llm.join(&f));
        narrated += text.matches(NARRATIVE_HEADING).count();
        assert_golden(&format!("scan/{f}"), &strip_narratives(&text));
    }
    assert_eq!(narrated, stub.requests().len(), "one narrative per request");
    let list = String::from_utf8(w.run(&["list"]).stdout).unwrap();
    assert!(list.contains(&id) && list.contains("completed"), "{list}");

    // Health and metrics endpoints.
    assert_eq!(http_get(health, "/healthz").0, 200);
    assert_eq!(http_get(health, "/readyz").0, 200);
    let (code, metrics) = http_get(health, "/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("fleetscan_worker_jobs_total"), "{metrics}");
    assert!(
        metrics.contains("fleetscan_clone_seconds_bucket"),
        "{metrics}"
    );
    let m = w.cluster.metrics_port;
    assert_eq!(http_get(m, "/readyz").0, 200);
    let (_, metrics) = http_get(m, "/metrics");
    for name in [
        "fleetscan_queue_depth",
        "fleetscan_jobs_total",
        "fleetscan_occurrences_ingested_total",
    ] {
        assert!(metrics.contains(name), "{name} in {metrics}");
    }
}

#[test]
fn a_killed_worker_loses_nothing_and_a_stopped_one_hands_back() {
    let mut w = World::new(0, None);
    let slow = SlowProxy::start(w.sb.daemon.port(), Duration::from_millis(700));
    let victim = w.cluster.start_worker(&[], &[]);
    let polite = w.cluster.start_worker(&["--grace-period", "0"], &[]);
    let id = w.submit(&slow.base(), &["-q"]);
    // Both hold jobs: kill one outright, stop the other.
    wait_until("both workers to hold jobs", WAIT, || {
        !unfinished_jobs(&w.cluster.worker(victim).log_text()).is_empty()
            && !unfinished_jobs(&w.cluster.worker(polite).log_text()).is_empty()
    });
    w.cluster.worker(victim).kill9();
    let lost = unfinished_jobs(&w.cluster.worker(victim).log_text());
    assert!(!lost.is_empty());
    w.cluster.worker(polite).term();
    let exit = w.cluster.worker(polite).wait_exit(Duration::from_secs(20));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{}", w.cluster.logs());
    assert!(
        w.cluster.worker(polite).log_text().contains("handed back"),
        "{}",
        w.cluster.logs()
    );
    w.cluster.start_worker(&[], &[]);
    w.cluster.start_worker(&[], &[]);
    w.wait_done(&id);
    let summary = w.check_reports(&id, "out");
    // The killed worker's jobs ran again on other workers after their leases expired (an
    // expiry is not held against the repository: its attempts do not grow).
    for job in &lost {
        let needle = format!("job started job={job} ");
        let rerun = (0..w.cluster.workers.len())
            .filter(|&i| i != victim)
            .filter_map(|i| w.cluster.workers[i].as_ref())
            .any(|p| p.log_text().contains(&needle));
        assert!(rerun, "{job} ran again elsewhere\n{}", w.cluster.logs());
    }
    assert_eq!(
        summary["totals"]["failed"], 2,
        "only the two failing repositories fail"
    );
}

#[test]
fn a_coordinator_restart_and_a_redis_outage_do_not_change_the_results() {
    let mut w = World::new(3, None);
    let slow = SlowProxy::start(w.sb.daemon.port(), Duration::from_millis(400));
    let id = w.submit(&slow.base(), &["-q"]);
    let watcher = w
        .cluster
        .cli_command(&["watch".into(), id.clone(), "-q".into()])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // Both outages outlast the leases (LEASE_SECS). Workers cannot renew while the coordinator
    // or Redis is away; the coordinator gives the leases that time back when it reaps again,
    // and the workers keep their results until they can deliver them.
    let outage = Duration::from_secs(fleetscan_tests::cluster::LEASE_SECS + 1);
    w.cluster.kill_coordinator();
    std::thread::sleep(outage);
    w.cluster.start_coordinator();
    std::thread::sleep(Duration::from_millis(1500));
    w.cluster.redis.stop();
    std::thread::sleep(outage);
    w.cluster.redis.restart();
    let out = finish_within(watcher, WAIT)
        .unwrap_or_else(|| panic!("the watch did not end\n{}", w.cluster.logs()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "the watch survives both: {}\n{}",
        stderr(&out),
        w.cluster.logs()
    );
    assert!(stderr(&out).contains("completed"), "{}", stderr(&out));
    let summary = w.check_reports(&id, "out");
    let dead_host = summary_repo(&summary, "openstack/dead-host");
    assert_eq!(dead_host["attempts"], 2, "{dead_host}");

    // A second coordinator over the same Redis serves the same scan.
    let (_second, url) = w.cluster.second_coordinator();
    let dir = w.sb.path("second");
    let o = std::process::Command::new(BIN)
        .args([
            "report",
            &id,
            "--coordinator",
            &url,
            "--out",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for f in report_files(&dir) {
        assert_golden(&format!("scan/{f}"), &read(&dir.join(&f)));
    }
}

#[test]
fn redis_losing_its_data_is_a_clear_error_never_a_wrong_report() {
    let mut w = World::new(1, None);
    let slow = SlowProxy::start(w.sb.daemon.port(), Duration::from_millis(500));
    let id = w.submit(&slow.base(), &["-q"]);
    std::thread::sleep(Duration::from_millis(1000));
    w.cluster.redis.restart_empty();
    let dir = w.sb.path("out");
    let o = w.run(&["report", &id, "--out", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("Redis lost its data"), "{}", stderr(&o));
    assert!(
        !dir.join("occurrences.ndjson").exists(),
        "no report from lost data"
    );
    let o = w.run(&["watch", &id, "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("Redis lost its data"), "{}", stderr(&o));
}

#[test]
fn cancelled_scans_stop_and_concurrent_scans_do_not_mix() {
    let w = World::new(3, None);
    let slow = SlowProxy::start(w.sb.daemon.port(), Duration::from_millis(600));
    // Two scans at once: a slow one to cancel, and the e2e selection.
    let doomed = w.submit(&slow.base(), &["-q"]);
    let id = w.submit(&w.sb.daemon.base(), &["-q"]);
    std::thread::sleep(Duration::from_millis(800));
    let o = w.run(&["cancel", &doomed]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cancelled"));
    w.wait_done(&id);
    w.check_reports(&id, "out");

    // The cancelled scan: once cancelled, none of its jobs starts on any worker.
    let started = |w: &World| {
        let prefix = format!("job started job={doomed}:");
        (0..w.cluster.workers.len())
            .filter_map(|i| w.cluster.workers[i].as_ref())
            .map(|p| p.log_text().lines().filter(|l| l.contains(&prefix)).count())
            .sum::<usize>()
    };
    std::thread::sleep(Duration::from_secs(1));
    let (before, started_before) = (w.status(&doomed), started(&w));
    std::thread::sleep(Duration::from_secs(3));
    let (after, started_after) = (w.status(&doomed), started(&w));
    assert!(before.contains("cancelled"), "{before}");
    assert_eq!(
        started_before, started_after,
        "no job of the cancelled scan started after the cancel"
    );
    assert!(
        started_after < corpus::specs().len(),
        "the cancel came before most jobs started"
    );
    let repos_line = after.lines().nth(1).unwrap();
    assert!(
        repos_line.contains("cancelled") && !repos_line.contains("running"),
        "{after}"
    );
    let o = w.run(&["watch", &doomed, "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = w.run(&[
        "report",
        &doomed,
        "--out",
        w.sb.path("doomed").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cancelled"), "{}", stderr(&o));
}

#[test]
fn wrong_tokens_and_protocol_versions_are_refused() {
    let mut w = World::new(0, Some("s3cret"));
    let no_token = w
        .cluster
        .start_worker(&[], &[("FLEETSCAN_WORKER_TOKEN", "")]);
    let bad_token = w.cluster.start_worker(&["--worker-token", "wrong"], &[]);
    // Credentials by role: a worker given the client token is refused as well.
    let client_token = w.cluster.start_worker(&["--worker-token", "s3cret"], &[]);
    let bad_protocol = w
        .cluster
        .start_worker(&[], &[("FLEETSCAN_PROTOCOL_VERSION", "99")]);
    for (i, needle) in [
        (no_token, "worker token"),
        (bad_token, "worker token"),
        (client_token, "a client token cannot make worker calls"),
        (bad_protocol, "protocol mismatch"),
    ] {
        let p = w.cluster.worker(i);
        let code = p.wait_exit(Duration::from_secs(20)).and_then(|s| s.code());
        assert_eq!(code, Some(2), "worker {i} must exit 2: {}", p.log_text());
        assert!(
            p.log_text().contains(needle),
            "worker {i}: {}",
            p.log_text()
        );
    }
    // A client without the token, with another, or with the worker's, is refused.
    let worker_token = w.cluster.worker_token().unwrap();
    for token in ["", "wrong", worker_token.as_str()] {
        let o = std::process::Command::new(BIN)
            .args(["list", "--coordinator", &w.cluster.url()])
            .env("FLEETSCAN_TOKEN", token)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("token"), "{}", stderr(&o));
    }
    // With the token, a worker does the work.
    w.cluster.start_worker(&[], &[]);
    let id = w.submit(&w.sb.daemon.base(), &["-q"]);
    w.wait_done(&id);
    w.check_reports(&id, "out");
}

/// A job on a server that trickles a byte now and then used to keep its worker slot for ever:
/// libgit2 only timed out after 60 s of silence, and `cancel` could not stop it.
#[test]
fn cancelling_a_scan_stuck_on_a_trickling_server_frees_the_slots() {
    let w = World::new(1, None);
    let stall = StallServer::start(Stall::Trickle(Duration::from_secs(1)));
    let stuck: Vec<String> = ["openstack/stuck-a", "openstack/stuck-b"]
        .iter()
        .map(|r| format!("{}{r}", stall.base()))
        .collect();
    let stuck_file = w.sb.repos_file("stuck", &stuck);
    let mut args = vec!["submit".to_string()];
    args.extend(w.sb.selection(&stall.base(), &stuck_file));
    args.push("-q".into());
    let out = w.cluster.cli(&args, WAIT);
    assert!(out.status.success(), "submit: {}", stderr(&out));
    let doomed = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // Both slots of the one worker are stuck on the server.
    let prefix = format!("job started job={doomed}:");
    wait_until("both stuck jobs to start", WAIT, || {
        let log = w.cluster.workers[0].as_ref().unwrap().log_text();
        log.lines().filter(|l| l.contains(&prefix)).count() == 2
    });
    let o = w.run(&["cancel", &doomed]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Another scan can only finish once a slot is free again.
    let repos = w.sb.repos_file("one", &["openstack/compute".to_string()]);
    let mut args = vec!["submit".to_string()];
    args.extend(w.sb.selection(&w.sb.daemon.base(), &repos));
    args.extend(["--wait".to_string(), "-q".to_string()]);
    let out = w.cluster.cli(&args, WAIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&out),
        w.cluster.logs()
    );
}

/// Client commands say what happened, in words a user can act on: the exit codes are in
/// `--help`; `status` and `list` speak JSON; a coordinator that never answers is an error
/// after --call-timeout instead of a hang; a Redis outage is blamed on Redis, not on
/// `--coordinator`; `submit --out` without `--wait` and `file://`/`ext::` git bases are usage
/// errors; and Ctrl-C during `submit --wait` says the scan keeps running, which it does.
#[test]
fn client_commands_say_what_happened() {
    let help = |args: &[&str]| {
        let o = std::process::Command::new(BIN).args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for cmd in [
        &["--help"][..],
        &["status", "--help"],
        &["submit", "--help"],
    ] {
        let text = help(cmd);
        assert!(
            text.contains("Exit codes:") && text.contains("130"),
            "{cmd:?}: {text}"
        );
    }

    // A coordinator that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let _conns: Vec<_> = silent.incoming().take(4).collect();
    });
    let child = std::process::Command::new(BIN)
        .args(["list", "--call-timeout", "1", "--coordinator", &silent_url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let o = finish_within(child, WAIT).expect("list gives up instead of hanging");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did not answer within 1 s"),
        "{}",
        stderr(&o)
    );
    drop(held);

    let mut w = World::new(1, None);
    let run_with = |extra: &[&str]| {
        let args = w.args("submit", &w.sb.daemon.base(), extra);
        w.cluster.cli(&args, WAIT)
    };
    let o = run_with(&["--out", w.sb.path("never").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--out needs --wait"), "{}", stderr(&o));
    for base in ["file:///srv/git/", "ext::sh -c id"] {
        let args = w.args("submit", base, &[]);
        let o = w.cluster.cli(&args, WAIT);
        assert_eq!(o.status.code(), Some(2), "{base}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("not supported"),
            "{base}: {}",
            stderr(&o)
        );
    }
    let o = w.run(&["list", "--json"]);
    assert_eq!(
        o.stdout, b"[]\n",
        "no scan was submitted by the refused commands"
    );

    // Ctrl-C while waiting stops the client, not the scan.
    let slow = SlowProxy::start(w.sb.daemon.port(), Duration::from_millis(700));
    let child = w
        .cluster
        .cli_command(&w.args("submit", &slow.base(), &["--wait", "-q"]))
        .spawn()
        .unwrap();
    let mut id = String::new();
    wait_until("the scan to be listed", WAIT, || {
        let o = w.run(&["list", "--json"]);
        let scans: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        if let Some(s) = scans.as_array().and_then(|a| a.first()) {
            id = s["scan_id"].as_str().unwrap().to_string();
        }
        !id.is_empty()
    });
    // Give the client time to start waiting: it prints that first.
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    let o = finish_within(child, WAIT).expect("submit ends on Ctrl-C");
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("scan {id} keeps running")),
        "{}",
        stderr(&o)
    );
    let o = w.run(&["status", &id, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let status: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["scan_id"], id.as_str());
    assert_ne!(status["state"], "cancelled", "{status}");
    let total = status["progress"]["total"].as_u64().unwrap();
    assert_eq!(total, corpus::specs().len() as u64 + 2);
    assert_eq!(status["repos"].as_array().unwrap().len() as u64, total);
    w.wait_done(&id);
    let o = w.run(&["status", &id, "--json"]);
    let status: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["state"], "completed", "the scan ran on to its end");
    assert_eq!(status["progress"]["done"], total);

    // Redis down: the error says so, and does not send the user to --coordinator.
    w.cluster.redis.stop();
    let o = w.run(&["list"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot reach its Redis"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("--coordinator"), "{}", stderr(&o));
}

/// Repositories for [`distributed_summary_and_reports_equal_the_embedded_ones`]: `nova` with
/// two occurrences, `generated` with 500 (over a cap of 100), and `rawname`, whose one file has
/// a name that is not UTF-8.
fn served_for_parity(root: &Path) -> GitDaemon {
    RepoSpec::new(
        "openstack/nova",
        &[
            ("nova/a.py", "import eventlet\n"),
            ("nova/b.py", "eventlet.sleep(0)\n"),
        ],
    )
    .build(root);
    let big: String = (1..=500)
        .map(|i| format!("eventlet.sleep({i})\n"))
        .collect();
    RepoSpec::new("openstack/generated", &[("gen/big.py", &big)]).build(root);
    let raw = root.join("openstack/rawname");
    std::fs::create_dir_all(&raw).unwrap();
    git(&raw, &["init", "-q", "-b", "master"]);
    std::fs::write(
        raw.join(std::ffi::OsStr::from_bytes(b"caf\xe9.py")),
        "import eventlet\n",
    )
    .unwrap();
    git(&raw, &["add", "-A"]);
    git(&raw, &["commit", "-q", "-m", "initial"]);
    GitDaemon::start(root)
}

/// The flags that scan `repos` of [`served_for_parity`] from `git_base`, for `scan` and
/// `submit` alike.
fn parity_selection(git_base: &str, repos: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["--pattern", "eventlet", "--profile", "none", "-q"]
        .map(String::from)
        .to_vec();
    v.extend(["--git-base".into(), git_base.into()]);
    for r in repos {
        v.extend(["--repo".into(), r.to_string()]);
    }
    v
}

/// `submit ARGS --wait --out OUT`, which must exit 0.
fn submit_and_wait(cluster: &Cluster, args: &[String], out: &Path) {
    let mut all = vec!["submit".to_string()];
    all.extend(args.iter().cloned());
    all.extend(["--wait".into(), "--out".into()]);
    all.push(out.to_string_lossy().into_owned());
    let o = cluster.cli(&all, WAIT);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&o),
        cluster.logs()
    );
}

/// Halves the pack of `openstack/nova` in the clone cache `cache`, and drops the result
/// cache so that the next scan must read the damaged clone.
fn damage_nova(cache: &Path) {
    let packs: Vec<PathBuf> = cache_packs(cache)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("nova"))
        .collect();
    assert_eq!(packs.len(), 1, "{packs:?}");
    let len = std::fs::metadata(&packs[0]).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&packs[0])
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    std::fs::remove_dir_all(cache.join("results")).unwrap();
}

/// Every file under `dir` but the list of files written, relative, sorted.
fn every_file(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|f| f != ".fleetscan-files");
    out.sort();
    out
}

/// A dashboard page with the day its scan started (`started YYYY-MM-DD`) masked, for two
/// runs that may straddle midnight.
fn undated(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("started ") {
        let (head, tail) = rest.split_at(i + "started ".len());
        out.push_str(head);
        let date = tail.get(..10).unwrap_or("");
        if date.len() == 10 && date.bytes().filter(|b| *b == b'-').count() == 2 {
            out.push_str("DATE");
            rest = &tail[10..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// summary.json without what differs between any two runs, and with `cache` (whose path a
/// damaged-cache reason may name) written as CACHE.
fn timeless_summary(out: &Path, cache: &Path) -> Value {
    let text = read(&out.join("summary.json")).replace(&*cache.to_string_lossy(), "CACHE");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["scan"]["started"] = Value::Null;
    v["scan"]["duration_ms"] = Value::Null;
    for r in v["repos"].as_array_mut().unwrap() {
        for k in ["fetch_ms", "scan_ms", "cached"] {
            r[k] = Value::Null;
        }
    }
    v
}

/// The wire used to drop three parts of a result, so a distributed scan's summary.json and
/// team reports differed from the embedded scan's: a repaired clone cache, where a truncated
/// scan stopped, and the real bytes of a file name that is not UTF-8 (its links pointed at
/// no file). And a worker had no occurrence cap, so a repository over the coordinator's limit
/// was refused as failed instead of reported truncated.
#[test]
fn distributed_summary_and_reports_equal_the_embedded_ones() {
    let sb = tempfile::tempdir().unwrap();
    let daemon = served_for_parity(&sb.path().join("served"));
    let selection = parity_selection(
        &daemon.base(),
        &["openstack/nova", "openstack/generated", "openstack/rawname"],
    );

    // Embedded: a first scan fills the cache, the second reads the damaged clone.
    let cache = sb.path().join("embedded-cache");
    let embedded = sb.path().join("embedded");
    for round in 0..2 {
        if round == 1 {
            damage_nova(&cache);
        }
        let o = std::process::Command::new(BIN)
            .arg("scan")
            .args(&selection)
            .args(["--max-occurrences", "100", "--cache-dir"])
            .arg(&cache)
            .arg("--out")
            .arg(&embedded)
            .env("FLEETSCAN_LOG", "error")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }

    let mut cluster = Cluster::start(Path::new(BIN), &sb.path().join("cluster"), 0, None);
    cluster.restart_coordinator_with(&["--max-occurrences-per-repo", "100"]);
    cluster.start_worker(&[], &[]);
    let worker_cache = sb.path().join("cluster/cache-w0");
    let distributed = sb.path().join("distributed");
    for round in 0..2 {
        if round == 1 {
            damage_nova(&worker_cache);
        }
        submit_and_wait(&cluster, &selection, &distributed);
    }

    let summary = timeless_summary(&distributed, &worker_cache);
    let repaired = summary_repo(&summary, "openstack/nova")["cache_repaired"].clone();
    assert!(
        repaired
            .as_str()
            .is_some_and(|w| w.contains("damaged clone cache")),
        "{summary}"
    );
    let generated = summary_repo(&summary, "openstack/generated");
    assert_eq!(generated["status"], "scanned", "truncated, not refused");
    assert_eq!(generated["occurrences"], 100, "{generated}");
    assert!(
        generated["truncated"]
            .as_str()
            .is_some_and(|t| t.contains("gen/big.py line 100")),
        "{generated}"
    );
    let md: String = report_files(&distributed)
        .iter()
        .map(|f| read(&distributed.join(f)))
        .collect();
    assert!(md.contains("caf%E9.py"), "links name the real file: {md}");
    assert_eq!(summary, timeless_summary(&embedded, &cache));
    for f in report_files(&embedded) {
        assert_eq!(read(&distributed.join(&f)), read(&embedded.join(&f)), "{f}");
    }
}

/// A worker given a cache directory it cannot write used to start, and then fail every job
/// it leased, one by one. Now it does not start: exit 2, naming the directory, before it
/// even looks for a coordinator.
#[test]
fn a_worker_with_an_unwritable_cache_dir_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    // A file where the clone cache's directory must go: unwritable even for root.
    std::fs::write(cache.join("git"), "").unwrap();
    let mut p = fleetscan_tests::process::Proc::spawn(
        Path::new(BIN),
        &[
            "worker".to_string(),
            "--coordinator".into(),
            format!("http://127.0.0.1:{}", free_port()),
            "--cache-dir".into(),
            cache.to_string_lossy().into_owned(),
        ],
        dir.path().join("worker.log"),
        &[],
    );
    let code = p.wait_exit(Duration::from_secs(30)).and_then(|s| s.code());
    let log = p.log_text();
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains("--cache-dir") && log.contains(&*cache.to_string_lossy()),
        "{log}"
    );
}

/// The coordinator refuses more than `--max-result-bytes` of occurrences from one repository,
/// and workers used to send them all: a huge repository failed as refused. Now they stop at
/// that limit too and report the repository truncated, saying where.
#[test]
fn a_repository_over_the_coordinators_byte_limit_is_truncated_not_refused() {
    let sb = tempfile::tempdir().unwrap();
    let daemon = served_for_parity(&sb.path().join("served"));
    let mut cluster = Cluster::start(Path::new(BIN), &sb.path().join("cluster"), 0, None);
    cluster.restart_coordinator_with(&["--max-result-bytes", "1000"]);
    cluster.start_worker(&[], &[]);
    let out = sb.path().join("out");
    submit_and_wait(
        &cluster,
        &parity_selection(&daemon.base(), &["openstack/generated"]),
        &out,
    );
    let summary: Value = serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    let r = summary_repo(&summary, "openstack/generated");
    assert_eq!(r["status"], "scanned", "{r}");
    let n = r["occurrences"].as_u64().unwrap();
    assert!(n > 0 && n < 500, "{r}");
    let truncated = r["truncated"].as_str().unwrap_or_default();
    assert!(
        truncated.contains("--max-result-bytes")
            && truncated.contains(&format!("gen/big.py line {n}:")),
        "{r}"
    );
}

/// Every file a history scan writes besides summary.json, by path under `out`.
fn history_files(out: &Path) -> Vec<String> {
    let mut files: Vec<String> = ["progress.md", "history.csv", "history.ndjson", "index.md"]
        .map(String::from)
        .to_vec();
    let mut points: Vec<String> = std::fs::read_dir(out.join("history"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    points.sort();
    files.extend(
        points
            .iter()
            .map(|p| format!("history/{p}/occurrences.ndjson")),
    );
    files
}

/// A history scan through the coordinator: one job per repository with all its points, and
/// the same files as the embedded scan, byte for byte (the golden files of the history e2e
/// test), also when the client renders from exported results.
#[test]
fn distributed_history_equals_the_embedded_one() {
    let sb = Sandbox::history(BIN);
    let repos_file = sb.repos_file("history", &fleetscan_tests::history::names());
    let mut selection = sb.selection(&sb.daemon.base(), &repos_file);
    selection.extend(["--history".into(), fleetscan_tests::history::HISTORY.into()]);
    let embedded = sb.path("embedded");
    let o = std::process::Command::new(BIN)
        .arg("scan")
        .args(&selection)
        .arg("--cache-dir")
        .arg(sb.path("embedded-cache"))
        .arg("--out")
        .arg(&embedded)
        .args(["-q"])
        .env("FLEETSCAN_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let cluster = Cluster::start(Path::new(BIN), &sb.path("cluster"), 2, None);
    let distributed = sb.path("distributed");
    selection.push("-q".into());
    submit_and_wait(&cluster, &selection, &distributed);
    for f in ["progress.md", "history.csv", "history.ndjson"] {
        assert_golden(&format!("history/{f}"), &read(&distributed.join(f)));
    }
    for f in history_files(&embedded) {
        assert_eq!(read(&distributed.join(&f)), read(&embedded.join(&f)), "{f}");
    }
    let point = |dir: &Path| {
        let mut v = timeless_summary(&dir.join("history/2025-04-01"), Path::new("/none"));
        v["scan"]["started"] = Value::Null;
        v
    };
    assert_eq!(point(&distributed), point(&embedded));
    assert_eq!(
        timeless_summary(&distributed, &sb.path("cluster")),
        timeless_summary(&embedded, &sb.path("embedded-cache"))
    );

    // The client renders from the exported results, history included.
    let list = String::from_utf8(cluster.cli(&["list".to_string()], WAIT).stdout).unwrap();
    let id = list.split_whitespace().next().unwrap().to_string();

    // `diff` takes scan ids and their points, and says what a diff of the directories says.
    let diff = |old: &str, new: &str| {
        let args: Vec<String> = ["diff", old, new, "--json"].map(String::from).to_vec();
        let o = cluster.cli(&args, WAIT);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["started"] = Value::Null;
        v
    };
    let (old, new) = (
        embedded.join("history/2025-07-01"),
        embedded.join("history/2025-10-01"),
    );
    assert_eq!(
        diff(&format!("{id}@2025-07-01"), &format!("{id}@2025-10-01")),
        diff(old.to_str().unwrap(), new.to_str().unwrap())
    );
    assert_eq!(diff(&id, &id)["projects"], serde_json::json!([]));
    let stub = ModelStub::start(|_| Reply::ollama("Moving off eventlet."));
    let rendered = sb.path("rendered");
    let args: Vec<String> = [
        "report",
        &id,
        "--out",
        rendered.to_str().unwrap(),
        "--llm-url",
        &stub.url(),
        "--llm-model",
        "stub",
    ]
    .map(String::from)
    .to_vec();
    let o = cluster.cli(&args, WAIT);
    assert!(o.status.success(), "{}\n{}", stderr(&o), cluster.logs());
    for f in history_files(&embedded)
        .into_iter()
        .filter(|f| f != "index.md")
    {
        assert_eq!(read(&rendered.join(&f)), read(&embedded.join(&f)), "{f}");
    }
}
