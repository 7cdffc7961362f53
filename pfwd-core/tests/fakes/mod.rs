//! Test doubles on loopback for the fake-gateway tests.

pub mod pmp;
pub mod ssdp;
