//! Fetching and scanning repositories: the blocking half of fleetscan.
//!
//! - [`job::run`] processes one repository (probe, shallow fetch into a bare cache, scan of the
//!   tree at the default branch's head, with retries) and is shared by both ways to run a scan;
//! - [`runner::run_all`] is the embedded mode: a thread pool over a job list.
//!
//! Everything here blocks; async callers use `spawn_blocking` or a dedicated thread.

pub mod cache;
pub mod error;
pub mod git;
pub mod job;
pub mod runner;
pub mod scan;

pub use error::{Kind, RepoError};
pub use job::{Context, Job, JobOptions};
