//! The optional shared bearer token. Without a configured token every call passes; with one,
//! a call without it or with another gets `unauthenticated`, the same answer in both cases.

use tonic::service::Interceptor;
use tonic::{Request, Status};

pub use fleetscan_proto::token::TokenArgs;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let mut check = TokenCheck::new(Some("s3cret"));
        use fleetscan_proto::token::AddToken;
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
    }
}
