//! Double NAT: the router behind a carrier-grade NAT. miniupnpd on the
//! router grants mappings, and they work up to the router's WAN address
//! (100.64.0.2, from the carrier's namespace), but nothing sent from the
//! internet to the carrier's public address arrives: what a check from
//! outside must reveal.
//!
//! What miniupnpd 2.3.1 (Debian's) does behind the carrier, found here:
//! with the WAN address 100.64.0.2 alone it grants nothing and reports no
//! external address; told `ext_ip=5.5.5.7` (the carrier's public address)
//! it grants everything and reports 5.5.5.7. It cannot report 100.64.0.2:
//! `ext_ip=100.64.0.2` stops it at start ("reserved / private address") and
//! `ext_allow_private_ipv4` only exists from 2.3.9 on.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use pfwd_core::wire::{natpmp, pcp};
use pfwd_core::{
    Client, Error, Forwarder, GatewayCode, MappingRequest, Method, NatPmp, Pcp, Protocol, Upnp,
    UpnpCode,
};
use pfwd_testbed::{
    CARRIER_PUBLIC_IP, CARRIER_ROUTER_IP, EXTERNAL_IP, GatewayConfig, Testbed, Topology, can_run,
    carrier_testbed, reaches, reaches_at, reaches_from_carrier, source_seen_in_wan,
};

fn request(protocol: Protocol, port: u16) -> MappingRequest {
    MappingRequest::builder(protocol, port)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap()
}

#[test]
fn behind_a_carrier_a_mapping_reaches_the_router_but_not_the_internet() {
    let Some(tb) = carrier_testbed(
        "behind_a_carrier_a_mapping_reaches_the_router_but_not_the_internet",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    assert_eq!(tb.router_wan_address(), CARRIER_ROUTER_IP);
    let (discovery, tcp, udp, pcp, natpmp, upnp) = tb.lan().block_on(|| async {
        let client = Client::discover().await.unwrap();
        let tcp = client.map(&request(Protocol::Tcp, 8080)).await.unwrap();
        let udp = client.map(&request(Protocol::Udp, 5353)).await.unwrap();
        let pcp = Pcp::discover()
            .await
            .unwrap()
            .external_address()
            .await
            .unwrap();
        let natpmp = NatPmp::discover()
            .await
            .unwrap()
            .external_address()
            .await
            .unwrap();
        let upnp = Upnp::discover()
            .await
            .unwrap()
            .external_address()
            .await
            .unwrap();
        (client.discovery(), tcp, udp, pcp, natpmp, upnp)
    });

    // The router reports the address it was told (ext_ip=5.5.5.7), by every
    // method: a client sees a public address and no reason to worry.
    assert_eq!(
        [pcp, natpmp, upnp],
        [EXTERNAL_IP; 3],
        "PCP, NAT-PMP, UPnP external addresses"
    );
    assert_eq!(discovery.external_address, Some(EXTERNAL_IP));
    assert!(discovery.warnings.is_empty(), "{:?}", discovery.warnings);
    let natpmpc = tb.lan().command("natpmpc").output().unwrap();
    let text = String::from_utf8_lossy(&natpmpc.stdout);
    assert!(text.contains("Public IP address : 5.5.5.7"), "{text}");
    for m in [&tcp, &udp] {
        assert_eq!(m.method(), Method::Pcp, "{m}");
        assert_eq!(m.external().ip(), EXTERNAL_IP, "{m}");
    }

    // The router's mapping works: from the carrier, at the router's WAN address...
    assert!(
        reaches_from_carrier(&tb, Protocol::Tcp, tcp.external().port(), 8080),
        "TCP from the carrier to {CARRIER_ROUTER_IP}:{} did not arrive",
        tcp.external().port()
    );
    assert!(
        reaches_from_carrier(&tb, Protocol::Udp, udp.external().port(), 5353),
        "UDP from the carrier to {CARRIER_ROUTER_IP}:{} did not arrive",
        udp.external().port()
    );
    // ...and the internet cannot use it: the carrier forwards nothing inbound.
    assert!(
        !reaches(&tb, Protocol::Tcp, tcp.external().port(), 8080),
        "TCP from the internet arrived through the carrier"
    );
    assert!(
        !reaches(&tb, Protocol::Udp, udp.external().port(), 5353),
        "UDP from the internet arrived through the carrier"
    );
    // Nor at the carrier's own public address.
    assert!(
        !reaches_at(
            &tb,
            tb.wan(),
            CARRIER_PUBLIC_IP,
            Protocol::Tcp,
            tcp.external().port(),
            8080
        ),
        "TCP from the internet to the carrier's address arrived"
    );

    // Outbound, the internet sees the LAN as the carrier's public address.
    let seen = source_seen_in_wan(&tb, 9000).expect("no connection from the LAN arrived");
    assert_eq!(seen.ip(), std::net::IpAddr::V4(CARRIER_PUBLIC_IP), "{seen}");

    // Teardown: all four namespaces and the daemon go with the testbed.
    let names: Vec<String> = tb.namespaces().iter().map(|s| s.to_string()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names[2], tb.carrier().unwrap().name());
    let pid = tb.daemon_pid().unwrap();
    drop(tb);
    let list = pfwd_testbed::netns::listed();
    for n in &names {
        assert!(!list.contains(n.as_str()), "{n} survived teardown: {list}");
    }
    assert!(
        !pfwd_testbed::netns::process_alive(pid),
        "miniupnpd {pid} survived teardown"
    );
}

/// Without `ext_ip`, miniupnpd 2.3.1 sees its reserved WAN address, logs
/// "Port forwarding is impossible", and refuses by every method: what a
/// client meets on a stock router behind a carrier-grade NAT.
#[test]
fn behind_a_carrier_without_ext_ip_miniupnpd_grants_nothing() {
    let test = "behind_a_carrier_without_ext_ip_miniupnpd_grants_nothing";
    if !can_run(test) {
        return;
    }
    let tb = Testbed::with_topology(
        GatewayConfig::all_on(),
        Topology::BehindCarrier { ext_ip: None },
    )
    .unwrap_or_else(|e| panic!("building the carrier testbed for {test}: {e}"));
    let (pcp_map, natpmp, upnp_address, upnp_map) = tb.lan().block_on(|| async {
        let pcp_map = Pcp::discover()
            .await
            .unwrap()
            .map(&request(Protocol::Tcp, 8080))
            .await
            .unwrap_err();
        let natpmp = NatPmp::discover().await.err();
        let upnp = Upnp::discover().await.unwrap();
        let address = upnp.external_address().await;
        let map = upnp.map(&request(Protocol::Tcp, 8081)).await.unwrap_err();
        (pcp_map, natpmp, address, map)
    });
    let log = tb.daemon_log();
    assert!(
        log.contains("Reserved / private IP address 100.64.0.2 on ext interface gwwan: Port forwarding is impossible"),
        "{log}"
    );
    // PCP: the MAP is refused with NO_RESOURCES.
    assert!(
        matches!(
            pcp_map,
            Error::Refused {
                code: GatewayCode::Pcp(pcp::ResultCode::NoResources),
                ..
            }
        ),
        "{pcp_map:?}"
    );
    // NAT-PMP: the public address request fails with NETWORK_FAILURE.
    assert!(
        matches!(
            natpmp,
            Some(Error::Refused {
                code: GatewayCode::NatPmp(natpmp::ResultCode::NetworkFailure),
                ..
            })
        ),
        "{natpmp:?}"
    );
    // UPnP: GetExternalIPAddress answers an empty string (the daemon says
    // why in its log) and AddPortMapping fails with 501.
    assert!(upnp_address.is_err(), "{upnp_address:?}");
    assert!(
        log.contains("private/reserved address 100.64.0.2 is not suitable for external IP"),
        "{log}"
    );
    assert!(
        matches!(
            upnp_map,
            Error::Refused {
                code: GatewayCode::Upnp(UpnpCode(501)),
                ..
            }
        ),
        "{upnp_map:?}"
    );
    let rules = tb.ruleset();
    assert!(!rules.contains("dnat"), "a mapping was made:\n{rules}");
}
