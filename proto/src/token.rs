//! The bearer token a client or worker sends, and reading secrets from files (as Kubernetes
//! mounts Secrets). The coordinator's check of it lives in the coordinator.

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Reads a secret from a file: surrounding white space (the final newline) is not part of it.
pub fn read_secret(what: &str, path: &std::path::Path) -> Result<String, String> {
    let s = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))?;
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("the {what} file {} is empty", path.display()));
    }
    Ok(s.to_string())
}

/// The credential of the client commands (`submit`, `watch`, `status`, `list`, `cancel`,
/// `report`): it can submit, read and cancel scans, nothing else.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientToken {
    /// The coordinator's client token (its --client-token): every call carries it. It can
    /// submit, read and cancel scans; it cannot lease jobs or report results.
    #[arg(long, env = "FLEETSCAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the client token (as mounted from a Kubernetes Secret), instead of --token.
    #[arg(
        long,
        value_name = "FILE",
        env = "FLEETSCAN_TOKEN_FILE",
        conflicts_with = "token"
    )]
    pub token_file: Option<std::path::PathBuf>,
}

impl ClientToken {
    /// The token, read from --token-file when that is given.
    pub fn resolve(&self) -> Result<Option<String>, String> {
        resolve("client token", &self.token, &self.token_file)
    }
}

/// The credential of workers: it can lease, renew, release and report, nothing else. The
/// coordinator takes the same flags to know it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WorkerToken {
    /// The workers' token: workers send it, and the coordinator accepts it for the Workers
    /// service only (lease, renew, release, report). It cannot submit, read or cancel scans.
    #[arg(long, env = "FLEETSCAN_WORKER_TOKEN", hide_env_values = true)]
    pub worker_token: Option<String>,
    /// File holding the workers' token (as mounted from a Kubernetes Secret), instead of
    /// --worker-token.
    #[arg(
        long,
        value_name = "FILE",
        env = "FLEETSCAN_WORKER_TOKEN_FILE",
        conflicts_with = "worker_token"
    )]
    pub worker_token_file: Option<std::path::PathBuf>,
}

impl WorkerToken {
    /// The token, read from --worker-token-file when that is given.
    pub fn resolve(&self) -> Result<Option<String>, String> {
        resolve("worker token", &self.worker_token, &self.worker_token_file)
    }
}

/// `value`, or the contents of `file` when that is given; an empty value is no token.
pub fn resolve(
    what: &str,
    value: &Option<String>,
    file: &Option<std::path::PathBuf>,
) -> Result<Option<String>, String> {
    match file {
        Some(p) => read_secret(what, p).map(Some),
        None => Ok(value.clone().filter(|t| !t.is_empty())),
    }
}

/// Adds the token to outgoing calls.
#[derive(Clone)]
pub struct AddToken {
    value: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl AddToken {
    /// Sends `token` when given. Fails when the token cannot be a header value.
    pub fn new(token: Option<&str>) -> Result<AddToken, String> {
        let value = match token.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| "the token holds characters a header cannot carry".to_string())?,
            ),
        };
        Ok(AddToken { value })
    }
}

impl Interceptor for AddToken {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.value {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_goes_in_the_authorization_header() {
        let mut add = AddToken::new(Some("s3cret")).unwrap();
        let req = add.call(Request::new(())).unwrap();
        assert_eq!(
            req.metadata().get("authorization").unwrap(),
            "Bearer s3cret"
        );
        let req = AddToken::new(None).unwrap().call(Request::new(())).unwrap();
        assert!(req.metadata().get("authorization").is_none());
        assert!(AddToken::new(Some("a\nb")).is_err());
    }
}
