//! The automatic client against test doubles on loopback, for what
//! miniupnpd cannot show: a router behind carrier-grade NAT, and a UPnP
//! device that answers the search but never its HTTP requests.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod fakes;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use fakes::pmp::{Fake, natpmp_answer, pcp_answer};
use pfwd_core::guide::WarningKind;
use pfwd_core::wire::{natpmp, pcp};
use pfwd_core::{Client, ClientOptions, Error, GatewayInfo, MappingRequest, Method, Protocol};
use tokio::net::{TcpListener, UdpSocket};

/// Client options that talk only to loopback: no multicast, ever.
fn loopback_options(pmp_port: u16, ssdp_port: u16) -> ClientOptions {
    let mut o = ClientOptions::default();
    o.gateway = Some(GatewayInfo::for_gateway(Ipv4Addr::LOCALHOST).unwrap());
    o.pmp.server_port = pmp_port;
    o.upnp.ssdp_port = ssdp_port;
    o.upnp.multicast = false;
    o
}

/// A UDP port with nothing behind it.
fn closed_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The router granted a mapping late, and pfwd deleted it with its nonce.
fn assert_late_grant_deleted(fake: &Fake) {
    let maps = fake.pcp_maps();
    let (nonce, _) = maps.iter().find(|(_, lifetime)| *lifetime > 0).unwrap();
    assert!(
        maps.contains(&(*nonce, 0)),
        "no delete with the nonce after the late grant: {maps:?}"
    );
}

fn request() -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, 8080)
        .build()
        .unwrap()
}

#[tokio::test]
async fn carrier_grade_nat_is_reported_and_in_the_guide() {
    const CGNAT: Ipv4Addr = Ipv4Addr::new(100, 64, 12, 34);
    let fake = Fake::start(Box::new(|req: &[u8]| {
        let mut answer = match req[0] {
            pcp::VERSION => pcp_answer(req, 100, 8080),
            _ => natpmp_answer(req, 100),
        };
        // Report the provider's shared address instead of a public one.
        if let Some(b) = answer.as_mut() {
            match (b[0], b.len()) {
                (natpmp::VERSION, 12) => b[8..12].copy_from_slice(&CGNAT.octets()),
                (pcp::VERSION, 60) => b[44..60].copy_from_slice(&pcp::mapped(CGNAT).octets()),
                _ => {}
            }
        }
        answer.into_iter().collect()
    }))
    .await;
    let client = Client::discover_with(loopback_options(fake.port, closed_port()))
        .await
        .unwrap();
    let d = client.discovery();
    assert_eq!(d.best(), Some(Method::Pcp));
    assert_eq!(d.external_address, Some(CGNAT));
    assert_eq!(d.warnings.len(), 1);
    assert_eq!(d.warnings[0].kind, WarningKind::CarrierGradeNat);
    // The mapping is made (it is real on this router) ...
    let m = client.map(&request()).await.unwrap();
    assert_eq!(m.external().ip(), CGNAT);
    // ... and the guide says why it cannot be reached and what to do.
    let guide = client.instructions(&request()).await;
    assert!(!guide.forwarding_can_work());
    let text = guide.to_text();
    assert!(
        text.contains("carrier-grade NAT") && text.contains("public IPv4 address"),
        "{text}"
    );
}

#[tokio::test]
async fn a_silent_upnp_device_still_gets_the_guide_within_the_budget() {
    // SSDP answers, pointing at an HTTP server that accepts and never answers.
    let options = loopback_options(closed_port(), busy_upnp_device().await);
    let budget = options.budget;
    let started = Instant::now();
    let client = Client::discover_with(options).await.unwrap();
    let err = client.map(&request()).await.unwrap_err();
    let took = started.elapsed();
    let Error::Manual { instructions } = &err else {
        panic!("{err:?}")
    };
    let methods: Vec<_> = instructions.reasons.iter().map(|r| r.method).collect();
    assert_eq!(
        methods,
        [Some(Method::Pcp), Some(Method::NatPmp), Some(Method::Upnp)]
    );
    assert!(took < budget + Duration::from_millis(700), "took {took:?}");
}

#[tokio::test]
async fn only_manual_gives_the_guide_without_asking_anything() {
    let fake = Fake::start(Box::new(|req: &[u8]| {
        natpmp_answer(req, 100).into_iter().collect()
    }))
    .await;
    let mut o = loopback_options(fake.port, closed_port());
    o.only = vec![Method::Manual];
    let client = Client::discover_with(o).await.unwrap();
    assert!(matches!(
        client.map(&request()).await,
        Err(Error::Manual { .. })
    ));
    assert!(
        fake.requests().is_empty(),
        "a manual-only client sent requests"
    );
}

/// A router that speaks PCP and NAT-PMP and grants what is asked.
fn pcp_router() -> Box<fakes::pmp::Handler> {
    Box::new(|req: &[u8]| match req[0] {
        pcp::VERSION => pcp_answer(req, 100, 8080).into_iter().collect(),
        _ => natpmp_answer(req, 100).into_iter().collect(),
    })
}

/// A UDP socket standing in for SSDP that counts what reaches it.
async fn ssdp_counter() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while socket.recv_from(&mut buf).await.is_ok() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, count)
}

#[tokio::test]
async fn forward_on_a_pcp_router_is_one_request_and_no_ssdp() {
    let fake = Fake::start(pcp_router()).await;
    let (ssdp, searches) = ssdp_counter().await;
    let (client, m) = pfwd_core::forward_with(loopback_options(fake.port, ssdp), &request())
        .await
        .unwrap();
    assert_eq!(m.method(), Method::Pcp);
    assert_eq!(m.external().to_string(), "5.5.5.7:8080");
    // The mapping was PCP's probe: nothing else went to the router.
    let sent = fake.requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0][0], sent[0][1]), (pcp::VERSION, 1), "not a PCP MAP");
    // The external address came with the mapping.
    assert_eq!(
        client.discovery().external_address,
        Some(Ipv4Addr::new(5, 5, 5, 7))
    );
    // UPnP waited for PCP and was never searched for.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(searches.load(std::sync::atomic::Ordering::SeqCst), 0);
    client.unmap(&m).await.unwrap();
}

#[tokio::test]
async fn forward_on_a_natpmp_only_router_maps_over_natpmp() {
    let fake = Fake::start(Box::new(|req: &[u8]| match req[0] {
        pcp::VERSION => vec![fakes::pmp::natpmp_unsupported(req)],
        _ => natpmp_answer(req, 100).into_iter().collect(),
    }))
    .await;
    let (ssdp, searches) = ssdp_counter().await;
    let (client, m) = pfwd_core::forward_with(loopback_options(fake.port, ssdp), &request())
        .await
        .unwrap();
    assert_eq!(m.method(), Method::NatPmp);
    let d = client.discovery();
    assert_eq!(d.best(), Some(Method::NatPmp));
    assert_eq!(d.external_address, Some(Ipv4Addr::new(5, 5, 5, 7)));
    // One PCP MAP, then NAT-PMP did the work; no mapping was made twice.
    let maps = fake
        .requests()
        .iter()
        .filter(|r| r[0] == natpmp::VERSION && r[1] != 0)
        .count();
    assert_eq!(maps, 1, "{:?}", fake.requests());
    assert_eq!(searches.load(std::sync::atomic::Ordering::SeqCst), 0);
    client.unmap(&m).await.unwrap();
}

#[tokio::test]
async fn a_method_that_failed_is_probed_again_later() {
    // The router is still booting: nothing listens on its port 5351.
    let port = closed_port();
    let mut options = loopback_options(port, closed_port());
    options.only = vec![Method::Pcp, Method::NatPmp];
    options.retry_failed_after = Duration::from_millis(300);
    let client = Client::discover_with(options).await.unwrap();
    assert_eq!(client.discovery().best(), None);
    // It comes up.
    let _fake = Fake::start_on(port, pcp_router()).await;
    // Within the retry window the failures stand: the guide.
    let early = client.map(&request()).await;
    assert!(matches!(early, Err(Error::Manual { .. })), "{early:?}");
    // After it, PCP is probed again and maps.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let m = client.map(&request()).await.unwrap();
    assert_eq!(m.method(), Method::Pcp);
    assert_eq!(client.discovery().best(), Some(Method::Pcp));
}

/// One deadline for every method; a mapping granted after it is deleted,
/// so nothing stays on the router that nobody knows of. A method that
/// answered before and is slow now is a busy router: no other method is
/// tried (it would ask the same busy daemon).
#[tokio::test]
async fn a_mapping_granted_after_the_deadline_is_deleted() {
    let fake = Fake::slow_pcp(Duration::from_millis(400)).await;
    let mut options = loopback_options(fake.port, closed_port());
    options.only = vec![Method::Pcp];
    options.map_timeout = Duration::from_millis(150);
    let client = Client::discover_with(options).await.unwrap();
    assert_eq!(client.discovery().best(), Some(Method::Pcp));
    let t0 = Instant::now();
    let result = client.map(&request()).await;
    let took = t0.elapsed();
    // PCP answered its probe: a slow answer now is a busy router, said as
    // such (a timeout the caller retries), not a method to give up on.
    let Err(Error::Timeout { method, .. }) = result else {
        panic!("{result:?}")
    };
    assert_eq!(method, Method::Pcp);
    assert!(took < Duration::from_millis(350), "{took:?}");
    // The router grants it at 400 ms; pfwd deletes it with the same nonce.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_late_grant_deleted(&fake);
}

/// A UPnP device that answers the search, pointing at an HTTP server that
/// accepts and never answers: a router that is there, and busy. Returns
/// the SSDP port.
async fn busy_upnp_device() -> u16 {
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_port = http.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = http.accept().await {
            held.push(c);
        }
    });
    fakes::ssdp::responder(http_port).await
}

/// A busy router answers the map-first PCP request after the probe budget:
/// with nothing else to map by, pfwd waits a little longer and takes it,
/// instead of printing the guide and leaving the late grant behind. The
/// router has shown it is there (its SSDP answer).
#[tokio::test]
async fn a_late_pcp_answer_to_the_first_mapping_is_taken() {
    let fake = Fake::slow_pcp(Duration::from_millis(800)).await;
    let mut options = loopback_options(fake.port, busy_upnp_device().await);
    options.only = vec![Method::Pcp, Method::Upnp];
    let t0 = Instant::now();
    let (client, result) = Client::discover_and_map(options, &request()).await.unwrap();
    let took = t0.elapsed();
    let m = result.unwrap();
    assert_eq!(m.method(), Method::Pcp);
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
    // The client now knows PCP works: it can delete what it made.
    assert_eq!(client.discovery().best(), Some(Method::Pcp));
    client.unmap(&m).await.unwrap();
    let maps = fake.pcp_maps();
    assert!(maps.iter().any(|(_, lifetime)| *lifetime == 0), "{maps:?}");
}

/// A router where nothing answers at all (a firewall that drops what is
/// sent to its ports): the guide at the budget, not the extra wait for a
/// late PCP answer, which only a router that has spoken may give. A grant
/// that does come later is deleted.
#[tokio::test]
async fn a_silent_router_gets_the_guide_at_the_budget() {
    let fake = Fake::slow_router(Duration::from_millis(900)).await;
    let mut options = loopback_options(fake.port, closed_port());
    options.only = vec![Method::Pcp];
    let budget = options.budget;
    let t0 = Instant::now();
    let (_client, result) = Client::discover_and_map(options, &request()).await.unwrap();
    let took = t0.elapsed();
    assert!(matches!(result, Err(Error::Manual { .. })), "{result:?}");
    assert!(took >= budget, "{took:?}");
    assert!(took < Duration::from_millis(850), "{took:?}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_late_grant_deleted(&fake);
}

/// Later than the extra wait: the guide, and the late grant is deleted.
#[tokio::test]
async fn a_pcp_answer_later_than_the_extra_wait_is_deleted() {
    let fake = Fake::slow_pcp(Duration::from_millis(3000)).await;
    let mut options = loopback_options(fake.port, busy_upnp_device().await);
    options.only = vec![Method::Pcp, Method::Upnp];
    let t0 = Instant::now();
    let (_client, result) = Client::discover_and_map(options, &request()).await.unwrap();
    let took = t0.elapsed();
    assert!(matches!(result, Err(Error::Manual { .. })), "{result:?}");
    assert!(took < Duration::from_millis(2900), "{took:?}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_late_grant_deleted(&fake);
}
