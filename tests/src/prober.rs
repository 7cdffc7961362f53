//! The outside prober (`pfwd_core::check::prober`) running in a testbed's
//! wan namespace, for the tests of `check` in every language.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use pfwd_core::check::prober::{Counts, Limits, ProbeServer};
use tokio::sync::oneshot;

use crate::{Netns, Testbed, WAN_HOST};

/// The port the testbed's prober listens on (the prober's default).
pub const PROBER_PORT: u16 = pfwd_core::check::PROBER_PORT;

/// A prober listening on `WAN_HOST:PROBER_PORT` in the wan namespace until
/// dropped or [`stop`](Prober::stop)ped.
#[derive(Debug)]
pub struct Prober {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Counts>>,
    address: SocketAddrV4,
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
        let address = SocketAddrV4::new(WAN_HOST, PROBER_PORT);
        let wan = tb.wan().name().to_string();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let ns = Netns::attach(&wan);
            ns.block_on(move || async move {
                let server = match ProbeServer::bind(SocketAddr::V4(address), limits).await {
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
            stop: Some(stop),
            thread: Some(thread),
            address,
        }
    }

    /// Its URL, as `--via` and `via=` take it.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Its address.
    pub fn address(&self) -> (Ipv4Addr, u16) {
        (*self.address.ip(), self.address.port())
    }

    /// Stop it, and say what it counted.
    pub fn stop(mut self) -> Counts {
        self.finish()
    }

    fn finish(&mut self) -> Counts {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
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
