//! The keeper's schedule on a paused, virtual tokio clock, with an in-memory
//! forwarder: no sockets, no sleeping.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::policy::random_fraction;
use super::*;
use crate::forwarder::BoxFuture;
use crate::mapping::{Lease, Method, MethodState, Protocol};
use tokio::time::Instant;

#[derive(Debug, Default)]
struct Fake {
    /// Fail this many map calls from now on.
    fail: AtomicU32,
    /// Report every mapping lost at the next check.
    restarted: AtomicBool,
    /// `lost` answers with an error.
    check_fails: AtomicBool,
    /// `unmap` answers with an error.
    unmap_fails: AtomicBool,
    /// Renewals (requests with a previous mapping) are refused.
    refuse_renewals: AtomicBool,
    external: Mutex<Option<Ipv4Addr>>,
    maps: Mutex<Vec<Instant>>,
    /// Whether each map call was a renewal.
    renewals: Mutex<Vec<bool>>,
    unmaps: Mutex<Vec<u16>>,
}

impl Forwarder for Fake {
    fn method(&self) -> Method {
        Method::Pcp
    }
    fn external_address(&self) -> BoxFuture<'_, crate::Result<Ipv4Addr>> {
        Box::pin(async { Ok(Ipv4Addr::new(5, 5, 5, 7)) })
    }
    fn map<'a>(&'a self, r: &'a MappingRequest) -> BoxFuture<'a, crate::Result<Mapping>> {
        Box::pin(async move {
            lock(&self.maps).push(Instant::now());
            lock(&self.renewals).push(r.previous().is_some());
            if r.previous().is_some() && self.refuse_renewals.load(Ordering::SeqCst) {
                return Err(Error::Refused {
                    method: Method::Pcp,
                    what: "test".into(),
                    code: crate::error::GatewayCode::Pcp(
                        crate::wire::pcp::ResultCode::NotAuthorized,
                    ),
                });
            }
            if self.fail.load(Ordering::SeqCst) > 0 {
                self.fail.fetch_sub(1, Ordering::SeqCst);
                return Err(Error::Timeout {
                    method: Method::Pcp,
                    operation: "test".into(),
                    after: Duration::from_secs(1),
                });
            }
            let ip = lock(&self.external).unwrap_or(Ipv4Addr::new(5, 5, 5, 7));
            Ok(Mapping::new(
                Method::Pcp,
                r.protocol(),
                Ipv4Addr::new(192, 168, 1, 1),
                SocketAddrV4::new(ip, r.external_port().unwrap_or(40000)),
                SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), r.internal_port()),
                r.lease(),
                std::time::Instant::now(),
                r.description(),
                MethodState::None,
            ))
        })
    }
    fn unmap<'a>(&'a self, m: &'a Mapping) -> BoxFuture<'a, crate::Result<()>> {
        Box::pin(async move {
            if self.unmap_fails.load(Ordering::SeqCst) {
                return Err(Error::Timeout {
                    method: Method::Pcp,
                    operation: "test delete".into(),
                    after: Duration::from_secs(1),
                });
            }
            lock(&self.unmaps).push(m.external().port());
            Ok(())
        })
    }
    fn lost<'a>(&'a self, _m: &'a Mapping) -> BoxFuture<'a, crate::Result<bool>> {
        Box::pin(async move {
            if self.check_fails.load(Ordering::SeqCst) {
                return Err(Error::Timeout {
                    method: Method::Pcp,
                    operation: "test check".into(),
                    after: Duration::from_secs(1),
                });
            }
            Ok(self.restarted.swap(false, Ordering::SeqCst))
        })
    }
}

fn request(port: u16, lease_secs: u64) -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, port)
        .lease(Duration::from_secs(lease_secs))
        .build()
        .unwrap()
}

fn no_checks() -> KeeperOptions {
    KeeperOptions {
        check_interval: None,
        ..KeeperOptions::default()
    }
}

#[test]
fn renewal_points_and_backoff() {
    let l = Duration::from_secs(100);
    assert_eq!(renew_delay(l, 0.0), Duration::from_secs(50));
    assert_eq!(renew_delay(l, 1.0), Duration::from_millis(62_500));
    for _ in 0..1000 {
        let f = random_fraction();
        assert!((0.5..=0.625).contains(&f), "{f}");
    }
    let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
    let waits: Vec<u64> = (1..=8)
        .map(|n| retry_delay(n, min, max).as_secs())
        .collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
}

#[tokio::test(start_paused = true)]
async fn renews_between_half_and_five_eighths_of_the_lease() {
    let fake = Arc::new(Fake::default());
    let start = Instant::now();
    let mut keeper = Keeper::start(fake.clone(), vec![request(80, 100)], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { index: 0, .. })
    ));
    for _ in 0..20 {
        assert!(matches!(
            keeper.next_event().await,
            Some(Event::Renewed { index: 0, .. })
        ));
    }
    let maps = lock(&fake.maps).clone();
    assert_eq!(maps.len(), 21);
    for pair in maps.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_secs(50) && gap <= Duration::from_millis(62_500),
            "{gap:?}"
        );
    }
    // Twenty renewals took 1000-1250 virtual seconds and no real time.
    let virtual_elapsed = Instant::now() - start;
    assert!(
        virtual_elapsed >= Duration::from_secs(1000),
        "{virtual_elapsed:?}"
    );
    assert_eq!(keeper.mappings().len(), 1);
    assert_eq!(keeper.close().await.deleted_count(), 1);
    assert_eq!(*lock(&fake.unmaps), [80]);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_then_map() {
    let fake = Arc::new(Fake::default());
    fake.fail.store(3, Ordering::SeqCst);
    let mut keeper = Keeper::start(fake.clone(), vec![request(80, 100)], no_checks());
    let mut waits = Vec::new();
    loop {
        match keeper.next_event().await.unwrap() {
            Event::Failed {
                retry_in, error, ..
            } => {
                assert!(matches!(*error, Error::Timeout { .. }));
                waits.push(retry_in.as_secs());
            }
            Event::Mapped { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, [1, 2, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_lease_that_ends_while_renewals_fail_is_lost_then_restored() {
    let fake = Arc::new(Fake::default());
    let mut keeper = Keeper::start(fake.clone(), vec![request(80, 10)], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { .. })
    ));
    // The gateway goes away: every attempt fails for a while.
    fake.fail.store(6, Ordering::SeqCst);
    let mut saw_lost = false;
    loop {
        match keeper.next_event().await.unwrap() {
            Event::Failed { .. } => {}
            Event::Lost { reason, .. } => {
                assert!(reason.contains("lease ended"), "{reason}");
                assert!(keeper.mappings().is_empty());
                saw_lost = true;
            }
            Event::Restored { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(saw_lost);
    assert_eq!(keeper.mappings().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_restart_seen_by_the_check_is_repaired_at_once() {
    let fake = Arc::new(Fake::default());
    let options = KeeperOptions {
        check_interval: Some(Duration::from_secs(5)),
        ..KeeperOptions::default()
    };
    let mut keeper = Keeper::start(
        fake.clone(),
        vec![request(80, 3600), request(443, 3600)],
        options,
    );
    let mut mapped = 0;
    while mapped < 2 {
        if let Some(Event::Mapped { .. }) = keeper.next_event().await {
            mapped += 1;
        }
    }
    let before = Instant::now();
    fake.restarted.store(true, Ordering::SeqCst);
    let Some(Event::Lost { index, .. }) = keeper.next_event().await else {
        panic!()
    };
    let Some(Event::Restored { index: again, .. }) = keeper.next_event().await else {
        panic!()
    };
    assert_eq!(index, again);
    // Repaired at the first check, 5 s later, not at the next renewal (~30 min).
    assert!(Instant::now() - before <= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn an_external_address_change_is_reported() {
    let fake = Arc::new(Fake::default());
    let mut keeper = Keeper::start(fake.clone(), vec![request(80, 100)], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { .. })
    ));
    *lock(&fake.external) = Some(Ipv4Addr::new(5, 5, 5, 99));
    match keeper.next_event().await {
        Some(Event::ExternalAddressChanged { old, new }) => {
            assert_eq!(
                (old, new),
                (Ipv4Addr::new(5, 5, 5, 7), Ipv4Addr::new(5, 5, 5, 99))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Renewed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_keeper_deletes_its_mappings() {
    let fake = Arc::new(Fake::default());
    let mut keeper = Keeper::start(
        fake.clone(),
        vec![request(80, 100), request(81, 100)],
        no_checks(),
    );
    for _ in 0..2 {
        assert!(matches!(
            keeper.next_event().await,
            Some(Event::Mapped { .. })
        ));
    }
    drop(keeper);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let mut deleted = lock(&fake.unmaps).clone();
    deleted.sort_unstable();
    assert_eq!(deleted, [80, 81]);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_mapping_is_not_renewed_and_is_deleted_on_close() {
    let fake = Arc::new(Fake::default());
    let permanent = MappingRequest::builder(Protocol::Tcp, 80)
        .permanent()
        .build()
        .unwrap();
    let mut keeper = Keeper::start(fake.clone(), vec![permanent], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { .. })
    ));
    tokio::time::sleep(Duration::from_secs(30 * 24 * 3600)).await;
    assert_eq!(lock(&fake.maps).len(), 1, "a permanent lease was renewed");
    assert_eq!(keeper.close().await.deleted_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn events_are_a_stream() {
    let fake = Arc::new(Fake::default());
    let mut keeper = Keeper::start(fake, vec![request(80, 100)], no_checks());
    let first = std::future::poll_fn(|cx| {
        futures_core::Stream::poll_next(std::pin::Pin::new(&mut keeper), cx)
    })
    .await;
    assert!(matches!(first, Some(Event::Mapped { .. })));
}

fn granted(port: u16, lease_secs: u64, at: std::time::Instant) -> Mapping {
    Mapping::new(
        Method::Pcp,
        Protocol::Tcp,
        Ipv4Addr::new(192, 168, 1, 1),
        SocketAddrV4::new(Ipv4Addr::new(5, 5, 5, 7), port),
        SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), port),
        Lease::Finite(Duration::from_secs(lease_secs)),
        at,
        "test",
        MethodState::None,
    )
}

#[tokio::test(start_paused = true)]
async fn a_held_mapping_is_reported_at_once_and_renewed_on_schedule() {
    let fake = Arc::new(Fake::default());
    let held = Keep::held(
        request(80, 100),
        granted(80, 100, std::time::Instant::now()),
    );
    let start = Instant::now();
    let mut keeper = Keeper::start(fake.clone(), [held], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { index: 0, .. })
    ));
    assert!(
        lock(&fake.maps).is_empty(),
        "a held mapping was mapped again"
    );
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Renewed { index: 0, .. })
    ));
    let waited = Instant::now() - start;
    assert!(
        waited >= Duration::from_secs(50) && waited <= Duration::from_millis(62_500),
        "{waited:?}"
    );
    assert_eq!(*lock(&fake.renewals), [true]);
}

#[tokio::test(start_paused = true)]
async fn a_recorded_mapping_is_renewed_at_once_not_made_again() {
    let fake = Arc::new(Fake::default());
    let an_hour_ago = std::time::Instant::now()
        .checked_sub(Duration::from_secs(10))
        .unwrap();
    let recorded = Keep::recorded(request(80, 3600), granted(80, 3600, an_hour_ago));
    let mut keeper = Keeper::start(fake.clone(), [recorded], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { index: 0, .. })
    ));
    // One call, a renewal carrying the recorded state.
    assert_eq!(*lock(&fake.renewals), [true]);
}

#[tokio::test(start_paused = true)]
async fn a_recorded_mapping_the_gateway_refuses_is_made_anew_with_a_warning() {
    let fake = Arc::new(Fake::default());
    fake.refuse_renewals.store(true, Ordering::SeqCst);
    let recorded = Keep::recorded(
        request(80, 3600),
        granted(80, 3600, std::time::Instant::now()),
    );
    let mut keeper = Keeper::start(fake.clone(), [recorded], no_checks());
    match keeper.next_event().await {
        Some(Event::Warning {
            index: Some(0),
            message,
            error: Some(e),
        }) => {
            assert!(message.contains("making a new one"), "{message}");
            assert!(matches!(*e, Error::Refused { .. }));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { index: 0, .. })
    ));
    assert_eq!(*lock(&fake.renewals), [true, false]);
}

#[tokio::test(start_paused = true)]
async fn items_are_added_and_removed_while_it_runs() {
    let fake = Arc::new(Fake::default());
    let mut keeper = Keeper::start(fake.clone(), [request(80, 100)], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { index: 0, .. })
    ));
    let second = keeper.add(request(443, 100)).unwrap();
    assert_eq!(second, 1);
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { index: 1, .. })
    ));
    let removed = keeper.remove(0).await.unwrap();
    assert_eq!(removed.map(|m| m.external().port()), Some(80));
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Removed {
            index: 0,
            mapping: Some(_)
        })
    ));
    assert_eq!(*lock(&fake.unmaps), [80]);
    assert!(keeper.remove(0).await.is_err(), "removed twice");
    let left: Vec<usize> = keeper.mappings().iter().map(|(i, _)| *i).collect();
    assert_eq!(left, [1]);
    let report = keeper.close().await;
    assert_eq!(report.deleted_count(), 1);
    assert_eq!(*lock(&fake.unmaps), [80, 443]);
}

#[tokio::test(start_paused = true)]
async fn a_mapping_the_gateway_will_not_delete_is_still_kept_after_remove() {
    let fake = Arc::new(Fake::default());
    let mut keeper = Keeper::start(fake.clone(), [request(80, 100)], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { .. })
    ));
    fake.unmap_fails.store(true, Ordering::SeqCst);
    assert!(matches!(keeper.remove(0).await, Err(Error::Timeout { .. })));
    assert_eq!(keeper.mappings().len(), 1);
}

/// Defect: a close that timed out or failed returned 0, and callers then
/// forgot every mapping, PCP nonces included, though they were still on
/// the router. The report now names what is left.
#[tokio::test(start_paused = true)]
async fn closing_reports_the_mappings_still_on_the_gateway() {
    let fake = Arc::new(Fake::default());
    let mut keeper = Keeper::start(
        fake.clone(),
        [request(80, 100), request(81, 100)],
        no_checks(),
    );
    for _ in 0..2 {
        assert!(matches!(
            keeper.next_event().await,
            Some(Event::Mapped { .. })
        ));
    }
    fake.unmap_fails.store(true, Ordering::SeqCst);
    let report = keeper.close().await;
    assert_eq!(report.deleted_count(), 0);
    let left: Vec<u16> = report
        .left
        .iter()
        .map(|(_, m, _)| m.external().port())
        .collect();
    assert_eq!(left, [80, 81]);
    assert!(!report.is_clean());
    assert!(
        report.to_string().contains("still on the gateway"),
        "{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn closed_is_the_last_event() {
    let fake = Arc::new(Fake::default());
    let mut keeper = Keeper::start(fake, [request(80, 100)], no_checks());
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { .. })
    ));
    let control = keeper.control.clone();
    let report = control.close().await.unwrap();
    assert_eq!(report.deleted_count(), 1);
    match keeper.next_event().await {
        Some(Event::Closed { report }) => assert_eq!(report.deleted_count(), 1),
        other => panic!("{other:?}"),
    }
    assert!(keeper.next_event().await.is_none());
    assert!(matches!(
        keeper.add(request(81, 100)),
        Err(Error::Closed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_reader_that_falls_behind_is_told_how_many_events_it_missed() {
    let fake = Arc::new(Fake::default());
    let options = KeeperOptions {
        event_capacity: 2,
        ..no_checks()
    };
    let requests: Vec<MappingRequest> = (1..=5).map(|p| request(p, 100)).collect();
    let mut keeper = Keeper::start(fake, requests, options);
    // Nobody reads while five mappings are made.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut mapped = 0;
    let mut missed = 0;
    while mapped + missed < 5 {
        match keeper.next_event().await.unwrap() {
            Event::Mapped { .. } => mapped += 1,
            Event::Missed { count } => missed += count,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((mapped, missed), (2, 3));
    assert_eq!(
        keeper.mappings().len(),
        5,
        "renewals do not wait for the reader"
    );
}

/// Defect: a failed check of the gateway was ignored without a word.
#[tokio::test(start_paused = true)]
async fn a_failed_check_is_a_warning_once_per_outage() {
    let fake = Arc::new(Fake::default());
    fake.check_fails.store(true, Ordering::SeqCst);
    let options = KeeperOptions {
        check_interval: Some(Duration::from_secs(5)),
        ..KeeperOptions::default()
    };
    let mut keeper = Keeper::start(fake.clone(), [request(80, 3600)], options);
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Mapped { .. })
    ));
    match keeper.next_event().await {
        Some(Event::Warning {
            index: Some(0),
            message,
            ..
        }) => {
            assert!(message.contains("could not check"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Four more failed checks, and no more warnings: the next event is Closed.
    tokio::time::sleep(Duration::from_secs(21)).await;
    let control = keeper.control.clone();
    assert_eq!(control.close().await.unwrap().deleted_count(), 1);
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Closed { .. })
    ));
    assert!(keeper.next_event().await.is_none());
}

/// Defect: when UDP 5350 could not be opened, the keeper sent
/// `Failed { index: 0 }`, which callers read as request 0 failing.
#[tokio::test(start_paused = true)]
async fn an_unusable_announce_port_is_a_warning_not_a_failure() {
    // Hold 5350 without SO_REUSEPORT, so the keeper's shared bind fails.
    // Binding sends nothing.
    let Ok(_holder) = std::net::UdpSocket::bind("0.0.0.0:5350") else {
        return; // someone else holds it: the keeper's bind may then work
    };
    let fake = Arc::new(Fake::default());
    let options = KeeperOptions {
        announce_from: Some(Ipv4Addr::new(192, 168, 1, 1)),
        ..no_checks()
    };
    let mut keeper = Keeper::start(fake, [request(80, 100)], options);
    let mut saw_warning = false;
    loop {
        match keeper.next_event().await.unwrap() {
            Event::Warning {
                index: None,
                message,
                ..
            } => {
                assert!(message.contains("5350"), "{message}");
                saw_warning = true;
            }
            Event::Mapped { index: 0, .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(saw_warning);
}
