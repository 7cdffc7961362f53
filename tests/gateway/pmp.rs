//! NAT-PMP and PCP against the real miniupnpd, in namespaces each test
//! builds and tears down. A mapping counts only when bytes from the wan side
//! arrive.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use pfwd_core::wire::epoch::EpochCheck;
use pfwd_core::wire::pcp;
use pfwd_core::{
    Error, Forwarder, GatewayCode, Lease, Mapping, MappingRequest, Method, MethodState, NatPmp,
    Pcp, PmpOptions, Protocol,
};
use pfwd_testbed::{EXTERNAL_IP, GatewayConfig, LAN_NET, Testbed, reaches, testbed};

fn request(protocol: Protocol, port: u16) -> MappingRequest {
    MappingRequest::builder(protocol, port)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap()
}

/// A request to forward to another LAN host (192.168.77.20), not this one.
fn for_another_host() -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, 8080)
        .internal_ip("192.168.77.20".parse::<std::net::Ipv4Addr>().unwrap())
        .build()
        .unwrap()
}

/// Map TCP and UDP with `forwarder`, prove bytes, renew, delete, prove they stop.
async fn map_both(f: &dyn Forwarder) -> (Mapping, Mapping) {
    let tcp = f.map(&request(Protocol::Tcp, 8080)).await.unwrap();
    let udp = f.map(&request(Protocol::Udp, 5353)).await.unwrap();
    (tcp, udp)
}

/// Makes a fresh forwarder inside the LAN namespace.
type MakeForwarder =
    fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Box<dyn Forwarder>>>>;

fn check_round_trip(tb: &Testbed, method: Method, make: MakeForwarder) {
    let (tcp, udp) = tb.lan().block_on(|| async {
        let f = make().await;
        assert_eq!(f.method(), method);
        assert_eq!(f.external_address().await.unwrap(), EXTERNAL_IP);
        map_both(f.as_ref()).await
    });
    for m in [&tcp, &udp] {
        assert_eq!(m.method(), method);
        assert_eq!(m.external().ip(), EXTERNAL_IP);
        assert_eq!(m.lease(), Lease::Finite(Duration::from_secs(600)), "{m}");
    }
    assert!(
        reaches(tb, Protocol::Tcp, tcp.external().port(), 8080),
        "{method}: TCP bytes did not arrive"
    );
    assert!(
        reaches(tb, Protocol::Udp, udp.external().port(), 5353),
        "{method}: UDP bytes did not arrive"
    );

    let (renewed, ()) = tb.lan().block_on(|| async {
        let f = make().await;
        let renewed = f.map(&tcp.renewal()).await.unwrap();
        f.unmap(&udp).await.unwrap();
        (renewed, ())
    });
    assert_eq!(
        renewed.external(),
        tcp.external(),
        "{method}: the renewal moved the port"
    );
    assert!(renewed.granted_at() > tcp.granted_at());
    assert!(
        reaches(tb, Protocol::Tcp, tcp.external().port(), 8080),
        "{method}: bytes stopped after renewal"
    );
    assert!(
        !reaches(tb, Protocol::Udp, udp.external().port(), 5353),
        "{method}: UDP bytes still arrive after delete"
    );

    tb.lan()
        .block_on(|| async { make().await.unmap(&renewed).await.unwrap() });
    assert!(
        !reaches(tb, Protocol::Tcp, tcp.external().port(), 8080),
        "{method}: TCP bytes still arrive after delete"
    );
}

#[test]
fn pcp_maps_renews_and_deletes() {
    let Some(tb) = testbed("pcp_maps_renews_and_deletes", GatewayConfig::natpmp_only()) else {
        return;
    };
    check_round_trip(&tb, Method::Pcp, || {
        Box::pin(async { Box::new(Pcp::discover().await.unwrap()) as Box<dyn Forwarder> })
    });
}

#[test]
fn natpmp_maps_renews_and_deletes() {
    let Some(tb) = testbed(
        "natpmp_maps_renews_and_deletes",
        GatewayConfig::natpmp_only(),
    ) else {
        return;
    };
    check_round_trip(&tb, Method::NatPmp, || {
        Box::pin(async { Box::new(NatPmp::discover().await.unwrap()) as Box<dyn Forwarder> })
    });
}

#[test]
fn pcp_keeps_the_nonce_and_a_foreign_nonce_cannot_delete() {
    let Some(tb) = testbed(
        "pcp_keeps_the_nonce_and_a_foreign_nonce_cannot_delete",
        GatewayConfig::natpmp_only(),
    ) else {
        return;
    };
    let (mapping, forged_err) = tb.lan().block_on(|| async {
        let pcp = Pcp::discover().await.unwrap();
        let m = pcp.map(&request(Protocol::Tcp, 8080)).await.unwrap();
        let MethodState::Pcp {
            nonce,
            epoch,
            generation,
        } = m.state().clone()
        else {
            panic!("{m:?}")
        };
        let renewed = pcp.map(&m.renewal()).await.unwrap();
        assert!(matches!(renewed.state(), MethodState::Pcp { nonce: n, .. } if *n == nonce));
        let mut other = nonce;
        other[0] ^= 0xff;
        let forged = Mapping::new(
            Method::Pcp,
            Protocol::Tcp,
            m.gateway(),
            m.external(),
            m.internal(),
            m.lease(),
            m.granted_at(),
            "",
            MethodState::Pcp {
                nonce: other,
                epoch,
                generation,
            },
        );
        (m, pcp.unmap(&forged).await.unwrap_err())
    });
    // Quirk (fixture "miniupnpd-2.3.1 delete with a foreign nonce"): NOT_AUTHORIZED.
    assert!(
        matches!(
            forged_err,
            Error::Refused {
                code: GatewayCode::Pcp(pcp::ResultCode::NotAuthorized),
                ..
            }
        ),
        "{forged_err:?}"
    );
    assert!(
        reaches(&tb, Protocol::Tcp, mapping.external().port(), 8080),
        "a foreign nonce deleted the mapping"
    );
}

#[test]
fn a_denied_exact_port_is_refused_or_undone() {
    let mut config = GatewayConfig::natpmp_only();
    // A typical router rule: no external port below 1024.
    config.rules = vec![format!("allow 1024-65535 {LAN_NET} 1-65535")];
    let Some(tb) = testbed("a_denied_exact_port_is_refused_or_undone", config) else {
        return;
    };
    let exact = || {
        MappingRequest::builder(Protocol::Tcp, 80)
            .exact_external_port(80)
            .build()
            .unwrap()
    };
    let (p, n) = tb.lan().block_on(|| async {
        // NAT-PMP: miniupnpd walks from port 80 up to an allowed one, which
        // takes it about a second (more under load): allow it 20 s.
        let mut o = PmpOptions::default();
        o.timeout = Duration::from_secs(20);
        let p = Pcp::discover_with(o.clone())
            .await
            .unwrap()
            .map(&exact())
            .await
            .unwrap_err();
        let n = NatPmp::discover_with(o)
            .await
            .unwrap()
            .map(&exact())
            .await
            .unwrap_err();
        (p, n)
    });
    // PCP asks with PREFER_FAILURE, and the gateway refuses with its code.
    assert!(
        matches!(
            p,
            Error::Refused {
                code: GatewayCode::Pcp(pcp::ResultCode::CannotProvideExternal),
                ..
            }
        ),
        "{p:?}"
    );
    assert!(p.to_string().contains("CANNOT_PROVIDE_EXTERNAL"), "{p}");
    // NAT-PMP cannot say "this port or nothing": the gateway granted another
    // port, pfwd deleted it again and reports the conflict.
    assert!(
        matches!(
            n,
            Error::Conflict {
                method: Method::NatPmp,
                external_port: 80,
                ..
            }
        ),
        "{n:?}"
    );
    let rules = tb.ruleset();
    assert!(
        !rules.contains("192.168.77.10:80"),
        "a moved mapping was left behind:\n{rules}"
    );
    assert!(!reaches(&tb, Protocol::Tcp, 80, 80));
}

/// Quirk fixture "miniupnpd-2.3.1 spins on a denied internal port": when
/// no external port may map to the internal port, miniupnpd's NAT-PMP and
/// PCP code loops forever looking for one (100 % CPU, no answer). pfwd must
/// give up at its budget with a timeout, not hang.
#[test]
fn quirk_a_denied_internal_port_wedges_the_gateway_and_pfwd_times_out() {
    let mut config = GatewayConfig::natpmp_only();
    config.rules = vec![format!("allow 1024-65535 {LAN_NET} 1024-65535")];
    let Some(mut tb) = testbed(
        "quirk_a_denied_internal_port_wedges_the_gateway_and_pfwd_times_out",
        config,
    ) else {
        return;
    };
    let budget = Duration::from_millis(1500);
    let (err, took) = tb.lan().block_on(|| async {
        let mut options = PmpOptions::default();
        options.timeout = budget;
        let pcp = Pcp::discover_with(options).await.unwrap();
        let t = std::time::Instant::now();
        (
            pcp.map(&request(Protocol::Tcp, 80)).await.unwrap_err(),
            t.elapsed(),
        )
    });
    // The wedged daemon burns a core: stop it before it slows other tests.
    tb.stop_daemon();
    assert!(
        matches!(
            err,
            Error::Timeout {
                method: Method::Pcp,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(took < budget + Duration::from_secs(1), "took {took:?}");
}

/// Quirk fixture "miniupnpd-2.3.1 moves a denied external port": where only
/// the external port is denied, PCP and NAT-PMP are not refused; the gateway
/// grants another, allowed external port. pfwd reports the port granted.
#[test]
fn quirk_a_denied_external_port_is_moved_not_refused() {
    let mut config = GatewayConfig::natpmp_only();
    config.rules = vec![format!("allow 1024-65535 {LAN_NET} 1-65535")];
    let Some(tb) = testbed("quirk_a_denied_external_port_is_moved_not_refused", config) else {
        return;
    };
    let (p, n, took) = tb.lan().block_on(|| async {
        // miniupnpd walks up from the denied port one by one, checking its
        // rules and the firewall for each (80 to 1024 here): that takes it
        // seconds, more under load, so this test allows it 20 s.
        let mut o = PmpOptions::default();
        o.timeout = Duration::from_secs(20);
        let t = std::time::Instant::now();
        let p = Pcp::discover_with(o.clone())
            .await
            .unwrap()
            .map(&request(Protocol::Tcp, 80))
            .await
            .unwrap();
        let took = t.elapsed();
        let n = NatPmp::discover_with(o)
            .await
            .unwrap()
            .map(&request(Protocol::Udp, 53))
            .await
            .unwrap();
        (p, n, took)
    });
    eprintln!(
        "miniupnpd took {took:?} to move TCP port 80 to {}",
        p.external().port()
    );
    for m in [&p, &n] {
        assert!(m.external().port() >= 1024, "{m}");
    }
    assert!(reaches(&tb, Protocol::Tcp, p.external().port(), 80));
    assert!(reaches(&tb, Protocol::Udp, n.external().port(), 53));
}

#[test]
fn granted_lifetime_comes_from_the_answer() {
    let mut config = GatewayConfig::natpmp_only();
    config.min_lifetime = Some(30);
    config.max_lifetime = Some(90);
    let Some(tb) = testbed("granted_lifetime_comes_from_the_answer", config) else {
        return;
    };
    let (long, short) = tb.lan().block_on(|| async {
        let pcp = Pcp::discover().await.unwrap();
        let long = pcp.map(&request(Protocol::Tcp, 8080)).await.unwrap();
        let short = pcp
            .map(
                &MappingRequest::builder(Protocol::Tcp, 8081)
                    .lease(Duration::from_secs(5))
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        (long, short)
    });
    assert_eq!(
        long.lease(),
        Lease::Finite(Duration::from_secs(90)),
        "max_lifetime clamps"
    );
    assert_eq!(
        short.lease(),
        Lease::Finite(Duration::from_secs(30)),
        "min_lifetime clamps"
    );
    assert_eq!(
        long.renew_after(),
        Some(long.granted_at() + Duration::from_secs(45))
    );
}

#[test]
fn a_gateway_restart_is_noticed_through_the_epoch() {
    let Some(mut tb) = testbed(
        "a_gateway_restart_is_noticed_through_the_epoch",
        GatewayConfig::natpmp_only(),
    ) else {
        return;
    };
    // One client per method kept across the restart, as a long-running program would.
    std::thread::scope(|s| {
        let (to_client, from_test) = std::sync::mpsc::channel::<()>();
        let (to_test, from_client) = std::sync::mpsc::channel::<(Mapping, Mapping)>();
        let lan = tb.lan().name().to_string();
        let client = s.spawn(move || {
            let ns = pfwd_testbed::Netns::attach(&lan);
            ns.block_on(move || async move {
                let pcp = Pcp::discover().await.unwrap();
                let pmp = NatPmp::discover().await.unwrap();
                let a = pcp.map(&request(Protocol::Tcp, 8080)).await.unwrap();
                let b = pmp.map(&request(Protocol::Udp, 5353)).await.unwrap();
                to_test.send((a.clone(), b.clone())).unwrap();
                // The epoch check tolerates 2 s of drift (RFC 6887 section 8.5),
                // so a restart is visible only once the old state had aged past
                // that: on a real router it has aged for days.
                tokio::time::sleep(Duration::from_millis(3500)).await;
                from_test.recv().unwrap(); // the gateway restarts now
                let pcp_check = pcp.check_epoch().await.unwrap();
                let pmp_check = pmp.check_epoch().await.unwrap();
                assert!(
                    matches!(pcp_check, EpochCheck::Restarted { .. }),
                    "PCP: {pcp_check:?}"
                );
                assert!(
                    matches!(pmp_check, EpochCheck::Restarted { .. }),
                    "NAT-PMP: {pmp_check:?}"
                );
                assert!(pcp.restarted_since(&a) && pmp.restarted_since(&b));
                // Repair: make them again.
                let a2 = pcp.map(&a.renewal()).await.unwrap();
                let b2 = pmp.map(&b.renewal()).await.unwrap();
                assert!(!pcp.restarted_since(&a2));
                to_test.send((a2, b2)).unwrap();
            });
        });
        let (a, b) = from_client.recv().unwrap();
        assert!(reaches(&tb, Protocol::Tcp, a.external().port(), 8080));
        assert!(reaches(&tb, Protocol::Udp, b.external().port(), 5353));
        std::thread::sleep(Duration::from_millis(3600));
        tb.restart_daemon().unwrap();
        assert!(
            !reaches(&tb, Protocol::Tcp, a.external().port(), 8080),
            "the restart kept the mapping"
        );
        to_client.send(()).unwrap();
        let (a2, b2) = from_client.recv().unwrap();
        assert!(reaches(&tb, Protocol::Tcp, a2.external().port(), 8080));
        assert!(reaches(&tb, Protocol::Udp, b2.external().port(), 5353));
        client.join().unwrap();
    });
}

#[test]
fn reference_clients_see_what_pfwd_made() {
    let Some(tb) = testbed(
        "reference_clients_see_what_pfwd_made",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    let (a, b) = tb.lan().block_on(|| async {
        let a = Pcp::discover()
            .await
            .unwrap()
            .map(&request(Protocol::Tcp, 8080))
            .await
            .unwrap();
        let b = NatPmp::discover()
            .await
            .unwrap()
            .map(&request(Protocol::Udp, 5353))
            .await
            .unwrap();
        (a, b)
    });
    let list = tb.upnpc(&["-l"]).unwrap();
    assert!(
        list.contains(&format!("TCP  {}->192.168.77.10:8080", a.external().port())),
        "{list}"
    );
    assert!(
        list.contains(&format!("UDP  {}->192.168.77.10:5353", b.external().port())),
        "{list}"
    );
    let natpmpc = tb.lan().command("natpmpc").output().unwrap();
    let text = String::from_utf8_lossy(&natpmpc.stdout);
    assert!(text.contains("Public IP address : 5.5.5.7"), "{text}");
}

#[test]
fn no_daemon_is_reported_at_once_for_both() {
    let Some(tb) = testbed(
        "no_daemon_is_reported_at_once_for_both",
        GatewayConfig::no_daemon(),
    ) else {
        return;
    };
    let (p, n, took) = tb.lan().block_on(|| async {
        let t = std::time::Instant::now();
        let p = Pcp::discover().await.unwrap_err();
        let n = NatPmp::discover().await.unwrap_err();
        (p, n, t.elapsed())
    });
    assert!(
        matches!(
            p,
            Error::NoGateway {
                method: Some(Method::Pcp),
                ..
            }
        ),
        "{p:?}"
    );
    assert!(
        matches!(
            n,
            Error::NoGateway {
                method: Some(Method::NatPmp),
                ..
            }
        ),
        "{n:?}"
    );
    assert!(p.to_string().contains("refused UDP port 5351"), "{p}");
    // The closed port is reported by the kernel, not after the 4 s budget.
    assert!(took < PmpOptions::default().timeout, "took {took:?}");
}

#[test]
fn natpmp_cannot_forward_to_another_host_and_says_so() {
    let Some(tb) = testbed(
        "natpmp_cannot_forward_to_another_host_and_says_so",
        GatewayConfig::natpmp_only(),
    ) else {
        return;
    };
    let err = tb.lan().block_on(|| async {
        let r = for_another_host();
        NatPmp::discover().await.unwrap().map(&r).await.unwrap_err()
    });
    assert!(
        matches!(
            err,
            Error::Unsupported {
                method: Method::NatPmp,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("192.168.77.20"), "{err}");
}

#[test]
fn pcp_third_party_is_refused_in_secure_mode() {
    let Some(tb) = testbed(
        "pcp_third_party_is_refused_in_secure_mode",
        GatewayConfig::natpmp_only(),
    ) else {
        return;
    };
    let err = tb.lan().block_on(|| async {
        let r = for_another_host();
        Pcp::discover().await.unwrap().map(&r).await.unwrap_err()
    });
    // miniupnpd refuses THIRD_PARTY as UNSUPP_OPTION: pfwd says that
    // forwarding to another host is unsupported, and what to do instead.
    match &err {
        Error::Unsupported {
            method: Method::Pcp,
            what,
            detail,
        } => {
            assert_eq!(what, "forwarding to another host (192.168.77.20)");
            assert!(detail.contains("UNSUPP_OPTION"), "{detail}");
            assert!(detail.contains("run pfwd on 192.168.77.20"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}
