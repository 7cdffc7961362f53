//! `pfwd_check_report`: is a port reachable from the internet? The core's
//! check (`pfwd_core::blocking::check`, `blocking::Client::check`) through a
//! prober outside (`pfwd probe-server`), and its report's fields.

#![allow(non_camel_case_types)]

use std::ffi::{CString, c_char};

use pfwd_core::blocking::{self, Call};
use pfwd_core::check::{CheckOptions, CheckReport, Diagnosis, ProberUrl};
use pfwd_core::{ClientOptions, Error};

use crate::client::{
    call_and_timeout, client_options, pfwd_call_options, pfwd_client, pfwd_client_options,
};
use crate::mapping::pfwd_mapping;
use crate::request::pfwd_request;
use crate::result::{
    Failure, arg, c_string, guard, guard_value, opt_str_arg, out_arg, owned, pfwd_error,
    pfwd_result, write,
};

/// What a check concluded: the core's diagnosis, by number. The stable
/// name (as in JSON) is `pfwd_check_report_diagnosis_name`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pfwd_diagnosis {
    /// Reachable, and verified: the one-time token came back through the
    /// mapping to this host.
    PFWD_DIAGNOSIS_REACHABLE = 1,
    /// Something answered from outside, but pfwd could not tell what (the
    /// server holds the port, so pfwd could not listen there).
    PFWD_DIAGNOSIS_REACHABLE_UNVERIFIED = 2,
    /// The router does not forward the port.
    PFWD_DIAGNOSIS_NOT_FORWARDED = 3,
    /// The router forwards the port, but nothing listens on the LAN host.
    PFWD_DIAGNOSIS_NOTHING_LISTENING = 4,
    /// Something answered on the public address, but not this host.
    PFWD_DIAGNOSIS_REACHED_SOMETHING_ELSE = 5,
    /// The internet sees another address than the router's: a second NAT
    /// sits in front.
    PFWD_DIAGNOSIS_DOUBLE_NAT = 6,
    /// The router holds the mapping, yet nothing arrived: blocked before
    /// the router or by a firewall.
    PFWD_DIAGNOSIS_BLOCKED_UPSTREAM = 7,
    /// UDP without an answer while the server holds the port: nothing can
    /// tell whether the datagram arrived.
    PFWD_DIAGNOSIS_INCONCLUSIVE = 8,
    /// No prober was given: only the LAN-side steps ran.
    PFWD_DIAGNOSIS_NOT_CHECKED = 9,
}

impl From<Diagnosis> for pfwd_diagnosis {
    fn from(d: Diagnosis) -> pfwd_diagnosis {
        use pfwd_diagnosis::*;
        match d {
            Diagnosis::Reachable => PFWD_DIAGNOSIS_REACHABLE,
            Diagnosis::ReachableUnverified => PFWD_DIAGNOSIS_REACHABLE_UNVERIFIED,
            Diagnosis::NotForwarded => PFWD_DIAGNOSIS_NOT_FORWARDED,
            Diagnosis::NothingListening => PFWD_DIAGNOSIS_NOTHING_LISTENING,
            Diagnosis::ReachedSomethingElse => PFWD_DIAGNOSIS_REACHED_SOMETHING_ELSE,
            Diagnosis::DoubleNat => PFWD_DIAGNOSIS_DOUBLE_NAT,
            Diagnosis::BlockedUpstream => PFWD_DIAGNOSIS_BLOCKED_UPSTREAM,
            Diagnosis::Inconclusive => PFWD_DIAGNOSIS_INCONCLUSIVE,
            Diagnosis::NotChecked => PFWD_DIAGNOSIS_NOT_CHECKED,
        }
    }
}

/// What a check found, and what it means. Read-only: threads may share
/// one. Freed with `pfwd_check_report_free`; one an event carries is the
/// event's.
pub struct pfwd_check_report {
    report: CheckReport,
    diagnosis: CString,
    explanation: CString,
    observed_address: CString,
    router_address: CString,
}

impl pfwd_check_report {
    /// A handle with its strings ready to be borrowed.
    pub(crate) fn new(report: CheckReport) -> pfwd_check_report {
        let text = |a: Option<String>| c_string(a.unwrap_or_default());
        pfwd_check_report {
            diagnosis: c_string(report.diagnosis.as_str().to_string()),
            explanation: c_string(report.explanation.clone()),
            observed_address: text(report.observed_address.map(|a| a.to_string())),
            router_address: text(report.router_address.map(|a| a.to_string())),
            report,
        }
    }
}

/// A prober's address as the core reads it (`http://HOST[:PORT]`).
///
/// # Safety
///
/// `via` is NULL or a string.
pub(crate) unsafe fn prober(
    via: *const c_char,
    what: &'static str,
) -> Result<Option<ProberUrl>, Failure> {
    // SAFETY: forwarded contract.
    let Some(text) = (unsafe { opt_str_arg(via, what) })? else {
        return Ok(None);
    };
    text.parse::<ProberUrl>()
        .map(Some)
        .map_err(|e| Failure::Core(Error::from(e.context(what))))
}

/// The arguments every check takes: the prober, the call, and the check's
/// options (the call's `timeout_ms`, when set, is the check's limit too).
///
/// # Safety
///
/// `via` NULL or a string; `call` NULL or sized, its token NULL or live.
unsafe fn check_args(
    via: *const c_char,
    call: *const pfwd_call_options,
) -> Result<(CheckOptions, Call), Failure> {
    // SAFETY: forwarded contract.
    let via = unsafe { prober(via, "via") }?;
    // SAFETY: forwarded contract.
    let (call, timeout) = unsafe { call_and_timeout(call) }?;
    let options = CheckOptions {
        via,
        timeout,
        state_dir: None,
    };
    Ok((options, call))
}

/// Write a report through a checked out-pointer.
///
/// # Safety
///
/// `out` checked non-NULL and writable.
unsafe fn give(out: *mut *mut pfwd_check_report, report: CheckReport) {
    // SAFETY: forwarded contract.
    unsafe {
        write(out, Box::into_raw(Box::new(pfwd_check_report::new(report))));
    }
}

/// Is `request` reachable from the internet? On the LAN, whether a server
/// listens (on this host a free port is held by pfwd for the check); on
/// the router, whether it holds the mapping, and its internet address;
/// with `via` (a prober, "http://HOST:PORT", running `pfwd probe-server`
/// outside this network), the prober probes the port with a one-time
/// token. Without `via` (NULL) the diagnosis is
/// `PFWD_DIAGNOSIS_NOT_CHECKED`: pfwd never calls a port reachable without
/// an outside probe. `call`'s `timeout_ms`, when set, also limits the check
/// (15 s by default). Writes `*report_out` only on success:
/// `PFWD_PROBER` when the prober cannot be reached or refuses,
/// `PFWD_INVALID_REQUEST` for a bad `via` (before anything is sent). Blocks.
///
/// Thread-safety: as `pfwd_client_map`.
///
/// # Safety
///
/// `client` and `request` live; `via` NULL or a string; `call` NULL or
/// sized; `report_out` writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_client_check(
    client: *const pfwd_client,
    request: *const pfwd_request,
    via: *const c_char,
    call: *const pfwd_call_options,
    report_out: *mut *mut pfwd_check_report,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let (client, r) = unsafe { (arg(client, "client")?, arg(request, "request")?) };
        out_arg(report_out, "report_out")?;
        // SAFETY: forwarded contract.
        let (options, call) = unsafe { check_args(via, call) }?;
        let report = client.0.check(&r.request, &options, &call)?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { give(report_out, report) };
        Ok(())
    })
}

/// `pfwd_client_check` without a client: find the router first. With
/// `options` NULL, the core's own discovery, and a router that cannot be
/// found does not stop the check (the report says what could not be
/// asked); with `options`, discovery as `pfwd_client_new` does it, then
/// the check. Writes `*report_out` only on success. Blocks.
///
/// Thread-safety: as `pfwd_client_new`.
///
/// # Safety
///
/// `options` NULL or sized, its `gateway` NULL or a string; `request`
/// live; `via` NULL or a string; `call` NULL or sized; `report_out`
/// writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check(
    options: *const pfwd_client_options,
    request: *const pfwd_request,
    via: *const c_char,
    call: *const pfwd_call_options,
    report_out: *mut *mut pfwd_check_report,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let r = unsafe { arg(request, "request") }?;
        out_arg(report_out, "report_out")?;
        // SAFETY: forwarded contract.
        let (check, call) = unsafe { check_args(via, call) }?;
        let discovery = if options.is_null() {
            ClientOptions::default()
        } else {
            // SAFETY: forwarded contract.
            unsafe { client_options(options) }?
        };
        let report = blocking::check(discovery, std::slice::from_ref(&r.request), &check, &call)?
            .pop()
            .ok_or_else(|| pfwd_core::Error::invalid("the check made no report"))?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe { give(report_out, report) };
        Ok(())
    })
}

/// The request that checks `mapping` (one pfwd made, or loaded with
/// `pfwd_mapping_from_json`): its protocol, LAN host and port, and exactly
/// its outside port. Writes `*request_out` (free it with
/// `pfwd_request_free`) only on success. Does not block.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `mapping` NULL or live; `request_out` writable; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_request_from_mapping(
    mapping: *const pfwd_mapping,
    request_out: *mut *mut pfwd_request,
    error_out: *mut *mut pfwd_error,
) -> pfwd_result {
    guard(error_out, || {
        // SAFETY: forwarded contract.
        let m = unsafe { arg(mapping, "mapping") }?;
        out_arg(request_out, "request_out")?;
        let request = pfwd_core::check::request_of(&m.mapping)?;
        // SAFETY: checked non-NULL, writable per the contract.
        unsafe {
            write(
                request_out,
                Box::into_raw(Box::new(pfwd_request { request })),
            )
        };
        Ok(())
    })
}

/// Read a field of a report; `fallback` for NULL.
fn field<T: Copy>(
    r: *const pfwd_check_report,
    fallback: T,
    f: impl FnOnce(&pfwd_check_report) -> T,
) -> T {
    guard_value(fallback, || {
        // SAFETY: every getter's contract: NULL or a live report.
        unsafe { arg(r, "report") }.map_or(fallback, f)
    })
}

/// Whether something answered from outside and was not shown to be
/// something else; false for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_reachable(report: *const pfwd_check_report) -> bool {
    field(report, false, |r| r.report.reachable)
}
/// Whether the one-time token came back through the mapping to this host:
/// the path is proven; false for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_verified(report: *const pfwd_check_report) -> bool {
    field(report, false, |r| r.report.verified)
}
/// What the check concluded, a `pfwd_diagnosis`; 0 for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_diagnosis(report: *const pfwd_check_report) -> u32 {
    field(report, 0, |r| {
        pfwd_diagnosis::from(r.report.diagnosis) as u32
    })
}
/// The diagnosis's stable name, "reachable", "not_forwarded", ... (as in
/// the JSON); borrowed until `pfwd_check_report_free`. "" for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_diagnosis_name(
    report: *const pfwd_check_report,
) -> *const c_char {
    field(report, c"".as_ptr(), |r| r.diagnosis.as_ptr())
}
/// What it means in plain words, with what to do; borrowed until
/// `pfwd_check_report_free`. "" for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_explanation(
    report: *const pfwd_check_report,
) -> *const c_char {
    field(report, c"".as_ptr(), |r| r.explanation.as_ptr())
}
/// The address the internet sees for this network, from the prober
/// ("203.0.113.7", or an IPv6 address); "" when no prober answered (and
/// for NULL). Borrowed until `pfwd_check_report_free`.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_observed_address(
    report: *const pfwd_check_report,
) -> *const c_char {
    field(report, c"".as_ptr(), |r| r.observed_address.as_ptr())
}
/// The router's internet address, as the router tells it; "" when it
/// could not be asked (and for NULL). Borrowed until
/// `pfwd_check_report_free`.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_router_address(
    report: *const pfwd_check_report,
) -> *const c_char {
    field(report, c"".as_ptr(), |r| r.router_address.as_ptr())
}
/// How long the whole check took, in milliseconds; 0 for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_took_ms(report: *const pfwd_check_report) -> u64 {
    field(report, 0, |r| r.report.took_ms)
}
/// The report as one JSON object, as `pfwd check --json` prints it
/// (`reachable`, `verified`, `observed_address`, `router_address`,
/// `diagnosis`, `explanation`, `facts` with every step's findings,
/// `took_ms`): a string to free with `pfwd_string_free`; NULL for NULL.
///
/// Thread-safety: any thread.
///
/// # Safety
///
/// `report` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_to_json(
    report: *const pfwd_check_report,
) -> *mut c_char {
    field(report, std::ptr::null_mut(), |r| owned(r.report.to_json()))
}

/// Free a report. NULL is accepted. (A report borrowed from an event with
/// `pfwd_event_check_report` is the event's: do not free it.)
///
/// Thread-safety: any thread, once no other thread uses it.
///
/// # Safety
///
/// `report` is NULL or a report from `pfwd_client_check` or `pfwd_check`
/// not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfwd_check_report_free(report: *mut pfwd_check_report) {
    if !report.is_null() {
        // SAFETY: made by `Box::into_raw` here, not yet freed (contract).
        drop(unsafe { Box::from_raw(report) });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::ffi::CStr;

    use pfwd_core::Protocol;
    use pfwd_core::check::messages::{ProbeOutcome, ProbeReply};
    use pfwd_core::check::{Facts, LanState, RouterState};

    use super::*;

    /// A report as a check through a prober would make it.
    pub(crate) fn sample() -> CheckReport {
        let facts = Facts {
            protocol: Protocol::Tcp,
            host: "192.168.77.10".parse().unwrap(),
            port: 8080,
            external_port: 8080,
            host_is_local: true,
            lan: LanState::HeldByPfwd,
            listen_error: None,
            router: RouterState::Listed {
                external_port: 8080,
                description: "pfwd http-alt".into(),
            },
            router_address: Some("5.5.5.7".parse().unwrap()),
            via: Some("http://5.5.5.1:8099".into()),
            probe: Some(ProbeReply {
                observed_address: "5.5.5.7".parse().unwrap(),
                protocol: Protocol::Tcp,
                port: 8080,
                outcome: ProbeOutcome::Accepted,
                token_returned: true,
                reply_sample: None,
                elapsed_ms: 3,
            }),
            token_seen: true,
        };
        let (diagnosis, explanation) = pfwd_core::check::diagnose(&facts);
        CheckReport {
            reachable: diagnosis.reachable(),
            verified: diagnosis.verified(),
            observed_address: facts.observed_address(),
            router_address: facts.router_address,
            diagnosis,
            explanation,
            facts,
            took_ms: 12,
        }
    }

    fn text(p: *const c_char) -> String {
        // SAFETY: the getters return NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_report_reads_as_the_core_wrote_it() {
        let core = sample();
        let r = pfwd_check_report::new(core.clone());
        let p: *const pfwd_check_report = &r;
        // SAFETY: `p` is live for the test.
        unsafe {
            assert!(pfwd_check_report_reachable(p) && pfwd_check_report_verified(p));
            assert_eq!(
                pfwd_check_report_diagnosis(p),
                pfwd_diagnosis::PFWD_DIAGNOSIS_REACHABLE as u32
            );
            assert_eq!(text(pfwd_check_report_diagnosis_name(p)), "reachable");
            assert_eq!(text(pfwd_check_report_explanation(p)), core.explanation);
            assert_eq!(text(pfwd_check_report_observed_address(p)), "5.5.5.7");
            assert_eq!(text(pfwd_check_report_router_address(p)), "5.5.5.7");
            assert_eq!(pfwd_check_report_took_ms(p), 12);
            let json = pfwd_check_report_to_json(p);
            assert_eq!(text(json), core.to_json());
            crate::error::pfwd_string_free(json);
            assert!(pfwd_check_report_to_json(std::ptr::null()).is_null());
            assert_eq!(
                text(pfwd_check_report_observed_address(std::ptr::null())),
                ""
            );
        }
        let mut none = sample();
        none.observed_address = None;
        none.router_address = None;
        let r = pfwd_check_report::new(none);
        // SAFETY: live for the test.
        unsafe {
            assert_eq!(text(pfwd_check_report_observed_address(&r)), "");
            assert_eq!(text(pfwd_check_report_router_address(&r)), "");
        }
    }

    #[test]
    fn every_diagnosis_has_its_number_and_name() {
        use Diagnosis::*;
        let all = [
            Reachable,
            ReachableUnverified,
            NotForwarded,
            NothingListening,
            ReachedSomethingElse,
            DoubleNat,
            BlockedUpstream,
            Inconclusive,
            NotChecked,
        ];
        for (n, d) in (1u32..).zip(all) {
            assert_eq!(pfwd_diagnosis::from(d) as u32, n, "{d}");
            let mut report = sample();
            report.diagnosis = d;
            let r = pfwd_check_report::new(report);
            // SAFETY: live for the test.
            assert_eq!(
                text(unsafe { pfwd_check_report_diagnosis_name(&r) }),
                d.as_str()
            );
        }
    }

    #[test]
    fn a_bad_prober_is_the_cores_invalid_request() {
        // SAFETY: static strings.
        let e = unsafe { prober(c"https://5.5.5.1:8099".as_ptr(), "via") }.unwrap_err();
        let e = pfwd_error::from(e);
        assert_eq!(e.result, pfwd_result::PFWD_INVALID_REQUEST);
        let message = e.message.to_string_lossy();
        assert!(
            message.contains("via: \"https://") && message.contains("plain HTTP"),
            "{message}"
        );
        // SAFETY: static strings, and NULL.
        unsafe {
            assert_eq!(
                prober(c"5.5.5.1".as_ptr(), "via")
                    .unwrap()
                    .unwrap()
                    .to_string(),
                "http://5.5.5.1:8099"
            );
            assert!(prober(std::ptr::null(), "via").unwrap().is_none());
        }
    }
}
