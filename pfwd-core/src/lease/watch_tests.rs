//! The keeper's checks (deleted behind its back, refreshed where the
//! gateway cannot tell, a new external address) and its records (one keeper
//! per mapping, take-over), on a paused clock with an in-memory gateway.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use super::*;
use crate::forwarder::{BoxFuture, Presence};
use crate::gateway::GatewayInfo;
use crate::mapping::{Lease, Method, MethodState, Protocol};
use crate::record::Record;
use crate::state::StateDir;

#[derive(Debug)]
struct Gateway {
    presence: Mutex<Presence>,
    external: Mutex<Ipv4Addr>,
    /// Each map call: whether it was a renewal.
    maps: Mutex<Vec<bool>>,
    unmaps: Mutex<Vec<u16>>,
}

impl Gateway {
    fn new(presence: Presence) -> Arc<Gateway> {
        Arc::new(Gateway {
            presence: Mutex::new(presence),
            external: Mutex::new(Ipv4Addr::new(5, 5, 5, 7)),
            maps: Mutex::new(Vec::new()),
            unmaps: Mutex::new(Vec::new()),
        })
    }
}

fn info() -> GatewayInfo {
    GatewayInfo {
        interface: None,
        gateway: Ipv4Addr::new(192, 168, 1, 1),
        local: Ipv4Addr::new(192, 168, 1, 4),
        lan: None,
    }
}

impl Forwarder for Gateway {
    fn method(&self) -> Method {
        Method::Pcp
    }
    fn external_address(&self) -> BoxFuture<'_, crate::Result<Ipv4Addr>> {
        Box::pin(async { Ok(*lock(&self.external)) })
    }
    fn map<'a>(&'a self, r: &'a MappingRequest) -> BoxFuture<'a, crate::Result<Mapping>> {
        Box::pin(async move {
            lock(&self.maps).push(r.previous().is_some());
            let mut presence = lock(&self.presence);
            if *presence == Presence::Lost {
                *presence = Presence::Held;
            }
            drop(presence);
            Ok(mapping(
                *lock(&self.external),
                r.external_port().unwrap_or(r.internal_port()),
            ))
        })
    }
    fn unmap<'a>(&'a self, m: &'a Mapping) -> BoxFuture<'a, crate::Result<()>> {
        Box::pin(async move {
            lock(&self.unmaps).push(m.external().port());
            Ok(())
        })
    }
    fn presence<'a>(&'a self, _m: &'a Mapping) -> BoxFuture<'a, crate::Result<Presence>> {
        Box::pin(async move { Ok(*lock(&self.presence)) })
    }
    fn gateway(&self) -> Option<GatewayInfo> {
        Some(info())
    }
}

fn mapping(external: Ipv4Addr, port: u16) -> Mapping {
    Mapping::new(
        Method::Pcp,
        Protocol::Tcp,
        Ipv4Addr::new(192, 168, 1, 1),
        SocketAddrV4::new(external, port),
        SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), port),
        Lease::Finite(Duration::from_secs(3600)),
        std::time::Instant::now(),
        "test",
        MethodState::Pcp {
            nonce: [7; 12],
            epoch: 1,
            generation: 0,
        },
    )
}

fn web() -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, 8090)
        .lease(Duration::from_secs(3600))
        .build()
        .unwrap()
}

fn checking_every(secs: u64) -> KeeperOptions {
    KeeperOptions {
        check_interval: Some(Duration::from_secs(secs)),
        ..KeeperOptions::default()
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pfwd-keeper-{name}-{}", std::process::id()))
}

async fn mapped(keeper: &mut Keeper) -> Mapping {
    match keeper.next_event().await {
        Some(Event::Mapped { mapping, .. }) => mapping,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_mapping_deleted_behind_its_back_is_lost_and_restored_at_the_next_check() {
    let gw = Gateway::new(Presence::Held);
    let mut keeper = Keeper::start(gw.clone(), [web()], checking_every(2));
    mapped(&mut keeper).await;
    *lock(&gw.presence) = Presence::Lost;
    let t0 = tokio::time::Instant::now();
    match keeper.next_event().await {
        Some(Event::Lost { reason, .. }) => {
            assert!(reason.contains("behind pfwd's back"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        keeper.next_event().await,
        Some(Event::Restored { .. })
    ));
    assert!(t0.elapsed() <= Duration::from_secs(2));
    // Restored as a renewal (the same nonce), not a second mapping.
    assert_eq!(*lock(&gw.maps), [false, true]);
    keeper.close().await;
}

#[tokio::test(start_paused = true)]
async fn where_the_gateway_cannot_tell_the_mapping_is_refreshed_quietly() {
    let gw = Gateway::new(Presence::Unknown);
    let mut keeper = Keeper::start(gw.clone(), [web()], checking_every(2));
    mapped(&mut keeper).await;
    tokio::time::sleep(Duration::from_millis(6500)).await;
    // Three checks, three renewals, no event (nothing was seen to change).
    assert_eq!(*lock(&gw.maps), [false, true, true, true]);
    let report = keeper.close().await;
    assert_eq!(report.deleted_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_new_external_address_is_reported_and_every_mapping_follows() {
    let gw = Gateway::new(Presence::Held);
    let mut keeper = Keeper::start(gw.clone(), [web()], checking_every(2));
    mapped(&mut keeper).await;
    *lock(&gw.external) = Ipv4Addr::new(5, 5, 5, 9);
    match keeper.next_event().await {
        Some(Event::ExternalAddressChanged { old, new }) => {
            assert_eq!(
                (old, new),
                (Ipv4Addr::new(5, 5, 5, 7), Ipv4Addr::new(5, 5, 5, 9))
            );
        }
        other => panic!("{other:?}"),
    }
    match keeper.next_event().await {
        Some(Event::Renewed { mapping, .. }) => {
            assert_eq!(mapping.external().ip(), Ipv4Addr::new(5, 5, 5, 9));
        }
        other => panic!("{other:?}"),
    }
    keeper.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_mapping_another_live_process_keeps_is_refused_or_taken_over() {
    let dir = temp("rival");
    let state = StateDir::new(&dir);
    // Process 1 (init, always alive) keeps it.
    let theirs = mapping(Ipv4Addr::new(5, 5, 5, 7), 8090);
    state.put(&Record::new(theirs.clone(), Some(1))).unwrap();
    let options = |take_over| KeeperOptions {
        state_dir: Some(state.clone()),
        take_over,
        ..KeeperOptions::default()
    };
    let gw = Gateway::new(Presence::Held);
    let mut keeper = Keeper::start(gw.clone(), [web()], options(false));
    match keeper.next_event().await {
        Some(Event::Failed { error, .. }) => {
            let text = error.to_string();
            assert!(text.contains("pfwd process 1"), "{text}");
            assert_eq!(error.kind(), crate::ErrorKind::Conflict);
            assert_eq!(error.holder().and_then(|h| h.process), Some(1));
        }
        other => panic!("{other:?}"),
    }
    assert!(lock(&gw.maps).is_empty(), "nothing sent to the gateway");
    keeper.close().await;
    assert_eq!(state.get(&theirs).and_then(|r| r.kept_by), Some(1));

    // Taken over: renewed with its recorded state, recorded as ours.
    let mut keeper = Keeper::start(gw.clone(), [web()], options(true));
    mapped(&mut keeper).await;
    assert_eq!(*lock(&gw.maps), [true]);
    assert_eq!(
        state.get(&theirs).and_then(|r| r.kept_by),
        Some(std::process::id())
    );
    let report = keeper.close().await;
    assert_eq!(report.deleted_count(), 1);
    assert!(
        state.get(&theirs).is_none(),
        "a deleted mapping's record goes"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_mapping_taken_over_by_another_process_is_let_go_not_deleted() {
    let dir = temp("taken");
    let state = StateDir::new(&dir);
    let gw = Gateway::new(Presence::Held);
    let options = KeeperOptions {
        state_dir: Some(state.clone()),
        ..checking_every(2)
    };
    let mut keeper = Keeper::start(gw.clone(), [web()], options);
    let ours = mapped(&mut keeper).await;
    assert_eq!(
        state.get(&ours).and_then(|r| r.kept_by),
        Some(std::process::id())
    );
    // Process 1 takes it over (it rewrites the record).
    state.put(&Record::new(ours.clone(), Some(1))).unwrap();
    match keeper.next_event().await {
        Some(Event::TakenOver { by, mapping, .. }) => {
            assert_eq!(by, 1);
            assert_eq!(mapping.external(), ours.external());
        }
        other => panic!("{other:?}"),
    }
    assert!(keeper.mappings().is_empty());
    let report = keeper.close().await;
    assert_eq!(report.deleted_count(), 0);
    assert!(lock(&gw.unmaps).is_empty(), "not deleted");
    assert_eq!(state.get(&ours).and_then(|r| r.kept_by), Some(1));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_mapping_left_on_the_gateway_keeps_its_record_kept_by_nobody() {
    let dir = temp("left");
    let state = StateDir::new(&dir);
    #[derive(Debug)]
    struct NoDelete(Arc<Gateway>);
    impl Forwarder for NoDelete {
        fn method(&self) -> Method {
            Method::Pcp
        }
        fn external_address(&self) -> BoxFuture<'_, crate::Result<Ipv4Addr>> {
            self.0.external_address()
        }
        fn map<'a>(&'a self, r: &'a MappingRequest) -> BoxFuture<'a, crate::Result<Mapping>> {
            self.0.map(r)
        }
        fn unmap<'a>(&'a self, _m: &'a Mapping) -> BoxFuture<'a, crate::Result<()>> {
            Box::pin(std::future::pending())
        }
    }
    let options = KeeperOptions {
        state_dir: Some(state.clone()),
        close_timeout: Duration::from_secs(1),
        ..KeeperOptions::default()
    };
    let mut keeper = Keeper::start(
        Arc::new(NoDelete(Gateway::new(Presence::Held))),
        [web()],
        options,
    );
    let m = mapped(&mut keeper).await;
    let report = keeper.close().await;
    assert_eq!(report.left.len(), 1);
    let record = state.get(&m).expect("the record stays for a later unmap");
    assert_eq!(record.kept_by, None);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_deletion_whose_answer_came_too_late_is_not_reported_as_left() {
    /// Deletes at once but answers too late; a second delete finds nothing
    /// and is refused, as miniupnpd does (NO_RESOURCES).
    #[derive(Debug)]
    struct Late {
        gw: Arc<Gateway>,
        deletes: Mutex<u32>,
        /// The gateway cannot tell whether it holds a mapping.
        unknown: Mutex<bool>,
    }
    impl Forwarder for Late {
        fn method(&self) -> Method {
            Method::Pcp
        }
        fn external_address(&self) -> BoxFuture<'_, crate::Result<Ipv4Addr>> {
            self.gw.external_address()
        }
        fn map<'a>(&'a self, r: &'a MappingRequest) -> BoxFuture<'a, crate::Result<Mapping>> {
            self.gw.map(r)
        }
        fn unmap<'a>(&'a self, _m: &'a Mapping) -> BoxFuture<'a, crate::Result<()>> {
            Box::pin(async move {
                if !*lock(&self.unknown) {
                    *lock(&self.gw.presence) = Presence::Lost;
                }
                let n = {
                    let mut d = lock(&self.deletes);
                    *d += 1;
                    *d
                };
                Err(if n == 1 {
                    Error::Timeout {
                        method: Method::Pcp,
                        operation: "deleting".into(),
                        after: Duration::from_secs(4),
                    }
                } else {
                    Error::Refused {
                        method: Method::Pcp,
                        what: "deleting".into(),
                        code: crate::error::GatewayCode::Pcp(
                            crate::wire::pcp::ResultCode::NoResources,
                        ),
                    }
                })
            })
        }
        fn presence<'a>(&'a self, m: &'a Mapping) -> BoxFuture<'a, crate::Result<Presence>> {
            self.gw.presence(m)
        }
    }
    // The gateway tells it lost the mapping; or it cannot tell, and the
    // refusal is miniupnpd's "no such PCP mapping".
    for presence in [Presence::Held, Presence::Unknown] {
        let late = Arc::new(Late {
            gw: Gateway::new(presence),
            deletes: Mutex::new(0),
            unknown: Mutex::new(false),
        });
        let mut keeper = Keeper::start(late.clone(), [web()], KeeperOptions::default());
        mapped(&mut keeper).await;
        if presence == Presence::Unknown {
            *lock(&late.unknown) = true;
        }
        let report = keeper.close().await;
        assert_eq!(report.deleted_count(), 1, "{presence:?}: {report}");
        assert!(report.is_clean(), "{report}");
        assert_eq!(*lock(&late.deletes), 2);
    }
}
