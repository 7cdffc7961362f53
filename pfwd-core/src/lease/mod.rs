//! Keep mappings alive, and make them go away: renewal, gateway restarts,
//! external-address changes, and cleanup on close or drop.
//!
//! A [`Keeper`] holds a set of mappings on one [`Forwarder`] (a backend, or
//! the automatic [`Client`](crate::Client)). It renews each at a random point
//! between 1/2 and 5/8 of the granted lifetime, retries failures with a
//! doubling back-off (RFC 6887 section 11.2.1), checks now and then whether
//! the gateway lost them (a restart) and makes them again, and reports all
//! of it as [`Event`]s. Closing it, or dropping it, deletes its mappings;
//! [`Keeper::close`] says which, and which are still on the gateway.
//!
//! At each check ([`KeeperOptions::check_interval`]) the keeper asks the
//! gateway whether it still holds each mapping, as each method allows
//! ([`Forwarder::presence`]): a mapping lost (a restart, or deleted behind
//! pfwd's back) is made again at once and [`Event::Lost`] says why. PCP
//! and NAT-PMP mappings are also refreshed at each check (renewed with
//! their own state, one round trip, which makes a deleted one again): on a
//! router without a UPnP table to read them in, and where a firewall
//! reload removed the rule under a table that still lists it, that is the
//! only way back, and nothing can tell that it happened. The external address is
//! asked too, and a change is reported ([`Event::ExternalAddressChanged`])
//! and every mapping renewed to follow it.
//!
//! A keeper can start from mappings that exist already ([`Keep::held`]: the
//! one-call [`forward`](crate::forward) made it; [`Keep::recorded`]: a
//! program that restarted found it in its records), and items can be added
//! and removed while it runs.
//!
//! The schedule runs on tokio's clock, so tests drive it with a paused,
//! virtual clock; between due times the keeper sleeps.
//!
//! # Examples
//!
//! With a router (compiled, not run): map once with the automatic client,
//! then keep what it granted.
//!
//! ```no_run
//! # async fn demo() -> pfwd_core::Result<()> {
//! use std::sync::Arc;
//! use pfwd_core::lease::{Event, Keep, Keeper, KeeperOptions};
//! use pfwd_core::{MappingRequest, Protocol};
//! let web = MappingRequest::builder(Protocol::Tcp, 80).build()?;
//! // One round trip on a PCP router; the keeper adopts what it granted.
//! let (client, mapping) = pfwd_core::forward(&web).await?;
//! let mut keeper = Keeper::start(
//!     Arc::new(client),
//!     [Keep::held(web, mapping)],
//!     KeeperOptions::default(),
//! );
//! while let Some(event) = keeper.next_event().await {
//!     println!("{event}");
//!     # break;
//! }
//! let report = keeper.close().await; // deletes the mappings
//! assert!(report.is_clean(), "{report}");
//! # Ok(()) }
//! ```

mod announce;
mod event;
mod policy;
mod records;
mod run;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::defaults;
use crate::error::{Error, Result};
use crate::forwarder::Forwarder;
use crate::mapping::{Mapping, MappingRequest};
use crate::sync::lock;

pub use event::{CloseReport, Event};
pub use policy::{renew_delay, retry_delay};

/// Options for a [`Keeper`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pfwd_core::StateDir;
/// use pfwd_core::lease::KeeperOptions;
///
/// let mut options = KeeperOptions::default();
/// assert_eq!(options.check_interval, Some(Duration::from_secs(30)));
///
/// // Record the mappings, so that `pfwd unmap` (or this program after a
/// // crash) can find them, and check for a router restart every 10 s.
/// options.state_dir = Some(StateDir::default_location());
/// options.check_interval = Some(Duration::from_secs(10));
/// ```
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
    /// How long closing (or removing one item) may take to delete the
    /// mappings (default 5 s).
    pub close_timeout: Duration,
    /// Listen for the unsolicited PCP ANNOUNCE this gateway multicasts to
    /// 224.0.0.1:5350 when it restarts (RFC 6887 section 14.1.3), and make
    /// the mappings again at once (default: not listening).
    pub announce_from: Option<std::net::Ipv4Addr>,
    /// How many events wait for the reader at most (default 256). When the
    /// queue is full, further events are dropped and counted
    /// ([`Event::Missed`]): the keeper never waits for its reader.
    pub event_capacity: usize,
    /// Check each mapping from outside through this prober when it is
    /// first held and whenever it is restored, and report it as
    /// [`Event::Checked`] (default: no check).
    pub check_via: Option<crate::check::ProberUrl>,
    /// Record every held mapping in this state directory as kept by this
    /// process (and drop the records of the mappings it deletes), so that a
    /// later `pfwd unmap`, or another keeper after a crash, can renew or
    /// delete it. With it, a mapping that another live process keeps
    /// already is refused ([`Event::Failed`] with an
    /// [`Error::Conflict`] naming that process, tried again later) unless
    /// [`take_over`](Self::take_over); and a mapping another process takes
    /// over is let go ([`Event::TakenOver`]). Default: no records.
    pub state_dir: Option<crate::state::StateDir>,
    /// With [`state_dir`](Self::state_dir): take over a mapping another
    /// live process keeps (renewing it with its recorded state, the PCP
    /// nonce), rather than refusing it. That process sees its record name
    /// this one at its next check and lets the mapping go without deleting
    /// it (default false).
    pub take_over: bool,
}

impl Default for KeeperOptions {
    fn default() -> Self {
        KeeperOptions {
            check_interval: Some(defaults::CHECK_INTERVAL),
            retry_min: defaults::RETRY_MIN,
            retry_max: defaults::RETRY_MAX,
            close_timeout: defaults::CLOSE_TIMEOUT,
            announce_from: None,
            event_capacity: defaults::EVENT_CAPACITY,
            check_via: None,
            state_dir: None,
            take_over: false,
        }
    }
}

/// One thing for a [`Keeper`] to keep: a request to map, or a mapping that
/// exists already.
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::time::{Duration, Instant};
/// use pfwd_core::lease::Keep;
/// use pfwd_core::{Lease, Mapping, MappingRequest, Method, MethodState, Protocol};
///
/// let web = MappingRequest::builder(Protocol::Tcp, 80).build()?;
/// let to_map = Keep::from(web.clone()); // the same as Keep::new(web)
/// assert!(to_map.mapping().is_none());
///
/// // A mapping found in a record after a restart: renewed with its own nonce.
/// let recorded = Mapping::new(
///     Method::Pcp,
///     Protocol::Tcp,
///     Ipv4Addr::new(192, 168, 1, 1),
///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 80),
///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 80),
///     Lease::Finite(Duration::from_secs(1800)),
///     Instant::now(),
///     "pfwd TCP 80",
///     MethodState::Pcp { nonce: [9; 12], epoch: 40, generation: 0 },
/// );
/// let adopted = Keep::recorded(web, recorded.clone());
/// assert_eq!(adopted.mapping(), Some(&recorded));
/// assert_eq!(adopted.request().internal_port(), 80);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Keep {
    request: MappingRequest,
    held: Option<Mapping>,
    recorded: bool,
}

impl Keep {
    /// Map `request`, then keep it.
    pub fn new(request: MappingRequest) -> Keep {
        Keep {
            request,
            held: None,
            recorded: false,
        }
    }

    /// Keep `mapping`, granted just now for `request` (as [`forward`](crate::forward)
    /// returns it): reported as [`Event::Mapped`] at once, renewed on schedule,
    /// made anew from `request` if it is ever lost for good.
    pub fn held(request: MappingRequest, mapping: Mapping) -> Keep {
        Keep {
            request,
            held: Some(mapping),
            recorded: false,
        }
    }

    /// Keep `mapping`, found in a record (a program that restarted after a
    /// crash): renewed at once with its own state (the PCP nonce, the UPnP
    /// entry, the NAT-PMP internal port), so that no second mapping is made.
    /// [`Event::Mapped`] follows the renewal. If the gateway refuses the
    /// renewal, a [`Event::Warning`] says so and `request` is mapped anew.
    pub fn recorded(request: MappingRequest, mapping: Mapping) -> Keep {
        Keep {
            request,
            held: Some(mapping),
            recorded: true,
        }
    }

    /// The request.
    pub fn request(&self) -> &MappingRequest {
        &self.request
    }

    /// The mapping it starts from, if any.
    pub fn mapping(&self) -> Option<&Mapping> {
        self.held.as_ref()
    }
}

impl From<MappingRequest> for Keep {
    fn from(request: MappingRequest) -> Keep {
        Keep::new(request)
    }
}

pub(crate) enum Command {
    Add(usize, Box<Keep>),
    Remove(usize, oneshot::Sender<Result<Option<Mapping>>>),
    Close(oneshot::Sender<CloseReport>),
}

/// The part of a keeper that gives it commands; any number of copies.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    commands: mpsc::UnboundedSender<Command>,
    current: Arc<Mutex<BTreeMap<usize, Mapping>>>,
    next_index: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Add(i, _) => write!(f, "Add({i})"),
            Command::Remove(i, _) => write!(f, "Remove({i})"),
            Command::Close(_) => f.write_str("Close"),
        }
    }
}

fn closed() -> Error {
    Error::Closed {
        what: "this lease keeper is closed".into(),
    }
}

impl Control {
    pub(crate) fn mappings(&self) -> Vec<(usize, Mapping)> {
        lock(&self.current)
            .iter()
            .map(|(i, m)| (*i, m.clone()))
            .collect()
    }

    pub(crate) fn add(&self, item: Keep) -> Result<usize> {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        self.commands
            .send(Command::Add(index, Box::new(item)))
            .map_err(|_| closed())?;
        Ok(index)
    }

    pub(crate) async fn remove(&self, index: usize) -> Result<Option<Mapping>> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Remove(index, tx))
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// Ask the task to close; the report, or `None` when it had ended.
    pub(crate) async fn close(&self) -> Option<CloseReport> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Close(tx)).ok()?;
        rx.await.ok()
    }
}

/// Keeps a set of mappings alive on one forwarder; see the module docs.
///
/// # Examples
///
/// A keeper works on any [`Forwarder`], so it can be shown offline with
/// one that grants everything (no packet is sent: the keeper only calls the
/// forwarder it is given):
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::sync::Arc;
/// use std::time::Instant;
/// use pfwd_core::lease::{Event, Keeper, KeeperOptions};
/// use pfwd_core::{BoxFuture, Forwarder, Mapping, MappingRequest, Method, MethodState, Protocol, Result};
///
/// #[derive(Debug)]
/// struct Yes;
///
/// impl Forwarder for Yes {
///     fn method(&self) -> Method { Method::Manual }
///     fn external_address(&self) -> BoxFuture<'_, Result<Ipv4Addr>> {
///         Box::pin(async { Ok(Ipv4Addr::new(203, 0, 113, 7)) })
///     }
///     fn map<'a>(&'a self, r: &'a MappingRequest) -> BoxFuture<'a, Result<Mapping>> {
///         Box::pin(async move {
///             let port = r.external_port().unwrap_or(40000);
///             Ok(Mapping::new(
///                 Method::Manual,
///                 r.protocol(),
///                 Ipv4Addr::new(192, 168, 1, 1),
///                 SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), port),
///                 SocketAddrV4::new(r.internal_ipv4().unwrap_or(Ipv4Addr::new(192, 168, 1, 4)), r.internal_port()),
///                 r.lease(),
///                 Instant::now(),
///                 r.description(),
///                 MethodState::None,
///             ))
///         })
///     }
///     fn unmap<'a>(&'a self, _: &'a Mapping) -> BoxFuture<'a, Result<()>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let web = MappingRequest::builder(Protocol::Tcp, 80).build()?;
/// let mut keeper = Keeper::start(Arc::new(Yes), [web], KeeperOptions::default());
/// match keeper.next_event().await {
///     Some(Event::Mapped { index: 0, mapping }) => assert_eq!(mapping.external().port(), 80),
///     other => panic!("expected the mapping, got {other:?}"),
/// }
/// assert_eq!(keeper.mappings().len(), 1);
///
/// // Closing deletes what the keeper holds, and says so.
/// let report = keeper.close().await;
/// assert_eq!(report.deleted_count(), 1);
/// assert!(report.is_clean());
/// # Ok::<(), pfwd_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Keeper {
    control: Control,
    events: mpsc::Receiver<Event>,
    task: Option<JoinHandle<()>>,
}

impl Keeper {
    /// Start keeping `items` (requests, or [`Keep`]s) on `forwarder`, on the
    /// current tokio runtime. Mapping starts at once; watch
    /// [`next_event`](Self::next_event) for the outcome. Item `i` of the
    /// list is index `i` in the events.
    pub fn start<I>(forwarder: Arc<dyn Forwarder>, items: I, options: KeeperOptions) -> Keeper
    where
        I: IntoIterator,
        I::Item: Into<Keep>,
    {
        let items: Vec<Keep> = items.into_iter().map(Into::into).collect();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::channel(options.event_capacity.max(1));
        let current = Arc::new(Mutex::new(BTreeMap::new()));
        let control = Control {
            commands,
            current: current.clone(),
            next_index: Arc::new(AtomicUsize::new(items.len())),
        };
        let run = run::Run::new(
            forwarder,
            options,
            run::Emitter::new(event_tx),
            current,
            items,
        );
        let task = tokio::spawn(run.run(command_rx));
        Keeper {
            control,
            events,
            task: Some(task),
        }
    }

    /// The next event; `None` once the keeper has closed and every event was read.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The mappings held now, by item index.
    pub fn mappings(&self) -> Vec<(usize, Mapping)> {
        self.control.mappings()
    }

    /// Keep one more item; returns its index. Mapping starts at once.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the keeper has closed.
    pub fn add(&self, item: impl Into<Keep>) -> Result<usize> {
        self.control.add(item.into())
    }

    /// Stop keeping item `index` and delete its mapping from the gateway
    /// (within [`KeeperOptions::close_timeout`]); returns the mapping deleted,
    /// if one was held.
    ///
    /// # Errors
    ///
    /// The gateway's error when it did not delete the mapping (the item is
    /// then still kept: try again, or close); [`Error::InvalidRequest`] for
    /// an unknown index; [`Error::Closed`] when the keeper has closed.
    pub async fn remove(&self, index: usize) -> Result<Option<Mapping>> {
        self.control.remove(index).await
    }

    /// Stop keeping the mappings and delete them from the gateway (within
    /// [`KeeperOptions::close_timeout`]). The report says which were
    /// deleted and which are still on the gateway.
    pub async fn close(mut self) -> CloseReport {
        let report = self.control.close().await.unwrap_or_default();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        report
    }

    /// The keeper's parts, for the blocking API.
    #[cfg(feature = "blocking")]
    pub(crate) fn into_parts(mut self) -> (Control, mpsc::Receiver<Event>, JoinHandle<()>) {
        let task = self.task.take().unwrap_or_else(|| tokio::spawn(async {}));
        let control = self.control.clone();
        let events = std::mem::replace(&mut self.events, mpsc::channel(1).1);
        (control, events, task)
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

#[cfg(test)]
mod tests;
#[cfg(test)]
mod watch_tests;
