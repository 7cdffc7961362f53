//! The command line: every subcommand, option and help text (clap).
//!
//! The types' doc comments are the `--help` texts, so the examples live
//! here.
//!
//! # Examples
//!
//! Parsing a command line runs nothing:
//!
//! ```
//! use clap::Parser;
//! use pfwd_cli::args::{Cli, Command};
//!
//! let cli = Cli::try_parse_from(["pfwd", "map", "http", "--to", "192.168.1.4", "--udp", "--json"])?;
//! assert!(cli.global.json);
//! let Command::Map(map) = cli.command else { panic!("a map command") };
//! assert_eq!(map.target.port, "http");
//! assert_eq!(map.target.to.as_deref(), Some("192.168.1.4"));
//! assert!(map.target.protocols.udp);
//!
//! // --tcp, --udp and --both exclude each other.
//! let err = Cli::try_parse_from(["pfwd", "map", "53", "--tcp", "--both"]).unwrap_err();
//! assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
//! # Ok::<(), clap::Error>(())
//! ```

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pfwd_core::Method;

/// The exit codes, as `--help` and the docs list them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  any other failure: the router's error or silence, no gateway, I/O (the message says)
  2  bad input: a wrong option, port, host, duration or config file
  3  no method could do it: the manual guide was printed
  4  the port is taken on the router (another host, or another pfwd keeps it)
  5  nothing to remove: no mapping matched (unmap)
  6  not reachable from outside (check; the diagnosis says why)
  7  reachable but not verified, or could not tell (check)
  8  not checked from outside: no --via (check)
  130  interrupted (Ctrl-C or SIGTERM) before the job was done";

const MAIN_EXAMPLES: &str = "\
Examples:
  pfwd map http --to 192.168.1.4      forward TCP 80 to the Pi, keep it until Ctrl-C
  pfwd map 25565 --once --lease 2h    forward Minecraft to this machine for 2 hours
  pfwd status                         which methods the router answers
  pfwd check http --via http://vps.example.net:8099
                                      is it really reachable from outside?
  pfwd guide ssh --to 192.168.1.4     how to forward SSH by hand
  pfwd run --config /etc/pfwd.toml    keep a cluster's mappings alive (a service)";

/// Make a server on your home network reachable from the internet: ask the
/// router to forward a port (PCP, NAT-PMP or UPnP-IGD), keep it alive, and
/// when the router cannot be asked, print exactly how to do it by hand.
#[derive(Debug, Parser)]
#[command(
    name = "pfwd",
    version,
    about,
    after_help = format!("{MAIN_EXAMPLES}\n\n{EXIT_CODES}"),
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Print machine-readable JSON on stdout (the shapes are in docs/cli.md).
    #[arg(long, global = true)]
    pub json: bool,
    /// Say more: what each method answered and when, each renewal.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Say nothing but errors (and the manual guide when it is the answer).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// The router's LAN address, when it is not this machine's default gateway.
    #[arg(long, value_name = "ADDRESS", global = true)]
    pub gateway: Option<String>,
    /// The directory where pfwd records the mappings it made, so that
    /// `unmap` can delete them later [env: PFWD_STATE; default:
    /// $XDG_STATE_HOME/pfwd/mappings]
    #[arg(long, value_name = "DIR", global = true)]
    pub state: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Forward a port to a server on this network, and keep it forwarded
    /// until Ctrl-C or SIGTERM (then remove it); with --once, forward and exit.
    #[command(after_help = format!("\
Examples:
  pfwd map http --to 192.168.1.4          TCP 80 from outside -> the Pi's port 80
  pfwd map 80 --to 192.168.1.4:8080       TCP 80 from outside -> the Pi's port 8080
  pfwd map wireguard                      UDP 51820 -> this machine
  pfwd map 27015 --both --external any    TCP and UDP, whatever outside port the router gives
  pfwd map ssh --once --lease 30m         forward for 30 minutes, print the lease, exit

The outside port is the same as PORT unless --external says otherwise; if the
router gives another one, pfwd says so. Without --once, pfwd renews the lease,
notices a router restart and maps again, and removes the mapping when stopped.

{EXIT_CODES}"))]
    Map(MapArgs),
    /// Remove a mapping pfwd made (on this machine), or the router's mapping
    /// of that port.
    #[command(after_help = format!("\
Examples:
  pfwd unmap http                  remove what `pfwd map http` made
  pfwd unmap 8080 --udp            only the UDP mapping

pfwd looks first in its record of the mappings it made (see --state); a
mapping it has no record of is removed over UPnP by its outside port.

{EXIT_CODES}"))]
    Unmap(UnmapArgs),
    /// List the router's mappings (where the router can list them: UPnP) and
    /// those pfwd made from this machine.
    #[command(after_help = EXIT_CODES)]
    List,
    /// Show the gateway, which methods it answers, its internet address, and
    /// warnings such as carrier-grade NAT.
    #[command(after_help = format!("\
Exit status: 0 when at least one method answers, 3 when none does.

{EXIT_CODES}"))]
    Status,
    /// Print how to forward a port by hand in the router's settings (for this
    /// router's make when pfwd can tell it).
    #[command(after_help = format!("\
Examples:
  pfwd guide http --to 192.168.1.4
  pfwd guide minecraft --format markdown > forward-minecraft.md

{EXIT_CODES}"))]
    Guide(GuideArgs),
    /// Keep every mapping of a config file alive, as a long-running service
    /// (reloads the file on SIGHUP, removes the mappings on SIGTERM).
    #[command(after_help = format!("\
The config file (TOML):

  lease = \"30m\"             # optional: each lease (pfwd renews it at about half)
  check = \"30s\"             # optional: how often to check that the router still has them
  # check_via = \"http://vps.example.net:8099\"  # optional: check each mapping from
  #                           # outside (pfwd probe-server) when made or restored
  # method = [\"pcp\", \"upnp\"] # optional: only these methods
  # gateway = \"192.168.1.1\"  # optional: the router, when not the default gateway

  [[forward]]
  service = \"http\"          # or: port = 8080
  to = \"192.168.1.4\"        # HOST or HOST:PORT; default: this machine
  # protocol = \"tcp\"        # tcp, udp or both; default: the service's
  # external = 80           # the outside port (exactly), or \"any\"
  description = \"pi4 web\"

A systemd unit is in examples/pfwd.service.

{EXIT_CODES}"))]
    Run(RunArgs),
    /// Check whether a port really reaches a server here from the internet:
    /// on the LAN, on the router, and (with --via) from a prober outside
    /// that must send a one-time token through the mapping.
    #[command(after_help = format!("\
Examples:
  pfwd check http --to 192.168.1.4 --via http://vps.example.net:8099
  pfwd check wireguard --via http://203.0.113.9:8099 --json
  pfwd check 8080                      the LAN-side steps only

The prober is `pfwd probe-server`, run on a machine outside this network (a
rented server, a friend's Pi). It probes only the address the request comes
from. When the port is free on this machine, pfwd listens on it during the
check and must get the prober's token back: that proves the path reaches this
host, not just that something answered. Without --via nothing is called
reachable.

Exit status: 0 reachable and verified; 6 not reachable; 7 reachable but not
verified (your server holds the port) or could not tell (UDP); 8 not checked
from outside.

{EXIT_CODES}"))]
    Check(CheckArgs),
    /// Run the outside prober that `pfwd check` asks: on a machine outside
    /// your network (a VPS), an HTTP server that probes a port at the
    /// address each request comes from, and only there.
    #[command(after_help = "\
Examples:
  pfwd probe-server --listen [::]:8099              IPv4 and IPv6 clients, port 8099
  pfwd probe-server --listen 203.0.113.5:8099 --max-probes 64 --per-source-per-minute 10

Clients post {\"protocol\": \"tcp\", \"port\": 8080, \"token\": \"...\"} to /v1/probe; the
server connects back to the address the request came from (never another one),
sends the token and answers what happened as JSON. One line per probe is
logged on stderr (-q: none). Plain HTTP: the token proves the path, it is not
a secret. Stops on Ctrl-C or SIGTERM. docs/probe-server.md has the details and
contrib/systemd/pfwd-probe-server.service a systemd unit.")]
    ProbeServer(ProbeServerArgs),
}

/// Which protocols to forward.
#[derive(Debug, Args, Clone, Default)]
#[group(multiple = false)]
pub struct ProtocolArgs {
    /// TCP only.
    #[arg(long)]
    pub tcp: bool,
    /// UDP only.
    #[arg(long)]
    pub udp: bool,
    /// Both TCP and UDP.
    #[arg(long)]
    pub both: bool,
}

/// Which address family: IPv4's port mapping, IPv6's pinhole, or (neither
/// flag) IPv4 and, where this host has a global IPv6 address and the
/// router can open one, an IPv6 pinhole too.
#[derive(Debug, Args, Clone, Default)]
#[group(multiple = false)]
pub struct FamilyArgs {
    /// IPv4 only: a port mapping on the router's public address.
    #[arg(long)]
    pub ipv4: bool,
    /// IPv6 only: a pinhole in the router's firewall for this host's own
    /// global address (the same port; nothing is translated).
    #[arg(long)]
    pub ipv6: bool,
}

impl FamilyArgs {
    /// The family asked for; `None`: automatic.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_cli::args::FamilyArgs;
    /// use pfwd_core::Family;
    ///
    /// assert_eq!(FamilyArgs { ipv4: false, ipv6: true }.family(), Some(Family::Ipv6));
    /// assert_eq!(FamilyArgs::default().family(), None); // IPv4, and a pinhole where it can
    /// ```
    pub fn family(&self) -> Option<pfwd_core::Family> {
        if self.ipv6 {
            Some(pfwd_core::Family::Ipv6)
        } else if self.ipv4 {
            Some(pfwd_core::Family::Ipv4)
        } else {
            None
        }
    }
}

/// The port and the server: what `map`, `unmap` and `guide` share. The
/// help texts here are `map`'s; `unmap` and `guide` reword them.
#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    /// The port (1-65535) or a service name (http, https, ssh, minecraft,
    /// wireguard, ...).
    #[arg(value_name = "PORT|SERVICE")]
    pub port: String,
    /// The server: HOST or HOST:PORT on this network (default: this machine,
    /// same port).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub to: Option<String>,
    /// Which protocols.
    #[command(flatten)]
    pub protocols: ProtocolArgs,
    /// Which address family.
    #[command(flatten)]
    pub family: FamilyArgs,
}

/// A method for `--method`: the core's names, only those pfwd automates.
fn automated_method(text: &str) -> Result<Method, String> {
    match text.parse::<Method>() {
        Ok(Method::Manual) => Err(
            "manual is not a method pfwd can use: `pfwd guide` prints how to forward by hand"
                .into(),
        ),
        Ok(m) => Ok(m),
        Err(e) => Err(e.reason),
    }
}

/// `pfwd map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// The port and the server.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The outside port, exactly (fail rather than take another), or `any`.
    #[arg(long, value_name = "PORT|any")]
    pub external: Option<String>,
    /// How long each lease lasts, such as 30m, 2h, 1d, or `forever`
    /// (default: 2h with --once; 30m while pfwd keeps it).
    #[arg(long, value_name = "DURATION")]
    pub lease: Option<String>,
    /// Use only these methods (comma-separated): pcp, natpmp, upnp.
    #[arg(long, value_delimiter = ',', value_name = "METHOD", value_parser = automated_method)]
    pub method: Vec<Method>,
    /// What the router shows for the mapping (default: pfwd and the service).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Map, print the lease and exit (for scripts and cron).
    #[arg(long)]
    pub once: bool,
    /// Then check from outside through the prober at URL (`pfwd
    /// probe-server`); with --once the exit status is the check's.
    #[arg(long, value_name = "URL")]
    pub check: Option<String>,
    /// Take the mapping over from another pfwd process that keeps it
    /// (without this, a second keeper of one mapping is refused); that
    /// process lets it go at its next check, without deleting it.
    #[arg(long, conflicts_with = "once")]
    pub take_over: bool,
}

/// `pfwd unmap`.
#[derive(Debug, Args)]
#[command(
    mut_arg("port", |a| a.help("The port or service given to `pfwd map` (or the outside port)")),
    mut_arg("to", |a| a.help("Only the mapping to this server (HOST or HOST:PORT)")),
)]
pub struct UnmapArgs {
    /// The port and the server; without a protocol flag, every protocol
    /// pfwd mapped the port with.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The guide's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GuideFormat {
    /// Plain text for a terminal.
    #[default]
    Text,
    /// Markdown, to paste into a wiki or a README.
    Markdown,
    /// JSON (as --json).
    Json,
}

/// `pfwd guide`.
#[derive(Debug, Args)]
#[command(
    mut_arg("port", |a| a.help("The port or service to forward")),
    mut_arg("to", |a| a.help("The server: HOST or HOST:PORT (default: this machine)")),
)]
pub struct GuideArgs {
    /// The port and the server.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The outside port, when not the same as PORT.
    #[arg(long, value_name = "PORT")]
    pub external: Option<String>,
    /// The output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: GuideFormat,
    /// Do not ask the router anything (no make or model, no reasons).
    #[arg(long)]
    pub offline: bool,
}

/// `pfwd check`.
#[derive(Debug, Args)]
#[command(
    mut_arg("port", |a| a.help("The port or service to check (as given to `pfwd map`)")),
    mut_arg("to", |a| a.help("The server: HOST or HOST:PORT (default: this machine)")),
)]
pub struct CheckArgs {
    /// The port and the server.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The outside port, when not the one the router's mapping says (or PORT).
    #[arg(long, value_name = "PORT")]
    pub external: Option<String>,
    /// The prober: `http://HOST[:PORT]`, where `pfwd probe-server` runs, outside
    /// this network (port 8099 unless given).
    #[arg(long, value_name = "URL")]
    pub via: Option<String>,
    /// Ask the router only with these methods (comma-separated): pcp, natpmp, upnp.
    #[arg(long, value_delimiter = ',', value_name = "METHOD", value_parser = automated_method)]
    pub method: Vec<Method>,
}

/// `pfwd run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The TOML file listing the mappings.
    #[arg(long, short, value_name = "FILE")]
    pub config: PathBuf,
    /// Check the file and print the mappings it asks for, then exit.
    #[arg(long)]
    pub check: bool,
    /// Take over the mappings another pfwd process keeps (a `pfwd map`
    /// started by hand) instead of refusing them.
    #[arg(long)]
    pub take_over: bool,
}

/// A count of 1 or more (a limit of 0 would refuse everything).
fn at_least_one<T>() -> clap::builder::RangedU64ValueParser<T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
    <T as TryFrom<u64>>::Error: std::error::Error + Send + Sync + 'static,
{
    clap::builder::RangedU64ValueParser::new().range(1..)
}

/// `pfwd probe-server`.
#[derive(Debug, Args)]
pub struct ProbeServerArgs {
    /// Where to listen: ADDRESS:PORT, such as `[::]:8099` (IPv6 and IPv4) or
    /// `0.0.0.0:8099` (IPv4 only).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Probes running at once, in total; beyond it, 503 busy.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = at_least_one::<usize>())]
    pub max_probes: usize,
    /// Probes running at once for one client address (an IPv6 /64); beyond
    /// it, 429 rate_limited.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = at_least_one::<usize>())]
    pub per_source_at_once: usize,
    /// Probes one client address (an IPv6 /64) may start per minute; beyond
    /// it, 429 rate_limited with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = at_least_one::<u32>())]
    pub per_source_per_minute: u32,
    /// Connections open at once; more are closed as soon as they arrive.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = at_least_one::<usize>())]
    pub max_connections: usize,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn help(sub: &str) -> String {
        let mut cli = Cli::command();
        cli.find_subcommand_mut(sub)
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn the_shared_arguments_keep_each_commands_help() {
        let map = help("map");
        assert!(
            map.contains("The port (1-65535) or a service name"),
            "{map}"
        );
        assert!(
            map.contains("on this network (default: this machine"),
            "{map}"
        );
        assert!(map.contains("pcp, natpmp, upnp"), "{map}");
        let unmap = help("unmap");
        assert!(
            unmap.contains("The port or service given to `pfwd map`"),
            "{unmap}"
        );
        assert!(unmap.contains("Only the mapping to this server"), "{unmap}");
        assert!(!unmap.contains("--external"), "{unmap}");
        let guide = help("guide");
        assert!(guide.contains("The port or service to forward"), "{guide}");
        assert!(guide.contains("The server: HOST or HOST:PORT (default: this machine)"));
        for text in [&map, &unmap, &guide] {
            assert!(text.contains("--tcp") && text.contains("--both"), "{text}");
        }
    }

    #[test]
    fn probe_server_takes_an_address_and_limits_of_at_least_one() {
        let cli = Cli::try_parse_from([
            "pfwd",
            "probe-server",
            "--listen",
            "[::]:8099",
            "--max-probes",
            "8",
        ])
        .unwrap();
        let Command::ProbeServer(a) = cli.command else {
            panic!("not probe-server")
        };
        assert_eq!(a.listen.to_string(), "[::]:8099");
        assert_eq!((a.max_probes, a.per_source_at_once), (8, 2));
        assert_eq!((a.per_source_per_minute, a.max_connections), (20, 256));
        for bad in [
            &["--listen", "8099"][..],
            &["--listen", "[::]:8099", "--per-source-per-minute", "0"],
            &["--listen", "[::]:8099", "--max-connections", "-1"],
        ] {
            let args = ["pfwd", "probe-server"].iter().chain(bad);
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn methods_are_the_cores_names() {
        let cli = Cli::try_parse_from(["pfwd", "map", "80", "--method", "nat-pmp,UPNP"]).unwrap();
        let Command::Map(a) = cli.command else {
            panic!("not map")
        };
        assert_eq!(a.method, vec![Method::NatPmp, Method::Upnp]);
        let e = Cli::try_parse_from(["pfwd", "map", "80", "--method", "manual"]).unwrap_err();
        assert!(e.to_string().contains("pfwd guide"), "{e}");
    }
}
