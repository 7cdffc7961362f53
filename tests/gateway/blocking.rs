//! The blocking API (what Python and C mirror) against the real miniupnpd:
//! forward proven by bytes from the internet, a keeper adopting it across a
//! router restart with events by callback, threads sharing a client, close
//! and shutdown leaving nothing on the router.
//!
//! One test in this binary on purpose: pfwd's runtime threads are started
//! inside the LAN namespace, and they serve the whole process.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::mpsc;
use std::time::Duration;

use pfwd_core::blocking::{self, Call, Client};
use pfwd_core::lease::{Event, Keep, KeeperOptions};
use pfwd_core::{ClientOptions, MappingRequest, Method, Protocol};
use pfwd_testbed::{GatewayConfig, reaches, testbed};

fn request(protocol: Protocol, port: u16) -> MappingRequest {
    MappingRequest::builder(protocol, port)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap()
}

/// The next event that `wanted` accepts, within `within`; others are skipped.
fn next_matching(
    events: &mpsc::Receiver<Event>,
    within: Duration,
    wanted: impl Fn(&Event) -> bool,
) -> Event {
    let until = std::time::Instant::now() + within;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if wanted(&e) => return e,
            Ok(_) => {}
            Err(e) => panic!("no matching event within {within:?}: {e}"),
        }
    }
}

#[test]
fn the_blocking_api_against_miniupnpd() {
    let Some(mut tb) = testbed(
        "the_blocking_api_against_miniupnpd",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    // The runtime's threads start in the LAN namespace; every blocking call
    // from this (outside) thread then does its I/O there.
    tb.lan().run(|| blocking::runtime().map(|_| ()).unwrap());

    // Forward: map-first, one round trip on this PCP router; bytes arrive.
    let web = request(Protocol::Tcp, 8080);
    let (client, mapping) = Client::forward(ClientOptions::default(), &web, &Call::new()).unwrap();
    assert_eq!(mapping.method(), Method::Pcp);
    assert!(reaches(&tb, Protocol::Tcp, mapping.external().port(), 8080));

    // A keeper adopts it (no second mapping) and reports by callback.
    let mut options = KeeperOptions::default();
    options.check_interval = Some(Duration::from_secs(2));
    let keeper = client
        .keep([Keep::held(web, mapping.clone())], options)
        .unwrap();
    let (tx, events) = mpsc::channel();
    keeper.on_event(move |e| tx.send(e).unwrap()).unwrap();
    let first = next_matching(&events, Duration::from_secs(2), |_| true);
    assert!(matches!(first, Event::Mapped { index: 0, .. }), "{first:?}");

    // The router restarts and forgets it; the keeper makes it again.
    tb.restart_daemon().unwrap();
    let restored = next_matching(&events, Duration::from_secs(15), |e| {
        matches!(e, Event::Restored { .. })
    });
    let Event::Restored { mapping: again, .. } = restored else {
        unreachable!()
    };
    // The same nonce; the epoch is the restarted daemon's uptime (0 or 1 s).
    let nonce = |m: &pfwd_core::Mapping| match m.state() {
        pfwd_core::MethodState::Pcp { nonce, .. } => *nonce,
        other => panic!("not PCP: {other:?}"),
    };
    assert_eq!(nonce(&again), nonce(&mapping), "remade with the same nonce");
    assert!(reaches(&tb, Protocol::Tcp, again.external().port(), 8080));

    // Several threads share the client.
    let made: Vec<pfwd_core::Mapping> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let client = &client;
                s.spawn(move || {
                    client
                        .map(&request(Protocol::Udp, 9000 + i), &Call::new())
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for m in &made {
        assert!(reaches(
            &tb,
            Protocol::Udp,
            m.external().port(),
            m.internal().port()
        ));
    }
    let listed = client.list(&Call::new()).unwrap();
    assert!(listed.len() >= 4, "{listed:?}");
    for m in &made {
        client.unmap(m, &Call::new()).unwrap();
        assert!(!reaches(
            &tb,
            Protocol::Udp,
            m.external().port(),
            m.internal().port()
        ));
    }

    // Closing deletes the kept mapping; Closed is the callback's last event.
    let report = keeper.close(&Call::new()).unwrap();
    assert_eq!(report.deleted_count(), 1, "{report}");
    assert!(report.is_clean());
    let closed = next_matching(&events, Duration::from_secs(1), |e| {
        matches!(e, Event::Closed { .. })
    });
    assert!(matches!(closed, Event::Closed { .. }));
    assert!(events.recv_timeout(Duration::from_millis(200)).is_err());
    assert!(!reaches(&tb, Protocol::Tcp, again.external().port(), 8080));

    // shutdown() closes a keeper still alive (as atexit would).
    let ssh = client
        .keep([request(Protocol::Tcp, 2222)], KeeperOptions::default())
        .unwrap();
    let Some(Event::Mapped { mapping: kept, .. }) = ssh.next_event(Duration::from_secs(5)).unwrap()
    else {
        panic!("the second keeper did not map")
    };
    assert!(reaches(&tb, Protocol::Tcp, kept.external().port(), 2222));
    assert!(blocking::shutdown() >= 1);
    assert!(!reaches(&tb, Protocol::Tcp, kept.external().port(), 2222));
    let left = tb.upnpc(&["-l"]).unwrap();
    assert!(!left.contains("2222"), "{left}");
}

/// The blocking example (pfwd-core/examples/keep_forwarded.rs), run as a
/// program on the LAN host: it forwards, the bytes arrive, it removes the
/// mapping and exits 0. `cargo test` builds examples first.
#[test]
fn the_blocking_example_forwards_and_cleans_up() {
    let Some(tb) = testbed(
        "the_blocking_example_forwards_and_cleans_up",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    let mut example = tb.start_example("keep_forwarded", &["8443", "3"]);
    let first = example.line();
    assert!(first.starts_with("forwarded: TCP 5.5.5.7:8443"), "{first}");
    assert!(reaches(&tb, Protocol::Tcp, 8443, 8443));
    let (status, rest) = example.finish();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("event: mapped"), "{rest}");
    assert!(rest.contains("closed: deleted 1 mapping"), "{rest}");
    assert!(!reaches(&tb, Protocol::Tcp, 8443, 8443));
    // Bad input: exit 2 with a message, nothing sent.
    let exe = pfwd_testbed::built_example("keep_forwarded");
    let bad = tb
        .lan()
        .command(exe.to_str().unwrap())
        .arg("70000")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("1 to 65535"));
}
