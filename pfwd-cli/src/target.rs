//! What a command line or a config entry asks to forward: the glue from the
//! flags to the core's [`Target`], which decides
//! the defaults for every language.

use pfwd_core::parse::Transports;
use pfwd_core::target::Names;
use pfwd_core::{Invalid, Lease};

use crate::args::ProtocolArgs;

pub use pfwd_core::target::{Target, protocols_for};

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

/// The server given with `--to`: its address and port, if any.
///
/// # Errors
///
/// [`Invalid`] from the core's parser, naming `--to`.
pub fn parse_to(to: Option<&str>) -> Result<(Option<std::net::IpAddr>, Option<u16>), Invalid> {
    pfwd_core::target::parse_to(to, Names::FLAGS.to)
}

/// A target from the command line's words (errors name the flags).
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
