//! Issue 18, never lose a mapping without knowing it: a kept mapping
//! (`pfwd run`, `check = "2s"`, one method at a time) deleted on the router
//! behind pfwd's back must be noticed within a few check intervals (a
//! `"lost"` event with its reason), made again (`"restored"`), and then
//! work: bytes from the internet arrive again.
//!
//! Two ways a router loses a mapping while its daemon runs: a UPnP
//! `DeletePortMapping` from another program on the LAN (`upnpc -d`), and
//! its rules flushed under miniupnpd (a firewall reload). On an all-on
//! router miniupnpd lists PCP and NAT-PMP mappings in its UPnP list too, so
//! a keeper can ask that list whichever method made the mapping. After a
//! flush, though, that list is stale until miniupnpd changes a rule itself,
//! and a UPnP `AddPortMapping` for a mapping it still believes in does not
//! put the rule back (see `pfwd_testbed::router`): only the bytes tell.
//!
//! A NAT-PMP/PCP-only router has no list at all: the keeper cannot tell
//! the mapping is gone and refreshes it at each check, so there the test
//! asks only that bytes arrive again within a few check intervals.

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
    let at;
    match how {
        Deletion::Upnpc => {
            let said = tb.upnpc(&["-d", &PORT.to_string(), "TCP"]).unwrap();
            at = Instant::now();
            assert!(
                said.contains("returned : 0"),
                "upnpc -d did not delete it: {said}"
            );
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
            tb.flush_router_rules().unwrap();
            at = Instant::now();
            if listing {
                let stale = tb.upnpc(&["-l"]).unwrap().contains(&format!(" {PORT}->"));
                eprintln!("after the flush the router's own list still shows {PORT}: {stale}");
            }
        }
    }
    assert!(
        !tb.forwards(Protocol::Tcp, PORT),
        "{how:?}: the router still forwards {PORT}: the test would prove nothing"
    );
    at
}

/// `pfwd run` keeping TCP [`PORT`] with `method` only, checked every 2 s.
fn keep(tb: &Testbed, method: &str) -> Running {
    let config = write_config(
        tb,
        &format!(
            "check = \"2s\"\nmethod = [\"{method}\"]\n[[forward]]\nport = {PORT}\nname = \"web\"\n"
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
    let mut run = keep(&tb, method);
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

#[test]
fn flushed_rules_are_noticed_and_restored_pcp() {
    deletion_is_noticed_and_restored("cli_lost_flush_pcp", "pcp", Deletion::Flush);
}

#[test]
fn flushed_rules_are_noticed_and_restored_natpmp() {
    deletion_is_noticed_and_restored("cli_lost_flush_natpmp", "natpmp", Deletion::Flush);
}

#[test]
fn flushed_rules_are_noticed_and_restored_upnp() {
    deletion_is_noticed_and_restored("cli_lost_flush_upnp", "upnp", Deletion::Flush);
}

/// A NAT-PMP/PCP-only router: nothing to ask whether the mapping is still
/// there, so the keeper refreshes it at each check; the bytes must come
/// back within a few check intervals. No "lost" event is required.
fn flushed_on_a_pmp_only_router_comes_back(test: &str, method: &str) {
    let Some(tb) = testbed(test, GatewayConfig::natpmp_only()) else {
        return;
    };
    let mut run = keep(&tb, method);
    let deleted = delete(&tb, Deletion::Flush);
    let back = reaches_again_within(&tb, EXTERNAL_IP, Protocol::Tcp, PORT, PORT, NOTICE_WITHIN);
    eprintln!(
        "{method} on a NAT-PMP/PCP-only router, rules flushed: bytes {}",
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
        "{method} on a NAT-PMP/PCP-only router: no bytes within {NOTICE_WITHIN:?} of the flush \
         (check every {CHECK:?}); events:\n{}",
        run.shown()
    );
    stop(&tb, run);
}

#[test]
fn flushed_rules_on_a_pmp_only_router_come_back_pcp() {
    flushed_on_a_pmp_only_router_comes_back("cli_lost_pmp_only_pcp", "pcp");
}

#[test]
fn flushed_rules_on_a_pmp_only_router_come_back_natpmp() {
    flushed_on_a_pmp_only_router_comes_back("cli_lost_pmp_only_natpmp", "natpmp");
}
