//! The mapping model shared by every method: what a caller asks for
//! ([`MappingRequest`]) and what a gateway granted ([`Mapping`]).
//!
//! These are plain owned values so that the Python and C bindings can mirror
//! them field by field.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::Error;

/// Transport protocol of a port mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (web servers, SSH, most services).
    Tcp,
    /// UDP (games, VPNs such as WireGuard, DNS).
    Udp,
}

impl Protocol {
    /// The protocol's name in lower case, as the command and the guides write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        })
    }
}

impl FromStr for Protocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            _ => Err(Error::invalid(format!(
                "unknown protocol {s:?}: use \"tcp\" or \"udp\""
            ))),
        }
    }
}

/// How a mapping is (or would be) made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Port Control Protocol (RFC 6887), the successor of NAT-PMP.
    Pcp,
    /// NAT Port Mapping Protocol (RFC 6886).
    NatPmp,
    /// UPnP Internet Gateway Device (WANIPConnection / WANPPPConnection).
    Upnp,
    /// No protocol: a person follows written instructions on the router.
    Manual,
}

impl Method {
    /// A short human name ("PCP", "NAT-PMP", "UPnP-IGD", "manual").
    pub fn name(self) -> &'static str {
        match self {
            Method::Pcp => "PCP",
            Method::NatPmp => "NAT-PMP",
            Method::Upnp => "UPnP-IGD",
            Method::Manual => "manual",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long a mapping should last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lease {
    /// A lease that ends after this long unless renewed (always more than zero).
    Finite(Duration),
    /// A lease with no end: it stays on the router until deleted. Only used
    /// when asked for explicitly, or when a UPnP router accepts nothing else
    /// (error 725); pfwd then owns its deletion.
    Permanent,
}

impl Lease {
    /// The lease as the protocols encode it: seconds, with 0 meaning permanent.
    pub fn as_secs(self) -> u32 {
        match self {
            Lease::Finite(d) => u32::try_from(d.as_secs()).unwrap_or(u32::MAX).max(1),
            Lease::Permanent => 0,
        }
    }

    /// Decode a lease from protocol seconds (0 is permanent).
    pub fn from_secs(secs: u32) -> Lease {
        if secs == 0 {
            Lease::Permanent
        } else {
            Lease::Finite(Duration::from_secs(u64::from(secs)))
        }
    }
}

impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lease::Finite(d) => write!(f, "{} s", d.as_secs()),
            Lease::Permanent => f.write_str("permanent"),
        }
    }
}

/// The lease pfwd asks for when the caller does not say: two hours, so that a
/// program that dies leaves nothing open for long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(2 * 60 * 60);

/// The longest description pfwd sends; routers truncate or refuse longer ones.
pub const MAX_DESCRIPTION_LEN: usize = 64;

/// What a caller asks a gateway for. Build one with [`MappingRequest::builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRequest {
    protocol: Protocol,
    internal_ip: Option<Ipv4Addr>,
    internal_port: u16,
    external_port: Option<u16>,
    exact_external_port: bool,
    lease: Lease,
    description: String,
    permanent_fallback: bool,
    previous: Option<Box<Mapping>>,
}

impl MappingRequest {
    /// Start a request to forward `internal_port` on this host (or on the
    /// host given with [`MappingRequestBuilder::internal_ip`]).
    pub fn builder(protocol: Protocol, internal_port: u16) -> MappingRequestBuilder {
        MappingRequestBuilder {
            protocol,
            internal_ip: None,
            internal_port,
            external_port: ExternalPort::SameAsInternal,
            lease: None,
            permanent: false,
            description: None,
            permanent_fallback: true,
        }
    }

    /// The transport protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The LAN host the traffic goes to; `None` means this host's own address
    /// on the gateway's network, found when the mapping is made.
    pub fn internal_ip(&self) -> Option<Ipv4Addr> {
        self.internal_ip
    }

    /// The port on the LAN host.
    pub fn internal_port(&self) -> u16 {
        self.internal_port
    }

    /// The external port wanted; `None` means any port the gateway picks.
    pub fn external_port(&self) -> Option<u16> {
        self.external_port
    }

    /// Whether the external port must be exactly [`external_port`](Self::external_port):
    /// a gateway that would grant another port fails instead. Otherwise the
    /// port is a preference and [`Mapping::external`] tells what was granted.
    pub fn exact_external_port(&self) -> bool {
        self.exact_external_port
    }

    /// The lease wanted.
    pub fn lease(&self) -> Lease {
        self.lease
    }

    /// The description shown in the router's list of mappings.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether a UPnP gateway that accepts only permanent leases (error 725)
    /// may be given one instead of a refusal.
    pub fn permanent_fallback(&self) -> bool {
        self.permanent_fallback
    }

    /// The mapping this request renews, if it was made by [`Mapping::renewal`].
    pub fn previous(&self) -> Option<&Mapping> {
        self.previous.as_deref()
    }
}

/// The external port a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExternalPort {
    SameAsInternal,
    Specific(u16),
    Exact(u16),
    Any,
}

/// Builder for [`MappingRequest`]; [`build`](MappingRequestBuilder::build)
/// checks the request and says what is wrong with it.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct MappingRequestBuilder {
    protocol: Protocol,
    internal_ip: Option<Ipv4Addr>,
    internal_port: u16,
    external_port: ExternalPort,
    lease: Option<Duration>,
    permanent: bool,
    description: Option<String>,
    permanent_fallback: bool,
}

impl MappingRequestBuilder {
    /// Forward to another LAN host instead of this one (for example the Pi
    /// at 192.168.1.4 running the web server). Routers in "secure mode" allow
    /// this only for the host that asks; pfwd reports their refusal.
    pub fn internal_ip(mut self, ip: Ipv4Addr) -> Self {
        self.internal_ip = Some(ip);
        self
    }

    /// Ask for this external port (the default is the internal port).
    pub fn external_port(mut self, port: u16) -> Self {
        self.external_port = ExternalPort::Specific(port);
        self
    }

    /// Ask for exactly this external port: fail with
    /// [`Error::Conflict`] (or the gateway's refusal) rather than accept
    /// another one. Use it when people will type the port (web on 80).
    pub fn exact_external_port(mut self, port: u16) -> Self {
        self.external_port = ExternalPort::Exact(port);
        self
    }

    /// Accept any external port the gateway picks.
    pub fn any_external_port(mut self) -> Self {
        self.external_port = ExternalPort::Any;
        self
    }

    /// Ask for a lease of this length (default [`DEFAULT_LEASE`]). Zero is
    /// rejected: use [`permanent`](Self::permanent) to ask for no end.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Ask for a permanent mapping that stays until deleted. Only do this
    /// when you will delete it yourself: a crash leaves the port open.
    pub fn permanent(mut self) -> Self {
        self.permanent = true;
        self
    }

    /// The description shown in the router's list of mappings
    /// (default "pfwd TCP 80"). At most 64 printable characters.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Whether a UPnP router that accepts only permanent leases (UPnP error
    /// 725) may be given a permanent mapping instead (default: yes; the
    /// resulting [`Mapping::lease`] says so and pfwd deletes it on unmap).
    pub fn permanent_fallback(mut self, allowed: bool) -> Self {
        self.permanent_fallback = allowed;
        self
    }

    /// Check the request.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for port 0, a lease of zero without
    /// [`permanent`](Self::permanent), a lease and `permanent` together, a
    /// lease over 2^32 - 1 seconds, an internal address that cannot be a LAN
    /// host, or a description that is too long or holds control characters.
    pub fn build(self) -> Result<MappingRequest, Error> {
        if self.internal_port == 0 {
            return Err(Error::invalid(
                "internal port 0 is not a port: give the port your server listens on (1-65535)",
            ));
        }
        let external_port = match self.external_port {
            ExternalPort::SameAsInternal => Some(self.internal_port),
            ExternalPort::Specific(0) | ExternalPort::Exact(0) => {
                return Err(Error::invalid(
                    "external port 0 is not a port: give 1-65535, or ask for any port",
                ));
            }
            ExternalPort::Specific(p) | ExternalPort::Exact(p) => Some(p),
            ExternalPort::Any => None,
        };
        let lease = match (self.permanent, self.lease) {
            (true, Some(_)) => {
                return Err(Error::invalid(
                    "a request cannot have both a lease length and be permanent: choose one",
                ));
            }
            (true, None) => Lease::Permanent,
            (false, None) => Lease::Finite(DEFAULT_LEASE),
            (false, Some(d)) if d.is_zero() => {
                return Err(Error::invalid(
                    "a lease of zero seconds is not a lease: give a length such as 2h, \
                     or ask for a permanent mapping explicitly",
                ));
            }
            (false, Some(d)) if d.as_secs() > u64::from(u32::MAX) => {
                return Err(Error::invalid(format!(
                    "a lease of {} s is longer than any router accepts (at most {} s): \
                     ask for less, or for a permanent mapping",
                    d.as_secs(),
                    u32::MAX
                )));
            }
            // Sub-second leases round up to one second: the protocols count seconds.
            (false, Some(d)) => Lease::Finite(Duration::from_secs(d.as_secs().max(1))),
        };
        if let Some(ip) = self.internal_ip {
            check_lan_host(ip)?;
        }
        let description = match self.description {
            Some(d) => {
                check_description(&d)?;
                d
            }
            None => format!("pfwd {} {}", self.protocol, self.internal_port),
        };
        Ok(MappingRequest {
            protocol: self.protocol,
            internal_ip: self.internal_ip,
            internal_port: self.internal_port,
            external_port,
            exact_external_port: matches!(self.external_port, ExternalPort::Exact(_)),
            lease,
            description,
            permanent_fallback: self.permanent_fallback,
            previous: None,
        })
    }
}

fn check_lan_host(ip: Ipv4Addr) -> Result<(), Error> {
    let why = if ip.is_unspecified() {
        "is the unspecified address"
    } else if ip.is_loopback() {
        "is a loopback address that only this machine can reach"
    } else if ip.is_multicast() {
        "is a multicast address"
    } else if ip.is_broadcast() {
        "is the broadcast address"
    } else if ip.is_link_local() {
        "is a link-local address that routers do not forward to"
    } else {
        return Ok(());
    };
    Err(Error::invalid(format!(
        "{ip} {why}, not a LAN host: give the LAN address of the machine running the \
         server (for example 192.168.1.4), or leave it out to use this machine"
    )))
}

fn check_description(d: &str) -> Result<(), Error> {
    if d.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(Error::invalid(format!(
            "the description is {} characters long; routers accept at most {MAX_DESCRIPTION_LEN}: shorten it",
            d.chars().count()
        )));
    }
    if d.chars().any(char::is_control) {
        return Err(Error::invalid(
            "the description holds control characters (such as a newline): use printable text",
        ));
    }
    Ok(())
}

/// Method-specific state needed to renew or delete a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MethodState {
    /// Nothing beyond the mapping itself.
    None,
    /// UPnP: whether the gateway forced a permanent lease (error 725) that
    /// pfwd must delete itself.
    Upnp {
        /// True when the gateway would only accept a permanent lease.
        forced_permanent: bool,
    },
    /// NAT-PMP: the gateway's epoch when the mapping was granted.
    NatPmp {
        /// The server's epoch in the granting answer.
        epoch: u32,
        /// pfwd's count of gateway restarts seen when the mapping was granted.
        generation: u64,
    },
    /// PCP: the nonce that renews or deletes the mapping (a request with
    /// another nonce is refused), and the epoch it was granted in.
    Pcp {
        /// The mapping nonce (RFC 6887 section 11.1).
        nonce: [u8; 12],
        /// The server's epoch in the granting answer.
        epoch: u32,
        /// pfwd's count of gateway restarts seen when the mapping was granted.
        generation: u64,
    },
    /// State kept by a caller's own [`Forwarder`](crate::Forwarder).
    Custom(String),
}

/// What a gateway actually granted: the contract a caller relies on.
///
/// The gateway may grant another external port or a shorter lease than asked;
/// a `Mapping` always says what was granted. Pass it back to
/// [`Forwarder::unmap`](crate::Forwarder::unmap) to delete it, or turn it into
/// a renewal with [`Mapping::renewal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    method: Method,
    protocol: Protocol,
    gateway: Ipv4Addr,
    external: SocketAddrV4,
    internal: SocketAddrV4,
    lease: Lease,
    granted_at: Instant,
    description: String,
    state: MethodState,
}

impl Mapping {
    /// Record a granted mapping. Backends (including a caller's own) build
    /// one after the gateway answered; `granted_at` is when the answer came.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        method: Method,
        protocol: Protocol,
        gateway: Ipv4Addr,
        external: SocketAddrV4,
        internal: SocketAddrV4,
        lease: Lease,
        granted_at: Instant,
        description: impl Into<String>,
        state: MethodState,
    ) -> Mapping {
        Mapping {
            method,
            protocol,
            gateway,
            external,
            internal,
            lease,
            granted_at,
            description: description.into(),
            state,
        }
    }

    /// The method that made the mapping.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The transport protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The gateway that holds the mapping.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// Where the internet reaches the server: the gateway's external address
    /// and the granted external port.
    pub fn external(&self) -> SocketAddrV4 {
        self.external
    }

    /// The LAN host and port the traffic is forwarded to.
    pub fn internal(&self) -> SocketAddrV4 {
        self.internal
    }

    /// The granted lease.
    pub fn lease(&self) -> Lease {
        self.lease
    }

    /// When the gateway's answer arrived.
    pub fn granted_at(&self) -> Instant {
        self.granted_at
    }

    /// The description the mapping was made with.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Method-specific state used to renew or delete the mapping.
    pub fn state(&self) -> &MethodState {
        &self.state
    }

    /// When the mapping should be renewed: half-way through a finite lease
    /// (RFC 6886 section 3.3), never for a permanent one.
    pub fn renew_after(&self) -> Option<Instant> {
        match self.lease {
            Lease::Finite(d) => Some(self.granted_at + d / 2),
            Lease::Permanent => None,
        }
    }

    /// When the mapping ends unless renewed; `None` for a permanent lease.
    pub fn good_until(&self) -> Option<Instant> {
        match self.lease {
            Lease::Finite(d) => Some(self.granted_at + d),
            Lease::Permanent => None,
        }
    }

    /// True when pfwd (not the router) must delete this mapping because its
    /// lease never ends.
    pub fn needs_explicit_delete(&self) -> bool {
        self.lease == Lease::Permanent
    }

    /// A request that renews this mapping: same hosts, ports, protocol,
    /// description and lease, carrying the state the method needs. The
    /// external port is a preference: a gateway that lost the mapping may
    /// grant another, and the renewed [`Mapping`] says which.
    pub fn renewal(&self) -> MappingRequest {
        MappingRequest {
            protocol: self.protocol,
            internal_ip: Some(*self.internal.ip()),
            internal_port: self.internal.port(),
            external_port: Some(self.external.port()),
            // Keep the port where the gateway allows; after a gateway restart
            // another port is better than no mapping.
            exact_external_port: false,
            lease: self.lease,
            description: self.description.clone(),
            permanent_fallback: matches!(
                self.state,
                MethodState::Upnp {
                    forced_permanent: true
                }
            ),
            previous: Some(Box::new(self.clone())),
        }
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {} via {} (lease {})",
            self.protocol, self.external, self.internal, self.method, self.lease
        )
    }
}

/// One mapping as a gateway lists it (not necessarily made by pfwd).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayMapping {
    /// The transport protocol.
    pub protocol: Protocol,
    /// The external port.
    pub external_port: u16,
    /// The LAN host, as the gateway reports it (normally an IPv4 address).
    pub internal_client: String,
    /// The port on the LAN host.
    pub internal_port: u16,
    /// The description the mapping was made with.
    pub description: String,
    /// The remaining (or, on some routers, the original) lease.
    pub lease: Lease,
    /// Whether the gateway reports the mapping as enabled.
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_text(r: Result<MappingRequest, Error>) -> String {
        match r {
            Err(e @ Error::InvalidRequest { .. }) => e.to_string(),
            other => panic!("expected an invalid-request error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_same_port_finite_lease() {
        let r = MappingRequest::builder(Protocol::Tcp, 80).build().unwrap();
        assert_eq!(r.external_port(), Some(80));
        assert_eq!(r.lease(), Lease::Finite(DEFAULT_LEASE));
        assert_eq!(r.description(), "pfwd TCP 80");
        assert!(r.internal_ip().is_none());
        assert!(r.previous().is_none());
    }

    #[test]
    fn rejects_port_zero() {
        assert!(err_text(MappingRequest::builder(Protocol::Tcp, 0).build()).contains("port 0"));
        assert!(
            err_text(
                MappingRequest::builder(Protocol::Udp, 53)
                    .external_port(0)
                    .build()
            )
            .contains("any port")
        );
    }

    #[test]
    fn zero_lease_needs_permanent() {
        let e = err_text(
            MappingRequest::builder(Protocol::Tcp, 80)
                .lease(Duration::ZERO)
                .build(),
        );
        assert!(e.contains("permanent"), "{e}");
        let r = MappingRequest::builder(Protocol::Tcp, 80)
            .permanent()
            .build()
            .unwrap();
        assert_eq!(r.lease(), Lease::Permanent);
        assert_eq!(r.lease().as_secs(), 0);
        err_text(
            MappingRequest::builder(Protocol::Tcp, 80)
                .permanent()
                .lease(Duration::from_secs(5))
                .build(),
        );
    }

    #[test]
    fn huge_and_tiny_leases() {
        err_text(
            MappingRequest::builder(Protocol::Tcp, 80)
                .lease(Duration::from_secs(u64::from(u32::MAX) + 1))
                .build(),
        );
        let r = MappingRequest::builder(Protocol::Tcp, 80)
            .lease(Duration::from_millis(10))
            .build()
            .unwrap();
        assert_eq!(r.lease().as_secs(), 1);
    }

    #[test]
    fn rejects_non_lan_hosts() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "169.254.1.1",
        ] {
            let e = err_text(
                MappingRequest::builder(Protocol::Tcp, 80)
                    .internal_ip(ip.parse().unwrap())
                    .build(),
            );
            assert!(e.contains(ip), "{e}");
        }
        MappingRequest::builder(Protocol::Tcp, 80)
            .internal_ip(Ipv4Addr::new(192, 168, 1, 4))
            .build()
            .unwrap();
    }

    #[test]
    fn rejects_bad_descriptions() {
        err_text(
            MappingRequest::builder(Protocol::Tcp, 80)
                .description("x".repeat(65))
                .build(),
        );
        err_text(
            MappingRequest::builder(Protocol::Tcp, 80)
                .description("a\nb")
                .build(),
        );
    }

    #[test]
    fn protocol_parses() {
        assert_eq!("TCP".parse::<Protocol>().unwrap(), Protocol::Tcp);
        assert_eq!(" udp ".parse::<Protocol>().unwrap(), Protocol::Udp);
        assert!("sctp".parse::<Protocol>().is_err());
    }

    #[test]
    fn mapping_times_and_renewal() {
        let now = Instant::now();
        let m = Mapping::new(
            Method::Upnp,
            Protocol::Tcp,
            Ipv4Addr::new(192, 168, 1, 1),
            "5.5.5.7:8080".parse().unwrap(),
            "192.168.1.4:80".parse().unwrap(),
            Lease::Finite(Duration::from_secs(100)),
            now,
            "web",
            MethodState::Upnp {
                forced_permanent: false,
            },
        );
        assert_eq!(m.renew_after(), Some(now + Duration::from_secs(50)));
        assert_eq!(m.good_until(), Some(now + Duration::from_secs(100)));
        let r = m.renewal();
        assert_eq!(r.external_port(), Some(8080));
        assert_eq!(r.internal_ip(), Some(Ipv4Addr::new(192, 168, 1, 4)));
        assert_eq!(r.previous(), Some(&m));
        assert!(!m.needs_explicit_delete());
    }
}
