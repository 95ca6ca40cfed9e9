//! What a scan asks for, checked once: the per-job part every worker needs ([`JobSpec`]) and
//! the defaults both ways of running a scan share.

use serde::{Deserialize, Serialize};

use crate::result::ScanOptions;

/// Budget of one attempt at one repository, seconds, when none is given.
pub const DEFAULT_TIMEOUT_SECS: u32 = 600;
/// Limit for opening a git connection, seconds, when none is given.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u32 = 10;
/// Retries of a repository after a retryable failure, when none is given.
pub const DEFAULT_RETRIES: u32 = 2;

/// What a worker needs to run any job of a scan; the same for every job of the scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Matching and file options.
    pub options: ScanOptions,
    /// Budget of one attempt, seconds. Default [`DEFAULT_TIMEOUT_SECS`].
    pub timeout_secs: u32,
    /// Connect timeout, seconds. Default [`DEFAULT_CONNECT_TIMEOUT_SECS`].
    pub connect_timeout_secs: u32,
}

impl JobSpec {
    /// A job spec for `options` with the default time limits.
    pub fn new(options: ScanOptions) -> JobSpec {
        JobSpec {
            options,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
        }
    }
}
