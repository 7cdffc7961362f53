//! IPv6 pinholes through pfwd's automatic client and keeper, against the
//! real miniupnpd in the dual-stack testbed: PCP over IPv6, UPnP's
//! `WANIPv6FirewallControl`, renewals, deletion, a router restart, a host
//! with only a unique local address, and the guide when the router cannot
//! open one. A pinhole counts only when bytes from the wan namespace reach
//! the LAN host's listener over IPv6 (and stop once it is closed).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use pfwd_core::lease::{Event, Keeper, KeeperOptions};
use pfwd_core::{
    Client, ClientOptions, Error, Family, Ipv6Unavailable, MappingRequest, Method, MethodState,
    Probe, Protocol,
};
use pfwd_testbed::{
    GATEWAY_LAN6, GatewayConfig, LAN_HOST6, LAN_ULA6, dual_stack_testbed, reaches_v6,
};

fn pinhole_request(protocol: Protocol, port: u16) -> MappingRequest {
    MappingRequest::builder(protocol, port)
        .family(Family::Ipv6)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap()
}

fn upnp_only() -> GatewayConfig {
    GatewayConfig {
        natpmp: false,
        ..GatewayConfig::dual_stack()
    }
}

/// The LAN namespace, to drive one async body in (the client's sockets
/// live on that body's runtime, so a test keeps one body throughout).
fn lan_of(tb: &pfwd_testbed::Testbed) -> pfwd_testbed::netns::BorrowedNetns {
    pfwd_testbed::Netns::attach(tb.lan().name())
}

fn only_upnp() -> ClientOptions {
    let mut o = ClientOptions::default();
    o.only = vec![Method::Upnp];
    o
}

#[test]
fn pcp_opens_an_ipv6_pinhole_renews_it_and_closes_it() {
    let Some(tb) = dual_stack_testbed(
        "pcp_opens_an_ipv6_pinhole_renews_it_and_closes_it",
        GatewayConfig::dual_stack(),
    ) else {
        return;
    };
    assert!(
        !reaches_v6(&tb, Protocol::Tcp, 8080),
        "the router's firewall must drop inbound IPv6 before any pinhole"
    );
    lan_of(&tb).block_on(|| async {
        let client = Client::discover().await.unwrap();
        let m = client
            .map(&pinhole_request(Protocol::Tcp, 8080))
            .await
            .unwrap();
        assert_eq!(m.method(), Method::Pcp, "{m}");
        assert_eq!(m.family(), Family::Ipv6);
        let host = SocketAddr::new(IpAddr::V6(LAN_HOST6), 8080);
        assert_eq!((m.external(), m.internal()), (host, host), "{m}");
        assert_eq!(m.gateway(), IpAddr::V6(GATEWAY_LAN6));
        assert!(matches!(m.state(), MethodState::Pcp { .. }), "{m}");
        assert!(reaches_v6(&tb, Protocol::Tcp, 8080), "no bytes through {m}");

        // Closed before any renewal: gone.
        client.unmap(&m).await.unwrap();
        assert!(
            !reaches_v6(&tb, Protocol::Tcp, 8080),
            "the pinhole stayed open"
        );

        // Renewed (same nonce), it stays open...
        let m = client
            .map(&pinhole_request(Protocol::Tcp, 8081))
            .await
            .unwrap();
        let renewed = client.map(&m.renewal()).await.unwrap();
        assert_eq!(renewed.state(), m.state(), "the renewal keeps the nonce");
        assert!(reaches_v6(&tb, Protocol::Tcp, 8081));
        // ...and miniupnpd 2.3.1 then refuses to close it (it forgot the
        // nonce: the fixture in ipv6_fixtures.rs). pfwd says so, and cuts
        // its lease to the shortest the router grants (120 s here).
        let e = client.unmap(&renewed).await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains("before 2.3.6"), "{text}");
        assert!(text.contains("cut its lease to 120 s"), "{text}");
        let left = tb.pinholes();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].expires_in().unwrap() <= 120, "{left:?}");
    });
}

#[test]
fn miniupnpd_2_3_1_answers_pcp_over_ipv6_with_natpmp_switched_off() {
    let Some(tb) = dual_stack_testbed(
        "miniupnpd_2_3_1_answers_pcp_over_ipv6_with_natpmp_switched_off",
        upnp_only(),
    ) else {
        return;
    };
    lan_of(&tb).block_on(|| async {
        let client = Client::discover().await.unwrap();
        // Over IPv4, enable_natpmp=no closes port 5351...
        assert!(
            client.discovery().answered() == vec![Method::Upnp],
            "{:?}",
            client.discovery()
        );
        // ...but its IPv6 PCP socket is opened whatever the setting.
        let status = client.ipv6_status().await;
        assert_eq!(
            status.answering(),
            vec![Method::Pcp, Method::Upnp],
            "{status:?}"
        );
    });
}

#[test]
fn upnp_opens_a_pinhole_renews_it_reads_it_back_and_closes_it() {
    let Some(tb) = dual_stack_testbed(
        "upnp_opens_a_pinhole_renews_it_reads_it_back_and_closes_it",
        upnp_only(),
    ) else {
        return;
    };
    lan_of(&tb).block_on(|| async {
        let client = Client::discover_with(only_upnp()).await.unwrap();
        let m = client
            .map(&pinhole_request(Protocol::Udp, 51820))
            .await
            .unwrap();
        assert_eq!(m.method(), Method::Upnp, "{m}");
        let MethodState::UpnpPinhole { unique_id } = *m.state() else {
            panic!("not a UPnP pinhole: {m:?}");
        };
        let holes = tb.pinholes();
        assert!(holes.iter().any(|p| p.uid == Some(unique_id)), "{holes:?}");
        assert!(
            reaches_v6(&tb, Protocol::Udp, 51820),
            "no bytes through {m}"
        );

        // Renewed in place (UpdatePinhole), with the same UniqueID.
        let renewed = client.map(&m.renewal()).await.unwrap();
        assert_eq!(renewed.state(), m.state());
        assert_eq!(tb.pinholes().len(), 1, "{:?}", tb.pinholes());

        // The keeper's read-back sees it, and sees it go.
        let held = pfwd_core::Forwarder::presence(&client, &renewed)
            .await
            .unwrap();
        assert_eq!(held, pfwd_core::Presence::Held);
        client.unmap(&renewed).await.unwrap();
        assert!(
            !reaches_v6(&tb, Protocol::Udp, 51820),
            "the pinhole stayed open"
        );
        let gone = pfwd_core::Forwarder::presence(&client, &renewed)
            .await
            .unwrap();
        assert_eq!(gone, pfwd_core::Presence::Lost);
    });
}

#[test]
fn upnp_refuses_a_pinhole_below_1024_and_the_guide_says_how() {
    let Some(tb) = dual_stack_testbed(
        "upnp_refuses_a_pinhole_below_1024_and_the_guide_says_how",
        upnp_only(),
    ) else {
        return;
    };
    let e = lan_of(&tb).block_on(|| async {
        let client = Client::discover_with(only_upnp()).await.unwrap();
        client
            .map(&pinhole_request(Protocol::Tcp, 80))
            .await
            .unwrap_err()
    });
    let Error::Manual { instructions } = e else {
        panic!("expected the guide, got {e:?}");
    };
    let reasons: Vec<&str> = instructions
        .reasons
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("1024")),
        "the reason does not say why: {reasons:?}"
    );
    assert_eq!(instructions.family, Family::Ipv6);
    assert_eq!(
        instructions.rule_lines(),
        [format!("TCP port 80 -> [{LAN_HOST6}]:80")]
    );
    let text = instructions.to_text();
    assert!(text.contains("IPv6 firewall"), "{text}");
    assert!(text.contains("its own port space"), "{text}");
    assert!(!reaches_v6(&tb, Protocol::Tcp, 80));
}

#[test]
fn a_host_with_only_a_unique_local_address_is_told_so() {
    let Some(tb) = dual_stack_testbed(
        "a_host_with_only_a_unique_local_address_is_told_so",
        GatewayConfig::dual_stack(),
    ) else {
        return;
    };
    tb.lan_ula_only().unwrap();
    let (why, e, status) = lan_of(&tb).block_on(|| async {
        let client = Client::discover().await.unwrap();
        let why = client.ipv6_gateway().unwrap_err();
        let e = client
            .map(&pinhole_request(Protocol::Tcp, 8080))
            .await
            .unwrap_err();
        (why, e, client.ipv6_status().await)
    });
    assert!(
        matches!(&why, Ipv6Unavailable::NoGlobalAddress { ula, .. } if ula == &vec![LAN_ULA6]),
        "{why:?}"
    );
    let Error::Manual { instructions } = e else {
        panic!("expected the guide, got {e:?}");
    };
    let reason = &instructions.reasons[0].reason;
    assert!(reason.contains("no global IPv6 address"), "{reason}");
    assert!(reason.contains(&LAN_ULA6.to_string()), "{reason}");
    assert!(
        status.methods.is_empty() && status.unavailable.is_some(),
        "{status:?}"
    );
}

#[test]
fn the_keeper_restores_a_pinhole_after_a_router_restart() {
    let Some(mut tb) = dual_stack_testbed(
        "the_keeper_restores_a_pinhole_after_a_router_restart",
        GatewayConfig::dual_stack(),
    ) else {
        return;
    };
    let lan = lan_of(&tb);
    lan.block_on(|| async {
        let client = std::sync::Arc::new(Client::discover().await.unwrap());
        let mut options = KeeperOptions::default();
        options.check_interval = Some(Duration::from_millis(500));
        let ipv4 = MappingRequest::builder(Protocol::Tcp, 8443)
            .lease(Duration::from_secs(600))
            .build()
            .unwrap();
        let mut keeper = Keeper::start(
            client.clone(),
            [pinhole_request(Protocol::Tcp, 8443), ipv4],
            options,
        );
        let mut families = Vec::new();
        while families.len() < 2 {
            match keeper.next_event().await.unwrap() {
                Event::Mapped { mapping, .. } => families.push(mapping.family()),
                Event::Failed { error, .. } => panic!("{error}"),
                _ => {}
            }
        }
        families.sort();
        assert_eq!(families, [Family::Ipv4, Family::Ipv6]);
        assert!(reaches_v6(&tb, Protocol::Tcp, 8443));
        tb.restart_daemon().unwrap();
        assert!(
            !reaches_v6(&tb, Protocol::Tcp, 8443),
            "the restart kept the pinhole"
        );
        // The keeper refreshes PCP mappings at every check (500 ms here):
        // the refresh after the restart makes the pinhole again.
        let mut back = false;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if reaches_v6(&tb, Protocol::Tcp, 8443) {
                back = true;
                break;
            }
        }
        assert!(back, "no bytes through the pinhole 10 s after the restart");
        let restored = keeper
            .mappings()
            .into_iter()
            .map(|(_, m)| m)
            .find(|m| m.is_pinhole())
            .unwrap();
        assert_eq!(restored.method(), Method::Pcp);
        assert!(
            reaches_v6(&tb, Protocol::Tcp, 8443),
            "no bytes after the restore"
        );
        // Closing deletes both, except a pinhole that miniupnpd 2.3.1
        // renewed (its refresh at a check): that one it will not delete,
        // and pfwd reports it as left, with its lease cut short.
        let report = keeper.close().await;
        match &report.left[..] {
            [] => {
                assert_eq!(report.deleted_count(), 2, "{report:?}");
                assert!(!reaches_v6(&tb, Protocol::Tcp, 8443));
            }
            [(_, left, why)] => {
                assert_eq!(report.deleted_count(), 1, "{report:?}");
                assert!(left.is_pinhole(), "{left}");
                assert!(why.to_string().contains("cut its lease"), "{why}");
                assert!(tb.pinholes()[0].expires_in().unwrap() <= 120);
            }
            more => panic!("{more:?}"),
        }
        let status = client.ipv6_status().await;
        assert_eq!(status.methods[0].probe, Probe::Answered, "{status:?}");
    });
}
