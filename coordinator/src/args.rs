//! The coordinator's flags (every one also from the environment), mapped onto the typed
//! [`Config`] that the library takes. Secret files are read here, once, at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use fleetscan_proto::token::{read_secret, resolve, WorkerToken};

use crate::auth::RoleTokens;
use crate::server::{defaults, Config};

/// The flags of `fleetscan coordinator` and `fleetscan-coordinator`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// gRPC address to listen on.
    #[arg(long, default_value = defaults::LISTEN, env = "FLEETSCAN_LISTEN")]
    pub listen: SocketAddr,
    /// Where Redis is.
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Serve Prometheus metrics on http://ADDR/metrics, with /healthz and /readyz (ready while
    /// Redis answers).
    #[arg(long, value_name = "ADDR", env = "FLEETSCAN_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The credentials: one token per role.
    #[command(flatten)]
    pub tokens: Tokens,
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
    /// First retry backoff of a failed job, ms; doubled per attempt, with jitter, at most 60 s.
    #[arg(
        long,
        default_value_t = fleetscan_core::plan::DEFAULT_RETRY_BACKOFF.as_millis() as u64,
        value_name = "MS",
        env = "FLEETSCAN_RETRY_BACKOFF_MS"
    )]
    pub retry_backoff_ms: u64,
    /// Bytes of occurrences (paths and lines) accepted per repository. Workers are given the
    /// same cap: they stop there and report the repository truncated, saying where.
    #[arg(
        long,
        default_value_t = defaults::MAX_RESULT_BYTES,
        value_name = "BYTES",
        env = "FLEETSCAN_MAX_RESULT_BYTES"
    )]
    pub max_result_bytes: usize,
    /// Repositories' results read at once; with --max-result-bytes it bounds the memory that
    /// results take here (worst case about three times their product).
    #[arg(
        long,
        default_value_t = defaults::MAX_CONCURRENT_RESULTS,
        value_name = "N",
        env = "FLEETSCAN_MAX_CONCURRENT_RESULTS"
    )]
    pub max_concurrent_results: usize,
    /// Reports rendered and result exports served at once; more wait. Each holds an outline
    /// of its scan (1 to 2.5 KB a repository) and at most 4 MiB of stored results at a time.
    #[arg(
        long,
        default_value_t = defaults::MAX_CONCURRENT_REPORTS,
        value_name = "N",
        env = "FLEETSCAN_MAX_CONCURRENT_REPORTS"
    )]
    pub max_concurrent_reports: usize,
    /// Hours a finished (completed or cancelled) scan is kept in Redis, with its results; 0
    /// deletes finished scans at the next sweep (every minute).
    #[arg(
        long,
        default_value_t = defaults::RETENTION_HOURS,
        value_name = "HOURS",
        env = "FLEETSCAN_RETENTION_HOURS"
    )]
    pub retention_hours: u64,
    /// Occurrences accepted per repository. Workers are given the same cap: they stop there and
    /// report the repository truncated, with the file and line where they stopped.
    #[arg(
        long,
        default_value_t = defaults::MAX_OCCURRENCES_PER_REPO,
        value_name = "N",
        env = "FLEETSCAN_MAX_OCCURRENCES_PER_REPO"
    )]
    pub max_occurrences_per_repo: u64,
}

impl Args {
    /// The library configuration, with the secret files read. The error names the flag.
    pub fn config(&self) -> Result<Config, String> {
        Ok(Config {
            listen: self.listen,
            redis_url: self.redis.url.clone(),
            redis_password: self.redis.password()?,
            metrics_listen: self.metrics_listen,
            tokens: self.tokens.resolve()?,
            tls: self.tls_cert.clone().zip(self.tls_key.clone()),
            retry_backoff: std::time::Duration::from_millis(self.retry_backoff_ms),
            max_result_bytes: self.max_result_bytes,
            max_concurrent_results: self.max_concurrent_results,
            max_concurrent_reports: self.max_concurrent_reports,
            retention: std::time::Duration::from_secs(self.retention_hours.saturating_mul(3600)),
            max_occurrences_per_repo: self.max_occurrences_per_repo,
        })
    }
}

/// Where the coordinator finds Redis. Workers never do.
#[derive(Debug, Clone, clap::Args)]
pub struct RedisArgs {
    /// Redis URL (redis:// or rediss://, password in the URL).
    #[arg(
        long = "redis",
        value_name = "URL",
        default_value = defaults::REDIS_URL,
        env = "FLEETSCAN_REDIS_URL",
        hide_env_values = true
    )]
    pub url: String,
    /// File holding the Redis password (as mounted from a Kubernetes Secret), instead of a
    /// password in the URL.
    #[arg(long, value_name = "FILE", env = "FLEETSCAN_REDIS_PASSWORD_FILE")]
    pub redis_password_file: Option<std::path::PathBuf>,
}

impl RedisArgs {
    /// The password from --redis-password-file, when given.
    pub fn password(&self) -> Result<Option<String>, String> {
        self.redis_password_file
            .as_deref()
            .map(|p| read_secret("Redis password", p))
            .transpose()
    }
}

/// The coordinator's token flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Tokens {
    /// Token of the clients (the CLI's --token): it opens the Coordinator service only
    /// (submit, read, cancel). Without it, clients need no token.
    #[arg(long, env = "FLEETSCAN_CLIENT_TOKEN", hide_env_values = true)]
    pub client_token: Option<String>,
    /// File holding the client token, instead of --client-token.
    #[arg(
        long,
        value_name = "FILE",
        env = "FLEETSCAN_CLIENT_TOKEN_FILE",
        conflicts_with = "client_token"
    )]
    pub client_token_file: Option<std::path::PathBuf>,
    /// Token of the workers: it opens the Workers service only (lease, renew, release,
    /// report). Without it, workers need no token.
    #[command(flatten)]
    pub worker: WorkerToken,
    /// Replaced by --client-token and --worker-token: one token for both let any client
    /// report results. Refused, with that advice.
    #[arg(long, hide = true, env = "FLEETSCAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Replaced by --client-token-file and --worker-token-file. Refused.
    #[arg(long, hide = true, value_name = "FILE", env = "FLEETSCAN_TOKEN_FILE")]
    pub token_file: Option<std::path::PathBuf>,
}

impl Tokens {
    /// Reads the token files and checks that each role has its own token.
    pub fn resolve(&self) -> Result<RoleTokens, String> {
        if self.token.is_some() || self.token_file.is_some() {
            return Err("--token / --token-file (FLEETSCAN_TOKEN, FLEETSCAN_TOKEN_FILE) no longer configure a coordinator: \
                one token for clients and workers let any client report results. Give --client-token-file and \
                --worker-token-file (or --client-token and --worker-token), and the workers --worker-token-file"
                .into());
        }
        let t = RoleTokens {
            client: resolve("client token", &self.client_token, &self.client_token_file)?,
            worker: self.worker.resolve()?,
        };
        if t.client.is_some() && t.client == t.worker {
            return Err("the client token and the worker token are the same: give each role its own (openssl rand -hex 32)".into());
        }
        Ok(t)
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
        let dir = tempfile::tempdir().unwrap();
        let secret = |name: &str, v: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, v).unwrap();
            p.to_string_lossy().into_owned()
        };
        let (c, w, r) = (
            secret("c", "ctok\n"),
            secret("w", "wtok\n"),
            secret("r", "rpw\n"),
        );
        let cli = Cli::try_parse_from([
            "coordinator",
            "--client-token-file",
            &c,
            "--worker-token-file",
            &w,
            "--redis-password-file",
            &r,
        ])
        .unwrap();
        let config = cli.args.config().unwrap();
        assert_eq!(config.tokens.client.as_deref(), Some("ctok"));
        assert_eq!(config.tokens.worker.as_deref(), Some("wtok"));
        assert_eq!(config.redis_password.as_deref(), Some("rpw"));
        let d = Config::default();
        assert_eq!(
            (
                config.listen,
                &config.redis_url,
                config.retry_backoff,
                config.retention
            ),
            (d.listen, &d.redis_url, d.retry_backoff, d.retention)
        );
    }

    #[test]
    fn one_token_for_both_roles_is_refused() {
        let same = Tokens {
            client_token: Some("t".into()),
            worker: WorkerToken {
                worker_token: Some("t".into()),
                worker_token_file: None,
            },
            ..Tokens::default()
        };
        assert!(same.resolve().unwrap_err().contains("the same"));
        let old = Tokens {
            token: Some("t".into()),
            ..Tokens::default()
        };
        assert!(old.resolve().unwrap_err().contains("--client-token"));
    }
}
