//! The job loops: `concurrency` of them, each taking a job from the queue, running it on a
//! blocking thread with the same code as the embedded mode, and delivering its result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleetscan_coordinator::client::WorkersClient;
use fleetscan_coordinator::http::Ready;
use fleetscan_coordinator::queue::{Leased, Queue};
use fleetscan_coordinator::spec::JobSpec;
use fleetscan_core::ids::RepoName;
use fleetscan_core::result::{RepoResult, RepoStatus};

use super::heartbeat::Leases;
use super::{send, Config};
use crate::git::GitOptions;
use crate::job::{run_attempts, Context, Job, JobOptions};

/// Scans whose compiled context is kept; older ones are dropped and rebuilt when needed.
const CONTEXTS: usize = 64;

#[derive(Clone)]
pub struct Slots {
    cfg: Arc<Config>,
    queue: Queue,
    client: WorkersClient,
    leases: Leases,
    ready: Ready,
    contexts: Arc<Mutex<HashMap<String, Arc<Context>>>>,
}

impl Slots {
    pub fn new(
        cfg: Arc<Config>,
        queue: Queue,
        client: WorkersClient,
        leases: Leases,
        ready: Ready,
    ) -> Slots {
        Slots {
            cfg,
            queue,
            client,
            leases,
            ready,
            contexts: Arc::default(),
        }
    }

    /// Starts the loops; they end when `stop` changes.
    pub fn start(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.cfg.concurrency)
            .map(|_| {
                let (me, stop) = (self.clone(), stop.clone());
                tokio::spawn(async move { me.run(stop).await })
            })
            .collect()
    }

    async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let worker_id = self.cfg.worker_id();
        let mut idle = Duration::from_millis(100);
        while !*stop.borrow() {
            match self.queue.lease(&worker_id, self.cfg.lease()).await {
                Ok(Some(job)) if *stop.borrow() => {
                    // Taken while stopping began: hand it straight back.
                    let _ = self.queue.release(&job.job, job.token, &worker_id).await;
                    break;
                }
                Ok(Some(job)) => {
                    self.ready.set(true);
                    idle = Duration::from_millis(100);
                    self.process(job).await;
                    continue;
                }
                Ok(None) => {
                    self.ready.set(true);
                    idle = (idle * 2).min(Duration::from_millis(800));
                }
                Err(e) => {
                    self.ready.set(false);
                    tracing::warn!(error = %e, "cannot take a job from Redis, retrying");
                    idle = Duration::from_secs(1);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
            }
        }
    }

    fn context(&self, l: &Leased) -> Result<Arc<Context>, String> {
        let mut map = self.contexts.lock().expect("contexts");
        if let Some(c) = map.get(&l.scan) {
            return Ok(c.clone());
        }
        let spec: JobSpec = serde_json::from_str(&l.job_spec).map_err(|e| {
            format!(
                "the scan's job spec is unreadable ({e}): coordinator and worker releases differ"
            )
        })?;
        let opts = JobOptions {
            timeout: Duration::from_secs(u64::from(spec.timeout_secs.max(1))),
            retries: 0,
            git: GitOptions {
                connect_timeout: Duration::from_secs(u64::from(spec.connect_timeout_secs.max(1))),
                ..GitOptions::default()
            },
            ..JobOptions::default()
        };
        let ctx = Arc::new(
            Context::new(&spec.options, self.cfg.cache_dir.clone(), opts)
                .map_err(|e| e.to_string())?,
        );
        if map.len() >= CONTEXTS {
            map.clear();
        }
        map.insert(l.scan.clone(), ctx.clone());
        Ok(ctx)
    }

    async fn process(&self, l: Leased) {
        let started = Instant::now();
        let held = self.leases.add(&l.job, l.token);
        metrics::gauge!("fleetscan_worker_busy").increment(1.0);
        tracing::info!(job = %l.job, repo = %l.repo, "job started");
        let (result, retryable) = match (RepoName::parse(&l.repo), self.context(&l)) {
            (Ok(repo), Ok(ctx)) => {
                let job = Job {
                    repo,
                    url: l.url.clone(),
                };
                let stop = held.stop.clone();
                match tokio::task::spawn_blocking(move || run_attempts(&job, &ctx, &stop)).await {
                    Ok(r) => r,
                    Err(e) => (failed(&l, format!("the scan crashed: {e}")), false),
                }
            }
            (Err(e), _) => (failed(&l, e.to_string()), false),
            (_, Err(e)) => (failed(&l, e), false),
        };
        let outcome = match result.status {
            RepoStatus::Scanned => "scanned",
            RepoStatus::Skipped => "skipped",
            RepoStatus::Failed => "failed",
        };
        metrics::histogram!("fleetscan_clone_seconds").record(result.fetch_ms as f64 / 1000.0);
        metrics::histogram!("fleetscan_scan_seconds").record(result.scan_ms as f64 / 1000.0);
        let mut client = self.client.clone();
        let commit = send::deliver(
            &mut client,
            &l.job,
            &held,
            &self.cfg.worker_id(),
            Arc::new(result),
            retryable,
            self.cfg.lease() * 10,
        )
        .await;
        self.leases.remove(&l.job, l.token);
        metrics::gauge!("fleetscan_worker_busy").decrement(1.0);
        metrics::counter!("fleetscan_worker_jobs_total", "outcome" => outcome).increment(1);
        tracing::info!(job = %l.job, repo = %l.repo, outcome, commit = ?commit, ms = started.elapsed().as_millis() as u64, "job done");
    }
}

fn failed(l: &Leased, reason: String) -> RepoResult {
    let repo = RepoName::parse(&l.repo)
        .unwrap_or_else(|_| RepoName::parse("unknown/unknown").expect("valid"));
    let mut r = RepoResult::new(repo, l.url.clone()).failed(reason);
    r.attempts = 1;
    r
}
