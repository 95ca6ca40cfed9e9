//! Typed errors of fetching and scanning, and the one place that decides what is retried.

use thiserror::Error as ThisError;

/// What went wrong with one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The server says the repository does not exist (or is not exported).
    NotFound,
    /// The host cannot be reached or dropped the connection.
    Unreachable,
    /// The repository took longer than its time budget.
    Timeout,
    /// The local clone cache is unusable; it is rebuilt on the next attempt.
    Cache,
    /// The scan was cancelled.
    Cancelled,
    /// The remote's HEAD names no existing branch and there is no main or master.
    NoDefaultBranch,
    /// Anything else git reported.
    Other,
}

/// An error with one repository.
#[derive(Debug, Clone, ThisError)]
#[error("{message}")]
pub struct RepoError {
    /// The class, which decides retries.
    pub kind: Kind,
    /// A one-line reason for reports.
    pub message: String,
}

impl RepoError {
    /// An error of `kind`.
    pub fn new(kind: Kind, message: impl Into<String>) -> RepoError {
        RepoError {
            kind,
            message: message.into(),
        }
    }

    /// Whether another attempt may succeed. Network trouble and timeouts are retried; a
    /// missing repository or a cancelled scan is final.
    pub fn retryable(&self) -> bool {
        matches!(self.kind, Kind::Unreachable | Kind::Timeout | Kind::Cache)
    }

    /// An error reading the local clone cache: whatever libgit2 says ("object not found",
    /// "invalid distance too far back"), the clone on disk is damaged and must be fetched again.
    pub fn damaged_cache(context: &str, e: &git2::Error) -> RepoError {
        RepoError::new(
            Kind::Cache,
            format!("damaged clone cache ({context}: {})", e.message().trim()),
        )
    }

    /// Classifies a git2 error by its class and message; libgit2 gives no finer codes for
    /// transport failures.
    pub fn from_git(context: &str, e: &git2::Error) -> RepoError {
        let msg = e.message().trim().to_string();
        let lower = msg.to_lowercase();
        // The local object database, read while negotiating: its "object not found" is about
        // the cache, not the remote repository.
        let local = matches!(
            e.class(),
            git2::ErrorClass::Odb | git2::ErrorClass::Zlib | git2::ErrorClass::Object
        );
        if lower.contains("invalid packet line") {
            // Over git:// the shallow lines are filtered out (see `net`); over http(s) they
            // cannot be, and this is by far the likeliest cause.
            return RepoError::new(
                Kind::Other,
                format!(
                    "cannot read the server's ref advertisement ({context}: {msg}): the server's \
                     repository is probably itself shallow (a mirror made from shallow clones), \
                     which libgit2 cannot fetch from over http(s); serve a full clone \
                     (`git fetch --unshallow` in the mirror) or fetch it over git://"
                ),
            );
        }
        let kind = if local {
            Kind::Cache
        } else if lower.contains("no such repository")
            || lower.contains("not exported")
            || lower.contains("not found")
            || lower.contains("404")
            || lower.contains("does not appear to be a git repository")
        {
            Kind::NotFound
        } else if lower.contains("timed out") || lower.contains("timeout") {
            Kind::Timeout
        } else if lower.contains("user cancelled") || e.code() == git2::ErrorCode::User {
            Kind::Cancelled
        } else if matches!(
            e.class(),
            git2::ErrorClass::Net
                | git2::ErrorClass::Os
                | git2::ErrorClass::Http
                | git2::ErrorClass::Ssl
        ) || lower.contains("connection")
            || lower.contains("early eof")
            || lower.contains("failed to resolve")
        {
            Kind::Unreachable
        } else if matches!(
            e.class(),
            git2::ErrorClass::Odb | git2::ErrorClass::Repository
        ) {
            Kind::Cache
        } else {
            Kind::Other
        };
        let what = match kind {
            Kind::NotFound => "repository not found",
            Kind::Unreachable => "unreachable",
            Kind::Timeout => "timed out",
            Kind::Cancelled => "cancelled",
            Kind::NoDefaultBranch => "no default branch",
            Kind::Cache => "damaged clone cache",
            Kind::Other => "git error",
        };
        RepoError::new(kind, format!("{what} ({context}: {msg})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_decisions() {
        let mk = |class, msg: &str| {
            RepoError::from_git(
                "fetch",
                &git2::Error::new(git2::ErrorCode::GenericError, class, msg),
            )
        };
        assert_eq!(
            mk(
                git2::ErrorClass::Net,
                "remote error: no such repository: /x"
            )
            .kind,
            Kind::NotFound
        );
        assert!(!mk(
            git2::ErrorClass::Net,
            "remote error: access denied or repository not exported: /x"
        )
        .retryable());
        assert!(mk(
            git2::ErrorClass::Os,
            "failed to connect to 127.0.0.1: Connection refused"
        )
        .retryable());
        assert!(mk(git2::ErrorClass::Net, "early EOF").retryable());
        assert!(
            mk(git2::ErrorClass::Http, "unexpected http status code: 404").kind == Kind::NotFound
        );
        let shallow = mk(git2::ErrorClass::Net, "invalid packet line");
        assert!(
            !shallow.retryable() && shallow.message.contains("shallow"),
            "{shallow}"
        );
        assert_eq!(
            mk(git2::ErrorClass::Odb, "object not found - no match for id").kind,
            Kind::Cache
        );
        assert!(!RepoError::new(Kind::Cancelled, "x").retryable());
        assert!(RepoError::new(Kind::Timeout, "x").retryable());
    }
}

/// An error the user caused and can fix (a flag, a file, a token, a protocol mismatch): the
/// binaries exit with code 2 for it, so a misconfigured worker does not look like a crash.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);
