//! # pfwd-core
//!
//! Make a server on a home network reachable from the internet: ask the
//! router to forward a port (PCP, NAT-PMP or UPnP-IGD), and get back exactly
//! what it granted.
//!
//! The typical job: a Raspberry Pi at 192.168.1.4 runs a web server on port
//! 80, and the router should forward TCP port 80 from the internet to it.
//!
//! Three methods, each a [`Forwarder`]: [`Pcp`] (RFC 6887, falls back to
//! NAT-PMP by itself), [`NatPmp`] (RFC 6886) and [`Upnp`] (UPnP-IGD). The
//! NAT-PMP and PCP codecs are in [`wire`], free of any I/O.
//!
//! ```no_run
//! use std::time::Duration;
//! use pfwd_core::{Forwarder, MappingRequest, Protocol, Upnp};
//!
//! # async fn demo() -> pfwd_core::Result<()> {
//! let router = Upnp::discover().await?;
//! let request = MappingRequest::builder(Protocol::Tcp, 80)
//!     .internal_ip("192.168.1.4".parse::<std::net::Ipv4Addr>().unwrap())
//!     .lease(Duration::from_secs(3600))
//!     .description("web server")
//!     .build()?;
//! let mapping = router.map(&request).await?;
//! println!("the web server answers at http://{}", mapping.external());
//! // ... later: renew with router.map(&mapping.renewal()), delete with:
//! router.unmap(&mapping).await?;
//! # Ok(()) }
//! ```
//!
//! Every failure is an [`Error`] whose message says what to do next, and
//! whose fields (method, gateway code, holder of a conflicting port) can be
//! matched on.
//!
//! # Layers
//!
//! Read the crate bottom-up; each layer uses only those below it:
//!
//! 1. [`wire`]: the NAT-PMP and PCP codecs, bytes in, values out; no I/O.
//! 2. The model: [`model`] (protocol, method, lease, request, mapping and
//!    its JSON, warnings, [`Invalid`] input), [`services`] (ports by name,
//!    with their risks), [`defaults`], [`parse`] (what people type),
//!    [`record`] and [`state`] (mappings on disk, shared by every language),
//!    [`target`] (what to forward, as typed, into requests).
//! 3. [`code`] (error kinds, the routers' result codes) and the guide's data
//!    ([`guide`], [`gateway`]'s [`GatewayInfo`]).
//! 4. [`error`]: [`Error`], `Clone` and serialisable.
//! 5. [`forwarder`] and [`backend`]: one [`Forwarder`] per method.
//! 6. [`auto`] (the automatic client: probe all, pick the best, the guide
//!    otherwise) and [`lease`] (the keeper).
//! 7. `blocking` (feature `blocking`): the synchronous API on one
//!    process-wide runtime, which the Python package and the C library
//!    mirror.
//!
//! Everything that does I/O needs the `runtime` feature (on by default);
//! without it the crate is the model, the errors, the guide and the codecs.
#![forbid(unsafe_code)]

#[cfg(feature = "runtime")]
pub mod auto;
#[cfg(feature = "runtime")]
pub mod backend;
#[cfg(feature = "blocking")]
pub mod blocking;
pub mod check;
pub mod code;
pub mod defaults;
pub mod error;
pub mod forwarder;
pub mod gateway;
pub mod guide;
#[cfg(feature = "runtime")]
pub mod lease;
pub mod mapping;
pub mod model;
pub mod parse;
pub mod record;
pub mod services;
pub mod state;
#[cfg(feature = "runtime")]
mod sync;
pub mod target;
pub mod wire;

#[cfg(feature = "runtime")]
pub use auto::{
    Client, ClientOptions, Discovery, Ipv6Status, MethodStatus, Probe, forward, forward_with,
};
#[cfg(feature = "runtime")]
pub use backend::{
    PmpOptions, manual::Manual, natpmp::NatPmp, pcp::Pcp, upnp::Upnp, upnp::UpnpOptions,
};
pub use error::{Error, ErrorKind, GatewayCode, Holder, Result, UpnpCode};
pub use forwarder::{BoxFuture, Forwarder, Presence};
pub use gateway::{
    GatewayInfo, Ipv4Net, Ipv6Gateway, Ipv6Unavailable, default_gateway, default_ipv6_gateway,
};
pub use guide::{Instructions, RouterInfo};
pub use mapping::MAX_DESCRIPTION_LEN;
pub use model::{
    DEFAULT_LEASE, ExternalPort, Family, GatewayMapping, Invalid, Lease, Mapping, MappingRequest,
    MappingRequestBuilder, Method, MethodState, Protocol, Warning, WarningKind,
};
pub use record::Record;
pub use services::{Service, parse_port};
pub use state::StateDir;

/// The README's Rust example, compiled as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
