//! `pfwd` over IPv6 in the dual-stack testbed: by default a port is
//! forwarded over IPv4 and opened as an IPv6 pinhole too; `--ipv6` and
//! `--ipv4` choose one; `status` says what IPv6 offers; `unmap` closes
//! both; `pfwd run` keeps an entry's pinhole; the guide is the IPv6
//! firewall's when no method can open one.

use pfwd_core::Protocol;
use pfwd_testbed::{GatewayConfig, dual_stack_testbed, reaches, reaches_v6};

use super::support::*;

#[test]
fn map_opens_both_families_by_default_and_unmap_closes_both() {
    let Some(tb) = dual_stack_testbed(
        "cli_map_opens_both_families_by_default",
        GatewayConfig::dual_stack(),
    ) else {
        return;
    };
    let out = pfwd(&tb, &["map", "8080", "--once", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    let families: Vec<&str> = v["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["family"].as_str().unwrap())
        .collect();
    assert_eq!(families, ["ipv4", "ipv6"], "{v}");
    assert_eq!(v["mappings"][1]["external"], "[2001:db8:77::10]:8080");
    assert!(reaches(&tb, Protocol::Tcp, 8080, 8080), "no IPv4 bytes");
    assert!(reaches_v6(&tb, Protocol::Tcp, 8080), "no IPv6 bytes");

    // Told in words too.
    let out = pfwd(&tb, &["map", "8081", "--once"]);
    let said = text(&out.stdout);
    assert!(said.contains("forwarded TCP 5.5.5.7:8081"), "{said}");
    assert!(
        said.contains("opened TCP [2001:db8:77::10]:8081 (IPv6 pinhole) via PCP"),
        "{said}"
    );

    // `list` shows both records, the pinhole with its family.
    let out = pfwd(&tb, &["list", "--json"]);
    let listed = json(&out);
    let families: Vec<&str> = listed["recorded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["family"].as_str().unwrap())
        .collect();
    assert_eq!(
        (
            families.iter().filter(|f| **f == "ipv4").count(),
            families.iter().filter(|f| **f == "ipv6").count()
        ),
        (2, 2),
        "{listed}"
    );
    let said = text(&pfwd(&tb, &["list"]).stdout);
    assert!(said.contains("[2001:db8:77::10]:8080"), "{said}");

    let out = pfwd(&tb, &["status", "--json"]);
    let status = json(&out);
    assert_eq!(
        status["ipv6"]["gateway"]["local"], "2001:db8:77::10",
        "{status}"
    );
    let answered: Vec<&str> = status["ipv6"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["probe"]["state"] == "answered")
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(answered, ["pcp", "upnp"], "{status}");

    for port in ["8080", "8081"] {
        let out = pfwd(&tb, &["unmap", port]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert!(!reaches(&tb, Protocol::Tcp, 8080, 8080));
    assert!(!reaches_v6(&tb, Protocol::Tcp, 8080));
    assert!(!reaches_v6(&tb, Protocol::Tcp, 8081));
    assert!(state_is_empty(&tb));
}

#[test]
fn ipv6_only_and_ipv4_only_and_the_ipv6_guide() {
    let Some(tb) = dual_stack_testbed("cli_ipv6_only_and_ipv4_only", GatewayConfig::dual_stack())
    else {
        return;
    };
    let out = pfwd(&tb, &["map", "8443", "--once", "--ipv6", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["mappings"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["mappings"][0]["family"], "ipv6");
    assert!(reaches_v6(&tb, Protocol::Tcp, 8443));
    assert!(
        !reaches(&tb, Protocol::Tcp, 8443, 8443),
        "--ipv6 forwarded IPv4 too"
    );

    let out = pfwd(&tb, &["map", "9443", "--once", "--ipv4", "--json"]);
    let v = json(&out);
    assert_eq!(v["mappings"].as_array().unwrap().len(), 1, "{v}");
    assert!(
        !reaches_v6(&tb, Protocol::Tcp, 9443),
        "--ipv4 opened a pinhole"
    );

    // Over IPv6 there is no other outside port: said before anything is sent.
    let out = pfwd(
        &tb,
        &["map", "80", "--external", "8080", "--ipv6", "--once"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nothing is translated"));

    // The IPv6 guide, offline.
    let out = pfwd(&tb, &["guide", "http", "--ipv6", "--offline"]);
    let guide = text(&out.stdout);
    assert!(guide.contains("IPv6 firewall"), "{guide}");
    assert!(guide.contains("2001:db8:77::10"), "{guide}");
    cleanup(&tb);
}

#[test]
fn a_host_without_global_ipv6_forwards_ipv4_and_says_nothing_of_ipv6() {
    let Some(tb) = dual_stack_testbed(
        "cli_a_host_without_global_ipv6",
        GatewayConfig::dual_stack(),
    ) else {
        return;
    };
    tb.lan_ula_only().unwrap();
    let out = pfwd(&tb, &["map", "8080", "--once", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["mappings"].as_array().unwrap().len(), 1, "{v}");
    // Asked for IPv6 explicitly: the guide, saying why.
    let out = pfwd(&tb, &["map", "8081", "--once", "--ipv6"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // The guide is the answer (stdout), with the reason.
    let said = text(&out.stdout);
    assert!(said.contains("no global IPv6 address"), "{said}");
    assert!(said.contains("IPv6 firewall"), "{said}");
    cleanup(&tb);
}

#[test]
fn run_keeps_each_entrys_families_and_removes_them_at_sigterm() {
    let Some(tb) = dual_stack_testbed("cli_run_keeps_families", GatewayConfig::dual_stack()) else {
        return;
    };
    let config = write_config(
        &tb,
        "[[forward]]\nport = 8080\nname = \"both\"\n\n\
         [[forward]]\nport = 8443\nname = \"six\"\nfamily = \"ipv6\"\n\n\
         [[forward]]\nport = 9000\nname = \"four\"\nfamily = \"ipv4\"\n",
    );
    let mut run = Running::start(&tb, &["run", "--config", &config, "--json"]);
    run.wait_for("mapped", 4, event("mapped"));
    let mut families: Vec<(String, String)> = run
        .seen
        .iter()
        .filter(|v| v["event"] == "mapped")
        .map(|v| {
            (
                v["entry"].as_str().unwrap().to_string(),
                v["mapping"]["family"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    families.sort();
    assert_eq!(
        families,
        [
            ("both".to_string(), "ipv4".to_string()),
            ("both".to_string(), "ipv6".to_string()),
            ("four".to_string(), "ipv4".to_string()),
            ("six".to_string(), "ipv6".to_string()),
        ]
    );
    assert!(reaches(&tb, Protocol::Tcp, 8080, 8080));
    assert!(reaches_v6(&tb, Protocol::Tcp, 8080));
    assert!(reaches_v6(&tb, Protocol::Tcp, 8443));
    assert!(
        !reaches_v6(&tb, Protocol::Tcp, 9000),
        "family = ipv4 opened a pinhole"
    );
    let (code, rest) = run.terminate();
    assert_eq!(code, 0, "{rest:?}");
    let stopped = rest.iter().find(|v| v["event"] == "stopped").unwrap();
    assert_eq!(stopped["deleted"], 4, "{rest:?}");
    assert!(!reaches_v6(&tb, Protocol::Tcp, 8080));
    assert!(!reaches_v6(&tb, Protocol::Tcp, 8443));
    assert!(state_is_empty(&tb));
}
