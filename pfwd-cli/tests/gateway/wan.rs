//! Issue 18: the router gets a new WAN address (its ISP's DHCP lease or PPP
//! session ended) while pfwd keeps a mapping. The keeper must report
//! `"external_address_changed"` with the old and the new address within a
//! few check intervals; bytes sent to the new address must arrive; and
//! `pfwd status` must show the new address.
//!
//! miniupnpd's side (see `pfwd_testbed::router`): with UPnP on it notices
//! the change by itself (netlink), with UPnP off it needs SIGUSR1, which
//! `Testbed::change_wan_address` sends. It then resets its PCP epoch and
//! announces (PCP ANNOUNCE, NAT-PMP address notification). Its forwarding
//! rules match the WAN interface, not the address, so the existing mapping
//! forwards traffic to the new address as it is.

use std::net::Ipv4Addr;
use std::time::Duration;

use pfwd_core::Protocol;
use pfwd_testbed::{EXTERNAL_IP, GatewayConfig, Testbed, Told, reaches_at, testbed};

use crate::support::*;

const PORT: u16 = 8090;
/// The router's new WAN address (public-looking, like the old one).
const NEW: Ipv4Addr = Ipv4Addr::new(5, 5, 5, 9);

/// Change the WAN address under the keeper `run` and check what it says
/// within `limit`, the bytes to the new address and `pfwd status`.
fn change_and_check(tb: &Testbed, run: &mut Running, limit: Duration, expect: Told, what: &str) {
    assert!(reaches_at(
        tb,
        tb.wan(),
        EXTERNAL_IP,
        Protocol::Tcp,
        PORT,
        PORT
    ));
    let since = run.seen.len();
    let change = tb.change_wan_address(NEW).unwrap();
    let changed = std::time::Instant::now();
    assert_eq!(change.old, EXTERNAL_IP);
    assert_eq!(change.told, expect, "how miniupnpd learnt of it");
    let reported = run.wait_new(since, limit, event("external_address_changed"));
    eprintln!(
        "{what}: WAN address {EXTERNAL_IP} -> {NEW} (miniupnpd told {:?}): {}",
        change.told,
        reported
            .as_ref()
            .map_or(format!("NOT reported within {limit:?}"), |_| format!(
                "reported after {:.1} s",
                changed.elapsed().as_secs_f64()
            ))
    );
    let Some(reported) = reported else {
        panic!(
            "{what}: no \"external_address_changed\" within {limit:?}; events:\n{}",
            run.shown()
        );
    };
    assert_eq!(reported["old"], EXTERNAL_IP.to_string(), "{reported}");
    assert_eq!(reported["new"], NEW.to_string(), "{reported}");
    assert!(
        reaches_at(tb, tb.wan(), NEW, Protocol::Tcp, PORT, PORT),
        "{what}: no bytes to the new address {NEW}"
    );
    let out = pfwd(tb, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json(&out)["external_address"], NEW.to_string());
}

fn stop(tb: &Testbed, run: Running) {
    let (code, _) = run.terminate();
    assert_eq!(code, 0);
    assert!(!tb.forwards(Protocol::Tcp, PORT), "left on the router");
    let _ = std::fs::remove_file(config_path(tb));
    cleanup(tb);
}

/// `pfwd run` with `check = "2s"` and `method` only.
fn run_keeps_through_a_new_wan_address(test: &str, method: &str, config: GatewayConfig) {
    let expect = if config.upnp {
        Told::ByItself
    } else {
        Told::BySigusr1
    };
    let Some(tb) = testbed(test, config) else {
        return;
    };
    let file = write_config(
        &tb,
        &format!(
            "check = \"2s\"\nmethod = [\"{method}\"]\n[[forward]]\nport = {PORT}\nname = \"web\"\n"
        ),
    );
    let mut run = Running::start(&tb, &["run", "--config", &file, "--json"]);
    run.wait_for("mapped", 1, event("mapped"));
    let what = format!("pfwd run, {method}");
    change_and_check(&tb, &mut run, Duration::from_secs(10), expect, &what);
    stop(&tb, run);
}

#[test]
fn run_reports_a_new_wan_address_pcp() {
    run_keeps_through_a_new_wan_address("cli_wan_run_pcp", "pcp", GatewayConfig::all_on());
}

#[test]
fn run_reports_a_new_wan_address_natpmp() {
    run_keeps_through_a_new_wan_address("cli_wan_run_natpmp", "natpmp", GatewayConfig::all_on());
}

#[test]
fn run_reports_a_new_wan_address_upnp() {
    run_keeps_through_a_new_wan_address("cli_wan_run_upnp", "upnp", GatewayConfig::all_on());
}

/// UPnP off: miniupnpd does not watch its WAN interface and is told by
/// SIGUSR1 (as a router's DHCP hook does).
#[test]
fn run_reports_a_new_wan_address_on_a_pmp_only_router() {
    run_keeps_through_a_new_wan_address(
        "cli_wan_run_pmp_only",
        "pcp",
        GatewayConfig::natpmp_only(),
    );
}

/// UPnP only: no PCP ANNOUNCE or NAT-PMP notification to hear; the
/// keeper's own checks must find the new address.
#[test]
fn run_reports_a_new_wan_address_on_a_upnp_only_router() {
    run_keeps_through_a_new_wan_address(
        "cli_wan_run_upnp_only",
        "upnp",
        GatewayConfig::upnp_only(),
    );
}

/// `pfwd map` kept (its default check interval, 30 s; the router's PCP
/// ANNOUNCE may tell it sooner).
#[test]
fn map_reports_a_new_wan_address() {
    let Some(tb) = testbed("cli_wan_map", GatewayConfig::all_on()) else {
        return;
    };
    let mut run = Running::start(&tb, &["map", &PORT.to_string(), "--json"]);
    run.wait_for("mapped", 1, event("mapped"));
    change_and_check(
        &tb,
        &mut run,
        Duration::from_secs(35),
        Told::ByItself,
        "pfwd map",
    );
    stop(&tb, run);
}
