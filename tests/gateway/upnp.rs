//! UPnP-IGD against the real miniupnpd, in namespaces each test builds and
//! tears down. A mapping counts only when bytes from the wan side arrive.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pfwd_core::{
    Error, Forwarder, GatewayCode, GatewayInfo, Lease, MappingRequest, Method, Protocol, Upnp,
    UpnpCode, UpnpOptions, default_gateway,
};
use pfwd_testbed::{EXTERNAL_IP, GATEWAY_LAN, GatewayConfig, LAN_HOST, LAN_NET, reaches, testbed};

fn request(protocol: Protocol, port: u16) -> MappingRequest {
    MappingRequest::builder(protocol, port)
        .lease(Duration::from_secs(600))
        .description(format!("test {protocol} {port}"))
        .build()
        .unwrap()
}

#[test]
fn finds_the_default_gateway_inside_the_lan() {
    let Some(tb) = testbed(
        "finds_the_default_gateway_inside_the_lan",
        GatewayConfig::no_daemon(),
    ) else {
        return;
    };
    let info = tb.lan().run(default_gateway).unwrap();
    assert_eq!(info.gateway, GATEWAY_LAN);
    assert_eq!(info.local, LAN_HOST);
    assert_eq!(info.interface.as_deref(), Some("lan0"));
    assert_eq!(info.lan.map(|n| n.to_string()).as_deref(), Some(LAN_NET));
}

#[test]
fn maps_tcp_and_udp_proves_bytes_and_unmaps() {
    let Some(tb) = testbed(
        "maps_tcp_and_udp_proves_bytes_and_unmaps",
        GatewayConfig::upnp_only(),
    ) else {
        return;
    };
    let (tcp, udp, listed, external) = tb.lan().block_on(|| async {
        let upnp = Upnp::discover().await.unwrap();
        let external = upnp.external_address().await.unwrap();
        let tcp = upnp.map(&request(Protocol::Tcp, 8080)).await.unwrap();
        let udp = upnp.map(&request(Protocol::Udp, 5353)).await.unwrap();
        let listed = upnp.list().await.unwrap();
        (tcp, udp, listed, external)
    });
    assert_eq!(external, EXTERNAL_IP);
    assert_eq!(tcp.method(), Method::Upnp);
    assert_eq!(tcp.external().to_string(), "5.5.5.7:8080");
    assert_eq!(tcp.internal().to_string(), "192.168.77.10:8080");
    assert_eq!(tcp.lease(), Lease::Finite(Duration::from_secs(600)));
    assert_eq!(udp.external().to_string(), "5.5.5.7:5353");
    assert!(
        reaches(&tb, Protocol::Tcp, 8080, 8080),
        "TCP bytes did not arrive"
    );
    assert!(
        reaches(&tb, Protocol::Udp, 5353, 5353),
        "UDP bytes did not arrive"
    );

    // pfwd's list and a client nobody here wrote agree on what is mapped.
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().any(|m| m.protocol == Protocol::Tcp
        && m.external_port == 8080
        && m.internal_client == "192.168.77.10"
        && m.description == "test TCP 8080"));
    let upnpc = tb.upnpc(&["-l"]).unwrap();
    assert!(upnpc.contains("TCP  8080->192.168.77.10:8080"), "{upnpc}");
    assert!(upnpc.contains("UDP  5353->192.168.77.10:5353"), "{upnpc}");

    let after = tb.lan().block_on(|| async {
        let upnp = Upnp::discover().await.unwrap();
        upnp.unmap(&tcp).await.unwrap();
        upnp.unmap(&udp).await.unwrap();
        // Deleting what is already gone succeeds.
        upnp.unmap(&udp).await.unwrap();
        upnp.list().await.unwrap()
    });
    assert!(after.is_empty(), "{after:?}");
    assert!(
        !reaches(&tb, Protocol::Tcp, 8080, 8080),
        "TCP bytes still arrive after unmap"
    );
    assert!(
        !reaches(&tb, Protocol::Udp, 5353, 5353),
        "UDP bytes still arrive after unmap"
    );
}

#[test]
fn maps_another_external_port_any_port_and_renews() {
    let Some(tb) = testbed(
        "maps_another_external_port_any_port_and_renews",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    let (fixed, any, renewed) = tb.lan().block_on(|| async {
        let upnp = Upnp::discover().await.unwrap();
        let fixed = upnp
            .map(
                &MappingRequest::builder(Protocol::Tcp, 8000)
                    .external_port(18000)
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        let any = upnp
            .map(
                &MappingRequest::builder(Protocol::Tcp, 9000)
                    .any_external_port()
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        let renewed = upnp.map(&fixed.renewal()).await.unwrap();
        (fixed, any, renewed)
    });
    assert_eq!(fixed.external().port(), 18000);
    assert!(reaches(&tb, Protocol::Tcp, 18000, 8000));
    assert_ne!(any.external().port(), 0);
    assert!(reaches(&tb, Protocol::Tcp, any.external().port(), 9000));
    assert_eq!(renewed.external(), fixed.external());
    assert!(renewed.granted_at() >= fixed.granted_at());
    assert!(
        reaches(&tb, Protocol::Tcp, 18000, 8000),
        "bytes stopped after the renewal"
    );
}

#[test]
fn a_denied_port_is_refused_with_the_gateways_code() {
    let mut config = GatewayConfig::upnp_only();
    // A typical router rule: nothing below 1024.
    config.rules = vec![format!("allow 1024-65535 {LAN_NET} 1-65535")];
    let Some(tb) = testbed("a_denied_port_is_refused_with_the_gateways_code", config) else {
        return;
    };
    let err = tb.lan().block_on(|| async {
        let upnp = Upnp::discover().await.unwrap();
        upnp.map(&request(Protocol::Tcp, 80)).await.unwrap_err()
    });
    match &err {
        Error::Refused {
            method: Method::Upnp,
            code: GatewayCode::Upnp(code),
            ..
        } => assert_eq!(*code, UpnpCode::NOT_AUTHORIZED, "{err}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("606") && text.contains("by hand"), "{text}");
    assert!(!reaches(&tb, Protocol::Tcp, 80, 80));
}

#[test]
fn a_port_held_by_another_host_is_a_conflict_naming_the_holder() {
    let mut config = GatewayConfig::upnp_only();
    // Without secure mode a client may map to another LAN host, as the
    // household NAS's own software did here.
    config.secure_mode = false;
    let Some(tb) = testbed(
        "a_port_held_by_another_host_is_a_conflict_naming_the_holder",
        config,
    ) else {
        return;
    };
    let out = tb
        .upnpc(&[
            "-e",
            "nas",
            "-a",
            "192.168.77.20",
            "8080",
            "8080",
            "TCP",
            "600",
        ])
        .unwrap();
    assert!(
        out.contains("is redirected to internal 192.168.77.20:8080"),
        "{out}"
    );
    let err = tb.lan().block_on(|| async {
        let upnp = Upnp::discover().await.unwrap();
        upnp.map(&request(Protocol::Tcp, 8080)).await.unwrap_err()
    });
    match &err {
        Error::Conflict {
            method: Method::Upnp,
            protocol: Protocol::Tcp,
            external_port: 8080,
            holder: Some(holder),
        } => {
            assert_eq!(holder.internal.to_string(), "192.168.77.20:8080");
            assert_eq!(holder.description, "nas");
        }
        other => panic!("expected a conflict naming the holder, got {other:?}"),
    }
    assert!(err.to_string().contains("192.168.77.20:8080"), "{err}");
}

#[test]
fn no_gateway_daemon_is_reported_within_the_deadline() {
    let Some(tb) = testbed(
        "no_gateway_daemon_is_reported_within_the_deadline",
        GatewayConfig::no_daemon(),
    ) else {
        return;
    };
    let budget = Duration::from_millis(800);
    let (err, took) = tb.lan().block_on(|| async {
        let mut options = UpnpOptions::default();
        options.discovery_timeout = budget;
        let t = Instant::now();
        let err = Upnp::discover_with(options).await.unwrap_err();
        (err, t.elapsed())
    });
    assert!(
        matches!(
            err,
            Error::NoGateway {
                method: Some(Method::Upnp),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("192.168.77.1:1900"), "{err}");
    // Correctness, not speed: pfwd gives up at its deadline, not igd-next's 10 s.
    assert!(took < budget + Duration::from_secs(1), "took {took:?}");
}

#[test]
fn a_host_outside_the_lan_is_rejected_before_anything_is_sent() {
    let Some(tb) = testbed(
        "a_host_outside_the_lan_is_rejected_before_anything_is_sent",
        GatewayConfig::upnp_only(),
    ) else {
        return;
    };
    let (err, listed) = tb.lan().block_on(|| async {
        let upnp = Upnp::discover().await.unwrap();
        let r = MappingRequest::builder(Protocol::Tcp, 8080)
            .internal_ip(Ipv4Addr::new(10, 9, 9, 9))
            .build()
            .unwrap();
        (upnp.map(&r).await.unwrap_err(), upnp.list().await.unwrap())
    });
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    assert!(
        err.to_string().contains("10.9.9.9") && err.to_string().contains(LAN_NET),
        "{err}"
    );
    assert!(listed.is_empty());
}

#[test]
fn an_explicit_gateway_without_multicast_works() {
    let Some(tb) = testbed(
        "an_explicit_gateway_without_multicast_works",
        GatewayConfig::upnp_only(),
    ) else {
        return;
    };
    let mapping = tb.lan().block_on(|| async {
        let mut options = UpnpOptions::default();
        options.gateway = Some(GatewayInfo::for_gateway(GATEWAY_LAN).unwrap());
        options.multicast = false;
        let upnp = Upnp::discover_with(options).await.unwrap();
        upnp.map(&request(Protocol::Udp, 51820)).await.unwrap()
    });
    assert!(reaches(&tb, Protocol::Udp, 51820, 51820));
    assert_eq!(mapping.gateway(), GATEWAY_LAN);
}

/// The example a newcomer copies (pfwd-core/examples/forward_port.rs), run
/// as a program on the LAN host. `cargo test` builds examples first.
#[test]
fn the_rust_example_forwards_a_port() {
    let Some(tb) = testbed("the_rust_example_forwards_a_port", GatewayConfig::all_on()) else {
        return;
    };
    let lan_host = LAN_HOST.to_string();
    let mut example = tb.start_example("forward_port", &["8081", &lan_host, "3"]);
    let first = example.line();
    assert!(first.starts_with("mapped: TCP 5.5.5.7:8081"), "{first}");
    assert!(
        reaches(&tb, Protocol::Tcp, 8081, 8081),
        "bytes did not arrive while the example held the mapping"
    );
    let (status, rest) = example.finish();
    assert!(
        status.success() && rest.contains("unmapped"),
        "{status}: {rest}"
    );
    assert!(!reaches(&tb, Protocol::Tcp, 8081, 8081));
}

/// The gateway's descriptions remembered between processes
/// (`UpnpOptions::cache_dir`): the next discovery uses the remembered
/// service even when the router's SSDP answers are dropped (proof that it
/// did not need the search), and a stale or damaged memory is searched past.
#[test]
fn a_remembered_gateway_needs_no_search_and_a_stale_one_is_searched_past() {
    let Some(tb) = testbed(
        "a_remembered_gateway_needs_no_search_and_a_stale_one_is_searched_past",
        GatewayConfig::upnp_only(),
    ) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("pfwd-upnp-memory-{}", tb.namespaces()[0]));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join(format!("gateway-{GATEWAY_LAN}.upnp"));
    let options = || {
        let mut o = UpnpOptions::default();
        o.cache_dir = Some(dir.clone());
        o.discovery_timeout = Duration::from_millis(800);
        o
    };
    let discover = |o: UpnpOptions| tb.lan().block_on(|| async { Upnp::discover_with(o).await });

    // First sight: found by the search, and remembered.
    discover(options()).unwrap();
    let remembered = std::fs::read(&file).unwrap();
    assert!(remembered.starts_with(b"pfwd upnp 1\nhttp://192.168.77.1:"));

    // The router's SSDP answers dropped: only the memory can find it.
    tb.nft_apply(
        "table inet nossdp {\n chain input {\n  type filter hook input priority -10; policy accept;\n  udp dport 1900 drop\n }\n}\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let upnp = discover(options()).unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    let mapping = tb
        .lan()
        .block_on(|| async { upnp.map(&request(Protocol::Tcp, 8080)).await })
        .unwrap();
    assert!(
        reaches(&tb, Protocol::Tcp, 8080, 8080),
        "bytes did not arrive"
    );
    tb.lan()
        .block_on(|| async { upnp.unmap(&mapping).await })
        .unwrap();
    // Without the memory, the same router cannot be found.
    std::fs::remove_file(&file).unwrap();
    let err = discover(options()).unwrap_err();
    assert!(matches!(err, Error::NoGateway { .. }), "{err:?}");
    tb.gw()
        .exec("nft", &["delete", "table", "inet", "nossdp"])
        .unwrap();

    // Stale (the router's HTTP port moved, as miniupnpd's does on a restart
    // unless fixed): searched past, and the memory is corrected.
    let stale = String::from_utf8_lossy(&remembered).replacen(":5000/", ":5999/", 1);
    std::fs::write(&file, stale.as_bytes()).unwrap();
    discover(options()).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), remembered);
    // Damaged: ignored, never a panic, and rewritten.
    std::fs::write(
        &file,
        b"pfwd upnp 1\nhttp://192.168.77.1:5000/rootDesc.xml\n99 1\n<",
    )
    .unwrap();
    discover(options()).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), remembered);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A gateway that answers SSDP only by multicast (its unicast searches
/// dropped, as some UPnP stacks ignore them): found by the multicast
/// search, and the mapping carries bytes.
#[test]
fn a_gateway_that_answers_only_multicast_searches_is_found() {
    let Some(tb) = testbed(
        "a_gateway_that_answers_only_multicast_searches_is_found",
        GatewayConfig::upnp_only(),
    ) else {
        return;
    };
    tb.nft_apply(&format!(
        "table inet nounicast {{\n chain input {{\n  type filter hook input priority -10; policy accept;\n  ip daddr {GATEWAY_LAN} udp dport 1900 drop\n }}\n}}\n"
    ))
    .unwrap();
    let mapping = tb.lan().block_on(|| async {
        let upnp = Upnp::discover().await.unwrap();
        upnp.map(&request(Protocol::Tcp, 8080)).await.unwrap()
    });
    assert_eq!(mapping.method(), Method::Upnp);
    assert!(
        reaches(&tb, Protocol::Tcp, 8080, 8080),
        "bytes did not arrive"
    );
    // Unicast only: the same router stays silent.
    let err = tb.lan().block_on(|| async {
        let mut options = UpnpOptions::default();
        options.multicast = false;
        options.discovery_timeout = Duration::from_millis(600);
        Upnp::discover_with(options).await.unwrap_err()
    });
    assert!(matches!(err, Error::NoGateway { .. }), "{err:?}");
}
