//! pfwd's log (discovery, requests and answers, renewals, failures) handed
//! to a C callback: a `log::Log` installed once, forwarding each record.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};
use std::sync::{Once, RwLock};

use crate::result::{Failure, c_string, guard, pfwd_error, pfwd_result};

/// How much a log line matters (the `log` crate's levels).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pfwd_log_level {
    /// Nothing (as a maximum: logging off).
    PFWD_LOG_OFF = 0,
    /// Something failed.
    PFWD_LOG_ERROR = 1,
    /// Something may need attention.
    PFWD_LOG_WARN = 2,
    /// What pfwd did.
    PFWD_LOG_INFO = 3,
    /// Each request and answer.
    PFWD_LOG_DEBUG = 4,
    /// Everything.
    PFWD_LOG_TRACE = 5,
}

/// Receives one log line: its level, its source (`pfwd_core::backend::pcp`)
/// and its message, both borrowed for the call only, and the `user`
/// pointer given to `pfwd_set_log_callback`. Called on whatever thread
/// logs (pfwd's own threads included), possibly from several at once.
pub type pfwd_log_callback = Option<
    unsafe extern "C" fn(
        level: pfwd_log_level,
        target: *const c_char,
        message: *const c_char,
        user: *mut c_void,
    ),
>;

/// The callback and its pointer.
#[derive(Clone, Copy)]
struct Sink(
    unsafe extern "C" fn(pfwd_log_level, *const c_char, *const c_char, *mut c_void),
    *mut c_void,
);
// SAFETY: pfwd never dereferences the pointer; the caller promises (see
// `pfwd_set_log_callback`) that the callback may be called from any thread.
unsafe impl Send for Sink {}
// SAFETY: as above.
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);
static INSTALL: Once = Once::new();

/// The `log::Log` that forwards to the C callback.
struct CLogger;

impl log::Log for CLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        SINK.read().is_ok_and(|s| s.is_some())
    }

    fn log(&self, record: &log::Record<'_>) {
        let Some(Sink(f, user)) = SINK.read().ok().and_then(|s| *s) else {
            return;
        };
        let level = match record.level() {
            log::Level::Error => pfwd_log_level::PFWD_LOG_ERROR,
            log::Level::Warn => pfwd_log_level::PFWD_LOG_WARN,
            log::Level::Info => pfwd_log_level::PFWD_LOG_INFO,
            log::Level::Debug => pfwd_log_level::PFWD_LOG_DEBUG,
            log::Level::Trace => pfwd_log_level::PFWD_LOG_TRACE,
        };
        let target = c_string(record.target().to_string());
        let message = c_string(record.args().to_string());
        // SAFETY: the caller's callback with its pointer, as documented; the
        // strings live until it returns.
        unsafe { f(level, target.as_ptr(), message.as_ptr(), user) };
    }

    fn flush(&self) {}
}

static LOGGER: CLogger = CLogger;

/// Send pfwd's log lines up to `max_level` to `callback` (NULL, or
/// `PFWD_LOG_OFF`, stops them). pfwd installs its logger for the `log`
/// crate once per process; later calls replace the callback and level.
/// `PFWD_INVALID_ARGUMENT` when another Rust logger was installed first in
/// the same process, or `max_level` is out of range.
///
/// Thread-safety: any thread; the callback may run on any thread, also
/// while this is called.
///
/// # Safety
///
/// `callback` is NULL or a function safe to call from any thread with
/// `user`; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_set_log_callback(
    callback: pfwd_log_callback,
    user: *mut c_void,
    max_level: u32,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        let level = [
            log::LevelFilter::Off,
            log::LevelFilter::Error,
            log::LevelFilter::Warn,
            log::LevelFilter::Info,
            log::LevelFilter::Debug,
            log::LevelFilter::Trace,
        ]
        .get(max_level as usize)
        .copied()
        .ok_or_else(|| {
            Failure::Invalid(format!("max_level {max_level} is not a pfwd_log_level"))
        })?;
        let mut installed = Ok(());
        INSTALL.call_once(|| installed = log::set_logger(&LOGGER));
        installed.map_err(|_| {
            Failure::Invalid("another logger was installed in this process first".to_string())
        })?;
        let sink = callback.map(|f| Sink(f, user));
        *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
        log::set_max_level(if sink.is_some() {
            level
        } else {
            log::LevelFilter::Off
        });
        Ok(())
    })
}
