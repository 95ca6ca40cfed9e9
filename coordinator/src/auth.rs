//! Credentials by role. Clients and workers each have their own bearer token, and each token
//! opens one service: the client token the Coordinator service (submit, read, cancel), the
//! worker token the Workers service (lease, renew, release, report). So a user of the command
//! line cannot report results, and a worker, which fetches untrusted repositories, cannot
//! submit, read or cancel scans. A role without a configured token is open. Where the cluster
//! has a certificate authority, mutual TLS between workers and coordinators is the stronger
//! form (deploy/README.md, "Credentials").

use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The command line: submit, read, cancel.
    Client,
    /// A worker: lease, renew, release, report.
    Worker,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Worker => "worker",
        }
    }

    /// Where a caller of this role gives its token.
    fn flag(self) -> &'static str {
        match self {
            Role::Client => "--token or FLEETSCAN_TOKEN",
            Role::Worker => "--worker-token or FLEETSCAN_WORKER_TOKEN",
        }
    }
}

/// The resolved tokens.
#[derive(Debug, Clone, Default)]
pub struct RoleTokens {
    /// The client token.
    pub client: Option<String>,
    /// The worker token.
    pub worker: Option<String>,
}

/// Checks `authorization: Bearer TOKEN` on every call of one service.
#[derive(Clone)]
pub struct RoleCheck {
    role: Role,
    expected: Option<Vec<u8>>,
    /// The other role's token: recognised, to say which token the caller needs.
    other: Option<Vec<u8>>,
}

fn bearer(t: &Option<String>) -> Option<Vec<u8>> {
    t.as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| format!("Bearer {t}").into_bytes())
}

impl RoleCheck {
    /// The check of the service `role` may call.
    pub fn new(role: Role, tokens: &RoleTokens) -> RoleCheck {
        let (mine, other) = match role {
            Role::Client => (&tokens.client, &tokens.worker),
            Role::Worker => (&tokens.worker, &tokens.client),
        };
        RoleCheck {
            role,
            expected: bearer(mine),
            other: bearer(other),
        }
    }
}

/// Compares without stopping at the first difference, so timing reveals nothing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Interceptor for RoleCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(req);
        };
        let given = req.metadata().get("authorization").map(|v| v.as_bytes());
        match given {
            Some(v) if same(v, expected) => Ok(req),
            Some(v) if self.other.as_deref().is_some_and(|o| same(v, o)) => {
                let other = match self.role {
                    Role::Client => Role::Worker,
                    Role::Worker => Role::Client,
                };
                Err(Status::permission_denied(format!(
                    "a {} token cannot make {} calls: give the {} token with {}",
                    other.name(),
                    self.role.name(),
                    self.role.name(),
                    self.role.flag()
                )))
            }
            _ => Err(Status::unauthenticated(format!(
                "missing or wrong token: give the coordinator's {} token with {}",
                self.role.name(),
                self.role.flag()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetscan_proto::token::AddToken;

    fn call(check: &mut RoleCheck, token: Option<&str>) -> Result<(), tonic::Code> {
        let req = AddToken::new(token)
            .unwrap()
            .call(Request::new(()))
            .unwrap();
        check.call(req).map(|_| ()).map_err(|s| s.code())
    }

    #[test]
    fn each_token_opens_its_own_service_only() {
        let tokens = RoleTokens {
            client: Some("c".into()),
            worker: Some("w".into()),
        };
        let mut client = RoleCheck::new(Role::Client, &tokens);
        let mut worker = RoleCheck::new(Role::Worker, &tokens);
        assert_eq!(call(&mut client, Some("c")), Ok(()));
        assert_eq!(call(&mut worker, Some("w")), Ok(()));
        assert_eq!(
            call(&mut client, Some("w")),
            Err(tonic::Code::PermissionDenied)
        );
        assert_eq!(
            call(&mut worker, Some("c")),
            Err(tonic::Code::PermissionDenied)
        );
        for t in [None, Some("x")] {
            assert_eq!(call(&mut client, t), Err(tonic::Code::Unauthenticated));
            assert_eq!(call(&mut worker, t), Err(tonic::Code::Unauthenticated));
        }
        let open = RoleTokens::default();
        assert_eq!(call(&mut RoleCheck::new(Role::Worker, &open), None), Ok(()));
    }
}
