//! The outside prober, `pfwd probe-server`: a small HTTP/1.1 server a user
//! runs on a machine outside their network (a VPS), which `pfwd check`
//! asks to probe a port.
//!
//! It probes **only the address the request's TCP connection came from**
//! (the socket's peer: never a header such as `X-Forwarded-For`, never an
//! address in the body, which cannot hold one), so it cannot be turned
//! against anyone else; it refuses to probe its own loopback. The exchange
//! is in [`messages`](crate::check::messages); the bounds are [`Limits`].
//!
//! # Examples
//!
//! Compiled, not run: it listens on a port.
//!
//! ```no_run
//! # async fn f() -> Result<(), pfwd_core::Error> {
//! use pfwd_core::check::prober::{Limits, ProbeServer};
//!
//! let server = ProbeServer::bind("[::]:8099".parse().unwrap(), Limits::default()).await?;
//! // Serve until the future ends (here: never; the command stops at Ctrl-C).
//! server.serve(std::future::pending::<()>()).await;
//! # Ok(()) }
//! ```
//!
//! Inside: `limits` (the bounds, the rate limiter, the connection caps),
//! `probe` (the TCP and UDP probes), `answer` (one request, one answer).

mod answer;
mod limits;
mod probe;

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::StatusCode;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use limits::{Limits, Source};
pub use probe::probe;

use crate::Error;
use crate::check::messages::{PROBE_AT_MOST, ProbeOutcome};
use answer::Shared;
use limits::{ConnPermit, Gate};

/// How long a connection may stay open after its answer, while the server
/// reads and discards what the client still sends (an oversized body), so
/// that closing does not reset the connection before the client has read
/// the answer.
const LINGER: Duration = Duration::from_secs(1);

/// The most bytes discarded that way.
const LINGER_BYTES: usize = 1 << 20;

/// How long a stopping server waits for the probes under way.
const STOP_WAIT: Duration = PROBE_AT_MOST.saturating_add(Duration::from_secs(1));

/// The listen backlog.
const BACKLOG: i32 = 1024;

/// A probe server, bound and ready to [`serve`](ProbeServer::serve).
#[derive(Debug)]
pub struct ProbeServer {
    listener: TcpListener,
    shared: Shared,
}

impl ProbeServer {
    /// Listen on `address` with these `limits`. An IPv6 unspecified address
    /// (`[::]:PORT`) takes IPv4 clients too; they are probed, and reported,
    /// over IPv4.
    pub async fn bind(address: SocketAddr, limits: Limits) -> Result<ProbeServer, Error> {
        limits.check()?;
        let listener =
            listen(address).map_err(|e| Error::io(format!("listening on {address}"), e))?;
        Ok(ProbeServer {
            listener,
            shared: Shared {
                gate: Arc::new(Gate::new(limits)),
                counters: Counters::default(),
            },
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The server's counters, readable while it serves.
    pub fn counters(&self) -> Counters {
        self.shared.counters.clone()
    }

    /// Answer requests until `shutdown` completes; then stop accepting,
    /// close idle connections, let the probes under way finish (at most
    /// [`PROBE_AT_MOST`] and a second), and return.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Some(permit) = self.shared.gate.connection(Source::of(peer.ip())) else {
                            // Over the cap: closed at once, costing nothing more.
                            self.shared.counters.0.dropped.fetch_add(1, Ordering::Relaxed);
                            drop(stream);
                            continue;
                        };
                        self.shared.counters.0.connections.fetch_add(1, Ordering::Relaxed);
                        tasks.spawn(connection(stream, peer, self.shared.clone(), stop_rx.clone(), permit));
                    }
                    Err(e) => accept_failed(&e).await,
                }
            }
        }
        drop(self.listener);
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(STOP_WAIT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            log::warn!("stopping: {} connections cut short", tasks.len());
        }
        tasks.shutdown().await;
    }
}

/// A listening socket for `address`: address reuse (a restart does not
/// wait for old connections), dual stack on `[::]`, a deep backlog.
fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// After a failed accept: a connection that went away before it was
/// accepted is nothing; out of descriptors or memory, pause a moment
/// rather than spin.
async fn accept_failed(e: &io::Error) {
    match e.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {}
        _ => {
            log::warn!("accepting a connection failed: {e}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Serve one connection: one request (no keep-alive), within the limits,
/// then a short linger. It ends early, between requests, when the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Shared,
    mut stop: watch::Receiver<bool>,
    _permit: ConnPermit,
) {
    let limits = shared.gate.limits().clone();
    let _ = stream.set_nodelay(true);
    let service_shared = shared.clone();
    let service = service_fn(move |req| {
        let shared = service_shared.clone();
        Box::pin(async move { Ok::<_, Infallible>(answer::answer(req, peer, &shared).await) })
    });
    let mut conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(false)
        .max_headers(32)
        .max_header_size(limits.max_header)
        .max_buf_size(limits.max_header.max(8192))
        .serve_connection(TokioIo::new(stream), service);
    // The head, the body, the probe, and a second to write the answer.
    let at_most = limits
        .header_timeout
        .saturating_add(limits.body_timeout)
        .saturating_add(PROBE_AT_MOST)
        .saturating_add(Duration::from_secs(1));
    let mut stopping = Box::pin(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    let mut stop_seen = false;
    let served = tokio::time::timeout(
        at_most,
        poll_fn(|cx| {
            if !stop_seen && stopping.as_mut().poll(cx).is_ready() {
                stop_seen = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            conn.poll_without_shutdown(cx)
        }),
    )
    .await;
    match served {
        Ok(Ok(())) => linger(conn.into_parts().io.into_inner()).await,
        Ok(Err(e)) => {
            shared.counters.0.broken.fetch_add(1, Ordering::Relaxed);
            log::debug!("connection from {peer}: {e}");
        }
        Err(_) => {
            shared.counters.0.broken.fetch_add(1, Ordering::Relaxed);
            log::debug!("connection from {peer}: cut after {} s", at_most.as_secs());
        }
    }
}

/// Close after the answer without losing it: send FIN, then read and
/// discard what the client still sends, for at most [`LINGER`] and
/// [`LINGER_BYTES`], so the close does not turn into a reset that would
/// destroy the answer in the client's buffer.
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while drained < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(n) if n > 0 => drained += n,
                _ => break,
            }
        }
    })
    .await;
}

/// The server's counts, shared with whoever holds a copy.
#[derive(Debug, Clone, Default)]
pub struct Counters(Arc<CounterCells>);

#[derive(Debug, Default)]
struct CounterCells {
    connections: AtomicU64,
    dropped: AtomicU64,
    broken: AtomicU64,
    probes: AtomicU64,
    rate_limited: AtomicU64,
    busy: AtomicU64,
    refused: AtomicU64,
}

impl Counters {
    /// The counts now.
    pub fn now(&self) -> Counts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &self.0;
        Counts {
            connections: get(&c.connections),
            dropped: get(&c.dropped),
            broken: get(&c.broken),
            probes: get(&c.probes),
            rate_limited: get(&c.rate_limited),
            busy: get(&c.busy),
            refused: get(&c.refused),
        }
    }

    fn probed(&self) {
        self.0.probes.fetch_add(1, Ordering::Relaxed);
    }

    fn refused(&self, status: StatusCode) {
        let cell = match status {
            StatusCode::TOO_MANY_REQUESTS => &self.0.rate_limited,
            StatusCode::SERVICE_UNAVAILABLE => &self.0.busy,
            _ => &self.0.refused,
        };
        cell.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a [`ProbeServer`] has done since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Counts {
    /// Connections accepted and served.
    pub connections: u64,
    /// Connections closed at once, over [`Limits::max_connections`] or
    /// [`Limits::per_source_connections`].
    pub dropped: u64,
    /// Connections that ended in an HTTP error rather than an answer of
    /// this server: a malformed or oversized head (hyper answers 400 or
    /// 431), no head within the header timeout, a client gone mid-request.
    pub broken: u64,
    /// Probes run (answered 200).
    pub probes: u64,
    /// Requests answered 429 `rate_limited`.
    pub rate_limited: u64,
    /// Requests answered 503 `busy`.
    pub busy: u64,
    /// Requests refused otherwise, with a JSON answer (400, 403, 404, 405,
    /// 408, 413).
    pub refused: u64,
}

/// The outcome's name in the JSON (`timed_out`), for log lines.
pub(crate) fn outcome_name(o: ProbeOutcome) -> &'static str {
    match o {
        ProbeOutcome::Accepted => "accepted",
        ProbeOutcome::Answered => "answered",
        ProbeOutcome::Refused => "refused",
        ProbeOutcome::TimedOut => "timed_out",
        ProbeOutcome::NoAnswer => "no_answer",
        ProbeOutcome::Unreachable => "unreachable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_are_the_json_names() {
        for o in [
            ProbeOutcome::Accepted,
            ProbeOutcome::Answered,
            ProbeOutcome::Refused,
            ProbeOutcome::TimedOut,
            ProbeOutcome::NoAnswer,
            ProbeOutcome::Unreachable,
        ] {
            let json = serde_json::to_string(&o).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", outcome_name(o)));
        }
    }
}
