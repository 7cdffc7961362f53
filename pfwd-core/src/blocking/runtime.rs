//! The one runtime a process's blocking handles share, and the guards that
//! keep a blocking call from waiting for itself.

use std::cell::Cell;
use std::sync::Mutex;

use tokio::runtime::Runtime;

use crate::error::{Error, Result};
use crate::sync::lock;

/// The runtime of the current process: made on first use, with two worker
/// threads named `pfwd`. A forked child gets its own on first use (the
/// parent's threads do not exist in it); the parent's is left alone.
struct Current {
    pid: u32,
    runtime: &'static Runtime,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

thread_local! {
    /// Set on pfwd's event threads while a callback runs.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// pfwd's process-wide runtime, started on first use: two worker threads
/// named `pfwd`. Async code (an asyncio bridge, a caller's own futures) can
/// run on it too, so that blocking and async handles mix.
///
/// # Errors
///
/// [`Error::Io`] when the runtime's threads cannot be started.
pub fn runtime() -> Result<&'static Runtime> {
    let pid = std::process::id();
    let mut current = lock(&CURRENT);
    if let Some(c) = current.as_ref().filter(|c| c.pid == pid) {
        return Ok(c.runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("pfwd")
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting pfwd's runtime threads", e))?;
    // Kept for the life of the process: a forked child's copy of the
    // parent's runtime has no threads behind it and must never be dropped.
    let runtime: &'static Runtime = Box::leak(Box::new(runtime));
    *current = Some(Current { pid, runtime });
    Ok(runtime)
}

/// Fails when a handle made by process `owner` is used in another one (a
/// child after `fork()`): its sockets and tasks live in the parent.
pub(crate) fn check_owner(owner: u32, what: &str) -> Result<()> {
    let pid = std::process::id();
    if pid == owner {
        Ok(())
    } else {
        Err(Error::Closed {
            what: format!(
                "this {what} belongs to process {owner}, and this is process {pid} (a child \
                 made by fork()): its sockets and tasks stay in the parent; in the child"
            ),
        })
    }
}

/// Fails when blocking here would wait for itself: inside a pfwd event
/// callback, or on a thread that drives an async runtime.
pub(crate) fn may_block(operation: &str) -> Result<()> {
    let why = if IN_CALLBACK.with(Cell::get) {
        "it was called from a pfwd event callback, which runs on the thread that \
         delivers the events"
    } else if tokio::runtime::Handle::try_current().is_ok() {
        "it was called on a thread that drives an async runtime"
    } else {
        return Ok(());
    };
    Err(Error::WouldDeadlock {
        operation: operation.to_string(),
        why: why.to_string(),
    })
}

/// Mark the calling thread as one that runs event callbacks.
pub(crate) fn enter_callback_thread() {
    IN_CALLBACK.with(|c| c.set(true));
}
