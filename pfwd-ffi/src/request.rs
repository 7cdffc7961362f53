//! `pfwd_request`: what to forward (port or service name, protocol, the LAN
//! host, the external port, the lease), checked by pfwd-core when made.

#![allow(non_camel_case_types)]

use std::ffi::c_char;
use std::time::Duration;

use pfwd_core::{ExternalPort, MappingRequest, Protocol, parse_port};

use crate::options::{self, Sized_, size_u32};
use crate::result::{
    Failure, guard, opt_str_arg, out_arg, pfwd_error, pfwd_result, str_arg, write,
};

/// Which external port to ask for.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pfwd_external {
    /// The same as the internal port where the router allows (the default).
    PFWD_EXTERNAL_SAME = 0,
    /// `external_port` where the router allows, another one otherwise.
    PFWD_EXTERNAL_PREFERRED = 1,
    /// Exactly `external_port`, or fail (`PFWD_CONFLICT` or `PFWD_REFUSED`).
    PFWD_EXTERNAL_EXACT = 2,
    /// Whatever port the router picks.
    PFWD_EXTERNAL_ANY = 3,
}

/// The address family of a request or a mapping.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pfwd_family {
    /// The target's family: IPv4, or IPv6 for an IPv6 `target` (the default).
    PFWD_FAMILY_AUTO = 0,
    /// IPv4: a port mapping on the router's public address.
    PFWD_FAMILY_IPV4 = 4,
    /// IPv6: a pinhole in the router's firewall for the host's own global
    /// address (the same port: nothing is translated).
    PFWD_FAMILY_IPV6 = 6,
}

/// Options of a request. Set them with `pfwd_request_options_init` first,
/// then change fields; `size` lets later versions add fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pfwd_request_options {
    /// `sizeof(pfwd_request_options)`; set by `pfwd_request_options_init`.
    pub size: u32,
    /// A `pfwd_protocol` (default `PFWD_TCP`).
    pub protocol: u32,
    /// The LAN host to forward to, "192.168.1.4"; NULL (the default) is
    /// this host. Borrowed for the call only.
    pub target: *const c_char,
    /// A `pfwd_external` (default `PFWD_EXTERNAL_SAME`).
    pub external: u32,
    /// The port for `PFWD_EXTERNAL_PREFERRED` and `PFWD_EXTERNAL_EXACT`.
    pub external_port: u16,
    /// The lease in seconds; 0 (the default) is pfwd's default lease.
    pub lease_seconds: u32,
    /// Non-zero: a permanent mapping (only if you delete it yourself).
    pub permanent: u8,
    /// The description routers show; NULL (the default) is pfwd's.
    /// Borrowed for the call only.
    pub description: *const c_char,
    /// A `pfwd_family` (default `PFWD_FAMILY_AUTO`). Added in 0.1.0's
    /// IPv6 work: a caller built against an older header leaves it out,
    /// and `size` gives it the default.
    pub family: u32,
}

// SAFETY: repr(C), starts with `size: u32`; integers and pointers only.
unsafe impl Sized_ for pfwd_request_options {
    fn defaults() -> Self {
        pfwd_request_options {
            size: size_u32::<Self>(),
            protocol: pfwd_protocol_tcp(),
            target: std::ptr::null(),
            external: pfwd_external::PFWD_EXTERNAL_SAME as u32,
            external_port: 0,
            lease_seconds: 0,
            permanent: 0,
            description: std::ptr::null(),
            family: pfwd_family::PFWD_FAMILY_AUTO as u32,
        }
    }
}

fn pfwd_protocol_tcp() -> u32 {
    crate::result::pfwd_protocol::PFWD_TCP as u32
}

/// A checked mapping request. Made with `pfwd_request_new`, freed with
/// `pfwd_request_free`; read-only once made, so threads may share one.
pub struct pfwd_request {
    pub(crate) request: MappingRequest,
}

/// The protocol a C caller's number names.
pub(crate) fn protocol_of(n: u32) -> Result<Protocol, Failure> {
    match n {
        1 => Ok(Protocol::Tcp),
        2 => Ok(Protocol::Udp),
        _ => Err(Failure::Invalid(format!(
            "protocol {n} is not a pfwd_protocol: use PFWD_TCP or PFWD_UDP"
        ))),
    }
}

/// Build the core's request from C's arguments.
///
/// # Safety
///
/// `port` is NULL or a string; `options` NULL or sized (see `options::read`),
/// its string pointers NULL or strings.
unsafe fn build(
    port: *const c_char,
    options: *const pfwd_request_options,
) -> Result<MappingRequest, Failure> {
    // SAFETY: forwarded contract.
    let port = unsafe { str_arg(port, "port") }?;
    // SAFETY: forwarded contract.
    let o = unsafe { options::read(options, "pfwd_request_options") }?;
    let spec = parse_port(port)?;
    let mut b = MappingRequest::builder(protocol_of(o.protocol)?, spec.port);
    // SAFETY: forwarded contract.
    if let Some(target) = unsafe { opt_str_arg(o.target, "options.target") }? {
        b = b.internal_ip(pfwd_core::parse::parse_host(target)?.ip);
    }
    b = match o.family {
        0 => b,
        4 => b.family(pfwd_core::Family::Ipv4),
        6 => b.family(pfwd_core::Family::Ipv6),
        n => {
            return Err(Failure::Invalid(format!(
                "family {n} is not a pfwd_family: use PFWD_FAMILY_AUTO, PFWD_FAMILY_IPV4 or \
                 PFWD_FAMILY_IPV6"
            )));
        }
    };
    b = b.external(match o.external {
        0 => ExternalPort::Same,
        1 => ExternalPort::Preferred(o.external_port),
        2 => ExternalPort::Exact(o.external_port),
        3 => ExternalPort::Any,
        n => {
            return Err(Failure::Invalid(format!(
                "external {n} is not a pfwd_external"
            )));
        }
    });
    if o.permanent != 0 {
        b = b.permanent();
    } else if o.lease_seconds != 0 {
        b = b.lease(Duration::from_secs(u64::from(o.lease_seconds)));
    }
    // SAFETY: forwarded contract.
    if let Some(d) = unsafe { opt_str_arg(o.description, "options.description") }? {
        b = b.description(d);
    }
    Ok(b.build()?)
}

/// Set `options` to the defaults (and `size` to its size). NULL is ignored.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `options` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_request_options_init(options: *mut pfwd_request_options) {
    // SAFETY: forwarded contract.
    unsafe { options::init(options) }
}

/// Make a request to forward `port`: a number ("8080") or a service name
/// ("http", "ssh", "minecraft"). `options` may be NULL (TCP, this host, the
/// same external port, pfwd's default lease). Writes `*request_out` only on
/// success; `PFWD_INVALID_REQUEST` says what is wrong.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// Pointers are NULL or valid: `port` a string, `options` a struct of at
/// least its `size`, `request_out` writable, `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_request_new(
    port: *const c_char,
    options: *const pfwd_request_options,
    request_out: *mut *mut pfwd_request,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        out_arg(request_out, "request_out")?;
        // SAFETY: forwarded contract.
        let request = unsafe { build(port, options) }?;
        let handle = Box::into_raw(Box::new(pfwd_request { request }));
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { write(request_out, handle) };
        Ok(())
    })
}

/// Free a request. NULL is accepted.
///
/// Thread-safety: any thread, once no other thread uses the request.
///
/// # Safety
///
/// `request` is NULL or a request not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_request_free(request: *mut pfwd_request) {
    if !request.is_null() {
        // SAFETY: made by `Box::into_raw` here, not yet freed (contract).
        drop(unsafe { Box::from_raw(request) });
    }
}
