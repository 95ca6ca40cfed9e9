//! Job and scan states. Rust works with the enums; Redis and the queue scripts hold their
//! names, and those names are made here only: [`lua_prelude`] hands them to every script as
//! the tables `J` and `S`, so no script spells a state itself.

use fleetscan_core::result::RepoStatus;
use fleetscan_proto::v1;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting in the ready list.
    Queued,
    /// Leased to a worker.
    Running,
    /// Failed; waiting out its backoff before the next attempt.
    Retry,
    /// Scanned; results stored.
    Scanned,
    /// Deliberately not scanned; result stored.
    Skipped,
    /// Failed for good; in the dead-letter log.
    Dead,
    /// Its scan was cancelled.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Running,
        JobState::Retry,
        JobState::Scanned,
        JobState::Skipped,
        JobState::Dead,
        JobState::Cancelled,
    ];

    /// The name Redis holds.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Retry => "retry",
            JobState::Scanned => "scanned",
            JobState::Skipped => "skipped",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state named `s`, as Redis holds it.
    pub fn from_name(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|j| j.name() == s)
    }
}

impl From<JobState> for v1::JobState {
    fn from(s: JobState) -> v1::JobState {
        match s {
            JobState::Queued => v1::JobState::Queued,
            JobState::Running => v1::JobState::Running,
            JobState::Retry => v1::JobState::Retry,
            JobState::Scanned => v1::JobState::Scanned,
            JobState::Skipped => v1::JobState::Skipped,
            JobState::Dead => v1::JobState::Dead,
            JobState::Cancelled => v1::JobState::Cancelled,
        }
    }
}

/// Where a scan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScanState {
    /// Jobs are queued or running.
    Running,
    /// Every job ended.
    Completed,
    /// Stopped by a user.
    Cancelled,
}

impl ScanState {
    /// Every state.
    pub const ALL: [ScanState; 3] = [
        ScanState::Running,
        ScanState::Completed,
        ScanState::Cancelled,
    ];

    /// The name Redis holds.
    pub fn name(self) -> &'static str {
        match self {
            ScanState::Running => "running",
            ScanState::Completed => "completed",
            ScanState::Cancelled => "cancelled",
        }
    }

    /// The state named `s`, as Redis holds it.
    pub fn from_name(s: &str) -> Option<ScanState> {
        ScanState::ALL.into_iter().find(|j| j.name() == s)
    }
}

impl From<ScanState> for v1::ScanState {
    fn from(s: ScanState) -> v1::ScanState {
        match s {
            ScanState::Running => v1::ScanState::Running,
            ScanState::Completed => v1::ScanState::Completed,
            ScanState::Cancelled => v1::ScanState::Cancelled,
        }
    }
}

/// How a job ended, as a worker reported it: the status the commit script is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending(pub RepoStatus);

impl Ending {
    /// Its name in the commit script: the job state it leads to, or `FAILED`, which the script
    /// turns into a retry or a dead job.
    pub fn name(self) -> &'static str {
        match self.0 {
            RepoStatus::Scanned => JobState::Scanned.name(),
            RepoStatus::Skipped => JobState::Skipped.name(),
            RepoStatus::Failed => FAILED,
        }
    }
}

/// A failed repository's status, as a stored result (`RepoResult`, JSON) spells it.
const FAILED: &str = "failed";

/// The Lua that gives every queue script the names above.
pub fn lua_prelude() -> String {
    let table = |pairs: Vec<&str>| {
        pairs
            .iter()
            .map(|n| format!("{n} = '{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "local J = {{ {} }}\nlocal S = {{ {} }}\nlocal FAILED = '{FAILED}'\n",
        table(JobState::ALL.iter().map(|s| s.name()).collect()),
        table(ScanState::ALL.iter().map(|s| s.name()).collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_stored_result_status() {
        for s in JobState::ALL {
            assert_eq!(JobState::from_name(s.name()), Some(s));
        }
        for s in ScanState::ALL {
            assert_eq!(ScanState::from_name(s.name()), Some(s));
        }
        assert_eq!(JobState::from_name("nonsense"), None);
        let json = serde_json::to_string(&RepoStatus::Failed).unwrap();
        assert_eq!(json, format!("\"{FAILED}\""));
        let lua = lua_prelude();
        assert!(lua.contains("local J = { queued = 'queued'"), "{lua}");
        assert!(lua.contains("cancelled = 'cancelled' }"), "{lua}");
    }
}
