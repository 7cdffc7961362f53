//! What to forward, as a person gives it: a port or service name, the
//! server (`to`), the protocols, the outside port, the lease and the
//! description, checked and turned into one [`MappingRequest`] per protocol.
//! The command, the Python package and the C library all start here, so a
//! default (the description, the outside port) is decided once.

use std::net::IpAddr;

use crate::model::{ExternalPort, Family, Invalid, Lease, MappingRequest, Protocol, Warning};
use crate::parse::{PortSpec, Transports, parse_external, parse_host, parse_port};

/// How the caller names its inputs in error messages: `--to` on a command
/// line, `to` for a keyword argument.
///
/// # Examples
///
/// ```
/// use pfwd_core::Lease;
/// use pfwd_core::target::{Names, Target};
///
/// let bad = |names| Target::parse(names, "80", Some("bad host!"), None, None, Lease::Permanent, None);
/// assert!(bad(Names::FLAGS).unwrap_err().reason.starts_with("--to: "));
/// assert!(bad(Names::KEYWORDS).unwrap_err().reason.starts_with("to: "));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    /// The server's name.
    pub to: &'static str,
    /// The outside port's name.
    pub external: &'static str,
}

impl Names {
    /// A command line's flags.
    pub const FLAGS: Names = Names {
        to: "--to",
        external: "--external",
    };
    /// A function's keyword arguments (Python).
    pub const KEYWORDS: Names = Names {
        to: "to",
        external: "external",
    };
}

/// One thing to forward: a service port to a server, on one or more protocols.
///
/// # Examples
///
/// `pfwd map dns --to 192.168.1.53 --external 5353`: a service on TCP and
/// UDP, another outside port, one request per protocol.
///
/// ```
/// use std::net::Ipv4Addr;
/// use std::time::Duration;
/// use pfwd_core::target::{Names, Target};
/// use pfwd_core::{ExternalPort, Lease, Protocol};
///
/// let lease = Lease::Finite(Duration::from_secs(3600));
/// let dns = Target::parse(Names::FLAGS, "dns", Some("192.168.1.53"), None, Some("5353"), lease, None)?;
/// assert_eq!(dns.spec.port, 53);
/// assert_eq!(dns.host, Some(Ipv4Addr::new(192, 168, 1, 53).into()));
/// assert_eq!(dns.protocols, [Protocol::Tcp, Protocol::Udp]); // the service's own
/// assert_eq!(dns.external, ExternalPort::Exact(5353)); // typed, so exactly
/// assert_eq!(dns.description, "pfwd dns");
///
/// let requests = dns.requests()?;
/// assert_eq!(requests.len(), 2);
/// assert!(requests.iter().all(|r| r.external_port() == Some(5353) && r.internal_port() == 53));
///
/// // An open resolver is abused for amplification: one warning per protocol.
/// assert_eq!(dns.warnings().len(), 2);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The port (and the service, when known).
    pub spec: PortSpec,
    /// The server; `None`: this machine.
    pub host: Option<IpAddr>,
    /// The address family: `None` is automatic (IPv4, and an IPv6 pinhole
    /// too where this host has a global IPv6 address and the router can
    /// open one: [`ipv6_also`](Self::ipv6_also)); an IPv6 `host` makes it
    /// IPv6.
    pub family: Option<Family>,
    /// The port on the server.
    pub internal_port: u16,
    /// TCP, UDP or both.
    pub protocols: Vec<Protocol>,
    /// The outside port: [`ExternalPort::Same`] asks for the service's port
    /// where the router allows.
    pub external: ExternalPort,
    /// The lease.
    pub lease: Lease,
    /// What the router shows.
    pub description: String,
}

/// The protocols asked for, or the service's own (TCP for a bare port).
///
/// # Examples
///
/// ```
/// use pfwd_core::parse::Transports;
/// use pfwd_core::target::protocols_for;
/// use pfwd_core::{Protocol, parse_port};
///
/// let wireguard = parse_port("wireguard")?;
/// assert_eq!(protocols_for(&wireguard, None), [Protocol::Udp]);
/// assert_eq!(protocols_for(&wireguard, Some(Transports::Both)), [Protocol::Tcp, Protocol::Udp]);
/// assert_eq!(protocols_for(&parse_port("4000")?, None), [Protocol::Tcp]);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn protocols_for(spec: &PortSpec, choice: Option<Transports>) -> Vec<Protocol> {
    choice
        .map_or_else(|| spec.protocols(), Transports::protocols)
        .to_vec()
}

/// The server given as `HOST[:PORT]`: its address and port, if any.
///
/// # Errors
///
/// [`Invalid`] from the core's parser, naming the input `name`.
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::target::parse_to;
///
/// assert_eq!(parse_to(Some("10.0.0.5:8080"), "--to")?, (Some(Ipv4Addr::new(10, 0, 0, 5).into()), Some(8080)));
/// assert_eq!(parse_to(None, "--to")?, (None, None)); // this machine
/// assert!(parse_to(Some(""), "--to").unwrap_err().reason.starts_with("--to: no server given"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_to(to: Option<&str>, name: &str) -> Result<(Option<IpAddr>, Option<u16>), Invalid> {
    match to {
        Some(t) => {
            let h = parse_host(t).map_err(|e| e.context(name))?;
            Ok((Some(h.ip), h.port))
        }
        None => Ok((None, None)),
    }
}

impl Target {
    /// A target from its parts as typed: `port` ("80", "http"), `to`
    /// ("192.168.1.4", "pi4.lan:8080"), the protocols (default: the
    /// service's), `external` ("8080": exactly that port, or "any"; default:
    /// the service's port where the router allows) and `lease`. The
    /// description defaults to "pfwd SERVICE" or "pfwd PORT". Every request
    /// is checked now, so bad input fails before anything is sent.
    ///
    /// # Errors
    ///
    /// [`Invalid`] naming what is wrong (with `names`) and what is accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use pfwd_core::target::{Names, Target};
    /// use pfwd_core::{ExternalPort, Lease};
    ///
    /// let hour = Lease::Finite(Duration::from_secs(3600));
    /// let parse = |port, to, external| Target::parse(Names::FLAGS, port, to, None, external, hour, None);
    ///
    /// // `pfwd map http --to 192.168.1.4:8080`: the service's port outside,
    /// // the server's inside.
    /// let web = parse("http", Some("192.168.1.4:8080"), None)?;
    /// assert_eq!((web.external_port(), web.internal_port), (80, 8080));
    /// assert_eq!(web.external, ExternalPort::Same);
    /// assert_eq!(web.requests()?[0].external_port(), Some(80));
    ///
    /// // Bad input fails here, before anything is sent.
    /// let why = |port, to, external| parse(port, to, external).unwrap_err().reason;
    /// assert_eq!(why("70000", None, None), "port 70000 is out of range: ports go from 1 to 65535");
    /// assert_eq!(why("0", None, None), "port 0 is not a port: give 1-65535");
    /// assert!(why("80", Some("192.168.1.300"), None).starts_with("--to: "));
    /// assert!(why("80", Some("127.0.0.1"), None).contains("127.0.0.1 is a loopback address"));
    /// assert!(why("80", None, Some("0")).starts_with("--external: port 0 is not a port"));
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn parse(
        names: Names,
        port: &str,
        to: Option<&str>,
        protocols: Option<Transports>,
        external: Option<&str>,
        lease: Lease,
        description: Option<&str>,
    ) -> Result<Target, Invalid> {
        let spec = parse_port(port)?;
        let (host, to_port) = parse_to(to, names.to)?;
        let external = match external {
            None => ExternalPort::Same,
            Some(e) => parse_external(e).map_err(|err| err.context(names.external))?,
        };
        let description = match description {
            Some(d) => d.to_string(),
            None => match spec.service {
                Some(s) if s.port == spec.port => format!("pfwd {}", s.name),
                _ => format!("pfwd {}", spec.port),
            },
        };
        let target = Target {
            spec,
            family: host.map(Family::of),
            host,
            internal_port: to_port.unwrap_or(spec.port),
            protocols: protocols_for(&spec, protocols),
            external,
            lease,
            description,
        };
        target.requests()?;
        Ok(target)
    }

    /// The same target in `family` (`None`: automatic), checked against
    /// its server.
    ///
    /// # Errors
    ///
    /// [`Invalid`] when the server's address is of the other family.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::target::{Names, Target};
    /// use pfwd_core::{Family, Lease};
    ///
    /// let web = |to| Target::parse(Names::FLAGS, "http", to, None, None, Lease::Permanent, None);
    ///
    /// // This host, IPv6 only (`pfwd map http -6`): pinholes, no IPv4 mapping.
    /// let v6 = web(None)?.in_family(Some(Family::Ipv6))?;
    /// assert_eq!(v6.primary_family(), Family::Ipv6);
    /// assert_eq!(v6.requests()?[0].family(), Family::Ipv6);
    ///
    /// let e = web(Some("192.168.1.4"))?.in_family(Some(Family::Ipv6)).unwrap_err();
    /// assert!(e.reason.contains("is an IPv4 address, and IPv6 was asked for"));
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn in_family(mut self, family: Option<Family>) -> Result<Target, Invalid> {
        if let (Some(f), Some(h)) = (family, self.host)
            && Family::of(h) != f
        {
            return Err(Invalid::new(format!(
                "the server {h} is an {} address, and {f} was asked for: give the server's {f} \
                 address, or leave the family out",
                Family::of(h)
            )));
        }
        self.family = family.or(self.host.map(Family::of));
        self.requests()?;
        Ok(self)
    }

    /// The family of [`requests`](Self::requests): the one asked for, the
    /// server's, or IPv4.
    pub fn primary_family(&self) -> Family {
        self.family.unwrap_or(Family::Ipv4)
    }

    /// Whether an automatic target also opens an IPv6 pinhole for this
    /// host where it can ([`ipv6_requests`](Self::ipv6_requests)); a
    /// failure there is a note, not the target's failure.
    pub fn ipv6_also(&self) -> bool {
        self.family.is_none() && self.host.is_none()
    }

    /// The IPv6 pinhole requests of an automatic target (one per
    /// protocol, for this host's own port: nothing is translated over
    /// IPv6); empty unless [`ipv6_also`](Self::ipv6_also).
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::target::{Names, Target};
    /// use pfwd_core::{Family, Lease};
    ///
    /// // This host, family automatic: IPv4, and a pinhole where it can.
    /// let web = Target::parse(Names::FLAGS, "http", None, None, None, Lease::Permanent, None)?;
    /// assert!(web.ipv6_also());
    /// let pinholes = web.ipv6_requests();
    /// assert_eq!(pinholes.len(), 1);
    /// assert_eq!((pinholes[0].family(), pinholes[0].external_port()), (Family::Ipv6, Some(80)));
    ///
    /// // A server named by its IPv4 address: IPv4 only.
    /// let pi = Target::parse(Names::FLAGS, "http", Some("192.168.1.4"), None, None, Lease::Permanent, None)?;
    /// assert!(!pi.ipv6_also() && pi.ipv6_requests().is_empty());
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn ipv6_requests(&self) -> Vec<MappingRequest> {
        if !self.ipv6_also() {
            return Vec::new();
        }
        self.requests_in(Family::Ipv6).unwrap_or_default()
    }

    /// The same target, with the outside port required exactly (`true`:
    /// the router must grant it, or the mapping fails) or only preferred
    /// (`false`: another port is accepted and reported).
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::target::{Names, Target};
    /// use pfwd_core::{ExternalPort, Lease};
    ///
    /// let web = Target::parse(Names::FLAGS, "http", None, None, None, Lease::Permanent, None)?;
    /// assert_eq!(web.clone().exactly(true).external, ExternalPort::Exact(80));
    /// assert_eq!(web.exactly(false).external, ExternalPort::Same);
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    #[must_use]
    pub fn exactly(mut self, exact: bool) -> Target {
        let port = self.external_port();
        self.external = match (self.external, exact) {
            (ExternalPort::Same | ExternalPort::Preferred(_), true) => ExternalPort::Exact(port),
            (ExternalPort::Exact(p), false) => ExternalPort::Preferred(p),
            (other, _) => other,
        };
        self
    }

    /// The outside port asked for (the service port unless `external`).
    pub fn external_port(&self) -> u16 {
        match self.external {
            ExternalPort::Exact(p) | ExternalPort::Preferred(p) => p,
            ExternalPort::Same | ExternalPort::Any => self.spec.port,
        }
    }

    /// One request per protocol.
    ///
    /// # Errors
    ///
    /// [`Invalid`] from the request builder (a description too long, a host
    /// that cannot be a server).
    pub fn requests(&self) -> Result<Vec<MappingRequest>, Invalid> {
        self.requests_in(self.primary_family())
    }

    fn requests_in(&self, family: Family) -> Result<Vec<MappingRequest>, Invalid> {
        self.protocols
            .iter()
            .map(|&p| {
                let external = match (family, self.external) {
                    // A pinhole opens the server's own port (the builder
                    // refuses another).
                    (Family::Ipv6, ExternalPort::Same | ExternalPort::Any) => ExternalPort::Same,
                    (Family::Ipv6, other) => other,
                    // The service's port outside, where the router allows.
                    (Family::Ipv4, ExternalPort::Same) => ExternalPort::Preferred(self.spec.port),
                    (Family::Ipv4, other) => other,
                };
                let mut b = MappingRequest::builder(p, self.internal_port)
                    .description(self.description.clone())
                    .lease_of(self.lease)
                    .family(family)
                    .external(external);
                if let Some(h) = self.host {
                    b = b.internal_ip(h);
                }
                b.build()
            })
            .collect()
    }

    /// The risk warnings for the ports this target opens, each once.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut all: Vec<Warning> = Vec::new();
        for w in self
            .requests()
            .unwrap_or_default()
            .iter()
            .flat_map(MappingRequest::warnings)
        {
            if !all.contains(&w) {
                all.push(w);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn lease() -> Lease {
        Lease::Finite(Duration::from_secs(60))
    }

    #[test]
    fn service_to_host() {
        let t = Target::parse(
            Names::FLAGS,
            "http",
            Some("192.168.1.4"),
            None,
            None,
            lease(),
            None,
        )
        .unwrap();
        assert_eq!(t.spec.port, 80);
        assert_eq!(t.host, Some(std::net::Ipv4Addr::new(192, 168, 1, 4).into()));
        assert_eq!(t.internal_port, 80);
        assert_eq!(t.protocols, vec![Protocol::Tcp]);
        assert_eq!(t.description, "pfwd http");
        let r = t.requests().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].external_port(), Some(80));
        assert!(!r[0].exact_external_port());
        assert!(t.warnings().is_empty());
    }

    fn web(to: Option<&str>) -> Target {
        Target::parse(Names::FLAGS, "http", to, None, None, lease(), None).unwrap()
    }

    #[test]
    fn families_automatic_asked_and_from_the_server() {
        // Automatic: IPv4, and an IPv6 pinhole for this host where it can.
        let auto = web(None);
        assert_eq!((auto.family, auto.primary_family()), (None, Family::Ipv4));
        assert!(auto.ipv6_also());
        let v6 = auto.ipv6_requests();
        assert_eq!(v6.len(), 1);
        assert_eq!(
            (v6[0].family(), v6[0].external_port()),
            (Family::Ipv6, Some(80))
        );
        // An IPv6 server is a pinhole for it, and nothing else.
        let server = web(Some("[2001:db8::4]:8080"));
        assert_eq!(server.family, Some(Family::Ipv6));
        assert!(!server.ipv6_also());
        let r = server.requests().unwrap();
        assert_eq!(
            r[0].internal_ipv6().map(|a| a.to_string()).as_deref(),
            Some("2001:db8::4")
        );
        // Asked for IPv6 only, or IPv4 only.
        let only6 = web(None).in_family(Some(Family::Ipv6)).unwrap();
        assert_eq!(only6.requests().unwrap()[0].family(), Family::Ipv6);
        assert!(only6.ipv6_requests().is_empty());
        let only4 = web(None).in_family(Some(Family::Ipv4)).unwrap();
        assert!(!only4.ipv6_also());
        let e = web(Some("192.168.1.4"))
            .in_family(Some(Family::Ipv6))
            .unwrap_err()
            .reason;
        assert!(
            e.contains("is an IPv4 address, and IPv6 was asked for"),
            "{e}"
        );
        // Another outside port cannot be had over IPv6.
        let moved =
            Target::parse(Names::FLAGS, "80", None, None, Some("8080"), lease(), None).unwrap();
        assert!(moved.ipv6_requests().is_empty());
        let e = moved.in_family(Some(Family::Ipv6)).unwrap_err().reason;
        assert!(e.contains("nothing is translated"), "{e}");
    }

    #[test]
    fn host_port_external_and_protocols() {
        let t = Target::parse(
            Names::FLAGS,
            "80",
            Some("10.0.0.5:8080"),
            Some(Transports::Both),
            Some("8000"),
            lease(),
            Some("web"),
        )
        .unwrap();
        assert_eq!(t.internal_port, 8080);
        assert_eq!(t.external, ExternalPort::Exact(8000));
        let r = t.requests().unwrap();
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|r| r.exact_external_port()));
        assert_eq!(r[1].protocol(), Protocol::Udp);
        let any = Target::parse(
            Names::FLAGS,
            "wireguard",
            None,
            None,
            Some("any"),
            lease(),
            None,
        )
        .unwrap();
        assert_eq!(any.protocols, vec![Protocol::Udp]);
        assert_eq!(any.requests().unwrap()[0].external_port(), None);
        // The service's port outside, the server's inside.
        let p = Target::parse(
            Names::FLAGS,
            "80",
            Some("10.0.0.5:8080"),
            None,
            None,
            lease(),
            None,
        )
        .unwrap();
        assert_eq!(p.requests().unwrap()[0].external_port(), Some(80));
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let e = |port: &str, to: Option<&str>, ext: Option<&str>| {
            Target::parse(Names::FLAGS, port, to, None, ext, lease(), None)
                .unwrap_err()
                .reason
        };
        assert!(e("70000", None, None).contains("out of range"));
        assert!(e("0", None, None).contains("port 0"));
        assert!(e("gopher-ish", None, None).contains("unknown service"));
        assert!(e("80", Some("192.168.1.300"), None).contains("not an IPv4 address"));
        assert!(e("80", Some("192.168.1.4:99999"), None).contains("out of range"));
        assert!(e("80", Some("fe80::1"), None).contains("IPv6"));
        assert!(e("80", Some("bad host!"), None).starts_with("--to: "));
        assert!(e("80", Some("127.0.0.1"), None).contains("127.0.0.1"));
        assert!(e("80", None, Some("0")).contains("--external"));
    }

    #[test]
    fn risky_targets_warn() {
        let t = Target::parse(Names::FLAGS, "telnet", None, None, None, lease(), None).unwrap();
        let w = t.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].text.contains("SSH"), "{}", w[0].text);
        let rdp = Target::parse(
            Names::FLAGS,
            "rdp",
            None,
            Some(Transports::Both),
            None,
            lease(),
            None,
        )
        .unwrap();
        assert_eq!(rdp.warnings().len(), 2, "one per protocol");
    }
}

#[cfg(test)]
mod exact_tests {
    use std::time::Duration;

    use super::*;

    fn target(external: Option<&str>) -> Target {
        let lease = Lease::Finite(Duration::from_secs(60));
        Target::parse(Names::KEYWORDS, "http", None, None, external, lease, None).unwrap()
    }

    #[test]
    fn exactly_makes_the_outside_port_required_or_preferred() {
        assert_eq!(target(None).exactly(true).external, ExternalPort::Exact(80));
        assert_eq!(target(None).exactly(false).external, ExternalPort::Same);
        assert_eq!(
            target(Some("8080")).exactly(false).external,
            ExternalPort::Preferred(8080)
        );
        assert_eq!(
            target(Some("8080")).exactly(true).external,
            ExternalPort::Exact(8080)
        );
        assert_eq!(
            target(Some("any")).exactly(true).external,
            ExternalPort::Any
        );
        let e = Target::parse(
            Names::KEYWORDS,
            "80",
            Some("bad host!"),
            None,
            None,
            Lease::Permanent,
            None,
        )
        .unwrap_err();
        assert!(e.reason.starts_with("to: "), "{}", e.reason);
    }
}
