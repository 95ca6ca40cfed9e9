//! The fleetscan coordinator: a gRPC server that shards scans into jobs queued in Redis,
//! receives results from workers and renders reports. Redis holds all shared state, so a
//! coordinator can restart at any time and several can serve one Redis.
//!
//! - [`queue`]: the Redis job queue; workers reach it only through the Workers service;
//! - [`store`]: scans, jobs, results and events in Redis;
//! - [`spec`]: checking submitted scans;
//! - `report`: reading a scan's results and rendering its reports in bounded memory;
//! - [`server`]: [`server::serve`], the server as a library function.
#![deny(missing_docs)]

pub mod args;
pub mod auth;
pub mod queue;
mod report;
pub mod server;
pub mod service;
pub mod spec;
pub mod state;
pub mod store;
pub mod workers;

pub use args::Args;
pub use server::{serve, Config};
