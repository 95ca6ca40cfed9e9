//! Client side of the protocol, shared by workers and the CLI: one way to reach a coordinator,
//! with the token and optional TLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::v1::coordinator_client::CoordinatorClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::token::AddToken;

/// A channel with the token on every call.
pub type Authed = InterceptedService<Channel, AddToken>;

/// How to reach a coordinator.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// `http://host:port` or `https://host:port`.
    pub url: &'a str,
    /// Shared bearer token.
    pub token: Option<&'a str>,
    /// CA certificate (PEM) to trust for https, instead of the public roots.
    pub tls_ca: Option<&'a Path>,
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
    /// The token.
    #[command(flatten)]
    pub token: crate::token::TokenArgs,
    /// CA certificate (PEM) for an https:// coordinator.
    #[arg(long, value_name = "PEM", env = "FLEETSCAN_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

impl Connect {
    /// The same flags with the token read from --token-file, when given.
    pub fn resolved(&self) -> Result<Connect, String> {
        let mut c = self.clone();
        c.token = crate::token::TokenArgs {
            token: self.token.resolve()?,
            token_file: None,
        };
        Ok(c)
    }

    /// The target these flags name.
    pub fn target(&self) -> Target<'_> {
        Target {
            url: &self.coordinator,
            token: self.token.token.as_deref(),
            tls_ca: self.tls_ca.as_deref(),
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
