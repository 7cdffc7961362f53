//! [`CheckOptions`] and [`ProberUrl`]: where the prober is, and how long a
//! check may take.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::model::Invalid;
use crate::state::StateDir;

/// How long a check may take in all: 15 s (the prober's own probe takes at
/// most [`PROBE_AT_MOST`](super::messages::PROBE_AT_MOST)).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// The port `pfwd probe-server` listens on unless told otherwise, and the
/// port a prober URL without one means: 8099.
pub const PROBER_PORT: u16 = 8099;

/// Where a prober (`pfwd probe-server`) listens: `http://HOST[:PORT]`, the
/// port 8099 unless given. Plain HTTP only: the prober learns nothing but
/// the port to probe and a one-time token.
///
/// # Examples
///
/// ```
/// use pfwd_core::check::{PROBER_PORT, ProberUrl};
///
/// let url: ProberUrl = "probe.example.net".parse()?;
/// assert_eq!((url.host(), url.port()), ("probe.example.net", PROBER_PORT));
/// assert_eq!(url.to_string(), "http://probe.example.net:8099");
///
/// let v6: ProberUrl = "http://[2001:db8::50]:9000".parse()?;
/// assert_eq!((v6.host(), v6.port()), ("2001:db8::50", 9000));
///
/// let e = "https://probe.example.net".parse::<ProberUrl>().unwrap_err();
/// assert!(e.reason.contains("pfwd speaks plain HTTP to its prober, not https"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProberUrl {
    host: String,
    port: u16,
}

impl ProberUrl {
    /// The host, a name or an address (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for ProberUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "http://{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for ProberUrl {
    type Err = Invalid;

    fn from_str(text: &str) -> Result<ProberUrl, Invalid> {
        let bad = |why: &str| {
            Invalid::new(format!(
                "{text:?} is not a prober address: {why}; write it as http://HOST:PORT, \
                 the address `pfwd probe-server` listens on"
            ))
        };
        let t = text.trim();
        let rest = match t.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(bad(&format!(
                    "pfwd speaks plain HTTP to its prober, not {scheme}"
                )));
            }
            None => t,
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if rest.len() > authority.len() + 1 {
            return Err(bad("give no path after the port"));
        }
        if authority.contains('@') {
            return Err(bad("a prober takes no user name or password"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("an unclosed '['"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                _ => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(bad("the host holds characters no host name or address has"));
        }
        let port = match port {
            None => PROBER_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad("the port is not a number from 1 to 65535")),
                Ok(p) => p,
            },
        };
        Ok(ProberUrl {
            host: host.to_string(),
            port,
        })
    }
}

/// How to run a [check][check-fn].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pfwd_core::check::{CHECK_TIMEOUT, CheckOptions};
///
/// let lan_only = CheckOptions::default(); // no prober: the LAN side only
/// assert!(lan_only.via.is_none());
/// assert_eq!(lan_only.timeout(), CHECK_TIMEOUT);
///
/// let mut outside = CheckOptions::via("http://203.0.113.50:8099".parse()?);
/// outside.timeout = Some(Duration::from_secs(5));
/// assert_eq!(outside.timeout(), Duration::from_secs(5));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[cfg_attr(feature = "runtime", doc = " \n [check-fn]: super::check")]
#[cfg_attr(not(feature = "runtime"), doc = " \n [check-fn]: crate#features")]
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The prober to ask; without one, only the LAN-side steps run and the
    /// report says the port was not checked from outside.
    pub via: Option<ProberUrl>,
    /// The most a check may take, [`CHECK_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
    /// Where pfwd's records are (to know the mappings a router cannot
    /// list); the default location when `None`.
    pub state_dir: Option<StateDir>,
}

impl CheckOptions {
    /// Options that ask the prober at `via`.
    pub fn via(via: ProberUrl) -> CheckOptions {
        CheckOptions {
            via: Some(via),
            ..CheckOptions::default()
        }
    }

    /// The time limit in force.
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(CHECK_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prober_urls_read_as_people_write_them() {
        for (text, host, port) in [
            ("http://5.5.5.1:8099", "5.5.5.1", 8099),
            ("http://probe.example.net", "probe.example.net", 8099),
            ("5.5.5.1:9000", "5.5.5.1", 9000),
            ("HTTP://[2001:db8::1]:80/", "2001:db8::1", 80),
            ("http://5.5.5.1:8099/", "5.5.5.1", 8099),
        ] {
            let u: ProberUrl = text.parse().unwrap();
            assert_eq!((u.host(), u.port()), (host, port), "{text}");
        }
        assert_eq!(
            "[2001:db8::1]:80".parse::<ProberUrl>().unwrap().to_string(),
            "http://[2001:db8::1]:80"
        );
        for (bad, why) in [
            ("https://x:1", "plain HTTP"),
            ("http://x:0", "1 to 65535"),
            ("http://x:70000", "1 to 65535"),
            ("http://x:1/v1/probe", "no path"),
            ("http://u:p@x:1", "no user name"),
            ("http://", "no host"),
            ("http://a b:1", "characters"),
        ] {
            let e = bad.parse::<ProberUrl>().unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains("http://HOST:PORT"),
                "{bad}: {e}"
            );
        }
    }
}
