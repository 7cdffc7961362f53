//! [`Protocol`]: TCP or UDP.

use std::fmt;
use std::str::FromStr;

use super::{Invalid, serde_as_text};

/// Transport protocol of a port mapping. In JSON and on the command line it
/// is `"tcp"` or `"udp"` (any case is accepted when reading).
///
/// # Examples
///
/// ```
/// use pfwd_core::Protocol;
///
/// let udp: Protocol = " UDP ".parse()?;
/// assert_eq!(udp, Protocol::Udp);
/// assert_eq!(udp.as_str(), "udp"); // as the command and JSON write it
/// assert_eq!(udp.to_string(), "UDP"); // as people read it
/// assert_eq!(serde_json::to_string(&Protocol::Tcp).unwrap(), r#""tcp""#);
///
/// let err = "sctp".parse::<Protocol>().unwrap_err();
/// assert_eq!(err.reason, r#"unknown protocol "sctp": use "tcp" or "udp""#);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP (web servers, SSH, most services).
    Tcp,
    /// UDP (games, VPNs such as WireGuard, DNS).
    Udp,
}

impl Protocol {
    /// The protocol's name in lower case, as the command, JSON and the
    /// guides write it.
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
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            _ => Err(Invalid::new(format!(
                "unknown protocol {s:?}: use \"tcp\" or \"udp\""
            ))),
        }
    }
}

serde_as_text!(Protocol);
