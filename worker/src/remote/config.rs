use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fleetscan_proto::client::{Connect, Target};
use fleetscan_proto::token::WorkerToken;

use crate::pools::PoolOptions;

/// Worker settings, every one with its default ([`Config::new`]); the binaries map their flags
/// onto it ([`Args`]), tests build it directly.
#[derive(Debug, Clone)]
pub struct Config {
    /// The coordinator's gRPC URL.
    pub coordinator: String,
    /// CA certificate (PEM) for an https:// coordinator. Default none: the public roots.
    pub tls_ca: Option<PathBuf>,
    /// The worker token. Default none.
    pub token: Option<String>,
    /// Jobs run in parallel. Default [`defaults::CONCURRENCY`].
    pub concurrency: usize,
    /// Clone cache; safe to lose.
    pub cache_dir: PathBuf,
    /// Network and CPU slots shared by every job of this worker, whatever its scan (see
    /// [`crate::pools`]). They bind once `concurrency` exceeds the CPU slots. Default
    /// [`PoolOptions::default`].
    pub pools: PoolOptions,
    /// Where to serve /healthz, /readyz and /metrics. Default none.
    pub health_listen: Option<SocketAddr>,
    /// On SIGTERM, how long running jobs may finish before they are handed back. Default
    /// [`defaults::GRACE_PERIOD_SECS`] seconds.
    pub grace_period: Duration,
    /// Lease length; heartbeats renew it every third of it. Default
    /// [`defaults::LEASE_SECS`] seconds, at least 2.
    pub lease: Duration,
    /// Name in leases and logs. Default: host name and process id.
    pub worker_id: String,
    /// Protocol version announced to the coordinator. Default
    /// [`fleetscan_proto::PROTOCOL_VERSION`].
    pub protocol_version: u32,
}

/// The defaults of [`Config`], written once: the flags show the same values.
pub mod defaults {
    /// Jobs at once: as many as the network slots ([`crate::pools::PoolOptions`], 8), as in
    /// the embedded scan. A job spends most of its time waiting on the git server, and its CPU
    /// work waits for a CPU slot without holding a connection; behind a WAN link two workers
    /// took 14.3 s for 13 repositories at 2 jobs each and 12.5 s at 8 (BENCHMARKS.md,
    /// "Distributed mode behind the WAN link").
    pub const CONCURRENCY: usize = 8;
    /// Seconds of grace on SIGTERM.
    pub const GRACE_PERIOD_SECS: u64 = 30;
    /// Seconds of a lease.
    pub const LEASE_SECS: u64 = 30;
}

impl Config {
    /// The defaults, for the coordinator at `coordinator`, caching under `cache_dir`.
    pub fn new(coordinator: &str, cache_dir: PathBuf) -> Config {
        Config {
            coordinator: coordinator.into(),
            tls_ca: None,
            token: None,
            concurrency: defaults::CONCURRENCY,
            cache_dir,
            pools: PoolOptions::default(),
            health_listen: None,
            grace_period: Duration::from_secs(defaults::GRACE_PERIOD_SECS),
            lease: Duration::from_secs(defaults::LEASE_SECS),
            worker_id: default_worker_id(),
            protocol_version: fleetscan_proto::PROTOCOL_VERSION,
        }
    }

    /// How to reach the coordinator.
    pub fn target(&self) -> Target<'_> {
        Target {
            url: &self.coordinator,
            token: self.token.as_deref(),
            tls_ca: self.tls_ca.as_deref(),
            timeout: None,
        }
    }

    /// The lease length, at least 2 s.
    pub fn lease(&self) -> Duration {
        self.lease.max(Duration::from_secs(2))
    }
}

/// Host name and process id.
fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}

/// The flags of `fleetscan worker` and `fleetscan-worker`; every flag can also come from the
/// environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connect: Connect,
    /// The worker credential.
    #[command(flatten)]
    pub token: WorkerToken,
    /// Jobs run in parallel (each takes a network slot to fetch, then a CPU slot to scan).
    #[arg(
        long,
        default_value_t = defaults::CONCURRENCY,
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
        default_value_t = defaults::GRACE_PERIOD_SECS,
        value_name = "SECS",
        env = "FLEETSCAN_GRACE_PERIOD"
    )]
    pub grace_period: u64,
    /// Lease length; heartbeats renew it every third of it. A dead worker's jobs run again
    /// after at most this long.
    #[arg(
        long,
        default_value_t = defaults::LEASE_SECS,
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

impl Args {
    /// The library configuration, with the token file read. The error names the flag.
    pub fn config(&self) -> Result<Config, String> {
        let mut c = Config::new(&self.connect.coordinator, self.cache_dir.clone());
        c.tls_ca = self.connect.tls_ca.clone();
        c.token = self.token.resolve()?;
        c.concurrency = self.concurrency;
        c.health_listen = self.health_listen;
        c.grace_period = Duration::from_secs(self.grace_period);
        c.lease = Duration::from_secs(self.lease_secs);
        if let Some(id) = &self.worker_id {
            c.worker_id = id.clone();
        }
        c.protocol_version = self.protocol_version;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flags_map_onto_the_config_and_its_defaults() {
        let file = std::env::temp_dir().join(format!("fleetscan-wtoken-{}", std::process::id()));
        std::fs::write(&file, "w0rker\n").unwrap();
        let cli = Cli::try_parse_from([
            "worker",
            "--coordinator",
            "http://127.0.0.1:1",
            "--cache-dir",
            "/tmp/c",
            "--worker-token-file",
            file.to_str().unwrap(),
            "--worker-id",
            "w7",
        ])
        .unwrap();
        let c = cli.args.config().unwrap();
        let _ = std::fs::remove_file(&file);
        assert_eq!(c.token.as_deref(), Some("w0rker"));
        assert_eq!(c.worker_id, "w7");
        let d = Config::new("http://127.0.0.1:1", "/tmp/c".into());
        assert_eq!(
            (c.concurrency, c.lease, c.grace_period, c.protocol_version),
            (d.concurrency, d.lease, d.grace_period, d.protocol_version)
        );
        assert_eq!(c.target().url, "http://127.0.0.1:1");
    }
}
