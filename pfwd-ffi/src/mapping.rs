//! `pfwd_mapping`: what the router granted, its fields, and its JSON (to
//! delete it after a restart).

#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char};
use std::time::{SystemTime, UNIX_EPOCH};

use pfwd_core::{Lease, Mapping};

use crate::result::{
    Failure, arg, c_string, guard, guard_value, out_arg, owned, pfwd_error, pfwd_method,
    pfwd_protocol, pfwd_result, str_arg, write,
};

/// A mapping the router granted. Read-only: threads may share one. Freed
/// with `pfwd_mapping_free`.
pub struct pfwd_mapping {
    pub(crate) mapping: Mapping,
    external_ip: CString,
    internal_ip: CString,
    description: CString,
    text: CString,
}

impl pfwd_mapping {
    /// A handle with its strings ready to be borrowed.
    pub(crate) fn new(mapping: Mapping) -> pfwd_mapping {
        pfwd_mapping {
            external_ip: c_string(mapping.external().ip().to_string()),
            internal_ip: c_string(mapping.internal().ip().to_string()),
            description: c_string(mapping.description().to_string()),
            text: c_string(mapping.to_string()),
            mapping,
        }
    }

    /// On the heap, for C.
    pub(crate) fn boxed(mapping: Mapping) -> *mut pfwd_mapping {
        Box::into_raw(Box::new(pfwd_mapping::new(mapping)))
    }
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Read a field of a mapping; `fallback` for NULL.
fn field<T: Copy>(m: *const pfwd_mapping, fallback: T, f: impl FnOnce(&pfwd_mapping) -> T) -> T {
    guard_value(fallback, || {
        // SAFETY: every getter's contract: NULL or a live mapping.
        unsafe { arg(m, "mapping") }.map_or(fallback, f)
    })
}

/// The external (public) address, "203.0.113.7"; borrowed until
/// `pfwd_mapping_free`. "" for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_external_ip(mapping: *const pfwd_mapping) -> *const c_char {
    field(mapping, c"".as_ptr(), |m| m.external_ip.as_ptr())
}
/// The external port; 0 for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_external_port(mapping: *const pfwd_mapping) -> u16 {
    field(mapping, 0, |m| m.mapping.external().port())
}
/// The LAN host's address; borrowed until `pfwd_mapping_free`. "" for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_internal_ip(mapping: *const pfwd_mapping) -> *const c_char {
    field(mapping, c"".as_ptr(), |m| m.internal_ip.as_ptr())
}
/// The LAN host's port; 0 for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_internal_port(mapping: *const pfwd_mapping) -> u16 {
    field(mapping, 0, |m| m.mapping.internal().port())
}
/// The address family (a `pfwd_family`: `PFWD_FAMILY_IPV4`, or
/// `PFWD_FAMILY_IPV6` for a pinhole, whose external address is the host's
/// own); 0 for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_family(mapping: *const pfwd_mapping) -> u32 {
    field(mapping, 0, |m| match m.mapping.family() {
        pfwd_core::Family::Ipv4 => crate::request::pfwd_family::PFWD_FAMILY_IPV4 as u32,
        pfwd_core::Family::Ipv6 => crate::request::pfwd_family::PFWD_FAMILY_IPV6 as u32,
    })
}
/// The protocol (a `pfwd_protocol`); 0 for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_protocol(mapping: *const pfwd_mapping) -> u32 {
    field(mapping, 0, |m| {
        pfwd_protocol::from(m.mapping.protocol()) as u32
    })
}
/// The method that made it; `PFWD_METHOD_NONE` for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_method(mapping: *const pfwd_mapping) -> pfwd_method {
    field(mapping, pfwd_method::PFWD_METHOD_NONE, |m| {
        m.mapping.method().into()
    })
}
/// The granted lease in seconds; 0 for a permanent mapping (and NULL).
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_lease_seconds(mapping: *const pfwd_mapping) -> u32 {
    field(mapping, 0, |m| match m.mapping.lease() {
        Lease::Permanent => 0,
        l => l.as_secs(),
    })
}
/// When it was granted, wall clock, in seconds since 1970 (UTC); 0 for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_granted_at(mapping: *const pfwd_mapping) -> i64 {
    field(mapping, 0, |m| unix(m.mapping.granted_at_wall()))
}
/// When the lease ends unless renewed, wall clock, in seconds since 1970
/// (UTC); 0 for a permanent mapping (and NULL).
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_expires_at(mapping: *const pfwd_mapping) -> i64 {
    field(mapping, 0, |m| m.mapping.expires_at_wall().map_or(0, unix))
}
/// The description routers show; borrowed until `pfwd_mapping_free`.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_description(mapping: *const pfwd_mapping) -> *const c_char {
    field(mapping, c"".as_ptr(), |m| m.description.as_ptr())
}
/// One line for people, "TCP 203.0.113.7:8080 -> 192.168.1.4:8080 by PCP,
/// lease 600 s"; borrowed until `pfwd_mapping_free`.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_to_string(mapping: *const pfwd_mapping) -> *const c_char {
    field(mapping, c"".as_ptr(), |m| m.text.as_ptr())
}

/// The mapping as JSON, everything needed to renew or delete it later (the
/// PCP nonce, the UPnP entry): keep it in a file and load it with
/// `pfwd_mapping_from_json` after a restart. Writes a string to free with
/// `pfwd_string_free` to `*json_out`, only on success.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` NULL or live; `json_out` writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_to_json(
    mapping: *const pfwd_mapping,
    json_out: *mut *mut c_char,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let m = unsafe { arg(mapping, "mapping") }?;
        out_arg(json_out, "json_out")?;
        let json = serde_json::to_string(&m.mapping)
            .map_err(|e| Failure::Invalid(format!("the mapping cannot be written as JSON: {e}")))?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(json_out, owned(json)) };
        Ok(())
    })
}

/// A mapping from the JSON `pfwd_mapping_to_json` wrote. Writes
/// `*mapping_out` only on success; `PFWD_INVALID_ARGUMENT` when the text is
/// not such a mapping.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `json` NULL or a string; `mapping_out` writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_from_json(
    json: *const c_char,
    mapping_out: *mut *mut pfwd_mapping,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let text = unsafe { str_arg(json, "json") }?;
        out_arg(mapping_out, "mapping_out")?;
        let mapping: Mapping = serde_json::from_str(text)
            .map_err(|e| Failure::Invalid(format!("not a pfwd mapping's JSON: {e}")))?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(mapping_out, pfwd_mapping::boxed(mapping)) };
        Ok(())
    })
}

/// Free a mapping handle (this does not delete the mapping from the router:
/// `pfwd_client_unmap` does). NULL is accepted.
///
/// Thread-safety: any thread, once no other thread uses it.
///
/// # Safety
///
/// `mapping` is NULL or a mapping from pfwd not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_mapping_free(mapping: *mut pfwd_mapping) {
    if !mapping.is_null() {
        // SAFETY: made by `Box::into_raw` in pfwd, not yet freed (contract).
        drop(unsafe { Box::from_raw(mapping) });
    }
}
