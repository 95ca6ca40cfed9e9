//! The distributed worker. Stateless: its only local state is the clone cache, which is safe
//! to lose. Jobs come from Redis with a lease; heartbeats through the coordinator keep the
//! leases; results go to the coordinator, which commits them and acknowledges the job in one
//! step. A worker killed at any point loses nothing: its leases expire and the jobs run again.

mod config;
mod heartbeat;
mod send;
mod slots;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use fleetscan_coordinator::client;
use fleetscan_coordinator::http::{self, Ready};
use fleetscan_coordinator::queue::{self, Queue};
use fleetscan_proto::v1;

use crate::InputError;
use tonic::Code;

pub use config::Config;

use heartbeat::Leases;
use slots::Slots;

/// Checks the protocol with the coordinator, retrying while it is unreachable.
async fn hello(cfg: &Config, client: &mut client::WorkersClient) -> Result<()> {
    let mut delay = Duration::from_millis(200);
    loop {
        let req = v1::HelloRequest {
            protocol_version: cfg.protocol_version,
            worker_id: cfg.worker_id(),
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
                    cfg.connect.coordinator,
                    s.message()
                ))
                .into());
            }
            Err(s) => {
                tracing::warn!(coordinator = %cfg.connect.coordinator, error = %s.message(), "coordinator unreachable, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Runs a worker until `shutdown` completes, then stops taking jobs, lets running jobs finish
/// for up to the grace period and hands back the rest.
pub async fn serve(
    mut cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    cfg.worker_id = Some(cfg.worker_id());
    cfg.connect = cfg.connect.resolved().map_err(InputError)?;
    if cfg.concurrency == 0 {
        bail!(InputError("--concurrency must be at least 1".into()));
    }
    std::fs::create_dir_all(&cfg.cache_dir).map_err(|e| {
        InputError(format!(
            "cannot create --cache-dir {}: {e}",
            cfg.cache_dir.display()
        ))
    })?;
    let mut client = client::workers(&cfg.connect.target()).map_err(InputError)?;
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
    let password = cfg.redis.password().map_err(InputError)?;
    let conn = loop {
        match queue::connect(&cfg.redis.url, password.as_deref()).await {
            Ok(c) => break c,
            Err(e) if e.is_connection_refusal() || e.is_timeout() || e.is_io_error() => {
                tracing::warn!(error = %e, "Redis unreachable, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                return Err(e)
                    .context("cannot use the Redis given by --redis / FLEETSCAN_REDIS_URL")
            }
        }
    };
    let queue = Queue::new(conn);
    ready.set(true);
    metrics::gauge!("fleetscan_worker_busy").set(0.0);
    tracing::info!(worker = %cfg.worker_id(), concurrency = cfg.concurrency, "worker running");

    let cfg = Arc::new(cfg);
    let leases = Leases::default();
    let hb = tokio::spawn(heartbeat::run(
        cfg.clone(),
        client.clone(),
        queue.clone(),
        leases.clone(),
        stop_rx.clone(),
    ));
    let slots = Slots::new(
        cfg.clone(),
        queue.clone(),
        client,
        leases.clone(),
        ready.clone(),
    );
    let running = slots.start(stop_rx.clone());

    shutdown.await;
    tracing::info!(
        grace = cfg.grace_period,
        "stopping: no new jobs; finishing or handing back running ones"
    );
    ready.set(false);
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(cfg.grace_period);
    if tokio::time::timeout(grace, futures_join(running))
        .await
        .is_err()
    {
        for (job, token) in leases.all() {
            match queue.release(&job, token, &cfg.worker_id()).await {
                Ok(true) => {
                    metrics::counter!("fleetscan_worker_jobs_total", "outcome" => "handed_back")
                        .increment(1);
                    tracing::info!(%job, "handed back")
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%job, error = %e, "cannot hand back; its lease will expire")
                }
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
    serve(cfg, fleetscan_coordinator::server::shutdown_signal()).await
}
