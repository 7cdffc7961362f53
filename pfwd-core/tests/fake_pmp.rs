//! NAT-PMP and PCP edge cases miniupnpd cannot show, against an in-process
//! fake server on loopback: a NAT-PMP-only server (PCP falls back at once), a
//! PCP-only server, lost requests, stale and foreign answers, garbage, result
//! codes, a closed port, an epoch that jumps back. The real-router tests are
//! in `tests/gateway/pmp.rs`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pfwd_core::wire::epoch::EpochCheck;
use pfwd_core::wire::natpmp;
use pfwd_core::wire::pcp::{self, MapPayload, RequestBody, ResponseBody};
use pfwd_core::{Error, Forwarder, GatewayCode, MappingRequest, Method, NatPmp, Pcp, Protocol};

mod fakes;

use fakes::pmp::{EXTERNAL, Fake, natpmp_answer, natpmp_unsupported, options_for, pcp_answer};

fn request(port: u16) -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, port)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_natpmp_only_server_makes_pcp_fall_back_at_once() {
    let fake = Fake::start(Box::new(|req: &[u8]| match req[0] {
        pcp::VERSION => vec![natpmp_unsupported(req)],
        _ => natpmp_answer(req, 100).into_iter().collect(),
    }))
    .await;
    let started = Instant::now();
    let pcp = Pcp::discover_with(fake.options()).await.unwrap();
    assert!(pcp.speaks_natpmp_only());
    assert_eq!(pcp.method(), Method::NatPmp);
    let m = pcp.map(&request(8080)).await.unwrap();
    // No PCP retransmission wait (3 s) was spent: the fallback is immediate.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(m.method(), Method::NatPmp);
    assert_eq!(m.external().to_string(), "5.5.5.7:8080");
    pcp.unmap(&m).await.unwrap();
    let pcp_requests = fake
        .requests()
        .iter()
        .filter(|r| r[0] == pcp::VERSION)
        .count();
    assert_eq!(pcp_requests, 1, "only the first request was PCP");
}

#[tokio::test]
async fn a_pcp_only_server_is_unsupported_for_natpmp_and_works_for_pcp() {
    let fake = Fake::start(Box::new(|req: &[u8]| match req[0] {
        natpmp::VERSION => {
            // PCP's UNSUPP_VERSION, header only (RFC 6887 section 9).
            let mut b = vec![pcp::VERSION, 0x80 | req.get(1).copied().unwrap_or(0), 0, 1];
            b.extend_from_slice(&[0; 20]);
            vec![b]
        }
        _ => pcp_answer(req, 100, 40001).into_iter().collect(),
    }))
    .await;
    let err = NatPmp::discover_with(fake.options()).await.unwrap_err();
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
    let pcp = Pcp::discover_with(fake.options()).await.unwrap();
    assert!(!pcp.speaks_natpmp_only());
    // PCP tells the external address only with a mapping.
    assert!(matches!(
        pcp.external_address().await,
        Err(Error::Unsupported { .. })
    ));
    let m = pcp.map(&request(8080)).await.unwrap();
    assert_eq!(m.external().to_string(), "5.5.5.7:40001");
    assert_eq!(pcp.external_address().await.unwrap(), EXTERNAL);
}

#[tokio::test]
async fn lost_natpmp_requests_are_sent_again_on_the_rfc_schedule() {
    let maps = Arc::new(AtomicU32::new(0));
    let seen = maps.clone();
    let fake = Fake::start(Box::new(move |req: &[u8]| {
        if req.get(1) == Some(&natpmp::OP_MAP_TCP) && seen.fetch_add(1, Ordering::SeqCst) < 2 {
            return Vec::new(); // lost
        }
        natpmp_answer(req, 100).into_iter().collect()
    }))
    .await;
    let pmp = NatPmp::discover_with(fake.options()).await.unwrap();
    let started = Instant::now();
    let m = pmp.map(&request(8080)).await.unwrap();
    let took = started.elapsed();
    assert_eq!(
        maps.load(Ordering::SeqCst),
        3,
        "two lost, the third answered"
    );
    // Sent at 0, 250 and 750 ms (RFC 6886 section 3.1).
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(m.external().port(), 8080);
}

#[tokio::test]
async fn stale_and_foreign_pcp_answers_are_ignored() {
    let fake = Fake::start(Box::new(|req: &[u8]| {
        let Ok(r) = pcp::Request::decode(req) else {
            return Vec::new();
        };
        let RequestBody::Map(p) = r.body else {
            return pcp_answer(req, 100, 0).into_iter().collect();
        };
        let answer = |payload: MapPayload, lifetime: u32| {
            pcp::Response {
                result: pcp::ResultCode::Success,
                lifetime,
                epoch: 100,
                body: ResponseBody::Map(payload),
                options: Vec::new(),
            }
            .encode()
        };
        let ext = pcp::mapped(EXTERNAL);
        let mut wrong_nonce = p;
        wrong_nonce.nonce[0] ^= 1;
        vec![
            answer(
                MapPayload {
                    external_port: 1111,
                    external_ip: ext,
                    ..wrong_nonce
                },
                600,
            ),
            answer(
                MapPayload {
                    external_port: 1112,
                    external_ip: ext,
                    internal_port: p.internal_port + 1,
                    ..p
                },
                600,
            ),
            answer(
                MapPayload {
                    external_port: 1113,
                    external_ip: ext,
                    protocol: pcp::PROTO_UDP,
                    ..p
                },
                600,
            ),
            // A delete's answer (lifetime 0) cannot answer a create.
            answer(
                MapPayload {
                    external_port: 1114,
                    external_ip: ext,
                    ..p
                },
                0,
            ),
            // An ANNOUNCE answer and a NAT-PMP success are other opcodes.
            pcp_answer(
                &pcp::Request {
                    lifetime: 0,
                    client_ip: r.client_ip,
                    body: RequestBody::Announce,
                    options: vec![],
                }
                .encode(),
                100,
                0,
            )
            .unwrap(),
            natpmp_answer(&natpmp::Request::ExternalAddress.encode(), 100).unwrap(),
            answer(
                MapPayload {
                    external_port: 40002,
                    external_ip: ext,
                    ..p
                },
                600,
            ),
        ]
    }))
    .await;
    let pcp = Pcp::discover_with(fake.options()).await.unwrap();
    let m = pcp.map(&request(8080)).await.unwrap();
    assert_eq!(m.external().port(), 40002, "{m}");
}

#[tokio::test]
async fn garbage_answers_are_invalid_responses() {
    let fake = Fake::start(Box::new(|req: &[u8]| match (req[0], req.get(1)) {
        // A MAP answer whose length is not a multiple of 4.
        (pcp::VERSION, Some(&pcp::OP_MAP)) => {
            let mut b = pcp_answer(req, 100, 40000).unwrap();
            b.extend_from_slice(&[0, 0]);
            vec![b]
        }
        // A NAT-PMP map answer one byte too long.
        (natpmp::VERSION, Some(&natpmp::OP_MAP_TCP)) => {
            let mut b = natpmp_answer(req, 100).unwrap();
            b.push(0);
            vec![b]
        }
        (pcp::VERSION, _) => pcp_answer(req, 100, 0).into_iter().collect(),
        _ => natpmp_answer(req, 100).into_iter().collect(),
    }))
    .await;
    let pcp = Pcp::discover_with(fake.options()).await.unwrap();
    let e = pcp.map(&request(8080)).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidResponse {
                method: Method::Pcp,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("bad message length 62"), "{e}");
    let pmp = NatPmp::discover_with(fake.options()).await.unwrap();
    let e = pmp.map(&request(8080)).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidResponse {
                method: Method::NatPmp,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn natpmp_result_codes_become_refusals() {
    let fake = Fake::start(Box::new(|req: &[u8]| match natpmp::Request::decode(req) {
        Ok(natpmp::Request::Map {
            protocol,
            internal_port,
            ..
        }) => vec![
            natpmp::Response::Map {
                protocol,
                result: natpmp::ResultCode::NotAuthorized,
                epoch: 100,
                internal_port,
                external_port: 0,
                lifetime: 0,
            }
            .encode(),
        ],
        _ => natpmp_answer(req, 100).into_iter().collect(),
    }))
    .await;
    let pmp = NatPmp::discover_with(fake.options()).await.unwrap();
    let e = pmp.map(&request(80)).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Refused {
                code: GatewayCode::NatPmp(natpmp::ResultCode::NotAuthorized),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("NAT-PMP result 2 NOT_AUTHORIZED"),
        "{e}"
    );
}

#[tokio::test]
async fn a_gateway_without_an_external_address_is_a_network_failure() {
    let fake = Fake::start(Box::new(|_req: &[u8]| {
        vec![
            natpmp::Response::ExternalAddress {
                result: natpmp::ResultCode::Success,
                epoch: 100,
                external: Ipv4Addr::UNSPECIFIED,
            }
            .encode(),
        ]
    }))
    .await;
    let e = NatPmp::discover_with(fake.options()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Refused {
                code: GatewayCode::NatPmp(natpmp::ResultCode::NetworkFailure),
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_no_gateway_at_once() {
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let e = NatPmp::discover_with(options_for(port)).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::NoGateway {
                method: Some(Method::NatPmp),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("refused UDP port"), "{e}");
    let e = Pcp::discover_with(options_for(port)).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::NoGateway {
                method: Some(Method::Pcp),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_silent_server_is_no_gateway_at_the_budget() {
    let fake = Fake::start(Box::new(|_req: &[u8]| Vec::new())).await;
    let mut o = fake.options();
    o.timeout = Duration::from_millis(900);
    let started = Instant::now();
    let e = NatPmp::discover_with(o).await.unwrap_err();
    assert!(matches!(e, Error::NoGateway { .. }), "{e:?}");
    assert!(e.to_string().contains("no answer from 127.0.0.1"), "{e}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    // 0, 250 and 750 ms.
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn an_epoch_that_jumps_back_is_a_restart() {
    let epoch = Arc::new(AtomicU32::new(5000));
    let e2 = epoch.clone();
    let fake = Fake::start(Box::new(move |req: &[u8]| {
        let epoch = e2.load(Ordering::SeqCst);
        match req[0] {
            pcp::VERSION => pcp_answer(req, epoch, 40003).into_iter().collect(),
            _ => natpmp_answer(req, epoch).into_iter().collect(),
        }
    }))
    .await;
    let pcp = Pcp::discover_with(fake.options()).await.unwrap();
    let m = pcp.map(&request(8080)).await.unwrap();
    assert_eq!(pcp.check_epoch().await.unwrap(), EpochCheck::Continuous);
    assert!(!pcp.restarted_since(&m));
    epoch.store(3, Ordering::SeqCst);
    assert!(matches!(
        pcp.check_epoch().await.unwrap(),
        EpochCheck::Restarted {
            previous: 5000,
            current: 3
        }
    ));
    assert!(pcp.restarted_since(&m));
    let again = pcp.map(&m.renewal()).await.unwrap();
    assert!(!pcp.restarted_since(&again));
}

#[tokio::test]
async fn permanent_and_foreign_host_requests_are_refused_before_sending() {
    let fake = Fake::start(Box::new(|req: &[u8]| {
        natpmp_answer(req, 100).into_iter().collect()
    }))
    .await;
    let pmp = NatPmp::discover_with(fake.options()).await.unwrap();
    let before = fake.requests().len();
    let permanent = MappingRequest::builder(Protocol::Tcp, 80)
        .permanent()
        .build()
        .unwrap();
    assert!(matches!(
        pmp.map(&permanent).await,
        Err(Error::Unsupported { .. })
    ));
    let other = MappingRequest::builder(Protocol::Tcp, 80)
        .internal_ip(Ipv4Addr::new(192, 168, 1, 4))
        .build()
        .unwrap();
    assert!(matches!(
        pmp.map(&other).await,
        Err(Error::Unsupported { .. })
    ));
    assert_eq!(fake.requests().len(), before, "nothing was sent");
}

/// A PCP server that ignores PREFER_FAILURE and grants port 40005 whatever
/// was asked; it records the deletes it receives (nonce, external port).
#[tokio::test]
async fn pcp_exact_port_granted_elsewhere_is_a_conflict_and_is_undone() {
    let fake = Fake::start(Box::new(|req: &[u8]| match req[0] {
        pcp::VERSION => pcp_answer(req, 100, 40005).into_iter().collect(),
        _ => natpmp_answer(req, 100).into_iter().collect(),
    }))
    .await;
    let pcp = Pcp::discover_with(fake.options()).await.unwrap();
    let exact = MappingRequest::builder(Protocol::Tcp, 8080)
        .exact_external_port(8080)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap();
    let e = pcp.map(&exact).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Conflict {
                method: Method::Pcp,
                external_port: 8080,
                ..
            }
        ),
        "{e:?}"
    );
    let maps: Vec<pcp::Request> = fake
        .requests()
        .iter()
        .filter_map(|r| pcp::Request::decode(r).ok())
        .filter(|r| matches!(r.body, RequestBody::Map(_)))
        .collect();
    let [create, delete] = maps.as_slice() else {
        panic!("a create and a delete expected: {maps:?}");
    };
    let (RequestBody::Map(c), RequestBody::Map(d)) = (create.body, delete.body) else {
        unreachable!()
    };
    assert!(create.options.contains(&pcp::PcpOption::PreferFailure));
    assert_eq!(delete.lifetime, 0, "the other port is deleted");
    assert_eq!(d.nonce, c.nonce, "with the create's nonce");
    assert_eq!(d.external_port, 40005, "the port that was granted");
    assert!(delete.options.is_empty(), "{:?}", delete.options);
}

/// miniupnpd refuses THIRD_PARTY with UNSUPP_OPTION: that is "forwarding
/// to another host is not supported", not a bare refusal.
#[tokio::test]
async fn pcp_third_party_refused_as_unsupported_option_is_unsupported() {
    let fake = Fake::start(Box::new(|req: &[u8]| match pcp::Request::decode(req) {
        Ok(r)
            if r.options
                .iter()
                .any(|o| matches!(o, pcp::PcpOption::ThirdParty(_))) =>
        {
            vec![
                pcp::Response {
                    result: pcp::ResultCode::UnsupportedOption,
                    lifetime: 1800,
                    epoch: 100,
                    body: ResponseBody::Map(match r.body {
                        RequestBody::Map(p) => p,
                        RequestBody::Announce => unreachable!(),
                    }),
                    options: Vec::new(),
                }
                .encode(),
            ]
        }
        Ok(_) => pcp_answer(req, 100, 40006).into_iter().collect(),
        Err(_) => natpmp_answer(req, 100).into_iter().collect(),
    }))
    .await;
    let pcp = Pcp::discover_with(fake.options()).await.unwrap();
    let other = MappingRequest::builder(Protocol::Tcp, 80)
        .internal_ip(Ipv4Addr::new(192, 168, 1, 4))
        .lease(Duration::from_secs(600))
        .build()
        .unwrap();
    let e = pcp.map(&other).await.unwrap_err();
    match &e {
        Error::Unsupported {
            method: Method::Pcp,
            what,
            detail,
        } => {
            assert_eq!(what, "forwarding to another host (192.168.1.4)");
            assert!(
                detail.contains("run pfwd on 192.168.1.4") && detail.contains("UPnP"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// miniupnpd 2.3.1 deletes by the external-port field of a NAT-PMP delete
/// (RFC 6886 section 3.4 says to send 0 and ignore it), so pfwd sends the
/// granted port, which differs here from the internal one.
#[tokio::test]
async fn a_natpmp_delete_names_the_granted_external_port() {
    let fake = Fake::start(Box::new(|req: &[u8]| match natpmp::Request::decode(req) {
        Ok(natpmp::Request::Map {
            protocol,
            internal_port,
            lifetime,
            ..
        }) if lifetime > 0 => vec![
            natpmp::Response::Map {
                protocol,
                result: natpmp::ResultCode::Success,
                epoch: 100,
                internal_port,
                external_port: 40007,
                lifetime,
            }
            .encode(),
        ],
        _ => natpmp_answer(req, 100).into_iter().collect(),
    }))
    .await;
    let pmp = NatPmp::discover_with(fake.options()).await.unwrap();
    let m = pmp.map(&request(8080)).await.unwrap();
    assert_eq!(m.external().port(), 40007);
    pmp.unmap(&m).await.unwrap();
    let delete = fake
        .requests()
        .iter()
        .filter_map(|r| natpmp::Request::decode(r).ok())
        .find(|r| matches!(r, natpmp::Request::Map { lifetime: 0, .. }));
    assert_eq!(
        delete,
        Some(natpmp::Request::Map {
            protocol: natpmp::MapProtocol::Tcp,
            internal_port: 8080,
            external_port: 40007,
            lifetime: 0,
        })
    );
}
