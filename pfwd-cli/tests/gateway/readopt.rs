//! Re-adoption after a crash: a kept `pfwd map` or `pfwd run` killed with
//! SIGKILL and started again renews the mapping it recorded (PCP with its
//! nonce) instead of making a second one.

use std::path::Path;

use pfwd_core::Protocol;
use pfwd_testbed::{GatewayConfig, Testbed, reaches, testbed};
use serde_json::Value;

use crate::support::*;

/// The record of TCP `port` in the test's state directory.
fn record(tb: &Testbed, port: u16) -> Value {
    let path = state(tb).join(format!("192.168.77.1-tcp-{port}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no record {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// How many mappings of outside port `port` the router lists.
fn router_count(tb: &Testbed, port: u16) -> usize {
    tb.upnpc(&["-l"])
        .unwrap()
        .matches(&format!(" {port}->"))
        .count()
}

fn kill_hard(run: &mut Running) {
    run.signal(libc::SIGKILL);
    let _ = run.child.wait();
}

#[test]
fn a_killed_kept_map_is_renewed_not_made_again() {
    let Some(tb) = testbed("cli_readopt_map", GatewayConfig::all_on()) else {
        return;
    };
    let args = ["map", "8080", "--method", "pcp", "--json"];
    let mut first = Running::start(&tb, &args);
    first.wait_for("mapped", 1, event("mapped"));
    let before = record(&tb, 8080);
    let nonce = before["pcp_nonce"].as_str().unwrap().to_string();
    assert_eq!(before["kept_by"], first.child.id());
    assert_eq!(router_count(&tb, 8080), 1);
    let listed_before = tb.upnpc(&["-l"]).unwrap_or_default();
    kill_hard(&mut first);
    // The mapping outlives its keeper, recorded with the dead keeper's pid.
    assert!(reaches(&tb, Protocol::Tcp, 8080, 8080));
    let mut second = Running::start(&tb, &args);
    second.wait_for("mapped", 1, event("mapped"));
    let mapped = second.seen.iter().find(|v| event("mapped")(v)).unwrap();
    assert_eq!(mapped["mapping"]["pcp_nonce"], nonce.as_str(), "{mapped}");
    let after = record(&tb, 8080);
    assert_eq!(
        after["pcp_nonce"],
        nonce.as_str(),
        "a new nonce: a second mapping"
    );
    assert_eq!(after["kept_by"], second.child.id());
    assert_eq!(router_count(&tb, 8080), 1, "the router holds two mappings");
    // Shown with --nocapture: the evidence for the record. miniupnpd names a
    // PCP mapping by its nonce (as three 32-bit words in its own byte order).
    eprintln!(
        "nonce before the kill {nonce}, after the restart {}\nthe router's list before:\n{listed_before}\nand after:\n{}",
        after["pcp_nonce"],
        tb.upnpc(&["-l"]).unwrap_or_default()
    );
    assert!(reaches(&tb, Protocol::Tcp, 8080, 8080));
    let (code, rest) = second.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest.last().unwrap()["deleted"], 1);
    assert_eq!(router_count(&tb, 8080), 0);
    assert!(!reaches(&tb, Protocol::Tcp, 8080, 8080));
    cleanup(&tb);
}

#[test]
fn a_killed_service_is_renewed_not_made_again() {
    let Some(tb) = testbed("cli_readopt_run", GatewayConfig::all_on()) else {
        return;
    };
    let config = config_path(&tb);
    std::fs::write(
        &config,
        "method = [\"pcp\"]\n[[forward]]\nport = 8081\nname = \"web\"\n",
    )
    .unwrap();
    let config_arg = config.to_string_lossy().into_owned();
    let args = ["run", "--config", &config_arg, "--json"];
    let mut first = Running::start(&tb, &args);
    first.wait_for("mapped", 1, event("mapped"));
    let nonce = record(&tb, 8081)["pcp_nonce"].clone();
    kill_hard(&mut first);
    let mut second = Running::start(&tb, &args);
    second.wait_for("mapped", 1, event("mapped"));
    assert_eq!(record(&tb, 8081)["pcp_nonce"], nonce);
    assert_eq!(router_count(&tb, 8081), 1);
    assert!(reaches(&tb, Protocol::Tcp, 8081, 8081));
    let (code, rest) = second.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest.last().unwrap()["deleted"], 1);
    assert_eq!(router_count(&tb, 8081), 0);
    let _ = std::fs::remove_file(Path::new(&config));
    cleanup(&tb);
}
