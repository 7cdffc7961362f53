//! A fake NAT-PMP/PCP server on loopback, shared by the fake-gateway tests.

#![allow(dead_code)] // each test file uses part of it

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pfwd_core::wire::natpmp;
use pfwd_core::wire::pcp::{self, MapPayload, RequestBody, ResponseBody};
use pfwd_core::{GatewayInfo, PmpOptions};
use tokio::net::UdpSocket;

pub const EXTERNAL: Ipv4Addr = Ipv4Addr::new(5, 5, 5, 7);

/// What the fake sends back for one request: zero or more datagrams.
pub type Handler = dyn FnMut(&[u8]) -> Vec<Vec<u8>> + Send;

pub struct Fake {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Fake {
    pub async fn start(handler: Box<Handler>) -> Fake {
        Fake::start_on(0, handler).await
    }

    /// A fake on a given loopback port (0: any).
    pub async fn start_on(port: u16, mut handler: Box<Handler>) -> Fake {
        let socket = UdpSocket::bind(("127.0.0.1", port)).await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                log.lock().unwrap().push(buf[..n].to_vec());
                for answer in handler(&buf[..n]) {
                    let _ = socket.send_to(&answer, from).await;
                }
            }
        });
        Fake { port, received }
    }

    /// A PCP router (that answers NAT-PMP's external-address request too)
    /// which answers announcements and deletes at once, and new mapping
    /// requests only after `delay` (a slow or lossy path).
    pub async fn slow_pcp(delay: Duration) -> Fake {
        Fake::slow(delay, is_pcp_create).await
    }

    /// A router that answers everything (PCP, its ANNOUNCE, NAT-PMP) only
    /// after `delay`: silent for any budget shorter than that.
    pub async fn slow_router(delay: Duration) -> Fake {
        Fake::slow(delay, |_| true).await
    }

    async fn slow(delay: Duration, delayed: fn(&[u8]) -> bool) -> Fake {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let port = socket.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1100];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let req = buf[..n].to_vec();
                log.lock().unwrap().push(req.clone());
                let answer = match req[0] {
                    pcp::VERSION => pcp_answer(&req, 100, 8080),
                    _ => natpmp_answer(&req, 100),
                };
                let Some(answer) = answer else { continue };
                let wait = if delayed(&req) { delay } else { Duration::ZERO };
                let socket = socket.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    let _ = socket.send_to(&answer, from).await;
                });
            }
        });
        Fake { port, received }
    }

    /// The PCP MAP requests received: (nonce, lifetime).
    pub fn pcp_maps(&self) -> Vec<([u8; 12], u32)> {
        self.requests()
            .iter()
            .filter(|r| r.len() >= 36 && r[0] == pcp::VERSION && r[1] == pcp::OP_MAP)
            .map(|r| {
                let mut nonce = [0u8; 12];
                nonce.copy_from_slice(&r[24..36]);
                (nonce, u32::from_be_bytes([r[4], r[5], r[6], r[7]]))
            })
            .collect()
    }

    pub fn options(&self) -> PmpOptions {
        options_for(self.port)
    }

    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}

pub fn options_for(port: u16) -> PmpOptions {
    let mut o = PmpOptions::default();
    o.gateway = Some(GatewayInfo::for_gateway(Ipv4Addr::LOCALHOST).unwrap());
    o.server_port = port;
    o.timeout = Duration::from_secs(2);
    o
}

/// A PCP MAP request that creates or renews (lifetime above 0).
pub fn is_pcp_create(req: &[u8]) -> bool {
    req.len() >= 8 && req[0] == pcp::VERSION && req[1] == pcp::OP_MAP && req[4..8] != [0; 4]
}

/// Client options that talk only to the fake on loopback: PCP and NAT-PMP
/// on `pmp_port`, UPnP to a closed port, no multicast, ever.
pub fn client_options(pmp_port: u16) -> pfwd_core::ClientOptions {
    let mut o = pfwd_core::ClientOptions::default();
    o.gateway = Some(GatewayInfo::for_gateway(Ipv4Addr::LOCALHOST).unwrap());
    o.pmp.server_port = pmp_port;
    o.only = vec![pfwd_core::Method::Pcp, pfwd_core::Method::NatPmp];
    o.upnp.multicast = false;
    o
}

/// A well-behaved NAT-PMP server with epoch `epoch()`.
pub fn natpmp_answer(req: &[u8], epoch: u32) -> Option<Vec<u8>> {
    let answer = match natpmp::Request::decode(req).ok()? {
        natpmp::Request::ExternalAddress => natpmp::Response::ExternalAddress {
            result: natpmp::ResultCode::Success,
            epoch,
            external: EXTERNAL,
        },
        natpmp::Request::Map {
            protocol,
            internal_port,
            external_port,
            lifetime,
        } => natpmp::Response::Map {
            protocol,
            result: natpmp::ResultCode::Success,
            epoch,
            internal_port,
            external_port: if lifetime == 0 {
                0
            } else if external_port == 0 {
                40000
            } else {
                external_port
            },
            lifetime,
        },
    };
    Some(answer.encode())
}

/// A well-behaved PCP server.
pub fn pcp_answer(req: &[u8], epoch: u32, granted_port: u16) -> Option<Vec<u8>> {
    let r = pcp::Request::decode(req).ok()?;
    let body = match r.body {
        RequestBody::Announce => ResponseBody::Announce,
        RequestBody::Map(p) => ResponseBody::Map(MapPayload {
            external_port: if r.lifetime == 0 {
                p.external_port
            } else {
                granted_port
            },
            external_ip: pcp::mapped(EXTERNAL),
            ..p
        }),
    };
    Some(
        pcp::Response {
            result: pcp::ResultCode::Success,
            lifetime: r.lifetime.min(3600),
            epoch,
            body,
            options: Vec::new(),
        }
        .encode(),
    )
}

/// NAT-PMP's "unsupported version" answer (RFC 6886 section 3.5).
pub fn natpmp_unsupported(req: &[u8]) -> Vec<u8> {
    natpmp::Response::Error {
        opcode: 128 + (req.get(1).copied().unwrap_or(0) & 0x7f),
        result: natpmp::ResultCode::UnsupportedVersion,
        epoch: 100,
    }
    .encode()
}
