//! What happens to a router while pfwd keeps mappings on it, behind pfwd's
//! back: its port-forwarding rules flushed while the daemon keeps running, a
//! new WAN address, and what it really forwards (its firewall, not its own
//! list).
//!
//! Two things about miniupnpd 2.3.1 (the nftables build Debian ships) that
//! these tests depend on, seen on this testbed and read in its source:
//!
//! - **Its list is a cache.** miniupnpd keeps a copy of its nft chains and
//!   re-reads them only after it changed a rule itself
//!   (`refresh_nft_cache_*` in `netfilter_nft/nftnlrdr_misc.c`, invalidated
//!   in `nft_send_rule`). After [`Testbed::flush_router_rules`] the UPnP list
//!   (`GetGenericPortMappingEntry`, `upnpc -l`) still shows every mapping,
//!   and a UPnP `AddPortMapping` for one of them only "updates existing port
//!   mapping" (a new timestamp) without putting the rule back. A NAT-PMP or
//!   PCP request for it, or any rule change miniupnpd makes (a UPnP delete,
//!   even a failed one), refreshes the cache; a NAT-PMP or PCP renewal puts
//!   the rule back. [`Testbed::forwarded`] reads the firewall itself.
//! - **It notices a new WAN address by itself only when UPnP is on.** It
//!   watches netlink (`RTM_NEWADDR` / `RTM_DELADDR` on `ext_ifname`,
//!   `linux/ifacewatcher.c`), but opens that socket only next to its SSDP
//!   socket, that is with `enable_upnp=yes`, and never looks when `ext_ip=`
//!   is set. SIGUSR1 does the same by hand ("public IP address change").
//!   Either way it logs "should send external iface address change
//!   notification(s)", re-reads the address, resets the PCP epoch, sends a
//!   PCP ANNOUNCE and a NAT-PMP address notification, and fires the UPnP
//!   `ExternalIPAddress` event. Its DNAT rules match the WAN interface, not
//!   the address (`iif "gwwan" ... dnat`), so existing mappings forward
//!   traffic to the new address without being made again. While the
//!   interface has no address (between the old one's removal and the new
//!   one's arrival) it logs "Network is down" and switches port forwarding
//!   off, and on again when the new, public address arrives.

use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;

use crate::{GW_WAN_IF, Testbed, Topology};

/// The line miniupnpd logs when it acts on a change of its WAN address.
const NOTICED: &str = "should send external iface address change notification";

/// What [`Testbed::change_wan_address`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WanChange {
    /// The router's WAN address before.
    pub old: Ipv4Addr,
    /// The router's WAN address now.
    pub new: Ipv4Addr,
    /// How miniupnpd learnt of it.
    pub told: Told,
}

/// How miniupnpd learnt of a new WAN address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// It saw the change on netlink by itself (UPnP on).
    ByItself,
    /// It did not within a second, and was sent SIGUSR1 (what a router's
    /// DHCP or PPP hook does).
    BySigusr1,
    /// No daemon runs.
    NoDaemon,
}

impl Testbed {
    /// Load `rules` (nft syntax) into the router's firewall.
    pub fn nft_apply(&self, rules: &str) -> io::Result<()> {
        let path = std::env::temp_dir().join(format!(
            "pfwd-rules-{}-{}.nft",
            std::process::id(),
            self.namespaces()[0]
        ));
        std::fs::write(&path, rules)?;
        let applied = self.gw().exec("nft", &["-f", &path.to_string_lossy()]);
        let _ = std::fs::remove_file(&path);
        applied.map(|_| ())
    }

    /// Make the router silent: drop, without an ICMP answer, what the LAN
    /// sends to its SSDP (1900), NAT-PMP/PCP (5351) and HTTP ports, as a
    /// router whose firewall drops packets to closed ports does.
    pub fn drop_router_ports(&self) -> io::Result<()> {
        self.nft_apply(&format!(
            "table inet silent {{\n chain input {{\n  type filter hook input priority -10; policy accept;\n  \
             udp dport {{ 1900, 5351 }} drop\n  tcp dport {} drop\n }}\n}}\n",
            crate::HTTP_PORT
        ))
    }

    /// Empty miniupnpd's chains while it keeps running: every mapping's
    /// rules go and the daemon is not told (a firewall reload, another
    /// program's `nft flush`). See the module's notes: miniupnpd's own list
    /// still shows them afterwards.
    pub fn flush_router_rules(&self) -> io::Result<()> {
        crate::miniupnpd::flush_chains(self.gw())
    }

    /// The router's WAN address now (read from its WAN interface).
    pub fn wan_address(&self) -> io::Result<Ipv4Addr> {
        let out = self
            .gw()
            .ip(&["-4", "-o", "addr", "show", "dev", GW_WAN_IF])?;
        out.split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no IPv4 address on {GW_WAN_IF}: {out}")))
    }

    /// Give the router the WAN address `new` (in 5.5.5.0/24, like the one it
    /// replaces: miniupnpd refuses reserved ranges) while it runs, as an ISP
    /// does when a DHCP lease or a PPP session ends: the old address is
    /// removed, the new one added, and miniupnpd is told by SIGUSR1 when it
    /// did not notice by itself within a second (see the module's notes).
    /// The internet host's route to the router is its on-link /24, which
    /// covers the new address; nothing else there changes.
    ///
    /// # Errors
    ///
    /// Behind a carrier (the router's WAN address is the carrier's to give),
    /// for an address outside 5.5.5.0/24, and when `ip` fails.
    pub fn change_wan_address(&self, new: Ipv4Addr) -> io::Result<WanChange> {
        if self.topology() != Topology::Home {
            return Err(io::Error::other(
                "change_wan_address: only the home topology (behind a carrier the router is told ext_ip=)",
            ));
        }
        let [a, b, c, _] = new.octets();
        if (a, b, c) != (5, 5, 5) || new == crate::WAN_HOST {
            return Err(io::Error::other(format!(
                "change_wan_address: {new} is not a free address in 5.5.5.0/24"
            )));
        }
        let old = self.wan_address()?;
        let log_from = self.daemon_log().len();
        // Removed first: deleting a primary address also deletes the
        // secondaries (promote_secondaries is off by default).
        self.gw()
            .ip(&["addr", "del", &format!("{old}/24"), "dev", GW_WAN_IF])?;
        self.gw()
            .ip(&["addr", "add", &format!("{new}/24"), "dev", GW_WAN_IF])?;
        let told = match self.daemon_pid() {
            None => Told::NoDaemon,
            Some(pid) => {
                // Noticed: it logged the new address's arrival (netlink, with
                // -d), and acted on it after that.
                let acted_after = |marker: Option<&str>, from: usize| {
                    let log = self.daemon_log();
                    let log = log.get(from..).unwrap_or("");
                    let since = marker.map_or(Some(0), |m| log.rfind(m));
                    since.is_some_and(|i| log[i..].contains(NOTICED))
                };
                if wait(Duration::from_secs(1), || {
                    acted_after(Some("RTM_NEWADDR"), log_from)
                }) {
                    Told::ByItself
                } else {
                    let from = self.daemon_log().len();
                    // SAFETY: kill(2) has no memory-safety preconditions.
                    unsafe { libc::kill(pid as i32, libc::SIGUSR1) };
                    if !wait(Duration::from_secs(2), || acted_after(None, from)) {
                        return Err(io::Error::other(format!(
                            "miniupnpd did not act on SIGUSR1 within 2 s:\n{}",
                            self.daemon_log()
                        )));
                    }
                    Told::BySigusr1
                }
            }
        };
        Ok(WanChange { old, new, told })
    }

    /// What the router really forwards: the (protocol, outside port, LAN
    /// address, LAN port) of each DNAT rule in miniupnpd's chain, read from
    /// the firewall (miniupnpd's own list may be stale: see the module's
    /// notes). Empty when the chain cannot be read.
    pub fn forwarded(&self) -> Vec<Forwarded> {
        let chain = self
            .gw()
            .exec("nft", &["list", "chain", "inet", "nat", "miniupnpd"])
            .unwrap_or_default();
        chain.lines().filter_map(parse_dnat).collect()
    }

    /// Whether the router forwards `protocol` `port` (see [`Testbed::forwarded`]).
    pub fn forwards(&self, protocol: Protocol, port: u16) -> bool {
        self.forwarded()
            .iter()
            .any(|f| f.protocol == protocol && f.external_port == port)
    }
}

/// Poll `done` every 10 ms until it holds or `limit` has passed.
fn wait(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One DNAT rule of miniupnpd's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The outside port.
    pub external_port: u16,
    /// The LAN host.
    pub internal: Ipv4Addr,
    /// The LAN port.
    pub internal_port: u16,
}

/// `iif "gwwan" @nh,72,8 0x6 th dport 7001 dnat ip to 192.168.77.10:7001`
/// (the IP header's protocol byte: 0x6 TCP, 0x11 UDP).
fn parse_dnat(line: &str) -> Option<Forwarded> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |w: &str| {
        words
            .iter()
            .position(|x| *x == w)
            .and_then(|i| words.get(i + 1))
    };
    let protocol = match *after("@nh,72,8")? {
        "0x6" | "6" => Protocol::Tcp,
        "0x11" | "17" => Protocol::Udp,
        _ => return None,
    };
    let external_port = after("dport")?.parse().ok()?;
    let (ip, port) = after("to")?.split_once(':')?;
    Some(Forwarded {
        protocol,
        external_port,
        internal: ip.parse().ok()?,
        internal_port: port.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnat_rules_as_nft_prints_them() {
        let tcp = "\t\tiif \"gwwan\" @nh,72,8 0x6 th dport 7001 dnat ip to 192.168.77.10:7001";
        assert_eq!(
            parse_dnat(tcp),
            Some(Forwarded {
                protocol: Protocol::Tcp,
                external_port: 7001,
                internal: Ipv4Addr::new(192, 168, 77, 10),
                internal_port: 7001,
            })
        );
        let udp = "iif \"gwwan\" @nh,72,8 0x11 th dport 51820 dnat ip to 192.168.77.10:51821";
        assert_eq!(parse_dnat(udp).map(|f| f.protocol), Some(Protocol::Udp));
        assert_eq!(parse_dnat(udp).map(|f| f.internal_port), Some(51821));
        assert_eq!(parse_dnat("chain miniupnpd {"), None);
    }
}
