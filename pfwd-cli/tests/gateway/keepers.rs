//! Issue 18: two keepers of one mapping. A second `pfwd map` of a port that
//! a live pfwd process keeps is refused (the taken-port exit code, 4, and
//! the first process's pid on stderr) and the first keeps it; with
//! `--take-over` the second takes it, the first says so (`"taken_over"`,
//! `"by": PID`) and lets it go without deleting it.

use std::time::Duration;

use pfwd_core::Protocol;
use pfwd_testbed::{GatewayConfig, Testbed, reaches, testbed};
use serde_json::Value;

use crate::support::*;

const PORT: u16 = 8090;
/// `pfwd map`'s exit code for a port that is taken (`pfwd --help`).
const TAKEN: i32 = 4;

/// How many rules on the router forward TCP [`PORT`].
fn rules(tb: &Testbed) -> usize {
    tb.forwarded()
        .iter()
        .filter(|f| f.protocol == Protocol::Tcp && f.external_port == PORT)
        .count()
}

/// Stop `run` if it still runs (SIGTERM); its exit code and every event it
/// printed.
fn finish(mut run: Running) -> (Option<i32>, Vec<Value>) {
    if run.alive() {
        run.signal(libc::SIGTERM);
    }
    let code = run.exit_within(Duration::from_secs(10));
    let _ = run.shown();
    (code, run.seen)
}

#[test]
fn a_second_keeper_of_the_same_port_is_refused_and_names_the_first() {
    let Some(tb) = testbed("cli_two_keepers_refused", GatewayConfig::all_on()) else {
        return;
    };
    let mut first = Running::start(&tb, &["map", &PORT.to_string(), "--json"]);
    first.wait_for("mapped", 1, event("mapped"));
    let pid = first.child.id();
    let second = output_within(
        command(&tb, &["map", &PORT.to_string()]),
        Duration::from_secs(10),
    );
    assert_eq!(
        second.code,
        Some(TAKEN),
        "the second keeper's exit code (None: still keeping after 10 s); its stderr: {}\nits stdout: {}",
        second.stderr,
        second.stdout
    );
    assert!(
        second.stderr.contains(&pid.to_string()),
        "the first keeper's pid {pid} is not named: {}",
        second.stderr
    );
    assert!(first.alive(), "the first keeper stopped");
    assert!(
        reaches(&tb, Protocol::Tcp, PORT, PORT),
        "the first keeper's mapping no longer works"
    );
    assert_eq!(rules(&tb), 1, "{:?}", tb.forwarded());
    let (code, rest) = first.terminate();
    assert_eq!(code, 0);
    assert_eq!(
        rest.last().unwrap(),
        &serde_json::json!({"event": "closed", "deleted": 1})
    );
    assert_eq!(rules(&tb), 0);
    cleanup(&tb);
}

#[test]
fn take_over_moves_the_mapping_and_the_first_lets_go_without_deleting() {
    let Some(tb) = testbed("cli_two_keepers_take_over", GatewayConfig::all_on()) else {
        return;
    };
    let port = PORT.to_string();
    let mut first = Running::start(&tb, &["map", &port, "--json"]);
    first.wait_for("mapped", 1, event("mapped"));
    let since_first = first.seen.len();
    let mut second = Running::start(&tb, &["map", &port, "--take-over", "--json"]);
    let second_pid = second.child.id();
    let holds =
        |v: &Value| ["mapped", "renewed", "restored"].contains(&v["event"].as_str().unwrap_or(""));
    if second.wait_new(0, Duration::from_secs(15), holds).is_none() {
        let code = second.exit_within(Duration::from_millis(100));
        panic!(
            "pfwd map {port} --take-over did not map within 15 s (exit code {code:?}; \
             its stderr is above); events: {}",
            second.shown()
        );
    }
    // The first learns of it (at its next check at the latest: 30 s by
    // default for `pfwd map`).
    let Some(taken) = first.wait_new(since_first, Duration::from_secs(40), event("taken_over"))
    else {
        panic!(
            "the first keeper did not report the take-over within 40 s; its events:\n{}",
            first.shown()
        );
    };
    assert_eq!(taken["by"], second_pid, "{taken}");
    assert!(
        reaches(&tb, Protocol::Tcp, PORT, PORT),
        "no bytes after the take-over"
    );
    // The first lets go without deleting it (it may have ended by itself).
    let (code, events) = finish(first);
    assert!(matches!(code, Some(0)), "the first keeper's exit: {code:?}");
    let deleted: Vec<&Value> = events
        .iter()
        .filter(|v| v["event"] == "removed" || (v["event"] == "closed" && v["deleted"] != 0))
        .collect();
    assert!(
        deleted.is_empty(),
        "the first keeper deleted it: {deleted:?}"
    );
    assert!(
        reaches(&tb, Protocol::Tcp, PORT, PORT),
        "no bytes once the first keeper stopped"
    );
    assert_eq!(rules(&tb), 1, "{:?}", tb.forwarded());
    // Stopping the second removes it.
    let (code, rest) = second.terminate();
    assert_eq!(code, 0);
    assert_eq!(
        rest.last().unwrap(),
        &serde_json::json!({"event": "closed", "deleted": 1})
    );
    assert!(!reaches(&tb, Protocol::Tcp, PORT, PORT));
    assert_eq!(rules(&tb), 0);
    assert!(state_is_empty(&tb));
    cleanup(&tb);
}
