//! The `fleetscan.v1` gRPC protocol (see `fleetscan/v1/fleetscan.proto`), the protocol
//! version workers and coordinators check at Hello and Lease, conversions to the core's
//! types, and what every fleetscan process shares on top of it: the client of a coordinator
//! ([`client`], with the token it sends), logging ([`logging`]), the health and metrics
//! listener ([`http`]) and the shutdown signal ([`shutdown`]).
//!
//! The crates depend one way: core <- proto <- {coordinator, worker} <- cli. Re-exporting
//! `tonic` and `prost` here makes every crate build against one version of them.

#![allow(missing_docs)]

pub mod client;
pub mod convert;
pub mod http;
pub mod logging;
pub mod shutdown;
pub mod token;

/// Generated messages, clients and servers of package `fleetscan.v1`.
// One `ResultPart` per outcome against thousands of occurrence batches: boxing the outcome
// variant would save nothing worth the different generated types.
#[allow(clippy::large_enum_variant)]
pub mod v1 {
    tonic::include_proto!("fleetscan.v1");
}

/// Version of the worker protocol. A worker and a coordinator that disagree refuse to work
/// together, so a rolling upgrade never mixes incompatible messages. 2: workers lease jobs
/// through the coordinator and never reach Redis.
pub const PROTOCOL_VERSION: u32 = 2;

/// The encoded file descriptor set, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fleetscan_descriptor.bin"));

pub use prost;
pub use tonic;
