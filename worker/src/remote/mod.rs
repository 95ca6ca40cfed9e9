//! The distributed worker. Stateless: its only local state is the clone cache, which is safe
//! to lose. It speaks only gRPC to a coordinator and never reaches Redis: it leases jobs,
//! renews the leases with heartbeats, and hands in results, which the coordinator commits and
//! acknowledges in one step. A worker killed at any point loses nothing: its leases expire and
//! the jobs run again. While no coordinator answers, it leases nothing and keeps the results
//! of running jobs until one is back.

mod config;
mod heartbeat;
mod send;
mod slots;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use fleetscan_proto::client;
use fleetscan_proto::http::{self, Ready};
use fleetscan_proto::v1;

use crate::InputError;
use tonic::Code;

pub use config::{defaults, Args, Config};

use heartbeat::Leases;
use slots::Slots;

/// Checks the protocol with the coordinator, retrying while it is unreachable.
async fn hello(cfg: &Config, client: &mut client::WorkersClient) -> Result<()> {
    let mut delay = Duration::from_millis(200);
    loop {
        let req = v1::HelloRequest {
            protocol_version: cfg.protocol_version,
            worker_id: cfg.worker_id.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
        };
        match client.hello(req).await {
            Ok(_) => return Ok(()),
            Err(s)
                if matches!(
                    s.code(),
                    Code::FailedPrecondition | Code::Unauthenticated | Code::PermissionDenied
                ) =>
            {
                return Err(InputError(format!(
                    "the coordinator at {} refused this worker: {}",
                    cfg.coordinator,
                    s.message()
                ))
                .into());
            }
            Err(s) => {
                tracing::warn!(coordinator = %cfg.coordinator, error = %s.message(), "coordinator unreachable, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Runs a worker until `shutdown` completes, then stops taking jobs, lets running jobs finish
/// for up to the grace period and hands back the rest.
pub async fn serve(cfg: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    if cfg.concurrency == 0 {
        bail!(InputError("--concurrency must be at least 1".into()));
    }
    // Before the coordinator is contacted: an unwritable cache would otherwise fail every job
    // this worker leases, one by one.
    crate::cache::check_writable(&cfg.cache_dir)?;
    let mut client = client::workers(&cfg.target()).map_err(InputError)?;
    let ready = Ready::default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(addr) = cfg.health_listen {
        let (ready, mut rx) = (ready.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let stop = async move {
                let _ = rx.changed().await;
            };
            if let Err(e) = http::serve(addr, ready, stop).await {
                tracing::error!(%addr, error = %e, "health listener failed");
            }
        });
    }
    hello(&cfg, &mut client).await?;
    ready.set(true);
    metrics::gauge!("fleetscan_worker_busy").set(0.0);
    tracing::info!(worker = %cfg.worker_id.clone(), concurrency = cfg.concurrency, "worker running");

    let cfg = Arc::new(cfg);
    let leases = Leases::default();
    let hb = tokio::spawn(heartbeat::run(cfg.clone(), client.clone(), leases.clone()));
    let slots = Slots::new(cfg.clone(), client.clone(), leases.clone(), ready.clone());
    let running = slots.start(stop_rx.clone());

    shutdown.await;
    tracing::info!(
        grace_secs = cfg.grace_period.as_secs(),
        "stopping: no new jobs; finishing or handing back running ones"
    );
    ready.set(false);
    let _ = stop_tx.send(true);
    let grace = cfg.grace_period;
    if tokio::time::timeout(grace, futures_join(running))
        .await
        .is_err()
    {
        let held = leases.all();
        let req = v1::ReleaseRequest {
            worker_id: cfg.worker_id.clone(),
            leases: held.clone(),
        };
        // Bounded, so that a coordinator that accepts and never answers cannot hold the exit
        // past the pod's termination grace period.
        let answer = tokio::time::timeout(Duration::from_secs(10), client.release(req)).await;
        match answer.unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("timed out"))) {
            Ok(r) => {
                for (l, released) in held.iter().zip(r.into_inner().released) {
                    if released {
                        metrics::counter!("fleetscan_worker_jobs_total", "outcome" => "handed_back")
                            .increment(1);
                        tracing::info!(job = %l.job_id, "handed back");
                    }
                }
            }
            Err(s) => {
                tracing::warn!(error = %s.message(), "cannot hand back the running jobs; their leases will expire")
            }
        }
    }
    hb.abort();
    Ok(())
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

/// Runs a worker until SIGINT or SIGTERM.
pub async fn run(cfg: Config) -> Result<()> {
    http::recorder();
    serve(cfg, fleetscan_proto::shutdown::signal()).await
}
