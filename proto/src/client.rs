//! Client side of the protocol, shared by workers and the CLI: one way to reach a coordinator,
//! with a token (each side brings its own, see [`crate::token`]) and optional TLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::v1::coordinator_client::CoordinatorClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::token::AddToken;

/// The metadata key a coordinator sets on an error to say what failed behind it, so that a
/// client blames the right part (see [`REDIS_DOWN`]).
pub const CAUSE: &str = "fleetscan-cause";
/// The [`CAUSE`] of an `unavailable` error that comes from the coordinator's Redis, not from
/// the coordinator.
pub const REDIS_DOWN: &str = "redis";

/// Whether `s` says the coordinator answered but its Redis did not.
pub fn is_redis_down(s: &tonic::Status) -> bool {
    s.metadata().get(CAUSE).is_some_and(|v| v == REDIS_DOWN)
}

/// A channel with the token on every call.
pub type Authed = InterceptedService<Channel, AddToken>;

/// How to reach a coordinator.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// `http://host:port` or `https://host:port`.
    pub url: &'a str,
    /// Bearer token: a client's or a worker's.
    pub token: Option<&'a str>,
    /// CA certificate (PEM) to trust for https, instead of the public roots.
    pub tls_ca: Option<&'a Path>,
    /// Limit of one call until its answer starts (a stream's first message). None: no limit,
    /// for workers, whose Lease calls wait on purpose.
    pub timeout: Option<Duration>,
}

/// How to reach a coordinator: the flags workers and the CLI share.
#[derive(Debug, Clone, clap::Args)]
pub struct Connect {
    /// The coordinator's gRPC URL.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:7700",
        env = "FLEETSCAN_COORDINATOR"
    )]
    pub coordinator: String,
    /// CA certificate (PEM) for an https:// coordinator.
    #[arg(long, value_name = "PEM", env = "FLEETSCAN_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

impl Connect {
    /// The target these flags name, with `token`.
    pub fn target<'a>(&'a self, token: Option<&'a str>) -> Target<'a> {
        Target {
            url: &self.coordinator,
            token,
            tls_ca: self.tls_ca.as_deref(),
            timeout: None,
        }
    }
}

/// A lazily connecting channel: it (re)connects on use, so a coordinator restart only fails
/// the calls made while it is down.
pub fn channel(t: &Target<'_>) -> Result<Authed, String> {
    let mut ep = Endpoint::from_shared(t.url.to_string())
        .map_err(|e| {
            format!(
                "invalid coordinator URL {:?}: {e}: give http://HOST:PORT",
                t.url
            )
        })?
        .connect_timeout(Duration::from_secs(5))
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    if let Some(d) = t.timeout {
        ep = ep.timeout(d);
    }
    if t.url.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        tls = match t.tls_ca {
            Some(p) => {
                let pem = std::fs::read(p)
                    .map_err(|e| format!("cannot read --tls-ca {}: {e}", p.display()))?;
                tls.ca_certificate(Certificate::from_pem(pem))
            }
            None => tls.with_webpki_roots(),
        };
        ep = ep.tls_config(tls).map_err(|e| format!("TLS setup: {e}"))?;
    } else if !t.url.starts_with("http://") {
        return Err(format!(
            "invalid coordinator URL {:?}: give http://HOST:PORT or https://HOST:PORT",
            t.url
        ));
    }
    Ok(InterceptedService::new(
        ep.connect_lazy(),
        AddToken::new(t.token)?,
    ))
}

/// A client of the Coordinator service.
pub fn coordinator(t: &Target<'_>) -> Result<Coordinator, String> {
    Ok(CoordinatorClient::new(channel(t)?)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20))
}

/// A client of the Workers service.
pub fn workers(t: &Target<'_>) -> Result<WorkersClient, String> {
    Ok(WorkersClient::new(channel(t)?).max_encoding_message_size(64 << 20))
}

/// The Workers client type.
pub type WorkersClient = crate::v1::workers_client::WorkersClient<Authed>;
/// The Coordinator client type.
pub type Coordinator = CoordinatorClient<Authed>;
