//! What a command line or a config entry asks to forward: the glue from the
//! flags to the core's [`Target`], which decides
//! the defaults for every language.

use pfwd_core::parse::Transports;
use pfwd_core::target::Names;
use pfwd_core::{Invalid, Lease};

use crate::args::ProtocolArgs;

pub use pfwd_core::target::{Target, protocols_for};

/// The protocol flags as the core's choice; `None` when none is given.
///
/// # Examples
///
/// ```
/// use pfwd_cli::args::ProtocolArgs;
/// use pfwd_cli::target::transports;
/// use pfwd_core::parse::Transports;
///
/// let both = ProtocolArgs { both: true, ..ProtocolArgs::default() };
/// assert_eq!(transports(&both), Some(Transports::Both));
/// assert_eq!(transports(&ProtocolArgs::default()), None); // the service's own
/// ```
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

/// The server given with `--to`: its address and port, if any.
///
/// # Errors
///
/// [`Invalid`] from the core's parser, naming `--to`.
///
/// # Examples
///
/// ```
/// use pfwd_cli::target::parse_to;
///
/// assert_eq!(parse_to(Some("192.168.1.4:8080"))?.1, Some(8080));
/// assert!(parse_to(Some("192.168.1.300")).unwrap_err().reason.starts_with("--to: "));
/// # Ok::<(), pfwd_core::Invalid>(())
/// ```
pub fn parse_to(to: Option<&str>) -> Result<(Option<std::net::IpAddr>, Option<u16>), Invalid> {
    pfwd_core::target::parse_to(to, Names::FLAGS.to)
}

/// A target from the command line's words (errors name the flags).
///
/// # Errors
///
/// [`Invalid`] naming what is wrong and what is accepted.
///
/// # Examples
///
/// `pfwd map wireguard --ipv6`: this host's pinhole for UDP 51820.
///
/// ```
/// use std::time::Duration;
/// use pfwd_core::{Family, Lease, Protocol};
///
/// let lease = Lease::Finite(Duration::from_secs(1800));
/// let wg = pfwd_cli::target::parse("wireguard", None, None, None, lease, None, Some(Family::Ipv6))?;
/// let requests = wg.requests()?;
/// assert_eq!(requests.len(), 1);
/// assert_eq!((requests[0].protocol(), requests[0].family()), (Protocol::Udp, Family::Ipv6));
///
/// let e = pfwd_cli::target::parse("80", None, None, Some("0"), lease, None, None).unwrap_err();
/// assert!(e.reason.starts_with("--external: "));
/// # Ok::<(), pfwd_core::Invalid>(())
/// ```
pub fn parse(
    port: &str,
    to: Option<&str>,
    protocols: Option<Transports>,
    external: Option<&str>,
    lease: Lease,
    description: Option<&str>,
    family: Option<pfwd_core::Family>,
) -> Result<Target, Invalid> {
    Target::parse(
        Names::FLAGS,
        port,
        to,
        protocols,
        external,
        lease,
        description,
    )?
    .in_family(family)
}
