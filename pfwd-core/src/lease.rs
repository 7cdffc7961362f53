//! Keep mappings alive, and make them go away: renewal, gateway restarts,
//! external-address changes, and cleanup on close or drop.
//!
//! A [`Keeper`] holds a set of mappings on one [`Forwarder`] (a backend, or
//! the automatic [`Client`](crate::Client)). It renews each at a random point
//! between 1/2 and 5/8 of the granted lifetime, retries failures with a
//! doubling back-off (RFC 6887 section 11.2.1), checks now and then whether
//! the gateway lost them (a restart) and makes them again, and reports all
//! of it as [`Event`]s. Closing it, or dropping it, deletes its mappings.
//!
//! The schedule runs on tokio's clock, so tests drive it with a paused,
//! virtual clock; between due times the keeper sleeps.
//!
//! ```no_run
//! # async fn demo() -> pfwd_core::Result<()> {
//! use std::sync::Arc;
//! use pfwd_core::lease::{Event, Keeper, KeeperOptions};
//! use pfwd_core::{Client, MappingRequest, Protocol};
//! let client = Arc::new(Client::discover().await?);
//! let web = MappingRequest::builder(Protocol::Tcp, 80).build()?;
//! let mut keeper = Keeper::start(client, vec![web], KeeperOptions::default());
//! while let Some(event) = keeper.next_event().await {
//!     println!("{event}");
//!     # break;
//! }
//! keeper.close().await; // deletes the mappings
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::Error;
use crate::forwarder::Forwarder;
use crate::mapping::{Lease, Mapping, MappingRequest};
use crate::sync::lock;

/// Options for a [`Keeper`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeeperOptions {
    /// How often to ask the gateway whether it lost the mappings (a restart
    /// between renewals); `None`: only renewals find out (default 30 s).
    pub check_interval: Option<Duration>,
    /// The first wait after a failed attempt; it doubles (default 1 s).
    pub retry_min: Duration,
    /// The longest wait between attempts (default 60 s).
    pub retry_max: Duration,
    /// How long closing may take to delete the mappings (default 5 s).
    pub close_timeout: Duration,
    /// Listen for the unsolicited PCP ANNOUNCE this gateway multicasts to
    /// 224.0.0.1:5350 when it restarts (RFC 6887 section 14.1.3), and make
    /// the mappings again at once (default: not listening).
    pub announce_from: Option<Ipv4Addr>,
}

impl Default for KeeperOptions {
    fn default() -> Self {
        KeeperOptions {
            check_interval: Some(Duration::from_secs(30)),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            close_timeout: Duration::from_secs(5),
            announce_from: None,
        }
    }
}

/// What happened to a kept mapping. `index` is the request's position in
/// the list given to [`Keeper::start`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// The mapping was made for the first time.
    Mapped {
        /// Which request.
        index: usize,
        /// What the gateway granted.
        mapping: Mapping,
    },
    /// The mapping was renewed (the port may differ if the gateway moved it).
    Renewed {
        /// Which request.
        index: usize,
        /// What the gateway granted.
        mapping: Mapping,
    },
    /// The gateway lost the mapping (restart, expiry); pfwd makes it again.
    Lost {
        /// Which request.
        index: usize,
        /// The mapping that is gone.
        mapping: Mapping,
        /// Why pfwd thinks so.
        reason: String,
    },
    /// A lost mapping was made again.
    Restored {
        /// Which request.
        index: usize,
        /// What the gateway granted.
        mapping: Mapping,
    },
    /// The gateway's external address changed.
    ExternalAddressChanged {
        /// The address before.
        old: Ipv4Addr,
        /// The address now.
        new: Ipv4Addr,
    },
    /// An attempt failed; pfwd tries again after `retry_in`. Where
    /// automation is gone, `error` is [`Error::Manual`] with the guide.
    Failed {
        /// Which request.
        index: usize,
        /// What went wrong.
        error: Arc<Error>,
        /// When pfwd tries again.
        retry_in: Duration,
    },
    /// The keeper closed; `deleted` mappings were removed from the gateway.
    Closed {
        /// How many mappings were deleted.
        deleted: usize,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Mapped { mapping, .. } => write!(f, "mapped {mapping}"),
            Event::Renewed { mapping, .. } => write!(f, "renewed {mapping}"),
            Event::Lost {
                mapping, reason, ..
            } => write!(f, "lost {mapping}: {reason}"),
            Event::Restored { mapping, .. } => write!(f, "restored {mapping}"),
            Event::ExternalAddressChanged { old, new } => {
                write!(f, "the external address changed from {old} to {new}")
            }
            Event::Failed {
                error, retry_in, ..
            } => {
                write!(
                    f,
                    "failed ({error}); trying again in {} s",
                    retry_in.as_secs()
                )
            }
            Event::Closed { deleted } => write!(f, "closed; deleted {deleted} mappings"),
        }
    }
}

/// When to renew a lease of `lifetime` seconds: at `fraction` of it, where
/// `fraction` is drawn from [1/2, 5/8] (RFC 6887 section 11.2.1 asks for a
/// random point in that range, so that clients do not renew in step).
pub fn renew_delay(lifetime: Duration, fraction: f64) -> Duration {
    lifetime.mul_f64(fraction.clamp(0.5, 0.625))
}

/// The wait before attempt `failures + 1` after `failures` failures.
pub fn retry_delay(failures: u32, min: Duration, max: Duration) -> Duration {
    min.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
        .min(max)
}

fn random_fraction() -> f64 {
    let mut b = [0u8; 2];
    let r = getrandom::fill(&mut b).map_or(0.5, |()| f64::from(u16::from_be_bytes(b)) / 65535.0);
    0.5 + r * 0.125
}

enum Command {
    Close(oneshot::Sender<usize>),
}

/// Keeps a set of mappings alive on one forwarder; see the module docs.
#[derive(Debug)]
pub struct Keeper {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<Event>,
    current: Arc<Mutex<HashMap<usize, Mapping>>>,
    task: Option<JoinHandle<()>>,
}

impl Keeper {
    /// Start keeping `requests` mapped on `forwarder`. Mapping starts at
    /// once; watch [`next_event`](Self::next_event) for the outcome.
    pub fn start(
        forwarder: Arc<dyn Forwarder>,
        requests: Vec<MappingRequest>,
        options: KeeperOptions,
    ) -> Keeper {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let current = Arc::new(Mutex::new(HashMap::new()));
        let run = Run {
            forwarder,
            options,
            events: event_tx,
            current: current.clone(),
            entries: requests.into_iter().map(Entry::new).collect(),
            external: None,
        };
        let task = tokio::spawn(run.run(command_rx));
        Keeper {
            commands,
            events,
            current,
            task: Some(task),
        }
    }

    /// The next event; `None` once the keeper has closed and every event was read.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The mappings held now, by request index.
    pub fn mappings(&self) -> Vec<(usize, Mapping)> {
        let mut v: Vec<(usize, Mapping)> = lock(&self.current)
            .iter()
            .map(|(i, m)| (*i, m.clone()))
            .collect();
        v.sort_by_key(|(i, _)| *i);
        v
    }

    /// Stop keeping the mappings and delete them from the gateway (within
    /// [`KeeperOptions::close_timeout`]). Returns how many were deleted.
    pub async fn close(mut self) -> usize {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(tx)).is_err() {
            return 0;
        }
        let deleted = rx.await.unwrap_or(0);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        deleted
    }
}

/// The events as an async stream (the same as [`Keeper::next_event`]).
impl futures_core::Stream for Keeper {
    type Item = Event;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Event>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        // The task notices the closed command channel, deletes the mappings
        // (bounded by close_timeout) and ends. Nothing to wait for here.
        self.task.take();
    }
}

struct Entry {
    request: MappingRequest,
    mapping: Option<Mapping>,
    /// Made at least once (so a new mapping is a restoration).
    ever_mapped: bool,
    /// Lost since it was last held.
    lost: bool,
    due: Instant,
    /// When the held mapping's lease ends, on the keeper's clock.
    expires: Option<Instant>,
    failures: u32,
}

impl Entry {
    fn new(request: MappingRequest) -> Entry {
        Entry {
            request,
            mapping: None,
            ever_mapped: false,
            lost: false,
            due: Instant::now(),
            expires: None,
            failures: 0,
        }
    }
}

struct Run {
    forwarder: Arc<dyn Forwarder>,
    options: KeeperOptions,
    events: mpsc::UnboundedSender<Event>,
    current: Arc<Mutex<HashMap<usize, Mapping>>>,
    entries: Vec<Entry>,
    external: Option<Ipv4Addr>,
}

impl Run {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut next_check = self.options.check_interval.map(|i| Instant::now() + i);
        let announcements =
            self.options
                .announce_from
                .and_then(|gateway| match announce_socket() {
                    Ok(socket) => Some((socket, gateway)),
                    Err(e) => {
                        let _ = self.events.send(Event::Failed {
                            index: 0,
                            error: Arc::new(Error::io(
                                "listening for PCP announcements on UDP 5350",
                                e,
                            )),
                            retry_in: Duration::ZERO,
                        });
                        None
                    }
                });
        let mut buf = [0u8; 1100];
        loop {
            let next_due = self.entries.iter().map(|e| e.due).min();
            let wake = match (next_due, next_check) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                command = commands.recv() => {
                    // None: the Keeper was dropped; clean up all the same.
                    self.finish(command).await;
                    return;
                }
                restart = announced(announcements.as_ref(), &mut buf) => {
                    if restart {
                        self.restart_announced().await;
                    }
                }
                () = sleep_until_opt(wake) => {
                    let now = Instant::now();
                    if next_check.is_some_and(|c| c <= now) {
                        self.check_all().await;
                        next_check = self.options.check_interval.map(|i| Instant::now() + i);
                    }
                    for index in 0..self.entries.len() {
                        // A slow gateway makes a round of renewals long: close
                        // must not wait for the whole round.
                        match commands.try_recv() {
                            Ok(command) => {
                                self.finish(Some(command)).await;
                                return;
                            }
                            Err(mpsc::error::TryRecvError::Disconnected) => {
                                self.finish(None).await;
                                return;
                            }
                            Err(mpsc::error::TryRecvError::Empty) => {}
                        }
                        if self.entries[index].due <= Instant::now() {
                            self.attend(index).await;
                        }
                    }
                }
            }
        }
    }

    /// Delete every mapping, report it, and answer a close request.
    async fn finish(&mut self, command: Option<Command>) {
        let reply = command.map(|Command::Close(reply)| reply);
        let deleted = self.delete_all().await;
        let _ = self.events.send(Event::Closed { deleted });
        if let Some(reply) = reply {
            let _ = reply.send(deleted);
        }
    }

    /// Map, renew or restore entry `index`, and schedule its next attempt.
    async fn attend(&mut self, index: usize) {
        let request = match &self.entries[index].mapping {
            Some(m) => m.renewal(),
            None => self.entries[index].request.clone(),
        };
        match self.forwarder.map(&request).await {
            Ok(mapping) => self.granted(index, mapping),
            Err(error) => self.failed(index, error),
        }
    }

    fn granted(&mut self, index: usize, mapping: Mapping) {
        let ip = *mapping.external().ip();
        if let Some(old) = self.external.replace(ip)
            && old != ip
        {
            let _ = self
                .events
                .send(Event::ExternalAddressChanged { old, new: ip });
        }
        let entry = &mut self.entries[index];
        let event = if entry.mapping.is_some() {
            Event::Renewed {
                index,
                mapping: mapping.clone(),
            }
        } else if entry.ever_mapped || entry.lost {
            Event::Restored {
                index,
                mapping: mapping.clone(),
            }
        } else {
            Event::Mapped {
                index,
                mapping: mapping.clone(),
            }
        };
        let now = Instant::now();
        (entry.due, entry.expires) = match mapping.lease() {
            Lease::Finite(lifetime) => (
                now + renew_delay(lifetime, random_fraction()),
                Some(now + lifetime),
            ),
            // A permanent mapping needs no renewal; checks still watch it.
            Lease::Permanent => (now + Duration::from_secs(365 * 24 * 3600), None),
        };
        entry.ever_mapped = true;
        entry.lost = false;
        entry.failures = 0;
        entry.mapping = Some(mapping.clone());
        lock(&self.current).insert(index, mapping);
        let _ = self.events.send(event);
    }

    fn failed(&mut self, index: usize, error: Error) {
        let entry = &mut self.entries[index];
        entry.failures += 1;
        let retry_in = retry_delay(
            entry.failures,
            self.options.retry_min,
            self.options.retry_max,
        );
        entry.due = Instant::now() + retry_in;
        // Past the end of its lease the mapping is gone: make it anew.
        if entry.mapping.is_some() && entry.expires.is_some_and(|t| t <= Instant::now()) {
            let lost = entry.mapping.take().map(|m| {
                (
                    m,
                    format!("its lease ended while renewals failed ({error})"),
                )
            });
            entry.lost = true;
            lock(&self.current).remove(&index);
            if let Some((mapping, reason)) = lost {
                let _ = self.events.send(Event::Lost {
                    index,
                    mapping,
                    reason,
                });
            }
        }
        let _ = self.events.send(Event::Failed {
            index,
            error: Arc::new(error),
            retry_in,
        });
    }

    /// Ask the gateway whether it lost the mappings; make lost ones again now.
    async fn check_all(&mut self) {
        for index in 0..self.entries.len() {
            let Some(mapping) = self.entries[index].mapping.clone() else {
                continue;
            };
            if let Ok(true) = self.forwarder.lost(&mapping).await {
                let reason =
                    "the gateway no longer holds it (it restarted, or the mapping was removed)";
                self.remake(index, mapping, reason).await;
            }
        }
    }

    /// The gateway announced a restart: its mappings are gone; make them again.
    async fn restart_announced(&mut self) {
        for index in 0..self.entries.len() {
            if let Some(mapping) = self.entries[index].mapping.clone() {
                self.remake(
                    index,
                    mapping,
                    "the gateway announced a restart (PCP ANNOUNCE)",
                )
                .await;
            }
        }
    }

    /// Report `mapping` lost and make it again at once, as a renewal (same
    /// nonce, same external port where the gateway allows).
    async fn remake(&mut self, index: usize, mapping: Mapping, reason: &str) {
        self.entries[index].lost = true;
        let _ = self.events.send(Event::Lost {
            index,
            mapping: mapping.clone(),
            reason: reason.into(),
        });
        match self.forwarder.map(&mapping.renewal()).await {
            Ok(m) => {
                self.entries[index].mapping = None;
                lock(&self.current).remove(&index);
                self.granted(index, m);
            }
            Err(e) => {
                self.entries[index].mapping = None;
                lock(&self.current).remove(&index);
                self.failed(index, e);
            }
        }
    }

    async fn delete_all(&mut self) -> usize {
        let held: Vec<Mapping> = self
            .entries
            .iter_mut()
            .filter_map(|e| e.mapping.take())
            .collect();
        lock(&self.current).clear();
        let forwarder = self.forwarder.clone();
        let work = async move {
            let mut deleted = 0;
            for m in &held {
                if forwarder.unmap(m).await.is_ok() {
                    deleted += 1;
                }
            }
            deleted
        };
        tokio::time::timeout(self.options.close_timeout, work)
            .await
            .unwrap_or(0)
    }
}

/// A UDP socket on port 5350 that several programs can share (the port
/// announcements go to).
fn announce_socket() -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    let addr = std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, crate::wire::ANNOUNCE_PORT);
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Wait for a PCP ANNOUNCE from the gateway; true when one came. Never
/// ready without a socket.
async fn announced(listener: Option<&(tokio::net::UdpSocket, Ipv4Addr)>, buf: &mut [u8]) -> bool {
    let Some((socket, gateway)) = listener else {
        return std::future::pending().await;
    };
    match socket.recv_from(buf).await {
        Ok((n, from)) if from.ip() == std::net::IpAddr::V4(*gateway) => {
            matches!(
                crate::wire::pcp::Response::decode(&buf[..n]),
                Ok(r) if r.opcode() == crate::wire::pcp::OP_ANNOUNCE
            )
        }
        _ => false,
    }
}

async fn sleep_until_opt(when: Option<Instant>) {
    match when {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
