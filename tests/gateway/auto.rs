//! The automatic client against the real miniupnpd: the best method wins,
//! and when none can map, the guide comes back, quickly, with the reasons.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use pfwd_core::guide::WarningKind;
use pfwd_core::{Client, ClientOptions, Error, MappingRequest, Method, Probe, Protocol, forward};
use pfwd_testbed::{EXTERNAL_IP, GATEWAY_LAN, GatewayConfig, LAN_HOST, LAN_NET, reaches, testbed};

fn request(port: u16) -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, port)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap()
}

fn probe_of(c: &Client, m: Method) -> Probe {
    c.discovery()
        .methods
        .into_iter()
        .find(|s| s.method == m)
        .unwrap()
        .probe
}

#[test]
fn with_everything_on_pcp_wins_without_waiting_for_upnp() {
    let Some(tb) = testbed(
        "with_everything_on_pcp_wins_without_waiting_for_upnp",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    let (mapping, discovery, upnp) = tb.lan().block_on(|| async {
        let client = Client::discover().await.unwrap();
        let upnp = probe_of(&client, Method::Upnp);
        let m = client.map(&request(8080)).await.unwrap();
        (m, client.discovery(), upnp)
    });
    assert_eq!(discovery.best(), Some(Method::Pcp));
    assert_eq!(
        upnp,
        Probe::NotWaited,
        "UPnP (slower) was waited for: {discovery:?}"
    );
    assert_eq!(discovery.external_address, Some(EXTERNAL_IP));
    assert!(discovery.warnings.is_empty());
    assert_eq!(
        discovery.gateway.as_ref().map(|g| g.gateway),
        Some(GATEWAY_LAN)
    );
    assert_eq!(mapping.method(), Method::Pcp);
    assert!(reaches(&tb, Protocol::Tcp, mapping.external().port(), 8080));
}

#[test]
fn wait_for_all_reports_every_method() {
    let Some(tb) = testbed("wait_for_all_reports_every_method", GatewayConfig::all_on()) else {
        return;
    };
    let d = tb.lan().block_on(|| async {
        let mut o = ClientOptions::default();
        o.wait_for_all = true;
        Client::discover_with(o).await.unwrap().discovery()
    });
    assert_eq!(
        d.answered(),
        [Method::Pcp, Method::NatPmp, Method::Upnp],
        "{d:?}"
    );
    assert!(d.methods.iter().all(|s| s.took_ms.is_some()));
}

#[test]
fn with_upnp_only_upnp_maps() {
    let Some(tb) = testbed("with_upnp_only_upnp_maps", GatewayConfig::upnp_only()) else {
        return;
    };
    let (m, d) = tb.lan().block_on(|| async {
        let (client, m) = forward(&request(8080)).await.unwrap();
        (m, client.discovery())
    });
    assert_eq!(m.method(), Method::Upnp);
    assert!(
        matches!(probe_of_d(&d, Method::Pcp), Probe::Failed(_)),
        "{d:?}"
    );
    assert!(reaches(&tb, Protocol::Tcp, 8080, 8080));
}

fn probe_of_d(d: &pfwd_core::Discovery, m: Method) -> Probe {
    d.methods
        .iter()
        .find(|s| s.method == m)
        .unwrap()
        .probe
        .clone()
}

#[test]
fn with_natpmp_and_pcp_only_pcp_maps_and_unmaps() {
    let Some(tb) = testbed(
        "with_natpmp_and_pcp_only_pcp_maps_and_unmaps",
        GatewayConfig::natpmp_only(),
    ) else {
        return;
    };
    let m = tb
        .lan()
        .block_on(|| async { forward(&request(8080)).await.unwrap().1 });
    assert_eq!(m.method(), Method::Pcp);
    assert!(reaches(&tb, Protocol::Tcp, m.external().port(), 8080));
    tb.lan().block_on(|| async {
        let client = Client::discover().await.unwrap();
        let renewed = client.map(&m.renewal()).await.unwrap();
        assert_eq!(renewed.external(), m.external());
        client.unmap(&renewed).await.unwrap();
    });
    assert!(!reaches(&tb, Protocol::Tcp, m.external().port(), 8080));
}

#[test]
fn methods_can_be_forced_or_excluded() {
    let Some(tb) = testbed("methods_can_be_forced_or_excluded", GatewayConfig::all_on()) else {
        return;
    };
    let (forced, excluded, upnp) = tb.lan().block_on(|| async {
        let mut o = ClientOptions::default();
        o.only = vec![Method::NatPmp];
        let forced = Client::discover_with(o).await.unwrap();
        let f = forced.map(&request(8081)).await.unwrap();
        let mut o = ClientOptions::default();
        o.exclude = vec![Method::Pcp, Method::NatPmp];
        let excluded = Client::discover_with(o).await.unwrap();
        let e = excluded.map(&request(8082)).await.unwrap();
        (f, e, probe_of(&forced, Method::Upnp))
    });
    assert_eq!(forced.method(), Method::NatPmp);
    assert_eq!(excluded.method(), Method::Upnp);
    assert_eq!(upnp, Probe::Skipped);
    assert!(reaches(&tb, Protocol::Tcp, forced.external().port(), 8081));
    assert!(reaches(
        &tb,
        Protocol::Tcp,
        excluded.external().port(),
        8082
    ));
}

#[test]
fn with_no_daemon_the_guide_comes_back_within_the_budget() {
    let Some(tb) = testbed(
        "with_no_daemon_the_guide_comes_back_within_the_budget",
        GatewayConfig::no_daemon(),
    ) else {
        return;
    };
    let budget = ClientOptions::default().budget;
    let (err, took) = tb.lan().block_on(|| async {
        let t = Instant::now();
        let e = forward(&request(8080)).await.unwrap_err();
        (e, t.elapsed())
    });
    let Error::Manual { instructions: i } = &err else {
        panic!("expected the guide, got {err:?}")
    };
    assert_eq!(
        i.rule_lines(),
        [format!("TCP port 8080 -> {LAN_HOST}:8080")]
    );
    assert_eq!(i.router.address, Some(GATEWAY_LAN.into()));
    assert_eq!(i.router.admin_urls[0], "http://192.168.77.1/");
    let methods: Vec<_> = i.reasons.iter().map(|r| r.method).collect();
    assert_eq!(
        methods,
        [Some(Method::Pcp), Some(Method::NatPmp), Some(Method::Upnp)],
        "{:?}",
        i.reasons
    );
    assert!(
        i.warnings
            .iter()
            .any(|w| w.kind == WarningKind::UnknownExternalAddress)
    );
    // Correctness, not speed: the guide comes at the budget, not after RFC timeouts.
    assert!(took < budget + Duration::from_millis(700), "took {took:?}");
}

#[test]
fn a_refused_port_gets_a_guide_naming_the_router_and_the_refusal() {
    let mut config = GatewayConfig::upnp_only();
    config.rules = vec![format!("allow 1024-65535 {LAN_NET} 1-65535")];
    config.extra = vec![
        "manufacturer_name=TP-Link".into(),
        "model_name=Archer C7".into(),
        "model_number=5.0".into(),
    ];
    let Some(tb) = testbed(
        "a_refused_port_gets_a_guide_naming_the_router_and_the_refusal",
        config,
    ) else {
        return;
    };
    let err = tb
        .lan()
        .block_on(|| async { forward(&request(80)).await.unwrap_err() });
    let Error::Manual { instructions: i } = &err else {
        panic!("expected the guide, got {err:?}")
    };
    let upnp = i
        .reasons
        .iter()
        .find(|r| r.method == Some(Method::Upnp))
        .unwrap();
    assert_eq!(
        upnp.code.as_deref(),
        Some("UPnP error 606 ActionNotAuthorized"),
        "{upnp:?}"
    );
    let router = i.router.router.as_ref().expect("the description was read");
    assert_eq!(
        router.display_name().as_deref(),
        Some("TP-Link Archer C7 5.0"),
        "{router:?}"
    );
    assert_eq!(i.router.vendor, "TP-Link");
    let text = i.to_text();
    assert!(
        text.contains("Advanced > NAT Forwarding > Virtual Servers"),
        "{text}"
    );
    assert!(text.contains("Internal IP: 192.168.77.10"), "{text}");
    assert!(text.contains("5.5.5.7"), "{text}");
    assert!(err.to_string().contains("606"), "{err}");
}

/// The fast "no" and the silent router (issue 16): a router whose daemon
/// is off answers with ICMP port unreachable, and every reason in the
/// guide says it refused; a router that drops the packets silently gets
/// the guide at the budget, its reasons saying nothing answered, without
/// the extra wait for a late PCP answer that only a router that spoke gets.
#[test]
fn a_router_with_its_ports_closed_refuses_and_a_silent_one_does_not() {
    let Some(tb) = testbed(
        "a_router_with_its_ports_closed_refuses_and_a_silent_one_does_not",
        GatewayConfig::no_daemon(),
    ) else {
        return;
    };
    let reasons = |tb: &pfwd_testbed::Testbed| {
        tb.lan().block_on(|| async {
            let t = Instant::now();
            let e = forward(&request(8080)).await.unwrap_err();
            let took = t.elapsed();
            let Error::Manual { instructions } = e else {
                panic!("expected the guide, got {e:?}")
            };
            let reasons: Vec<String> = instructions
                .reasons
                .iter()
                .map(|r| r.reason.clone())
                .collect();
            (reasons, took)
        })
    };
    let (closed, _) = reasons(&tb);
    assert_eq!(closed.len(), 3, "{closed:?}");
    for r in &closed {
        assert!(
            r.contains("the router refused the connection"),
            "{closed:?}"
        );
    }
    tb.drop_router_ports().unwrap();
    let (silent, took) = reasons(&tb);
    assert_eq!(silent.len(), 3, "{silent:?}");
    for r in &silent {
        assert!(!r.contains("refused"), "{silent:?}");
    }
    assert!(
        silent[0].contains("no answer") || silent[0].contains("did not answer"),
        "{silent:?}"
    );
    // Correctness, not speed: not the 2 s extra wait of a router that spoke.
    let budget = ClientOptions::default().budget;
    assert!(took < budget + Duration::from_millis(1200), "took {took:?}");
}
