//! The `onsite.v1` gRPC contract and every conversion between wire types and `onsite-core`.
//!
//! The `.proto` files under `proto/` are the source of truth. Generated types live in [`v1`];
//! [`convert`] turns wire values into validated domain values (naming the offending field on
//! failure) and back. Nothing outside this crate and the server's handlers sees a wire type.

pub mod convert;
pub mod signoff;

/// Generated code of package `onsite.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("onsite.v1");
}

/// The encoded file descriptor set of the contract, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/onsite_descriptor.bin"));
