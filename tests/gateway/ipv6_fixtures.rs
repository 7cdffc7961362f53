//! What miniupnpd 2.3.1 (Debian's `miniupnpd-nftables`) does with IPv6,
//! pinned as named fixtures against the real daemon in the dual-stack
//! testbed: UPnP IGDv2 pinholes (`WANIPv6FirewallControl:1`, through
//! pfwd's own SOAP client, `pfwd_core::backend::upnp::pinhole`) and PCP
//! MAP over IPv6 (hand-built packets). A newer miniupnpd shows up as a
//! failing test named after the behaviour that changed, not as a silent
//! change. A pinhole counts only when bytes from the wan namespace reach a
//! listener on the LAN host.
//!
//! Where the behaviour comes from, in miniupnpd 2.3.1's source
//! (`git show miniupnpd_2_3_1:miniupnpd/...` in the miniupnp repository):
//! `upnpsoap.c` (`PinholeVerification`, the pinhole actions),
//! `upnppinhole.c`, `netfilter_nft/nftpinhole.c` (the rules and their
//! `pinhole-UID ts-EXPIRY: DESCRIPTION` labels), `pcpserver.c`
//! (`CreatePCPMap_FW`, `DeletePCPMap`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::SocketAddrV6;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;
use pfwd_core::backend::upnp::pinhole::{self, Firewall, FirewallStatus};
use pfwd_testbed::{
    GATEWAY_LAN6, GatewayConfig, HTTP_PORT, LAN_HOST6, Testbed, dual_stack_testbed, reaches_v6,
};

/// miniupnpd's firewall control path (its description says so: the
/// description tests in pfwd-core read the captured one).
const CONTROL_PATH: &str = "/ctl/IP6FCtl";

/// The firewall control on the router's global LAN address, asked from
/// the LAN host's global address.
fn firewall() -> Firewall {
    Firewall::at(
        GATEWAY_LAN6,
        0,
        HTTP_PORT,
        CONTROL_PATH,
        LAN_HOST6,
        Duration::from_secs(3),
    )
}

/// The LAN host's `port` (on its global address).
fn on_host(port: u16) -> SocketAddrV6 {
    SocketAddrV6::new(LAN_HOST6, port, 0, 0)
}

/// AddPinhole from the LAN host, inside the lan namespace.
fn add(
    tb: &Testbed,
    fw: &Firewall,
    internal: SocketAddrV6,
    protocol: Protocol,
    lease: u64,
) -> pfwd_core::Result<u16> {
    let fw = fw.clone();
    tb.lan().block_on(move || async move {
        pinhole::add_pinhole(&fw, internal, protocol, Duration::from_secs(lease)).await
    })
}

/// Run one pinhole call (`call(firewall)`) inside the lan namespace.
fn ask<T: Send, F: std::future::Future<Output = T>>(
    tb: &Testbed,
    fw: &Firewall,
    call: impl FnOnce(Firewall) -> F + Send,
) -> T {
    let fw = fw.clone();
    tb.lan().block_on(move || call(fw))
}

#[test]
fn miniupnpd_2_3_1_opens_a_pinhole_that_lets_bytes_in_and_deletes_it() {
    let Some(tb) = dual_stack_testbed(
        "miniupnpd_2_3_1_opens_a_pinhole_that_lets_bytes_in_and_deletes_it",
        GatewayConfig::dual_stack(),
    ) else {
        return;
    };
    let fw = firewall();
    let status = ask(
        &tb,
        &fw,
        |fw| async move { pinhole::firewall_status(&fw).await },
    )
    .unwrap();
    assert_eq!(
        status,
        FirewallStatus {
            enabled: true,
            inbound_allowed: true
        }
    );
    assert!(
        !reaches_v6(&tb, Protocol::Tcp, 8080),
        "the firewall lets TCP 8080 in before any pinhole"
    );
    assert!(
        !reaches_v6(&tb, Protocol::Udp, 5353),
        "the firewall lets UDP 5353 in before any pinhole"
    );
    let started = Instant::now();
    let tcp = add(&tb, &fw, on_host(8080), Protocol::Tcp, 600).unwrap();
    eprintln!(
        "AddPinhole answered in {} ms",
        started.elapsed().as_millis()
    );
    let udp = add(&tb, &fw, on_host(5353), Protocol::Udp, 600).unwrap();
    assert_ne!(tcp, udp);
    assert!(tb.pinholed(Protocol::Tcp, 8080), "{:?}", tb.pinholes());
    assert!(tb.pinholed(Protocol::Udp, 5353), "{:?}", tb.pinholes());
    let listed = tb.pinholes();
    let tcp_rule = listed.iter().find(|p| p.uid == Some(tcp)).unwrap();
    assert_eq!(tcp_rule.description.as_deref(), Some("IGD2 pinhole"));
    assert!(
        (595..=600).contains(&tcp_rule.expires_in().unwrap()),
        "{tcp_rule:?}"
    );
    assert!(
        reaches_v6(&tb, Protocol::Tcp, 8080),
        "no bytes through the TCP pinhole"
    );
    assert!(
        reaches_v6(&tb, Protocol::Udp, 5353),
        "no bytes through the UDP pinhole"
    );
    assert!(
        !reaches_v6(&tb, Protocol::Tcp, 8081),
        "a pinhole for 8080 lets 8081 in"
    );
    for id in [tcp, udp] {
        assert!(
            ask(&tb, &fw, move |fw| async move {
                pinhole::pinhole_held(&fw, id).await
            })
            .unwrap()
        );
        ask(&tb, &fw, move |fw| async move {
            pinhole::delete_pinhole(&fw, id).await
        })
        .unwrap();
    }
    assert!(tb.pinholes().is_empty(), "{:?}", tb.pinholes());
    assert!(
        !reaches_v6(&tb, Protocol::Tcp, 8080),
        "bytes through a deleted TCP pinhole"
    );
    assert!(
        !reaches_v6(&tb, Protocol::Udp, 5353),
        "bytes through a deleted UDP pinhole"
    );
}
