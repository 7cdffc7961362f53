//! The keeper's schedule on a paused, virtual tokio clock, with an in-memory
//! forwarder: no sockets, no sleeping.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::*;
use crate::forwarder::BoxFuture;
use crate::mapping::{Method, MethodState, Protocol};

#[derive(Debug, Default)]
struct Fake {
    /// Fail this many map calls from now on.
    fail: AtomicU32,
    /// Report every mapping lost at the next check.
    restarted: AtomicBool,
    external: Mutex<Option<Ipv4Addr>>,
    maps: Mutex<Vec<Instant>>,
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
            lock(&self.unmaps).push(m.external().port());
            Ok(())
        })
    }
    fn lost<'a>(&'a self, _m: &'a Mapping) -> BoxFuture<'a, crate::Result<bool>> {
        Box::pin(async move { Ok(self.restarted.swap(false, Ordering::SeqCst)) })
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
    assert_eq!(keeper.close().await, 1);
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
    assert_eq!(keeper.close().await, 1);
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
