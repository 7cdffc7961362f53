//! [`Family`]: IPv4 or IPv6, the address family of a request and a mapping.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::{Invalid, serde_as_text};

/// The address family of a mapping. Over IPv4 a router translates its one
/// public address to a LAN host (a port mapping); over IPv6 every host has
/// its own public address and the router only has to let traffic in (a
/// pinhole in its firewall), so a pinhole's external address is the host's
/// own. In JSON and on the command line it is `"ipv4"` or `"ipv6"`.
///
/// # Examples
///
/// ```
/// use std::net::IpAddr;
/// use pfwd_core::Family;
///
/// let pi: IpAddr = "2001:db8::4".parse().unwrap();
/// assert_eq!(Family::of(pi), Family::Ipv6);
/// assert_eq!(Family::default(), Family::Ipv4);
///
/// // What people type: the names, and the short forms of `ip -4` / `ip -6`.
/// for text in ["ipv6", "IPv6", "v6", "6", "inet6"] {
///     assert_eq!(text.parse::<Family>()?, Family::Ipv6);
/// }
/// assert_eq!(Family::Ipv6.as_str(), "ipv6");
/// assert_eq!(Family::Ipv6.to_string(), "IPv6");
/// assert!("ipv5".parse::<Family>().is_err());
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Family {
    /// IPv4: a port mapping on the router's public address (the default).
    #[default]
    Ipv4,
    /// IPv6: a pinhole for the host's own global address.
    Ipv6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// `"ipv4"` or `"ipv6"`, as the command, JSON and the guides write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

impl FromStr for Family {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ipv4" | "v4" | "4" | "inet" => Ok(Family::Ipv4),
            "ipv6" | "v6" | "6" | "inet6" => Ok(Family::Ipv6),
            _ => Err(Invalid::new(format!(
                "unknown address family {s:?}: use \"ipv4\" or \"ipv6\""
            ))),
        }
    }
}

serde_as_text!(Family);
