//! A distributed fleetscan on loopback: a real `redis-server`, a coordinator and workers as
//! separate processes of the `fleetscan` binary, each of which a test can kill and restart.
//! Workers are given the coordinator only: they never reach Redis.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::process::Proc;
use crate::redis::RedisServer;

/// Lease length the workers use, seconds: short, so a killed worker's jobs come back fast.
pub const LEASE_SECS: u64 = 5;

/// Redis, a coordinator and workers.
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    /// The Redis server.
    pub redis: RedisServer,
    port: u16,
    /// The coordinator's metrics port (`/metrics`, `/healthz`, `/readyz`).
    pub metrics_port: u16,
    token: Option<String>,
    /// Flags the coordinator gets besides the cluster's own, kept across restarts.
    coordinator_flags: Vec<String>,
    /// The coordinator, while it runs.
    pub coordinator: Option<Proc>,
    /// Workers by index; `None` once killed.
    pub workers: Vec<Option<Proc>>,
}

impl Cluster {
    /// Starts Redis, a coordinator and `workers` workers, writing logs and caches under `dir`.
    pub fn start(bin: &Path, dir: &Path, workers: usize, token: Option<&str>) -> Cluster {
        std::fs::create_dir_all(dir).unwrap();
        let mut c = Cluster {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            redis: RedisServer::start(),
            port: crate::free_port(),
            metrics_port: crate::free_port(),
            token: token.map(String::from),
            coordinator_flags: Vec::new(),
            coordinator: None,
            workers: Vec::new(),
        };
        c.start_coordinator();
        for _ in 0..workers {
            c.start_worker(&[], &[]);
        }
        c
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The client token (the one given to [`Cluster::start`]).
    pub fn client_token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The worker token: derived from the client token, so that each role has its own.
    pub fn worker_token(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("{t}-worker"))
    }

    /// The environment of each role: the coordinator knows both tokens, a worker its own, a
    /// client its own.
    fn env(&self, role: &str) -> Vec<(String, String)> {
        let (Some(client), Some(worker)) = (self.client_token(), self.worker_token()) else {
            return Vec::new();
        };
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        match role {
            "coordinator" => vec![
                pair("FLEETSCAN_CLIENT_TOKEN", client),
                pair("FLEETSCAN_WORKER_TOKEN", &worker),
            ],
            "worker" => vec![pair("FLEETSCAN_WORKER_TOKEN", &worker)],
            _ => vec![pair("FLEETSCAN_TOKEN", client)],
        }
    }

    /// Starts (or restarts) the coordinator on its port and waits until it accepts.
    pub fn start_coordinator(&mut self) {
        self.coordinator = Some(self.spawn_coordinator(self.port, self.metrics_port));
    }

    /// Restarts the coordinator with `flags` added, now and on later restarts.
    pub fn restart_coordinator_with(&mut self, flags: &[&str]) {
        self.kill_coordinator();
        self.coordinator_flags = flags.iter().map(|s| s.to_string()).collect();
        self.start_coordinator();
    }

    /// Starts a second coordinator over the same Redis; returns it and its URL.
    pub fn second_coordinator(&self) -> (Proc, String) {
        let port = crate::free_port();
        (
            self.spawn_coordinator(port, crate::free_port()),
            format!("http://127.0.0.1:{port}"),
        )
    }

    fn spawn_coordinator(&self, port: u16, metrics_port: u16) -> Proc {
        let n = std::fs::read_dir(&self.dir).map(|d| d.count()).unwrap_or(0);
        let mut args: Vec<String> = [
            "coordinator",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--redis",
            &self.redis.url(),
            "--retry-backoff-ms",
            "200",
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ]
        .map(String::from)
        .to_vec();
        args.extend(self.coordinator_flags.iter().cloned());
        let log = self.dir.join(format!("coordinator-{n}.log"));
        let env = self.env("coordinator");
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let p = Proc::spawn(&self.bin, &args, log, &env);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "coordinator did not start: {}",
                p.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    /// Kills the coordinator with SIGKILL.
    pub fn kill_coordinator(&mut self) {
        if let Some(mut p) = self.coordinator.take() {
            p.kill9();
        }
    }

    /// Starts a worker with extra flags and environment; returns its index.
    pub fn start_worker(&mut self, extra: &[&str], env: &[(&str, &str)]) -> usize {
        let i = self.workers.len();
        let mut args: Vec<String> = [
            "worker",
            "--coordinator",
            &self.url(),
            "--concurrency",
            "2",
            "--lease-secs",
            &LEASE_SECS.to_string(),
            "--worker-id",
            &format!("w{i}"),
            "--cache-dir",
        ]
        .map(String::from)
        .to_vec();
        args.push(
            self.dir
                .join(format!("cache-w{i}"))
                .to_string_lossy()
                .into_owned(),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let own = self.env("worker");
        let mut all_env: Vec<(&str, &str)> =
            own.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all_env.extend_from_slice(env);
        let log = self.dir.join(format!("worker-{i}.log"));
        self.workers
            .push(Some(Proc::spawn(&self.bin, &args, log, &all_env)));
        i
    }

    /// The worker `i`, if it still runs.
    pub fn worker(&mut self, i: usize) -> &mut Proc {
        self.workers[i].as_mut().expect("worker running")
    }

    /// Runs `fleetscan ARGS --coordinator URL` to its end (at most `timeout`).
    pub fn cli(&self, args: &[String], timeout: Duration) -> Output {
        let out = self.cli_command(args).spawn().expect("spawn fleetscan");
        finish_within(out, timeout).unwrap_or_else(|| {
            panic!(
                "fleetscan {args:?} did not finish in {timeout:?}\n{}",
                self.logs()
            )
        })
    }

    /// The command [`Cluster::cli`] runs, to start it in the background.
    pub fn cli_command(&self, args: &[String]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .arg("--coordinator")
            .arg(self.url())
            .env("FLEETSCAN_LOG", "error")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in self.env("client") {
            cmd.env(k, v);
        }
        cmd
    }

    /// Every process log, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        let mut entries: Vec<_> = std::fs::read_dir(&self.dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_name().to_string_lossy().ends_with(".log") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                s.push_str(&format!(
                    "--- {} (last 40 lines)\n",
                    e.file_name().to_string_lossy()
                ));
                for l in tail.into_iter().rev() {
                    s.push_str(l);
                    s.push('\n');
                }
            }
        }
        s
    }
}

/// Waits for `child` for at most `timeout`; kills it and returns `None` when it takes longer.
pub fn finish_within(child: std::process::Child, timeout: Duration) -> Option<Output> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => Some(out.expect("fleetscan output")),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            None
        }
    }
}

/// GET `path` from `127.0.0.1:port`; returns (status code, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}
