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
//! automatic [`Client`] (and the one call [`forward`]) probes all three and
//! uses the best that answers; when none can make the mapping it answers
//! with [`Error::Manual`], the guide a person follows on the router. The
//! NAT-PMP and PCP codecs are in [`wire`], free of any I/O.
//!
//! # Examples
//!
//! A tour of what pfwd does before and after it talks to a router. Nothing
//! here touches the network: what a person types becomes checked requests,
//! a granted mapping goes to JSON and back, a router that cannot be asked
//! gets a written guide, and the wire codecs turn values into bytes.
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddr};
//! use std::time::{Duration, Instant};
//! use pfwd_core::guide::GuideContext;
//! use pfwd_core::target::{Names, Target};
//! use pfwd_core::wire::natpmp;
//! use pfwd_core::{
//!     ErrorKind, GatewayInfo, Instructions, Lease, Mapping, MappingRequest, Method,
//!     MethodState, Protocol, RouterInfo,
//! };
//!
//! // 1. What a person types (`pfwd map http --to 192.168.1.4`), checked and
//! //    turned into one request per protocol.
//! let lease = Lease::Finite(Duration::from_secs(3600));
//! let web = Target::parse(Names::FLAGS, "http", Some("192.168.1.4"), None, None, lease, None)?;
//! let requests = web.requests()?;
//! assert_eq!(requests.len(), 1);
//! assert_eq!(requests[0].protocol(), Protocol::Tcp);
//! assert_eq!(requests[0].internal_port(), 80);
//! assert_eq!(requests[0].description(), "pfwd http");
//!
//! // The same request from Rust, with the builder.
//! let request = MappingRequest::builder(Protocol::Tcp, 80)
//!     .internal_ip(Ipv4Addr::new(192, 168, 1, 4))
//!     .lease(Duration::from_secs(3600))
//!     .description("pfwd http")
//!     .build()?;
//! assert_eq!(request, requests[0]);
//!
//! // 2. Bad input fails before anything is sent, and says what to write.
//! let err = pfwd_core::Error::from(MappingRequest::builder(Protocol::Tcp, 0).build().unwrap_err());
//! assert_eq!(err.kind(), ErrorKind::InvalidRequest);
//! assert!(err.to_string().contains("give the port your server listens on"));
//!
//! // 3. What a router granted: a `Mapping`, which goes to JSON and back so
//! //    that another process (or language) can renew or delete it.
//! let mapping = Mapping::new(
//!     Method::NatPmp,
//!     Protocol::Tcp,
//!     Ipv4Addr::new(192, 168, 1, 1),
//!     "203.0.113.7:80".parse::<SocketAddr>()?,
//!     "192.168.1.4:80".parse::<SocketAddr>()?,
//!     Lease::Finite(Duration::from_secs(3600)),
//!     Instant::now(),
//!     "pfwd http",
//!     MethodState::NatPmp { epoch: 1200, generation: 0 },
//! );
//! let json = serde_json::to_string(&mapping)?;
//! let back: Mapping = serde_json::from_str(&json)?;
//! assert_eq!(back.external(), mapping.external());
//! assert_eq!(back.renewal().external_port(), Some(80));
//!
//! // 4. When no method can make it: the guide, for the router pfwd found.
//! let context = GuideContext {
//!     gateway: Some(GatewayInfo {
//!         interface: Some("eth0".into()),
//!         gateway: Ipv4Addr::new(192, 168, 1, 1),
//!         local: Ipv4Addr::new(192, 168, 1, 4),
//!         lan: None,
//!     }),
//!     router: Some(RouterInfo {
//!         manufacturer: Some("AVM Berlin".into()),
//!         model_name: Some("FRITZ!Box 7590".into()),
//!         ..RouterInfo::default()
//!     }),
//!     external_address: Some(Ipv4Addr::new(203, 0, 113, 7)),
//!     ..GuideContext::default()
//! };
//! let guide = Instructions::build(&context, &[Protocol::Tcp], 80, None, 80);
//! assert_eq!(guide.rule_lines(), ["TCP port 80 -> 192.168.1.4:80"]);
//! assert_eq!(guide.router.vendor, "AVM FRITZ!Box");
//! assert!(guide.to_text().contains("Port Sharing"));
//!
//! // 5. The codecs: a NAT-PMP mapping request as it goes on the wire.
//! let bytes = natpmp::Request::Map {
//!     protocol: natpmp::MapProtocol::Tcp,
//!     internal_port: 80,
//!     external_port: 80,
//!     lifetime: 3600,
//! }
//! .encode();
//! assert_eq!(bytes, [0, 2, 0, 0, 0, 80, 0, 80, 0, 0, 0x0e, 0x10]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! And with a router (the `runtime` feature, on by default): ask it, renew,
//! delete. This one is compiled, not run, as it needs a router:
//!
//! ```no_run
//! # #[cfg(feature = "runtime")]
//! # async fn demo() -> pfwd_core::Result<()> {
//! use std::time::Duration;
//! use pfwd_core::{Error, Forwarder, MappingRequest, Protocol, Upnp};
//!
//! let router = Upnp::discover().await?;
//! let request = MappingRequest::builder(Protocol::Tcp, 80)
//!     .internal_ip(std::net::Ipv4Addr::new(192, 168, 1, 4))
//!     .lease(Duration::from_secs(3600))
//!     .description("web server")
//!     .build()?;
//! let mapping = router.map(&request).await?;
//! println!("the web server answers at http://{}", mapping.external());
//! // ... later: renew with router.map(&mapping.renewal()), delete with:
//! router.unmap(&mapping).await?;
//!
//! // Or let pfwd pick the method, and get the guide when none works:
//! match pfwd_core::forward(&request).await {
//!     Ok((client, mapping)) => client.unmap(&mapping).await?,
//!     Err(Error::Manual { instructions }) => print!("{}", instructions.to_text()),
//!     Err(e) => return Err(e),
//! }
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
//! 7. [`blocking`] (feature `blocking`): the synchronous API on one
//!    process-wide runtime, which the Python package and the C library
//!    mirror.
//!
//! # Features
//!
//! - `runtime` (on by default): everything that does I/O, on tokio: the
//!   backends ([`Pcp`], [`NatPmp`], [`Upnp`], [`Manual`]), the automatic
//!   [`Client`] and [`forward`], the lease keeper ([`lease`]) and the check
//!   from outside ([`check::check`]). Without it the crate is the model, the
//!   errors, the guide and the codecs, with no I/O at all.
//! - `blocking`: the synchronous API ([`blocking`]), on one process-wide
//!   runtime (implies `runtime`).
//! - `prober`: the outside prober's server (`check::prober`, `pfwd
//!   probe-server`; implies `runtime`).
//!
//! An item that needs a feature says so on docs.rs.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a feature its items are missing, and a link to one would not
// resolve: it leads to the section above instead.
#![cfg_attr(
    not(feature = "runtime"),
    doc = " \n [`auto`]: crate#features\n [`backend`]: crate#features\n [`lease`]: crate#features\
           \n [`Client`]: crate#features\n [`forward`]: crate#features\n [`Pcp`]: crate#features\
           \n [`NatPmp`]: crate#features\n [`Upnp`]: crate#features\n [`Manual`]: crate#features\
           \n [`check::check`]: crate#features"
)]
#![cfg_attr(not(feature = "blocking"), doc = " \n [`blocking`]: crate#features")]

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

/// The README's Rust examples, compiled as doc tests so they cannot rot
/// (they use the router, so they need the `runtime` feature).
#[cfg(all(doctest, feature = "runtime"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
