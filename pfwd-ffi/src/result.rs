//! The one file that converts: pfwd-core's errors into result codes and
//! `pfwd_error` handles, strings across the boundary, and the panic boundary
//! every export goes through. No decisions are made here: messages, kinds,
//! codes and the guide all come from pfwd-core.

#![allow(non_camel_case_types)]

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pfwd_core::{Error, ErrorKind, Method, Protocol};

/// Every fallible function returns one of these. 1-13 are pfwd-core's
/// `ErrorKind` numbers, equal by construction (a test pins them); 14-99 are
/// reserved for kinds the core may add; 100-199 are the C binding's own.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pfwd_result {
    /// Success: the outputs were written.
    PFWD_OK = 0,
    /// No gateway answered (or none could be found).
    PFWD_NO_GATEWAY = 1,
    /// The gateway (or the method) cannot do this.
    PFWD_UNSUPPORTED = 2,
    /// The gateway refused; `pfwd_error_gateway_code` says with which code.
    PFWD_REFUSED = 3,
    /// The port is taken; `pfwd_error_holder` may say by whom.
    PFWD_CONFLICT = 4,
    /// No answer within the deadline.
    PFWD_TIMEOUT = 5,
    /// The request is not valid (a bad port, service, lease, address...).
    PFWD_INVALID_REQUEST = 6,
    /// The gateway answered something pfwd cannot understand.
    PFWD_INVALID_RESPONSE = 7,
    /// An operating-system error; `pfwd_error_os_error` gives errno.
    PFWD_IO = 8,
    /// No method can do it: forward by hand; `pfwd_error_guide` says how.
    PFWD_MANUAL = 9,
    /// The call was cancelled (`pfwd_cancel_token_cancel`).
    PFWD_CANCELLED = 10,
    /// The handle is closed (a keeper after close or `pfwd_shutdown`).
    PFWD_CLOSED = 11,
    /// The call would wait for itself (made from an event callback).
    PFWD_WOULD_DEADLOCK = 12,
    /// The prober of a check from outside could not be reached or refused.
    PFWD_PROBER = 13,
    /// A required pointer argument was NULL.
    PFWD_NULL_ARGUMENT = 100,
    /// A string argument was not UTF-8.
    PFWD_INVALID_UTF8 = 101,
    /// pfwd panicked inside the call; the panic was caught (a bug: report it).
    PFWD_PANIC = 102,
    /// An argument the C binding checks itself was out of range: an enum
    /// value, an options struct whose `size` is too small, a mapping's JSON.
    PFWD_INVALID_ARGUMENT = 103,
}

impl pfwd_result {
    /// The code for one of the core's kinds.
    pub(crate) fn of_kind(kind: ErrorKind) -> pfwd_result {
        use pfwd_result::*;
        match kind {
            ErrorKind::NoGateway => PFWD_NO_GATEWAY,
            ErrorKind::Unsupported => PFWD_UNSUPPORTED,
            ErrorKind::Refused => PFWD_REFUSED,
            ErrorKind::Conflict => PFWD_CONFLICT,
            ErrorKind::Timeout => PFWD_TIMEOUT,
            ErrorKind::InvalidRequest => PFWD_INVALID_REQUEST,
            ErrorKind::InvalidResponse => PFWD_INVALID_RESPONSE,
            ErrorKind::Io => PFWD_IO,
            ErrorKind::Manual => PFWD_MANUAL,
            ErrorKind::Cancelled => PFWD_CANCELLED,
            ErrorKind::Closed => PFWD_CLOSED,
            ErrorKind::WouldDeadlock => PFWD_WOULD_DEADLOCK,
            ErrorKind::Prober => PFWD_PROBER,
            // A kind added to the core before this list: a bug the pinning
            // test catches; report it as one rather than guess.
            #[allow(unreachable_patterns)]
            _ => PFWD_PANIC,
        }
    }

    /// The stable lower-case name.
    pub(crate) fn name(self) -> &'static CStr {
        use pfwd_result::*;
        match self {
            PFWD_OK => c"ok",
            PFWD_NO_GATEWAY => c"no_gateway",
            PFWD_UNSUPPORTED => c"unsupported",
            PFWD_REFUSED => c"refused",
            PFWD_CONFLICT => c"conflict",
            PFWD_TIMEOUT => c"timeout",
            PFWD_INVALID_REQUEST => c"invalid_request",
            PFWD_INVALID_RESPONSE => c"invalid_response",
            PFWD_IO => c"io",
            PFWD_MANUAL => c"manual",
            PFWD_CANCELLED => c"cancelled",
            PFWD_CLOSED => c"closed",
            PFWD_WOULD_DEADLOCK => c"would_deadlock",
            PFWD_PROBER => c"prober",
            PFWD_NULL_ARGUMENT => c"null_argument",
            PFWD_INVALID_UTF8 => c"invalid_utf8",
            PFWD_PANIC => c"panic",
            PFWD_INVALID_ARGUMENT => c"invalid_argument",
        }
    }
}

/// How a method is named in C; also bits for `pfwd_client_options.methods`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pfwd_method {
    /// No method (an error that concerns none).
    PFWD_METHOD_NONE = 0,
    /// PCP (RFC 6887).
    PFWD_METHOD_PCP = 1,
    /// NAT-PMP (RFC 6886).
    PFWD_METHOD_NATPMP = 2,
    /// UPnP-IGD.
    PFWD_METHOD_UPNP = 4,
    /// By hand: the guide.
    PFWD_METHOD_MANUAL = 8,
}

impl From<Method> for pfwd_method {
    fn from(m: Method) -> pfwd_method {
        match m {
            Method::Pcp => pfwd_method::PFWD_METHOD_PCP,
            Method::NatPmp => pfwd_method::PFWD_METHOD_NATPMP,
            Method::Upnp => pfwd_method::PFWD_METHOD_UPNP,
            Method::Manual => pfwd_method::PFWD_METHOD_MANUAL,
        }
    }
}

/// A transport protocol.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pfwd_protocol {
    /// TCP.
    PFWD_TCP = 1,
    /// UDP.
    PFWD_UDP = 2,
}

impl From<Protocol> for pfwd_protocol {
    fn from(p: Protocol) -> pfwd_protocol {
        match p {
            Protocol::Tcp => pfwd_protocol::PFWD_TCP,
            Protocol::Udp => pfwd_protocol::PFWD_UDP,
        }
    }
}

/// Why a call failed: the result code, the message, and the core's error
/// with its details. Made by pfwd, freed by the caller with `pfwd_error_free`.
pub struct pfwd_error {
    pub(crate) result: pfwd_result,
    pub(crate) message: CString,
    pub(crate) error: Option<Error>,
}

/// A failure inside a call, before it becomes a `pfwd_error`.
#[derive(Debug)]
pub(crate) enum Failure {
    /// pfwd-core said no.
    Core(Error),
    /// A required pointer was NULL.
    Null(&'static str),
    /// A string was not UTF-8.
    Utf8(&'static str),
    /// An argument the binding checks was out of range.
    Invalid(String),
    /// A panic was caught.
    Panic(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Core(e)
    }
}

impl From<pfwd_core::Invalid> for Failure {
    fn from(e: pfwd_core::Invalid) -> Failure {
        Failure::Core(Error::from(e))
    }
}

impl From<Failure> for pfwd_error {
    fn from(f: Failure) -> pfwd_error {
        let (result, text, error) = match f {
            Failure::Core(e) => (pfwd_result::of_kind(e.kind()), e.to_string(), Some(e)),
            Failure::Null(what) => (
                pfwd_result::PFWD_NULL_ARGUMENT,
                format!("{what} is NULL: pass a valid pointer"),
                None,
            ),
            Failure::Utf8(what) => (
                pfwd_result::PFWD_INVALID_UTF8,
                format!("{what} is not UTF-8: pfwd takes UTF-8 strings"),
                None,
            ),
            Failure::Invalid(why) => (pfwd_result::PFWD_INVALID_ARGUMENT, why, None),
            Failure::Panic(why) => (
                pfwd_result::PFWD_PANIC,
                format!("pfwd panicked (a bug: please report it): {why}"),
                None,
            ),
        };
        pfwd_error {
            result,
            message: c_string(text),
            error,
        }
    }
}

/// A Rust string as a C string; an interior NUL (never in pfwd's own text)
/// is replaced so that nothing is lost silently.
pub(crate) fn c_string(text: String) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes
            .iter_mut()
            .filter(|b| **b == 0)
            .for_each(|b| *b = b'?');
        CString::new(bytes).unwrap_or_default()
    })
}

/// A Rust string handed to C, to be freed with `pfwd_string_free`.
pub(crate) fn owned(text: String) -> *mut c_char {
    c_string(text).into_raw()
}

/// A borrowed C string argument as UTF-8.
///
/// # Safety
///
/// `ptr` is NULL or a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(
    ptr: *const c_char,
    what: &'static str,
) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::Null(what));
    }
    // SAFETY: not NULL, and NUL-terminated and alive per this function's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|_| Failure::Utf8(what))
}

/// An optional C string argument: NULL is `None`.
///
/// # Safety
///
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    what: &'static str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { str_arg(ptr, what) }.map(Some)
}

/// A required handle argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a live `T` for `'a`.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, what: &'static str) -> Result<&'a T, Failure> {
    // SAFETY: NULL is checked by `as_ref`; otherwise live per the contract.
    unsafe { ptr.as_ref() }.ok_or(Failure::Null(what))
}

/// Check that an out-parameter is not NULL.
pub(crate) fn out_arg<T>(ptr: *mut T, what: &'static str) -> Result<(), Failure> {
    if ptr.is_null() {
        Err(Failure::Null(what))
    } else {
        Ok(())
    }
}

/// The text of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// The boundary of every fallible export: run `f`, catch any panic, turn a
/// failure into its code and (when `error_out` is not NULL) a `pfwd_error`.
/// `f` writes its outputs itself, last, so they are written only on success.
pub(crate) fn guard(
    error_out: *mut *mut pfwd_error,
    f: impl FnOnce() -> Result<(), Failure>,
) -> pfwd_result {
    let outcome = catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|payload| Err(Failure::Panic(panic_text(&*payload))));
    let failure = match outcome {
        Ok(()) => return pfwd_result::PFWD_OK,
        Err(failure) => failure,
    };
    let made = catch_unwind(AssertUnwindSafe(|| pfwd_error::from(failure)));
    let Ok(error) = made else {
        return pfwd_result::PFWD_PANIC;
    };
    let result = error.result;
    if !error_out.is_null() {
        // SAFETY: the caller passes NULL or a writable `pfwd_error *` slot.
        unsafe { *error_out = Box::into_raw(Box::new(error)) };
    }
    result
}

/// The boundary of an infallible export (getters): `fallback` on a panic.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Write `value` through a checked out-pointer.
///
/// # Safety
///
/// `out` is not NULL and is writable (checked with [`out_arg`] first).
pub(crate) unsafe fn write<T>(out: *mut T, value: T) {
    // SAFETY: per the contract.
    unsafe { out.write(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_kinds_keep_their_numbers_and_names() {
        for kind in ErrorKind::ALL {
            let n = kind.number();
            assert_eq!(pfwd_result::of_kind(kind) as u32, n, "{kind:?}");
            assert_eq!(
                pfwd_result::of_kind(kind).name().to_str().ok(),
                Some(kind.name())
            );
            let named = crate::error::pfwd_result_name(n);
            // SAFETY: pfwd_result_name returns a static C string.
            let named = unsafe { CStr::from_ptr(named) }.to_str().ok();
            assert_eq!(named, Some(kind.name()), "pfwd_result_name({n})");
        }
    }
}
