//! The `pfwd` command end to end: the built binary runs inside the testbed's
//! LAN namespace against the real miniupnpd. A mapping counts when bytes
//! from the wan namespace arrive; the router's own list (`upnpc -l`, or its
//! firewall rules) is the second witness.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[path = "gateway/busy.rs"]
mod busy;
#[path = "gateway/check.rs"]
mod check;
#[path = "gateway/fixes.rs"]
mod fixes;
#[path = "gateway/ipv6.rs"]
mod ipv6;
#[path = "gateway/keepers.rs"]
mod keepers;
#[path = "gateway/lost.rs"]
mod lost;
#[path = "gateway/probe_server.rs"]
mod probe_server;
#[path = "gateway/readopt.rs"]
mod readopt;
#[path = "gateway/support.rs"]
mod support;
#[path = "gateway/wan.rs"]
mod wan;

use std::path::Path;
use std::process::Command;

use pfwd_core::Protocol;
use pfwd_testbed::{GatewayConfig, Testbed, reaches, testbed};
use serde_json::Value;

use support::*;

#[test]
fn map_once_by_each_method_then_unmap() {
    let Some(tb) = testbed("cli_map_once_by_each_method", GatewayConfig::all_on()) else {
        return;
    };
    for (method, port) in [("pcp", 8081u16), ("natpmp", 8082), ("upnp", 8083)] {
        let p = port.to_string();
        let out = pfwd(&tb, &["map", &p, "--once", "--method", method, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v = json(&out);
        let m = &v["mappings"][0];
        assert_eq!(m["method"], method);
        assert_eq!(m["protocol"], "tcp");
        assert_eq!(m["external"], format!("5.5.5.7:{port}"));
        assert_eq!(m["internal"], format!("192.168.77.10:{port}"));
        assert_eq!(m["lease_seconds"], 7200);
        assert!(m["expires_at"].as_u64().unwrap() > m["granted_at"].as_u64().unwrap());
        assert!(
            reaches(&tb, Protocol::Tcp, port, port),
            "{method}: no bytes"
        );
        assert!(listed(&tb, port), "{method}: upnpc -l does not list {port}");
    }
    // `list` shows the router's list and pfwd's records.
    let out = pfwd(&tb, &["list", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["gateway"], "192.168.77.1");
    assert_eq!(v["router"]["method"], "upnp");
    assert_eq!(v["router"]["mappings"].as_array().unwrap().len(), 3);
    assert_eq!(v["recorded"].as_array().unwrap().len(), 3);
    // Text output, one line each.
    let out = pfwd(&tb, &["list"]);
    assert_eq!(text(&out.stdout).matches("-> 192.168.77.10:808").count(), 6);
    // `unmap` deletes each with the method that made it (PCP by its nonce).
    for port in [8081u16, 8082, 8083] {
        let out = pfwd(&tb, &["unmap", &port.to_string()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("removed TCP 5.5.5.7:"));
        assert!(
            !reaches(&tb, Protocol::Tcp, port, port),
            "{port} still open"
        );
    }
    assert!(state_is_empty(&tb));
    assert!(!listed(&tb, 8081) && !listed(&tb, 8082) && !listed(&tb, 8083));
    // Nothing left: exit 5.
    let out = pfwd(&tb, &["unmap", "8081"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(text(&out.stderr).lines().count(), 1);
    cleanup(&tb);
}

#[test]
fn upnp_only_router_service_names_and_unmap_without_a_record() {
    let Some(tb) = testbed("cli_upnp_only", GatewayConfig::upnp_only()) else {
        return;
    };
    let out = pfwd(&tb, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["can_forward"], true);
    assert_eq!(v["external_address"], "5.5.5.7");
    assert_eq!(v["gateway"]["gateway"], "192.168.77.1");
    assert_eq!(v["gateway"]["local"], "192.168.77.10");
    let states: Vec<&str> = v["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["probe"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["failed", "failed", "answered"]);
    assert_eq!(v["router"]["friendly_name"], "pfwd testbed router");
    // A service by name, to this host explicitly, both protocols.
    let out = pfwd(
        &tb,
        &[
            "map",
            "minecraft",
            "--to",
            "192.168.77.10",
            "--both",
            "--once",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("forwarded TCP 5.5.5.7:25565 -> 192.168.77.10:25565 via UPnP-IGD"));
    assert!(said.contains("forwarded UDP 5.5.5.7:25565 -> 192.168.77.10:25565 via UPnP-IGD"));
    assert!(reaches(&tb, Protocol::Tcp, 25565, 25565));
    assert!(reaches(&tb, Protocol::Udp, 25565, 25565));
    // Another machine made it (no record here): unmap finds it in the
    // router's list.
    cleanup(&tb);
    let out = pfwd(&tb, &["unmap", "minecraft", "--udp"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("from the router's list"));
    assert!(!reaches(&tb, Protocol::Udp, 25565, 25565));
    assert!(
        reaches(&tb, Protocol::Tcp, 25565, 25565),
        "--udp removed TCP too"
    );
    let out = pfwd(&tb, &["unmap", "25565"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!reaches(&tb, Protocol::Tcp, 25565, 25565));
    cleanup(&tb);
}

#[test]
fn kept_mapping_lives_until_sigterm() {
    let Some(tb) = testbed("cli_kept_until_sigterm", GatewayConfig::all_on()) else {
        return;
    };
    let mut run = Running::start(&tb, &["map", "9000", "--both", "--json"]);
    run.wait_for("mapped", 2, event("mapped"));
    let mapped: Vec<&Value> = run.seen.iter().filter(|v| event("mapped")(v)).collect();
    assert!(mapped.iter().all(|v| v["mapping"]["method"] == "pcp"));
    assert!(reaches(&tb, Protocol::Tcp, 9000, 9000));
    assert!(reaches(&tb, Protocol::Udp, 9000, 9000));
    assert!(listed(&tb, 9000));
    // The records say which process keeps them.
    let out = pfwd(&tb, &["list", "--json"]);
    let recorded = json(&out)["recorded"].as_array().unwrap().len();
    assert_eq!(recorded, 2);
    let (code, rest) = run.terminate();
    assert_eq!(code, 0);
    assert_eq!(
        rest.last().unwrap(),
        &serde_json::json!({"event": "closed", "deleted": 2})
    );
    assert!(!reaches(&tb, Protocol::Tcp, 9000, 9000));
    assert!(!reaches(&tb, Protocol::Udp, 9000, 9000));
    assert!(!listed(&tb, 9000));
    assert!(state_is_empty(&tb));
    cleanup(&tb);
}

#[test]
fn run_config_survives_a_router_restart_and_reloads() {
    let Some(mut tb) = testbed("cli_run_config", GatewayConfig::all_on()) else {
        return;
    };
    let config = config_path(&tb);
    let write = |entries: &str| {
        std::fs::write(
            &config,
            format!("check = \"1s\"\nlease = \"10m\"\n{entries}"),
        )
        .unwrap();
    };
    write(
        r#"
[[forward]]
service = "http"
description = "web"

[[forward]]
port = 2222
to = "192.168.77.10:22"
name = "ssh"

[[forward]]
service = "wireguard"
"#,
    );
    let config_arg = config.to_string_lossy().into_owned();
    let mut run = Running::start(&tb, &["run", "--config", &config_arg, "--json"]);
    run.wait_for("mapped", 3, event("mapped"));
    let entries: Vec<&str> = run
        .seen
        .iter()
        .filter(|v| event("mapped")(v))
        .map(|v| v["entry"].as_str().unwrap())
        .collect();
    for name in ["web", "ssh", "wireguard"] {
        assert!(entries.contains(&name), "{entries:?}");
    }
    let all_reach = |tb: &Testbed| {
        reaches(tb, Protocol::Tcp, 80, 80)
            && reaches(tb, Protocol::Tcp, 2222, 22)
            && reaches(tb, Protocol::Udp, 51820, 51820)
    };
    assert!(all_reach(&tb));
    // A router reboot: the mappings are gone, pfwd notices and maps again.
    tb.restart_daemon().unwrap();
    run.wait_for("restored", 3, event("restored"));
    assert!(all_reach(&tb), "not all three came back after the restart");
    // Reload: drop ssh, add a UDP game port; web and wireguard stay as they are.
    write(
        r#"
[[forward]]
service = "http"
description = "web"

[[forward]]
service = "wireguard"

[[forward]]
port = 27015
protocol = "udp"
name = "game"
"#,
    );
    run.signal(libc::SIGHUP);
    run.wait_for("game mapped", 1, |v| {
        v["entry"] == "game" && v["event"] == "mapped"
    });
    assert!(reaches(&tb, Protocol::Udp, 27015, 27015));
    assert!(
        !reaches(&tb, Protocol::Tcp, 2222, 22),
        "ssh outlived the reload"
    );
    assert!(reaches(&tb, Protocol::Tcp, 80, 80));
    // A broken file on reload changes nothing.
    std::fs::write(&config, "[[forward]]\nport = 70000\n").unwrap();
    run.signal(libc::SIGHUP);
    run.wait_for("warning", 1, event("warning"));
    assert!(reaches(&tb, Protocol::Udp, 27015, 27015));
    let (code, rest) = run.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest.last().unwrap()["event"], "stopped");
    assert_eq!(rest.last().unwrap()["deleted"], 3);
    assert!(!reaches(&tb, Protocol::Tcp, 80, 80));
    assert!(!reaches(&tb, Protocol::Udp, 27015, 27015));
    assert!(state_is_empty(&tb));
    let _ = std::fs::remove_file(&config);
    cleanup(&tb);
}

#[test]
fn run_config_waits_for_a_router_that_boots_later() {
    // A power cut: the Pi is up before the router's port-mapping daemon.
    let Some(mut tb) = testbed("cli_run_router_boots_later", GatewayConfig::no_daemon()) else {
        return;
    };
    let config = config_path(&tb);
    std::fs::write(
        &config,
        "check = \"1s\"\n[[forward]]\nservice = \"http\"\nname = \"web\"\n",
    )
    .unwrap();
    let config_arg = config.to_string_lossy().into_owned();
    let mut run = Running::start(&tb, &["run", "--config", &config_arg, "--json"]);
    run.wait_for("failed", 1, event("failed"));
    let failed = run.seen.iter().find(|v| event("failed")(v)).unwrap();
    assert_eq!(failed["error"]["kind"], "manual");
    // The same error shape as everywhere: exit code and the guide included.
    assert_eq!(failed["error"]["exit_code"], 3);
    assert_eq!(
        failed["error"]["instructions"]["rules"][0]["external_port"],
        80
    );
    tb.start_daemon().unwrap();
    // The keeper retries; the failed probes have expired: it maps.
    run.wait_for("mapped", 1, event("mapped"));
    assert!(reaches(&tb, Protocol::Tcp, 80, 80));
    let (code, rest) = run.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest.last().unwrap()["deleted"], 1);
    assert!(!reaches(&tb, Protocol::Tcp, 80, 80));
    let _ = std::fs::remove_file(&config);
    cleanup(&tb);
}

#[test]
fn no_router_daemon_prints_the_guide_with_exit_3() {
    let Some(tb) = testbed("cli_no_daemon_guide", GatewayConfig::no_daemon()) else {
        return;
    };
    let out = pfwd(&tb, &["map", "http", "--once"]);
    assert_eq!(out.status.code(), Some(3));
    let guide = text(&out.stdout);
    assert!(
        guide.contains("Forward: TCP port 80 -> 192.168.77.10:80"),
        "{guide}"
    );
    // Its kernel answers with ICMP port unreachable: a refusal, said so.
    assert!(
        guide.contains(
            "UPnP-IGD: the router refused the connection (ICMP port unreachable): UPnP-IGD is \
             switched off"
        ),
        "{guide}"
    );
    // JSON: the error with the whole guide.
    let out = pfwd(&tb, &["map", "wireguard", "--once", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "manual");
    assert_eq!(v["error"]["exit_code"], 3);
    let rules = &v["error"]["instructions"]["rules"];
    assert_eq!(rules[0]["protocol"], "udp");
    assert_eq!(rules[0]["external_port"], 51820);
    assert_eq!(
        v["error"]["instructions"]["reasons"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Kept mode gives up the same way instead of waiting forever.
    let out = pfwd(&tb, &["map", "8080"]);
    assert_eq!(out.status.code(), Some(3));
    // status: nothing answers.
    let out = pfwd(&tb, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json(&out)["can_forward"], false);
    // A terminal gets a progress indicator while probing takes noticeable
    // time (here the whole 500 ms budget); a pipe never does.
    let on_tty = tb
        .lan()
        .command("script")
        .args(["-qec", &format!("{PFWD} status"), "/dev/null"])
        .env("PFWD_STATE", state(&tb))
        .output()
        .unwrap();
    let tty = text(&on_tty.stdout);
    assert!(tty.contains("asking the router ("), "{tty:?}");
    assert!(
        tty.contains("\x1b[K"),
        "the spinner is not cleared: {tty:?}"
    );
    let piped = pfwd(&tb, &["status"]);
    assert_eq!(piped.status.code(), Some(3));
    assert!(!text(&piped.stderr).contains("asking the router"));
    // The guide on demand, in Markdown.
    let out = pfwd(&tb, &["guide", "ssh", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("# "), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("192.168.77.10"));
    cleanup(&tb);
}

/// Bad input: exit 2, one line on stderr that says what is wrong, nothing
/// on stdout, no panic. Run inside the namespace, so that even a bug that
/// let a request through could not reach a real router.
#[test]
fn bad_input_gives_exit_2_and_one_clear_line() {
    let Some(tb) = testbed("cli_bad_input", GatewayConfig::no_daemon()) else {
        return;
    };
    let bad_config = std::env::temp_dir().join(format!("{}-bad.toml", tb.namespaces()[0]));
    std::fs::write(
        &bad_config,
        "[[forward]]\nservice = \"http\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let bad_config = bad_config.to_string_lossy().into_owned();
    let cases: &[(&[&str], &str)] = &[
        (&["map", "70000"], "out of range"),
        (&["map", "0"], "port 0"),
        (&["map", "gopher-thing"], "unknown service"),
        (
            &["map", "80", "--to", "192.168.1.300"],
            "not an IPv4 address",
        ),
        (&["map", "80", "--to", "192.168.77.20:0"], "port 0"),
        (
            &["map", "80", "--to", "8.8.8.8", "--once"],
            "not on the gateway's network",
        ),
        (&["map", "80", "--lease", "soon"], "not a duration"),
        (&["map", "80", "--external", "http-ish"], "--external"),
        (&["map", "80", "--method", "smoke-signals"], "invalid value"),
        (&["map", "80", "--tcp", "--udp"], "cannot be used with"),
        (&["map", "80", "--gateway", "router.lan.x"], "--gateway"),
        (&["unmap", "99999"], "out of range"),
        (&["guide", "nope"], "unknown service"),
        (&["frobnicate"], "unrecognized subcommand"),
        (&["run", "--config", &bad_config], "line 3"),
        (
            &["run", "--config", "/nonexistent/pfwd.toml"],
            "cannot read",
        ),
    ];
    for (args, says) in cases {
        let out = pfwd(&tb, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(err.starts_with("pfwd: "), "{args:?}: {err}");
        assert!(
            err.contains(says),
            "{args:?}: {err:?} does not say {says:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // With --json the error is JSON on stdout.
    let out = pfwd(&tb, &["map", "70000", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["error"]["kind"], "invalid_request");
    let _ = std::fs::remove_file(Path::new(&bad_config));
    cleanup(&tb);
}

/// `--help` documents the exit codes and gives examples (no network).
#[test]
fn help_lists_exit_codes_and_examples() {
    for args in [&["--help"][..], &["map", "--help"], &["run", "--help"]] {
        let out = Command::new(PFWD).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("3  no method could do it"), "{help}");
        assert!(help.contains("pfwd "), "{help}");
    }
}
