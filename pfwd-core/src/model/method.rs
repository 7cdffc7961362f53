//! [`Method`]: how a mapping is made, with its one table of names.

use std::fmt;
use std::str::FromStr;

use super::{Invalid, serde_as_text};

/// How a mapping is (or would be) made. In JSON it is `"pcp"`, `"natpmp"`,
/// `"upnp"` or `"manual"` ([`Method::as_str`]); reading also accepts
/// `"nat-pmp"` and `"upnp-igd"`, in any case.
///
/// # Examples
///
/// ```
/// use pfwd_core::Method;
///
/// let m: Method = "NAT-PMP".parse()?;
/// assert_eq!(m, Method::NatPmp);
/// assert_eq!(m.as_str(), "natpmp"); // JSON and the command line
/// assert_eq!(m.name(), "NAT-PMP"); // people
/// assert_eq!(m.to_string(), "NAT-PMP");
///
/// // Best first; the guide comes last.
/// assert_eq!(Method::ALL.first(), Some(&Method::Pcp));
/// assert_eq!(Method::ALL.last(), Some(&Method::Manual));
///
/// let err = "smoke signals".parse::<Method>().unwrap_err();
/// assert!(err.reason.contains(r#""pcp", "natpmp", "upnp" or "manual""#));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Every name a method is read from, the JSON name first.
const NAMES: &[(&str, Method)] = &[
    ("pcp", Method::Pcp),
    ("natpmp", Method::NatPmp),
    ("upnp", Method::Upnp),
    ("manual", Method::Manual),
    ("nat-pmp", Method::NatPmp),
    ("upnp-igd", Method::Upnp),
];

impl Method {
    /// Every method, in pfwd's order of preference (manual last).
    pub const ALL: [Method; 4] = [Method::Pcp, Method::NatPmp, Method::Upnp, Method::Manual];

    /// A short human name ("PCP", "NAT-PMP", "UPnP-IGD", "manual").
    pub fn name(self) -> &'static str {
        match self {
            Method::Pcp => "PCP",
            Method::NatPmp => "NAT-PMP",
            Method::Upnp => "UPnP-IGD",
            Method::Manual => "manual",
        }
    }

    /// The name in JSON and on the command line: `pcp`, `natpmp`, `upnp`,
    /// `manual`.
    pub fn as_str(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("manual", |(n, _)| n)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        let key = s.trim().to_ascii_lowercase();
        NAMES
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                Invalid::new(format!(
                    "unknown method {s:?}: write \"pcp\", \"natpmp\", \"upnp\" or \"manual\""
                ))
            })
    }
}

serde_as_text!(Method);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::from_str::<Method>(&json).unwrap(), m);
        }
        assert_eq!("NAT-PMP".parse::<Method>().unwrap(), Method::NatPmp);
        assert_eq!(" UPnP-IGD ".parse::<Method>().unwrap(), Method::Upnp);
        let e = "smoke".parse::<Method>().unwrap_err().to_string();
        assert!(e.contains("\"smoke\"") && e.contains("natpmp"), "{e}");
        assert!(serde_json::from_str::<Method>("\"smoke\"").is_err());
    }
}
