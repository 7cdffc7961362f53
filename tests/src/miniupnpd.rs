//! miniupnpd, the gateway daemon most home routers ship: its configuration,
//! the nftables chains it needs, and its process.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::netns::{Netns, run};
use crate::{GW_LAN_IF, GW_WAN_IF, LAN_NET};

/// The port miniupnpd's HTTP (UPnP description and SOAP) server listens on.
pub const HTTP_PORT: u16 = 5000;

/// How the test router is set up: which protocols it speaks and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Run miniupnpd at all (false: a router that answers nothing).
    pub daemon: bool,
    /// Speak UPnP-IGD (SSDP on 1900, HTTP on [`HTTP_PORT`]).
    pub upnp: bool,
    /// Speak NAT-PMP and PCP (UDP 5351); miniupnpd 2.3.1 has one switch for both.
    pub natpmp: bool,
    /// Allow a client to map only to its own address (real routers' default).
    pub secure_mode: bool,
    /// Permission rules, first match wins, e.g. `allow 1024-65535 192.168.77.0/24 1-65535`.
    /// A final `deny 0-65535 0.0.0.0/0 0-65535` is always added.
    pub rules: Vec<String>,
    /// PCP lease clamps (`min_lifetime`, `max_lifetime`), in seconds.
    pub min_lifetime: Option<u32>,
    /// See `min_lifetime`.
    pub max_lifetime: Option<u32>,
    /// Extra configuration lines, written as given.
    pub extra: Vec<String>,
    /// Dual stack (see [`crate::dual_stack`]): the testbed gives every
    /// namespace an IPv6 address too, and miniupnpd opens IPv6 pinholes on
    /// its WAN interface (`ext_ifname6`). Off in every constructor but
    /// [`GatewayConfig::dual_stack`], so IPv4-only testbeds stay as they were.
    pub ipv6: bool,
}

impl GatewayConfig {
    /// Everything on, every port allowed to LAN hosts, secure mode on.
    pub fn all_on() -> GatewayConfig {
        GatewayConfig {
            daemon: true,
            upnp: true,
            natpmp: true,
            secure_mode: true,
            rules: vec![format!("allow 1-65535 {LAN_NET} 1-65535")],
            min_lifetime: None,
            max_lifetime: None,
            extra: Vec::new(),
            ipv6: false,
        }
    }

    /// Everything on, as [`GatewayConfig::all_on`], on a dual-stack router:
    /// UPnP IGDv2 pinholes (`WANIPv6FirewallControl`) and PCP over IPv6 too.
    pub fn dual_stack() -> GatewayConfig {
        GatewayConfig {
            ipv6: true,
            ..GatewayConfig::all_on()
        }
    }

    /// UPnP-IGD only (NAT-PMP and PCP off).
    pub fn upnp_only() -> GatewayConfig {
        GatewayConfig {
            natpmp: false,
            ..GatewayConfig::all_on()
        }
    }

    /// NAT-PMP and PCP only (UPnP off).
    pub fn natpmp_only() -> GatewayConfig {
        GatewayConfig {
            upnp: false,
            ..GatewayConfig::all_on()
        }
    }

    /// A router with no port-mapping daemon at all.
    pub fn no_daemon() -> GatewayConfig {
        GatewayConfig {
            daemon: false,
            ..GatewayConfig::all_on()
        }
    }

    /// The miniupnpd.conf text for this configuration.
    pub fn render(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let mut c = format!(
            "ext_ifname={GW_WAN_IF}\n\
             listening_ip={GW_LAN_IF}\n\
             http_port={HTTP_PORT}\n\
             enable_upnp={}\n\
             enable_natpmp={}\n\
             secure_mode={}\n\
             system_uptime=no\n\
             uuid=3a3b6c1e-0f1c-4a55-9b62-1d4a5c6e7f80\n\
             friendly_name=pfwd testbed router\n\
             upnp_table_name=filter\n\
             upnp_nat_table_name=nat\n\
             upnp_forward_chain=miniupnpd\n\
             upnp_nat_chain=miniupnpd\n\
             upnp_nat_postrouting_chain=miniupnpd_post\n",
            yes(self.upnp),
            yes(self.natpmp),
            yes(self.secure_mode),
        );
        if self.ipv6 {
            // Not `ipv6_listening_ip`: miniupnpd 2.3.1 then binds its one
            // HTTP socket to that address alone and UPnP over IPv4 is gone
            // (pinned by the ipv6_fixtures test). Without it, HTTP and PCP
            // listen on every address of the LAN interface, both families.
            c += &format!("ext_ifname6={GW_WAN_IF}\n");
        }
        if let Some(v) = self.min_lifetime {
            c += &format!("min_lifetime={v}\n");
        }
        if let Some(v) = self.max_lifetime {
            c += &format!("max_lifetime={v}\n");
        }
        for line in &self.extra {
            c += line;
            c.push('\n');
        }
        for rule in &self.rules {
            c += rule;
            c.push('\n');
        }
        c += "deny 0-65535 0.0.0.0/0 0-65535\n";
        c
    }
}

/// The router's firewall: a filter table whose forward chain lets LAN traffic
/// out and answers back in, and lets in only what miniupnpd's chain accepts;
/// a NAT table whose chains miniupnpd fills, plus masquerade on the WAN side.
/// With `ipv6`, new inbound IPv6 from the WAN is dropped explicitly after
/// miniupnpd's chain (the policy would drop it too; the rule says that
/// nothing but a pinhole lets it in, as a home router's IPv6 firewall does).
pub(crate) fn nft_ruleset(ipv6: bool) -> String {
    let v6_drop = if ipv6 {
        format!("\n    iifname \"{GW_WAN_IF}\" meta nfproto ipv6 ct state new drop")
    } else {
        String::new()
    };
    format!(
        "table inet filter {{
  chain miniupnpd {{
  }}
  chain forward {{
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname \"{GW_LAN_IF}\" accept
    jump miniupnpd{v6_drop}
  }}
}}
table inet nat {{
  chain miniupnpd {{
  }}
  chain miniupnpd_post {{
  }}
  chain prerouting {{
    type nat hook prerouting priority -100; policy accept;
    jump miniupnpd
  }}
  chain postrouting {{
    type nat hook postrouting priority 100; policy accept;
    jump miniupnpd_post
    oifname \"{GW_WAN_IF}\" masquerade
  }}
}}
"
    )
}

/// Empty miniupnpd's chains, as a router's reboot does.
pub(crate) fn flush_chains(gw: &Netns) -> io::Result<()> {
    for (table, chain) in [
        ("filter", "miniupnpd"),
        ("nat", "miniupnpd"),
        ("nat", "miniupnpd_post"),
    ] {
        gw.exec("nft", &["flush", "chain", "inet", table, chain])?;
    }
    Ok(())
}

/// A running miniupnpd.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    log: PathBuf,
    /// The namespace it runs in.
    netns: String,
}

impl Daemon {
    /// Start miniupnpd in `gw` with `config`, its files in `dir`, and wait
    /// until it listens.
    pub(crate) fn start(gw: &Netns, config: &GatewayConfig, dir: &Path) -> io::Result<Daemon> {
        let conf = dir.join("miniupnpd.conf");
        fs::write(&conf, config.render())?;
        let log = dir.join("miniupnpd.log");
        let log_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let mut cmd = gw.command("miniupnpd");
        cmd.arg("-d")
            .arg("-f")
            .arg(&conf)
            .arg("-P")
            .arg(dir.join("miniupnpd.pid"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the
        // daemon when the thread that started it dies, so a killed test run
        // leaves no daemon behind.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let mut daemon = Daemon {
            child,
            log,
            netns: gw.name().to_string(),
        };
        daemon.wait_ready(config)?;
        Ok(daemon)
    }

    fn wait_ready(&mut self, config: &GatewayConfig) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log_text();
            let http = !config.upnp || log.contains("HTTP listening on port");
            let pmp = !config.natpmp || log.contains("Listening for NAT-PMP/PCP traffic");
            // miniupnpd binds its SSDP port just after it logs "HTTP
            // listening": a UPnP search in between meets ICMP "port
            // unreachable", which pfwd rightly takes as "no UPnP here".
            if http && pmp && (!config.upnp || self.ssdp_bound()) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "miniupnpd exited ({status}) before it was ready:\n{log}"
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "miniupnpd was not ready after 10 s:\n{log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether something listens on UDP port 1900 in the daemon's namespace.
    fn ssdp_bound(&self) -> bool {
        std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.netns,
                "ss",
                "-Hlun",
                "sport",
                "=",
                ":1900",
            ])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the daemon logged so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stop the daemon (SIGTERM, then SIGKILL after 2 s).
    pub(crate) fn stop(mut self) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Check that the programs the testbed needs are installed.
pub fn missing_tools() -> Vec<&'static str> {
    ["ip", "nft", "miniupnpd"]
        .into_iter()
        .filter(|t| {
            run(std::process::Command::new("sh").args(["-c", &format!("command -v {t}")])).is_err()
        })
        .collect()
}
