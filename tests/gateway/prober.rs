//! The probe server (`pfwd_core::check::prober`) against real sockets, in
//! namespaces each test builds and tears down. The prober runs on the
//! "internet" host (wan, 5.5.5.1); the asking host is the Pi behind the
//! router's NAT (lan, seen as 5.5.5.7), so a probe goes back through the
//! router: to a port forwarded by hand to the Pi, or to the router itself.
//! No miniupnpd: the forwards are firewall rules written by the test.
//!
//! Figures (probe times, the flood's counts) are printed: `--nocapture`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use pfwd_core::Protocol;
use pfwd_core::check::messages::{ProbeOutcome, ProbeRefusal, ProbeReply};
use pfwd_core::check::prober::{Counts, Limits};
use pfwd_testbed::outside::{Behaviour, HttpAnswer, Server, http, probe_request};
use pfwd_testbed::prober::Prober;
use pfwd_testbed::{EXTERNAL_IP, GW_WAN_IF, GatewayConfig, Netns, Testbed, WAN_IF, testbed};

const TOKEN: &str = "pfwd-test-token-0123456789";
const PROBER: &str = "5.5.5.1:8099";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn body(protocol: &str, port: u16) -> String {
    format!(r#"{{"protocol":"{protocol}","port":{port},"token":"{TOKEN}"}}"#)
}

/// Run a probe server on `listen` in the wan namespace while `body` runs,
/// then stop it; what `body` returned and the server's counts. The server
/// stops earlier when `body` calls [`Prober::stop_serving`].
fn with_prober<T>(
    tb: &Testbed,
    listen: &str,
    limits: Limits,
    body: impl FnOnce(&Prober) -> T,
) -> (T, Counts) {
    let prober = Prober::start_at(tb, addr(listen), limits);
    let out = body(&prober);
    (out, prober.stop())
}

/// Send `request` from `ns` to `to`, and read the answer.
fn send(ns: &Netns, to: &str, request: Vec<u8>) -> HttpAnswer {
    let to = addr(to);
    ns.block_on(|| http(to, request, Duration::from_secs(12)))
}

/// Ask the prober, from `ns`, to probe `protocol` `port`.
fn ask(ns: &Netns, protocol: &str, port: u16) -> HttpAnswer {
    send(ns, PROBER, probe_request(&body(protocol, port), ""))
}

fn reply(a: &HttpAnswer) -> ProbeReply {
    assert_eq!(a.status, Some(200), "{a:?}");
    assert_eq!(a.header("content-type"), Some("application/json"));
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{e}: {a:?}"))
}

fn refusal(a: &HttpAnswer, status: u16, error: &str) -> ProbeRefusal {
    assert_eq!(a.status, Some(status), "{a:?}");
    let r: ProbeRefusal = serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{e}: {a:?}"));
    assert_eq!(r.error, error, "{r:?}");
    r
}

fn external() -> IpAddr {
    IpAddr::V4(EXTERNAL_IP)
}

#[test]
fn tcp_token_comes_back_through_the_routers_forward() {
    let Some(tb) = testbed("prober_tcp_token", GatewayConfig::no_daemon()) else {
        return;
    };
    tb.forward_by_hand(Protocol::Tcp, 9000).unwrap();
    let echo = Server::start(
        tb.lan(),
        Protocol::Tcp,
        addr("0.0.0.0:9000"),
        Behaviour::Echo,
    );
    let (a, counts) = with_prober(&tb, PROBER, Limits::default(), |_| {
        ask(tb.lan(), "tcp", 9000)
    });
    let r = reply(&a);
    assert_eq!(r.observed_address, external());
    assert_eq!((r.protocol, r.port), (Protocol::Tcp, 9000));
    assert_eq!(r.outcome, ProbeOutcome::Accepted);
    assert!(r.token_returned, "{r:?}");
    assert_eq!(r.reply_sample, None);
    assert_eq!(echo.hits(), 1);
    assert_eq!((counts.probes, counts.connections), (1, 1));
    eprintln!(
        "TCP probe, token echoed: prober {} ms, whole request {} ms",
        r.elapsed_ms,
        a.took.as_millis()
    );
}

#[test]
fn tcp_refused_timed_out_unreachable_and_something_else_answering() {
    let Some(tb) = testbed("prober_tcp_outcomes", GatewayConfig::no_daemon()) else {
        return;
    };
    tb.at_router(Protocol::Tcp, 9002, "drop").unwrap();
    tb.at_router(
        Protocol::Tcp,
        9003,
        "reject with icmpx type host-unreachable",
    )
    .unwrap();
    tb.forward_by_hand(Protocol::Tcp, 9004).unwrap();
    let _web = Server::start(
        tb.lan(),
        Protocol::Tcp,
        addr("0.0.0.0:9004"),
        Behaviour::Say(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
    );
    let (replies, _) = with_prober(&tb, PROBER, Limits::default(), |_| {
        [9001, 9002, 9003, 9004].map(|port| reply(&ask(tb.lan(), "tcp", port)))
    });
    let [refused, timed_out, unreachable, other] = replies;
    // Nothing listens on the router's 9001: its kernel resets.
    assert_eq!(refused.outcome, ProbeOutcome::Refused, "{refused:?}");
    assert!(refused.elapsed_ms < 500, "{refused:?}");
    assert_eq!(timed_out.outcome, ProbeOutcome::TimedOut, "{timed_out:?}");
    assert!(
        (3000..4000).contains(&timed_out.elapsed_ms),
        "{timed_out:?}"
    );
    assert_eq!(
        unreachable.outcome,
        ProbeOutcome::Unreachable,
        "{unreachable:?}"
    );
    assert_eq!(other.outcome, ProbeOutcome::Accepted);
    assert!(!other.token_returned);
    assert_eq!(
        other.reply_sample.as_deref(),
        Some("HTTP/1.1 400 Bad Request..Content-Length: 0....")
    );
    for r in [&refused, &timed_out, &unreachable] {
        assert_eq!(r.observed_address, external());
        assert!(!r.token_returned && r.reply_sample.is_none(), "{r:?}");
    }
}

#[test]
fn udp_echoed_refused_unanswered_and_something_else_answering() {
    let Some(tb) = testbed("prober_udp_outcomes", GatewayConfig::no_daemon()) else {
        return;
    };
    for port in [9100, 9102, 9103] {
        tb.forward_by_hand(Protocol::Udp, port).unwrap();
    }
    let echo = Server::start(
        tb.lan(),
        Protocol::Udp,
        addr("0.0.0.0:9100"),
        Behaviour::Echo,
    );
    let silent = Server::start(
        tb.lan(),
        Protocol::Udp,
        addr("0.0.0.0:9102"),
        Behaviour::Silent,
    );
    let _other = Server::start(
        tb.lan(),
        Protocol::Udp,
        addr("0.0.0.0:9103"),
        Behaviour::Say(b"\x01not the token"),
    );
    let (replies, _) = with_prober(&tb, PROBER, Limits::default(), |_| {
        [9100, 9101, 9102, 9103].map(|port| reply(&ask(tb.lan(), "udp", port)))
    });
    let [echoed, refused, unanswered, other] = replies;
    assert_eq!(echoed.outcome, ProbeOutcome::Answered, "{echoed:?}");
    assert!(echoed.token_returned && echoed.reply_sample.is_none());
    assert_eq!(echo.hits(), 1);
    // Nothing on the router's 9101: ICMP port unreachable.
    assert_eq!(refused.outcome, ProbeOutcome::Refused, "{refused:?}");
    assert_eq!(unanswered.outcome, ProbeOutcome::NoAnswer, "{unanswered:?}");
    assert_eq!(silent.hits(), 3, "three tries");
    assert!(
        (1200..2000).contains(&unanswered.elapsed_ms),
        "{unanswered:?}"
    );
    assert_eq!(other.outcome, ProbeOutcome::Answered);
    assert!(!other.token_returned);
    assert_eq!(other.reply_sample.as_deref(), Some(".not the token"));
    for r in [&echoed, &refused, &unanswered, &other] {
        assert_eq!(
            (r.observed_address, r.protocol),
            (external(), Protocol::Udp)
        );
    }
    eprintln!(
        "UDP probe, token echoed: prober {} ms; no answer: {} ms",
        echoed.elapsed_ms, unanswered.elapsed_ms
    );
}

#[test]
fn ipv6_peers_and_ipv4_peers_of_a_dual_stack_listener() {
    let Some(tb) = testbed("prober_ipv6", GatewayConfig::no_daemon()) else {
        return;
    };
    tb.wan()
        .ip(&["addr", "add", "2001:db8:5::1/64", "dev", WAN_IF, "nodad"])
        .unwrap();
    tb.gw()
        .ip(&["addr", "add", "2001:db8:5::7/64", "dev", GW_WAN_IF, "nodad"])
        .unwrap();
    // The router asks for itself; one dual-stack echo each for TCP and UDP.
    let tcp = Server::start(tb.gw(), Protocol::Tcp, addr("[::]:9200"), Behaviour::Echo);
    let udp = Server::start(tb.gw(), Protocol::Udp, addr("[::]:9201"), Behaviour::Echo);
    let (answers, _) = with_prober(&tb, "[::]:8099", Limits::default(), |_| {
        let v6 = "[2001:db8:5::1]:8099";
        [
            send(tb.gw(), v6, probe_request(&body("tcp", 9200), "")),
            send(tb.gw(), v6, probe_request(&body("udp", 9201), "")),
            send(tb.gw(), PROBER, probe_request(&body("tcp", 9200), "")),
        ]
    });
    let [v6_tcp, v6_udp, v4_tcp] = answers.each_ref().map(reply);
    let gw6: IpAddr = "2001:db8:5::7".parse().unwrap();
    assert_eq!(v6_tcp.observed_address, gw6);
    assert_eq!(v6_udp.observed_address, gw6);
    assert!(v6_tcp.token_returned && v6_udp.token_returned);
    assert_eq!(v6_udp.outcome, ProbeOutcome::Answered);
    // An IPv4 client of [::] is reported, and probed, as IPv4.
    assert_eq!(v4_tcp.observed_address, external());
    assert!(answers[2].body.contains(r#""observed_address":"5.5.5.7""#));
    assert!(v4_tcp.token_returned);
    assert_eq!((tcp.hits(), udp.hits()), (2, 1));
}

#[test]
fn bad_requests_are_refused_and_probe_nothing() {
    let Some(tb) = testbed("prober_bad_requests", GatewayConfig::no_daemon()) else {
        return;
    };
    // Whatever a request names, these must not be reached.
    let at_prober = Server::start(
        tb.wan(),
        Protocol::Tcp,
        addr("0.0.0.0:9300"),
        Behaviour::Silent,
    );
    let at_router = Server::start(
        tb.gw(),
        Protocol::Tcp,
        addr("0.0.0.0:9300"),
        Behaviour::Silent,
    );
    let (answers, counts) = with_prober(&tb, "0.0.0.0:8099", Limits::default(), |_| {
        let lan = tb.lan();
        let post = |b: &str| send(lan, PROBER, probe_request(b, ""));
        let with_address =
            format!(r#"{{"protocol":"tcp","port":9300,"token":"{TOKEN}","address":"5.5.5.1"}}"#);
        vec![
            post(&with_address),
            post(&format!(
                r#"{{"protocol":"tcp","port":0,"token":"{TOKEN}"}}"#
            )),
            post(r#"{"protocol":"tcp","port":9300,"token":"short"}"#),
            post(&format!(
                r#"{{"protocol":"sctp","port":9300,"token":"{TOKEN}"}}"#
            )),
            post("hello"),
            send(
                lan,
                PROBER,
                b"GET /v1/probe HTTP/1.1\r\nHost: p\r\n\r\n".to_vec(),
            ),
            send(
                lan,
                PROBER,
                b"POST /v2/probe HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n".to_vec(),
            ),
            // The prober's own loopback: a proxy on the same machine would
            // look like this.
            send(
                tb.wan(),
                "127.0.0.1:8099",
                probe_request(&body("tcp", 9300), ""),
            ),
        ]
    });
    let m = refusal(&answers[0], 400, "bad_request").message;
    assert!(m.contains("unknown field `address`"), "{m}");
    let m = refusal(&answers[1], 400, "bad_request").message;
    assert!(m.starts_with("port 0 cannot be probed"), "{m}");
    let m = refusal(&answers[2], 400, "bad_request").message;
    assert!(m.contains("a token has 16 to 64 characters"), "{m}");
    let m = refusal(&answers[3], 400, "bad_request").message;
    assert!(m.contains("sctp"), "{m}");
    refusal(&answers[4], 400, "bad_request");
    refusal(&answers[5], 405, "method_not_allowed");
    assert_eq!(answers[5].header("allow"), Some("POST"));
    refusal(&answers[6], 404, "not_found");
    let m = refusal(&answers[7], 403, "forbidden").message;
    assert!(m.contains("127.0.0.1"), "{m}");
    assert_eq!((at_prober.hits(), at_router.hits()), (0, 0));
    assert_eq!(counts.probes, 0);
    assert_eq!(counts.refused, 8);
}

#[test]
fn forwarded_for_headers_are_ignored() {
    let Some(tb) = testbed("prober_forwarded_for", GatewayConfig::no_daemon()) else {
        return;
    };
    tb.forward_by_hand(Protocol::Tcp, 9000).unwrap();
    let echo = Server::start(
        tb.lan(),
        Protocol::Tcp,
        addr("0.0.0.0:9000"),
        Behaviour::Echo,
    );
    // The address the headers name: a listener there must get nothing.
    let named = Server::start(
        tb.wan(),
        Protocol::Tcp,
        addr("0.0.0.0:9000"),
        Behaviour::Echo,
    );
    let (a, _) = with_prober(&tb, PROBER, Limits::default(), |_| {
        let headers =
            "X-Forwarded-For: 5.5.5.1\r\nForwarded: for=5.5.5.1\r\nX-Real-IP: 5.5.5.1\r\n";
        send(tb.lan(), PROBER, probe_request(&body("tcp", 9000), headers))
    });
    let r = reply(&a);
    assert_eq!(r.observed_address, external());
    assert!(r.token_returned);
    assert_eq!((echo.hits(), named.hits()), (1, 0));
}

/// Open `n` connections from `ns` that send headers a few bytes at a time;
/// how long each stayed open (closed at once when over the limits).
fn slowloris(ns: &Netns, n: usize) -> Vec<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ns.block_on(|| async move {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            set.spawn(async {
                let started = Instant::now();
                let Ok(mut s) = tokio::net::TcpStream::connect(addr(PROBER)).await else {
                    return Duration::ZERO;
                };
                let _ = s.write_all(b"POST /v1/probe HTTP/1.1\r\nHost: p\r\n").await;
                let mut buf = [0u8; 512];
                loop {
                    tokio::select! {
                        r = s.read(&mut buf) => if !matches!(r, Ok(n) if n > 0) { break },
                        () = tokio::time::sleep(Duration::from_millis(300)) => {
                            if s.write_all(b"X-Slow: a\r\n").await.is_err() { break }
                        }
                    }
                    if started.elapsed() > Duration::from_secs(12) {
                        break;
                    }
                }
                started.elapsed()
            });
        }
        set.join_all().await
    })
}

#[test]
fn malformed_huge_and_slow_requests_do_not_stop_it() {
    let Some(tb) = testbed("prober_abuse", GatewayConfig::no_daemon()) else {
        return;
    };
    let ((slow, answers, probe), counts) = with_prober(&tb, PROBER, Limits::default(), |_| {
        std::thread::scope(|s| {
            // 30 slow connections from the internet host: 16 held (the
            // per-source cap), the rest closed at once.
            let slow = s.spawn(|| slowloris(tb.wan(), 30));
            std::thread::sleep(Duration::from_millis(300));
            let lan = tb.lan();
            let probe = ask(lan, "tcp", 9001);
            let mb = "x".repeat(1_000_000);
            let hundred_kb = format!("X-Big: {}\r\n", "y".repeat(100_000));
            let mut chunked =
                b"POST /v1/probe HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_vec();
            for _ in 0..16 {
                chunked
                    .extend_from_slice(format!("10000\r\n{}\r\n", "z".repeat(0x10000)).as_bytes());
            }
            chunked.extend_from_slice(b"0\r\n\r\n");
            let answers = [
                send(lan, PROBER, b"GARBAGE\r\n\r\n".to_vec()),
                send(lan, PROBER, probe_request(&mb, "")),
                send(lan, PROBER, chunked),
                send(lan, PROBER, probe_request(&body("tcp", 9001), &hundred_kb)),
                // Headers, then a body that never comes.
                send(
                    lan,
                    PROBER,
                    b"POST /v1/probe HTTP/1.1\r\nHost: p\r\nContent-Length: 60\r\n\r\n{".to_vec(),
                ),
            ];
            (slow.join().unwrap(), answers, probe)
        })
    });
    // Answered at once while 16 connections dawdle.
    let r = reply(&probe);
    assert_eq!(r.outcome, ProbeOutcome::Refused);
    assert!(probe.took < Duration::from_secs(1), "{probe:?}");
    let [garbage, mb, chunked, big_header, slow_body] = &answers;
    assert_eq!(garbage.status, Some(400), "{garbage:?}");
    refusal(mb, 413, "too_large");
    refusal(chunked, 413, "too_large");
    // hyper answers 431 and closes; the reset may beat the answer.
    assert!(
        matches!(big_header.status, Some(431) | None),
        "{big_header:?}"
    );
    refusal(slow_body, 408, "bad_request");
    assert!(slow_body.took >= Duration::from_secs(5), "{slow_body:?}");
    let held = slow.iter().filter(|d| **d > Duration::from_secs(1)).count();
    assert_eq!(held, 16, "{slow:?}");
    for d in &slow {
        assert!(
            *d < Duration::from_secs(7),
            "a slow connection stayed {d:?}"
        );
    }
    assert!(counts.dropped >= 14, "{counts:?}");
    // The garbage, the big head, and the 16 slow ones that timed out.
    assert!(counts.broken >= 18, "{counts:?}");
    eprintln!(
        "abuse: slow connections held {:?} at most; answers {:?}; {counts:?}",
        slow.iter().max(),
        answers.each_ref().map(|a| a.status)
    );
}

/// Peak resident memory of this process (kB), from /proc/self/status.
fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_flood_from_one_source_leaves_room_for_another() {
    let Some(tb) = testbed("prober_flood", GatewayConfig::no_daemon()) else {
        return;
    };
    // The flood asks for a port the router drops: each admitted probe
    // holds its place for the whole connect timeout.
    tb.at_router(Protocol::Tcp, 9002, "drop").unwrap();
    let before = vm_hwm_kb();
    let ((flood, other), counts) = with_prober(&tb, PROBER, Limits::default(), |_| {
        std::thread::scope(|s| {
            let flood = s.spawn(|| {
                tb.lan().block_on(|| async {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..500 {
                        let req = probe_request(&body("tcp", 9002), "");
                        set.spawn(http(addr(PROBER), req, Duration::from_secs(12)));
                    }
                    set.join_all().await
                })
            });
            std::thread::sleep(Duration::from_millis(100));
            // Another source (the internet host itself) meanwhile.
            let other = ask(tb.wan(), "tcp", 9001);
            (flood.join().unwrap(), other)
        })
    });
    let count = |s: Option<u16>| flood.iter().filter(|a| a.status == s).count();
    let (ok, limited, busy, closed) = (
        count(Some(200)),
        count(Some(429)),
        count(Some(503)),
        count(None),
    );
    assert_eq!(
        ok + limited + busy + closed,
        500,
        "other statuses in the flood"
    );
    assert!(ok <= 2, "{ok} probes for one source at once");
    assert_eq!(busy, 0);
    assert!(limited + closed >= 498);
    let r = reply(&other);
    assert_eq!(r.outcome, ProbeOutcome::Refused);
    assert_eq!(r.observed_address, IpAddr::from([5, 5, 5, 1]));
    assert!(other.took < Duration::from_secs(1), "{other:?}");
    eprintln!(
        "flood of 500 from one source: {ok} x 200, {limited} x 429, {busy} x 503, {closed} closed \
         at once; the other source answered in {} ms; test process VmHWM {} kB (before {} kB); {counts:?}",
        other.took.as_millis(),
        vm_hwm_kb(),
        before
    );
}

#[test]
fn busy_beyond_max_probes_and_limited_per_source() {
    let Some(tb) = testbed("prober_busy", GatewayConfig::no_daemon()) else {
        return;
    };
    tb.at_router(Protocol::Tcp, 9002, "drop").unwrap();
    let mut limits = Limits::default();
    limits.max_probes = 2;
    let ((long, busy, limited, after), counts) = with_prober(&tb, PROBER, limits, |_| {
        std::thread::scope(|s| {
            let long = [
                s.spawn(|| ask(tb.lan(), "tcp", 9002)),
                s.spawn(|| ask(tb.lan(), "tcp", 9002)),
            ];
            std::thread::sleep(Duration::from_millis(300));
            let busy = ask(tb.wan(), "tcp", 9001);
            let limited = ask(tb.lan(), "tcp", 9001);
            let long = long.map(|h| h.join().unwrap());
            let after = ask(tb.wan(), "tcp", 9001);
            (long, busy, limited, after)
        })
    });
    for a in &long {
        assert_eq!(reply(a).outcome, ProbeOutcome::TimedOut);
    }
    let m = refusal(&busy, 503, "busy").message;
    assert!(m.contains("try again in 5 s"), "{m}");
    assert_eq!(busy.header("retry-after"), Some("5"));
    refusal(&limited, 429, "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("5"));
    assert_eq!(reply(&after).outcome, ProbeOutcome::Refused);
    assert_eq!((counts.probes, counts.busy, counts.rate_limited), (3, 1, 1));
}

#[test]
fn each_source_has_its_probes_per_minute() {
    let Some(tb) = testbed("prober_rate", GatewayConfig::no_daemon()) else {
        return;
    };
    let mut limits = Limits::default();
    limits.per_source_per_minute = 3;
    let (answers, _) = with_prober(&tb, PROBER, limits, |_| {
        let lan: Vec<HttpAnswer> = (0..4).map(|_| ask(tb.lan(), "tcp", 9001)).collect();
        (lan, ask(tb.wan(), "tcp", 9001))
    });
    let (lan, wan) = answers;
    for a in &lan[..3] {
        assert_eq!(reply(a).outcome, ProbeOutcome::Refused);
    }
    let m = refusal(&lan[3], 429, "rate_limited").message;
    assert!(
        m.contains("5.5.5.7 has asked for as many probes as it may this minute"),
        "{m}"
    );
    // One token every 20 s.
    let after: u64 = lan[3].header("retry-after").unwrap().parse().unwrap();
    assert!((19..=20).contains(&after), "{after}");
    assert_eq!(reply(&wan).observed_address, IpAddr::from([5, 5, 5, 1]));
}

#[test]
fn stopping_lets_the_probe_under_way_finish() {
    let Some(tb) = testbed("prober_stop", GatewayConfig::no_daemon()) else {
        return;
    };
    tb.at_router(Protocol::Tcp, 9002, "drop").unwrap();
    let started = Instant::now();
    let ((under_way, after_stop), counts) = with_prober(&tb, PROBER, Limits::default(), |stop| {
        std::thread::scope(|s| {
            let under_way = s.spawn(|| ask(tb.lan(), "tcp", 9002));
            std::thread::sleep(Duration::from_millis(500));
            stop.stop_serving();
            std::thread::sleep(Duration::from_millis(100));
            let after_stop = ask(tb.lan(), "tcp", 9001);
            (under_way.join().unwrap(), after_stop)
        })
    });
    // with_prober returned once the server did: after the probe ended.
    let stopped_after = started.elapsed();
    assert_eq!(reply(&under_way).outcome, ProbeOutcome::TimedOut);
    assert_eq!(after_stop.status, None, "{after_stop:?}");
    assert!(stopped_after >= Duration::from_secs(3) && stopped_after < Duration::from_secs(5));
    assert_eq!(counts.probes, 1);
}
