//! Well-known services by name and port (`http` = TCP 80, `minecraft` =
//! TCP 25565, ...), with a risk note for services that should not face the
//! internet, and the parser that accepts a name or a port wherever a port is
//! accepted.
//!
//! # Examples
//!
//! ```
//! use pfwd_core::services::{self, Transports};
//!
//! let http = services::by_name("http").expect("a well-known service");
//! assert_eq!(http.port, 80);
//! assert_eq!(http.transports, Transports::Tcp);
//! assert_eq!(http.title, "Web server (HTTP)");
//! assert_eq!(services::by_name("WWW"), Some(http)); // aliases, any case
//!
//! assert_eq!(services::by_port(51820).map(|s| s.name), Some("wireguard"));
//! assert!(services::by_name("telnet").and_then(|s| s.risk).is_some());
//! ```

use std::fmt;

use serde::Serialize;

use crate::model::{Invalid, Protocol, Warning, WarningKind};

/// Which transports a service uses.
///
/// # Examples
///
/// ```
/// use pfwd_core::Protocol;
/// use pfwd_core::services::Transports;
///
/// let both: Transports = "Both".parse()?;
/// assert_eq!(both.protocols(), [Protocol::Tcp, Protocol::Udp]);
/// assert_eq!(both.to_string(), "TCP and UDP");
/// assert!("sctp".parse::<Transports>().is_err());
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transports {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// Both TCP and UDP.
    Both,
}

impl Transports {
    /// The protocols, TCP first.
    pub fn protocols(self) -> &'static [Protocol] {
        match self {
            Transports::Tcp => &[Protocol::Tcp],
            Transports::Udp => &[Protocol::Udp],
            Transports::Both => &[Protocol::Tcp, Protocol::Udp],
        }
    }
}

impl std::str::FromStr for Transports {
    type Err = Invalid;

    /// `tcp`, `udp` or `both` (any case).
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Ok(Transports::Tcp),
            "udp" => Ok(Transports::Udp),
            "both" => Ok(Transports::Both),
            _ => Err(Invalid::new(format!(
                "protocol {s:?}: write \"tcp\", \"udp\" or \"both\""
            ))),
        }
    }
}

impl fmt::Display for Transports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transports::Tcp => "TCP",
            Transports::Udp => "UDP",
            Transports::Both => "TCP and UDP",
        })
    }
}

/// A well-known service.
///
/// # Examples
///
/// ```
/// use pfwd_core::services::{self, SERVICES, Transports};
///
/// let dns = services::by_name("dns").expect("in the table");
/// assert_eq!((dns.port, dns.transports), (53, Transports::Both));
/// assert!(dns.aliases.contains(&"domain"));
/// assert!(dns.risk.is_some_and(|r| r.contains("amplification")));
///
/// // Every service in the table, with its risk where it has one.
/// let risky: Vec<&str> = SERVICES.iter().filter(|s| s.risk.is_some()).map(|s| s.name).collect();
/// assert!(risky.contains(&"telnet") && !risky.contains(&"http"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Service {
    /// The short name people type (`http`, `ssh`, `minecraft`).
    pub name: &'static str,
    /// Other accepted names (`www`, `web`, `rdp`).
    #[serde(skip)]
    pub aliases: &'static [&'static str],
    /// The port.
    pub port: u16,
    /// The transports.
    pub transports: Transports,
    /// What it is, in words ("Web server (HTTP)").
    pub title: &'static str,
    /// Why forwarding it is risky, where it is.
    pub risk: Option<&'static str>,
}

mod table;

pub use table::SERVICES;

/// The service called `name` (case-insensitive, aliases accepted).
///
/// # Examples
///
/// ```
/// use pfwd_core::services::by_name;
///
/// assert_eq!(by_name("http").map(|s| s.port), Some(80));
/// assert_eq!(by_name(" Minecraft ").map(|s| s.port), Some(25565));
/// assert_eq!(by_name("wg").map(|s| s.name), Some("wireguard"));
/// assert_eq!(by_name("gopher-ish"), None);
/// ```
pub fn by_name(name: &str) -> Option<&'static Service> {
    let n = name.trim().to_ascii_lowercase();
    SERVICES
        .iter()
        .find(|s| s.name == n || s.aliases.contains(&n.as_str()))
}

/// The well-known service on `port`, if any.
///
/// # Examples
///
/// ```
/// use pfwd_core::services::by_port;
///
/// assert_eq!(by_port(443).map(|s| s.name), Some("https"));
/// assert_eq!(by_port(8123).map(|s| s.name), Some("home-assistant"));
/// assert_eq!(by_port(4000), None);
/// ```
pub fn by_port(port: u16) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.port == port)
}

/// A port given as a number or a service name, with the service when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// The port.
    pub port: u16,
    /// The service, by name or by its well-known port.
    pub service: Option<&'static Service>,
}

impl PortSpec {
    /// The protocols to forward: the service's, or TCP for a bare port.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::{Protocol, parse_port};
    ///
    /// assert_eq!(parse_port("dns")?.protocols(), [Protocol::Tcp, Protocol::Udp]);
    /// assert_eq!(parse_port("wireguard")?.protocols(), [Protocol::Udp]);
    /// assert_eq!(parse_port("4000")?.protocols(), [Protocol::Tcp]);
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn protocols(&self) -> &'static [Protocol] {
        self.service
            .map_or(&[Protocol::Tcp], |s| s.transports.protocols())
    }
}

/// Parse `"80"`, `"http"`, `"minecraft"`: a port (1-65535) or a known
/// service name.
///
/// # Errors
///
/// [`Invalid`] for 0, a number over 65535, or an unknown name, saying what
/// is accepted.
///
/// # Examples
///
/// ```
/// use pfwd_core::parse_port;
///
/// let http = parse_port("http")?;
/// assert_eq!(http.port, 80);
/// assert_eq!(http.service.map(|s| s.title), Some("Web server (HTTP)"));
///
/// // A number is a port, and names its service when it has a well-known one.
/// assert_eq!(parse_port("8080")?.port, 8080);
/// assert_eq!(parse_port("443")?.service.map(|s| s.name), Some("https"));
///
/// assert_eq!(parse_port("0").unwrap_err().reason, "port 0 is not a port: give 1-65535");
/// assert_eq!(
///     parse_port("70000").unwrap_err().reason,
///     "port 70000 is out of range: ports go from 1 to 65535"
/// );
/// assert!(parse_port("gopher-ish").unwrap_err().reason.starts_with("unknown service"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn parse_port(text: &str) -> Result<PortSpec, Invalid> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Invalid::new(
            "no port given: give a port (1-65535) or a service name such as http",
        ));
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return match t.parse::<u32>() {
            Ok(0) => Err(Invalid::new("port 0 is not a port: give 1-65535")),
            Ok(p) if p <= 65535 => {
                let port = p as u16;
                Ok(PortSpec {
                    port,
                    service: by_port(port),
                })
            }
            _ => Err(Invalid::new(format!(
                "port {t} is out of range: ports go from 1 to 65535"
            ))),
        };
    }
    match by_name(t) {
        Some(s) => Ok(PortSpec {
            port: s.port,
            service: Some(s),
        }),
        None => {
            let names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
            Err(Invalid::new(format!(
                "unknown service {t:?}: give a port number (1-65535) or one of {}",
                names.join(", ")
            )))
        }
    }
}

/// The warning for opening `port` over `protocol`, when a risky service
/// uses it (telnet, FTP, SMB and NetBIOS, RDP, VNC, databases...): what the
/// risk is and what to use instead.
///
/// # Examples
///
/// ```
/// use pfwd_core::Protocol;
/// use pfwd_core::services::risk_warning;
///
/// let w = risk_warning(5432, Protocol::Tcp).expect("PostgreSQL is risky");
/// assert!(w.text.contains("(TCP 5432) is now open to the internet"));
/// assert!(w.text.contains("SSH tunnel"));
/// assert_eq!(risk_warning(80, Protocol::Tcp), None);
/// assert_eq!(risk_warning(23, Protocol::Udp), None); // telnet is TCP only
/// ```
pub fn risk_warning(port: u16, protocol: Protocol) -> Option<Warning> {
    let s = by_port(port).filter(|s| s.transports.protocols().contains(&protocol))?;
    let risk = s.risk?;
    Some(Warning {
        kind: WarningKind::RiskyService,
        text: format!(
            "{} ({protocol} {port}) is now open to the internet: {risk}.",
            s.title
        ),
    })
}

/// The risk warnings for `ports` over `protocol`, each service once.
///
/// # Examples
///
/// ```
/// use pfwd_core::Protocol;
/// use pfwd_core::services::risk_warnings;
///
/// // Inside and outside port both telnet: one warning; RDP adds another.
/// assert_eq!(risk_warnings(Protocol::Tcp, [23, 23, 3389]).len(), 2);
/// assert!(risk_warnings(Protocol::Tcp, [80, 443]).is_empty());
/// ```
pub fn risk_warnings(protocol: Protocol, ports: impl IntoIterator<Item = u16>) -> Vec<Warning> {
    let mut seen: Vec<u16> = Vec::new();
    let mut out = Vec::new();
    for port in ports {
        if seen.contains(&port) {
            continue;
        }
        seen.push(port);
        out.extend(risk_warning(port, protocol));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_what_people_forward() {
        for (name, port) in [
            ("ftp", 21),
            ("ssh", 22),
            ("telnet", 23),
            ("smtp", 25),
            ("dns", 53),
            ("http", 80),
            ("pop3", 110),
            ("imap", 143),
            ("https", 443),
            ("minecraft", 25565),
            ("rdp", 3389),
            ("pcanywhere", 5631),
        ] {
            let s = by_name(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(s.port, port, "{name}");
            assert_eq!(by_port(port).map(|s| s.name), Some(name));
        }
        for risky in [
            "telnet",
            "rdp",
            "pcanywhere",
            "smb",
            "mysql",
            "postgres",
            "vnc",
        ] {
            assert!(by_name(risky).unwrap().risk.is_some(), "{risky}");
        }
        for (port, protocol) in [
            (137, Protocol::Udp),
            (138, Protocol::Udp),
            (139, Protocol::Tcp),
        ] {
            assert!(by_port(port).unwrap().name.starts_with("netbios"));
            assert!(risk_warning(port, protocol).is_some(), "{port}");
        }
        assert!(by_name("http").unwrap().risk.is_none());
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for s in SERVICES {
            for n in std::iter::once(&s.name).chain(s.aliases) {
                assert!(seen.insert(*n), "{n} twice");
                assert_eq!(*n, n.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn ports_and_names_parse() {
        assert_eq!(parse_port("http").unwrap().port, 80);
        assert_eq!(parse_port(" Minecraft ").unwrap().port, 25565);
        assert_eq!(parse_port("www").unwrap().service.unwrap().name, "http");
        let p = parse_port("8123").unwrap();
        assert_eq!(p.service.unwrap().name, "home-assistant");
        assert_eq!(parse_port("4000").unwrap().service, None);
        assert_eq!(
            parse_port("dns").unwrap().protocols(),
            &[Protocol::Tcp, Protocol::Udp]
        );
        assert_eq!(
            parse_port("wireguard").unwrap().protocols(),
            &[Protocol::Udp]
        );
        assert_eq!(parse_port("4000").unwrap().protocols(), &[Protocol::Tcp]);
    }

    #[test]
    fn risky_services_warn_with_the_risk_and_what_to_use_instead() {
        for (port, instead) in [
            (23, "SSH"),
            (21, "SFTP"),
            (445, "VPN"),
            (139, "VPN"),
            (3389, "WireGuard"),
            (5900, "VPN"),
            (3306, "VPN"),
            (5432, "SSH tunnel"),
        ] {
            let w = risk_warning(port, Protocol::Tcp).unwrap_or_else(|| panic!("{port}"));
            assert_eq!(w.kind, WarningKind::RiskyService);
            assert!(w.text.contains(&format!("TCP {port}")), "{}", w.text);
            assert!(w.text.contains(instead), "{port}: {}", w.text);
        }
        assert_eq!(risk_warning(80, Protocol::Tcp), None);
        assert_eq!(risk_warning(4000, Protocol::Tcp), None);
        // Telnet is TCP: UDP 23 is not telnet.
        assert_eq!(risk_warning(23, Protocol::Udp), None);
        assert_eq!(risk_warnings(Protocol::Tcp, [23, 23, 3389]).len(), 2);
    }

    #[test]
    fn transports_parse() {
        assert_eq!("Both".parse::<Transports>().unwrap(), Transports::Both);
        assert_eq!("udp".parse::<Transports>().unwrap(), Transports::Udp);
        let e = "sctp".parse::<Transports>().unwrap_err().to_string();
        assert!(e.contains("\"both\""), "{e}");
    }

    #[test]
    fn bad_ports_say_what_is_accepted() {
        for (bad, says) in [
            ("0", "port 0"),
            ("70000", "1 to 65535"),
            ("99999999999", "1 to 65535"),
            ("htp", "unknown service"),
            ("", "no port"),
            ("-1", "unknown service"),
        ] {
            let e = parse_port(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
