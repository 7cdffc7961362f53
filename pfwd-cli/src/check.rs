//! `pfwd check`: is the port really reachable from the internet? The LAN
//! side, the router, and (with `--via`) a prober outside, then a diagnosis.
//! Everything is the core's [`pfwd_core::check`]; this module prints it.

use pfwd_core::check::{
    CheckOptions, CheckReport, Diagnosis, LanState, ProberUrl, RouterState, check_each,
};
use pfwd_core::defaults::LEASE;
use pfwd_core::{Error, Lease};

use crate::Ctx;
use crate::args::CheckArgs;
use crate::output::code;
use crate::target::transports;

/// Read a prober URL given with `flag`.
///
/// # Errors
///
/// An [`Error::InvalidRequest`] naming the flag.
pub fn prober(text: &str, flag: &str) -> Result<ProberUrl, Error> {
    text.parse::<ProberUrl>()
        .map_err(|e| Error::invalid(format!("{flag}: {}", e.reason)))
}

/// `pfwd check`.
pub async fn check(ctx: &Ctx, a: CheckArgs) -> i32 {
    let p = ctx.printer;
    let target = crate::target::parse(
        &a.target.port,
        a.target.to.as_deref(),
        transports(&a.target.protocols),
        a.external.as_deref(),
        Lease::Finite(LEASE),
        None,
        a.target.family.family(),
    );
    let requests = match target.and_then(|t| t.requests()) {
        Ok(r) => r,
        Err(e) => return p.error(&e.into()),
    };
    let via = match a.via.as_deref().map(|v| prober(v, "--via")).transpose() {
        Ok(v) => v,
        Err(e) => return p.error(&e),
    };
    let options = CheckOptions {
        via,
        timeout: None,
        state_dir: Some(ctx.state.clone()),
    };
    // A router that cannot be found does not stop the check.
    // Not waiting for every method: the check asks UPnP for its list while
    // the prober probes, so its search costs no extra time.
    let client = match ctx.client(&a.method, false).await {
        Ok(c) => Some(c),
        Err(e) => {
            p.detail(&format!("no router to ask: {e}"));
            None
        }
    };
    // One request at a time, so each report is printed as soon as it is made.
    let mut worst = code::OK;
    for request in &requests {
        let report = {
            let _spinner = p.progress(if options.via.is_some() {
                "checking from outside"
            } else {
                "checking on the LAN"
            });
            check_each(client.as_ref(), std::slice::from_ref(request), &options).await
        };
        match report {
            Ok(reports) => {
                for report in &reports {
                    print(ctx, report);
                    worst = worst.max(exit_code(report));
                }
            }
            Err(e) => return p.error(&e),
        }
    }
    worst
}

/// The exit code of a check (docs/cli.md): 0 reachable and verified, 7
/// reachable but not verified or inconclusive, 8 not checked from
/// outside, 6 not reachable.
pub fn exit_code(report: &CheckReport) -> i32 {
    match report.diagnosis {
        Diagnosis::Reachable => code::OK,
        Diagnosis::ReachableUnverified | Diagnosis::Inconclusive => code::UNVERIFIED,
        Diagnosis::NotChecked => code::NOT_CHECKED,
        _ => code::NOT_REACHABLE,
    }
}

/// A check's verdict in one line: "reachable: ..." or "not reachable: ...".
pub fn summary(report: &CheckReport) -> String {
    format!("checked from outside: {}", report.explanation)
}

/// Print a report: the steps with -v, the verdict always; JSON as one line.
pub fn print(ctx: &Ctx, report: &CheckReport) {
    let p = ctx.printer;
    let f = &report.facts;
    p.detail(&format!(
        "on the LAN: {}",
        match &f.lan {
            LanState::Listening => format!("a server listens on {}:{}", f.host, f.port),
            LanState::NothingListening => format!("nothing listens on {}:{}", f.host, f.port),
            LanState::HeldByPfwd => format!(
                "port {} was free; pfwd listened on it for the check",
                f.port
            ),
            LanState::Unknown { why } => format!("not known ({why})"),
        }
    ));
    p.detail(&format!(
        "on the router: {}{}",
        match &f.router {
            RouterState::Listed { external_port, .. } => format!(
                "it lists {} port {external_port} to this server",
                f.protocol
            ),
            RouterState::Recorded {
                method,
                external_port,
                ..
            } => format!(
                "pfwd's record: {} port {external_port} by {method}",
                f.protocol
            ),
            RouterState::NotListed => "it lists no mapping for this server".into(),
            RouterState::Unknown { why } => format!("not known ({why})"),
        },
        report
            .router_address
            .map(|a| format!("; its internet address is {a}"))
            .unwrap_or_default()
    ));
    if let Some(probe) = &f.probe {
        p.detail(&format!(
            "from outside: the prober saw {} and probed port {}: {:?}, token {} ({} ms)",
            probe.observed_address,
            probe.port,
            probe.outcome,
            if probe.token_returned {
                "returned"
            } else {
                "not returned"
            },
            probe.elapsed_ms
        ));
    }
    let verdict = match report.diagnosis {
        Diagnosis::Reachable => "reachable",
        Diagnosis::ReachableUnverified => "reachable, not verified",
        Diagnosis::Inconclusive => "could not tell",
        Diagnosis::NotChecked => "not checked from outside",
        _ => "not reachable",
    };
    p.say(&format!(
        "{} port {} -> {}:{}: {verdict}",
        f.protocol, f.external_port, f.host, f.port
    ));
    p.say(&report.explanation);
    p.json(report);
}
