//! [`MappingRequest`]: what a caller asks a gateway for, checked by its
//! builder before anything is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::{DEFAULT_LEASE, Family, Invalid, Lease, Mapping, MethodState, Protocol, Warning};
use crate::defaults::MAX_DESCRIPTION_LEN;

/// What a caller asks a gateway for. Build one with [`MappingRequest::builder`].
///
/// # Examples
///
/// Forward TCP port 80 to the web server on the Pi at 192.168.1.4:
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::{DEFAULT_LEASE, Family, Lease, MappingRequest, Protocol};
///
/// let web = MappingRequest::builder(Protocol::Tcp, 80)
///     .internal_ip(Ipv4Addr::new(192, 168, 1, 4))
///     .build()?;
/// assert_eq!(web.protocol(), Protocol::Tcp);
/// assert_eq!(web.family(), Family::Ipv4);
/// assert_eq!(web.internal_ipv4(), Some(Ipv4Addr::new(192, 168, 1, 4)));
/// assert_eq!(web.internal_port(), 80);
/// // The defaults: the same port outside (where the router allows), a
/// // two-hour lease, and a description that says who made it.
/// assert_eq!(web.external_port(), Some(80));
/// assert!(!web.exact_external_port());
/// assert_eq!(web.lease(), Lease::Finite(DEFAULT_LEASE));
/// assert_eq!(web.description(), "pfwd TCP 80");
/// assert!(web.warnings().is_empty());
///
/// // This host (the address is found when the mapping is made), over UDP.
/// let wireguard = MappingRequest::builder(Protocol::Udp, 51820).build()?;
/// assert_eq!(wireguard.internal_ip(), None);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRequest {
    protocol: Protocol,
    family: Family,
    internal_ip: Option<IpAddr>,
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
            family: None,
            internal_ip: None,
            internal_port,
            external_port: ExternalPort::Same,
            lease: None,
            permanent: false,
            description: None,
            permanent_fallback: true,
        }
    }

    /// A request that renews `m` (see [`Mapping::renewal`]).
    pub(crate) fn renewal_of(m: &Mapping) -> MappingRequest {
        MappingRequest {
            protocol: m.protocol(),
            family: m.family(),
            internal_ip: Some(m.internal().ip()),
            internal_port: m.internal().port(),
            external_port: Some(m.external().port()),
            // Keep the port where the gateway allows; after a gateway restart
            // another port is better than no mapping.
            exact_external_port: false,
            lease: m.lease(),
            description: m.description().to_string(),
            permanent_fallback: matches!(
                m.state(),
                MethodState::Upnp {
                    forced_permanent: true
                }
            ),
            previous: Some(Box::new(m.clone())),
        }
    }

    /// The transport protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The address family: [`Family::Ipv4`] for a port mapping on the
    /// router's public address, [`Family::Ipv6`] for a pinhole for the
    /// host's own global address.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The LAN host the traffic goes to; `None` means this host's own address
    /// on the gateway's network (of the request's [`family`](Self::family)),
    /// found when the mapping is made.
    pub fn internal_ip(&self) -> Option<IpAddr> {
        self.internal_ip
    }

    /// The LAN host as an IPv4 address; `None` for this host, or for an
    /// IPv6 request.
    pub fn internal_ipv4(&self) -> Option<Ipv4Addr> {
        match self.internal_ip {
            Some(IpAddr::V4(ip)) => Some(ip),
            _ => None,
        }
    }

    /// The host as an IPv6 address; `None` for this host, or for an IPv4
    /// request.
    pub fn internal_ipv6(&self) -> Option<Ipv6Addr> {
        match self.internal_ip {
            Some(IpAddr::V6(ip)) => Some(ip),
            _ => None,
        }
    }

    /// The same request for the other family, `family`, for this host
    /// (a request for both families is two requests). `None` when the
    /// request names a host of another family, which cannot be moved.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::{Family, MappingRequest, Protocol};
    ///
    /// let web = MappingRequest::builder(Protocol::Tcp, 80).build()?;
    /// let pinhole = web.in_family(Family::Ipv6).expect("this host moves");
    /// assert_eq!(pinhole.family(), Family::Ipv6);
    /// assert_eq!(pinhole.internal_port(), 80);
    ///
    /// // The Pi's IPv4 address says nothing of its IPv6 one.
    /// let pi = MappingRequest::builder(Protocol::Tcp, 80)
    ///     .internal_ip(Ipv4Addr::new(192, 168, 1, 4))
    ///     .build()?;
    /// assert_eq!(pi.in_family(Family::Ipv6), None);
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn in_family(&self, family: Family) -> Option<MappingRequest> {
        if family == self.family {
            return Some(self.clone());
        }
        if self.internal_ip.is_some() {
            return None;
        }
        let mut r = self.clone();
        r.family = family;
        r.previous = None;
        Some(r)
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

    /// Whether a mapping on outside port `port` answers this request: any
    /// port does, unless the request asks for one exactly.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::{MappingRequest, Protocol};
    ///
    /// let preferred = MappingRequest::builder(Protocol::Tcp, 80).build()?;
    /// assert!(preferred.accepts_external_port(8080)); // the router moved it
    ///
    /// let exact = MappingRequest::builder(Protocol::Tcp, 80)
    ///     .exact_external_port(80)
    ///     .build()?;
    /// assert!(exact.accepts_external_port(80));
    /// assert!(!exact.accepts_external_port(8080));
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn accepts_external_port(&self, port: u16) -> bool {
        match self.external_port {
            Some(p) if self.exact_external_port => port == p,
            _ => true,
        }
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

    /// What to know before opening this port: a warning for each risky
    /// service on its internal or external port (telnet, RDP, SMB, a
    /// database...), from the services table. A pure function of the request.
    pub fn warnings(&self) -> Vec<Warning> {
        crate::services::risk_warnings(
            self.protocol,
            [Some(self.internal_port), self.external_port]
                .into_iter()
                .flatten(),
        )
    }
}

/// The external port a request asks for.
///
/// # Examples
///
/// ```
/// use pfwd_core::{ExternalPort, MappingRequest, Protocol};
///
/// let ask = |external| MappingRequest::builder(Protocol::Tcp, 8080).external(external).build();
///
/// let same = ask(ExternalPort::Same)?;
/// assert_eq!((same.external_port(), same.exact_external_port()), (Some(8080), false));
///
/// let preferred = ask(ExternalPort::Preferred(80))?;
/// assert_eq!((preferred.external_port(), preferred.exact_external_port()), (Some(80), false));
///
/// let exact = ask(ExternalPort::Exact(80))?;
/// assert_eq!((exact.external_port(), exact.exact_external_port()), (Some(80), true));
///
/// let any = ask(ExternalPort::Any)?;
/// assert_eq!(any.external_port(), None);
///
/// assert!(ask(ExternalPort::Exact(0)).is_err());
/// # Ok::<(), pfwd_core::Error>(())
/// ```
///
/// [`parse_external`](crate::parse::parse_external) reads one as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExternalPort {
    /// The same as the internal port, where the gateway allows (the default).
    #[default]
    Same,
    /// This port, where the gateway allows; another one otherwise.
    Preferred(u16),
    /// Exactly this port, or fail ([`Error::Conflict`](crate::Error::Conflict)
    /// or the gateway's refusal). Use it when people will type the port.
    Exact(u16),
    /// Whatever port the gateway picks.
    Any,
}

/// Builder for [`MappingRequest`]; [`build`](MappingRequestBuilder::build)
/// checks the request and says what is wrong with it.
///
/// # Examples
///
/// Every setter at once: a game server on another host, outside port 27015
/// exactly, for a day, under a name the router's list shows.
///
/// ```
/// use std::net::Ipv4Addr;
/// use std::time::Duration;
/// use pfwd_core::{Lease, MappingRequest, Protocol};
///
/// let game = MappingRequest::builder(Protocol::Udp, 27016)
///     .internal_ip(Ipv4Addr::new(192, 168, 1, 20))
///     .exact_external_port(27015)
///     .lease(Duration::from_secs(24 * 3600))
///     .description("game server")
///     .permanent_fallback(false)
///     .build()?;
/// assert_eq!(game.internal_port(), 27016);
/// assert_eq!(game.external_port(), Some(27015));
/// assert!(game.exact_external_port());
/// assert_eq!(game.lease(), Lease::Finite(Duration::from_secs(86400)));
/// assert_eq!(game.description(), "game server");
/// assert!(!game.permanent_fallback());
///
/// // A mapping that stays until deleted: only when you will delete it.
/// let forever = MappingRequest::builder(Protocol::Tcp, 22).permanent().build()?;
/// assert_eq!(forever.lease(), Lease::Permanent);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct MappingRequestBuilder {
    protocol: Protocol,
    family: Option<Family>,
    internal_ip: Option<IpAddr>,
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
    /// this only for the host that asks; pfwd reports their refusal. An
    /// IPv6 address asks for a pinhole for that address (its family is the
    /// request's).
    pub fn internal_ip(mut self, ip: impl Into<IpAddr>) -> Self {
        self.internal_ip = Some(ip.into());
        self
    }

    /// The address family (default: the internal address's, or
    /// [`Family::Ipv4`] for this host): [`Family::Ipv6`] opens a pinhole for
    /// this host's global IPv6 address.
    pub fn family(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    /// The external port to ask for (default [`ExternalPort::Same`]).
    pub fn external(mut self, port: ExternalPort) -> Self {
        self.external_port = port;
        self
    }

    /// Ask for this external port (the default is the internal port):
    /// [`ExternalPort::Preferred`].
    pub fn external_port(self, port: u16) -> Self {
        self.external(ExternalPort::Preferred(port))
    }

    /// Ask for exactly this external port: [`ExternalPort::Exact`].
    pub fn exact_external_port(self, port: u16) -> Self {
        self.external(ExternalPort::Exact(port))
    }

    /// Accept any external port the gateway picks: [`ExternalPort::Any`].
    pub fn any_external_port(self) -> Self {
        self.external(ExternalPort::Any)
    }

    /// Ask for a lease of this length (default [`DEFAULT_LEASE`]). Zero is
    /// rejected: use [`permanent`](Self::permanent) to ask for no end.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Ask for this [`Lease`]: a length, or [`Lease::Permanent`].
    pub fn lease_of(self, lease: Lease) -> Self {
        match lease {
            Lease::Finite(d) => self.lease(d),
            Lease::Permanent => self.permanent(),
        }
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
    /// [`Invalid`] (which `?` turns into [`Error::InvalidRequest`](crate::Error::InvalidRequest))
    /// for port 0, a lease of zero without [`permanent`](Self::permanent), a
    /// lease and `permanent` together, a lease over 2^32 - 1 seconds, an
    /// internal address that cannot be a LAN host, or a description that is
    /// too long or holds control characters.
    ///
    /// # Examples
    ///
    /// Each error says what is wrong and what to give instead:
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use std::time::Duration;
    /// use pfwd_core::{Family, MappingRequest, Protocol};
    ///
    /// let tcp = |port| MappingRequest::builder(Protocol::Tcp, port);
    /// let why = |b: pfwd_core::MappingRequestBuilder| b.build().unwrap_err().reason;
    ///
    /// assert!(why(tcp(0)).starts_with("internal port 0 is not a port"));
    /// assert!(why(tcp(80).external_port(0)).starts_with("external port 0 is not a port"));
    /// assert!(why(tcp(80).lease(Duration::ZERO)).contains("give a length such as 2h"));
    /// assert!(why(tcp(80).lease(Duration::from_secs(60)).permanent()).contains("choose one"));
    /// assert!(why(tcp(80).description("x".repeat(65))).contains("at most 64"));
    ///
    /// // Addresses that cannot be a server on the LAN.
    /// let loopback = why(tcp(80).internal_ip(Ipv4Addr::LOCALHOST));
    /// assert!(loopback.starts_with("127.0.0.1 is a loopback address"));
    /// let link_local = why(tcp(80).internal_ip(Ipv4Addr::new(169, 254, 1, 4)));
    /// assert!(link_local.contains("link-local"));
    /// let mixed = why(tcp(80).internal_ip(Ipv4Addr::new(192, 168, 1, 4)).family(Family::Ipv6));
    /// assert!(mixed.contains("is an IPv4 address but the request asks for IPv6"));
    /// ```
    ///
    /// A port over 65535 cannot even be given (the port is a `u16`): the
    /// parsers refuse it as typed, and whether a host is on this LAN is
    /// [`GatewayInfo::lan_host`](crate::GatewayInfo::lan_host)'s question,
    /// as the builder does not know the LAN:
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::GatewayInfo;
    /// use pfwd_core::gateway::Ipv4Net;
    /// use pfwd_core::parse::{parse_host, parse_port};
    ///
    /// let e = parse_port("70000").unwrap_err();
    /// assert_eq!(e.reason, "port 70000 is out of range: ports go from 1 to 65535");
    /// let e = parse_host("192.168.1.300").unwrap_err();
    /// assert!(e.reason.contains("is not an IPv4 address or a host name"));
    ///
    /// let home = GatewayInfo {
    ///     interface: Some("eth0".into()),
    ///     gateway: Ipv4Addr::new(192, 168, 1, 1),
    ///     local: Ipv4Addr::new(192, 168, 1, 4),
    ///     lan: Some(Ipv4Net::new(Ipv4Addr::new(192, 168, 1, 0), 24)),
    /// };
    /// let e = home.lan_host(Some(Ipv4Addr::new(10, 0, 0, 5))).unwrap_err();
    /// assert!(e.reason.starts_with("10.0.0.5 is not on the gateway's network (192.168.1.0/24)"));
    /// ```
    pub fn build(self) -> Result<MappingRequest, Invalid> {
        if self.internal_port == 0 {
            return Err(Invalid::new(
                "internal port 0 is not a port: give the port your server listens on (1-65535)",
            ));
        }
        let family = match (self.family, self.internal_ip) {
            (Some(f), Some(ip)) if Family::of(ip) != f => {
                return Err(Invalid::new(format!(
                    "{ip} is an {} address but the request asks for {f}: give an {f} \
                     address, or leave the family out",
                    Family::of(ip)
                )));
            }
            (Some(f), _) => f,
            (None, Some(ip)) => Family::of(ip),
            (None, None) => Family::Ipv4,
        };
        let external_port = match self.external_port {
            ExternalPort::Same => Some(self.internal_port),
            ExternalPort::Preferred(0) | ExternalPort::Exact(0) => {
                return Err(Invalid::new(
                    "external port 0 is not a port: give 1-65535, or ask for any port",
                ));
            }
            ExternalPort::Preferred(p) | ExternalPort::Exact(p) => Some(p),
            ExternalPort::Any => None,
        };
        let external_port = match (family, external_port) {
            (Family::Ipv6, Some(p)) if p != self.internal_port => {
                return Err(Invalid::new(format!(
                    "over IPv6 nothing is translated: a pinhole opens the server's own port {}, \
                     so there is no outside port {p}; leave the outside port out, or forward \
                     over IPv4",
                    self.internal_port
                )));
            }
            (Family::Ipv6, _) => Some(self.internal_port),
            (Family::Ipv4, p) => p,
        };
        let lease = match (self.permanent, self.lease) {
            (true, Some(_)) => {
                return Err(Invalid::new(
                    "a request cannot have both a lease length and be permanent: choose one",
                ));
            }
            (true, None) => Lease::Permanent,
            (false, None) => Lease::Finite(DEFAULT_LEASE),
            (false, Some(d)) => Lease::Finite(check_lease(d)?),
        };
        match self.internal_ip {
            Some(IpAddr::V4(ip)) => check_lan_host(ip)?,
            Some(IpAddr::V6(ip)) => check_ipv6_host(ip)?,
            None => {}
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
            family,
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

/// A finite lease as the protocols can carry it: more than zero, at most
/// 2^32 - 1 seconds; a fraction of a second rounds up to one.
pub(crate) fn check_lease(d: Duration) -> Result<Duration, Invalid> {
    if d.is_zero() {
        return Err(Invalid::new(
            "a lease of zero seconds is not a lease: give a length such as 2h, \
             or ask for a permanent mapping (forever) explicitly",
        ));
    }
    if d.as_secs() > u64::from(u32::MAX) {
        return Err(Invalid::new(format!(
            "a lease of {} s is longer than any router accepts (at most {} s, about 136 years): \
             ask for less, or for a permanent mapping (forever)",
            d.as_secs(),
            u32::MAX
        )));
    }
    // Sub-second leases round up to one second: the protocols count seconds.
    Ok(Duration::from_secs(d.as_secs().max(1)))
}

fn check_lan_host(ip: Ipv4Addr) -> Result<(), Invalid> {
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
    Err(Invalid::new(format!(
        "{ip} {why}, not a LAN host: give the LAN address of the machine running the \
         server (for example 192.168.1.4), or leave it out to use this machine"
    )))
}

fn check_ipv6_host(ip: Ipv6Addr) -> Result<(), Invalid> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Err(Invalid::new(format!(
            "{ip} is an IPv4 address written as IPv6: give {v4} for a port mapping, or the \
             host's own IPv6 address for a pinhole"
        )));
    }
    let why = if ip.is_unspecified() {
        "is the unspecified address"
    } else if ip.is_loopback() {
        "is the loopback address that only this machine can reach"
    } else if ip.is_multicast() {
        "is a multicast address"
    } else if ip.is_unicast_link_local() {
        "is a link-local address that routers do not forward to"
    } else if ip.is_unique_local() {
        "is a unique local address (fc00::/7) that the internet cannot reach"
    } else {
        return Ok(());
    };
    Err(Invalid::new(format!(
        "{ip} {why}, not a host the internet can reach: give the host's global IPv6 address \
         (for example 2001:db8::4, from `ip -6 addr`), or leave it out to use this machine"
    )))
}

fn check_description(d: &str) -> Result<(), Invalid> {
    if d.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(Invalid::new(format!(
            "the description is {} characters long; routers accept at most {MAX_DESCRIPTION_LEN}: shorten it",
            d.chars().count()
        )));
    }
    if d.chars().any(char::is_control) {
        return Err(Invalid::new(
            "the description holds control characters (such as a newline): use printable text",
        ));
    }
    Ok(())
}
