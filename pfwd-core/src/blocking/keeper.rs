//! The lease keeper behind a blocking handle: events by polling with a
//! timeout, or by a callback on a pfwd thread; closing on drop; every live
//! keeper closed by [`shutdown`](super::shutdown).

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use super::call::{Call, wait};
use super::runtime::{check_owner, enter_callback_thread, may_block, runtime};
use crate::error::{Error, Result};
use crate::forwarder::Forwarder;
use crate::lease::{self, CloseReport, Control, Event, Keep, KeeperOptions};
use crate::mapping::{Mapping, Method};
use crate::sync::lock;

/// Every keeper not yet dropped, for [`shutdown`](super::shutdown).
static LIVE: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

/// A [`lease::Keeper`] for synchronous code; any thread may use it.
///
/// Events are read one of two ways: [`next_event`](Self::next_event) with
/// a timeout, or [`on_event`](Self::on_event), which hands each event, in
/// order, to a callback on a thread pfwd owns, [`Event::Closed`] last.
/// Dropping the keeper closes it (waiting at most its close timeout);
/// [`close`](Self::close) says what was deleted and what is left.
///
/// # Examples
///
/// With a router, from [`Client::keep`](super::Client::keep) (compiled, not
/// run):
///
/// ```no_run
/// use std::time::Duration;
/// use pfwd_core::blocking::{Call, Client};
/// use pfwd_core::lease::{Event, KeeperOptions};
/// use pfwd_core::{ClientOptions, MappingRequest, Protocol};
///
/// let client = Client::discover(ClientOptions::default(), &Call::new())?;
/// let web = MappingRequest::builder(Protocol::Tcp, 80).build()?;
/// let keeper = client.keep([web], KeeperOptions::default())?;
/// while let Some(event) = keeper.next_event(Duration::from_secs(60))? {
///     println!("{event}");
///     if let Event::Failed { error, .. } = &event {
///         eprintln!("{}", error.to_json());
///     }
/// #   break;
/// }
/// println!("{}", keeper.close(&Call::new())?);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
///
/// On any [`Forwarder`], here one that grants everything, offline:
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use pfwd_core::blocking::{Call, Keeper};
/// use pfwd_core::lease::{Event, KeeperOptions};
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
///             Ok(Mapping::new(
///                 Method::Manual,
///                 r.protocol(),
///                 Ipv4Addr::new(192, 168, 1, 1),
///                 SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), r.external_port().unwrap_or(40000)),
///                 SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), r.internal_port()),
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
/// let games = [
///     MappingRequest::builder(Protocol::Udp, 27015).build()?,
///     MappingRequest::builder(Protocol::Tcp, 27015).build()?,
/// ];
/// let keeper = Keeper::start(Arc::new(Yes), games, KeeperOptions::default())?;
/// let mut mapped = 0;
/// while mapped < 2 {
///     match keeper.next_event(Duration::from_secs(5))? {
///         Some(Event::Mapped { .. }) => mapped += 1,
///         other => panic!("expected the mappings, got {other:?}"),
///     }
/// }
/// let report = keeper.close(&Call::new())?;
/// assert_eq!(report.deleted_count(), 2);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Keeper(Arc<Inner>);

struct Inner {
    control: Control,
    events: Mutex<Option<mpsc::Receiver<Event>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    report: Mutex<Option<CloseReport>>,
    /// Told when the callback thread has delivered the last event.
    delivered: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    close_timeout: Duration,
    pid: u32,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("mappings", &self.control.mappings())
            .field("closed", &lock(&self.report).is_some())
            .finish()
    }
}

impl Keeper {
    /// Start keeping `items` on `forwarder`, on pfwd's runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when pfwd's runtime cannot start.
    pub fn start<I>(
        forwarder: Arc<dyn Forwarder>,
        items: I,
        options: KeeperOptions,
    ) -> Result<Keeper>
    where
        I: IntoIterator,
        I::Item: Into<Keep>,
    {
        let rt = runtime()?;
        let close_timeout = options.close_timeout;
        let keeper = {
            let _entered = rt.enter();
            lease::Keeper::start(forwarder, items, options)
        };
        let (control, events, task) = keeper.into_parts();
        let inner = Arc::new(Inner {
            control,
            events: Mutex::new(Some(events)),
            task: Mutex::new(Some(task)),
            report: Mutex::new(None),
            delivered: Mutex::new(None),
            close_timeout,
            pid: std::process::id(),
        });
        let mut live = lock(&LIVE);
        live.retain(|k| k.strong_count() > 0);
        live.push(Arc::downgrade(&inner));
        Ok(Keeper(inner))
    }

    fn check(&self) -> Result<()> {
        check_owner(self.0.pid, "lease keeper")
    }

    /// The mappings held now, by item index.
    pub fn mappings(&self) -> Vec<(usize, Mapping)> {
        self.0.control.mappings()
    }

    /// Keep one more item; returns its index (it does not block).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the keeper has closed, or after `fork()`.
    pub fn add(&self, item: impl Into<Keep>) -> Result<usize> {
        self.check()?;
        self.0.control.add(item.into())
    }

    /// Stop keeping item `index` and delete its mapping; see
    /// [`lease::Keeper::remove`].
    ///
    /// # Errors
    ///
    /// As [`lease::Keeper::remove`], and the call's own errors.
    pub fn remove(&self, index: usize, call: &Call) -> Result<Option<Mapping>> {
        self.check()?;
        let control = self.0.control.clone();
        wait(
            runtime()?,
            call,
            "removing a kept mapping",
            Method::Manual,
            async move { control.remove(index).await },
            None,
        )
    }

    /// The next event, waiting at most `timeout`; `Ok(None)` when none
    /// came in time.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the keeper has closed and every event was
    /// read; [`Error::InvalidRequest`] when the events go to a callback
    /// ([`on_event`](Self::on_event)); [`Error::WouldDeadlock`] from a callback.
    pub fn next_event(&self, timeout: Duration) -> Result<Option<Event>> {
        self.check()?;
        may_block("waiting for a keeper event")?;
        let rt = runtime()?;
        let mut events = lock(&self.0.events);
        let Some(rx) = events.as_mut() else {
            return Err(Error::invalid(
                "this keeper's events go to the callback given to on_event: read them there",
            ));
        };
        match rt.block_on(async { tokio::time::timeout(timeout, rx.recv()).await }) {
            Ok(Some(event)) => Ok(Some(event)),
            Ok(None) => Err(Error::Closed {
                what: "this lease keeper has closed and every event was read".into(),
            }),
            Err(_) => Ok(None),
        }
    }

    /// Hand every event from now on to `callback`, one at a time, in order,
    /// on a thread pfwd owns (`pfwd-events`); [`Event::Closed`] is the last.
    /// A blocking pfwd call made from the callback fails with
    /// [`Error::WouldDeadlock`]; a panic in it is caught and logged.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when a callback was given already;
    /// [`Error::Io`] when the thread cannot be started.
    pub fn on_event(&self, mut callback: impl FnMut(Event) + Send + 'static) -> Result<()> {
        self.check()?;
        let Some(mut rx) = lock(&self.0.events).take() else {
            return Err(Error::invalid(
                "this keeper already hands its events to a callback: give one callback only",
            ));
        };
        let (done, delivered) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("pfwd-events".into())
            .spawn(move || {
                enter_callback_thread();
                while let Some(event) = rx.blocking_recv() {
                    let call = std::panic::AssertUnwindSafe(|| callback(event));
                    if std::panic::catch_unwind(call).is_err() {
                        log::error!("a pfwd event callback panicked; the next events still come");
                    }
                }
                let _ = done.send(());
            })
            .map_err(|e| Error::io("starting the pfwd-events thread", e))?;
        *lock(&self.0.delivered) = Some(delivered);
        Ok(())
    }

    /// Stop keeping the mappings and delete them. Calling it again returns
    /// the same report. With a callback, it returns once the callback has
    /// had [`Event::Closed`] (or the call's time ran out).
    ///
    /// # Errors
    ///
    /// The call's own errors (closing then goes on in the background);
    /// [`Error::Closed`] after `fork()`.
    pub fn close(&self, call: &Call) -> Result<CloseReport> {
        self.check()?;
        self.0.close(call)
    }
}

impl Inner {
    fn close(&self, call: &Call) -> Result<CloseReport> {
        if let Some(report) = lock(&self.report).clone() {
            return Ok(report);
        }
        may_block("closing the keeper")?;
        let control = self.control.clone();
        let task = lock(&self.task).take();
        let report = wait(
            runtime()?,
            call,
            "closing the keeper",
            Method::Manual,
            async move {
                let report = control.close().await.unwrap_or_default();
                if let Some(task) = task {
                    let _ = task.await;
                }
                Ok(report)
            },
            None,
        )?;
        *lock(&self.report) = Some(report.clone());
        if let Some(delivered) = lock(&self.delivered).take() {
            let _ = delivered.recv_timeout(call.timeout_len());
        }
        Ok(report)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if lock(&self.report).is_some() || check_owner(self.pid, "keeper").is_err() {
            return;
        }
        // Wait (bounded) where this thread may block; elsewhere the task
        // sees its last handle gone and deletes the mappings by itself.
        if may_block("closing the keeper").is_ok() {
            let call = Call::new().timeout(self.close_timeout + Duration::from_secs(1));
            if let Err(e) = self.close(&call) {
                log::warn!("closing a dropped keeper: {e}");
            }
        }
    }
}

/// Close every live keeper of this process; returns how many were closed.
pub(crate) fn close_all() -> usize {
    let live: Vec<Arc<Inner>> = {
        let mut live = lock(&LIVE);
        live.retain(|k| k.strong_count() > 0);
        live.iter().filter_map(Weak::upgrade).collect()
    };
    live.iter()
        .filter(|k| check_owner(k.pid, "keeper").is_ok() && lock(&k.report).is_none())
        .filter(|k| k.close(&Call::new()).is_ok())
        .count()
}
