//! `pfwd probe-server`, the built binary, on the internet host (wan): it
//! probes the Pi behind the router through a port forwarded by hand, logs
//! one line per probe, holds up under a flood, and stops on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;
use pfwd_core::check::messages::{ProbeOutcome, ProbeReply};
use pfwd_testbed::outside::{Behaviour, HttpAnswer, Server, http, probe_request};
use pfwd_testbed::{GatewayConfig, Netns, testbed};

use crate::support::PFWD;

const PROBER: &str = "5.5.5.1:8099";

fn ask(ns: &Netns, protocol: &str, port: u16) -> HttpAnswer {
    let to: SocketAddr = PROBER.parse().unwrap();
    let body =
        format!(r#"{{"protocol":"{protocol}","port":{port},"token":"cli-test-token-0123456789"}}"#);
    ns.block_on(|| http(to, probe_request(&body, ""), Duration::from_secs(12)))
}

/// A field of /proc/PID/status, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn probe_server_probes_logs_survives_a_flood_and_stops_on_sigterm() {
    let Some(tb) = testbed("cli_probe_server", GatewayConfig::no_daemon()) else {
        return;
    };
    tb.forward_by_hand(Protocol::Tcp, 9000).unwrap();
    let _echo = Server::start(
        tb.lan(),
        Protocol::Tcp,
        "0.0.0.0:9000".parse::<std::net::SocketAddr>().unwrap(),
        Behaviour::Echo,
    );
    let mut child = tb
        .wan()
        .command(PFWD)
        .args(["probe-server", "--listen", "[::]:8099"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `ip netns exec` execs the program: the child is pfwd itself.
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "probe server listening on http://[::]:8099/v1/probe; Ctrl-C or SIGTERM stops it"
    );
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "pfwd"
    );
    let idle_kb = status_kb(pid, "VmRSS:");

    let a = ask(tb.lan(), "tcp", 9000);
    assert_eq!(a.status, Some(200), "{a:?}");
    let r: ProbeReply = serde_json::from_str(&a.body).unwrap();
    assert_eq!(r.observed_address.to_string(), "5.5.5.7");
    assert_eq!(r.outcome, ProbeOutcome::Accepted);
    assert!(r.token_returned);

    // 300 at once from the Pi, and one from another source meanwhile.
    let (flood, other) = std::thread::scope(|s| {
        let flood = s.spawn(|| {
            tb.lan().block_on(|| async {
                let to: SocketAddr = PROBER.parse().unwrap();
                let body = r#"{"protocol":"tcp","port":9001,"token":"cli-test-token-0123456789"}"#;
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..300 {
                    set.spawn(http(to, probe_request(body, ""), Duration::from_secs(12)));
                }
                set.join_all().await
            })
        });
        std::thread::sleep(Duration::from_millis(50));
        let other = ask(tb.wan(), "tcp", 9001);
        (flood.join().unwrap(), other)
    });
    let count = |s: Option<u16>| flood.iter().filter(|a| a.status == s).count();
    let (ok, limited, busy, closed) = (
        count(Some(200)),
        count(Some(429)),
        count(Some(503)),
        count(None),
    );
    assert_eq!(ok + limited + busy + closed, 300);
    assert!(ok <= 20, "{ok}");
    assert_eq!(other.status, Some(200), "{other:?}");
    let peak_kb = status_kb(pid, "VmHWM:");
    eprintln!(
        "pfwd probe-server: RSS idle {idle_kb} kB, peak {peak_kb} kB after a flood of 300 \
         ({ok} x 200, {limited} x 429, {busy} x 503, {closed} closed at once); \
         the other source answered in {} ms",
        other.took.as_millis()
    );

    let stopping = Instant::now();
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(stopping.elapsed() < Duration::from_secs(2));
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(rest.starts_with("stopped after "), "{rest}");
    let log = stderr.join().unwrap();
    assert!(
        log.contains(
            "pfwd [info pfwd_core::check::prober] 5.5.5.7 TCP 9000: accepted, token returned in "
        ),
        "{log}"
    );
    assert!(
        log.contains("pfwd [info pfwd_core::check::prober] 5.5.5.1 TCP 9001: refused in "),
        "{log}"
    );
}
