//! The lease keeper against the real miniupnpd: short leases stay up across
//! renewals, a gateway restart is repaired, lost packets are survived, a
//! vanished gateway is waited out, and closing or dropping leaves nothing.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pfwd_core::lease::{Event, Keeper, KeeperOptions};
use pfwd_core::{Forwarder, MappingRequest, NatPmp, Pcp, Protocol, Upnp};
use pfwd_testbed::{GatewayConfig, Testbed, reaches, testbed};

/// Which backend a keeper runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Pcp,
    NatPmp,
    Upnp,
}

/// The backend for `via`. Discovery is tried up to five times, as a program
/// would: under 30 % loss one PCP discovery (two tries in 4 s) fails 9 % of
/// the time.
async fn forwarder(via: Via) -> Arc<dyn Forwarder> {
    let mut last = None;
    for _ in 0..5 {
        let found: pfwd_core::Result<Arc<dyn Forwarder>> = match via {
            Via::Pcp => Pcp::discover()
                .await
                .map(|f| Arc::new(f) as Arc<dyn Forwarder>),
            Via::NatPmp => NatPmp::discover()
                .await
                .map(|f| Arc::new(f) as Arc<dyn Forwarder>),
            Via::Upnp => Upnp::discover()
                .await
                .map(|f| Arc::new(f) as Arc<dyn Forwarder>),
        };
        match found {
            Ok(f) => return f,
            Err(e) => last = Some(e),
        }
    }
    panic!("{via:?}: no gateway after five discoveries: {last:?}")
}

/// A keeper running on its own thread in the LAN namespace; its events come
/// back over a channel with the time they happened.
struct Kept {
    events: mpsc::Receiver<(Instant, Event)>,
    stop: tokio::sync::oneshot::Sender<bool>,
    thread: std::thread::JoinHandle<usize>,
}

impl Kept {
    fn start(
        tb: &Testbed,
        via: Via,
        requests: Vec<MappingRequest>,
        options: KeeperOptions,
    ) -> Kept {
        let (tx, events) = mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<bool>();
        let lan = tb.lan().name().to_string();
        let thread = std::thread::spawn(move || {
            pfwd_testbed::Netns::attach(&lan).block_on(move || async move {
                let mut keeper = Keeper::start(forwarder(via).await, requests, options);
                let mut stop_rx = stop_rx;
                loop {
                    tokio::select! {
                        close = &mut stop_rx => {
                            // true: close; false: drop without closing.
                            return if close.unwrap_or(true) {
                                keeper.close().await.deleted_count()
                            } else {
                                drop(keeper);
                                tokio::time::sleep(Duration::from_millis(500)).await;
                                0
                            };
                        }
                        event = keeper.next_event() => match event {
                            Some(e) => { let _ = tx.send((Instant::now(), e)); }
                            None => return 0,
                        },
                    }
                }
            })
        });
        Kept {
            events,
            stop,
            thread,
        }
    }

    /// Wait (up to `within`) for an event `wanted` accepts; return it and when.
    fn wait_for(&self, within: Duration, wanted: impl Fn(&Event) -> bool) -> (Instant, Event) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((at, e)) if wanted(&e) => return (at, e),
                Ok(_) => {}
                Err(_) => panic!("no such event within {within:?}"),
            }
        }
    }

    fn finish(self, close: bool) -> usize {
        let _ = self.stop.send(close);
        self.thread.join().unwrap()
    }
}

fn request(port: u16, lease: u64) -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, port)
        .lease(Duration::from_secs(lease))
        .build()
        .unwrap()
}

fn short_lease_config() -> GatewayConfig {
    let mut c = GatewayConfig::all_on();
    // Let PCP grant the short leases asked for (its default minimum is 120 s).
    c.min_lifetime = Some(2);
    c
}

/// `reaches`, allowing for a renewal in flight: miniupnpd renews a NAT-PMP
/// or PCP mapping by deleting and re-adding its rule (its log says
/// "already redirected ..., replacing"), so a connection that lands in that
/// instant is refused. Three tries, 300 ms apart.
fn reaches_while_renewing(tb: &Testbed, external_port: u16, internal_port: u16) -> bool {
    (0..3).any(|i| {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
        reaches(tb, Protocol::Tcp, external_port, internal_port)
    })
}

fn no_mappings_left(tb: &Testbed) -> bool {
    let list = tb.upnpc(&["-l"]).unwrap();
    !list.contains("->192.168.77.10")
}

fn stays_up_across_renewals(via: Via, port: u16) {
    let Some(tb) = testbed(
        &format!("stays_up_across_renewals_{via:?}"),
        short_lease_config(),
    ) else {
        return;
    };
    // 6 s leases: renewed every 3-3.75 s, with room for a loaded machine.
    let kept = Kept::start(&tb, via, vec![request(port, 6)], KeeperOptions::default());
    let (_, mapped) = kept.wait_for(Duration::from_secs(5), |e| {
        matches!(e, Event::Mapped { .. })
    });
    let Event::Mapped { mapping, .. } = mapped else {
        unreachable!()
    };
    assert_eq!(mapping.lease().as_secs(), 6, "{mapping}");
    for n in 0..3 {
        kept.wait_for(Duration::from_secs(8), |e| {
            matches!(e, Event::Renewed { .. })
        });
        assert!(
            reaches(&tb, Protocol::Tcp, mapping.external().port(), port),
            "{via:?}: down after renewal {n}"
        );
    }
    assert_eq!(kept.finish(true), 1);
    assert!(no_mappings_left(&tb), "{via:?}: close left a mapping");
}

#[test]
fn pcp_short_leases_stay_up_across_renewals() {
    stays_up_across_renewals(Via::Pcp, 8080);
}

#[test]
fn natpmp_short_leases_stay_up_across_renewals() {
    stays_up_across_renewals(Via::NatPmp, 8081);
}

#[test]
fn upnp_short_leases_stay_up_across_renewals() {
    stays_up_across_renewals(Via::Upnp, 8082);
}

#[test]
fn a_gateway_restart_is_repaired_for_every_method() {
    let Some(mut tb) = testbed(
        "a_gateway_restart_is_repaired_for_every_method",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    let mut options = KeeperOptions::default();
    options.check_interval = Some(Duration::from_secs(1));
    let kept: Vec<(Via, u16, Kept)> = [(Via::Pcp, 8080), (Via::NatPmp, 8081), (Via::Upnp, 8082)]
        .into_iter()
        .map(|(via, port)| {
            (
                via,
                port,
                Kept::start(&tb, via, vec![request(port, 600)], options.clone()),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for (via, port, k) in &kept {
        let (_, e) = k.wait_for(Duration::from_secs(5), |e| {
            matches!(e, Event::Mapped { .. })
        });
        let Event::Mapped { mapping, .. } = e else {
            unreachable!()
        };
        assert!(
            reaches(&tb, Protocol::Tcp, mapping.external().port(), *port),
            "{via:?}"
        );
        ports.push(mapping.external().port());
    }
    // The epoch check tolerates 2 s of drift: let the router's state age first.
    std::thread::sleep(Duration::from_millis(3600));
    let restarted = Instant::now();
    tb.restart_daemon().unwrap();
    for ((via, port, k), ext) in kept.iter().zip(&ports) {
        k.wait_for(Duration::from_secs(10), |e| matches!(e, Event::Lost { .. }));
        let (at, _) = k.wait_for(Duration::from_secs(10), |e| {
            matches!(e, Event::Restored { .. })
        });
        eprintln!(
            "{via:?}: restored {} ms after the restart",
            (at - restarted).as_millis()
        );
        assert!(
            reaches(&tb, Protocol::Tcp, *ext, *port),
            "{via:?}: not reachable after restore"
        );
    }
    for (_, _, k) in kept {
        k.finish(true);
    }
}

#[test]
fn thirty_percent_loss_towards_5351_is_survived() {
    let Some(tb) = testbed(
        "thirty_percent_loss_towards_5351_is_survived",
        short_lease_config(),
    ) else {
        return;
    };
    let rules = "table inet lossy {\n chain input {\n  type filter hook input priority -10; policy accept;\n  udp dport 5351 numgen random mod 100 < 30 drop\n }\n}\n";
    let path = std::env::temp_dir().join(format!("pfwd-lossy-{}.nft", std::process::id()));
    std::fs::write(&path, rules).unwrap();
    tb.gw()
        .exec("nft", &["-f", path.to_str().unwrap()])
        .unwrap();
    let _ = std::fs::remove_file(&path);
    for (via, port) in [(Via::NatPmp, 8081), (Via::Pcp, 8080)] {
        let kept = Kept::start(&tb, via, vec![request(port, 6)], KeeperOptions::default());
        let (_, e) = kept.wait_for(Duration::from_secs(20), |e| {
            matches!(e, Event::Mapped { .. })
        });
        let Event::Mapped { mapping, .. } = e else {
            unreachable!()
        };
        let (mut renewed, mut failed) = (0, 0);
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok((_, e)) = kept.events.recv_timeout(Duration::from_millis(200)) {
                match e {
                    Event::Renewed { .. } | Event::Restored { .. } => renewed += 1,
                    Event::Failed { .. } => failed += 1,
                    _ => {}
                }
            }
        }
        eprintln!(
            "{via:?} under 30 % loss: {renewed} renewals succeeded, {failed} attempts failed"
        );
        assert!(renewed >= 2, "{via:?}: {renewed} renewals");
        assert!(
            reaches_while_renewing(&tb, mapping.external().port(), port),
            "{via:?}: down under loss"
        );
        kept.finish(true);
    }
}

#[test]
fn a_vanished_gateway_is_reported_and_waited_out() {
    let Some(mut tb) = testbed(
        "a_vanished_gateway_is_reported_and_waited_out",
        short_lease_config(),
    ) else {
        return;
    };
    let mut options = KeeperOptions::default();
    options.retry_max = Duration::from_secs(2);
    let kept = Kept::start(&tb, Via::NatPmp, vec![request(8081, 4)], options);
    kept.wait_for(Duration::from_secs(5), |e| {
        matches!(e, Event::Mapped { .. })
    });
    tb.stop_daemon();
    let (_, failed) = kept.wait_for(Duration::from_secs(6), |e| {
        matches!(e, Event::Failed { .. })
    });
    assert!(failed.to_string().contains("5351"), "{failed}");
    std::thread::sleep(Duration::from_secs(5));
    tb.restart_daemon().unwrap();
    let (_, back) = kept.wait_for(Duration::from_secs(10), |e| {
        matches!(e, Event::Restored { .. } | Event::Renewed { .. })
    });
    let (Event::Restored { mapping, .. } | Event::Renewed { mapping, .. }) = back else {
        unreachable!()
    };
    assert!(reaches_while_renewing(&tb, mapping.external().port(), 8081));
    kept.finish(true);
}

#[test]
fn dropping_the_keeper_leaves_nothing() {
    let Some(tb) = testbed("dropping_the_keeper_leaves_nothing", short_lease_config()) else {
        return;
    };
    let kept = Kept::start(
        &tb,
        Via::Upnp,
        vec![request(8082, 600), request(8083, 600)],
        KeeperOptions::default(),
    );
    for _ in 0..2 {
        kept.wait_for(Duration::from_secs(5), |e| {
            matches!(e, Event::Mapped { .. })
        });
    }
    assert!(!no_mappings_left(&tb));
    kept.finish(false);
    assert!(
        no_mappings_left(&tb),
        "drop left mappings: {}",
        tb.upnpc(&["-l"]).unwrap()
    );
}

#[test]
fn a_killed_process_leaves_nothing_past_its_lease() {
    let Some(tb) = testbed(
        "a_killed_process_leaves_nothing_past_its_lease",
        short_lease_config(),
    ) else {
        return;
    };
    let mut child = tb
        .lan()
        .command(env!("CARGO_BIN_EXE_pfwd-testbed"))
        .args(["keep", "8090", "4"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "mapped");
    // The router's own rules are the precise witness (upnpc -l takes 2 s).
    let held = |tb: &Testbed| tb.ruleset().contains("dport 8090");
    assert!(held(&tb), "the keeper's mapping is not on the router");
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    // The lease is 4 s: the router drops the mapping when it ends.
    while held(&tb) {
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "a mapping outlived its killed owner by 15 s: {}",
            tb.ruleset()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "the killed process's mapping was gone {} ms after the kill",
        killed.elapsed().as_millis()
    );
}

#[test]
fn a_restart_announcement_is_acted_on_at_once() {
    let Some(mut tb) = testbed(
        "a_restart_announcement_is_acted_on_at_once",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    let mut options = KeeperOptions::default();
    options.check_interval = None; // only the announcement can tell
    options.announce_from = Some(pfwd_testbed::GATEWAY_LAN);
    let kept = Kept::start(&tb, Via::Pcp, vec![request(8080, 600)], options);
    let (_, e) = kept.wait_for(Duration::from_secs(5), |e| {
        matches!(e, Event::Mapped { .. })
    });
    let Event::Mapped { mapping, .. } = e else {
        unreachable!()
    };
    let restarted = Instant::now();
    tb.restart_daemon().unwrap();
    let (_, lost) = kept.wait_for(Duration::from_secs(5), |e| matches!(e, Event::Lost { .. }));
    assert!(lost.to_string().contains("announced a restart"), "{lost}");
    let (at, _) = kept.wait_for(Duration::from_secs(5), |e| {
        matches!(e, Event::Restored { .. })
    });
    eprintln!(
        "restored {} ms after the restart, on the gateway's announcement",
        (at - restarted).as_millis()
    );
    assert!(reaches(&tb, Protocol::Tcp, mapping.external().port(), 8080));
    kept.finish(true);
}
