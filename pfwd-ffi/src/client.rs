//! `pfwd_client`: discover the router, map, unmap, list, the external
//! address, what each method answered, the guide. Each call is one call of
//! `pfwd_core::blocking::Client`.

#![allow(non_camel_case_types)]

use std::ffi::c_char;
use std::time::Duration;

use pfwd_core::blocking::{Call, CancelToken, Client};
use pfwd_core::{ClientOptions, GatewayInfo, Method};

use crate::error::{pfwd_format, render};
use crate::mapping::pfwd_mapping;
use crate::options::{self, Sized_, size_u32};
use crate::request::pfwd_request;
use crate::result::{
    Failure, arg, guard, opt_str_arg, out_arg, owned, pfwd_error, pfwd_result, write,
};

/// How the client finds the router. Set with `pfwd_client_options_init`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pfwd_client_options {
    /// `sizeof(pfwd_client_options)`; set by `pfwd_client_options_init`.
    pub size: u32,
    /// How long discovery may take, in milliseconds; 0 is pfwd's default.
    pub budget_ms: u32,
    /// The methods to try: `pfwd_method` bits ORed; 0 (the default) is all.
    pub methods: u32,
    /// The router's LAN address, "192.168.1.1"; NULL (the default) is the
    /// default gateway. Borrowed for the call only.
    pub gateway: *const c_char,
}

// SAFETY: repr(C), starts with `size: u32`; integers and a pointer only.
unsafe impl Sized_ for pfwd_client_options {
    fn defaults() -> Self {
        pfwd_client_options {
            size: size_u32::<Self>(),
            budget_ms: 0,
            methods: 0,
            gateway: std::ptr::null(),
        }
    }
}

/// One blocking call's deadline and cancellation. Set with
/// `pfwd_call_options_init`; NULL where a call takes it means the defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pfwd_call_options {
    /// `sizeof(pfwd_call_options)`; set by `pfwd_call_options_init`.
    pub size: u32,
    /// The call's deadline in milliseconds; 0 is pfwd's default (30 s).
    pub timeout_ms: u32,
    /// A token that stops the call when cancelled from another thread; NULL
    /// for none. Borrowed for the call.
    pub cancel: *const pfwd_cancel_token,
}

// SAFETY: repr(C), starts with `size: u32`; integers and a pointer only.
unsafe impl Sized_ for pfwd_call_options {
    fn defaults() -> Self {
        pfwd_call_options {
            size: size_u32::<Self>(),
            timeout_ms: 0,
            cancel: std::ptr::null(),
        }
    }
}

/// Stops blocking calls from another thread. Threads may share one.
pub struct pfwd_cancel_token(CancelToken);

/// A client of the router: `Send` and `Sync`, so threads may share one.
pub struct pfwd_client(pub(crate) Client);

/// The core's call from C's options.
///
/// # Safety
///
/// `call` is NULL or sized; its `cancel` NULL or a live token.
pub(crate) unsafe fn call_of(call: *const pfwd_call_options) -> Result<Call, Failure> {
    // SAFETY: forwarded contract.
    unsafe { call_and_timeout(call) }.map(|(c, _)| c)
}

/// The core's call from C's options, and the deadline the caller set
/// (`None`: `timeout_ms` was 0, pfwd's default).
///
/// # Safety
///
/// As [`call_of`].
pub(crate) unsafe fn call_and_timeout(
    call: *const pfwd_call_options,
) -> Result<(Call, Option<Duration>), Failure> {
    // SAFETY: forwarded contract.
    let o = unsafe { options::read(call, "pfwd_call_options") }?;
    let mut c = Call::new();
    let timeout = (o.timeout_ms != 0).then(|| Duration::from_millis(u64::from(o.timeout_ms)));
    if let Some(t) = timeout {
        c = c.timeout(t);
    }
    // SAFETY: NULL or a live token (contract).
    if let Some(token) = unsafe { o.cancel.as_ref() } {
        c = c.cancel_token(&token.0);
    }
    Ok((c, timeout))
}

/// The core's client options from C's.
///
/// # Safety
///
/// `options` is NULL or sized; `gateway` NULL or a string.
pub(crate) unsafe fn client_options(
    options: *const pfwd_client_options,
) -> Result<ClientOptions, Failure> {
    // SAFETY: forwarded contract.
    let o = unsafe { options::read(options, "pfwd_client_options") }?;
    let mut c = ClientOptions::default();
    if o.budget_ms != 0 {
        c.budget = Duration::from_millis(u64::from(o.budget_ms));
    }
    if o.methods & !0xf != 0 {
        return Err(Failure::Invalid(format!(
            "methods {:#x} has bits that are no pfwd_method",
            o.methods
        )));
    }
    c.only = [(1, Method::Pcp), (2, Method::NatPmp), (4, Method::Upnp)]
        .into_iter()
        .filter(|(bit, _)| o.methods & bit != 0)
        .map(|(_, m)| m)
        .collect();
    // SAFETY: forwarded contract.
    if let Some(g) = unsafe { opt_str_arg(o.gateway, "options.gateway") }? {
        let ip = pfwd_core::parse::parse_gateway(g)?;
        c.gateway = Some(GatewayInfo::for_gateway(ip)?);
    }
    Ok(c)
}

/// Set `options` to the defaults. NULL is ignored. Thread-safety: any thread.
///
/// # Safety
///
/// `options` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_options_init(options: *mut pfwd_client_options) {
    // SAFETY: forwarded contract.
    unsafe { options::init(options) }
}

/// Set `options` to the defaults. NULL is ignored. Thread-safety: any thread.
///
/// # Safety
///
/// `options` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_call_options_init(options: *mut pfwd_call_options) {
    // SAFETY: forwarded contract.
    unsafe { options::init(options) }
}

/// A new cancel token; never NULL. Free it with `pfwd_cancel_token_free`.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn pfwd_cancel_token_new() -> *mut pfwd_cancel_token {
    Box::into_raw(Box::new(pfwd_cancel_token(CancelToken::new())))
}

/// Cancel: every call using the token stops with `PFWD_CANCELLED`, leaving
/// nothing on the router. NULL is ignored.
///
/// Thread-safety: any thread, also while calls use the token.
///
/// # Safety
///
/// `token` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_cancel_token_cancel(token: *const pfwd_cancel_token) {
    // SAFETY: NULL or live (contract).
    if let Some(t) = unsafe { token.as_ref() } {
        t.0.cancel();
    }
}

/// Free a cancel token. NULL is accepted.
///
/// Thread-safety: once no call uses it.
///
/// # Safety
///
/// `token` is NULL or a token not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_cancel_token_free(token: *mut pfwd_cancel_token) {
    if !token.is_null() {
        // SAFETY: made by `Box::into_raw` here, not yet freed (contract).
        drop(unsafe { Box::from_raw(token) });
    }
}

/// Discover the router: probe every method at once within the budget.
/// Writes `*client_out` only on success. Blocks.
///
/// Thread-safety: any thread except inside an event callback
/// (`PFWD_WOULD_DEADLOCK`).
///
/// # Safety
///
/// `options` and `call` NULL or sized structs; `client_out` writable;
/// `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_new(
    options: *const pfwd_client_options,
    call: *const pfwd_call_options,
    client_out: *mut *mut pfwd_client,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        out_arg(client_out, "client_out")?;
        // SAFETY: forwarded contract.
        let (o, c) = unsafe { (client_options(options)?, call_of(call)?) };
        let client = Client::discover(o, &c)?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(client_out, Box::into_raw(Box::new(pfwd_client(client)))) };
        Ok(())
    })
}

/// Discover and map at once (map-first: one round trip on a PCP router).
/// Writes `*client_out` and `*mapping_out` only on success; when no method
/// can map, `PFWD_MANUAL` with the guide in the error. Blocks.
///
/// Thread-safety: as `pfwd_client_new`.
///
/// # Safety
///
/// As `pfwd_client_new`; `request` a live request, `mapping_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_forward(
    options: *const pfwd_client_options,
    request: *const pfwd_request,
    call: *const pfwd_call_options,
    client_out: *mut *mut pfwd_client,
    mapping_out: *mut *mut pfwd_mapping,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let r = unsafe { arg(request, "request") }?;
        out_arg(client_out, "client_out")?;
        out_arg(mapping_out, "mapping_out")?;
        // SAFETY: forwarded contract.
        let (o, c) = unsafe { (client_options(options)?, call_of(call)?) };
        let (client, mapping) = Client::forward(o, &r.request, &c)?;
        // SAFETY: both checked non-NULL, writable per the contract.
        unsafe {
            write(client_out, Box::into_raw(Box::new(pfwd_client(client))));
            write(mapping_out, pfwd_mapping::boxed(mapping));
        }
        Ok(())
    })
}

/// Free a client. NULL is accepted. Mappings it made stay until their
/// lease ends or `pfwd_client_unmap`; keepers made from it keep working.
///
/// Thread-safety: once no other thread uses it.
///
/// # Safety
///
/// `client` is NULL or a client not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_free(client: *mut pfwd_client) {
    if !client.is_null() {
        // SAFETY: made by `Box::into_raw` here, not yet freed (contract).
        drop(unsafe { Box::from_raw(client) });
    }
}

/// Map once with the best method, then the next. Writes `*mapping_out`
/// only on success; `PFWD_MANUAL` with the guide when none can. Blocks.
///
/// Thread-safety: any thread, several at once on one client; not inside
/// an event callback (`PFWD_WOULD_DEADLOCK`).
///
/// # Safety
///
/// `client` and `request` live; `call` NULL or sized; `mapping_out`
/// writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_map(
    client: *const pfwd_client,
    request: *const pfwd_request,
    call: *const pfwd_call_options,
    mapping_out: *mut *mut pfwd_mapping,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let (client, r) = unsafe { (arg(client, "client")?, arg(request, "request")?) };
        out_arg(mapping_out, "mapping_out")?;
        // SAFETY: forwarded contract.
        let mapping = client.0.map(&r.request, &unsafe { call_of(call) }?)?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(mapping_out, pfwd_mapping::boxed(mapping)) };
        Ok(())
    })
}

/// Delete a mapping from the router, by the method that made it (also one
/// loaded with `pfwd_mapping_from_json` after a restart). Blocks.
///
/// Thread-safety: as `pfwd_client_map`.
///
/// # Safety
///
/// `client` and `mapping` live; `call` NULL or sized; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_unmap(
    client: *const pfwd_client,
    mapping: *const pfwd_mapping,
    call: *const pfwd_call_options,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let (client, m) = unsafe { (arg(client, "client")?, arg(mapping, "mapping")?) };
        // SAFETY: forwarded contract.
        client.0.unmap(&m.mapping, &unsafe { call_of(call) }?)?;
        Ok(())
    })
}

/// The router's list of mappings (UPnP only; `PFWD_UNSUPPORTED` otherwise)
/// as a JSON array of objects (`protocol`, `external_port`,
/// `internal_client`, `internal_port`, `description`, `lease`, `enabled`).
/// Writes a string to free with `pfwd_string_free`, only on success. Blocks.
///
/// Thread-safety: as `pfwd_client_map`.
///
/// # Safety
///
/// `client` live; `call` NULL or sized; `json_out` writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_list(
    client: *const pfwd_client,
    call: *const pfwd_call_options,
    json_out: *mut *mut c_char,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let client = unsafe { arg(client, "client") }?;
        out_arg(json_out, "json_out")?;
        // SAFETY: forwarded contract.
        let list = client.0.list(&unsafe { call_of(call) }?)?;
        let json = serde_json::to_string(&list)
            .map_err(|e| Failure::Invalid(format!("the list cannot be written as JSON: {e}")))?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(json_out, owned(json)) };
        Ok(())
    })
}

/// The router's external address, "203.0.113.7": a string to free with
/// `pfwd_string_free`, written only on success. Blocks.
///
/// Thread-safety: as `pfwd_client_map`.
///
/// # Safety
///
/// `client` live; `call` NULL or sized; `address_out` writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_external_address(
    client: *const pfwd_client,
    call: *const pfwd_call_options,
    address_out: *mut *mut c_char,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let client = unsafe { arg(client, "client") }?;
        out_arg(address_out, "address_out")?;
        // SAFETY: forwarded contract.
        let ip = client.0.external_address(&unsafe { call_of(call) }?)?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(address_out, owned(ip.to_string())) };
        Ok(())
    })
}

/// What each method answered at discovery, as JSON (`gateway`, `methods`
/// with each `method`, `probe` and `took_ms`, `external_address`,
/// `warnings`, `took_ms`): a string to free with `pfwd_string_free`; NULL
/// for a NULL client. Does not block.
///
/// Thread-safety: any thread, also inside an event callback.
///
/// # Safety
///
/// `client` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_discovery(client: *const pfwd_client) -> *mut c_char {
    crate::result::guard_value(std::ptr::null_mut(), || {
        // SAFETY: NULL or live (contract).
        let Ok(client) = (unsafe { arg(client, "client") }) else {
            return std::ptr::null_mut();
        };
        serde_json::to_string(&client.0.discovery()).map_or(std::ptr::null_mut(), owned)
    })
}

/// The manual guide for a request, on demand, as text, Markdown or JSON
/// (`format` is a `pfwd_format`): how to forward it by hand on this
/// router. Writes a string to free with `pfwd_string_free`, only on
/// success. Blocks (it asks the router what it is).
///
/// Thread-safety: as `pfwd_client_map`.
///
/// # Safety
///
/// `client` and `request` live; `call` NULL or sized; `guide_out` writable;
/// `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_guide(
    client: *const pfwd_client,
    request: *const pfwd_request,
    format: u32,
    call: *const pfwd_call_options,
    guide_out: *mut *mut c_char,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let (client, r) = unsafe { (arg(client, "client")?, arg(request, "request")?) };
        out_arg(guide_out, "guide_out")?;
        let format = pfwd_format::from_u32(format)
            .ok_or_else(|| Failure::Invalid(format!("format {format} is not a pfwd_format")))?;
        // SAFETY: forwarded contract.
        let guide = client
            .0
            .instructions(&r.request, &unsafe { call_of(call) }?)?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(guide_out, owned(render(&guide, format))) };
        Ok(())
    })
}
