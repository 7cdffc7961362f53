//! What a command line or a config entry asks to forward, checked and turned
//! into mapping requests: the port or service, the server, the protocols,
//! the outside port, the lease.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use pfwd_core::services::PortSpec;
use pfwd_core::{Error, MappingRequest, Protocol, parse_port};

use crate::args::ProtocolArgs;

/// The outside port asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum External {
    /// The same as the service port, where the router allows (default).
    Same,
    /// Exactly this port, or fail.
    Exact(u16),
    /// Whatever port the router gives.
    Any,
}

/// How long a lease lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseArg {
    /// A finite lease.
    For(Duration),
    /// No end: the router keeps it until deleted.
    Forever,
}

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
    pub external: External,
    /// The lease.
    pub lease: LeaseArg,
    /// What the router shows.
    pub description: String,
}

impl Target {
    /// A target from its parts as typed: `port` ("80", "http"), `to`
    /// ("192.168.1.4", "pi4.lan:8080"), the protocol flags, `external`
    /// ("8080", "any") and `lease`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming what is wrong and what is accepted.
    pub fn parse(
        port: &str,
        to: Option<&str>,
        protocols: &ProtocolArgs,
        external: Option<&str>,
        lease: LeaseArg,
        description: Option<&str>,
    ) -> Result<Target, Error> {
        let spec = parse_port(port)?;
        let (host, to_port) = match to {
            Some(t) => {
                let (h, p) = parse_host(t)?;
                (Some(h), p)
            }
            None => (None, None),
        };
        let protocols = protocols_for(&spec, protocols);
        let external = match external {
            None => External::Same,
            Some(e) if e.trim().eq_ignore_ascii_case("any") => External::Any,
            Some(e) => External::Exact(
                parse_port(e)
                    .map_err(|err| Error::invalid(format!("--external: {}", reason(&err))))?
                    .port,
            ),
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
            protocols,
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
            External::Exact(p) => p,
            External::Same | External::Any => self.spec.port,
        }
    }

    /// One request per protocol.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] from the request builder (a description too
    /// long, a host that cannot be a server).
    pub fn requests(&self) -> Result<Vec<MappingRequest>, Error> {
        self.protocols
            .iter()
            .map(|&p| {
                let mut b = MappingRequest::builder(p, self.internal_port)
                    .description(self.description.clone());
                if let Some(h) = self.host {
                    b = b.internal_ip(h);
                }
                b = match self.external {
                    External::Same => b.external_port(self.spec.port),
                    External::Exact(port) => b.exact_external_port(port),
                    External::Any => b.any_external_port(),
                };
                b = match self.lease {
                    LeaseArg::For(d) => b.lease(d),
                    LeaseArg::Forever => b.permanent(),
                };
                b.build()
            })
            .collect()
    }
}

/// The protocols the flags ask for, or the service's own.
pub fn protocols_for(spec: &PortSpec, flags: &ProtocolArgs) -> Vec<Protocol> {
    if flags.both {
        vec![Protocol::Tcp, Protocol::Udp]
    } else if flags.tcp {
        vec![Protocol::Tcp]
    } else if flags.udp {
        vec![Protocol::Udp]
    } else {
        spec.protocols().to_vec()
    }
}

/// Parse `HOST` or `HOST:PORT`, where HOST is an IPv4 address or a name this
/// machine can resolve to one.
///
/// # Errors
///
/// [`Error::InvalidRequest`] saying what was wrong.
pub fn parse_host(text: &str) -> Result<(Ipv4Addr, Option<u16>), Error> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::invalid(
            "--to is empty: give the server's address, such as 192.168.1.4 or 192.168.1.4:8080",
        ));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port = parse_port(p)
                .map_err(|e| Error::invalid(format!("the port in --to {t:?}: {}", reason(&e))))?;
            (h, Some(port.port))
        }
        Some(_) => {
            return Err(Error::invalid(format!(
                "{t:?} looks like an IPv6 address: pfwd forwards IPv4 ports; give the \
                 server's IPv4 address, such as 192.168.1.4"
            )));
        }
        None => (t, None),
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok((ip, port));
    }
    let looks_numeric = host.chars().all(|c| c.is_ascii_digit() || c == '.');
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if looks_numeric || !valid_name {
        return Err(Error::invalid(format!(
            "{host:?} is not an IPv4 address or a host name: give the server's address, \
             such as 192.168.1.4"
        )));
    }
    let resolved = (host, 0u16).to_socket_addrs().map_err(|e| {
        Error::invalid(format!(
            "cannot find the host {host:?} ({e}): give its IPv4 address, such as 192.168.1.4"
        ))
    })?;
    resolved
        .into_iter()
        .find_map(|a| match a {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        })
        .map(|ip| (ip, port))
        .ok_or_else(|| {
            Error::invalid(format!(
                "the host {host:?} has no IPv4 address: give its IPv4 address, such as 192.168.1.4"
            ))
        })
}

/// Parse a duration such as `90s`, `30m`, `2h`, `1d`, `1h 30m`, or
/// `forever` / `permanent`.
///
/// # Errors
///
/// [`Error::InvalidRequest`] with the forms accepted.
pub fn parse_lease(text: &str) -> Result<LeaseArg, Error> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("forever") || t.eq_ignore_ascii_case("permanent") {
        return Ok(LeaseArg::Forever);
    }
    let d = parse_duration(t)?;
    if d.is_zero() {
        return Err(Error::invalid(
            "a lease of 0 would end at once: give a duration such as 2h, or `forever` for \
             a mapping that stays until removed",
        ));
    }
    if d.as_secs() > u64::from(u32::MAX) {
        return Err(Error::invalid(format!(
            "the lease {t} is longer than the protocols can carry (about 136 years): give \
             a shorter one, or `forever`"
        )));
    }
    Ok(LeaseArg::For(d))
}

/// Parse a duration such as `500ms`, `90s`, `30m`, `2h`, `1d`; a bare
/// number is seconds.
///
/// # Errors
///
/// [`Error::InvalidRequest`] with the forms accepted.
pub fn parse_duration(text: &str) -> Result<Duration, Error> {
    let t = text.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| Error::invalid(format!("the duration {t} is too long")));
    }
    humantime::parse_duration(t).map_err(|e| {
        Error::invalid(format!(
            "{t:?} is not a duration ({e}): write it as 90s, 30m, 2h or 1d"
        ))
    })
}

/// The reason inside an invalid-request error, without its prefix.
pub fn reason(e: &Error) -> String {
    match e {
        Error::InvalidRequest { reason } => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> ProtocolArgs {
        ProtocolArgs::default()
    }

    fn lease() -> LeaseArg {
        LeaseArg::For(Duration::from_secs(60))
    }

    #[test]
    fn service_to_host() {
        let t = Target::parse("http", Some("192.168.1.4"), &flags(), None, lease(), None).unwrap();
        assert_eq!(t.spec.port, 80);
        assert_eq!(t.host, Some(Ipv4Addr::new(192, 168, 1, 4)));
        assert_eq!(t.internal_port, 80);
        assert_eq!(t.protocols, vec![Protocol::Tcp]);
        assert_eq!(t.description, "pfwd http");
        let r = t.requests().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].external_port(), Some(80));
        assert!(!r[0].exact_external_port());
    }

    #[test]
    fn host_port_external_and_protocols() {
        let both = ProtocolArgs {
            both: true,
            ..flags()
        };
        let t = Target::parse(
            "80",
            Some("10.0.0.5:8080"),
            &both,
            Some("8000"),
            lease(),
            Some("web"),
        )
        .unwrap();
        assert_eq!(t.internal_port, 8080);
        assert_eq!(t.external, External::Exact(8000));
        let r = t.requests().unwrap();
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|r| r.exact_external_port()));
        assert_eq!(r[1].protocol(), Protocol::Udp);
        let any = Target::parse("wireguard", None, &flags(), Some("any"), lease(), None).unwrap();
        assert_eq!(any.protocols, vec![Protocol::Udp]);
        assert_eq!(any.requests().unwrap()[0].external_port(), None);
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let e = |port: &str, to: Option<&str>, ext: Option<&str>| {
            reason(&Target::parse(port, to, &flags(), ext, lease(), None).unwrap_err())
        };
        assert!(e("70000", None, None).contains("out of range"));
        assert!(e("0", None, None).contains("port 0"));
        assert!(e("gopher-ish", None, None).contains("unknown service"));
        assert!(e("80", Some("192.168.1.300"), None).contains("not an IPv4 address"));
        assert!(e("80", Some("192.168.1.4:99999"), None).contains("out of range"));
        assert!(e("80", Some("fe80::1"), None).contains("IPv6"));
        assert!(e("80", Some("bad host!"), None).contains("not an IPv4 address"));
        assert!(e("80", Some("127.0.0.1"), None).contains("127.0.0.1"));
        assert!(e("80", None, Some("0")).contains("--external"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_lease("2h").unwrap(),
            LeaseArg::For(Duration::from_secs(7200))
        );
        assert_eq!(
            parse_lease("1h 30m").unwrap(),
            LeaseArg::For(Duration::from_secs(5400))
        );
        assert_eq!(
            parse_lease("90").unwrap(),
            LeaseArg::For(Duration::from_secs(90))
        );
        assert_eq!(parse_lease("forever").unwrap(), LeaseArg::Forever);
        assert!(reason(&parse_lease("0s").unwrap_err()).contains("forever"));
        assert!(reason(&parse_lease("soon").unwrap_err()).contains("2h"));
        assert!(reason(&parse_lease("200y").unwrap_err()).contains("longer"));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    }
}
