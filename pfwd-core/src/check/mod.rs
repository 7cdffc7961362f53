//! Is it really reachable? A check from outside, through a prober the user
//! runs elsewhere (`pfwd probe-server`), with a one-time token that proves
//! the path reaches this host.
//!
//! - [`messages`]: what pfwd and the prober say to each other.
//! - [`report`]: what a check found ([`CheckReport`], [`Facts`]).
//! - [`diagnosis`]: what the findings mean, in plain words.
//! - [`options`]: where the prober is ([`ProberUrl`]), time limits.
//! - `ask`, `listen`, `run` (with the `runtime` feature): asking the
//!   prober, pfwd's own token listener, and the steps of [`check`].
//! - `prober` (feature `prober`): the probe server, `pfwd probe-server`.
#![cfg_attr(not(feature = "runtime"), doc = " \n [`check`]: crate#features")]

#[cfg(feature = "runtime")]
mod ask;
pub mod diagnosis;
#[cfg(feature = "runtime")]
mod listen;
pub mod messages;
pub mod options;
#[cfg(feature = "prober")]
pub mod prober;
pub mod report;
#[cfg(feature = "runtime")]
pub(crate) mod run;

use crate::error::Result;
use crate::model::{Mapping, MappingRequest};
pub use diagnosis::{Diagnosis, diagnose};

/// What to check for a mapping that was made: its protocol, its LAN host
/// and port, and exactly its outside port.
///
/// # Errors
///
/// [`Error::InvalidRequest`](crate::Error::InvalidRequest) when the
/// mapping's addresses cannot make a request (none that pfwd made).
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::time::{Duration, Instant};
/// use pfwd_core::{Lease, Mapping, Method, MethodState, Protocol};
///
/// // The router moved the mapping to outside port 8080: check that one.
/// let mapping = Mapping::new(
///     Method::Upnp,
///     Protocol::Tcp,
///     Ipv4Addr::new(192, 168, 1, 1),
///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 8080),
///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 80),
///     Lease::Finite(Duration::from_secs(3600)),
///     Instant::now(),
///     "pfwd http",
///     MethodState::Upnp { forced_permanent: false },
/// );
/// let request = pfwd_core::check::request_of(&mapping)?;
/// assert_eq!(request.external_port(), Some(8080));
/// assert!(request.exact_external_port());
/// assert_eq!(request.internal_ipv4(), Some(Ipv4Addr::new(192, 168, 1, 4)));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn request_of(mapping: &Mapping) -> Result<MappingRequest> {
    Ok(
        MappingRequest::builder(mapping.protocol(), mapping.internal().port())
            .internal_ip(mapping.internal().ip())
            .exact_external_port(mapping.external().port())
            .build()?,
    )
}

pub use options::{CHECK_TIMEOUT, CheckOptions, PROBER_PORT, ProberUrl};
pub use report::{CheckReport, Facts, LanState, RouterState};
#[cfg(feature = "runtime")]
pub use run::{check, check_all, check_each};
