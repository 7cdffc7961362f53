//! Defects found in review, each proven here first (these tests failed
//! before their fix): risk warnings, errors that were swallowed, a reload
//! that ignored SIGTERM, records the router no longer lists.

use std::time::Duration;

use pfwd_core::Protocol;
use pfwd_testbed::{GatewayConfig, reaches, testbed};
use serde_json::Value;

use crate::support::*;

/// Opening telnet or RDP warns, in `--json` and on stderr, with what to
/// use instead.
#[test]
fn risky_services_are_warned_about_where_they_are_opened() {
    let Some(tb) = testbed("cli_risky_services", GatewayConfig::all_on()) else {
        return;
    };
    let out = pfwd(&tb, &["map", "telnet", "--once", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    let warnings = v["warnings"].as_array().unwrap();
    let risky: Vec<&Value> = warnings
        .iter()
        .filter(|w| w["kind"] == "risky_service")
        .collect();
    assert_eq!(risky.len(), 1, "{warnings:?}");
    let said = risky[0]["text"].as_str().unwrap();
    assert!(said.contains("Telnet") && said.contains("SSH"), "{said}");
    let out = pfwd(&tb, &["map", "rdp", "--once", "--tcp"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("Remote Desktop") && err.contains("WireGuard"),
        "{err}"
    );
    for port in ["23", "3389"] {
        assert_eq!(pfwd(&tb, &["unmap", port]).status.code(), Some(0));
    }
    cleanup(&tb);
}

/// With no record and a router that cannot list its mappings, `unmap`
/// cannot know: an error naming why, not "nothing found" (exit 5).
#[test]
fn unmap_without_the_routers_list_says_why() {
    let Some(tb) = testbed("cli_unmap_no_list", GatewayConfig::natpmp_only()) else {
        return;
    };
    let out = pfwd(&tb, &["unmap", "7777"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot be read"), "{err}");
    assert!(err.contains("UPnP"), "the cause is not named: {err}");
    let out = pfwd(&tb, &["unmap", "7777", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["not_found"], false);
    cleanup(&tb);
}

/// A PCP record as pfwd writes it (raw JSON: the file format is the contract).
fn pcp_record(protocol: &str, port: u16) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        r#"{{"method": "pcp", "protocol": "{protocol}", "external": "5.5.5.7:{port}",
        "internal": "192.168.77.10:{port}", "gateway": "192.168.77.1",
        "lease_seconds": 3600, "permanent": false, "description": "pfwd {port}",
        "granted_at": {now}, "expires_at": {}, "pcp_nonce": "0102030405060708090a0bff",
        "epoch": 1, "forced_permanent": false}}"#,
        now + 3600
    )
}

/// Every failed removal is reported, not only the last one.
#[test]
fn unmap_reports_every_failure() {
    let Some(tb) = testbed("cli_unmap_every_failure", GatewayConfig::upnp_only()) else {
        return;
    };
    // Two PCP records on a router whose PCP is off: both removals fail.
    let dir = state(&tb);
    std::fs::create_dir_all(&dir).unwrap();
    for protocol in ["tcp", "udp"] {
        std::fs::write(
            dir.join(format!("192.168.77.1-{protocol}-7001.json")),
            pcp_record(protocol, 7001),
        )
        .unwrap();
    }
    let out = pfwd(&tb, &["unmap", "7001", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(2), "{v}");
    let out = pfwd(&tb, &["unmap", "7001"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("could not remove TCP") && err.contains("could not remove UDP"),
        "{err}"
    );
    cleanup(&tb);
}

/// `pfwd run` says when it cannot record a mapping (`pfwd unmap` would not
/// find it).
#[test]
fn run_warns_when_a_record_cannot_be_written() {
    let Some(tb) = testbed("cli_run_record_fails", GatewayConfig::all_on()) else {
        return;
    };
    let config = config_path(&tb);
    std::fs::write(&config, "[[forward]]\nport = 8090\nname = \"web\"\n").unwrap();
    // The state "directory" is a file: nothing can be written under it.
    let blocker = std::env::temp_dir().join(format!("{}-not-a-dir", tb.namespaces()[0]));
    std::fs::write(&blocker, "a file").unwrap();
    let config_arg = config.to_string_lossy().into_owned();
    let mut cmd = command(&tb, &["run", "--config", &config_arg, "--json"]);
    cmd.env("PFWD_STATE", blocker.join("mappings"));
    let mut run = Running::spawn(cmd);
    run.wait_for("mapped", 1, event("mapped"));
    run.wait_for("warning", 1, |v| {
        v["event"] == "warning"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("could not record"))
    });
    let (code, _) = run.terminate();
    assert_eq!(code, 0);
    let _ = std::fs::remove_file(&blocker);
    let _ = std::fs::remove_file(&config);
    cleanup(&tb);
}

/// A SIGHUP whose new settings name a gateway that cannot be reached sends
/// `pfwd run` looking for it; SIGTERM (systemctl stop) must still end it.
#[test]
fn a_reload_looking_for_the_router_stops_at_sigterm() {
    let Some(tb) = testbed("cli_reload_sigterm", GatewayConfig::all_on()) else {
        return;
    };
    let config = config_path(&tb);
    std::fs::write(&config, "[[forward]]\nport = 8091\nname = \"web\"\n").unwrap();
    let config_arg = config.to_string_lossy().into_owned();
    let mut run = Running::start(&tb, &["run", "--config", &config_arg, "--json"]);
    run.wait_for("mapped", 1, event("mapped"));
    assert!(reaches(&tb, Protocol::Tcp, 8091, 8091));
    // The LAN host loses its default route (the router stays reachable on
    // the LAN), and the new settings name a gateway it has no route to:
    // discovery waits and tries again.
    tb.lan().exec("ip", &["route", "del", "default"]).unwrap();
    std::fs::write(
        &config,
        "gateway = \"10.99.99.1\"\n[[forward]]\nport = 8091\nname = \"web\"\n",
    )
    .unwrap();
    run.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(1500));
    run.signal(libc::SIGTERM);
    let code = run.exit_within(Duration::from_secs(5));
    assert_eq!(code, Some(0), "pfwd run ignored SIGTERM during the reload");
    assert!(!listed(&tb, 8091), "the reload left the old mapping");
    let _ = std::fs::remove_file(&config);
    cleanup(&tb);
}

/// `pfwd list` marks a record whose mapping the router no longer lists.
#[test]
fn list_marks_records_the_router_lost() {
    let Some(tb) = testbed("cli_list_lost", GatewayConfig::all_on()) else {
        return;
    };
    for port in ["8093", "8094"] {
        let out = pfwd(&tb, &["map", port, "--once", "--method", "upnp"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    // Removed on the router behind pfwd's back.
    tb.upnpc(&["-d", "8094", "TCP"]).unwrap();
    let out = pfwd(&tb, &["list", "--json"]);
    let v = json(&out);
    let recorded = v["recorded"].as_array().unwrap();
    let on_router = |port: u16| {
        recorded
            .iter()
            .find(|r| r["external"] == format!("5.5.5.7:{port}"))
            .map(|r| r["on_router"].clone())
    };
    assert_eq!(on_router(8093), Some(Value::Bool(true)), "{v}");
    assert_eq!(on_router(8094), Some(Value::Bool(false)), "{v}");
    let out = pfwd(&tb, &["list"]);
    let said = text(&out.stdout);
    let line = said.lines().find(|l| l.contains(":8094 ->")).unwrap();
    assert!(line.contains("NOT ON THE ROUTER"), "{said}");
    assert_eq!(pfwd(&tb, &["unmap", "8093"]).status.code(), Some(0));
    cleanup(&tb);
}

/// `-vv` shows the library's debug log on stderr; without `-v`, or with
/// `--json`, there is none.
#[test]
fn the_cores_log_shows_with_vv_only() {
    let Some(tb) = testbed("cli_log_levels", GatewayConfig::natpmp_only()) else {
        return;
    };
    let line = "pfwd [debug pfwd_core::";
    let out = pfwd(&tb, &["-vv", "status"]);
    assert!(text(&out.stderr).contains(line), "{}", text(&out.stderr));
    for args in [
        &["status"][..],
        &["-v", "status"],
        &["-vv", "status", "--json"],
    ] {
        let out = pfwd(&tb, args);
        let err = text(&out.stderr);
        assert!(!err.contains("pfwd [debug"), "{args:?}: {err}");
    }
    cleanup(&tb);
}
