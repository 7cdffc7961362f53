//! Every default pfwd uses, in one place, so that the command, the Python
//! and C bindings and the library agree (as iroh's portmapper keeps its in
//! one `mod defaults`).
//!
//! # Leases
//!
//! There are two lease defaults, for two situations:
//!
//! - [`LEASE`] (2 hours) is for a mapping nobody renews: `pfwd map --once`,
//!   or a program that calls `map` once. It must outlast a typical session
//!   (a game evening, a file transfer) without renewal, yet a program that
//!   dies leaves the port open for at most two hours.
//! - [`KEPT_LEASE`] (30 minutes) is for a mapping a keeper renews (`pfwd
//!   map` without `--once`, `pfwd run`, [`lease::Keeper`][keeper]):
//!   renewal comes at about half, so a keeper that is killed (`kill -9`, a
//!   power cut) leaves the port open for at most 30 minutes, and the router
//!   sees one renewal every 15 minutes, which no router minds.
//!
//! ```
//! use std::time::Duration;
//! use pfwd_core::{Lease, MappingRequest, Protocol, defaults};
//!
//! // A request that says nothing of its lease gets the unkept default.
//! let once = MappingRequest::builder(Protocol::Tcp, 80).build()?;
//! assert_eq!(once.lease(), Lease::Finite(defaults::LEASE));
//! // What a keeper asks for, renewed at about half.
//! assert_eq!(defaults::KEPT_LEASE, Duration::from_secs(30 * 60));
//! # Ok::<(), pfwd_core::Error>(())
//! ```
//!
//! Before these constants the command used 2 h with `--once`, 30 min for a
//! kept `map` and 1 h in `run`; a kept mapping had no reason to differ
//! between `map` and `run`.
#![cfg_attr(feature = "runtime", doc = " \n [keeper]: crate::lease::Keeper")]
#![cfg_attr(not(feature = "runtime"), doc = " \n [keeper]: crate#features")]

use std::time::Duration;

/// The lease of a mapping nobody renews (`MappingRequest` without a lease,
/// `pfwd map --once`): 2 hours.
pub const LEASE: Duration = Duration::from_secs(2 * 60 * 60);

/// The lease of a mapping a keeper renews (`pfwd map`, `pfwd run`): 30
/// minutes, renewed at about half.
pub const KEPT_LEASE: Duration = Duration::from_secs(30 * 60);

/// The longest description pfwd sends; routers truncate or refuse longer ones.
pub const MAX_DESCRIPTION_LEN: usize = 64;

/// How often a keeper asks the gateway whether it lost the mappings (a
/// restart between renewals): 30 seconds.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// The shortest check interval the command accepts: asking more often
/// would flood the router.
pub const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The first wait after a failed attempt (a renewal, a discovery); it
/// doubles up to [`RETRY_MAX`]: 1 second.
pub const RETRY_MIN: Duration = Duration::from_secs(1);

/// The longest wait between attempts: 60 seconds.
pub const RETRY_MAX: Duration = Duration::from_secs(60);

/// How long closing a keeper may take to delete its mappings: 5 seconds.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The time budget for probing every method at once: 500 ms (PCP and
/// NAT-PMP answer in milliseconds on a LAN, UPnP in under 100).
pub const PROBE_BUDGET: Duration = Duration::from_millis(500);

/// How long past the probe budget pfwd still waits for the map-first PCP
/// request when no other method could map either: 2 seconds. A busy
/// router (one working through many rules, or a loaded host) answers late;
/// that is not "switched off". The wait only happens where the answer is
/// all there is to wait for, so the fast "no" of a router without a daemon
/// (which refuses at once) is unchanged.
pub const LATE_ANSWER_WAIT: Duration = Duration::from_secs(2);

/// Once a method has answered, how long to wait for a better one: 50 ms.
pub const PROBE_GRACE: Duration = Duration::from_millis(50);

/// How long UPnP's search waits for PCP and NAT-PMP before it starts: 30 ms.
pub const PMP_HEAD_START: Duration = Duration::from_millis(30);

/// How long a method that failed its probe stays ruled out: 30 seconds.
pub const RETRY_FAILED_AFTER: Duration = Duration::from_secs(30);

/// One deadline for a mapping across every method the automatic client
/// tries: 6 seconds; after it the answer is the manual guide.
pub const MAP_TIMEOUT: Duration = Duration::from_secs(6);

/// How many requests one automatic client has in flight to its gateway at
/// most: 2. Every keeper sharing the client (60 entries of `pfwd run`)
/// waits its turn, so a busy router is paced, not flooded: miniupnpd
/// answers one request at a time, and its nftables work grows with every
/// rule (~0.3 s a change with 60 rules). More in flight would not be
/// answered sooner, only wait in the router's queue, where a request's
/// own timeout runs.
pub const GATEWAY_IN_FLIGHT: usize = 2;

/// How many keeper events wait for their reader at most: 256 (more are
/// dropped and counted; the keeper never waits for its reader).
pub const EVENT_CAPACITY: usize = 256;

/// The budget for one NAT-PMP or PCP exchange, retransmissions included:
/// 4 seconds (five NAT-PMP tries, two PCP tries on RFC 6887's schedule).
pub const PMP_TIMEOUT: Duration = Duration::from_secs(4);

/// The whole budget for finding a UPnP gateway and reading its description:
/// 2 seconds (igd-next alone would wait 10).
pub const UPNP_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The first wait before a UPnP search is sent again; it doubles: 250 ms.
pub const UPNP_RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// The budget for each SOAP request to a UPnP gateway: 3 seconds.
pub const UPNP_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether UPnP also searches by multicast: yes.
pub const UPNP_MULTICAST: bool = true;

/// The UDP port of a gateway's SSDP service: 1900.
pub const SSDP_PORT: u16 = 1900;

/// How long a blocking call (module `blocking`) waits at most
/// unless told otherwise: 30 seconds (discovery, a mapping across every
/// method, and closing a keeper all fit).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a waiting blocking call checks its cancel token and interrupt
/// hook (Python's Ctrl-C): 100 ms.
pub const CALL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_lease_is_shorter_than_an_unkept_one_and_outlasts_the_checks() {
        assert!(KEPT_LEASE < LEASE);
        // Renewal at half the lease comes long after several checks.
        assert!(KEPT_LEASE / 2 > CHECK_INTERVAL * 4);
        assert!(RETRY_MIN < RETRY_MAX && RETRY_MAX < KEPT_LEASE / 2);
        assert!(MIN_CHECK_INTERVAL < CHECK_INTERVAL);
        assert!(PROBE_GRACE < PROBE_BUDGET && PMP_HEAD_START < PROBE_BUDGET);
        // A mapping's deadline leaves room for one full NAT-PMP or PCP exchange.
        assert!(MAP_TIMEOUT > PMP_TIMEOUT && EVENT_CAPACITY > 0);
        // Protocols carry seconds in 32 bits.
        assert!(LEASE.as_secs() < u64::from(u32::MAX));
    }
}
