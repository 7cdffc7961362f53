//! Issue 18, never lose a mapping without knowing it: a kept mapping
//! (`pfwd run`, `check = "2s"`) deleted on the router behind pfwd's back
//! must come back within a few check intervals, and bytes from the
//! internet arrive again.
//!
//! - Deleted by another UPnP client (`upnpc -d`): the keeper reads the
//!   mapping back from the router's UPnP table (miniupnpd lists PCP and
//!   NAT-PMP mappings there too; the config allows UPnP next to the method
//!   that maps) and must say so: a `"lost"` event with its reason, then
//!   `"restored"`.
//! - Rules flushed under miniupnpd (a firewall reload): miniupnpd's own
//!   list is stale until it changes a rule itself (see
//!   `pfwd_testbed::router`), so nothing can tell the mapping is gone; PCP
//!   and NAT-PMP mappings are refreshed at each check, which puts the rule
//!   back: the bytes must come back (no "lost" event is possible). A UPnP
//!   mapping cannot be healed that way (AddPortMapping for an entry
//!   miniupnpd believes in does not put the rule back): docs/leases.md
//!   says so.

use std::time::{Duration, Instant};

use pfwd_core::Protocol;
use pfwd_testbed::{EXTERNAL_IP, GatewayConfig, Testbed, reaches, reaches_again_within, testbed};

use crate::support::*;

/// The check interval the config file asks for.
const CHECK: Duration = Duration::from_secs(2);
/// "Within a few check intervals".
const NOTICE_WITHIN: Duration = Duration::from_secs(5 * 2);
/// Once lost, made again (a UPnP discovery may take 2 s).
const RESTORE_WITHIN: Duration = Duration::from_secs(5);
const PORT: u16 = 8090;

#[derive(Debug, Clone, Copy)]
enum Deletion {
    /// `upnpc -d PORT TCP` on the LAN host.
    Upnpc,
    /// miniupnpd's nft chains flushed; the daemon keeps running.
    Flush,
}

/// Delete the mapping; when it was deleted.
fn delete(tb: &Testbed, how: Deletion) -> Instant {
    match how {
        Deletion::Upnpc => {
            let said = tb.upnpc(&["-d", &PORT.to_string(), "TCP"]).unwrap();
            let at = Instant::now();
            // miniupnpd's "returned : 0" is the proof: the rules cannot be
            // read after it, the keeper's next check may have put it back.
            assert!(
                said.contains("returned : 0"),
                "upnpc -d did not delete it: {said}"
            );
            at
        }
        Deletion::Flush => {
            // Someone lists the router's mappings first (its web page, a
            // UPnP client, a keeper's own check): miniupnpd's copy of its
            // rules is then current, and stays as it is after the flush,
            // as on a router that has run for a while.
            let listing = tb.config().upnp;
            if listing {
                tb.upnpc(&["-l"]).unwrap();
            }
            // `nft flush chain` empties the chains at once, or fails. The
            // rules are not read back: the keeper's next check may have put
            // the mapping back by then.
            tb.flush_router_rules().unwrap();
            let at = Instant::now();
            if listing {
                let stale = tb.upnpc(&["-l"]).unwrap().contains(&format!(" {PORT}->"));
                eprintln!("after the flush the router's own list still shows {PORT}: {stale}");
            }
            at
        }
    }
}

/// `pfwd run` keeping TCP [`PORT`] with `method` (and UPnP, to read the
/// router's table, with `reading`), checked every 2 s.
fn keep(tb: &Testbed, method: &str, reading: bool) -> Running {
    let methods = if reading && method != "upnp" {
        format!("\"{method}\", \"upnp\"")
    } else {
        format!("\"{method}\"")
    };
    let config = write_config(
        tb,
        &format!(
            "check = \"2s\"\nmethod = [{methods}]\n[[forward]]\nport = {PORT}\nname = \"web\"\n"
        ),
    );
    let mut run = Running::start(tb, &["run", "--config", &config, "--json"]);
    run.wait_for("mapped", 1, event("mapped"));
    let mapped = run.seen.iter().find(|v| event("mapped")(v)).unwrap();
    assert_eq!(mapped["mapping"]["method"], method, "{mapped}");
    assert!(
        reaches(tb, Protocol::Tcp, PORT, PORT),
        "{method}: no bytes before the deletion"
    );
    run
}

fn stop(tb: &Testbed, run: Running) {
    let (code, rest) = run.terminate();
    assert_eq!(code, 0);
    let last = rest.last().cloned().unwrap_or_default();
    assert_eq!(last["event"], "stopped", "{rest:?}");
    assert!(!tb.forwards(Protocol::Tcp, PORT), "left on the router");
    let _ = std::fs::remove_file(config_path(tb));
    cleanup(tb);
}

fn deletion_is_noticed_and_restored(test: &str, method: &str, how: Deletion) {
    let Some(tb) = testbed(test, GatewayConfig::all_on()) else {
        return;
    };
    let mut run = keep(&tb, method, true);
    // A PCP or NAT-PMP mapping is told lost through the router's UPnP table
    // once the keeper has seen that table list it (read back once right
    // after it is made): a deletion in the first instants is healed by the
    // next refresh, without a "lost" event (docs/leases.md). Let that read
    // happen first, as it does long before anyone deletes a mapping.
    std::thread::sleep(Duration::from_millis(500));
    let since = run.seen.len();
    let deleted = delete(&tb, how);
    let Some(lost) = run.wait_new(since, NOTICE_WITHIN, event("lost")) else {
        panic!(
            "{method}, deleted by {how:?}: no \"lost\" event within {NOTICE_WITHIN:?} \
             (check every {CHECK:?}); the router forwards it: {}; events:\n{}",
            tb.forwards(Protocol::Tcp, PORT),
            run.shown()
        );
    };
    let noticed = deleted.elapsed();
    assert_eq!(lost["mapping"]["external"], format!("{EXTERNAL_IP}:{PORT}"));
    let reason = lost["reason"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "a lost event without a reason: {lost}");
    let lost_at = run.seen.iter().position(|v| v == &lost).unwrap();
    let Some(restored) = run.wait_new(lost_at + 1, RESTORE_WITHIN, event("restored")) else {
        panic!(
            "{method}, deleted by {how:?}: lost but not restored within {RESTORE_WITHIN:?}; events:\n{}",
            run.shown()
        );
    };
    let restored_after = deleted.elapsed();
    assert_eq!(
        restored["mapping"]["external"],
        format!("{EXTERNAL_IP}:{PORT}")
    );
    let arrived = reaches_again_within(
        &tb,
        EXTERNAL_IP,
        Protocol::Tcp,
        PORT,
        PORT,
        Duration::from_secs(3),
    );
    eprintln!(
        "{method}, deleted by {how:?}: lost after {:.1} s ({reason}), restored after {:.1} s, \
         bytes {}",
        noticed.as_secs_f64(),
        restored_after.as_secs_f64(),
        arrived.map_or("do NOT arrive".to_string(), |_| format!(
            "arrive after {:.1} s",
            deleted.elapsed().as_secs_f64()
        ))
    );
    assert!(
        arrived.is_some(),
        "{method}, deleted by {how:?}: \"restored\" but no bytes arrive; the router forwards it: {}",
        tb.forwards(Protocol::Tcp, PORT)
    );
    stop(&tb, run);
}

#[test]
fn upnpc_deletion_is_noticed_and_restored_pcp() {
    deletion_is_noticed_and_restored("cli_lost_upnpc_pcp", "pcp", Deletion::Upnpc);
}

#[test]
fn upnpc_deletion_is_noticed_and_restored_natpmp() {
    deletion_is_noticed_and_restored("cli_lost_upnpc_natpmp", "natpmp", Deletion::Upnpc);
}

#[test]
fn upnpc_deletion_is_noticed_and_restored_upnp() {
    deletion_is_noticed_and_restored("cli_lost_upnpc_upnp", "upnp", Deletion::Upnpc);
}

/// Rules flushed: nothing can tell the mapping is gone (a NAT-PMP/PCP-only
/// router has no table; miniupnpd's UPnP table is stale), so the keeper
/// refreshes PCP and NAT-PMP mappings at each check; the bytes must come
/// back within a few check intervals. No "lost" event is required.
fn flushed_comes_back(test: &str, config: GatewayConfig, method: &str) {
    let Some(tb) = testbed(test, config) else {
        return;
    };
    let mut run = keep(&tb, method, true);
    let deleted = delete(&tb, Deletion::Flush);
    let back = reaches_again_within(&tb, EXTERNAL_IP, Protocol::Tcp, PORT, PORT, NOTICE_WITHIN);
    eprintln!(
        "{method}, rules flushed (UPnP {}): bytes {}",
        tb.config().upnp,
        back.map_or(
            format!("do NOT arrive within {NOTICE_WITHIN:?}"),
            |_| format!(
                "arrive again after {:.1} s",
                deleted.elapsed().as_secs_f64()
            )
        )
    );
    assert!(
        back.is_some(),
        "{method}, UPnP {}: no bytes within {NOTICE_WITHIN:?} of the flush \
         (check every {CHECK:?}); events:\n{}",
        tb.config().upnp,
        run.shown()
    );
    stop(&tb, run);
}

#[test]
fn flushed_rules_come_back_pcp() {
    flushed_comes_back("cli_lost_flush_pcp", GatewayConfig::all_on(), "pcp");
}

#[test]
fn flushed_rules_come_back_natpmp() {
    flushed_comes_back("cli_lost_flush_natpmp", GatewayConfig::all_on(), "natpmp");
}

#[test]
fn flushed_rules_on_a_pmp_only_router_come_back_pcp() {
    flushed_comes_back("cli_lost_pmp_only_pcp", GatewayConfig::natpmp_only(), "pcp");
}

#[test]
fn flushed_rules_on_a_pmp_only_router_come_back_natpmp() {
    flushed_comes_back(
        "cli_lost_pmp_only_natpmp",
        GatewayConfig::natpmp_only(),
        "natpmp",
    );
}
