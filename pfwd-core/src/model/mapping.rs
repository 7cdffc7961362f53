//! [`Mapping`]: what a gateway granted, with the monotonic and the
//! wall-clock time of the grant; [`MethodState`]; [`GatewayMapping`].

use std::fmt;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Family, Lease, MappingRequest, Method, Protocol, Warning};

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
    /// A UPnP IPv6 pinhole (`WANIPv6FirewallControl`): the identifier the
    /// gateway gave it, which updates and deletes it.
    UpnpPinhole {
        /// The gateway's `UniqueID` for the pinhole.
        unique_id: u16,
    },
    /// State kept by a caller's own [`Forwarder`](crate::Forwarder).
    Custom(String),
}

/// What a gateway actually granted: the contract a caller relies on.
///
/// The gateway may grant another external port or a shorter lease than asked;
/// a `Mapping` always says what was granted. Pass it back to
/// [`Forwarder::unmap`](crate::Forwarder::unmap) to delete it, or turn it into
/// a renewal with [`Mapping::renewal`]. It converts to and from JSON
/// ([`crate::record`] documents the shape), so that another process, or
/// another language, can renew or delete it later.
///
/// Two mappings are equal when they were granted at the same [`Instant`]
/// with the same terms; the wall-clock reading of that moment is not
/// compared (two readings of one moment differ by nanoseconds).
///
/// # Examples
///
/// A PCP router granted outside port 8080 (not the 80 asked for) for an
/// hour:
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use std::time::{Duration, Instant};
/// use pfwd_core::{Family, Lease, Mapping, Method, MethodState, Protocol};
///
/// let granted = Instant::now();
/// let m = Mapping::new(
///     Method::Pcp,
///     Protocol::Tcp,
///     Ipv4Addr::new(192, 168, 1, 1),
///     "203.0.113.7:8080".parse::<SocketAddr>()?,
///     "192.168.1.4:80".parse::<SocketAddr>()?,
///     Lease::Finite(Duration::from_secs(3600)),
///     granted,
///     "pfwd http",
///     MethodState::Pcp { nonce: [7; 12], epoch: 1200, generation: 0 },
/// );
/// assert_eq!(m.external().port(), 8080); // what was granted, not asked
/// assert_eq!(m.family(), Family::Ipv4);
/// assert!(!m.is_pinhole());
/// assert_eq!(m.to_string(), "TCP 203.0.113.7:8080 -> 192.168.1.4:80 via PCP (lease 3600 s)");
///
/// // Renew half-way; the lease ends after an hour unless renewed.
/// assert_eq!(m.renew_after(), Some(granted + Duration::from_secs(1800)));
/// assert_eq!(m.good_until(), Some(granted + Duration::from_secs(3600)));
/// assert!(!m.needs_explicit_delete());
/// let end = m.expires_at_wall().expect("a finite lease ends");
/// assert!(!m.ended_at(end - Duration::from_secs(1)));
/// assert!(m.ended_at(end));
///
/// // The renewal asks for the port granted, with the PCP nonce that made it.
/// let renewal = m.renewal();
/// assert_eq!(renewal.external_port(), Some(8080));
/// assert_eq!(renewal.previous(), Some(&m));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// To and from JSON (the shape [`crate::record`] documents), for another
/// process to renew or delete it:
///
/// ```
/// use pfwd_core::{Lease, Mapping, Method, MethodState, Protocol};
///
/// let json = r#"{"version": 1, "method": "pcp", "protocol": "tcp",
///     "external": "203.0.113.7:8080", "internal": "192.168.1.4:80",
///     "gateway": "192.168.1.1", "lease_seconds": 3600, "permanent": false,
///     "description": "pfwd http", "granted_at": "2026-11-25T21:06:46Z",
///     "pcp_nonce": "0102030405060708090a0b0c", "epoch": 1200}"#;
/// let m: Mapping = serde_json::from_str(json)?;
/// assert_eq!(m.method(), Method::Pcp);
/// assert_eq!(m.lease(), Lease::from_secs(3600));
/// assert!(matches!(m.state(), MethodState::Pcp { nonce, .. } if nonce[11] == 12));
///
/// let written = serde_json::to_value(&m)?;
/// assert_eq!(written["granted_at"], 1795640806); // seconds since 1970, UTC
/// assert_eq!(written["expires_at"], 1795640806 + 3600);
/// assert_eq!(written["pcp_nonce"], "0102030405060708090a0b0c");
/// let back: Mapping = serde_json::from_value(written)?;
/// assert_eq!(back.external(), m.external());
/// assert_eq!(back.state(), m.state());
///
/// // A PCP mapping without its nonce could never be renewed or deleted.
/// let err = serde_json::from_str::<Mapping>(&json.replace("pcp_nonce", "nonce")).unwrap_err();
/// assert!(err.to_string().contains("without its pcp_nonce"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mapping {
    method: Method,
    protocol: Protocol,
    gateway: IpAddr,
    external: SocketAddr,
    internal: SocketAddr,
    lease: Lease,
    granted_at: Instant,
    granted_wall: SystemTime,
    description: String,
    state: MethodState,
}

impl PartialEq for Mapping {
    fn eq(&self, o: &Mapping) -> bool {
        self.method == o.method
            && self.protocol == o.protocol
            && self.gateway == o.gateway
            && self.external == o.external
            && self.internal == o.internal
            && self.lease == o.lease
            && self.granted_at == o.granted_at
            && self.description == o.description
            && self.state == o.state
    }
}

impl Eq for Mapping {}

/// The wall-clock time of `at` (an `Instant` in the past or future).
fn wall_time_of(at: Instant) -> SystemTime {
    let (now, wall) = (Instant::now(), SystemTime::now());
    if at <= now {
        wall.checked_sub(now - at).unwrap_or(SystemTime::UNIX_EPOCH)
    } else {
        wall + (at - now)
    }
}

/// The `Instant` of the wall-clock time `at`; a time before this machine's
/// monotonic clock began is its earliest `Instant` that can be made (now, at
/// worst).
fn instant_of(at: SystemTime) -> Instant {
    let (now, wall) = (Instant::now(), SystemTime::now());
    match wall.duration_since(at) {
        Ok(age) => now.checked_sub(age).unwrap_or(now),
        Err(ahead) => now + ahead.duration(),
    }
}

impl Mapping {
    /// Record a granted mapping. Backends (including a caller's own) build
    /// one after the gateway answered; `granted_at` is when the answer came.
    /// The wall-clock time of the grant is read now, from `granted_at`.
    /// Addresses are IPv4 for a port mapping and IPv6 for a pinhole (whose
    /// external address is the host's own).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        method: Method,
        protocol: Protocol,
        gateway: impl Into<IpAddr>,
        external: impl Into<SocketAddr>,
        internal: impl Into<SocketAddr>,
        lease: Lease,
        granted_at: Instant,
        description: impl Into<String>,
        state: MethodState,
    ) -> Mapping {
        Mapping {
            method,
            protocol,
            gateway: gateway.into(),
            external: external.into(),
            internal: internal.into(),
            lease,
            granted_at,
            granted_wall: wall_time_of(granted_at),
            description: description.into(),
            state,
        }
    }

    /// The same mapping, granted at the wall-clock time `at` (as a record
    /// loaded from disk says); [`granted_at`](Self::granted_at) follows:
    /// now minus the time since `at`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddrV4};
    /// use std::time::{Duration, Instant, SystemTime};
    /// use pfwd_core::{Lease, Mapping, Method, MethodState, Protocol};
    ///
    /// let lease = Lease::Finite(Duration::from_secs(3600));
    /// let m = Mapping::new(
    ///     Method::Upnp,
    ///     Protocol::Tcp,
    ///     Ipv4Addr::new(192, 168, 1, 1),
    ///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 80),
    ///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 80),
    ///     lease,
    ///     Instant::now(),
    ///     "web",
    ///     MethodState::Upnp { forced_permanent: false },
    /// );
    /// // Found in a record written two hours ago: its hour is over.
    /// let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    /// let old = m.with_wall_time(two_hours_ago);
    /// assert_eq!(old.granted_at_wall(), two_hours_ago);
    /// assert!(old.ended_at(SystemTime::now()));
    /// ```
    #[must_use]
    pub fn with_wall_time(mut self, at: SystemTime) -> Mapping {
        self.granted_wall = at;
        self.granted_at = instant_of(at);
        self
    }

    /// The method that made the mapping.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The transport protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The gateway that holds the mapping (its IPv6 address for a pinhole
    /// asked over IPv6).
    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }

    /// The address family: [`Family::Ipv6`] for a pinhole.
    pub fn family(&self) -> Family {
        Family::of(self.internal.ip())
    }

    /// Where the internet reaches the server: the gateway's external address
    /// and the granted external port; for a pinhole, the host's own address.
    pub fn external(&self) -> SocketAddr {
        self.external
    }

    /// The LAN host and port the traffic is forwarded to.
    pub fn internal(&self) -> SocketAddr {
        self.internal
    }

    /// [`external`](Self::external) of an IPv4 mapping; `None` for a pinhole.
    pub fn external_v4(&self) -> Option<SocketAddrV4> {
        match self.external {
            SocketAddr::V4(a) => Some(a),
            SocketAddr::V6(_) => None,
        }
    }

    /// [`internal`](Self::internal) of an IPv4 mapping; `None` for a pinhole.
    pub fn internal_v4(&self) -> Option<SocketAddrV4> {
        match self.internal {
            SocketAddr::V4(a) => Some(a),
            SocketAddr::V6(_) => None,
        }
    }

    /// Whether this is an IPv6 pinhole: the router lets traffic in to the
    /// host's own address rather than translating its public one.
    pub fn is_pinhole(&self) -> bool {
        self.family() == Family::Ipv6
    }

    /// The granted lease.
    pub fn lease(&self) -> Lease {
        self.lease
    }

    /// When the gateway's answer arrived.
    pub fn granted_at(&self) -> Instant {
        self.granted_at
    }

    /// When the gateway's answer arrived, by the wall clock (UTC).
    pub fn granted_at_wall(&self) -> SystemTime {
        self.granted_wall
    }

    /// When the lease ends unless renewed, by the wall clock; `None` for a
    /// permanent lease.
    pub fn expires_at_wall(&self) -> Option<SystemTime> {
        match self.lease {
            Lease::Finite(d) => Some(self.granted_wall + d),
            Lease::Permanent => None,
        }
    }

    /// Whether the lease has ended at the wall-clock time `now` (the gateway
    /// has forgotten the mapping); never for a permanent lease.
    pub fn ended_at(&self, now: SystemTime) -> bool {
        self.expires_at_wall().is_some_and(|end| end <= now)
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
        MappingRequest::renewal_of(self)
    }

    /// What to know about this open port: a warning for each risky service
    /// on its internal or external port (telnet, FTP, SMB, RDP, VNC, a
    /// database...), saying what the risk is and what to use instead. A pure
    /// function of the mapping, from [`crate::services`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddrV4};
    /// use std::time::{Duration, Instant};
    /// use pfwd_core::{Lease, Mapping, Method, MethodState, Protocol, WarningKind};
    ///
    /// // Remote desktop, moved to outside port 53389: still RDP inside.
    /// let rdp = Mapping::new(
    ///     Method::NatPmp,
    ///     Protocol::Tcp,
    ///     Ipv4Addr::new(192, 168, 1, 1),
    ///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 53389),
    ///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 30), 3389),
    ///     Lease::Finite(Duration::from_secs(3600)),
    ///     Instant::now(),
    ///     "desktop",
    ///     MethodState::NatPmp { epoch: 10, generation: 0 },
    /// );
    /// let w = rdp.warnings();
    /// assert_eq!(w.len(), 1);
    /// assert_eq!(w[0].kind, WarningKind::RiskyService);
    /// assert!(w[0].text.contains("(TCP 3389) is now open to the internet"));
    /// ```
    pub fn warnings(&self) -> Vec<Warning> {
        crate::services::risk_warnings(self.protocol, [self.internal.port(), self.external.port()])
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

/// One mapping as a gateway lists it (not necessarily made by pfwd). In
/// JSON the lease is `lease_seconds` (0: permanent).
///
/// # Examples
///
/// ```
/// use pfwd_core::{GatewayMapping, Lease, Protocol};
///
/// let listed: GatewayMapping = serde_json::from_str(r#"{
///     "protocol": "udp", "external_port": 51820, "internal_client": "192.168.1.4",
///     "internal_port": 51820, "description": "pfwd wireguard",
///     "lease_seconds": 0, "enabled": true}"#)?;
/// assert_eq!(listed.protocol, Protocol::Udp);
/// assert_eq!(listed.lease, Lease::Permanent);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(rename = "lease_seconds", with = "super::lease::as_seconds")]
    pub lease: Lease,
    /// Whether the gateway reports the mapping as enabled.
    pub enabled: bool,
}

impl GatewayMapping {
    /// Whether this listed mapping is `m` (same protocol, external port and
    /// internal host and port: a gateway holds one mapping per those).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddrV4};
    /// use std::time::{Duration, Instant};
    /// use pfwd_core::{GatewayMapping, Lease, Mapping, Method, MethodState, Protocol};
    ///
    /// let made = Mapping::new(
    ///     Method::Upnp,
    ///     Protocol::Tcp,
    ///     Ipv4Addr::new(192, 168, 1, 1),
    ///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 80),
    ///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 80),
    ///     Lease::Finite(Duration::from_secs(3600)),
    ///     Instant::now(),
    ///     "web",
    ///     MethodState::Upnp { forced_permanent: false },
    /// );
    /// let mut listed = GatewayMapping {
    ///     protocol: Protocol::Tcp,
    ///     external_port: 80,
    ///     internal_client: "192.168.1.4".into(),
    ///     internal_port: 80,
    ///     description: "renamed on the router".into(),
    ///     lease: Lease::from_secs(3541),
    ///     enabled: true,
    /// };
    /// assert!(listed.is(&made)); // descriptions and leases may differ
    /// listed.internal_client = "192.168.1.5".into();
    /// assert!(!listed.is(&made));
    /// ```
    pub fn is(&self, m: &Mapping) -> bool {
        self.protocol == m.protocol()
            && self.external_port == m.external().port()
            && self.internal_port == m.internal().port()
            && self.internal_client.parse::<IpAddr>().ok() == Some(m.internal().ip())
    }
}
