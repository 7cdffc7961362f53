//! Finding the gateway: the default IPv4 route and the local address used to
//! reach it (the address a mapping points to by default).
//!
//! On Linux the routing table is read from `/proc/thread-self/net/route`, so
//! a thread that entered another network namespace sees that namespace's
//! routes. Nothing is sent on the network: the local address comes from
//! connecting an unsent UDP socket.

use std::fmt;
mod ipv6;
mod system;

use std::net::Ipv4Addr;

use crate::model::Invalid;

pub use ipv6::{Ipv6Gateway, Ipv6Unavailable, default_ipv6_gateway};
pub use system::default_gateway;

/// The gateway this host uses and how this host is seen on its network.
///
/// [`default_gateway`] reads it from the system; a program that knows the
/// network can build one (or use [`GatewayInfo::for_gateway`]).
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::GatewayInfo;
/// use pfwd_core::gateway::Ipv4Net;
///
/// let home = GatewayInfo {
///     interface: Some("eth0".into()),
///     gateway: Ipv4Addr::new(192, 168, 1, 1),
///     local: Ipv4Addr::new(192, 168, 1, 4),
///     lan: Some(Ipv4Net::new(Ipv4Addr::new(192, 168, 1, 0), 24)),
/// };
/// assert!(home.is_on_lan(Ipv4Addr::new(192, 168, 1, 20)));
/// assert!(!home.is_on_lan(Ipv4Addr::new(192, 168, 2, 20)));
/// // It serialises, for status output.
/// assert_eq!(serde_json::to_value(&home).unwrap()["lan"]["prefix_len"], 24);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GatewayInfo {
    /// The network interface towards the gateway (for example `eth0`), when known.
    pub interface: Option<String>,
    /// The gateway's LAN address (the router, for example 192.168.1.1).
    pub gateway: Ipv4Addr,
    /// This host's address on that network (for example 192.168.1.4).
    pub local: Ipv4Addr,
    /// The LAN the gateway and this host share, when the routing table says.
    pub lan: Option<Ipv4Net>,
}

impl GatewayInfo {
    /// The LAN host a mapping should go to: `requested`, or this host when
    /// none is given.
    ///
    /// # Errors
    ///
    /// [`Invalid`] (an [`Error::InvalidRequest`](crate::Error::InvalidRequest)
    /// through `?`) when the host is not on the gateway's LAN.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::GatewayInfo;
    /// use pfwd_core::gateway::Ipv4Net;
    ///
    /// let home = GatewayInfo {
    ///     interface: Some("eth0".into()),
    ///     gateway: Ipv4Addr::new(192, 168, 1, 1),
    ///     local: Ipv4Addr::new(192, 168, 1, 4),
    ///     lan: Some(Ipv4Net::new(Ipv4Addr::new(192, 168, 1, 0), 24)),
    /// };
    /// assert_eq!(home.lan_host(None)?, Ipv4Addr::new(192, 168, 1, 4)); // this host
    /// assert_eq!(home.lan_host(Some(Ipv4Addr::new(192, 168, 1, 20)))?, Ipv4Addr::new(192, 168, 1, 20));
    ///
    /// let outside = home.lan_host(Some(Ipv4Addr::new(8, 8, 8, 8))).unwrap_err();
    /// assert_eq!(
    ///     outside.reason,
    ///     "8.8.8.8 is not on the gateway's network (192.168.1.0/24): give the LAN address of \
    ///      the server, such as 192.168.1.4"
    /// );
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn lan_host(&self, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr, Invalid> {
        let host = requested.unwrap_or(self.local);
        if self.is_on_lan(host) {
            return Ok(host);
        }
        Err(Invalid::new(format!(
            "{host} is not on the gateway's network ({}): give the LAN address of the \
             server, such as {}",
            self.lan.map(|n| n.to_string()).unwrap_or_default(),
            self.local
        )))
    }

    /// Whether `host` is on the gateway's LAN (true when the LAN is unknown).
    pub fn is_on_lan(&self, host: Ipv4Addr) -> bool {
        self.lan.is_none_or(|net| net.contains(host))
    }
}

/// The default route chosen from a routing table, with the networks
/// directly on its interface that hold its gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DefaultRoute {
    /// The interface towards the gateway.
    pub interface: String,
    /// The gateway's address.
    pub gateway: Ipv4Addr,
    /// The on-link networks of `interface` that contain `gateway`.
    pub on_link: Vec<Ipv4Net>,
}

impl DefaultRoute {
    /// The LAN this host (at `local`) shares with the gateway: the longest
    /// on-link network that holds both.
    pub fn lan_for(&self, local: Ipv4Addr) -> Option<Ipv4Net> {
        self.on_link
            .iter()
            .filter(|n| n.contains(local))
            .max_by_key(|n| n.prefix_len)
            .copied()
    }
}

/// Choose the default route from the text of `/proc/net/route`: among the
/// routes that are up, have prefix length 0 and go through a gateway, the
/// one with the lowest metric (the first of equals, as the kernel lists
/// them). Routes that are down and lines that do not parse are skipped.
pub(crate) fn choose_default_route(table: &str) -> Option<DefaultRoute> {
    let routes = parse_route_table(table);
    let default = routes
        .iter()
        .filter(|r| r.prefix_len == 0)
        .filter_map(|r| Some((r, r.gateway?)))
        .min_by_key(|(r, _)| r.metric);
    let (default, gateway) = default?;
    let on_link = routes
        .iter()
        .filter(|r| r.interface == default.interface && r.gateway.is_none() && r.prefix_len > 0)
        .map(|r| Ipv4Net::new(r.destination, r.prefix_len))
        .filter(|n| n.contains(gateway))
        .collect();
    Some(DefaultRoute {
        interface: default.interface.clone(),
        gateway,
        on_link,
    })
}

/// An IPv4 network (address and prefix length), such as 192.168.1.0/24.
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::gateway::Ipv4Net;
///
/// let lan = Ipv4Net::new(Ipv4Addr::new(192, 168, 1, 77), 24); // host bits cleared
/// assert_eq!(lan.to_string(), "192.168.1.0/24");
/// assert!(lan.contains(Ipv4Addr::new(192, 168, 1, 200)));
/// assert!(!lan.contains(Ipv4Addr::new(192, 168, 2, 1)));
/// assert!(Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).contains(Ipv4Addr::new(8, 8, 8, 8)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Ipv4Net {
    /// The network address (host bits cleared).
    pub network: Ipv4Addr,
    /// The prefix length, 0 to 32.
    pub prefix_len: u8,
}

impl Ipv4Net {
    /// The network of `addr` with this prefix length (clamped to 32).
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Ipv4Net {
        let prefix_len = prefix_len.min(32);
        Ipv4Net {
            network: Ipv4Addr::from(u32::from(addr) & mask(prefix_len)),
            prefix_len,
        }
    }

    /// Whether `addr` is inside this network.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix_len) == u32::from(self.network)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

fn mask(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
}

/// One IPv4 route from `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub interface: String,
    pub destination: Ipv4Addr,
    pub gateway: Option<Ipv4Addr>,
    pub prefix_len: u8,
    pub metric: u32,
}

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// Parse `/proc/net/route`: skip the header, routes that are down and lines
/// that do not parse. Addresses are printed as the kernel's in-memory
/// (network-order) word in native byte order.
pub(crate) fn parse_route_table(text: &str) -> Vec<Route> {
    fn addr(hex: &str) -> Option<Ipv4Addr> {
        u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.to_ne_bytes()))
    }
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            if flags & RTF_UP == 0 {
                return None;
            }
            let mask = addr(f[7])?;
            let prefix_len = u32::from(mask).count_ones() as u8;
            let gw = addr(f[2])?;
            Some(Route {
                interface: f[0].to_string(),
                destination: addr(f[1])?,
                gateway: (flags & RTF_GATEWAY != 0 && !gw.is_unspecified()).then_some(gw),
                prefix_len,
                metric: f[6].parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(a: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(a))
    }

    const HEADER: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    /// A routing table as the kernel prints it, from rows of (interface,
    /// destination/prefix, gateway, flags, metric), then `extra` lines.
    fn table_of(rows: &[(&str, &str, &str, &str, u32)], extra: &str) -> String {
        let mut t = String::from(HEADER);
        for (ifc, dest, gw, flags, metric) in rows {
            let (d, len) = dest.split_once('/').unwrap();
            let (d, gw): (Ipv4Addr, Ipv4Addr) = (d.parse().unwrap(), gw.parse().unwrap());
            let m = Ipv4Addr::from(mask(len.parse().unwrap()));
            let (d, gw, m) = (hex(d.octets()), hex(gw.octets()), hex(m.octets()));
            t += &format!("{ifc}\t{d}\t{gw}\t{flags}\t0\t0\t{metric}\t{m}\t0\t0\t0\n");
        }
        t + extra
    }

    /// Two default routes (Wi-Fi at metric 600, Ethernet at 100), a
    /// lower-metric default that is down, a default through a device with no
    /// gateway address, the LANs (one down), and lines that do not parse.
    fn table() -> String {
        table_of(
            &[
                ("wlan0", "0.0.0.0/0", "10.0.0.1", "0003", 600),
                ("eth0", "0.0.0.0/0", "192.168.1.1", "0003", 100),
                ("eth1", "0.0.0.0/0", "172.16.0.1", "0002", 5),
                ("tun0", "0.0.0.0/0", "0.0.0.0", "0001", 1),
                ("eth0", "192.168.1.0/24", "0.0.0.0", "0001", 100),
                ("eth0", "192.168.0.0/16", "0.0.0.0", "0001", 100),
                ("eth0", "192.168.0.0/24", "0.0.0.0", "0000", 0),
                ("wlan0", "10.0.0.0/8", "0.0.0.0", "0001", 600),
            ],
            "garbage line\n\
             eth9\tZZZZZZZZ\t0101A8C0\t0003\t0\t0\t1\t00000000\n\
             eth9\t00000000\t0101A8C0\t0003\t0\t0\tlow\t00000000\n",
        )
    }

    #[test]
    fn the_lowest_metric_default_route_that_is_up_and_has_a_gateway_wins() {
        let chosen = choose_default_route(&table()).unwrap();
        assert_eq!(chosen.interface, "eth0");
        assert_eq!(chosen.gateway, Ipv4Addr::new(192, 168, 1, 1));
        // The on-link networks of eth0 that hold the gateway, longest first.
        assert_eq!(
            chosen.lan_for(Ipv4Addr::new(192, 168, 1, 4)),
            Some(Ipv4Net::new(Ipv4Addr::new(192, 168, 1, 0), 24))
        );
        assert_eq!(chosen.lan_for(Ipv4Addr::new(10, 0, 0, 4)), None);
    }

    #[test]
    fn equal_metrics_keep_the_first_route() {
        let t = table_of(
            &[
                ("eth0", "0.0.0.0/0", "192.168.1.1", "0003", 100),
                ("eth1", "0.0.0.0/0", "192.168.2.1", "0003", 100),
            ],
            "",
        );
        assert_eq!(choose_default_route(&t).unwrap().interface, "eth0");
    }

    #[test]
    fn no_default_route_is_none() {
        let t = table_of(&[("eth0", "192.168.1.0/24", "0.0.0.0", "0001", 100)], "");
        assert_eq!(choose_default_route(&t), None);
        assert_eq!(choose_default_route(HEADER), None);
        assert_eq!(choose_default_route(""), None);
        assert_eq!(choose_default_route("garbage\nmore garbage\n"), None);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let routes = parse_route_table(&table());
        assert_eq!(routes.len(), 6, "two routes are down: {routes:?}");
        assert!(routes.iter().all(|r| r.interface != "eth9"));
    }

    #[test]
    fn networks() {
        let n = Ipv4Net::new(Ipv4Addr::new(192, 168, 1, 77), 24);
        assert_eq!(n.to_string(), "192.168.1.0/24");
        assert!(n.contains(Ipv4Addr::new(192, 168, 1, 4)));
        assert!(!n.contains(Ipv4Addr::new(192, 168, 2, 4)));
        assert!(Ipv4Net::new(Ipv4Addr::new(1, 2, 3, 4), 0).contains(Ipv4Addr::new(9, 9, 9, 9)));
        assert!(Ipv4Net::new(Ipv4Addr::new(1, 2, 3, 4), 32).contains(Ipv4Addr::new(1, 2, 3, 4)));
    }

    #[test]
    fn rejects_impossible_gateways() {
        assert!(GatewayInfo::for_gateway(Ipv4Addr::UNSPECIFIED).is_err());
        assert!(GatewayInfo::for_gateway(Ipv4Addr::BROADCAST).is_err());
    }
}
