//! The `fleetscan.v1` gRPC protocol (see `fleetscan/v1/fleetscan.proto`), the protocol
//! version workers and coordinators check at Hello, and conversions to the core's types.

#![allow(missing_docs)]

pub mod convert;

/// Generated messages, clients and servers of package `fleetscan.v1`.
pub mod v1 {
    tonic::include_proto!("fleetscan.v1");
}

/// Version of the worker protocol. A worker and a coordinator that disagree refuse to work
/// together, so a rolling upgrade never mixes incompatible messages.
pub const PROTOCOL_VERSION: u32 = 1;

/// The encoded file descriptor set, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fleetscan_descriptor.bin"));

pub use prost;
pub use tonic;
