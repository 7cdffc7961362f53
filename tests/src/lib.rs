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
#![allow(clippy::unwrap_used)]

pub mod bench;
pub mod compare;
pub mod miniupnpd;
pub mod netns;
pub mod outside;
pub mod traffic;

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

pub use miniupnpd::{Daemon, GatewayConfig, HTTP_PORT};
pub use netns::Netns;
pub use traffic::reaches;

/// The Pi: the LAN host pfwd runs on.
pub const LAN_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 10);
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

/// The prefix of every namespace a testbed creates.
pub const PREFIX: &str = "pfwdtb";

/// Three namespaces wired as LAN, router and internet, with miniupnpd.
#[derive(Debug)]
pub struct Testbed {
    config: GatewayConfig,
    daemon: Option<Daemon>,
    dir: PathBuf,
    // Dropped in this order, after the daemon is stopped.
    lan: Netns,
    gw: Netns,
    wan: Netns,
}

impl Testbed {
    /// Build the namespaces, the links and the router's firewall, and start
    /// miniupnpd when `config.daemon` says so.
    pub fn new(config: GatewayConfig) -> io::Result<Testbed> {
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
        let wan = Netns::create(&format!("{id}-wan"))?;
        // Create each veth pair directly inside the namespaces: the names
        // never exist in the machine's own namespace, so runs cannot collide.
        netns::run(std::process::Command::new("ip").args([
            "link",
            "add",
            LAN_IF,
            "netns",
            lan.name(),
            "type",
            "veth",
            "peer",
            "name",
            GW_LAN_IF,
            "netns",
            gw.name(),
        ]))?;
        netns::run(std::process::Command::new("ip").args([
            "link",
            "add",
            WAN_IF,
            "netns",
            wan.name(),
            "type",
            "veth",
            "peer",
            "name",
            GW_WAN_IF,
            "netns",
            gw.name(),
        ]))?;
        for (ns, ifname, addr) in [
            (&lan, LAN_IF, format!("{LAN_HOST}/24")),
            (&gw, GW_LAN_IF, format!("{GATEWAY_LAN}/24")),
            (&gw, GW_WAN_IF, format!("{EXTERNAL_IP}/24")),
            (&wan, WAN_IF, format!("{WAN_HOST}/24")),
        ] {
            ns.ip(&["addr", "add", &addr, "dev", ifname])?;
            ns.ip(&["link", "set", ifname, "up"])?;
        }
        lan.ip(&["route", "add", "default", "via", &GATEWAY_LAN.to_string()])?;
        gw.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
        let rules = dir.join("router.nft");
        std::fs::write(&rules, miniupnpd::nft_ruleset())?;
        gw.exec("nft", &["-f", &rules.to_string_lossy()])?;
        let mut tb = Testbed {
            config,
            daemon: None,
            dir,
            lan,
            gw,
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

    /// The router's configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Start miniupnpd (after [`stop_daemon`](Self::stop_daemon), or for a
    /// testbed built without it).
    pub fn start_daemon(&mut self) -> io::Result<()> {
        if self.daemon.is_none() {
            self.daemon = Some(Daemon::start(&self.gw, &self.config, &self.dir)?);
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

    /// The names of the three namespaces (lan, gw, wan).
    pub fn namespaces(&self) -> [&str; 3] {
        [self.lan.name(), self.gw.name(), self.wan.name()]
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
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        self.stop_daemon();
        let _ = std::fs::remove_dir_all(&self.dir);
        // The namespaces delete themselves as the fields drop.
    }
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
