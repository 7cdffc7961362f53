//! Codec throughput: NAT-PMP and PCP messages encoded and decoded per
//! second (`cargo bench -p pfwd-core --bench codecs`). A plain timing loop
//! (no harness): each message is encoded, decoded, and checked equal, for
//! at least a second per case; the best of three rounds is printed.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pfwd_core::wire::{natpmp, pcp};

fn rate(name: &str, mut round_trip: impl FnMut() -> bool) {
    let mut best = 0.0f64;
    for _ in 0..3 {
        let started = Instant::now();
        let mut n: u64 = 0;
        while started.elapsed() < Duration::from_millis(1000) {
            for _ in 0..1000 {
                assert!(
                    black_box(round_trip()),
                    "{name}: the round trip changed the message"
                );
            }
            n += 1000;
        }
        best = best.max(n as f64 / started.elapsed().as_secs_f64());
    }
    println!(
        "{name:<40} {:>6.1} M round trips/s ({:.0} ns each)",
        best / 1e6,
        1e9 / best
    );
}

fn main() {
    let pmp_req = natpmp::Request::Map {
        protocol: natpmp::MapProtocol::Tcp,
        internal_port: 8080,
        external_port: 8080,
        lifetime: 7200,
    };
    rate("NAT-PMP map request (12 bytes)", || {
        natpmp::Request::decode(&black_box(pmp_req).encode()) == Ok(pmp_req)
    });
    let pmp_resp = natpmp::Response::Map {
        protocol: natpmp::MapProtocol::Tcp,
        result: natpmp::ResultCode::Success,
        epoch: 1234,
        internal_port: 8080,
        external_port: 8080,
        lifetime: 7200,
    };
    rate("NAT-PMP map response (16 bytes)", || {
        natpmp::Response::decode(&black_box(pmp_resp).encode()) == Ok(pmp_resp)
    });
    let payload = pcp::MapPayload {
        nonce: [7; 12],
        protocol: pcp::PROTO_TCP,
        internal_port: 8080,
        external_port: 8080,
        external_ip: pcp::mapped(Ipv4Addr::UNSPECIFIED),
    };
    let pcp_req = pcp::Request {
        lifetime: 7200,
        client_ip: pcp::mapped(Ipv4Addr::new(192, 168, 1, 4)),
        body: pcp::RequestBody::Map(payload),
        options: Vec::new(),
    };
    rate("PCP MAP request (60 bytes)", || {
        pcp::Request::decode(&black_box(&pcp_req).encode()).as_ref() == Ok(&pcp_req)
    });
    let pcp_third = pcp::Request {
        options: vec![
            pcp::PcpOption::ThirdParty(pcp::mapped(Ipv4Addr::new(192, 168, 1, 5))),
            pcp::PcpOption::PreferFailure,
        ],
        ..pcp_req.clone()
    };
    rate("PCP MAP + THIRD_PARTY + PREFER_FAILURE", || {
        pcp::Request::decode(&black_box(&pcp_third).encode()).as_ref() == Ok(&pcp_third)
    });
    let pcp_resp = pcp::Response {
        result: pcp::ResultCode::Success,
        lifetime: 7200,
        epoch: 1234,
        body: pcp::ResponseBody::Map(pcp::MapPayload {
            external_ip: pcp::mapped(Ipv4Addr::new(5, 5, 5, 7)),
            ..payload
        }),
        options: Vec::new(),
    };
    rate("PCP MAP response (60 bytes)", || {
        pcp::Response::decode(&black_box(&pcp_resp).encode()).as_ref() == Ok(&pcp_resp)
    });
}
