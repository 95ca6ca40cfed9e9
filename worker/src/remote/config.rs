use std::net::SocketAddr;
use std::path::PathBuf;

use fleetscan_proto::client::Connect;
use fleetscan_proto::token::WorkerToken;

/// Worker settings; every flag can also come from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub connect: Connect,
    /// The worker credential.
    #[command(flatten)]
    pub token: WorkerToken,
    /// Jobs run in parallel.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        env = "FLEETSCAN_CONCURRENCY"
    )]
    pub concurrency: usize,
    /// Clone cache; safe to lose.
    #[arg(long, value_name = "DIR", env = "FLEETSCAN_CACHE_DIR")]
    pub cache_dir: PathBuf,
    /// Serve /healthz, /readyz and /metrics on http://ADDR.
    #[arg(long, value_name = "ADDR", env = "FLEETSCAN_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
    /// On SIGTERM, seconds to let running jobs finish before handing them back.
    #[arg(
        long,
        default_value_t = 30,
        value_name = "SECS",
        env = "FLEETSCAN_GRACE_PERIOD"
    )]
    pub grace_period: u64,
    /// Lease length; heartbeats renew it every third of it. A dead worker's jobs run again
    /// after at most this long.
    #[arg(
        long,
        default_value_t = 30,
        value_name = "SECS",
        env = "FLEETSCAN_LEASE_SECS"
    )]
    pub lease_secs: u64,
    /// Name in leases and logs. Default: host name and process id.
    #[arg(long, value_name = "ID", env = "FLEETSCAN_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Protocol version announced to the coordinator (for upgrade testing only).
    #[arg(long, hide = true, default_value_t = fleetscan_proto::PROTOCOL_VERSION, env = "FLEETSCAN_PROTOCOL_VERSION")]
    pub protocol_version: u32,
}

impl Config {
    /// The worker's name.
    pub fn worker_id(&self) -> String {
        self.worker_id.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "worker".into());
            format!("{host}-{}", std::process::id())
        })
    }

    /// The lease length.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs.max(2))
    }
}
