//! Reading a `pfwd_error`, and the strings pfwd hands out. Every value comes
//! from pfwd-core's `Error`; nothing is decided here.

use std::ffi::{CString, c_char};

use crate::result::{arg, guard_value, owned, pfwd_error, pfwd_method, pfwd_result};

/// How the manual guide is written.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum pfwd_format {
    /// Plain text for a terminal.
    PFWD_FORMAT_TEXT = 0,
    /// Markdown.
    PFWD_FORMAT_MARKDOWN = 1,
    /// JSON (the same shape as `pfwd --json`).
    PFWD_FORMAT_JSON = 2,
}

impl pfwd_format {
    /// The format a C caller's number names.
    pub(crate) fn from_u32(n: u32) -> Option<pfwd_format> {
        [
            pfwd_format::PFWD_FORMAT_TEXT,
            pfwd_format::PFWD_FORMAT_MARKDOWN,
            pfwd_format::PFWD_FORMAT_JSON,
        ]
        .into_iter()
        .find(|f| *f as u32 == n)
    }
}

/// Render a guide in a format.
pub(crate) fn render(instructions: &pfwd_core::Instructions, format: pfwd_format) -> String {
    match format {
        pfwd_format::PFWD_FORMAT_TEXT => instructions.to_text(),
        pfwd_format::PFWD_FORMAT_MARKDOWN => instructions.to_markdown(),
        pfwd_format::PFWD_FORMAT_JSON => instructions.to_json(),
    }
}

/// Free a string that pfwd returned as `char *`. NULL is accepted.
///
/// Thread-safety: any thread; each string is freed once.
///
/// # Safety
///
/// `s` is NULL or a string returned by pfwd and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: made by `CString::into_raw` in pfwd and not freed yet (contract).
    drop(unsafe { CString::from_raw(s) });
}

/// The stable name of a result code ("timeout", "null_argument"...), a
/// static string; "unknown" for a number pfwd does not know.
///
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn pfwd_result_name(result: u32) -> *const c_char {
    use pfwd_result::*;
    let all = [
        PFWD_OK,
        PFWD_NO_GATEWAY,
        PFWD_UNSUPPORTED,
        PFWD_REFUSED,
        PFWD_CONFLICT,
        PFWD_TIMEOUT,
        PFWD_INVALID_REQUEST,
        PFWD_INVALID_RESPONSE,
        PFWD_IO,
        PFWD_MANUAL,
        PFWD_CANCELLED,
        PFWD_CLOSED,
        PFWD_WOULD_DEADLOCK,
        PFWD_PROBER,
        PFWD_NULL_ARGUMENT,
        PFWD_INVALID_UTF8,
        PFWD_PANIC,
        PFWD_INVALID_ARGUMENT,
    ];
    all.iter()
        .find(|r| **r as u32 == result)
        .map_or(c"unknown".as_ptr(), |r| r.name().as_ptr())
}

/// Free an error. NULL is accepted.
///
/// Thread-safety: any thread; not while another thread reads the error.
///
/// # Safety
///
/// `error` is NULL or an error from pfwd not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_free(error: *mut pfwd_error) {
    if error.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` in `guard`, not freed yet (contract).
    drop(unsafe { Box::from_raw(error) });
}

/// The error's result code (its kind); `PFWD_NULL_ARGUMENT` for NULL.
///
/// Thread-safety: any thread; an error may be read from several at once.
///
/// # Safety
///
/// `error` is NULL or a live error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_result(error: *const pfwd_error) -> pfwd_result {
    // SAFETY: NULL or live (contract).
    unsafe { arg(error, "error") }.map_or(pfwd_result::PFWD_NULL_ARGUMENT, |e| e.result)
}

/// What went wrong and what to do, in words (UTF-8). Borrowed: valid until
/// `pfwd_error_free`. For NULL, a static string that says so.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `error` is NULL or a live error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_message(error: *const pfwd_error) -> *const c_char {
    // SAFETY: NULL or live (contract).
    match unsafe { arg(error, "error") } {
        Ok(e) => e.message.as_ptr(),
        Err(_) => c"no error (the pfwd_error pointer is NULL)".as_ptr(),
    }
}

/// The method the error concerns; `PFWD_METHOD_NONE` when none.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `error` is NULL or a live error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_method(error: *const pfwd_error) -> pfwd_method {
    guard_value(pfwd_method::PFWD_METHOD_NONE, || {
        // SAFETY: NULL or live (contract).
        let e = unsafe { arg(error, "error") }.ok();
        e.and_then(|e| e.error.as_ref()?.method())
            .map_or(pfwd_method::PFWD_METHOD_NONE, pfwd_method::from)
    })
}

/// The router's own result code when it refused (UPnP 606, PCP 2...):
/// returns true and writes the number and (if `name_out` is not NULL) the
/// code's name as a string to free with `pfwd_string_free`; false, writing
/// nothing, when the router gave no code.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `error` is NULL or a live error; `code_out` is NULL or writable;
/// `name_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_gateway_code(
    error: *const pfwd_error,
    code_out: *mut u16,
    name_out: *mut *mut c_char,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live (contract).
        let Some(code) = unsafe { arg(error, "error") }
            .ok()
            .and_then(|e| e.error.as_ref()?.gateway_code())
        else {
            return false;
        };
        if code_out.is_null() {
            return false;
        }
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { code_out.write(code.number()) };
        if !name_out.is_null() {
            // SAFETY: checked non-NULL, writable per the contract.
            unsafe { name_out.write(owned(code.name().to_string())) };
        }
        true
    })
}

/// Who holds a port that was taken (UPnP names the LAN host): returns true
/// and writes "ADDRESS:PORT" and (if `description_out` is not NULL) the
/// holder's description, both strings to free with `pfwd_string_free`;
/// false, writing nothing, when the error names no holder.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `error` is NULL or a live error; the out-pointers NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_holder(
    error: *const pfwd_error,
    internal_out: *mut *mut c_char,
    description_out: *mut *mut c_char,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live (contract).
        let Some(holder) = unsafe { arg(error, "error") }
            .ok()
            .and_then(|e| e.error.as_ref()?.holder().cloned())
        else {
            return false;
        };
        if internal_out.is_null() {
            return false;
        }
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { internal_out.write(owned(holder.internal.to_string())) };
        if !description_out.is_null() {
            // SAFETY: checked non-NULL, writable per the contract.
            unsafe { description_out.write(owned(holder.description)) };
        }
        true
    })
}

/// The operating system's error number behind a `PFWD_IO` error: returns
/// true and writes it; false, writing nothing, otherwise.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `error` is NULL or a live error; `errno_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_os_error(
    error: *const pfwd_error,
    errno_out: *mut i32,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live (contract).
        let Some(n) = unsafe { arg(error, "error") }
            .ok()
            .and_then(|e| e.error.as_ref()?.os_error())
        else {
            return false;
        };
        if errno_out.is_null() {
            return false;
        }
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { errno_out.write(n) };
        true
    })
}

/// The manual guide of a `PFWD_MANUAL` error, as text, Markdown or JSON
/// (`format` is a `pfwd_format`): a
/// string to free with `pfwd_string_free`; NULL when the error has no guide
/// or the format is unknown.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `error` is NULL or a live error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_guide(error: *const pfwd_error, format: u32) -> *mut c_char {
    guard_value(std::ptr::null_mut(), || {
        let Some(format) = pfwd_format::from_u32(format) else {
            return std::ptr::null_mut();
        };
        // SAFETY: NULL or live (contract).
        unsafe { arg(error, "error") }
            .ok()
            .and_then(|e| {
                e.error
                    .as_ref()?
                    .instructions()
                    .map(|i| owned(render(i, format)))
            })
            .unwrap_or(std::ptr::null_mut())
    })
}

/// The error as JSON, the shape `pfwd --json` prints (`kind`, `code`,
/// `message`, and where present `method`, `gateway_code`, `holder`,
/// `os_error`, `instructions`); for the binding's own codes (100 and up)
/// `kind`, `code` and `message`. A string to free with `pfwd_string_free`;
/// NULL for a NULL error.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `error` is NULL or a live error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_error_to_json(error: *const pfwd_error) -> *mut c_char {
    guard_value(std::ptr::null_mut(), || {
        // SAFETY: NULL or live (contract).
        let Ok(e) = (unsafe { arg(error, "error") }) else {
            return std::ptr::null_mut();
        };
        let json = match &e.error {
            Some(core) => core.to_json(),
            None => serde_json::json!({
                "kind": e.result.name().to_string_lossy(),
                "code": e.result as u32,
                "message": e.message.to_string_lossy(),
            }),
        };
        owned(json.to_string())
    })
}
