//! The optional shared bearer token. Without a configured token every call passes; with one,
//! a call without it or with another gets `unauthenticated`, the same answer in both cases.

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// The token flags, shared by the coordinator, workers and the CLI.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TokenArgs {
    /// Shared bearer token of the coordinator: every gRPC call carries it (health checks
    /// excepted).
    #[arg(long, env = "FLEETSCAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the token (as mounted from a Kubernetes Secret), instead of --token.
    #[arg(
        long,
        value_name = "FILE",
        env = "FLEETSCAN_TOKEN_FILE",
        conflicts_with = "token"
    )]
    pub token_file: Option<std::path::PathBuf>,
}

impl TokenArgs {
    /// The token, read from --token-file when that is given.
    pub fn resolve(&self) -> Result<Option<String>, String> {
        match &self.token_file {
            Some(p) => crate::queue::read_secret("token", p).map(Some),
            None => Ok(self.token.clone()),
        }
    }
}

/// Checks `authorization: Bearer TOKEN` on every call.
#[derive(Clone)]
pub struct TokenCheck {
    expected: Option<Vec<u8>>,
}

impl TokenCheck {
    /// A check for `token`; `None` or an empty token lets everything through.
    pub fn new(token: Option<&str>) -> TokenCheck {
        TokenCheck {
            expected: token
                .filter(|t| !t.is_empty())
                .map(|t| format!("Bearer {t}").into_bytes()),
        }
    }
}

/// Compares without stopping at the first difference, so timing reveals nothing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Interceptor for TokenCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(req);
        };
        match req.metadata().get("authorization") {
            Some(v) if same(v.as_bytes(), expected) => Ok(req),
            _ => Err(Status::unauthenticated(
                "missing or wrong token: give the coordinator's token with --token or FLEETSCAN_TOKEN",
            )),
        }
    }
}

/// Adds the token to outgoing calls (client side).
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
    fn tokens() {
        let mut check = TokenCheck::new(Some("s3cret"));
        let mut add = AddToken::new(Some("s3cret")).unwrap();
        assert!(check.call(add.call(Request::new(())).unwrap()).is_ok());
        let mut wrong = AddToken::new(Some("other")).unwrap();
        let e = check
            .call(wrong.call(Request::new(())).unwrap())
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        let e = check.call(Request::new(())).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        assert!(TokenCheck::new(None).call(Request::new(())).is_ok());
        assert!(AddToken::new(Some("a\nb")).is_err());
    }
}
