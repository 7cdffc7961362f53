//! `pfwd_keeper`: mappings kept alive in the background (renewed, made
//! again after a router restart, deleted on close), with events by
//! callback on pfwd's own thread or polled with a timeout.

#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char, c_void};
use std::time::Duration;

use pfwd_core::blocking::{self, Keeper};
use pfwd_core::lease::{Event, Keep, KeeperOptions};

use crate::check::{pfwd_check_report, prober};
use crate::client::{call_of, pfwd_call_options, pfwd_client};
use crate::mapping::pfwd_mapping;
use crate::options::{self, Sized_, size_u32};
use crate::request::pfwd_request;
use crate::result::{
    Failure, arg, c_string, guard, guard_value, out_arg, owned, pfwd_error, pfwd_result, write,
};

/// How a keeper works. Set with `pfwd_keeper_options_init`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pfwd_keeper_options {
    /// `sizeof(pfwd_keeper_options)`; set by `pfwd_keeper_options_init`.
    pub size: u32,
    /// How often to check that the router still holds the mappings, in
    /// milliseconds; 0 is pfwd's default.
    pub check_interval_ms: u32,
    /// How long closing may take, in milliseconds; 0 is pfwd's default (5 s).
    pub close_timeout_ms: u32,
    /// A prober ("http://HOST:PORT", running `pfwd probe-server` outside
    /// this network): each mapping is checked from outside when first held
    /// and whenever restored, and reported as `PFWD_EVENT_CHECKED`. NULL
    /// (the default): no check. Borrowed for the call only.
    pub check_via: *const c_char,
}

// SAFETY: repr(C), starts with `size: u32`; integers and a pointer only.
unsafe impl Sized_ for pfwd_keeper_options {
    fn defaults() -> Self {
        pfwd_keeper_options {
            size: size_u32::<Self>(),
            check_interval_ms: 0,
            close_timeout_ms: 0,
            check_via: std::ptr::null(),
        }
    }
}

/// Keeps mappings alive. Threads may share one. Freed (and closed, deleting
/// its mappings) with `pfwd_keeper_free`.
pub struct pfwd_keeper(Keeper);

/// What happened to a kept mapping.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pfwd_event_kind {
    /// The keeper holds the mapping for the first time.
    PFWD_EVENT_MAPPED = 1,
    /// The mapping was renewed.
    PFWD_EVENT_RENEWED = 2,
    /// The router lost it (restart, expiry); pfwd makes it again.
    PFWD_EVENT_LOST = 3,
    /// A lost mapping was made again.
    PFWD_EVENT_RESTORED = 4,
    /// The router's external address changed.
    PFWD_EVENT_EXTERNAL_ADDRESS_CHANGED = 5,
    /// An attempt failed (the error says why; pfwd tries again).
    PFWD_EVENT_FAILED = 6,
    /// Something worth knowing that is not a failure.
    PFWD_EVENT_WARNING = 7,
    /// An item was removed with `pfwd_keeper_remove`.
    PFWD_EVENT_REMOVED = 8,
    /// Events were dropped because the reader fell behind.
    PFWD_EVENT_MISSED = 9,
    /// The keeper closed: the last event.
    PFWD_EVENT_CLOSED = 10,
    /// A mapping just made or restored was checked from outside
    /// (`pfwd_keeper_options.check_via`); `pfwd_event_check_report` has
    /// the report.
    PFWD_EVENT_CHECKED = 11,
    /// Another pfwd process took the mapping over (it keeps it now); this
    /// keeper let it go without deleting it. The text names the process.
    PFWD_EVENT_TAKEN_OVER = 12,
}

/// One event: its kind, the item, the mapping, the error, the check's
/// report, a line of text.
pub struct pfwd_event {
    kind: pfwd_event_kind,
    index: i64,
    mapping: Option<pfwd_mapping>,
    error: Option<pfwd_error>,
    report: Option<pfwd_check_report>,
    text: CString,
}

impl pfwd_event {
    fn new(event: Event) -> pfwd_event {
        use pfwd_event_kind::*;
        let text = c_string(event.to_string());
        let err = |e: &std::sync::Arc<pfwd_core::Error>| {
            Some(pfwd_error::from(Failure::Core((**e).clone())))
        };
        let idx = |i: usize| i64::try_from(i).unwrap_or(i64::MAX);
        let mut report = None;
        let (kind, index, mapping, error) = match event {
            Event::Mapped { index, mapping } => {
                (PFWD_EVENT_MAPPED, idx(index), Some(mapping), None)
            }
            Event::Renewed { index, mapping } => {
                (PFWD_EVENT_RENEWED, idx(index), Some(mapping), None)
            }
            Event::Lost { index, mapping, .. } => {
                (PFWD_EVENT_LOST, idx(index), Some(mapping), None)
            }
            Event::Restored { index, mapping } => {
                (PFWD_EVENT_RESTORED, idx(index), Some(mapping), None)
            }
            Event::ExternalAddressChanged { .. } => {
                (PFWD_EVENT_EXTERNAL_ADDRESS_CHANGED, -1, None, None)
            }
            Event::Failed { index, error, .. } => {
                (PFWD_EVENT_FAILED, idx(index), None, err(&error))
            }
            Event::Warning { index, error, .. } => (
                PFWD_EVENT_WARNING,
                index.map_or(-1, idx),
                None,
                error.as_ref().and_then(err),
            ),
            Event::Removed { index, mapping } => (PFWD_EVENT_REMOVED, idx(index), mapping, None),
            Event::Missed { .. } => (PFWD_EVENT_MISSED, -1, None, None),
            Event::Checked { index, report: r } => {
                report = Some(pfwd_check_report::new(*r));
                (PFWD_EVENT_CHECKED, idx(index), None, None)
            }
            Event::Closed { .. } => (PFWD_EVENT_CLOSED, -1, None, None),
            Event::TakenOver { index, mapping, .. } => {
                (PFWD_EVENT_TAKEN_OVER, idx(index), Some(mapping), None)
            }
            // A kind the core adds later: reported as a warning, with its text.
            #[allow(unreachable_patterns)]
            _ => (PFWD_EVENT_WARNING, -1, None, None),
        };
        pfwd_event {
            kind,
            index,
            mapping: mapping.map(pfwd_mapping::new),
            error,
            report,
            text,
        }
    }
}

/// Receives each event on pfwd's `pfwd-events` thread, one at a time, in
/// order, `PFWD_EVENT_CLOSED` last. `event` is borrowed for the call only.
/// A blocking pfwd call made here fails with `PFWD_WOULD_DEADLOCK`.
pub type pfwd_event_callback =
    Option<unsafe extern "C" fn(event: *const pfwd_event, user: *mut c_void)>;

/// The caller's pointer, handed back on pfwd's thread.
struct User(*mut c_void);
// SAFETY: pfwd never dereferences it; the caller promises (documented at
// `pfwd_keeper_on_event`) that using it on pfwd's thread is safe.
unsafe impl Send for User {}

/// Set `options` to the defaults. NULL is ignored. Thread-safety: any thread.
///
/// # Safety
///
/// `options` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_keeper_options_init(options: *mut pfwd_keeper_options) {
    // SAFETY: forwarded contract.
    unsafe { options::init(options) }
}

/// Keep `request` mapped in the background. With `held` (a mapping just
/// made for this request), the keeper adopts it without mapping again;
/// with NULL it maps now. `options` may be NULL. Writes `*keeper_out`
/// only on success. Does not block on the network.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `client` and `request` live; `held` NULL or live; `options` NULL or
/// sized, its `check_via` NULL or a string; `keeper_out` writable;
/// `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_keep(
    client: *const pfwd_client,
    request: *const pfwd_request,
    held: *const pfwd_mapping,
    options: *const pfwd_keeper_options,
    keeper_out: *mut *mut pfwd_keeper,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let (client, r) = unsafe { (arg(client, "client")?, arg(request, "request")?) };
        out_arg(keeper_out, "keeper_out")?;
        // SAFETY: forwarded contract.
        let o = unsafe { options::read(options, "pfwd_keeper_options") }?;
        let mut ko = KeeperOptions::default();
        if o.check_interval_ms != 0 {
            ko.check_interval = Some(Duration::from_millis(u64::from(o.check_interval_ms)));
        }
        if o.close_timeout_ms != 0 {
            ko.close_timeout = Duration::from_millis(u64::from(o.close_timeout_ms));
        }
        // SAFETY: NULL or a string (contract).
        ko.check_via = unsafe { prober(o.check_via, "options.check_via") }?;
        // SAFETY: NULL or live (contract).
        let item = match unsafe { held.as_ref() } {
            Some(m) => Keep::held(r.request.clone(), m.mapping.clone()),
            None => Keep::new(r.request.clone()),
        };
        let keeper = client.0.keep([item], ko)?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(keeper_out, Box::into_raw(Box::new(pfwd_keeper(keeper)))) };
        Ok(())
    })
}

/// Add a request to a keeper; writes its index to `*index_out` (if not
/// NULL) on success. Mapping starts at once, in the background.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `keeper` and `request` live; `index_out` NULL or writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_keeper_add(
    keeper: *const pfwd_keeper,
    request: *const pfwd_request,
    index_out: *mut usize,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let (k, r) = unsafe { (arg(keeper, "keeper")?, arg(request, "request")?) };
        let index = k.0.add(Keep::new(r.request.clone()))?;
        if !index_out.is_null() {
            // SAFETY: non-NULL, writable per the contract.
            unsafe { write(index_out, index) };
        }
        Ok(())
    })
}

/// Stop keeping item `index` and delete its mapping. Blocks.
///
/// Thread-safety: any thread except inside an event callback.
///
/// # Safety
///
/// `keeper` live; `call` NULL or sized; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_keeper_remove(
    keeper: *const pfwd_keeper,
    index: usize,
    call: *const pfwd_call_options,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let k = unsafe { arg(keeper, "keeper") }?;
        // SAFETY: forwarded contract.
        k.0.remove(index, &unsafe { call_of(call) }?)?;
        Ok(())
    })
}

/// Deliver every event to `callback` on pfwd's `pfwd-events` thread, one
/// at a time, in order, `PFWD_EVENT_CLOSED` last; `user` is passed back
/// each time and must stay valid (and be safe to use from that thread)
/// until CLOSED has been delivered. Set it once per keeper, before polling.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `keeper` live; `callback` NULL (an error) or a function safe to call
/// from another thread; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_keeper_on_event(
    keeper: *const pfwd_keeper,
    callback: pfwd_event_callback,
    user: *mut c_void,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let k = unsafe { arg(keeper, "keeper") }?;
        let callback = callback.ok_or(Failure::Null("callback"))?;
        let user = User(user);
        k.0.on_event(move |event| {
            let user = &user;
            let event = pfwd_event::new(event);
            // SAFETY: the caller's function and pointer, used as documented.
            // The core catches a panic here; a C callback cannot unwind.
            unsafe { callback(&event, user.0) };
        })?;
        Ok(())
    })
}

/// The next event within `timeout_ms`: writes `*event_out` (free it with
/// `pfwd_event_free`), or NULL when none came in time; `PFWD_CLOSED` once
/// CLOSED has been read. Blocks up to the timeout.
///
/// Thread-safety: any thread except inside an event callback.
///
/// # Safety
///
/// `keeper` live; `event_out` writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_keeper_next_event(
    keeper: *const pfwd_keeper,
    timeout_ms: u32,
    event_out: *mut *mut pfwd_event,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let k = unsafe { arg(keeper, "keeper") }?;
        out_arg(event_out, "event_out")?;
        let next =
            k.0.next_event(Duration::from_millis(u64::from(timeout_ms)))?;
        let handle = next.map_or(std::ptr::null_mut(), |e| {
            Box::into_raw(Box::new(pfwd_event::new(e)))
        });
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(event_out, handle) };
        Ok(())
    })
}

/// Close: delete every kept mapping. With `report_out` not NULL, writes
/// what was deleted and what is left, in words (a string to free with
/// `pfwd_string_free`). A second close returns the same. Blocks up to the
/// close timeout.
///
/// Thread-safety: any thread except inside an event callback.
///
/// # Safety
///
/// `keeper` live; `call` NULL or sized; `report_out` NULL or writable;
/// `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_keeper_close(
    keeper: *const pfwd_keeper,
    call: *const pfwd_call_options,
    report_out: *mut *mut c_char,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let k = unsafe { arg(keeper, "keeper") }?;
        // SAFETY: forwarded contract.
        let report = k.0.close(&unsafe { call_of(call) }?)?;
        if !report_out.is_null() {
            // SAFETY: non-NULL, writable per the contract.
            unsafe { write(report_out, owned(report.to_string())) };
        }
        Ok(())
    })
}

/// Free a keeper, closing it first if needed (deleting its mappings,
/// waiting at most the close timeout). NULL is accepted. Not from inside
/// the keeper's own event callback.
///
/// Thread-safety: once no other thread uses it.
///
/// # Safety
///
/// `keeper` is NULL or a keeper not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_keeper_free(keeper: *mut pfwd_keeper) {
    if !keeper.is_null() {
        // SAFETY: made by `Box::into_raw` here, not yet freed (contract).
        let k = unsafe { Box::from_raw(keeper) };
        guard_value((), || drop(k));
    }
}

/// Close every live keeper of the process, deleting their mappings (for
/// `atexit` or a signal-handling thread); returns how many. Keepers made
/// later work as usual; closed handles still need `pfwd_keeper_free`.
///
/// Thread-safety: any thread (not a signal handler itself).
#[unsafe(no_mangle)]
pub extern "C" fn pfwd_shutdown() -> usize {
    guard_value(0, blocking::shutdown)
}

/// The event's kind (a `pfwd_event_kind`); 0 for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `event` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_event_get_kind(event: *const pfwd_event) -> u32 {
    guard_value(0, || {
        // SAFETY: NULL or live (contract).
        unsafe { arg(event, "event") }.map_or(0, |e| e.kind as u32)
    })
}
/// The item it concerns (as `pfwd_keeper_add` numbered it, the first
/// is 0); -1 when none.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `event` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_event_index(event: *const pfwd_event) -> i64 {
    guard_value(-1, || {
        // SAFETY: NULL or live (contract).
        unsafe { arg(event, "event") }.map_or(-1, |e| e.index)
    })
}
/// The mapping (MAPPED, RENEWED, LOST, RESTORED, REMOVED), borrowed for
/// the event's life; NULL when none.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `event` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_event_mapping(event: *const pfwd_event) -> *const pfwd_mapping {
    guard_value(std::ptr::null(), || {
        // SAFETY: NULL or live (contract).
        unsafe { arg(event, "event") }.map_or(std::ptr::null(), |e| {
            e.mapping
                .as_ref()
                .map_or(std::ptr::null(), |m| m as *const pfwd_mapping)
        })
    })
}
/// The error (FAILED, some WARNINGs), borrowed for the event's life;
/// NULL when none. A FAILED with `PFWD_MANUAL` carries the guide.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `event` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_event_error(event: *const pfwd_event) -> *const pfwd_error {
    guard_value(std::ptr::null(), || {
        // SAFETY: NULL or live (contract).
        unsafe { arg(event, "event") }.map_or(std::ptr::null(), |e| {
            e.error
                .as_ref()
                .map_or(std::ptr::null(), |x| x as *const pfwd_error)
        })
    })
}
/// The check's report (CHECKED), borrowed for the event's life: do not
/// free it; NULL when none.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `event` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_event_check_report(
    event: *const pfwd_event,
) -> *const pfwd_check_report {
    guard_value(std::ptr::null(), || {
        // SAFETY: NULL or live (contract).
        unsafe { arg(event, "event") }.map_or(std::ptr::null(), |e| {
            e.report
                .as_ref()
                .map_or(std::ptr::null(), |r| r as *const pfwd_check_report)
        })
    })
}
/// The event in words, borrowed for the event's life.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `event` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_event_text(event: *const pfwd_event) -> *const c_char {
    guard_value(c"".as_ptr(), || {
        // SAFETY: NULL or live (contract).
        unsafe { arg(event, "event") }.map_or(c"".as_ptr(), |e| e.text.as_ptr())
    })
}

/// Free a polled event. NULL is accepted. (Events given to a callback are
/// pfwd's: do not free them.)
///
/// # Safety
///
/// `event` is NULL or an event from `pfwd_keeper_next_event` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_event_free(event: *mut pfwd_event) {
    if !event.is_null() {
        // SAFETY: made by `Box::into_raw` here, not yet freed (contract).
        drop(unsafe { Box::from_raw(event) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_event_carries_its_report() {
        let report = crate::check::tests::sample();
        let event = pfwd_event::new(Event::Checked {
            index: 2,
            report: Box::new(report.clone()),
        });
        let e: *const pfwd_event = &event;
        // SAFETY: `e` is live for the test; the report is borrowed from it.
        unsafe {
            assert_eq!(
                pfwd_event_get_kind(e),
                pfwd_event_kind::PFWD_EVENT_CHECKED as u32
            );
            assert_eq!(pfwd_event_index(e), 2);
            assert!(pfwd_event_mapping(e).is_null() && pfwd_event_error(e).is_null());
            let r = pfwd_event_check_report(e);
            assert!(!r.is_null() && crate::check::pfwd_check_report_verified(r));
            assert!(pfwd_event_check_report(std::ptr::null()).is_null());
        }
        let missed = pfwd_event::new(Event::Missed { count: 1 });
        // SAFETY: live for the test.
        assert!(unsafe { pfwd_event_check_report(&missed) }.is_null());
    }
}
