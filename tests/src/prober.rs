//! The outside prober (`pfwd_core::check::prober`) running in a testbed's
//! wan namespace, for the tests of `check` in every language.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use pfwd_core::check::prober::{Counts, Limits, ProbeServer};
use tokio::sync::oneshot;

use crate::{Netns, Testbed, WAN_HOST};

/// The port the testbed's prober listens on (the prober's default).
pub const PROBER_PORT: u16 = pfwd_core::check::PROBER_PORT;

/// A prober listening in the wan namespace (on `WAN_HOST:PROBER_PORT`
/// unless started [`at`](Prober::start_at) another address) until dropped
/// or [`stop`](Prober::stop)ped.
#[derive(Debug)]
pub struct Prober {
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Option<JoinHandle<Counts>>,
    address: SocketAddr,
}

impl Prober {
    /// Start the prober with the default limits in `tb`'s wan namespace.
    ///
    /// # Panics
    ///
    /// When it cannot listen within 5 s (a test failure).
    pub fn start(tb: &Testbed) -> Prober {
        Prober::start_with(tb, Limits::default())
    }

    /// Start the prober with `limits`.
    ///
    /// # Panics
    ///
    /// When it cannot listen within 5 s (a test failure).
    pub fn start_with(tb: &Testbed, limits: Limits) -> Prober {
        let address = SocketAddr::V4(SocketAddrV4::new(WAN_HOST, PROBER_PORT));
        Prober::start_at(tb, address, limits)
    }

    /// Start the prober with `limits` on `address` (in the wan namespace).
    ///
    /// # Panics
    ///
    /// When it cannot listen within 5 s (a test failure).
    pub fn start_at(tb: &Testbed, address: SocketAddr, limits: Limits) -> Prober {
        let wan = tb.wan().name().to_string();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let ns = Netns::attach(&wan);
            ns.block_on(move || async move {
                let server = match ProbeServer::bind(address, limits).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return Counts::default();
                    }
                };
                let counters = server.counters();
                let _ = ready_tx.send(Ok(()));
                server
                    .serve(async {
                        let _ = stopped.await;
                    })
                    .await;
                counters.now()
            })
        });
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the prober cannot listen on {address}: {e}"),
            Err(_) => panic!("the prober did not start listening on {address} in 5 s"),
        }
        Prober {
            stop: Mutex::new(Some(stop)),
            thread: Some(thread),
            address,
        }
    }

    /// Its URL, as `--via` and `via=` take it.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Its address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Tell it to stop (it lets the probes under way finish) without
    /// waiting; [`stop`](Prober::stop) waits and counts.
    pub fn stop_serving(&self) {
        let sender = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(stop) = sender {
            let _ = stop.send(());
        }
    }

    /// Stop it, wait until it has, and say what it counted.
    pub fn stop(mut self) -> Counts {
        self.finish()
    }

    fn finish(&mut self) -> Counts {
        self.stop_serving();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.finish();
    }
}
