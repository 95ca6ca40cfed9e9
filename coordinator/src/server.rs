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

use crate::auth::TokenCheck;
use crate::queue::{self, Queue};
use crate::service::CoordinatorService;
use crate::store::Store;
use crate::workers::{IngestLimits, WorkersService};

/// Largest gRPC message accepted: big enough for a scan spec carrying the governance files.
const MAX_MESSAGE: usize = 64 << 20;

/// Coordinator settings; every flag can also come from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// gRPC address to listen on.
    #[arg(long, default_value = "127.0.0.1:7700", env = "FLEETSCAN_LISTEN")]
    pub listen: SocketAddr,
    /// Where Redis is.
    #[command(flatten)]
    pub redis: crate::queue::RedisArgs,
    /// Serve Prometheus metrics on http://ADDR/metrics, with /healthz and /readyz (ready while
    /// Redis answers).
    #[arg(long, value_name = "ADDR", env = "FLEETSCAN_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The token.
    #[command(flatten)]
    pub token: crate::auth::TokenArgs,
    /// TLS certificate chain (PEM); serves gRPC over TLS with --tls-key.
    #[arg(
        long,
        value_name = "PEM",
        env = "FLEETSCAN_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(
        long,
        value_name = "PEM",
        env = "FLEETSCAN_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// First retry backoff of a failed job, ms; doubled per attempt, with jitter.
    #[arg(
        long,
        default_value_t = 500,
        value_name = "MS",
        env = "FLEETSCAN_RETRY_BACKOFF_MS"
    )]
    pub retry_backoff_ms: u64,
    /// Bytes of occurrences (paths and lines) accepted per repository; a repository over it
    /// fails with the reason.
    #[arg(
        long,
        default_value_t = 64 << 20,
        value_name = "BYTES",
        env = "FLEETSCAN_MAX_RESULT_BYTES"
    )]
    pub max_result_bytes: usize,
    /// Repositories' results read at once; with --max-result-bytes it bounds the memory that
    /// results take here (worst case about three times their product).
    #[arg(
        long,
        default_value_t = 4,
        value_name = "N",
        env = "FLEETSCAN_MAX_CONCURRENT_RESULTS"
    )]
    pub max_concurrent_results: usize,
    /// Hours a finished (completed or cancelled) scan is kept in Redis, with its results; 0
    /// deletes finished scans at the next sweep (every minute).
    #[arg(
        long,
        default_value_t = 720,
        value_name = "HOURS",
        env = "FLEETSCAN_RETENTION_HOURS"
    )]
    pub retention_hours: u64,
    /// Occurrences accepted per repository.
    #[arg(
        long,
        default_value_t = 2_000_000,
        value_name = "N",
        env = "FLEETSCAN_MAX_OCCURRENCES_PER_REPO"
    )]
    pub max_occurrences_per_repo: u64,
}

impl Config {
    /// The settings `--listen LISTEN --redis REDIS` give, every other flag at its default (for
    /// tests and benchmarks, so that defaults are defined once, on the flags).
    pub fn with_defaults(listen: SocketAddr, redis: &str) -> Config {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        let listen = listen.to_string();
        <Only as clap::Parser>::parse_from(["coordinator", "--listen", &listen, "--redis", redis])
            .config
    }
}

/// Connects to Redis, then serves gRPC on `listener` (and metrics, when configured) until
/// `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let password = config.redis.password().map_err(anyhow::Error::msg)?;
    let conn = queue::connect(&config.redis.url, password.as_deref())
        .await
        .with_context(|| "cannot connect to Redis given by --redis / FLEETSCAN_REDIS_URL")?;
    let token = config.token.resolve().map_err(anyhow::Error::msg)?;
    let queue = Queue::new(conn.clone());
    let store = Store::new(conn);
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<CoordinatorServer<CoordinatorService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let check = TokenCheck::new(token.as_deref());
    let (down_tx, down) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = down_tx.send(true);
    };
    let queued = std::sync::Arc::new(tokio::sync::Notify::new());
    let coordinator = CoordinatorServer::new(CoordinatorService {
        queue: queue.clone(),
        store: store.clone(),
        backoff_ms: config.retry_backoff_ms,
        queued: queued.clone(),
        down: down.clone(),
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
        ingesting: std::sync::Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_results.max(1),
        )),
        queued,
        down,
    })
    .max_decoding_message_size(MAX_MESSAGE);

    let mut server = Server::builder();
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
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
    let retention = Duration::from_secs(config.retention_hours.saturating_mul(3600));
    tokio::spawn(housekeeping(
        queue, store, reporter, ready, retention, stop_rx,
    ));
    tracing::info!(addr = %listener.local_addr()?, tls = config.tls_cert.is_some(), "coordinator listening");
    server
        .add_service(health)
        .add_service(reflection)
        .add_service(tonic::service::interceptor::InterceptedService::new(
            coordinator,
            check.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            workers, check,
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
    let mut counts =
        std::collections::BTreeMap::from([("running", 0), ("completed", 0), ("cancelled", 0)]);
    for id in ids {
        if let Ok(Some(rec)) = store.get(&id, false).await {
            if let Some(c) = counts.get_mut(rec.state.as_str()) {
                *c += 1;
            }
        }
    }
    for (state, c) in counts {
        metrics::gauge!("fleetscan_scans", "state" => state).set(f64::from(c));
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
