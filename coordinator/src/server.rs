//! The coordinator as a library function: [`serve`] runs it on a listener until a shutdown
//! future completes, so tests and the binaries start it the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use fleetscan_proto::v1::coordinator_server::CoordinatorServer;
use fleetscan_proto::v1::workers_server::WorkersServer;
use fleetscan_proto::FILE_DESCRIPTOR_SET;
use tokio::net::TcpListener;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::auth::{Role, RoleCheck, RoleTokens};
use crate::queue::{self, Queue};
use crate::service::CoordinatorService;
use crate::state::ScanState;
use crate::store::Store;
use crate::workers::{IngestLimits, WorkersService};

/// Largest gRPC message accepted: big enough for a scan spec carrying the governance files.
const MAX_MESSAGE: usize = 64 << 20;

/// Coordinator settings, every one with its default ([`Config::default`]); the binaries map
/// their flags onto it ([`crate::args::Args`]), tests build it directly.
#[derive(Debug, Clone)]
pub struct Config {
    /// gRPC address to listen on. Default [`defaults::LISTEN`].
    pub listen: SocketAddr,
    /// Redis URL (redis:// or rediss://). Default [`defaults::REDIS_URL`].
    pub redis_url: String,
    /// Redis password, when not in the URL. Default none.
    pub redis_password: Option<String>,
    /// Where to serve Prometheus metrics, /healthz and /readyz. Default none.
    pub metrics_listen: Option<SocketAddr>,
    /// One token per role. Default none: every role open.
    pub tokens: RoleTokens,
    /// TLS certificate chain and private key files (PEM). Default none: plain gRPC.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// First retry backoff of a failed job; doubled per attempt, with jitter, at most a
    /// minute ([`fleetscan_core::plan::retry_backoff`]). Default
    /// [`fleetscan_core::plan::DEFAULT_RETRY_BACKOFF`].
    pub retry_backoff: Duration,
    /// Bytes of occurrences accepted per repository. Default [`defaults::MAX_RESULT_BYTES`].
    pub max_result_bytes: usize,
    /// Repositories' results read at once. Default [`defaults::MAX_CONCURRENT_RESULTS`].
    pub max_concurrent_results: usize,
    /// Reports rendered and result exports served at once. Default
    /// [`defaults::MAX_CONCURRENT_REPORTS`].
    pub max_concurrent_reports: usize,
    /// How long a finished scan is kept. Default [`defaults::RETENTION_HOURS`] hours.
    pub retention: Duration,
    /// Occurrences accepted per repository. Default [`defaults::MAX_OCCURRENCES_PER_REPO`].
    pub max_occurrences_per_repo: u64,
}

/// The defaults of [`Config`], written once: the flags show the same values.
pub mod defaults {
    /// gRPC address.
    pub const LISTEN: &str = "127.0.0.1:7700";
    /// Redis URL.
    pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";
    /// Bytes of occurrences per repository.
    pub const MAX_RESULT_BYTES: usize = 64 << 20;
    /// Results read at once.
    pub const MAX_CONCURRENT_RESULTS: usize = 4;
    /// Reports rendered and result exports served at once.
    pub const MAX_CONCURRENT_REPORTS: usize = 2;
    /// Hours a finished scan is kept.
    pub const RETENTION_HOURS: u64 = 720;
    /// Occurrences per repository.
    pub const MAX_OCCURRENCES_PER_REPO: u64 = fleetscan_core::plan::DEFAULT_MAX_OCCURRENCES;
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: defaults::LISTEN.parse().expect("a valid address"),
            redis_url: defaults::REDIS_URL.into(),
            redis_password: None,
            metrics_listen: None,
            tokens: RoleTokens::default(),
            tls: None,
            retry_backoff: fleetscan_core::plan::DEFAULT_RETRY_BACKOFF,
            max_result_bytes: defaults::MAX_RESULT_BYTES,
            max_concurrent_results: defaults::MAX_CONCURRENT_RESULTS,
            max_concurrent_reports: defaults::MAX_CONCURRENT_REPORTS,
            retention: Duration::from_secs(defaults::RETENTION_HOURS * 3600),
            max_occurrences_per_repo: defaults::MAX_OCCURRENCES_PER_REPO,
        }
    }
}

impl Config {
    /// The defaults, listening on `listen` over the Redis at `redis_url`.
    pub fn new(listen: SocketAddr, redis_url: &str) -> Config {
        Config {
            listen,
            redis_url: redis_url.into(),
            ..Config::default()
        }
    }
}

/// Connects to Redis, then serves gRPC on `listener` (and metrics, when configured) until
/// `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let conn = queue::connect(&config.redis_url, config.redis_password.as_deref())
        .await
        .with_context(|| "cannot connect to Redis given by --redis / FLEETSCAN_REDIS_URL")?;
    let tokens = config.tokens.clone();
    for (role, t) in [("client", &tokens.client), ("worker", &tokens.worker)] {
        if t.is_none() {
            tracing::warn!(
                role,
                "no {role} token configured: {role} calls need no credential"
            );
        }
    }
    let queue = Queue::new(conn.clone());
    let store = Store::new(conn);
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<CoordinatorServer<CoordinatorService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let (down_tx, down) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = down_tx.send(true);
    };
    let queued = std::sync::Arc::new(tokio::sync::Notify::new());
    let coordinator = CoordinatorServer::new(CoordinatorService {
        queue: queue.clone(),
        store: store.clone(),
        queued: queued.clone(),
        down: down.clone(),
        streams: std::sync::Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_reports.max(1),
        )),
    })
    .max_decoding_message_size(MAX_MESSAGE);
    let workers = WorkersServer::new(WorkersService {
        queue: queue.clone(),
        store: store.clone(),
        limits: IngestLimits {
            occurrences: config.max_occurrences_per_repo,
            bytes: config.max_result_bytes,
            ..IngestLimits::default()
        },
        retry_backoff: config.retry_backoff,
        ingesting: std::sync::Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_results.max(1),
        )),
        queued,
        down,
    })
    .max_decoding_message_size(MAX_MESSAGE);

    let mut server = Server::builder();
    if let Some((cert, key)) = &config.tls {
        let read = |p: &PathBuf| {
            std::fs::read(p).with_context(|| format!("cannot read TLS file {}", p.display()))
        };
        server = server
            .tls_config(
                ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?)),
            )
            .context("--tls-cert / --tls-key")?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ready = fleetscan_proto::http::Ready::default();
    ready.set(true);
    if let Some(addr) = config.metrics_listen {
        let ready = ready.clone();
        let mut rx = stop_rx.clone();
        let stop = async move {
            let _ = rx.changed().await;
        };
        tokio::spawn(async move {
            if let Err(e) = fleetscan_proto::http::serve(addr, ready, stop).await {
                tracing::error!(%addr, error = %e, "metrics listener failed");
            }
        });
    }
    let retention = config.retention;
    tokio::spawn(housekeeping(
        queue, store, reporter, ready, retention, stop_rx,
    ));
    tracing::info!(addr = %listener.local_addr()?, tls = config.tls.is_some(), "coordinator listening");
    server
        .add_service(health)
        .add_service(reflection)
        .add_service(tonic::service::interceptor::InterceptedService::new(
            coordinator,
            RoleCheck::new(Role::Client, &tokens),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            workers,
            RoleCheck::new(Role::Worker, &tokens),
        ))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await?;
    let _ = stop_tx.send(true);
    Ok(())
}

/// Every second: expire stale leases, promote due retries, publish queue depths and health;
/// every minute, delete finished scans older than the retention
/// (gRPC health, and `/readyz` next to the metrics for clusters whose probes cannot speak
/// gRPC over TLS).
async fn housekeeping(
    queue: Queue,
    store: Store,
    reporter: tonic_health::server::HealthReporter,
    ready: fleetscan_proto::http::Ready,
    retention: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n = 0u64;
    let mut healthy = true;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        n += 1;
        let ok = match (queue.reap().await, queue.depths().await) {
            (Ok(()), Ok(d)) => {
                for (name, v) in [
                    ("ready", d.ready),
                    ("delayed", d.delayed),
                    ("active", d.active),
                    ("dead", d.dead),
                ] {
                    metrics::gauge!("fleetscan_queue_depth", "queue" => name).set(v as f64);
                }
                true
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "housekeeping: Redis unavailable");
                false
            }
        };
        if ok && n % 5 == 1 {
            scan_gauges(&store).await;
        }
        if ok && n % 60 == 2 {
            match store.delete_finished_before(retention).await {
                Ok(0) => {}
                Ok(k) => tracing::info!(scans = k, "deleted finished scans past their retention"),
                Err(e) => tracing::warn!(error = %e, "cannot delete old scans"),
            }
        }
        if ok != healthy {
            healthy = ok;
            ready.set(ok);
            if ok {
                reporter
                    .set_serving::<CoordinatorServer<CoordinatorService>>()
                    .await;
            } else {
                reporter
                    .set_not_serving::<CoordinatorServer<CoordinatorService>>()
                    .await;
            }
        }
    }
}

async fn scan_gauges(store: &Store) {
    let Ok(ids) = store.list(200).await else {
        return;
    };
    let mut counts: std::collections::BTreeMap<ScanState, u32> =
        ScanState::ALL.into_iter().map(|s| (s, 0)).collect();
    for id in ids {
        if let Ok(Some(rec)) = store.get(&id, false).await {
            *counts.entry(rec.state).or_default() += 1;
        }
    }
    for (state, c) in counts {
        metrics::gauge!("fleetscan_scans", "state" => state.name()).set(f64::from(c));
    }
}

/// Binds `config.listen` and serves until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<()> {
    fleetscan_proto::http::recorder();
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", config.listen))?;
    serve(config, listener, fleetscan_proto::shutdown::signal()).await
}
