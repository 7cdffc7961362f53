//! How long a blocking call may wait, and how to stop it early: the
//! deadline, a cancel token, and an interrupt hook checked while waiting.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use super::runtime::may_block;
use crate::error::{Error, Result};
use crate::forwarder::BoxFuture;
use crate::mapping::Method;
use crate::sync::lock;

/// How long a blocking call waits at most unless told otherwise
/// ([`defaults::CALL_TIMEOUT`](crate::defaults::CALL_TIMEOUT), 30 s).
pub const DEFAULT_TIMEOUT: Duration = crate::defaults::CALL_TIMEOUT;

/// How often a waiting call checks its cancel token and interrupt hook
/// ([`defaults::CALL_CHECK_INTERVAL`](crate::defaults::CALL_CHECK_INTERVAL), 100 ms).
pub const CHECK_INTERVAL: Duration = crate::defaults::CALL_CHECK_INTERVAL;

/// A hook a waiting call runs every [`CHECK_INTERVAL`]; `true` stops the
/// call with [`Error::Cancelled`]. Python checks for Ctrl-C here.
pub type Interrupt = Arc<dyn Fn() -> bool + Send + Sync>;

/// Stops blocking calls from another thread: every call made with the
/// token returns [`Error::Cancelled`] within [`CHECK_INTERVAL`] once it is
/// cancelled. Clones share the token.
///
/// # Examples
///
/// ```
/// use pfwd_core::blocking::{Call, CancelToken};
///
/// let token = CancelToken::new();
/// let call = Call::new().cancel_token(&token); // calls made with it stop when...
/// let stopper = token.clone();
/// std::thread::spawn(move || stopper.cancel()).join().unwrap(); // ...another thread says so
/// assert!(token.is_cancelled());
/// # drop(call);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancel every call made with this token, now and later.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The limits of one blocking call: a deadline ([`DEFAULT_TIMEOUT`] unless
/// set), a cancel token, an interrupt hook.
///
/// A call that ends early (deadline, cancel, interrupt) leaves nothing on
/// the router: the work it started finishes in the background, and a
/// mapping it makes is deleted at once.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
/// use pfwd_core::blocking::{Call, DEFAULT_TIMEOUT};
///
/// assert_eq!(Call::new().timeout_len(), DEFAULT_TIMEOUT);
///
/// // Ten seconds at most, and stop at Ctrl-C (here, a flag a signal handler sets).
/// let interrupted = Arc::new(AtomicBool::new(false));
/// let flag = interrupted.clone();
/// let call = Call::new()
///     .timeout(Duration::from_secs(10))
///     .interrupt(move || flag.load(Ordering::Relaxed));
/// assert_eq!(call.timeout_len(), Duration::from_secs(10));
/// ```
#[derive(Clone)]
pub struct Call {
    timeout: Duration,
    cancel: Option<CancelToken>,
    interrupt: Option<Interrupt>,
}

impl Default for Call {
    fn default() -> Self {
        Call {
            timeout: DEFAULT_TIMEOUT,
            cancel: None,
            interrupt: None,
        }
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("timeout", &self.timeout)
            .field("cancel", &self.cancel)
            .field("interrupt", &self.interrupt.is_some())
            .finish()
    }
}

impl Call {
    /// The defaults: [`DEFAULT_TIMEOUT`], no token, no hook.
    pub fn new() -> Call {
        Call::default()
    }

    /// Wait at most `timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Call {
        self.timeout = timeout;
        self
    }

    /// Stop when `token` is cancelled.
    #[must_use]
    pub fn cancel_token(mut self, token: &CancelToken) -> Call {
        self.cancel = Some(token.clone());
        self
    }

    /// Run `hook` every [`CHECK_INTERVAL`] while waiting; stop when it
    /// returns true.
    #[must_use]
    pub fn interrupt(mut self, hook: impl Fn() -> bool + Send + Sync + 'static) -> Call {
        self.interrupt = Some(Arc::new(hook));
        self
    }

    /// The deadline's length.
    pub fn timeout_len(&self) -> Duration {
        self.timeout
    }

    fn stop_reason(&self) -> Option<&'static str> {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            Some("its cancel token was cancelled")
        } else if self.interrupt.as_ref().is_some_and(|hook| hook()) {
            Some("it was interrupted")
        } else {
            None
        }
    }
}

/// What to do with a result that came after the caller stopped waiting.
pub(crate) type Cleanup<T> = Box<dyn FnOnce(T) -> BoxFuture<'static, ()> + Send>;

enum State<T> {
    Waiting,
    Done(Result<T>),
    Abandoned,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

/// Run `work` on `runtime` and wait for it within `call`'s limits. When the
/// caller stops waiting first, `work` goes on, and `cleanup` gets its
/// successful result (to delete a mapping nobody will know of).
pub(crate) fn wait<T, F>(
    runtime: &Runtime,
    call: &Call,
    operation: &str,
    method: Method,
    work: F,
    cleanup: Option<Cleanup<T>>,
) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    may_block(operation)?;
    if let Some(why) = call.stop_reason() {
        return Err(cancelled(operation, why));
    }
    let shared = Arc::new(Shared {
        state: Mutex::new(State::Waiting),
        ready: Condvar::new(),
    });
    let task_side = shared.clone();
    let late_cleanup = Arc::new(Mutex::new(cleanup));
    let cleanup_for_task = late_cleanup.clone();
    runtime.spawn(async move {
        let result = work.await;
        let late = {
            let mut state = lock(&task_side.state);
            if matches!(*state, State::Abandoned) {
                Some(result)
            } else {
                *state = State::Done(result);
                task_side.ready.notify_all();
                None
            }
        };
        if let Some(Ok(value)) = late {
            let cleanup = lock(&cleanup_for_task).take();
            if let Some(cleanup) = cleanup {
                cleanup(value).await;
            }
        }
    });
    let deadline = Instant::now() + call.timeout;
    loop {
        let now = Instant::now();
        {
            let state = lock(&shared.state);
            let wait_for = CHECK_INTERVAL.min(deadline.saturating_duration_since(now));
            let (mut state, _) = shared
                .ready
                .wait_timeout_while(state, wait_for, |s| matches!(s, State::Waiting))
                .unwrap_or_else(|p| p.into_inner());
            if let State::Done(_) = *state
                && let State::Done(result) = std::mem::replace(&mut *state, State::Abandoned)
            {
                return result;
            }
        }
        let why = if Instant::now() >= deadline {
            None
        } else {
            match call.stop_reason() {
                Some(why) => Some(why),
                None => continue,
            }
        };
        // Stop waiting; whatever the work yields from now on is cleaned up.
        let mut state = lock(&shared.state);
        if let State::Done(result) = std::mem::replace(&mut *state, State::Abandoned) {
            drop(state);
            if let (Ok(value), Some(cleanup)) = (result, lock(&late_cleanup).take()) {
                runtime.spawn(cleanup(value));
            }
        }
        return Err(match why {
            Some(why) => cancelled(operation, why),
            None => Error::Timeout {
                method,
                operation: operation.to_string(),
                after: call.timeout,
            },
        });
    }
}

fn cancelled(operation: &str, why: &str) -> Error {
    Error::Cancelled {
        operation: format!("{operation} ({why})"),
    }
}
