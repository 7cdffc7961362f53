//! Issue 18: 60 entries on one router. `pfwd run` with 60 `[[forward]]`
//! entries must map them all by PCP on an all-on router (none falling back
//! to another method under the load, no failure that calls UPnP switched
//! off), and at SIGTERM remove them all: afterwards the router holds none,
//! or the command's output names exactly the ones left. The figures (time
//! to all mapped, methods, time to stop, mappings left) are printed: run
//! with `--nocapture` to see them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;
use pfwd_testbed::{EXTERNAL_IP, GatewayConfig, reaches_again_within, testbed};
use serde_json::Value;

use crate::support::*;

const FIRST: u16 = 9000;
const COUNT: u16 = 60;

#[test]
fn sixty_entries_are_mapped_by_pcp_and_all_removed_at_sigterm() {
    let Some(tb) = testbed("cli_busy_sixty", GatewayConfig::all_on()) else {
        return;
    };
    let mut text = String::new();
    for i in 0..COUNT {
        let _ = write!(
            text,
            "[[forward]]\nport = {}\nname = \"e{i:02}\"\n",
            FIRST + i
        );
    }
    let config = write_config(&tb, &text);
    let started = Instant::now();
    let mut run = Running::start(&tb, &["run", "--config", &config, "--json"]);
    let mut mapped: BTreeMap<String, Value> = BTreeMap::new();
    let deadline = started + Duration::from_secs(60);
    while mapped.len() < usize::from(COUNT) {
        let since = run.seen.len();
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(v) = run.wait_new(since, left, |_| true) else {
            panic!(
                "{} of {COUNT} mapped after 60 s; events:\n{}",
                mapped.len(),
                run.shown()
            );
        };
        if v["event"] == "mapped" {
            mapped.insert(v["entry"].as_str().unwrap_or("").to_string(), v);
        }
    }
    let all_mapped = started.elapsed();
    let mut methods: BTreeMap<String, usize> = BTreeMap::new();
    for v in mapped.values() {
        *methods
            .entry(v["mapping"]["method"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    let failed: Vec<&Value> = run.seen.iter().filter(|v| v["event"] == "failed").collect();
    let switched_off: Vec<&&Value> = failed
        .iter()
        .filter(|v| v.to_string().contains("switched off"))
        .collect();
    let on_router = tb
        .forwarded()
        .iter()
        .filter(|f| (FIRST..FIRST + COUNT).contains(&f.external_port))
        .count();
    eprintln!(
        "60 entries: all mapped after {:.2} s; methods {methods:?}; {} failed events \
         ({} saying a method is switched off); the router forwards {on_router}",
        all_mapped.as_secs_f64(),
        failed.len(),
        switched_off.len()
    );
    assert!(
        switched_off.is_empty(),
        "failures that call a method switched off: {switched_off:#?}"
    );
    assert_eq!(
        methods.get("pcp").copied(),
        Some(usize::from(COUNT)),
        "not all by PCP: {methods:?}"
    );
    assert_eq!(on_router, usize::from(COUNT));
    // Bytes arrive at the first and the last (within 5 s: the router is
    // still busy answering the keepers' first read-backs, and a loaded
    // runner may stall the prober's threads).
    for port in [FIRST, FIRST + COUNT - 1] {
        let arrived = reaches_again_within(
            &tb,
            EXTERNAL_IP,
            Protocol::Tcp,
            port,
            port,
            Duration::from_secs(5),
        );
        assert!(arrived.is_some(), "no bytes reach {port} within 5 s");
    }

    // SIGTERM: everything removed, or what is left named.
    let since = run.seen.len();
    let stopping = Instant::now();
    run.signal(libc::SIGTERM);
    let code = run.exit_within(Duration::from_secs(120));
    let to_stop = stopping.elapsed();
    let _ = run.shown();
    let after: Vec<Value> = run.seen[since..].to_vec();
    let left: BTreeSet<u16> = tb
        .forwarded()
        .iter()
        .filter(|f| (FIRST..FIRST + COUNT).contains(&f.external_port))
        .map(|f| f.external_port)
        .collect();
    let listed = tb.upnpc(&["-l"]).unwrap_or_default();
    let listed_left: BTreeSet<u16> = (FIRST..FIRST + COUNT)
        .filter(|p| listed.contains(&format!(" {p}->")))
        .collect();
    // "could not remove TCP 5.5.5.7:9000 -> ..." warnings name what is left.
    for m in after
        .iter()
        .filter(|v| v["event"] == "warning")
        .filter_map(|v| v["message"].as_str())
    {
        eprintln!("warning at stop: {m}");
    }
    let named: BTreeSet<u16> = after
        .iter()
        .filter(|v| v["event"] == "warning")
        .filter_map(|v| v["message"].as_str())
        .filter(|m| m.contains("could not remove"))
        .filter_map(|m| (FIRST..FIRST + COUNT).find(|p| m.contains(&format!(":{p} "))))
        .collect();
    let stopped = after.iter().find(|v| v["event"] == "stopped");
    eprintln!(
        "60 entries: SIGTERM to exit {:.2} s (exit {code:?}); deleted {}; left on the router \
         (nft) {left:?}, in its list (upnpc -l) {listed_left:?}; named as left {named:?}",
        to_stop.as_secs_f64(),
        stopped.map_or(Value::Null, |v| v["deleted"].clone())
    );
    assert_eq!(
        code,
        Some(0),
        "pfwd run did not exit within 120 s of SIGTERM"
    );
    let stopped = stopped.unwrap_or_else(|| panic!("no stopped event: {after:?}"));
    assert_eq!(
        stopped["deleted"].as_u64().unwrap_or(0) + named.len() as u64,
        u64::from(COUNT),
        "{stopped}"
    );
    assert_eq!(left, named, "what is left is not what the output names");
    // miniupnpd's own list may be stale here (it re-reads its rules only
    // after changing one): the nft rules above are the truth; the list is
    // printed for the record.
    let _ = std::fs::remove_file(config_path(&tb));
    cleanup(&tb);
}
