//! What the automatic client may do, and how long it may take.

use std::time::Duration;

use crate::backend::{PmpOptions, upnp::UpnpOptions};
use crate::defaults;
use crate::gateway::{GatewayInfo, Ipv6Gateway};
use crate::mapping::Method;

/// The methods pfwd automates, best first.
pub const PREFERENCE: [Method; 3] = [Method::Pcp, Method::NatPmp, Method::Upnp];

/// Options for [`Client::discover_with`](super::Client::discover_with).
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::{ClientOptions, GatewayInfo, Method};
///
/// let mut options = ClientOptions::default();
/// assert_eq!(options.methods(), [Method::Pcp, Method::NatPmp, Method::Upnp]);
///
/// options.exclude = vec![Method::NatPmp];
/// assert_eq!(options.methods(), [Method::Pcp, Method::Upnp]);
/// options.only = vec![Method::Upnp];
/// assert_eq!(options.methods(), [Method::Upnp]);
///
/// // A router given by hand, rather than the default route's.
/// options.gateway = Some(GatewayInfo {
///     interface: None,
///     gateway: Ipv4Addr::new(192, 168, 1, 1),
///     local: Ipv4Addr::new(192, 168, 1, 4),
///     lan: None,
/// });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The time budget for probing every method at once (default 500 ms:
    /// PCP and NAT-PMP answer in milliseconds on a LAN, UPnP in under 100).
    pub budget: Duration,
    /// Once a method has answered, how long to wait for a better one that
    /// has not answered yet (default 50 ms).
    pub grace: Duration,
    /// How long UPnP's search waits for PCP and NAT-PMP, which answer in one
    /// round trip, before it starts (default 30 ms; it starts at once when
    /// both have failed, as when the router's port 5351 is closed). A router
    /// that answers them never sees the SSDP search, which on miniupnpd
    /// delays the PCP answers by about 13 ms. When a mapping is PCP's probe
    /// ([`Client::discover_and_map`](super::Client::discover_and_map)),
    /// NAT-PMP waits as long for it.
    pub pmp_head_start: Duration,
    /// How long a method that failed its probe stays ruled out before it is
    /// probed again when needed (default 30 s): a router still booting, or
    /// one lost answer, must not rule a method out for good.
    pub retry_failed_after: Duration,
    /// One deadline for [`Client::map`](super::Client::map) across every
    /// method it tries (default 6 s). When it passes, the methods not yet
    /// tried are skipped and the answer is the guide; a request still in
    /// flight is left to finish, and a mapping granted after the deadline
    /// is deleted at once, so nothing stays on the router unknown.
    pub map_timeout: Duration,
    /// Use only these methods (in pfwd's order of preference); empty: all.
    pub only: Vec<Method>,
    /// Never use these methods.
    pub exclude: Vec<Method>,
    /// Wait for every method's answer instead of stopping at the best one,
    /// for a status display (default false).
    pub wait_for_all: bool,
    /// The gateway to ask; `None` finds the default gateway.
    pub gateway: Option<GatewayInfo>,
    /// The IPv6 router and this host's global address, for pinholes;
    /// `None` finds them in the system's tables when first needed.
    pub ipv6_gateway: Option<Ipv6Gateway>,
    /// UPnP settings (its discovery timeout is capped by `budget`).
    pub upnp: UpnpOptions,
    /// NAT-PMP and PCP settings (`timeout` applies to mapping requests; the
    /// probe is capped by `budget`).
    pub pmp: PmpOptions,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            budget: defaults::PROBE_BUDGET,
            grace: defaults::PROBE_GRACE,
            pmp_head_start: defaults::PMP_HEAD_START,
            retry_failed_after: defaults::RETRY_FAILED_AFTER,
            map_timeout: defaults::MAP_TIMEOUT,
            only: Vec::new(),
            exclude: Vec::new(),
            wait_for_all: false,
            gateway: None,
            ipv6_gateway: None,
            upnp: UpnpOptions::default(),
            pmp: PmpOptions::default(),
        }
    }
}

impl ClientOptions {
    /// The methods to try, best first.
    pub fn methods(&self) -> Vec<Method> {
        PREFERENCE
            .into_iter()
            .filter(|m| self.only.is_empty() || self.only.contains(m))
            .filter(|m| !self.exclude.contains(m))
            .collect()
    }
}
