//! Fetching and scanning repositories: the blocking half of fleetscan.
//!
//! - [`job::run`] processes one repository (probe, shallow fetch into a bare cache, scan of the
//!   tree at the default branch's head, with retries) and is shared by both ways to run a scan;
//! - [`history`] does the same at several points in time, each re-reading only what changed;
//! - [`runner::run_all`] is the embedded mode: a thread pool over a job list;
//! - [`remote`] is the distributed worker: it leases jobs from a coordinator over gRPC, runs
//!   the same [`job::run`] on blocking threads and streams results back.
//!
//! Everything but [`remote`] blocks; async callers use `spawn_blocking` or a dedicated thread.

pub mod cache;
pub mod error;
pub mod facts;
pub mod git;
pub mod history;
pub mod job;
pub mod net;
pub mod pools;
pub mod process;
pub mod remote;
pub mod runner;
pub mod scan;
pub mod tree;

pub use error::{InputError, Kind, RepoError};
pub use job::{Context, Job, JobOptions};
