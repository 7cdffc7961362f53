//! The synchronous API: blocking handles on one process-wide runtime, for
//! programs without an async runtime of their own, and the API that the
//! Python package and the C library mirror call for call.
//!
//! - [`Client`]: discover, forward, map, renew, unmap, list, the guide.
//! - [`Keeper`]: keep mappings alive; events polled or by callback.
//! - [`Call`]: every blocking call has a deadline ([`DEFAULT_TIMEOUT`]
//!   unless set), and can be stopped by a [`CancelToken`] or an interrupt
//!   hook checked every [`CHECK_INTERVAL`]. A call stopped while a request
//!   is in flight leaves nothing on the router: a mapping granted later is
//!   deleted.
//! - [`shutdown`] closes every live keeper (for `atexit`).
//!
//! The handles are `Send + Sync` and may be shared between threads. A call
//! made where it would wait for itself (inside an event callback, or on a
//! thread driving an async runtime) fails with
//! [`Error::WouldDeadlock`](crate::Error::WouldDeadlock); a handle used in a
//! child process after `fork()` fails with [`Error::Closed`](crate::Error::Closed).
//! Async code can use [`runtime()`] and [`Client::as_async`] to mix with
//! the blocking handles.
//!
//! # Examples
//!
//! Compiled, not run: it asks the router.
//!
//! ```no_run
//! use std::time::Duration;
//! use pfwd_core::blocking::{Call, Client};
//! use pfwd_core::lease::{Event, Keep, KeeperOptions};
//! use pfwd_core::{ClientOptions, MappingRequest, Protocol};
//!
//! let web = MappingRequest::builder(Protocol::Tcp, 8080).build()?;
//! let (client, mapping) = Client::forward(ClientOptions::default(), &web, &Call::new())?;
//! let keeper = client.keep([Keep::held(web, mapping)], KeeperOptions::default())?;
//! keeper.on_event(|event| println!("{event}"))?;
//! std::thread::sleep(Duration::from_secs(60));
//! let report = keeper.close(&Call::new())?; // deletes the mapping
//! println!("{report}");
//! # Ok::<(), pfwd_core::Error>(())
//! ```

mod call;
mod client;
mod keeper;
mod runtime;

pub use call::{CHECK_INTERVAL, Call, CancelToken, DEFAULT_TIMEOUT, Interrupt};
pub use client::Client;
pub use keeper::Keeper;
pub use runtime::runtime;

use crate::auto::ClientOptions;
use crate::check::{CheckOptions, CheckReport};
use crate::error::Result;
use crate::model::{MappingRequest, Method};

/// Check whether each of `requests` is reachable from the internet,
/// finding the router once with `client_options` (a router that cannot be
/// found does not stop the checks); see [`crate::check::check_all`] and
/// [`Client::check`].
///
/// # Errors
///
/// As [`crate::check::check_all`]; the call's own errors.
///
/// # Examples
///
/// Compiled, not run: it asks the router and a prober outside.
///
/// ```no_run
/// use std::time::Duration;
/// use pfwd_core::blocking::{self, Call};
/// use pfwd_core::check::CheckOptions;
/// use pfwd_core::{ClientOptions, MappingRequest, Protocol};
///
/// let dns = [
///     MappingRequest::builder(Protocol::Tcp, 53).build()?,
///     MappingRequest::builder(Protocol::Udp, 53).build()?,
/// ];
/// let options = CheckOptions::via("http://203.0.113.50:8099".parse()?);
/// let call = Call::new().timeout(Duration::from_secs(20));
/// for report in blocking::check(ClientOptions::default(), &dns, &options, &call)? {
///     println!("{}: {}", report.diagnosis, report.explanation);
/// }
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn check(
    client_options: ClientOptions,
    requests: &[MappingRequest],
    options: &CheckOptions,
    call: &Call,
) -> Result<Vec<CheckReport>> {
    let requests = requests.to_vec();
    let options = options.clone();
    call::wait(
        runtime()?,
        call,
        "checking from outside",
        Method::Manual,
        async move { crate::check::check_all(client_options, &requests, &options).await },
        None,
    )
}

/// Close every live [`Keeper`] of this process, deleting their mappings
/// (for `atexit`, a C program's `pfwd_shutdown()`, or a signal handler's
/// thread). Returns how many keepers were closed. Keepers made later work
/// as usual.
///
/// # Examples
///
/// ```
/// // No keeper is live in this program: nothing to close.
/// assert_eq!(pfwd_core::blocking::shutdown(), 0);
/// ```
pub fn shutdown() -> usize {
    keeper::close_all()
}
