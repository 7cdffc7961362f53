//! The automatic client's rules as pure functions of what is known so far
//! (and, where time matters, of the time passed in): who waits for whom,
//! when discovery may stop, the order to try methods in, how long a failure
//! stands, what map-first's answer means. No sockets, no clock; the driver
//! in `mod.rs` asks these and does the I/O.

use std::time::{Duration, Instant};

use super::discovery::{MethodStatus, Probe};
use crate::error::{Error, ErrorKind, Result};
use crate::mapping::{Mapping, Method};

/// What a method's probe waits for before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Start at once.
    Open,
    /// UPnP: wait (up to the head start) until PCP and NAT-PMP have both
    /// failed. A router that answers them never sees the SSDP search.
    PmpFailed,
    /// NAT-PMP, when the mapping is PCP's probe: wait (up to the head
    /// start) for PCP's answer, since PCP falls back to NAT-PMP by itself.
    PcpDone,
}

/// The gate for `method`'s probe.
pub(crate) fn gate(method: Method, map_first: bool) -> Gate {
    match method {
        Method::Upnp => Gate::PmpFailed,
        Method::NatPmp if map_first => Gate::PcpDone,
        _ => Gate::Open,
    }
}

/// True when every one of `methods` has failed its probe.
pub(crate) fn all_failed(statuses: &[MethodStatus], methods: &[Method]) -> bool {
    methods.iter().all(|m| {
        statuses
            .iter()
            .any(|s| s.method == *m && matches!(s.probe, Probe::Failed(_)))
    })
}

/// True when the best allowed method that can still answer has answered,
/// or every allowed method has failed (statuses are best first).
pub(crate) fn settled(statuses: &[MethodStatus]) -> bool {
    for s in statuses {
        match s.probe {
            Probe::Answered => return true,
            Probe::NotWaited => return false,
            Probe::Failed(_) | Probe::Skipped => {}
        }
    }
    true
}

/// Whether discovery may stop waiting for probes now. While PCP's probe is
/// a mapping in flight it may not: dropping it could leave a mapping on the
/// router that pfwd knows nothing of.
pub(crate) fn discovery_done(
    statuses: &[MethodStatus],
    wait_for_all: bool,
    pcp_in_flight: bool,
) -> bool {
    !wait_for_all && !pcp_in_flight && settled(statuses)
}

/// Whether the grace for better methods starts now: at the first answer,
/// once no mapping is in flight.
pub(crate) fn grace_starts(statuses: &[MethodStatus], pcp_in_flight: bool) -> bool {
    !pcp_in_flight && statuses.iter().any(|s| s.probe == Probe::Answered)
}

/// The order to try methods in: those that answered (best first), then
/// those not waited for or failed, which are probed again only if the
/// others cannot map.
pub(crate) fn map_order(statuses: &[MethodStatus], allowed: &[Method]) -> Vec<Method> {
    let with = |wanted: fn(&Probe) -> bool| {
        statuses
            .iter()
            .filter(|s| allowed.contains(&s.method) && wanted(&s.probe))
            .map(|s| s.method)
            .collect::<Vec<_>>()
    };
    let mut order = with(|p| *p == Probe::Answered);
    order.extend(with(|p| matches!(p, Probe::NotWaited | Probe::Failed(_))));
    order
}

/// Whether a probe failure seen at `failed_at` still rules its method out
/// at `now`: for `keep`, then the method is probed again when needed.
pub(crate) fn failure_stands(failed_at: Instant, now: Instant, keep: Duration) -> bool {
    now.saturating_duration_since(failed_at) < keep
}

/// Whether `error` ends mapping for every method: the request is wrong, or
/// the port is taken. Every method asks the same router, so trying another
/// would not help.
pub(crate) fn ends_mapping(error: &Error) -> bool {
    matches!(error, Error::InvalidRequest { .. } | Error::Conflict { .. })
}

/// What map-first's answer (the mapping sent as PCP's probe) means for the
/// request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFirst {
    /// It is the answer (a mapping, or an error no method can help with).
    Done,
    /// PCP could not make it: try the other methods, skipping these.
    TryOthers(Vec<Method>),
}

/// See [`AfterFirst`].
pub(crate) fn after_first(first: &Result<Mapping>) -> AfterFirst {
    match first {
        Ok(_) => AfterFirst::Done,
        Err(e) if ends_mapping(e) => AfterFirst::Done,
        Err(e) => {
            let mut skip = vec![Method::Pcp];
            skip.extend(e.method().filter(|m| *m != Method::Pcp));
            AfterFirst::TryOthers(skip)
        }
    }
}

/// The reason a method was not tried: the deadline for mapping had passed.
pub(crate) fn out_of_time(method: Method, map_timeout: Duration) -> Error {
    Error::Timeout {
        method,
        operation: format!(
            "the mapping (not tried: the {} ms deadline for mapping had passed)",
            map_timeout.as_millis()
        ),
        after: map_timeout,
    }
}

/// Whether a PCP answer arriving late could still turn `error` into a
/// mapping: not when the request itself is wrong or the port is taken,
/// and not when nothing else on the router has said a word (see
/// [`router_spoke`]; PCP's own status is that of the late request).
pub(crate) fn late_answer_may_help(error: &Error, statuses: &[MethodStatus]) -> bool {
    !matches!(
        error,
        Error::InvalidRequest { .. } | Error::Conflict { .. } | Error::Cancelled { .. }
    ) && router_spoke(statuses.iter().filter(|s| s.method != Method::Pcp))
}

/// Whether some method's daemon answered during discovery, even if only to
/// say no or with something broken. A router where none did (every probe
/// silent, or refused by ICMP) has no daemon to answer late: waiting
/// longer for PCP there only delays the guide past the budget. A busy
/// router that answers late still answers something else in time (its
/// SSDP answer, NAT-PMP), or its silence costs the budget and no more.
pub(crate) fn router_spoke<'a>(statuses: impl IntoIterator<Item = &'a MethodStatus>) -> bool {
    statuses.into_iter().any(|s| match &s.probe {
        Probe::Answered => true,
        Probe::Failed(f) => !matches!(f.kind, ErrorKind::NoGateway | ErrorKind::Io),
        Probe::NotWaited | Probe::Skipped => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guide::MethodFailure;

    fn status(method: Method, probe: Probe) -> MethodStatus {
        MethodStatus {
            method,
            probe,
            took_ms: None,
        }
    }

    fn failed(method: Method) -> Probe {
        Probe::Failed(MethodFailure::from_error(&Error::NoGateway {
            refused: false,
            method: Some(method),
            detail: "test".into(),
        }))
    }

    #[test]
    fn a_late_pcp_answer_is_waited_for_only_where_the_router_spoke() {
        let late = Error::Timeout {
            method: Method::Pcp,
            operation: "the port-mapping request".into(),
            after: Duration::from_millis(500),
        };
        let pcp_late = status(Method::Pcp, Probe::Failed(MethodFailure::from_error(&late)));
        let silent = [
            pcp_late.clone(),
            status(Method::NatPmp, failed(Method::NatPmp)),
            status(Method::Upnp, failed(Method::Upnp)),
        ];
        assert!(!late_answer_may_help(&late, &silent));
        let broken_upnp = Error::InvalidResponse {
            method: Method::Upnp,
            detail: "the description took too long".into(),
        };
        let upnp_spoke = [
            pcp_late.clone(),
            status(Method::NatPmp, failed(Method::NatPmp)),
            status(
                Method::Upnp,
                Probe::Failed(MethodFailure::from_error(&broken_upnp)),
            ),
        ];
        assert!(late_answer_may_help(&late, &upnp_spoke));
        let natpmp_answered = [pcp_late, status(Method::NatPmp, Probe::Answered)];
        assert!(late_answer_may_help(&late, &natpmp_answered));
        let taken = Error::InvalidRequest {
            reason: "port 0".into(),
        };
        assert!(!late_answer_may_help(&taken, &natpmp_answered));
    }

    #[test]
    fn who_waits_for_whom() {
        assert_eq!(gate(Method::Upnp, false), Gate::PmpFailed);
        assert_eq!(gate(Method::Upnp, true), Gate::PmpFailed);
        assert_eq!(gate(Method::NatPmp, true), Gate::PcpDone);
        assert_eq!(gate(Method::NatPmp, false), Gate::Open);
        assert_eq!(gate(Method::Pcp, true), Gate::Open);
    }

    #[test]
    fn discovery_stops_at_the_best_answer_but_not_before() {
        let pcp_pending = [
            status(Method::Pcp, Probe::NotWaited),
            status(Method::NatPmp, Probe::Answered),
            status(Method::Upnp, Probe::NotWaited),
        ];
        assert!(!settled(&pcp_pending));
        assert!(grace_starts(&pcp_pending, false));
        assert!(!grace_starts(&pcp_pending, true));
        let pcp_failed = [
            status(Method::Pcp, failed(Method::Pcp)),
            status(Method::NatPmp, Probe::Answered),
            status(Method::Upnp, Probe::NotWaited),
        ];
        assert!(settled(&pcp_failed));
        assert!(discovery_done(&pcp_failed, false, false));
        assert!(!discovery_done(&pcp_failed, true, false));
        assert!(
            !discovery_done(&pcp_failed, false, true),
            "a mapping in flight"
        );
        let none = [
            status(Method::Pcp, failed(Method::Pcp)),
            status(Method::NatPmp, Probe::Skipped),
            status(Method::Upnp, failed(Method::Upnp)),
        ];
        assert!(settled(&none));
        assert!(!grace_starts(&none, false));
        assert!(all_failed(&none, &[Method::Pcp]));
        assert!(!all_failed(&pcp_pending, &[Method::Pcp, Method::NatPmp]));
    }

    #[test]
    fn answered_methods_are_tried_first_then_the_rest() {
        let s = [
            status(Method::Pcp, failed(Method::Pcp)),
            status(Method::NatPmp, Probe::NotWaited),
            status(Method::Upnp, Probe::Answered),
        ];
        let all = [Method::Pcp, Method::NatPmp, Method::Upnp];
        assert_eq!(
            map_order(&s, &all),
            [Method::Upnp, Method::Pcp, Method::NatPmp]
        );
        assert_eq!(map_order(&s, &[Method::NatPmp]), [Method::NatPmp]);
    }

    #[test]
    fn a_failure_stands_for_its_time_then_the_method_is_asked_again() {
        let t0 = Instant::now();
        let keep = Duration::from_secs(30);
        assert!(failure_stands(t0, t0, keep));
        assert!(failure_stands(t0, t0 + Duration::from_secs(29), keep));
        assert!(!failure_stands(t0, t0 + keep, keep));
    }

    #[test]
    fn map_first_answers() {
        let conflict: Result<Mapping> = Err(Error::Conflict {
            method: Method::Pcp,
            protocol: crate::mapping::Protocol::Tcp,
            external_port: 80,
            holder: None,
        });
        assert_eq!(after_first(&conflict), AfterFirst::Done);
        let refused: Result<Mapping> = Err(Error::Timeout {
            method: Method::NatPmp,
            operation: "x".into(),
            after: Duration::from_secs(1),
        });
        assert_eq!(
            after_first(&refused),
            AfterFirst::TryOthers(vec![Method::Pcp, Method::NatPmp])
        );
        let invalid: Result<Mapping> = Err(Error::invalid("x"));
        assert_eq!(after_first(&invalid), AfterFirst::Done);
    }
}
