//! A real home router on one machine, for pfwd's tests and demo.
//!
//! ```text
//!  [lan ns]  pi 192.168.77.10 --veth-- 192.168.77.1 [gw ns] 5.5.5.7 --veth-- 5.5.5.1 [wan ns]
//!            default via .1               miniupnpd, nft NAT          "the internet"
//! ```
//!
//! Each [`Testbed`] builds its own three namespaces with names unique to the
//! process and the testbed, runs miniupnpd in the gateway namespace, and
//! tears everything down on drop. A run that is killed leaves namespaces
//! named after its process id; the next testbed (or `pfwd-testbed clean`)
//! removes those whose process is gone. No packet leaves the namespaces.
//!
//! [`Testbed::behind_carrier`] builds the double-NAT variant: a fourth
//! namespace, the carrier (an ISP's carrier-grade NAT), sits between the
//! router and the internet, and the router's WAN address is a shared one
//! (100.64.0.0/10):
//!
//! ```text
//!  [lan ns] 192.168.77.10 -- 192.168.77.1 [gw ns] 100.64.0.2 -- 100.64.0.1 [carrier ns] 5.5.5.8 -- 5.5.5.1 [wan ns]
//!                             miniupnpd, nft NAT             masquerades 100.64/10 as 5.5.5.8,
//!                             (told ext_ip=5.5.5.7)          forwards nothing inbound
//! ```
//!
//! A mapping made on that router works from the carrier (to 100.64.0.2) and
//! never from the internet (to 5.5.5.8, the carrier's public address, or
//! 5.5.5.7, the address the router claims): see [`reaches`] and
//! [`reaches_from_carrier`]. The internet sees the LAN as 5.5.5.8, not as
//! the 5.5.5.7 the router reports: what `pfwd check` must notice.
//!
//! [`Testbed::dual_stack`] (or [`GatewayConfig::dual_stack`]) adds IPv6 to
//! the home topology: global addresses from 2001:db8::/32, a router that
//! forwards IPv6 and lets new inbound IPv6 in only through miniupnpd's
//! pinholes; [`reaches_v6`] and [`Testbed::pinholes`] prove and list them.
//! See [`dual_stack`].
#![allow(clippy::unwrap_used)]

pub mod bench;
pub mod compare;
pub mod compare6;
pub mod dual_stack;
pub mod keeping;
pub mod miniupnpd;
pub mod netns;
pub mod outside;
pub mod pi;
pub mod prober;
pub mod router;
pub mod traffic;
pub mod traffic6;
pub mod upnp_phases;

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

pub use dual_stack::{GATEWAY_LAN6, LAN_HOST6, LAN_ULA6, Pinhole, ROUTER_WAN6, WAN_HOST6};
pub use miniupnpd::{Daemon, GatewayConfig, HTTP_PORT};
pub use netns::Netns;
pub use router::{Forwarded, Told, WanChange};
pub use traffic::{
    reaches, reaches_again_within, reaches_at, reaches_from_carrier, source_seen_in_wan,
};
pub use traffic6::{reaches_v6, reaches_v6_at};

/// The Pi: the LAN host pfwd runs on.
pub const LAN_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 10);
/// The second LAN host that `pfwd-testbed run` adds (the book's web server
/// Pi; `Testbed::add_lan_host`).
pub const WEB_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 4);
/// The router's LAN address.
pub const GATEWAY_LAN: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
/// The router's public address.
pub const EXTERNAL_IP: Ipv4Addr = Ipv4Addr::new(5, 5, 5, 7);
/// A host on "the internet".
pub const WAN_HOST: Ipv4Addr = Ipv4Addr::new(5, 5, 5, 1);
/// The LAN, as miniupnpd's permission rules write it.
pub const LAN_NET: &str = "192.168.77.0/24";
/// Interface names inside the namespaces (never in the machine's own).
pub const LAN_IF: &str = "lan0";
/// The gateway's LAN-side interface.
pub const GW_LAN_IF: &str = "gwlan";
/// The gateway's WAN-side interface.
pub const GW_WAN_IF: &str = "gwwan";
/// The internet host's interface.
pub const WAN_IF: &str = "wan0";

/// Behind a carrier: the router's WAN address, from the shared address
/// space carriers use for carrier-grade NAT (100.64.0.0/10, RFC 6598).
pub const CARRIER_ROUTER_IP: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
/// Behind a carrier: the carrier's address on the router's side, the
/// router's default route.
pub const CARRIER_IP: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
/// The carrier's public address: the one the internet sees for every LAN
/// behind it. It differs from the [`EXTERNAL_IP`] the router is told to
/// report (see [`Topology::BehindCarrier`]), as a carrier's shared address
/// differs from anything a router behind it can know.
pub const CARRIER_PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(5, 5, 5, 8);
/// The carrier's shared address space, as the router's WAN prefix.
pub const CARRIER_NET: &str = "100.64.0.0/10";
/// The carrier's interface towards the router.
pub const CARRIER_IN_IF: &str = "carin";
/// The carrier's interface towards the internet (it holds [`CARRIER_PUBLIC_IP`]).
pub const CARRIER_OUT_IF: &str = "carout";

/// The prefix of every namespace a testbed creates.
pub const PREFIX: &str = "pfwdtb";

/// How the router reaches the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// The router holds the public address [`EXTERNAL_IP`] itself: lan, gw, wan.
    Home,
    /// Double NAT: the router's WAN address is [`CARRIER_ROUTER_IP`] and a
    /// carrier namespace (an ISP's carrier-grade NAT) between it and the
    /// internet masquerades it as [`CARRIER_PUBLIC_IP`], forwarding nothing
    /// inbound: lan, gw, carrier, wan.
    BehindCarrier {
        /// The external address miniupnpd is told with `ext_ip=`.
        ///
        /// miniupnpd 2.3.1 (Debian's) will not grant anything with a WAN
        /// address in 100.64.0.0/10 on its own: it logs "Port forwarding is
        /// impossible", reports no external address (UPnP: an empty
        /// string; NAT-PMP: NETWORK_FAILURE) and fails every mapping. It
        /// also refuses to start with `ext_ip=100.64.0.2` (reserved
        /// address), and `ext_allow_private_ipv4` only exists from 2.3.9
        /// on. So a router that grants mappings behind the carrier is told
        /// a public address here, [`EXTERNAL_IP`] in
        /// [`Topology::behind_carrier`]: it then reports that address and
        /// maps "successfully", and only traffic from the internet shows
        /// that nothing arrives. `None` gives the refusing router.
        ext_ip: Option<Ipv4Addr>,
    },
}

impl Topology {
    /// Behind a carrier, with miniupnpd told `ext_ip=`[`EXTERNAL_IP`] so
    /// that it grants mappings (see [`Topology::BehindCarrier`]).
    pub const fn behind_carrier() -> Topology {
        Topology::BehindCarrier {
            ext_ip: Some(EXTERNAL_IP),
        }
    }
}

/// Namespaces wired as LAN, router, (carrier,) and internet, with miniupnpd.
#[derive(Debug)]
pub struct Testbed {
    config: GatewayConfig,
    topology: Topology,
    daemon: Option<Daemon>,
    dir: PathBuf,
    // Dropped in this order, after the daemon is stopped.
    hosts: Vec<Netns>,
    lan: Netns,
    gw: Netns,
    carrier: Option<Netns>,
    wan: Netns,
}

impl Testbed {
    /// Build the namespaces, the links and the router's firewall, and start
    /// miniupnpd when `config.daemon` says so: the [`Topology::Home`] testbed.
    pub fn new(config: GatewayConfig) -> io::Result<Testbed> {
        Testbed::with_topology(config, Topology::Home)
    }

    /// The double-NAT testbed: the router behind a carrier-grade NAT
    /// ([`Topology::behind_carrier`]).
    pub fn behind_carrier(config: GatewayConfig) -> io::Result<Testbed> {
        Testbed::with_topology(config, Topology::behind_carrier())
    }

    /// A testbed with the router connected as `topology` says (IPv6 too
    /// with `config.ipv6`, on the home topology only: see [`dual_stack`]).
    pub fn with_topology(config: GatewayConfig, topology: Topology) -> io::Result<Testbed> {
        if config.ipv6 && topology != Topology::Home {
            return Err(io::Error::other(
                "the dual-stack testbed has the home topology only",
            ));
        }
        static SWEEP: Once = Once::new();
        SWEEP.call_once(|| {
            clean_stale();
        });
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{PREFIX}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(&id);
        std::fs::create_dir_all(&dir)?;
        let lan = Netns::create(&format!("{id}-lan"))?;
        let gw = Netns::create(&format!("{id}-gw"))?;
        let carrier = match topology {
            Topology::Home => None,
            Topology::BehindCarrier { .. } => Some(Netns::create(&format!("{id}-carrier"))?),
        };
        let wan = Netns::create(&format!("{id}-wan"))?;
        if config.ipv6 {
            for ns in [&lan, &gw, &wan] {
                dual_stack::no_dad(ns)?;
            }
        }
        veth((&lan, LAN_IF), (&gw, GW_LAN_IF))?;
        let mut addresses = vec![
            (&lan, LAN_IF, format!("{LAN_HOST}/24")),
            (&gw, GW_LAN_IF, format!("{GATEWAY_LAN}/24")),
        ];
        if let Some(carrier) = &carrier {
            veth((carrier, CARRIER_IN_IF), (&gw, GW_WAN_IF))?;
            veth((&wan, WAN_IF), (carrier, CARRIER_OUT_IF))?;
            addresses.extend([
                (&gw, GW_WAN_IF, format!("{CARRIER_ROUTER_IP}/10")),
                (carrier, CARRIER_IN_IF, format!("{CARRIER_IP}/10")),
                (carrier, CARRIER_OUT_IF, format!("{CARRIER_PUBLIC_IP}/24")),
            ]);
        } else {
            veth((&wan, WAN_IF), (&gw, GW_WAN_IF))?;
            addresses.push((&gw, GW_WAN_IF, format!("{EXTERNAL_IP}/24")));
        }
        addresses.push((&wan, WAN_IF, format!("{WAN_HOST}/24")));
        for (ns, ifname, addr) in addresses {
            ns.ip(&["addr", "add", &addr, "dev", ifname])?;
            ns.ip(&["link", "set", ifname, "up"])?;
        }
        lan.ip(&["route", "add", "default", "via", &GATEWAY_LAN.to_string()])?;
        gw.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
        if config.ipv6 {
            dual_stack::configure(&lan, &gw, &wan)?;
        }
        let rules = dir.join("router.nft");
        std::fs::write(&rules, miniupnpd::nft_ruleset(config.ipv6))?;
        gw.exec("nft", &["-f", &rules.to_string_lossy()])?;
        if let Some(carrier) = &carrier {
            gw.ip(&["route", "add", "default", "via", &CARRIER_IP.to_string()])?;
            carrier.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
            let rules = dir.join("carrier.nft");
            std::fs::write(&rules, carrier_ruleset())?;
            carrier.exec("nft", &["-f", &rules.to_string_lossy()])?;
        }
        let mut tb = Testbed {
            config,
            topology,
            daemon: None,
            dir,
            hosts: Vec::new(),
            lan,
            gw,
            carrier,
            wan,
        };
        if tb.config.daemon {
            tb.start_daemon()?;
        }
        Ok(tb)
    }

    /// The LAN namespace, where pfwd runs.
    pub fn lan(&self) -> &Netns {
        &self.lan
    }

    /// The router's namespace.
    pub fn gw(&self) -> &Netns {
        &self.gw
    }

    /// The internet's namespace.
    pub fn wan(&self) -> &Netns {
        &self.wan
    }

    /// The carrier's namespace (its carrier-grade NAT), in the
    /// [`Topology::BehindCarrier`] testbed.
    pub fn carrier(&self) -> Option<&Netns> {
        self.carrier.as_ref()
    }

    /// How the router is connected.
    pub fn topology(&self) -> Topology {
        self.topology
    }

    /// The address on the router's WAN interface: [`EXTERNAL_IP`], or
    /// [`CARRIER_ROUTER_IP`] behind a carrier. A mapping on the router is
    /// reached at this address from the namespace on the router's WAN
    /// link (wan, or the carrier).
    pub fn router_wan_address(&self) -> Ipv4Addr {
        match self.topology {
            Topology::Home => EXTERNAL_IP,
            Topology::BehindCarrier { .. } => CARRIER_ROUTER_IP,
        }
    }

    /// The router's configuration (behind a carrier, miniupnpd also gets
    /// the topology's `ext_ip=` line, first).
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Start miniupnpd (after [`stop_daemon`](Self::stop_daemon), or for a
    /// testbed built without it).
    pub fn start_daemon(&mut self) -> io::Result<()> {
        if self.daemon.is_none() {
            let mut config = self.config.clone();
            if let Topology::BehindCarrier {
                ext_ip: Some(ext_ip),
            } = self.topology
            {
                config.extra.insert(0, format!("ext_ip={ext_ip}"));
            }
            self.daemon = Some(Daemon::start(&self.gw, &config, &self.dir)?);
        }
        Ok(())
    }

    /// Stop miniupnpd; its rules stay until [`restart_daemon`](Self::restart_daemon)
    /// or the next start flushes them.
    pub fn stop_daemon(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop();
        }
    }

    /// A router reboot: stop miniupnpd, flush its chains, start it again.
    pub fn restart_daemon(&mut self) -> io::Result<()> {
        self.stop_daemon();
        miniupnpd::flush_chains(&self.gw)?;
        let _ = std::fs::remove_file(self.dir.join("miniupnpd.leases"));
        self.start_daemon()
    }

    /// The process id of the running miniupnpd.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Daemon::pid)
    }

    /// Another host on the LAN (a second Pi, the web server of Getting
    /// started) at `address`, in a namespace of its own named
    /// `...-NAME`: a macvlan of the LAN host's link with its own MAC, a
    /// default route via the router. The router and the internet reach it
    /// as any LAN host; the LAN host itself cannot (a macvlan never talks
    /// to its parent), so pfwd run there to forward for it asks the router,
    /// as a program on another machine would.
    pub fn add_lan_host(&mut self, name: &str, address: Ipv4Addr) -> io::Result<&Netns> {
        let id = self.lan.name().trim_end_matches("-lan").to_string();
        let host = Netns::create(&format!("{id}-{name}"))?;
        let ifname = format!("{name}0");
        self.lan.ip(&[
            "link", "add", "link", LAN_IF, "name", &ifname, "type", "macvlan", "mode", "bridge",
        ])?;
        self.lan
            .ip(&["link", "set", &ifname, "netns", host.name()])?;
        host.ip(&["addr", "add", &format!("{address}/24"), "dev", &ifname])?;
        host.ip(&["link", "set", &ifname, "up"])?;
        host.ip(&["route", "add", "default", "via", &GATEWAY_LAN.to_string()])?;
        self.hosts.push(host);
        Ok(self.hosts.last().expect("just pushed"))
    }

    /// The names of the namespaces, in order from the LAN to the internet:
    /// lan, gw, wan, or lan, gw, carrier, wan behind a carrier.
    pub fn namespaces(&self) -> Vec<&str> {
        let mut names = vec![self.lan.name(), self.gw.name()];
        names.extend(self.carrier.as_ref().map(Netns::name));
        names.push(self.wan.name());
        names
    }

    /// What miniupnpd logged (empty when it never ran).
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("miniupnpd.log")).unwrap_or_default()
    }

    /// The router's firewall rules (`nft list ruleset` in the gateway).
    pub fn ruleset(&self) -> String {
        self.gw
            .exec("nft", &["list", "ruleset"])
            .unwrap_or_default()
    }

    /// Run `upnpc args...` (miniupnpc, the reference client) on the LAN host.
    pub fn upnpc(&self, args: &[&str]) -> io::Result<String> {
        let out = self.lan.command("upnpc").args(args).output()?;
        Ok(output_text(&out))
    }
}

/// What a finished program printed: its standard output, then its
/// standard error.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Drop for Testbed {
    fn drop(&mut self) {
        self.stop_daemon();
        let _ = std::fs::remove_dir_all(&self.dir);
        // The namespaces delete themselves as the fields drop.
    }
}

/// Create a veth pair with each end directly inside its namespace: the
/// names never exist in the machine's own namespace, so runs cannot collide.
fn veth((a, a_if): (&Netns, &str), (b, b_if): (&Netns, &str)) -> io::Result<String> {
    netns::run(std::process::Command::new("ip").args([
        "link",
        "add",
        a_if,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]))
}

/// The carrier's firewall: forward what the router's WAN prefix sends out,
/// and the answers to it, and masquerade it as [`CARRIER_PUBLIC_IP`]; nothing
/// unsolicited from the internet gets through, and it is dropped silently,
/// as a carrier-grade NAT does (no port forwards: that is the point).
fn carrier_ruleset() -> String {
    format!(
        "table inet carrier {{
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname \"{CARRIER_OUT_IF}\" meta l4proto {{ tcp, udp }} ct state new drop
  }}
  chain forward {{
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname \"{CARRIER_IN_IF}\" ip saddr {CARRIER_NET} accept
  }}
  chain postrouting {{
    type nat hook postrouting priority 100; policy accept;
    oifname \"{CARRIER_OUT_IF}\" ip saddr {CARRIER_NET} masquerade
  }}
}}
"
    )
}

/// Remove what killed runs left: namespaces named `pfwdtb-PID-*` (and their
/// files) whose process is gone. Returns the names removed.
pub fn clean_stale() -> Vec<String> {
    clean(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// Remove every testbed namespace of the processes `dead` says are gone.
fn clean(dead: impl Fn(u32) -> bool) -> Vec<String> {
    let list =
        netns::run(std::process::Command::new("ip").args(["netns", "list"])).unwrap_or_default();
    let mut removed = Vec::new();
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(&format!("{PREFIX}-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if dead(pid) {
            netns::kill_processes_in(name);
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", name])
                .output();
            if let Some(id) = name.rsplit_once('-').map(|(id, _)| id) {
                let _ = std::fs::remove_dir_all(std::env::temp_dir().join(id));
            }
            removed.push(name.to_string());
        }
    }
    removed
}

/// Why gateway tests cannot run here, or `None` when they can.
pub fn cannot_run_reason() -> Option<String> {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("they need root to create network namespaces".into());
    }
    let missing = miniupnpd::missing_tools();
    if !missing.is_empty() {
        return Some(format!(
            "these programs are missing: {} (the test command installs them)",
            missing.join(", ")
        ));
    }
    None
}

/// Whether the gateway test `test` can run here. When it cannot, prints a
/// clear SKIPPED line and returns false; in CI (`CI=true`) it panics
/// instead, because a gateway test that cannot run is a failure there.
pub fn can_run(test: &str) -> bool {
    let Some(why) = cannot_run_reason() else {
        return true;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("gateway test {test} cannot run in CI: {why}");
    }
    // Written to stderr directly, not with eprintln!, so that the test
    // harness's output capture does not hide the skip.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED gateway test {test}: {why}");
    false
}

/// A testbed for the gateway test `test`, or `None` (after [`can_run`]
/// printed why) when the machine cannot build one.
pub fn testbed(test: &str, config: GatewayConfig) -> Option<Testbed> {
    if !can_run(test) {
        return None;
    }
    Some(Testbed::new(config).unwrap_or_else(|e| panic!("building the testbed for {test}: {e}")))
}

/// A [`Testbed::behind_carrier`] testbed for the gateway test `test`, or
/// `None` (after [`can_run`] printed why) when the machine cannot build one.
pub fn carrier_testbed(test: &str, config: GatewayConfig) -> Option<Testbed> {
    if !can_run(test) {
        return None;
    }
    Some(
        Testbed::behind_carrier(config)
            .unwrap_or_else(|e| panic!("building the carrier testbed for {test}: {e}")),
    )
}

/// A [`Testbed::dual_stack`] testbed for the gateway test `test`, or
/// `None` (after [`can_run`] printed why) when the machine cannot build one.
pub fn dual_stack_testbed(test: &str, config: GatewayConfig) -> Option<Testbed> {
    if !can_run(test) {
        return None;
    }
    Some(
        Testbed::dual_stack(config)
            .unwrap_or_else(|e| panic!("building the dual-stack testbed for {test}: {e}")),
    )
}

/// The path of the example program `name` of pfwd-core, as `cargo test`
/// builds it (examples are built before the tests run). Panics, naming the
/// build command, when it is missing.
pub fn built_example(name: &str) -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        std::path::PathBuf::from,
    );
    let exe = target.join("debug/examples").join(name);
    assert!(
        exe.exists(),
        "{} is missing: build it with cargo build -p pfwd-core --all-features --examples",
        exe.display()
    );
    exe
}

/// An example program running on the LAN host, its standard output read as
/// it comes.
#[derive(Debug)]
pub struct RunningExample {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl RunningExample {
    /// The next line it prints (the first: where the internet reaches it).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut self.out, &mut line)
            .unwrap_or_else(|e| panic!("reading the example's output: {e}"));
        line
    }

    /// Wait for it to exit; its status and the rest of its output.
    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = self
            .child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for the example: {e}"));
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.out, &mut rest);
        (status, rest)
    }
}

impl Testbed {
    /// Start pfwd-core's example program `name` on the LAN host.
    pub fn start_example(&self, name: &str, args: &[&str]) -> RunningExample {
        let exe = built_example(name);
        let mut child = self
            .lan()
            .command(&exe.to_string_lossy())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
        let stdout = child.stdout.take().expect("a piped stdout");
        RunningExample {
            child,
            out: std::io::BufReader::new(stdout),
        }
    }
}
