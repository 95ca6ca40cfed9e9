//! The job loops: `concurrency` of them, each leasing a job from the coordinator (a call that
//! waits for one when none is ready), running it on a blocking thread with the same code as
//! the embedded mode, and delivering its result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleetscan_core::ids::RepoName;
use fleetscan_core::plan::JobSpec;
use fleetscan_core::result::{RepoResult, RepoStatus};
use fleetscan_proto::client::WorkersClient;
use fleetscan_proto::http::Ready;
use fleetscan_proto::v1;

use super::heartbeat::Leases;
use super::{send, Config};
use crate::job::{run_attempts, Context, Job, JobOptions};
use crate::pools::Pools;

/// Scans whose compiled context is kept; older ones are dropped and rebuilt when needed.
const CONTEXTS: usize = 64;
/// How long one Lease call may wait for a job; the coordinator bounds it too.
const LEASE_WAIT: Duration = Duration::from_secs(10);

/// A leased job, checked: a job whose spec or repository cannot be read fails with the
/// reason instead of running with guessed options.
#[derive(Debug)]
struct Leased {
    job: String,
    token: u64,
    scan: String,
    repo: String,
    url: String,
    spec: Result<(RepoName, JobSpec), String>,
}

impl TryFrom<v1::Job> for Leased {
    type Error = String;

    /// Fails only without a lease: then there is nothing to answer to.
    fn try_from(j: v1::Job) -> Result<Self, String> {
        let lease = j
            .lease
            .ok_or("the coordinator sent a job without its lease")?;
        let spec = match (RepoName::parse(&j.repo), j.spec) {
            (Err(e), _) => Err(e.to_string()),
            (_, None) => Err("the job has no spec: coordinator and worker releases differ".into()),
            (Ok(repo), Some(s)) => JobSpec::try_from(s)
                .map(|s| (repo, s))
                .map_err(|e| e.to_string()),
        };
        Ok(Leased {
            job: lease.job_id,
            token: lease.token,
            scan: j.scan_id,
            repo: j.repo,
            url: j.url,
            spec,
        })
    }
}

#[derive(Clone)]
pub struct Slots {
    cfg: Arc<Config>,
    client: WorkersClient,
    leases: Leases,
    ready: Ready,
    contexts: Arc<Mutex<HashMap<String, Arc<Context>>>>,
    /// One set of slots for every scan's jobs, so that two scans at once share the network
    /// and CPU limits instead of each getting its own.
    pools: Arc<Pools>,
}

impl Slots {
    pub fn new(cfg: Arc<Config>, client: WorkersClient, leases: Leases, ready: Ready) -> Slots {
        Slots {
            pools: Arc::new(Pools::new(cfg.pools.clone())),
            cfg,
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
        let worker_id = self.cfg.worker_id.clone();
        let mut delay = Duration::from_millis(200);
        while !*stop.borrow() {
            let req = v1::LeaseRequest {
                protocol_version: self.cfg.protocol_version,
                worker_id: worker_id.clone(),
                lease_secs: self.cfg.lease().as_secs() as u32,
                wait_ms: LEASE_WAIT.as_millis() as u32,
            };
            let mut client = self.client.clone();
            // Stopping abandons a waiting call. Should a job be leased in that very moment,
            // its lease is never renewed and it runs again elsewhere when it expires.
            let resp = tokio::select! {
                r = client.lease(req) => r,
                _ = stop.changed() => break,
            };
            match resp {
                Ok(r) => {
                    self.ready.set(true);
                    delay = Duration::from_millis(200);
                    let Some(job) = r.into_inner().job else {
                        continue;
                    };
                    let job = match Leased::try_from(job) {
                        Ok(j) => j,
                        Err(e) => {
                            tracing::error!(error = %e, "unusable job");
                            continue;
                        }
                    };
                    if *stop.borrow() {
                        // Taken while stopping began: hand it straight back.
                        self.release(&job).await;
                        break;
                    }
                    self.process(job).await;
                }
                Err(s) => {
                    // While no coordinator answers, no job is leased; running jobs go on.
                    self.ready.set(false);
                    tracing::warn!(coordinator = %self.cfg.coordinator, error = %s.message(), "cannot lease a job, retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn release(&self, l: &Leased) {
        let req = v1::ReleaseRequest {
            worker_id: self.cfg.worker_id.clone(),
            leases: vec![v1::Lease {
                job_id: l.job.clone(),
                token: l.token,
            }],
        };
        if let Err(s) = self.client.clone().release(req).await {
            tracing::warn!(job = %l.job, error = %s.message(), "cannot hand back; its lease will expire");
        }
    }

    fn context(&self, scan: &str, spec: &JobSpec) -> Result<Arc<Context>, String> {
        let mut map = self.contexts.lock().expect("contexts");
        if let Some(c) = map.get(scan) {
            return Ok(c.clone());
        }
        let opts = JobOptions::for_spec(spec, 0);
        let ctx = Arc::new(
            Context::new(&spec.options, self.cfg.cache_dir.clone(), opts)
                .map_err(|e| e.to_string())?
                .with_pools(self.pools.clone())
                .with_points(spec.points.clone()),
        );
        if map.len() >= CONTEXTS {
            map.clear();
        }
        map.insert(scan.to_string(), ctx.clone());
        Ok(ctx)
    }

    async fn process(&self, l: Leased) {
        let started = Instant::now();
        let held = self.leases.add(&l.job, l.token);
        metrics::gauge!("fleetscan_worker_busy").increment(1.0);
        tracing::info!(job = %l.job, repo = %l.repo, "job started");
        let ready = l
            .spec
            .clone()
            .and_then(|(repo, spec)| Ok((repo, self.context(&l.scan, &spec)?)));
        let (result, retryable) = match ready {
            Ok((repo, ctx)) => {
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
            Err(e) => (failed(&l, e), false),
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
            &self.cfg.worker_id.clone(),
            Arc::new(result),
            retryable,
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

#[cfg(test)]
mod tests {
    use super::*;
    use fleetscan_core::result::ScanOptions;

    fn job() -> v1::Job {
        v1::Job {
            lease: Some(v1::Lease {
                job_id: "s:0".into(),
                token: 7,
            }),
            scan_id: "s".into(),
            repo: "openstack/nova".into(),
            url: "git://h/openstack/nova".into(),
            spec: Some(v1::JobSpec::from(&JobSpec::new(ScanOptions {
                matching: fleetscan_core::matcher::MatchOptions::new(["x"]),
                files: Default::default(),
            }))),
        }
    }

    #[test]
    fn a_job_without_its_spec_fails_instead_of_running_with_defaults() {
        let l = Leased::try_from(job()).unwrap();
        assert_eq!(l.spec.unwrap().0.as_str(), "openstack/nova");
        let l = Leased::try_from(v1::Job {
            spec: None,
            ..job()
        })
        .unwrap();
        assert!(l.spec.unwrap_err().contains("no spec"));
        let l = Leased::try_from(v1::Job {
            spec: Some(v1::JobSpec {
                files: None,
                ..job().spec.unwrap()
            }),
            ..job()
        })
        .unwrap();
        assert!(l.spec.unwrap_err().contains("files"));
        assert!(Leased::try_from(v1::Job {
            lease: None,
            ..job()
        })
        .is_err());
    }
}
