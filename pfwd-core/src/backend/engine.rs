//! The engine shared by NAT-PMP and PCP: one UDP socket per gateway
//! (connected to its port 5351), one receive path that hands each answer to
//! the request it belongs to, the RFC retransmission schedules cut short by
//! the caller's deadline, and the epoch check.
//!
//! Answers that match no outstanding request (stale retransmissions, a wrong
//! nonce, port, protocol or opcode) are dropped. Because the socket is
//! connected, only the gateway's port 5351 can answer at all, and a gateway
//! with nothing on that port makes the kernel report "connection refused"
//! (ICMP port unreachable), which ends the wait at once.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::gateway::GatewayInfo;
use crate::mapping::{Mapping, Method, MethodState};
use crate::sync::lock;
use crate::wire::epoch::{EpochCheck, EpochRule, EpochTracker};

/// Options for the NAT-PMP and PCP backends (both speak on UDP 5351).
///
/// # Examples
///
/// Ask a given router with a shorter budget (the discovery is compiled,
/// not run):
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use std::net::Ipv4Addr;
/// use std::time::Duration;
/// use pfwd_core::{GatewayInfo, Pcp, PmpOptions};
///
/// let mut options = PmpOptions::default();
/// options.gateway = Some(GatewayInfo::for_gateway(Ipv4Addr::new(192, 168, 1, 1))?);
/// options.timeout = Duration::from_secs(2);
/// let router = Pcp::discover_with(options).await?;
/// println!("PCP over {}", router.family());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PmpOptions {
    /// The gateway to ask; `None` finds the default gateway.
    pub gateway: Option<GatewayInfo>,
    /// The budget for each exchange, retransmissions included (default 4 s:
    /// five NAT-PMP tries, two PCP tries on RFC 6887's 3 s schedule).
    pub timeout: Duration,
    /// The gateway's port (5351; change it only to talk to a test double).
    pub server_port: u16,
}

impl Default for PmpOptions {
    fn default() -> Self {
        PmpOptions {
            gateway: None,
            timeout: crate::defaults::PMP_TIMEOUT,
            server_port: crate::wire::SERVER_PORT,
        }
    }
}

/// An answer and when it arrived.
#[derive(Debug)]
pub(crate) struct Received {
    pub bytes: Vec<u8>,
    pub at: Instant,
}

/// Which request an answer belongs to.
pub(crate) type Matcher = Box<dyn Fn(&[u8]) -> bool + Send>;

struct Waiter {
    id: u64,
    matches: Matcher,
    tx: Option<oneshot::Sender<io::Result<Received>>>,
}

struct Epochs {
    pcp: EpochTracker,
    natpmp: EpochTracker,
    generation: u64,
}

struct Shared {
    waiters: Mutex<Vec<Waiter>>,
    epochs: Mutex<Epochs>,
    answered: AtomicBool,
    /// When the gateway's port last refused (ICMP port unreachable), until
    /// an answer arrives: see [`REFUSAL_FRESH`].
    refused_at: Mutex<Option<Instant>>,
}

/// How long a refusal of the gateway's port (ICMP "port unreachable")
/// answers for that port without asking again: 250 ms. NAT-PMP's probe
/// after PCP's, or a second request right after a first, would get the
/// same refusal, and routers ration those ICMP answers (Linux: one a
/// second after a burst of six), so a needless ask costs the next real
/// one its fast "no".
pub(crate) const REFUSAL_FRESH: Duration = Duration::from_millis(250);

/// A retransmission schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// RFC 6886 section 3.1: 250 ms, doubling, nine tries in all.
    NatPmp,
    /// RFC 6887 section 8.1.1: IRT 3 s, doubling, MRT 1024 s, each with
    /// +/-10 % jitter, no limit on tries.
    Pcp,
}

impl Schedule {
    /// The protocol the schedule belongs to, for logs.
    fn method(self) -> Method {
        match self {
            Schedule::NatPmp => Method::NatPmp,
            Schedule::Pcp => Method::Pcp,
        }
    }

    /// The wait after try number `attempt` (0-based), or `None` after the last.
    fn wait_after(self, attempt: u32, previous: Duration) -> Option<Duration> {
        match self {
            Schedule::NatPmp => {
                (attempt < 9).then(|| Duration::from_millis(250) * 2u32.pow(attempt))
            }
            Schedule::Pcp => {
                let base = if attempt == 0 {
                    Duration::from_secs(3)
                } else {
                    (previous * 2).min(Duration::from_secs(1024))
                };
                Some(base.mul_f64(1.0 + jitter()))
            }
        }
    }
}

/// A random factor in [-0.1, +0.1] (RFC 6887's RAND).
fn jitter() -> f64 {
    let mut b = [0u8; 2];
    let r = getrandom::fill(&mut b).map_or(0.5, |()| f64::from(u16::from_be_bytes(b)) / 65535.0);
    (r - 0.5) / 5.0
}

/// Fill `buf` with random bytes from the operating system.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf)
        .map_err(|e| Error::io("reading random bytes for a PCP nonce", io::Error::other(e)))
}

/// A client of the engine (NAT-PMP or PCP) that can show the gateway
/// speaks its protocol.
pub(crate) trait Probe {
    /// One exchange that shows the gateway speaks this client's protocol.
    fn probe(&self) -> impl Future<Output = Result<()>> + Send;
}

/// Open the engine for `options` (finding the default gateway if they name
/// none), make a client on it with `make`, and probe the gateway with it:
/// the `discover_with` of NAT-PMP and PCP.
pub(crate) async fn discover<C: Probe>(
    options: PmpOptions,
    make: fn(Arc<Engine>, GatewayInfo, PmpOptions) -> C,
) -> Result<C> {
    let (engine, info) = Engine::for_options(&options).await?;
    let client = make(engine, info, options);
    client.probe().await?;
    Ok(client)
}

/// How a request ended without an answer.
#[derive(Debug)]
pub(crate) enum Unanswered {
    /// The deadline passed; `tries` requests were sent.
    Timeout { tries: u32, waited: Duration },
    /// The gateway's port is closed (ICMP port unreachable).
    PortClosed,
    /// A socket error.
    Io(io::Error),
}

/// One socket to one gateway's port 5351.
pub(crate) struct Engine {
    socket: Arc<UdpSocket>,
    server: SocketAddr,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Engine {
    /// The engine for the gateway `options` name (or the default gateway).
    pub async fn for_options(options: &PmpOptions) -> Result<(Arc<Engine>, GatewayInfo)> {
        let info = match &options.gateway {
            Some(g) => g.clone(),
            None => crate::gateway::default_gateway()?,
        };
        let server = SocketAddrV4::new(info.gateway, options.server_port);
        Ok((
            Arc::new(Engine::open(info.local.into(), server.into()).await?),
            info,
        ))
    }

    /// Open a socket on `local` connected to `server` and start reading it.
    /// Over IPv6 `local` is the host's global address: PCP checks that a
    /// request's client address is its sender's.
    pub async fn open(local: IpAddr, server: SocketAddr) -> Result<Engine> {
        let socket = UdpSocket::bind(SocketAddr::new(local, 0))
            .await
            .map_err(|e| Error::io(format!("opening a UDP socket on {local}"), e))?;
        socket
            .connect(server)
            .await
            .map_err(|e| Error::io(format!("connecting a UDP socket to {server}"), e))?;
        let socket = Arc::new(socket);
        let shared = Arc::new(Shared {
            waiters: Mutex::new(Vec::new()),
            epochs: Mutex::new(Epochs {
                pcp: EpochTracker::new(EpochRule::Pcp),
                natpmp: EpochTracker::new(EpochRule::NatPmp),
                generation: 0,
            }),
            answered: AtomicBool::new(false),
            refused_at: Mutex::new(None),
        });
        let reader = tokio::spawn(read_loop(socket.clone(), shared.clone()));
        Ok(Engine {
            socket,
            server,
            shared,
            next_id: AtomicU64::new(0),
            reader,
        })
    }

    /// Whether the gateway ever answered on this socket.
    pub fn ever_answered(&self) -> bool {
        self.shared.answered.load(Ordering::Relaxed)
    }

    /// Send `request` (a `what` request, for logs) on `schedule` until an
    /// answer that `matches` arrives, the gateway's port turns out closed,
    /// or `deadline` passes.
    pub async fn transact(
        &self,
        request: &[u8],
        matches: Matcher,
        schedule: Schedule,
        what: &str,
        deadline: tokio::time::Instant,
    ) -> std::result::Result<Received, Unanswered> {
        let method = schedule.method();
        let started = tokio::time::Instant::now();
        let outcome = self
            .send_until_answered(request, matches, schedule, deadline)
            .await;
        let elapsed = started.elapsed().as_millis();
        match &outcome {
            Ok(r) => debug!(
                "{method} {what} request to {}: {}-byte answer after {elapsed} ms",
                self.server,
                r.bytes.len()
            ),
            Err(Unanswered::Timeout { tries, .. }) => debug!(
                "{method} {what} request to {}: no answer to {tries} tries in {elapsed} ms",
                self.server
            ),
            Err(Unanswered::PortClosed) => debug!(
                "{method} {what} request to {}: port closed (ICMP unreachable) after {elapsed} ms",
                self.server
            ),
            Err(Unanswered::Io(e)) => warn!(
                "{method} {what} request to {}: socket error after {elapsed} ms: {e}",
                self.server
            ),
        }
        outcome
    }

    async fn send_until_answered(
        &self,
        request: &[u8],
        matches: Matcher,
        schedule: Schedule,
        deadline: tokio::time::Instant,
    ) -> std::result::Result<Received, Unanswered> {
        let refused_at = *lock(&self.shared.refused_at);
        if let Some(at) = refused_at
            && at.elapsed() < REFUSAL_FRESH
        {
            debug!(
                "{} not sent: {} refused {} ms ago",
                schedule.method(),
                self.server,
                at.elapsed().as_millis()
            );
            return Err(Unanswered::PortClosed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = oneshot::channel();
        lock(&self.shared.waiters).push(Waiter {
            id,
            matches,
            tx: Some(tx),
        });
        let _unregister = Unregister {
            shared: &self.shared,
            id,
        };
        let started = tokio::time::Instant::now();
        let mut tries = 0u32;
        let mut wait = Duration::ZERO;
        loop {
            if tries == 0 {
                debug!(
                    "{} sending a {}-byte request to {}",
                    schedule.method(),
                    request.len(),
                    self.server
                );
            } else {
                debug!(
                    "{} sending the request to {} again (try {}, after {} ms)",
                    schedule.method(),
                    self.server,
                    tries + 1,
                    wait.as_millis()
                );
            }
            match self.socket.send(request).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    *lock(&self.shared.refused_at) = Some(Instant::now());
                    return Err(Unanswered::PortClosed);
                }
                Err(e) => return Err(Unanswered::Io(e)),
            }
            let Some(next_wait) = schedule.wait_after(tries, wait) else {
                // The schedule is spent: wait for a late answer until the deadline.
                return match tokio::time::timeout_at(deadline, &mut rx).await {
                    Ok(answer) => answer_or(answer),
                    Err(_) => Err(Unanswered::Timeout {
                        tries: tries + 1,
                        waited: started.elapsed(),
                    }),
                };
            };
            tries += 1;
            wait = next_wait;
            let resend_at = (tokio::time::Instant::now() + wait).min(deadline);
            match tokio::time::timeout_at(resend_at, &mut rx).await {
                Ok(answer) => return answer_or(answer),
                Err(_) if resend_at >= deadline => {
                    return Err(Unanswered::Timeout {
                        tries,
                        waited: started.elapsed(),
                    });
                }
                Err(_) => {}
            }
        }
    }

    /// Record an epoch seen at `at`; a restart bumps the generation.
    pub fn observe_epoch(&self, rule: EpochRule, epoch: u32, at: Instant) -> EpochCheck {
        let mut e = lock(&self.shared.epochs);
        let check = match rule {
            EpochRule::Pcp => e.pcp.observe(epoch, at),
            EpochRule::NatPmp => e.natpmp.observe(epoch, at),
        };
        if let EpochCheck::Restarted { previous, current } = check {
            e.generation += 1;
            let method = match rule {
                EpochRule::Pcp => Method::Pcp,
                EpochRule::NatPmp => Method::NatPmp,
            };
            info!(
                "{method} gateway {} restarted (epoch {previous} -> {current}): its mappings are gone",
                self.server.ip()
            );
        }
        check
    }

    /// How many gateway restarts this engine has seen.
    pub fn generation(&self) -> u64 {
        lock(&self.shared.epochs).generation
    }

    /// Whether the gateway restarted since `mapping` (made over this
    /// engine) was granted, as far as the answers seen so far tell.
    pub fn restarted_since(&self, mapping: &Mapping) -> bool {
        match mapping.state() {
            MethodState::NatPmp { generation, .. } | MethodState::Pcp { generation, .. } => {
                self.generation() > *generation
            }
            _ => false,
        }
    }

    /// The error for a request that got no answer.
    pub fn unanswered(&self, method: Method, what: &str, why: Unanswered) -> Error {
        match why {
            Unanswered::PortClosed => Error::NoGateway {
                refused: true,
                method: Some(method),
                detail: format!(
                    "{} refused UDP port {} (nothing listens there: NAT-PMP and PCP are switched off or absent)",
                    self.server.ip(),
                    self.server.port()
                ),
            },
            Unanswered::Timeout { tries, waited } if !self.ever_answered() => Error::NoGateway {
                refused: false,
                method: Some(method),
                detail: format!(
                    "no answer from {} to {tries} {what} requests in {} ms",
                    self.server,
                    waited.as_millis()
                ),
            },
            Unanswered::Timeout { waited, .. } => Error::Timeout {
                method,
                operation: format!("the {what} request"),
                after: waited,
            },
            Unanswered::Io(e) => Error::io(
                format!("sending a {method} {what} request to {}", self.server),
                e,
            ),
        }
    }
}

fn answer_or(
    answer: std::result::Result<io::Result<Received>, oneshot::error::RecvError>,
) -> std::result::Result<Received, Unanswered> {
    match answer {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Unanswered::PortClosed),
        Ok(Err(e)) => Err(Unanswered::Io(e)),
        Err(_) => Err(Unanswered::Io(io::Error::other("the receive path stopped"))),
    }
}

/// Removes a waiter when its request ends, answered or not.
struct Unregister<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        lock(&self.shared.waiters).retain(|w| w.id != self.id);
    }
}

async fn read_loop(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 1500];
    loop {
        match socket.recv(&mut buf).await {
            Ok(n) => {
                let at = Instant::now();
                let data = &buf[..n];
                // Any datagram from the gateway's port: it is open now.
                *lock(&shared.refused_at) = None;
                let mut waiters = lock(&shared.waiters);
                if let Some(w) = waiters
                    .iter_mut()
                    .find(|w| w.tx.is_some() && (w.matches)(data))
                {
                    shared.answered.store(true, Ordering::Relaxed);
                    if let Some(tx) = w.tx.take() {
                        let _ = tx.send(Ok(Received {
                            bytes: data.to_vec(),
                            at,
                        }));
                    }
                }
                // Anything else is stale or foreign: dropped.
            }
            Err(e) => {
                // Connection refused (ICMP port unreachable) and other socket
                // errors concern every request in flight.
                let kind = e.kind();
                if kind == io::ErrorKind::ConnectionRefused {
                    *lock(&shared.refused_at) = Some(Instant::now());
                }
                for w in lock(&shared.waiters).iter_mut() {
                    if let Some(tx) = w.tx.take() {
                        let _ = tx.send(Err(io::Error::new(kind, e.to_string())));
                    }
                }
                if kind != io::ErrorKind::ConnectionRefused {
                    // Do not spin on a persistent error.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natpmp_schedule_is_250ms_doubling_nine_tries() {
        let waits: Vec<u64> = (0..10)
            .map_while(|i| Schedule::NatPmp.wait_after(i, Duration::ZERO))
            .map(|d| d.as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000]
        );
    }

    #[test]
    fn pcp_schedule_follows_rfc6887_8_1_1() {
        let mut prev = Duration::ZERO;
        for attempt in 0..14 {
            let w = Schedule::Pcp.wait_after(attempt, prev).unwrap();
            let nominal = if attempt == 0 {
                3.0
            } else {
                (prev.as_secs_f64() * 2.0).min(1024.0)
            };
            let ratio = w.as_secs_f64() / nominal;
            assert!(
                (0.9..=1.1).contains(&ratio),
                "attempt {attempt}: {w:?} vs {nominal}"
            );
            prev = w;
        }
        assert!(prev <= Duration::from_secs_f64(1024.0 * 1.1));
    }
}
