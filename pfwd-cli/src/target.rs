//! What a command line or a config entry asks to forward: the glue from the
//! flags to the core's parsers (`pfwd_core::parse`) and request builder.

use std::net::Ipv4Addr;

use pfwd_core::parse::{PortSpec, Transports, parse_external, parse_host, parse_port};
use pfwd_core::{ExternalPort, Invalid, Lease, MappingRequest, Protocol, Warning};

use crate::args::ProtocolArgs;

/// One thing to forward: a service port to a server, on one or more protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The port (and the service, when known).
    pub spec: PortSpec,
    /// The server; `None`: this machine.
    pub host: Option<Ipv4Addr>,
    /// The port on the server.
    pub internal_port: u16,
    /// TCP, UDP or both.
    pub protocols: Vec<Protocol>,
    /// The outside port.
    pub external: ExternalPort,
    /// The lease.
    pub lease: Lease,
    /// What the router shows.
    pub description: String,
}

/// The protocol flags as the core's choice; `None` when none is given.
pub fn transports(flags: &ProtocolArgs) -> Option<Transports> {
    if flags.both {
        Some(Transports::Both)
    } else if flags.tcp {
        Some(Transports::Tcp)
    } else if flags.udp {
        Some(Transports::Udp)
    } else {
        None
    }
}

/// The protocols asked for, or the service's own (TCP for a bare port).
pub fn protocols_for(spec: &PortSpec, choice: Option<Transports>) -> Vec<Protocol> {
    choice
        .map_or_else(|| spec.protocols(), Transports::protocols)
        .to_vec()
}

/// The server given with `--to`: its address and port, if any.
///
/// # Errors
///
/// [`Invalid`] from the core's parser, naming `--to`.
pub fn parse_to(to: Option<&str>) -> Result<(Option<Ipv4Addr>, Option<u16>), Invalid> {
    match to {
        Some(t) => {
            let h = parse_host(t).map_err(|e| e.context("--to"))?;
            Ok((Some(h.ip), h.port))
        }
        None => Ok((None, None)),
    }
}

impl Target {
    /// A target from its parts as typed: `port` ("80", "http"), `to`
    /// ("192.168.1.4", "pi4.lan:8080"), the protocols, `external` ("8080",
    /// "any") and `lease`.
    ///
    /// # Errors
    ///
    /// [`Invalid`] naming what is wrong and what is accepted.
    pub fn parse(
        port: &str,
        to: Option<&str>,
        protocols: Option<Transports>,
        external: Option<&str>,
        lease: Lease,
        description: Option<&str>,
    ) -> Result<Target, Invalid> {
        let spec = parse_port(port)?;
        let (host, to_port) = parse_to(to)?;
        let external = match external {
            None => ExternalPort::Same,
            Some(e) => parse_external(e).map_err(|err| err.context("--external"))?,
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
            host,
            internal_port: to_port.unwrap_or(spec.port),
            protocols: protocols_for(&spec, protocols),
            external,
            lease,
            description,
        };
        // Check every request now, so bad input fails before any network traffic.
        target.requests()?;
        Ok(target)
    }

    /// The outside port asked for (the service port unless `--external`).
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
        self.protocols
            .iter()
            .map(|&p| {
                let mut b = MappingRequest::builder(p, self.internal_port)
                    .description(self.description.clone())
                    .lease_of(self.lease)
                    .external(match self.external {
                        // The service's port outside, where the router allows.
                        ExternalPort::Same => ExternalPort::Preferred(self.spec.port),
                        other => other,
                    });
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
        let requests = self.requests().unwrap_or_default();
        crate::output::add_warnings(&mut all, requests.iter().flat_map(MappingRequest::warnings));
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
        let t = Target::parse("http", Some("192.168.1.4"), None, None, lease(), None).unwrap();
        assert_eq!(t.spec.port, 80);
        assert_eq!(t.host, Some(Ipv4Addr::new(192, 168, 1, 4)));
        assert_eq!(t.internal_port, 80);
        assert_eq!(t.protocols, vec![Protocol::Tcp]);
        assert_eq!(t.description, "pfwd http");
        let r = t.requests().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].external_port(), Some(80));
        assert!(!r[0].exact_external_port());
        assert!(t.warnings().is_empty());
    }

    #[test]
    fn host_port_external_and_protocols() {
        let t = Target::parse(
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
        let any = Target::parse("wireguard", None, None, Some("any"), lease(), None).unwrap();
        assert_eq!(any.protocols, vec![Protocol::Udp]);
        assert_eq!(any.requests().unwrap()[0].external_port(), None);
        // The service's port outside, the server's inside.
        let p = Target::parse("80", Some("10.0.0.5:8080"), None, None, lease(), None).unwrap();
        assert_eq!(p.requests().unwrap()[0].external_port(), Some(80));
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let e = |port: &str, to: Option<&str>, ext: Option<&str>| {
            Target::parse(port, to, None, ext, lease(), None)
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
        let t = Target::parse("telnet", None, None, None, lease(), None).unwrap();
        let w = t.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].text.contains("SSH"), "{}", w[0].text);
        let rdp = Target::parse("rdp", None, Some(Transports::Both), None, lease(), None).unwrap();
        assert_eq!(rdp.warnings().len(), 2, "one per protocol");
    }
}
