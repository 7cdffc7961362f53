//! The [`Forwarder`] trait: one way of asking a gateway for port mappings.

use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;

use crate::error::{Error, Result};
use crate::gateway::GatewayInfo;
use crate::mapping::{GatewayMapping, Mapping, MappingRequest, Method};

/// A boxed, sendable future, as returned by [`Forwarder`]'s methods so that
/// the trait stays object-safe (`Box<dyn Forwarder>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One way of asking a gateway for port mappings: PCP, NAT-PMP, UPnP-IGD, the
/// manual guide, or a backend of your own (a router's HTTP API, a cloud
/// firewall).
///
/// The trait is object-safe: the automatic client holds `Box<dyn Forwarder>`.
/// Implement it with `Box::pin(async move { ... })` bodies.
///
/// # Examples
///
/// A forwarder of your own needs four methods; the others have defaults.
/// This one runs offline: its "gateway" is a few lines of Rust.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::time::Instant;
/// use pfwd_core::{BoxFuture, Forwarder, Lease, Mapping, MappingRequest, Method, MethodState};
///
/// /// A "gateway" that grants everything, for a demo.
/// #[derive(Debug)]
/// struct Yes;
///
/// impl Forwarder for Yes {
///     fn method(&self) -> Method { Method::Manual }
///     fn external_address(&self) -> BoxFuture<'_, pfwd_core::Result<Ipv4Addr>> {
///         Box::pin(async { Ok(Ipv4Addr::new(5, 5, 5, 7)) })
///     }
///     fn map<'a>(&'a self, r: &'a MappingRequest) -> BoxFuture<'a, pfwd_core::Result<Mapping>> {
///         Box::pin(async move {
///             let internal = SocketAddrV4::new(r.internal_ipv4().unwrap_or(Ipv4Addr::new(192, 168, 1, 4)), r.internal_port());
///             let external = SocketAddrV4::new(Ipv4Addr::new(5, 5, 5, 7), r.external_port().unwrap_or(40000));
///             Ok(Mapping::new(Method::Manual, r.protocol(), Ipv4Addr::new(192, 168, 1, 1), external,
///                             internal, r.lease(), Instant::now(), r.description(), MethodState::None))
///         })
///     }
///     fn unmap<'a>(&'a self, _m: &'a Mapping) -> BoxFuture<'a, pfwd_core::Result<()>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
///
/// let backends: Vec<Box<dyn Forwarder>> = vec![Box::new(Yes)];
/// assert_eq!(backends[0].method(), Method::Manual);
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let yes = &backends[0];
/// let request = MappingRequest::builder(pfwd_core::Protocol::Tcp, 80).build()?;
/// let mapping = yes.map(&request).await?;
/// assert_eq!(mapping.external().to_string(), "5.5.5.7:80");
/// // The defaults: a loss cannot be told, and there is no list to read.
/// assert_eq!(yes.presence(&mapping).await?, pfwd_core::Presence::Unknown);
/// let err = yes.list().await.unwrap_err();
/// assert_eq!(err.kind(), pfwd_core::ErrorKind::Unsupported);
/// yes.unmap(&mapping).await?;
/// # Ok::<(), pfwd_core::Error>(())
/// # }).unwrap();
/// ```
pub trait Forwarder: Send + Sync + std::fmt::Debug {
    /// The method this forwarder speaks.
    fn method(&self) -> Method;

    /// The gateway's external (internet-facing) IPv4 address.
    fn external_address(&self) -> BoxFuture<'_, Result<Ipv4Addr>>;

    /// Create a mapping, or renew one (pass [`Mapping::renewal`]).
    ///
    /// The returned [`Mapping`] says what the gateway granted, which may
    /// differ from what was asked (another port, a shorter lease).
    fn map<'a>(&'a self, request: &'a MappingRequest) -> BoxFuture<'a, Result<Mapping>>;

    /// Delete a mapping this forwarder made. Deleting a mapping that is
    /// already gone succeeds.
    fn unmap<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<()>>;

    /// Whether the gateway has lost `mapping` (it restarted, or the mapping
    /// expired or was removed), asking it where the method can tell:
    /// NAT-PMP and PCP compare the gateway's epoch, UPnP looks in its list.
    /// Methods that cannot tell answer `false`, and renewals find out.
    fn lost<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<bool>> {
        let _ = mapping;
        Box::pin(async { Ok(false) })
    }

    /// Whether the gateway still holds `mapping`: [`Presence::Held`] or
    /// [`Presence::Lost`] where it can be asked, [`Presence::Unknown`]
    /// where it cannot. The default asks [`lost`](Self::lost), which can
    /// only tell a loss (a restart seen in the epoch): a `false` from it
    /// is [`Presence::Unknown`].
    fn presence<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<Presence>> {
        Box::pin(async move {
            Ok(if self.lost(mapping).await? {
                Presence::Lost
            } else {
                Presence::Unknown
            })
        })
    }

    /// The gateway this forwarder asks and this host's address towards it,
    /// when known: a keeper with a state directory uses it to find a
    /// mapping another process keeps already. `None` by default.
    fn gateway(&self) -> Option<GatewayInfo> {
        None
    }

    /// The IPv6 router and this host's global address, for a forwarder
    /// that opens IPv6 pinholes: as [`gateway`](Self::gateway), for
    /// IPv6 requests. `None` by default.
    fn ipv6_gateway(&self) -> Option<crate::gateway::Ipv6Gateway> {
        None
    }

    /// The mappings the gateway holds, where the method can list them
    /// (UPnP can; NAT-PMP and PCP cannot).
    fn list(&self) -> BoxFuture<'_, Result<Vec<GatewayMapping>>> {
        let method = self.method();
        Box::pin(async move {
            Err(Error::Unsupported {
                method,
                what: "listing mappings".into(),
                detail: format!("{method} has no way to list a gateway's mappings"),
            })
        })
    }
}

/// Whether a gateway still holds a mapping ([`Forwarder::presence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Presence {
    /// The gateway says it holds the mapping.
    Held,
    /// The gateway lost it: it restarted, or the mapping was removed.
    Lost,
    /// The gateway cannot be asked (NAT-PMP and PCP have no way to read a
    /// mapping back): only renewing it tells, and restores it.
    Unknown,
}
