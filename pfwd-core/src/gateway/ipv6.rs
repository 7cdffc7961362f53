//! The IPv6 side of finding the gateway: the default IPv6 route (the router
//! a pinhole is asked of) and this host's global IPv6 address (the address
//! a pinhole opens, which PCP and UPnP require to be the sender's).
//!
//! Read from `/proc/thread-self/net/ipv6_route` and `.../if_inet6`, so a
//! thread in another network namespace sees that namespace. Nothing is sent.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddrV6};

/// The IPv6 router and this host's global address towards it.
///
/// # Examples
///
/// ```
/// use std::net::Ipv6Addr;
/// use pfwd_core::Ipv6Gateway;
///
/// let v6 = Ipv6Gateway {
///     interface: Some("eth0".into()),
///     router: "fe80::1".parse().unwrap(),
///     scope_id: 2,
///     local: "2001:db8::4".parse().unwrap(),
/// };
/// // A link-local router is reached through its interface.
/// assert_eq!(v6.router_at(5351).to_string(), "[fe80::1%2]:5351");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ipv6Gateway {
    /// The interface towards the router, when known.
    pub interface: Option<String>,
    /// The router's address: the default route's next hop, often link-local
    /// (`fe80::1`), then reached through `scope_id`.
    pub router: Ipv6Addr,
    /// The interface index for a link-local `router` (0 otherwise).
    pub scope_id: u32,
    /// This host's global IPv6 address: the address a pinhole opens.
    pub local: Ipv6Addr,
}

impl Ipv6Gateway {
    /// The router's `port` as a socket address (with the scope of a
    /// link-local router).
    pub fn router_at(&self, port: u16) -> SocketAddrV6 {
        let scope = if self.router.is_unicast_link_local() {
            self.scope_id
        } else {
            0
        };
        SocketAddrV6::new(self.router, port, 0, scope)
    }
}

/// Why this host cannot ask for an IPv6 pinhole.
///
/// # Examples
///
/// ```
/// use pfwd_core::Ipv6Unavailable;
///
/// let ula_only = Ipv6Unavailable::NoGlobalAddress {
///     interface: "eth0".into(),
///     ula: vec!["fd00::4".parse().unwrap()],
/// };
/// assert!(ula_only.to_string().starts_with(
///     "this host has no global IPv6 address on eth0, only unique local ones (fd00::4)"
/// ));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ipv6Unavailable {
    /// No default IPv6 route: the network gives this host no IPv6 internet.
    NoRoute,
    /// A default route, but no global address on its interface; the unique
    /// local (ULA, fc00::/7) addresses it has, if any, which the internet
    /// cannot reach.
    NoGlobalAddress {
        /// The interface of the default route.
        interface: String,
        /// Its unique local addresses.
        ula: Vec<Ipv6Addr>,
    },
    /// The system's tables could not be read (or the system is not Linux).
    Unreadable(String),
}

impl fmt::Display for Ipv6Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv6Unavailable::NoRoute => f.write_str(
                "this host has no IPv6 default route: the network gives it no IPv6 internet \
                 (forward over IPv4, or turn IPv6 on in the router)",
            ),
            Ipv6Unavailable::NoGlobalAddress { interface, ula } if !ula.is_empty() => write!(
                f,
                "this host has no global IPv6 address on {interface}, only unique local ones \
                 ({}), which the internet cannot reach: the router hands out no public IPv6 \
                 prefix (forward over IPv4, or ask the provider for IPv6)",
                ula.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ipv6Unavailable::NoGlobalAddress { interface, .. } => write!(
                f,
                "this host has no global IPv6 address on {interface}: the router hands out no \
                 public IPv6 prefix (forward over IPv4, or ask the provider for IPv6)"
            ),
            Ipv6Unavailable::Unreadable(why) => {
                write!(f, "this host's IPv6 addresses could not be read: {why}")
            }
        }
    }
}

/// This host's IPv6 router and global address, from the system's tables.
///
/// # Errors
///
/// [`Ipv6Unavailable`] saying why there is no IPv6 to open pinholes on.
///
/// # Examples
///
/// Compiled, not run: it reads this machine's tables.
///
/// ```no_run
/// match pfwd_core::default_ipv6_gateway() {
///     Ok(v6) => println!("pinholes open {} via {}", v6.local, v6.router),
///     Err(why) => println!("IPv4 only: {why}"),
/// }
/// ```
pub fn default_ipv6_gateway() -> Result<Ipv6Gateway, Ipv6Unavailable> {
    if !cfg!(target_os = "linux") {
        return Err(Ipv6Unavailable::Unreadable(
            "pfwd reads IPv6 routes on Linux only".into(),
        ));
    }
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/thread-self/net/{name}"))
            .or_else(|_| std::fs::read_to_string(format!("/proc/net/{name}")))
    };
    let routes = match read("ipv6_route") {
        Ok(t) => t,
        // No IPv6 in the kernel (or switched off): no route.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Ipv6Unavailable::NoRoute),
        Err(e) => return Err(Ipv6Unavailable::Unreadable(e.to_string())),
    };
    let addresses = read("if_inet6").unwrap_or_default();
    choose_ipv6_gateway(&routes, &addresses)
}

/// Choose the router and the global address from the texts of
/// `ipv6_route` and `if_inet6`: the default route (`::/0` through a next
/// hop) with the lowest metric, and on its interface a global address that
/// is usable (not tentative, deprecated or failed), preferring a stable one
/// to a temporary (privacy) one, which changes and so makes a poor server
/// address.
pub(crate) fn choose_ipv6_gateway(
    routes: &str,
    addresses: &str,
) -> Result<Ipv6Gateway, Ipv6Unavailable> {
    let (router, interface) = routes
        .lines()
        .filter_map(parse_route)
        .min_by_key(|r| r.2)
        .map(|(router, interface, _)| (router, interface))
        .ok_or(Ipv6Unavailable::NoRoute)?;
    let on_interface: Vec<InterfaceAddress> = addresses
        .lines()
        .filter_map(parse_address)
        .filter(|a| a.interface == interface)
        .collect();
    let scope_id = on_interface.first().map_or(0, |a| a.index);
    let usable = |a: &&InterfaceAddress| a.flags & (TENTATIVE | DEPRECATED | DAD_FAILED) == 0;
    let global = on_interface
        .iter()
        .filter(usable)
        .filter(|a| is_global(a.address))
        .min_by_key(|a| a.flags & TEMPORARY != 0);
    match global {
        Some(a) => Ok(Ipv6Gateway {
            interface: Some(interface),
            router,
            scope_id,
            local: a.address,
        }),
        None => Err(Ipv6Unavailable::NoGlobalAddress {
            ula: on_interface
                .iter()
                .filter(usable)
                .map(|a| a.address)
                .filter(Ipv6Addr::is_unique_local)
                .collect(),
            interface,
        }),
    }
}

/// `if_inet6` flags (linux/if_addr.h).
const TEMPORARY: u32 = 0x01;
const DAD_FAILED: u32 = 0x08;
const DEPRECATED: u32 = 0x20;
const TENTATIVE: u32 = 0x40;

/// Whether `a` can be reached from the internet: not loopback, link-local,
/// unique local, multicast, unspecified or IPv4-mapped. (The documentation
/// prefix 2001:db8::/32 counts as global: the testbed uses it.)
pub(crate) fn is_global(a: Ipv6Addr) -> bool {
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || a.is_unicast_link_local()
        || a.is_unique_local()
        || a.to_ipv4_mapped().is_some())
}

fn hex_address(s: &str) -> Option<Ipv6Addr> {
    if s.len() != 32 {
        return None;
    }
    u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from)
}

/// One `ipv6_route` line, if it is a default route through a next hop:
/// (next hop, interface, metric).
fn parse_route(line: &str) -> Option<(Ipv6Addr, String, u32)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let (dest, plen, next_hop) = (hex_address(f[0])?, f[1], hex_address(f[4])?);
    let metric = u32::from_str_radix(f[5], 16).ok()?;
    let flags = u32::from_str_radix(f[8], 16).ok()?;
    const RTF_UP: u32 = 0x1;
    const RTF_REJECT: u32 = 0x200;
    let interface = f[9];
    (dest.is_unspecified()
        && plen == "00"
        && !next_hop.is_unspecified()
        && flags & RTF_UP != 0
        && flags & RTF_REJECT == 0
        && interface != "lo")
        .then(|| (next_hop, interface.to_string(), metric))
}

struct InterfaceAddress {
    address: Ipv6Addr,
    index: u32,
    flags: u32,
    interface: String,
}

/// One `if_inet6` line: address, index, prefix length, scope, flags, name.
fn parse_address(line: &str) -> Option<InterfaceAddress> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 6 {
        return None;
    }
    Some(InterfaceAddress {
        address: hex_address(f[0])?,
        index: u32::from_str_radix(f[1], 16).ok()?,
        flags: u32::from_str_radix(f[4], 16).ok()?,
        interface: f[5].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // As the testbed's LAN host lists them (`cat /proc/net/ipv6_route`).
    const ROUTES: &str = "\
20010db8007700000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   veth-lan
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   veth-lan
00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8007700000000000000000001 00000400 00000001 00000000 00000003   veth-lan
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
";

    const ADDRESSES: &str = "\
20010db8007700000000000000000010 02 40 00 80 veth-lan
fe80000000000000a8bbccfffe000010 02 40 20 80 veth-lan
00000000000000000000000000000001 01 80 10 80       lo
";

    #[test]
    fn finds_the_router_and_the_global_address() {
        let g = choose_ipv6_gateway(ROUTES, ADDRESSES).expect("a gateway");
        assert_eq!(g.router, "2001:db8:77::1".parse::<Ipv6Addr>().expect("ip"));
        assert_eq!(g.local, "2001:db8:77::10".parse::<Ipv6Addr>().expect("ip"));
        assert_eq!(g.interface.as_deref(), Some("veth-lan"));
        assert_eq!(g.scope_id, 2);
        assert_eq!(g.router_at(5351).scope_id(), 0);
    }

    #[test]
    fn a_link_local_router_is_reached_through_its_interface() {
        let routes = ROUTES.replace(
            "20010db8007700000000000000000001 00000400",
            "fe800000000000000000000000000001 00000400",
        );
        let g = choose_ipv6_gateway(&routes, ADDRESSES).expect("a gateway");
        let at = g.router_at(5351);
        assert_eq!(at.scope_id(), 2);
        assert_eq!(at.ip().to_string(), "fe80::1");
    }

    #[test]
    fn prefers_a_stable_address_to_a_temporary_or_unusable_one() {
        let addresses = format!(
            "20010db8007700000000000000000099 02 40 00 01 veth-lan\n\
             20010db8007700000000000000000077 02 40 00 20 veth-lan\n\
             20010db8007700000000000000000066 02 40 00 40 veth-lan\n{ADDRESSES}"
        );
        let g = choose_ipv6_gateway(ROUTES, &addresses).expect("a gateway");
        assert_eq!(g.local, "2001:db8:77::10".parse::<Ipv6Addr>().expect("ip"));
        let only_temporary = "20010db8007700000000000000000099 02 40 00 01 veth-lan\n";
        let g = choose_ipv6_gateway(ROUTES, only_temporary).expect("a gateway");
        assert_eq!(g.local, "2001:db8:77::99".parse::<Ipv6Addr>().expect("ip"));
    }

    #[test]
    fn a_ula_only_host_is_told_so() {
        let addresses = "fd123456000000000000000000000010 02 40 00 80 veth-lan\n";
        let e = choose_ipv6_gateway(ROUTES, addresses).expect_err("no global address");
        assert_eq!(
            e,
            Ipv6Unavailable::NoGlobalAddress {
                interface: "veth-lan".into(),
                ula: vec!["fd12:3456::10".parse().expect("ip")],
            }
        );
        assert!(
            e.to_string()
                .contains("only unique local ones (fd12:3456::10)")
        );
    }

    #[test]
    fn no_default_route_is_no_ipv6() {
        let only_local: String = ROUTES.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(
            choose_ipv6_gateway(&only_local, ADDRESSES),
            Err(Ipv6Unavailable::NoRoute)
        );
        assert_eq!(
            choose_ipv6_gateway("garbage\n\n", ""),
            Err(Ipv6Unavailable::NoRoute)
        );
    }

    #[test]
    fn what_is_global() {
        for (a, global) in [
            ("2001:db8::4", true),
            ("2a02:1234::1", true),
            ("fd00::1", false),
            ("fe80::1", false),
            ("::1", false),
            ("::ffff:192.168.1.4", false),
            ("ff02::c", false),
        ] {
            assert_eq!(is_global(a.parse().expect("ip")), global, "{a}");
        }
    }
}
