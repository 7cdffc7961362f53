//! Parsing what people type, for every language: ports and service names,
//! protocols, methods, the external port, durations, leases and hosts. Each
//! function returns [`Invalid`] saying what is wrong and what to write.
//!
//! # Examples
//!
//! `pfwd map minecraft --to 192.168.1.20 --lease 1h30m`, piece by piece:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Duration;
//! use pfwd_core::Lease;
//! use pfwd_core::parse::{parse_host, parse_lease, parse_port};
//!
//! assert_eq!(parse_port("minecraft")?.port, 25565);
//! assert_eq!(parse_host("192.168.1.20")?.ip, Ipv4Addr::new(192, 168, 1, 20));
//! assert_eq!(parse_lease("1h30m")?, Lease::Finite(Duration::from_secs(5400)));
//! # Ok::<(), pfwd_core::Error>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::model::{ExternalPort, Invalid, Lease, Method, check_lease};
pub use crate::services::{PortSpec, Transports, parse_port};

/// Parse `tcp`, `udp` or `both` (any case).
///
/// # Errors
///
/// [`Invalid`] for anything else.
///
/// # Examples
///
/// ```
/// use pfwd_core::Protocol;
/// use pfwd_core::parse::{Transports, parse_transports};
///
/// assert_eq!(parse_transports("BOTH")?, Transports::Both);
/// assert_eq!(parse_transports("udp")?.protocols(), [Protocol::Udp]);
/// assert!(parse_transports("sctp").unwrap_err().reason.contains(r#""tcp", "udp" or "both""#));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_transports(text: &str) -> Result<Transports, Invalid> {
    text.parse()
}

/// Parse a method: `pcp`, `natpmp` (or `nat-pmp`), `upnp` (or `upnp-igd`),
/// `manual`; any case.
///
/// # Errors
///
/// [`Invalid`] naming the methods.
///
/// # Examples
///
/// ```
/// use pfwd_core::Method;
/// use pfwd_core::parse::parse_method;
///
/// assert_eq!(parse_method("upnp-igd")?, Method::Upnp);
/// assert_eq!(parse_method("Manual")?, Method::Manual);
/// assert!(parse_method("smoke").is_err());
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_method(text: &str) -> Result<Method, Invalid> {
    text.parse()
}

/// Parse the external port asked for: a port or service name (exactly that
/// port: [`ExternalPort::Exact`]), `any` ([`ExternalPort::Any`]) or `same`
/// ([`ExternalPort::Same`]).
///
/// # Errors
///
/// [`Invalid`] for anything else.
///
/// # Examples
///
/// ```
/// use pfwd_core::ExternalPort;
/// use pfwd_core::parse::parse_external;
///
/// assert_eq!(parse_external("8080")?, ExternalPort::Exact(8080));
/// assert_eq!(parse_external("https")?, ExternalPort::Exact(443));
/// assert_eq!(parse_external("any")?, ExternalPort::Any);
/// assert_eq!(parse_external("same")?, ExternalPort::Same);
/// assert!(parse_external("70000").unwrap_err().reason.ends_with("or `any` for any outside port"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_external(text: &str) -> Result<ExternalPort, Invalid> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("any") {
        return Ok(ExternalPort::Any);
    }
    if t.eq_ignore_ascii_case("same") {
        return Ok(ExternalPort::Same);
    }
    parse_port(t)
        .map(|p| ExternalPort::Exact(p.port))
        .map_err(|e| Invalid::new(format!("{}, or `any` for any outside port", e.reason)))
}

/// Parse a duration: `90s`, `30m`, `2h`, `1d`, `1h 30m`, `500ms`; a bare
/// number is seconds.
///
/// # Errors
///
/// [`Invalid`] with the forms accepted.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pfwd_core::parse::parse_duration;
///
/// assert_eq!(parse_duration("90")?, Duration::from_secs(90));
/// assert_eq!(parse_duration("30m")?, Duration::from_secs(30 * 60));
/// assert_eq!(parse_duration("1h 30m")?, Duration::from_secs(90 * 60));
/// assert_eq!(parse_duration("1d")?, Duration::from_secs(24 * 3600));
/// assert_eq!(parse_duration("500ms")?, Duration::from_millis(500));
///
/// let e = parse_duration("soon").unwrap_err();
/// assert!(e.reason.ends_with("write it as 90s, 30m, 2h, 1d or 1h 30m"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, Invalid> {
    let t = text.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return t.parse::<u64>().map(Duration::from_secs).map_err(|_| {
            Invalid::new(format!(
                "the duration {t} is too long: write at most a few years, such as 2h or 1d"
            ))
        });
    }
    humantime::parse_duration(t).map_err(|e| {
        Invalid::new(format!(
            "{t:?} is not a duration ({e}): write it as 90s, 30m, 2h, 1d or 1h 30m"
        ))
    })
}

/// Parse a lease: a duration ([`parse_duration`]), or `forever` /
/// `permanent` for a mapping that stays until deleted.
///
/// # Errors
///
/// [`Invalid`] for a duration that cannot be parsed, zero, or one longer
/// than the protocols carry (2^32 - 1 seconds).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pfwd_core::Lease;
/// use pfwd_core::parse::parse_lease;
///
/// assert_eq!(parse_lease("2h")?, Lease::Finite(Duration::from_secs(7200)));
/// assert_eq!(parse_lease("forever")?, Lease::Permanent);
/// assert_eq!(parse_lease("Permanent")?, Lease::Permanent);
/// // A fraction of a second rounds up: the protocols count whole seconds.
/// assert_eq!(parse_lease("200ms")?, Lease::Finite(Duration::from_secs(1)));
///
/// assert!(parse_lease("0s").unwrap_err().reason.contains("not a lease"));
/// assert!(parse_lease("200y").unwrap_err().reason.contains("longer than any router accepts"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_lease(text: &str) -> Result<Lease, Invalid> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("forever") || t.eq_ignore_ascii_case("permanent") {
        return Ok(Lease::Permanent);
    }
    let d = parse_duration(t)?;
    check_lease(d).map(Lease::Finite)
}

/// A server as typed: `HOST` or `HOST:PORT`; see [`parse_host`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort {
    /// The server's address: IPv4, or IPv6 for a pinhole when typed so.
    pub ip: IpAddr,
    /// The port on the server, when given.
    pub port: Option<u16>,
}

/// Parse `HOST` or `HOST:PORT`, where HOST is an IPv4 address or a name
/// this machine resolves to one (`192.168.1.4`, `pi.lan:8080`), or an IPv6
/// address for a pinhole (`2001:db8::4`, `[2001:db8::4]:8080`). Names are
/// looked up with the system's resolver, which may block, and give their
/// IPv4 address.
///
/// # Errors
///
/// [`Invalid`] for an empty text, a bad address or name, a bad port, or a
/// name with no IPv4 address.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use pfwd_core::parse::{HostPort, parse_host};
///
/// assert_eq!(
///     parse_host("192.168.1.4:8080")?,
///     HostPort { ip: Ipv4Addr::new(192, 168, 1, 4).into(), port: Some(8080) }
/// );
/// assert_eq!(parse_host("192.168.1.4:http")?.port, Some(80)); // a service name
/// assert_eq!(parse_host("192.168.1.4")?.port, None);
///
/// // IPv6, for a pinhole: brackets when a port follows.
/// let v6 = parse_host("[2001:db8::4]:8080")?;
/// assert_eq!(v6.ip, "2001:db8::4".parse::<IpAddr>().unwrap());
/// assert_eq!(v6.port, Some(8080));
///
/// assert!(parse_host("192.168.1.300").unwrap_err().reason.contains("not an IPv4 address"));
/// assert!(parse_host("192.168.1.4:99999").unwrap_err().reason.contains("out of range"));
/// assert!(parse_host("[2001:db8::4").unwrap_err().reason.contains("not an IPv6 address"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_host(text: &str) -> Result<HostPort, Invalid> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Invalid::new(
            "no server given: write its address, such as 192.168.1.4 or 192.168.1.4:8080",
        ));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && !h.starts_with('[') => {
            let port = parse_port(p)
                .map_err(|e| Invalid::new(format!("the port in {t:?}: {}", e.reason)))?;
            (h, Some(port.port))
        }
        Some(_) => return parse_ipv6_host(t),
        None => (t, None),
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(HostPort {
            ip: ip.into(),
            port,
        });
    }
    let looks_numeric = host.chars().all(|c| c.is_ascii_digit() || c == '.');
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if looks_numeric || !valid_name {
        return Err(Invalid::new(format!(
            "{host:?} is not an IPv4 address or a host name: give the server's address, \
             such as 192.168.1.4"
        )));
    }
    let resolved = (host, 0u16).to_socket_addrs().map_err(|e| {
        Invalid::new(format!(
            "cannot find the host {host:?} ({e}): give its IPv4 address, such as 192.168.1.4"
        ))
    })?;
    resolved
        .into_iter()
        .find_map(|a| match a {
            SocketAddr::V4(v4) => Some(IpAddr::V4(*v4.ip())),
            SocketAddr::V6(_) => None,
        })
        .map(|ip| HostPort { ip, port })
        .ok_or_else(|| {
            Invalid::new(format!(
                "the host {host:?} has no IPv4 address: give its IPv4 address, such as 192.168.1.4"
            ))
        })
}

/// The router given by address or name (`192.168.1.1`, `router.lan`): its
/// IPv4 address, which every method asks (pinholes find the IPv6 router
/// themselves).
///
/// # Errors
///
/// [`Invalid`] as [`parse_host`], and for an IPv6 address or a port.
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::parse::parse_gateway;
///
/// assert_eq!(parse_gateway("192.168.1.1")?, Ipv4Addr::new(192, 168, 1, 1));
/// assert!(parse_gateway("192.168.1.1:80").unwrap_err().reason.contains("has a port"));
/// assert!(parse_gateway("2001:db8::1").unwrap_err().reason.contains("is an IPv6 address"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_gateway(text: &str) -> Result<Ipv4Addr, Invalid> {
    match parse_host(text)? {
        HostPort {
            ip: IpAddr::V4(ip),
            port: None,
        } => Ok(ip),
        HostPort { port: Some(_), .. } => Err(Invalid::new(format!(
            "the gateway {text:?} has a port: give the router's address alone, such as 192.168.1.1"
        ))),
        HostPort { ip, .. } => Err(Invalid::new(format!(
            "the gateway {ip} is an IPv6 address: give the router's IPv4 address, such as \
             192.168.1.1 (pinholes find the IPv6 router by themselves)"
        ))),
    }
}

/// `2001:db8::4` or `[2001:db8::4]:8080`.
fn parse_ipv6_host(t: &str) -> Result<HostPort, Invalid> {
    let bad = || {
        Invalid::new(format!(
            "{t:?} is not an IPv6 address: write it as 2001:db8::4, or with a port as \
             [2001:db8::4]:8080"
        ))
    };
    if let Ok(ip) = t.parse::<Ipv6Addr>() {
        return Ok(HostPort {
            ip: ip.into(),
            port: None,
        });
    }
    let rest = t.strip_prefix('[').ok_or_else(bad)?;
    let (ip, after) = rest.split_once(']').ok_or_else(bad)?;
    let ip: Ipv6Addr = ip.parse().map_err(|_| bad())?;
    let port = match after {
        "" => None,
        p => {
            let p = p.strip_prefix(':').ok_or_else(bad)?;
            Some(
                parse_port(p)
                    .map_err(|e| Invalid::new(format!("the port in {t:?}: {}", e.reason)))?
                    .port,
            )
        }
    };
    Ok(HostPort {
        ip: ip.into(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn says(r: Result<impl std::fmt::Debug, Invalid>, what: &str, write: &str) {
        let e = r.unwrap_err().reason;
        assert!(e.contains(what), "{e:?} does not say {what:?}");
        assert!(
            e.contains(write),
            "{e:?} does not say what to write ({write:?})"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration(" 90 ").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        says(parse_duration("soon"), "not a duration", "2h");
        says(parse_duration(""), "not a duration", "30m");
        says(parse_duration("99999999999999999999"), "too long", "2h");
    }

    #[test]
    fn leases() {
        assert_eq!(
            parse_lease("2h").unwrap(),
            Lease::Finite(Duration::from_secs(7200))
        );
        assert_eq!(parse_lease("forever").unwrap(), Lease::Permanent);
        assert_eq!(parse_lease("Permanent").unwrap(), Lease::Permanent);
        says(parse_lease("0s"), "zero", "forever");
        says(parse_lease("200y"), "longer", "forever");
        says(parse_lease("soon"), "not a duration", "2h");
    }

    #[test]
    fn hosts() {
        let h = parse_host("192.168.1.4").unwrap();
        assert_eq!((h.ip, h.port), (Ipv4Addr::new(192, 168, 1, 4).into(), None));
        let h = parse_host(" 10.0.0.5:8080 ").unwrap();
        assert_eq!(
            (h.ip, h.port),
            (Ipv4Addr::new(10, 0, 0, 5).into(), Some(8080))
        );
        assert_eq!(
            parse_gateway("192.168.1.1"),
            Ok(Ipv4Addr::new(192, 168, 1, 1))
        );
        says(parse_gateway("2001:db8::1"), "IPv6", "192.168.1.1");
        says(parse_gateway("192.168.1.1:80"), "port", "192.168.1.1");
        assert_eq!(parse_host("localhost:http").unwrap().port, Some(80));
        let v6 = parse_host("[2001:db8::4]:8080").unwrap();
        assert_eq!(v6.ip.to_string(), "2001:db8::4");
        assert_eq!(v6.port, Some(8080));
        assert_eq!(parse_host("2001:db8::4").unwrap().port, None);
        says(
            parse_host("[2001:db8::4"),
            "not an IPv6 address",
            "[2001:db8::4]:8080",
        );
        says(
            parse_host("[2001:db8::4]8080"),
            "not an IPv6 address",
            "[2001:db8::4]:8080",
        );
        says(
            parse_host("2001:db8::g"),
            "not an IPv6 address",
            "2001:db8::4",
        );
        says(parse_host("[::1]:0"), "the port in", "");
        says(
            parse_host("192.168.1.300"),
            "not an IPv4 address",
            "192.168.1.4",
        );
        says(
            parse_host("bad host!"),
            "not an IPv4 address",
            "192.168.1.4",
        );
        says(parse_host("192.168.1.4:99999"), "out of range", "65535");
        says(parse_host(""), "no server", "192.168.1.4");
        says(
            parse_host("no-such-host.invalid"),
            "cannot find",
            "192.168.1.4",
        );
    }

    #[test]
    fn protocols_methods_and_external_ports() {
        assert_eq!(parse_transports("both").unwrap(), Transports::Both);
        says(parse_transports("sctp"), "sctp", "\"both\"");
        assert_eq!(parse_method("nat-pmp").unwrap(), Method::NatPmp);
        says(parse_method("smoke"), "unknown method", "\"pcp\"");
        assert_eq!(parse_external("any").unwrap(), ExternalPort::Any);
        assert_eq!(parse_external("same").unwrap(), ExternalPort::Same);
        assert_eq!(parse_external("8080").unwrap(), ExternalPort::Exact(8080));
        assert_eq!(parse_external("https").unwrap(), ExternalPort::Exact(443));
        says(parse_external("0"), "port 0", "any");
        says(parse_external("http-ish"), "unknown service", "any");
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("http").unwrap().port, 80);
        says(parse_port("70000"), "out of range", "65535");
        says(parse_port("0"), "port 0", "1-65535");
        says(parse_port("gopher-thing"), "unknown service", "port number");
        says(parse_port(""), "no port", "service name");
    }
}
