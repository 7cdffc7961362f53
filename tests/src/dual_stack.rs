//! The dual-stack testbed: the same three namespaces with IPv6 as well,
//! where a router has nothing to translate and opens *pinholes* in its
//! IPv6 firewall instead of forwarding ports.
//!
//! ```text
//!  [lan ns] 2001:db8:77::10/64 -- 2001:db8:77::1 [gw ns] 2001:db8:5::7 -- 2001:db8:5::1 [wan ns]
//!           default via ::1                 forwarding on,       route to 2001:db8:77::/64
//!                                           new inbound IPv6     via 2001:db8:5::7
//!                                           dropped unless a
//!                                           pinhole accepts it
//! ```
//!
//! Addresses are from the documentation prefix (RFC 3849) and exist only
//! inside the namespaces. They are added with `nodad`, and duplicate address
//! detection is off in the namespaces before their interfaces exist, so the
//! link-local addresses too are usable at once (miniupnpd multicasts its
//! IPv6 SSDP notices from them at start).
//!
//! miniupnpd (2.3.1) is told `ext_ifname6` and **not** `ipv6_listening_ip`:
//! with that option its one HTTP socket is bound to the IPv6 address alone,
//! and UPnP over IPv4 stops (the `ipv6_fixtures` gateway test pins this).
//! Without it, miniupnpd serves HTTP on every address of its LAN interface
//! (IPv4, the global IPv6 address and the link-local one, port
//! [`HTTP_PORT`](crate::HTTP_PORT)), PCP on `[::]:5351`, and answers SSDP
//! searches sent to `ff02::c` with `LOCATION: http://[2001:db8:77::1]:5000/...`
//! (the first global address of its LAN interface).

use std::io;
use std::net::Ipv6Addr;

use pfwd_core::Protocol;

use crate::netns::Netns;
use crate::{GW_LAN_IF, GW_WAN_IF, LAN_IF, Testbed, WAN_IF};

/// The LAN host's global IPv6 address.
pub const LAN_HOST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 0x10);
/// The router's global IPv6 address on the LAN (its IPv6 HTTP and PCP address).
pub const GATEWAY_LAN6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 1);
/// The router's IPv6 address on the WAN.
pub const ROUTER_WAN6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 7);
/// The internet host's IPv6 address.
pub const WAN_HOST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 1);
/// The LAN's global IPv6 prefix.
pub const LAN_NET6: &str = "2001:db8:77::/64";
/// The LAN host's unique local address in the ULA-only variant
/// ([`Testbed::lan_ula_only`]): an IPv6 address no pinhole can reach.
pub const LAN_ULA6: Ipv6Addr = Ipv6Addr::new(0xfd12, 0x3456, 0, 0, 0, 0, 0, 0x10);
/// The router's unique local address in the ULA-only variant.
pub const GATEWAY_ULA6: Ipv6Addr = Ipv6Addr::new(0xfd12, 0x3456, 0, 0, 0, 0, 0, 1);

/// Switch duplicate address detection off in `ns`, for the interfaces
/// created in it afterwards (they copy the namespace's defaults).
pub(crate) fn no_dad(ns: &Netns) -> io::Result<()> {
    ns.exec(
        "sysctl",
        &[
            "-qw",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
        ],
    )
    .map(|_| ())
}

/// Give the three namespaces their IPv6 addresses and routes, and let the
/// router forward IPv6. The interfaces are up already.
pub(crate) fn configure(lan: &Netns, gw: &Netns, wan: &Netns) -> io::Result<()> {
    for (ns, ifname, addr) in [
        (lan, LAN_IF, LAN_HOST6),
        (gw, GW_LAN_IF, GATEWAY_LAN6),
        (gw, GW_WAN_IF, ROUTER_WAN6),
        (wan, WAN_IF, WAN_HOST6),
    ] {
        ns.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{addr}/64"),
            "dev",
            ifname,
            "nodad",
        ])?;
    }
    lan.ip(&[
        "-6",
        "route",
        "add",
        "default",
        "via",
        &GATEWAY_LAN6.to_string(),
    ])?;
    wan.ip(&[
        "-6",
        "route",
        "add",
        LAN_NET6,
        "via",
        &ROUTER_WAN6.to_string(),
    ])?;
    gw.exec("sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"])?;
    Ok(())
}

impl Testbed {
    /// The dual-stack testbed: `config` with [`GatewayConfig::ipv6`](crate::GatewayConfig::ipv6)
    /// set, on the home topology (see the [module](self)).
    pub fn dual_stack(mut config: crate::GatewayConfig) -> io::Result<Testbed> {
        config.ipv6 = true;
        Testbed::new(config)
    }

    /// Whether this testbed has IPv6 (see [`Testbed::dual_stack`]).
    pub fn is_dual_stack(&self) -> bool {
        self.config().ipv6
    }

    /// The "no global IPv6 address" LAN: the LAN host loses
    /// [`LAN_HOST6`] and gets the unique local address [`LAN_ULA6`]
    /// instead (the router gets [`GATEWAY_ULA6`] next to its global one,
    /// and is the LAN host's default route by it). What a host behind a
    /// router that hands out no prefix has.
    ///
    /// # Errors
    ///
    /// On an IPv4-only testbed, or when `ip` fails.
    pub fn lan_ula_only(&self) -> io::Result<()> {
        self.need_ipv6("lan_ula_only")?;
        self.gw().ip(&[
            "-6",
            "addr",
            "add",
            &format!("{GATEWAY_ULA6}/64"),
            "dev",
            GW_LAN_IF,
            "nodad",
        ])?;
        self.lan().ip(&[
            "-6",
            "addr",
            "del",
            &format!("{LAN_HOST6}/64"),
            "dev",
            LAN_IF,
        ])?;
        self.lan().ip(&[
            "-6",
            "addr",
            "add",
            &format!("{LAN_ULA6}/64"),
            "dev",
            LAN_IF,
            "nodad",
        ])?;
        self.lan().ip(&[
            "-6",
            "route",
            "replace",
            "default",
            "via",
            &GATEWAY_ULA6.to_string(),
        ])?;
        Ok(())
    }

    /// Give the LAN host one more IPv6 address in [`LAN_NET6`]. Linux
    /// prefers the newest address as the source of new connections, so a
    /// `preferred` one becomes the address the router sees (and miniupnpd
    /// answers 606 to a pinhole asked for [`LAN_HOST6`] from it); with
    /// `preferred` false it is added with `preferred_lft 0` and is never
    /// chosen as a source.
    ///
    /// # Errors
    ///
    /// On an IPv4-only testbed, or when `ip` fails.
    pub fn add_lan_address6(&self, address: Ipv6Addr, preferred: bool) -> io::Result<()> {
        self.need_ipv6("add_lan_address6")?;
        let cidr = format!("{address}/64");
        let mut args = vec!["-6", "addr", "add", &cidr, "dev", LAN_IF, "nodad"];
        if !preferred {
            args.extend(["preferred_lft", "0"]);
        }
        self.lan().ip(&args).map(|_| ())
    }

    /// The router's IPv6 link-local address on the LAN (what a router
    /// advertisement would make the LAN host's IPv6 default route).
    ///
    /// # Errors
    ///
    /// When `ip` fails or the interface has none.
    pub fn gateway_link_local6(&self) -> io::Result<Ipv6Addr> {
        let out = self.gw().ip(&[
            "-6", "-o", "addr", "show", "dev", GW_LAN_IF, "scope", "link",
        ])?;
        out.split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no link-local address on {GW_LAN_IF}: {out}")))
    }

    /// The IPv6 pinholes in miniupnpd's filter chain, read from the
    /// firewall itself (`nft --debug=netlink -a list chain inet filter
    /// miniupnpd`: the rules, and the label miniupnpd keeps in each rule's
    /// user data, `pinhole-UID ts-EXPIRY: DESCRIPTION`). Empty when the
    /// chain cannot be read.
    pub fn pinholes(&self) -> Vec<Pinhole> {
        let listing = self
            .gw()
            .exec(
                "nft",
                &[
                    "--debug=netlink",
                    "-a",
                    "list",
                    "chain",
                    "inet",
                    "filter",
                    "miniupnpd",
                ],
            )
            .unwrap_or_default();
        parse_pinholes(&listing)
    }

    /// Whether the router's firewall holds a pinhole for `protocol` to
    /// `port` on the LAN host [`LAN_HOST6`] (see [`Testbed::pinholes`]).
    pub fn pinholed(&self, protocol: Protocol, port: u16) -> bool {
        self.pinholes()
            .iter()
            .any(|p| p.protocol == protocol && p.port == port && p.internal == LAN_HOST6)
    }

    fn need_ipv6(&self, what: &str) -> io::Result<()> {
        if self.is_dual_stack() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{what}: an IPv4-only testbed (build it with Testbed::dual_stack)"
            )))
        }
    }
}

/// One IPv6 pinhole rule in miniupnpd's filter chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinhole {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The LAN host it lets traffic in to.
    pub internal: Ipv6Addr,
    /// The port on the LAN host.
    pub port: u16,
    /// The only remote host allowed in, when it is limited to one.
    pub remote: Option<Ipv6Addr>,
    /// The only remote port allowed in, when it is limited to one.
    pub remote_port: Option<u16>,
    /// miniupnpd's UniqueID for it (from its label), when labelled.
    pub uid: Option<u16>,
    /// When miniupnpd removes it, in seconds of `CLOCK_MONOTONIC` (see
    /// [`monotonic_now`]), from its label.
    pub expires: Option<u64>,
    /// The description in its label (PCP writes its nonce there).
    pub description: Option<String>,
    /// The rule's nft handle.
    pub handle: Option<u64>,
}

impl Pinhole {
    /// Seconds until miniupnpd removes it (negative: overdue), from its label.
    pub fn expires_in(&self) -> Option<i64> {
        self.expires
            .map(|at| i64::try_from(at).unwrap_or(i64::MAX) - monotonic_now() as i64)
    }
}

/// The `CLOCK_MONOTONIC` seconds miniupnpd's timestamps count in
/// (`upnp_time()`).
pub fn monotonic_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given, which lives
    // for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0)
}

/// The pinholes in `nft --debug=netlink -a list chain ...` output: for each
/// rule, netlink's view first (a header `inet filter miniupnpd HANDLE`, its
/// expressions, then `userdata = { LABEL }`), then the ruleset as nft
/// prints it, each rule ending `# handle HANDLE`.
fn parse_pinholes(listing: &str) -> Vec<Pinhole> {
    let mut labels: Vec<(u64, String)> = Vec::new();
    let mut current: Option<u64> = None;
    for line in listing.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // `inet filter CHAIN HANDLE [POSITION]`
        if let ["inet", "filter", _, handle, ..] = words.as_slice() {
            current = handle.parse().ok();
        } else if let Some(label) = line
            .trim()
            .strip_prefix("userdata = {")
            .and_then(|l| l.strip_suffix('}'))
            && let Some(handle) = current
        {
            labels.push((handle, label.trim().to_string()));
        }
    }
    listing
        .lines()
        .filter_map(parse_rule)
        .map(|(mut pinhole, handle)| {
            pinhole.handle = handle;
            if let Some((_, label)) = labels.iter().find(|(h, _)| Some(*h) == handle) {
                let (uid, expires, description) = parse_label(label);
                pinhole.uid = uid;
                pinhole.expires = expires;
                pinhole.description = description;
            }
            pinhole
        })
        .collect()
}

/// `iif "gwwan" th dport 8080 @nh,192,128 0x20010db8... @nh,48,8 0x6 accept # handle 9`:
/// `@nh,192,128` is the IPv6 destination address, `@nh,64,128` the source,
/// `@nh,48,8` the next header (0x6 TCP, 0x11 UDP).
fn parse_rule(line: &str) -> Option<(Pinhole, Option<u64>)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |a: &str, b: Option<&str>| {
        words
            .windows(if b.is_some() { 3 } else { 2 })
            .find(|w| w[0] == a && b.is_none_or(|b| w[1] == b))
            .and_then(|w| w.last().copied())
    };
    let address = |w: &str| match w.strip_prefix("0x") {
        Some(hex) if hex.len() == 32 => u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from),
        Some(_) => None,
        None => w.parse::<Ipv6Addr>().ok(),
    };
    let internal = after("@nh,192,128", None)
        .or_else(|| after("ip6", Some("daddr")))
        .and_then(address)?;
    let protocol = match after("@nh,48,8", None).or_else(|| after("meta", Some("l4proto")))? {
        "0x6" | "6" | "tcp" => Protocol::Tcp,
        "0x11" | "17" | "udp" => Protocol::Udp,
        _ => return None,
    };
    let port = after("th", Some("dport"))
        .or_else(|| after("dport", None))?
        .parse()
        .ok()?;
    let remote = after("@nh,64,128", None)
        .or_else(|| after("ip6", Some("saddr")))
        .and_then(address);
    let remote_port = after("th", Some("sport")).and_then(|p| p.parse().ok());
    let handle = after("#", Some("handle")).and_then(|h| h.parse().ok());
    Some((
        Pinhole {
            protocol,
            internal,
            port,
            remote,
            remote_port,
            uid: None,
            expires: None,
            description: None,
            handle: None,
        },
        handle,
    ))
}

/// `pinhole-2 ts-34044: IGD2 pinhole` (miniupnpd's `PINEHOLE_LABEL_FORMAT`).
fn parse_label(label: &str) -> (Option<u16>, Option<u64>, Option<String>) {
    let Some(rest) = label.strip_prefix("pinhole-") else {
        return (None, None, None);
    };
    let (uid, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let rest = rest.trim_start();
    let (ts, description) = rest.split_once(':').unwrap_or((rest, ""));
    let description = description.trim();
    (
        uid.parse().ok(),
        ts.strip_prefix("ts-").and_then(|t| t.parse().ok()),
        (!description.is_empty()).then(|| description.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `nft --debug=netlink -a list chain inet filter miniupnpd`
    /// printed on the dual-stack testbed (expressions cut): a pinhole
    /// re-added by AddPinhole (its description lost), one limited to a
    /// remote host and port, and an IPv4 port mapping's forward rule
    /// (inserted: its header has a position after the handle).
    const LISTING: &str = "inet filter miniupnpd 9
  [ meta load iif => reg 1 ]
  [ cmp eq reg 1 0x00000003 ]
  [ payload load 2b @ transport header + 2 => reg 1 ]
  [ cmp eq reg 1 0x0000901f ]
  [ immediate reg 0 accept ]
  userdata = { pinhole-1 ts-68052:  }
inet filter miniupnpd 11
  [ immediate reg 0 accept ]
  userdata = { pinhole-3 ts-34160: IGD2 pinhole }
inet filter miniupnpd 12 11
  [ immediate reg 0 accept ]
  userdata = { libminiupnpc }
table inet filter {
\tchain miniupnpd { # handle 1
\t\tiif \"gwwan\" th dport 8080 @nh,192,128 0x20010db8007700000000000000000010 @nh,48,8 0x6 accept # handle 9
\t\tiif \"gwwan\" th dport 8081 th sport 4000 @nh,192,128 0x20010db8007700000000000000000010 @nh,64,128 0x20010db8000500000000000000000001 @nh,48,8 0x11 accept # handle 11
\t\tiif \"gwwan\" th dport 7001 @nh,128,32 0xc0a84d0a @nh,72,8 0x6 accept # handle 12
\t}
}
";

    #[test]
    fn pinholes_as_nft_prints_them() {
        let p = parse_pinholes(LISTING);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            p[0],
            Pinhole {
                protocol: Protocol::Tcp,
                internal: LAN_HOST6,
                port: 8080,
                remote: None,
                remote_port: None,
                uid: Some(1),
                expires: Some(68052),
                description: None,
                handle: Some(9),
            }
        );
        assert_eq!(p[1].protocol, Protocol::Udp);
        assert_eq!(p[1].port, 8081);
        assert_eq!(p[1].remote, Some(WAN_HOST6));
        assert_eq!(p[1].remote_port, Some(4000));
        assert_eq!(p[1].uid, Some(3));
        assert_eq!(p[1].expires, Some(34160));
        assert_eq!(p[1].handle, Some(11));
        assert_eq!(p[1].description.as_deref(), Some("IGD2 pinhole"));
        assert!(parse_pinholes("").is_empty());
    }

    #[test]
    fn labels_and_rules_in_other_spellings() {
        assert_eq!(
            parse_label("pinhole-65534 ts-12: PCP MAP 0a0b"),
            (Some(65534), Some(12), Some("PCP MAP 0a0b".into()))
        );
        assert_eq!(parse_label("pfwd"), (None, None, None));
        let (p, h) = parse_rule(
            "iif \"gwwan\" ip6 daddr 2001:db8:77::10 meta l4proto udp udp dport 51820 accept",
        )
        .unwrap();
        assert_eq!(
            (p.protocol, p.port, p.internal, h),
            (Protocol::Udp, 51820, LAN_HOST6, None)
        );
        assert!(parse_rule("chain miniupnpd { # handle 1").is_none());
    }

    #[test]
    fn the_clock_is_miniupnpds() {
        let a = monotonic_now();
        assert!(a > 0);
        let p = Pinhole {
            expires: Some(a + 100),
            ..parse_rule("th dport 1 @nh,192,128 ::1 @nh,48,8 6")
                .unwrap()
                .0
        };
        assert!(
            (98..=100).contains(&p.expires_in().unwrap()),
            "{:?}",
            p.expires_in()
        );
    }
}
