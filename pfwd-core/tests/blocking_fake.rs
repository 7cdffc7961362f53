//! The blocking API against a fake PCP router on loopback: plain threads,
//! shared clients, deadlines, cancellation, interrupts, callbacks, drop,
//! shutdown and fork. The real-router tests are in tests/gateway/blocking.rs.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod fakes;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fakes::pmp::{Fake, client_options, natpmp_answer, pcp_answer};
use pfwd_core::blocking::{self, Call, CancelToken, Client};
use pfwd_core::lease::{Event, Keep, KeeperOptions};
use pfwd_core::{Error, MappingRequest, Method, Protocol};

/// `blocking::shutdown()` closes every keeper of the process: the test of
/// it runs alone, the other keeper tests share this lock.
static KEEPERS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn keepers_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    KEEPERS.read().unwrap_or_else(|p| p.into_inner())
}

fn pcp_router() -> Fake {
    blocking::runtime()
        .unwrap()
        .block_on(Fake::start(Box::new(|req: &[u8]| {
            // Grant the suggested external port (MAP payload bytes 18-19).
            let port = req
                .get(42..44)
                .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
            match req[0] {
                0 => natpmp_answer(req, 100).into_iter().collect(),
                _ => pcp_answer(req, 100, port).into_iter().collect(),
            }
        })))
}

fn slow_router(delay: Duration) -> Fake {
    blocking::runtime().unwrap().block_on(Fake::slow_pcp(delay))
}

fn request(port: u16) -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, port)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap()
}

fn quick_keeper() -> KeeperOptions {
    let mut o = KeeperOptions::default();
    o.check_interval = None;
    o.close_timeout = Duration::from_secs(2);
    o
}

/// Wait (bounded) until `check` holds.
fn eventually(what: &str, check: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(3);
    while !check() {
        assert!(Instant::now() < until, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn forward_and_unmap_from_a_plain_thread() {
    let fake = pcp_router();
    let (client, m) =
        Client::forward(client_options(fake.port), &request(8080), &Call::new()).unwrap();
    assert_eq!(m.method(), Method::Pcp);
    assert_eq!(m.external().port(), 8080);
    let renewed = client.renew(&m, &Call::new()).unwrap();
    assert_eq!(renewed.state(), m.state(), "a renewal keeps the nonce");
    client.unmap(&m, &Call::new()).unwrap();
    let maps = fake.pcp_maps();
    assert_eq!(maps.len(), 3, "{maps:?}");
    assert!(maps.iter().all(|(n, _)| *n == maps[0].0));
    assert_eq!(maps[2].1, 0);
}

#[test]
fn threads_share_one_client() {
    let fake = pcp_router();
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    let ports: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let client = &client;
                s.spawn(move || client.map(&request(9000 + i), &Call::new()).unwrap())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().external().port())
            .collect()
    });
    assert_eq!(ports, (9000..9006).collect::<Vec<_>>());
}

#[test]
fn a_cancelled_map_leaves_nothing_on_the_router() {
    let fake = slow_router(Duration::from_millis(500));
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    let token = CancelToken::new();
    let canceller = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        canceller.cancel();
    });
    let t0 = Instant::now();
    let err = client
        .map(&request(8081), &Call::new().cancel_token(&token))
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    // Granted at 500 ms, then deleted with its nonce.
    eventually("the late mapping is deleted", || {
        let maps = fake.pcp_maps();
        maps.iter()
            .any(|(n, l)| *l == 0 && maps.iter().any(|(m, c)| m == n && *c > 0))
    });
    // A cancelled token stops later calls at once.
    assert!(matches!(
        client.map(&request(8082), &Call::new().cancel_token(&token)),
        Err(Error::Cancelled { .. })
    ));
}

#[test]
fn an_interrupt_hook_stops_the_wait() {
    let fake = slow_router(Duration::from_millis(800));
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    let checks = Arc::new(AtomicUsize::new(0));
    let seen = checks.clone();
    let hook = move || seen.fetch_add(1, Ordering::SeqCst) >= 2;
    let t0 = Instant::now();
    let err = client
        .map(&request(8083), &Call::new().interrupt(hook))
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    assert!(err.to_string().contains("interrupted"), "{err}");
    // Checked about every 100 ms: three checks, well before the answer.
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(700), "{took:?}");
    assert_eq!(checks.load(Ordering::SeqCst), 3);
}

#[test]
fn a_call_past_its_deadline_times_out_and_cleans_up() {
    let fake = slow_router(Duration::from_millis(400));
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    let err = client
        .map(
            &request(8084),
            &Call::new().timeout(Duration::from_millis(150)),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(err.kind(), pfwd_core::ErrorKind::Timeout);
    eventually("the late mapping is deleted", || {
        fake.pcp_maps().iter().any(|(_, l)| *l == 0)
    });
}

#[test]
fn a_blocking_call_inside_a_callback_is_refused_not_deadlocked() {
    let _keepers = keepers_shared();
    let fake = pcp_router();
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    let keeper = client.keep([request(8085)], quick_keeper()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let inner = client.clone();
    let keeper_in_callback = keeper.clone();
    keeper
        .on_event(move |event| {
            if let Event::Mapped { .. } = event {
                let map = inner.map(&request(8086), &Call::new());
                let close = keeper_in_callback.close(&Call::new());
                let _ = tx.send((map.err(), close.err()));
            }
        })
        .unwrap();
    let (map, close) = rx.recv_timeout(Duration::from_secs(3)).unwrap();
    assert!(matches!(map, Some(Error::WouldDeadlock { .. })), "{map:?}");
    assert!(
        matches!(close, Some(Error::WouldDeadlock { .. })),
        "{close:?}"
    );
    assert!(
        map.unwrap().to_string().contains("callback"),
        "the message says where"
    );
    assert_eq!(keeper.close(&Call::new()).unwrap().deleted_count(), 1);
}

#[tokio::test]
async fn a_blocking_call_on_an_async_runtime_thread_is_refused() {
    let fake = Fake::start(Box::new(|req: &[u8]| {
        pcp_answer(req, 100, 8087).into_iter().collect()
    }))
    .await;
    let err = Client::discover(client_options(fake.port), &Call::new()).unwrap_err();
    assert!(matches!(err, Error::WouldDeadlock { .. }), "{err:?}");
    assert!(err.to_string().contains("async"), "{err}");
}

#[test]
fn events_by_polling_end_with_closed() {
    let _keepers = keepers_shared();
    let fake = pcp_router();
    let (client, m) =
        Client::forward(client_options(fake.port), &request(8088), &Call::new()).unwrap();
    let keeper = client
        .keep([Keep::held(request(8088), m.clone())], quick_keeper())
        .unwrap();
    let Some(Event::Mapped { index: 0, mapping }) =
        keeper.next_event(Duration::from_secs(5)).unwrap()
    else {
        panic!("no Mapped event")
    };
    assert_eq!(mapping, m);
    assert!(
        keeper
            .next_event(Duration::from_millis(50))
            .unwrap()
            .is_none()
    );
    let added = keeper.add(request(8089)).unwrap();
    assert!(matches!(
        keeper.next_event(Duration::from_secs(5)).unwrap(),
        Some(Event::Mapped { index, .. }) if index == added
    ));
    assert_eq!(keeper.mappings().len(), 2);
    let report = keeper.close(&Call::new()).unwrap();
    assert_eq!(report.deleted_count(), 2);
    assert!(matches!(
        keeper.next_event(Duration::from_secs(5)).unwrap(),
        Some(Event::Closed { .. })
    ));
    assert!(matches!(
        keeper.next_event(Duration::from_secs(5)),
        Err(Error::Closed { .. })
    ));
    // Closing again gives the same report; adding is refused.
    assert_eq!(keeper.close(&Call::new()).unwrap().deleted_count(), 2);
    assert!(matches!(
        keeper.add(request(8090)),
        Err(Error::Closed { .. })
    ));
    // One PCP MAP for the forward, none again when the keeper adopted it.
    let creates = fake.pcp_maps().iter().filter(|(_, l)| *l > 0).count();
    assert_eq!(creates, 2, "{:?}", fake.pcp_maps());
}

#[test]
fn callbacks_get_every_event_in_order_closed_last() {
    let _keepers = keepers_shared();
    let fake = pcp_router();
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    let keeper = client
        .keep([request(8091), request(8092)], quick_keeper())
        .unwrap();
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = got.clone();
    keeper
        .on_event(move |e| {
            if matches!(e, Event::Mapped { index: 0, .. }) {
                panic!("a panicking callback must not stop the others");
            }
            log.lock().unwrap().push(e)
        })
        .unwrap();
    assert!(keeper.on_event(|_| {}).is_err(), "one callback only");
    assert!(
        keeper.next_event(Duration::ZERO).is_err(),
        "events go to the callback"
    );
    eventually("both mapped", || keeper.mappings().len() == 2);
    keeper.close(&Call::new()).unwrap();
    // close() returns once the callback has had Closed.
    let events = got.lock().unwrap().clone();
    assert!(
        matches!(events.last(), Some(Event::Closed { .. })),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Mapped { index: 1, .. }))
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        got.lock().unwrap().len(),
        events.len(),
        "nothing after Closed"
    );
}

#[test]
fn dropping_a_keeper_deletes_its_mappings() {
    let _keepers = keepers_shared();
    let fake = pcp_router();
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    let keeper = client.keep([request(8093)], quick_keeper()).unwrap();
    eventually("mapped", || keeper.mappings().len() == 1);
    drop(keeper);
    // The drop waited for the delete.
    assert!(fake.pcp_maps().iter().any(|(_, l)| *l == 0));
}

#[test]
fn shutdown_closes_every_live_keeper() {
    let _alone = KEEPERS.write().unwrap_or_else(|p| p.into_inner());
    let fake = pcp_router();
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    let a = client.keep([request(8094)], quick_keeper()).unwrap();
    let b = client.keep([request(8095)], quick_keeper()).unwrap();
    eventually("mapped", || a.mappings().len() + b.mappings().len() == 2);
    assert_eq!(blocking::shutdown(), 2);
    let deletes = fake.pcp_maps().iter().filter(|(_, l)| *l == 0).count();
    assert_eq!(deletes, 2);
    assert!(matches!(a.add(request(8096)), Err(Error::Closed { .. })));
    assert_eq!(b.close(&Call::new()).unwrap().deleted_count(), 1);
}

#[test]
fn a_forked_child_gets_a_clear_error_from_the_parents_handles() {
    let fake = pcp_router();
    let client = Client::discover(client_options(fake.port), &Call::new()).unwrap();
    // SAFETY: the child only calls pfwd's owner check (no locks taken
    // before it fails) and then _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = matches!(
            client.map(&request(8097), &Call::new()),
            Err(Error::Closed { .. })
        );
        // SAFETY: _exit ends the child without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status}"
    );
    // The parent's client still works.
    client.map(&request(8098), &Call::new()).unwrap();
}
