//! `pfwd map`: forward a port and keep it (renew, survive router restarts,
//! remove it at Ctrl-C or SIGTERM), or with `--once` forward and exit.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use pfwd_core::check::{CheckOptions, ProberUrl};
use pfwd_core::defaults::{KEPT_LEASE, LEASE};
use pfwd_core::lease::{Event, Keeper, KeeperOptions};
use pfwd_core::parse::parse_lease;
use pfwd_core::{Client, Error, Instructions, Invalid, Lease, Mapping, MappingRequest, Record};
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use crate::args::MapArgs;
use crate::output::{add_warnings, code, describe, error_json, exit_code};
use crate::target::{Target, transports};
use crate::{Ctx, adopt, events};

fn target(a: &MapArgs, default_lease: Duration) -> Result<Target, Invalid> {
    let lease = match &a.lease {
        Some(l) => parse_lease(l).map_err(|e| e.context("--lease"))?,
        None => Lease::Finite(default_lease),
    };
    crate::target::parse(
        &a.target.port,
        a.target.to.as_deref(),
        transports(&a.target.protocols),
        a.external.as_deref(),
        lease,
        a.description.as_deref(),
        a.target.family.family(),
    )
}

/// Warnings from discovery (carrier-grade NAT, double NAT).
fn warn_discovery(ctx: &Ctx, client: &Client) {
    for w in client.discovery().warnings {
        ctx.printer.warn(&w.text);
    }
}

/// A note when the router gave another outside port than asked.
fn port_note(t: &Target, m: &Mapping) -> Option<String> {
    let asked = t.external_port();
    let got = m.external().port();
    (t.external != pfwd_core::ExternalPort::Any && got != asked).then(|| {
        format!(
            "note: the router gave outside port {got}, not {asked} (it keeps {asked} for \
             itself or another host); use {} to reach the server",
            m.external()
        )
    })
}

/// The guide for every protocol of `t` with the reasons of `e`, when `e`
/// is the manual guide; `None` for any other error (report it as it is).
async fn full_guide(client: &Client, t: &Target, e: &Error) -> Option<Error> {
    let Error::Manual { instructions } = e else {
        return None;
    };
    let mut full: Instructions = client
        .instructions_in(
            t.primary_family(),
            &t.protocols,
            t.external_port(),
            t.host,
            t.internal_port,
        )
        .await;
    full.reasons = instructions.reasons.clone();
    Some(Error::Manual {
        instructions: Box::new(full),
    })
}

/// Record a mapping in the state directory, or say why it could not be.
pub(crate) fn record(ctx: &Ctx, m: &Mapping, kept_by: Option<u32>) {
    if let Err(e) = ctx.state.put(&Record::new(m.clone(), kept_by)) {
        ctx.printer.warn(&format!(
            "could not record the mapping ({e}); `pfwd unmap` may not find it"
        ));
    }
}

/// The prober of `--check`, read before anything is mapped.
fn check_via(a: &MapArgs) -> Result<Option<ProberUrl>, Error> {
    a.check
        .as_deref()
        .map(|v| crate::check::prober(v, "--check"))
        .transpose()
}

/// `pfwd map --once --check`: check each mapping made; the worst exit code.
async fn check_made(ctx: &Ctx, client: &Client, made: &[Mapping], via: ProberUrl) -> i32 {
    let options = CheckOptions {
        via: Some(via),
        timeout: None,
        state_dir: Some(ctx.state.clone()),
    };
    let mut worst = code::OK;
    for m in made {
        let checked = match pfwd_core::check::request_of(m) {
            Ok(request) => {
                let _spinner = ctx.printer.progress("checking from outside");
                client.check(&request, &options).await
            }
            Err(e) => Err(e),
        };
        match checked {
            Ok(report) => {
                crate::check::print(ctx, &report);
                worst = worst.max(crate::check::exit_code(&report));
            }
            Err(e) => worst = worst.max(ctx.printer.error(&e)),
        }
    }
    worst
}

/// `pfwd map --once`.
pub async fn once(ctx: &Ctx, a: MapArgs) -> i32 {
    let p = ctx.printer;
    let t = match target(&a, LEASE) {
        Ok(t) => t,
        Err(e) => return p.error(&e.into()),
    };
    let via = match check_via(&a) {
        Ok(v) => v,
        Err(e) => return p.error(&e),
    };
    let requests = match t.requests() {
        Ok(r) => r,
        Err(e) => return p.error(&e.into()),
    };
    let options = match ctx.options(&a.method, false) {
        Ok(o) => o,
        Err(e) => return p.error(&e),
    };
    // The first request is PCP's probe (map-first): one round trip on a PCP router.
    let discovered = {
        let _spinner = p.progress("asking the router");
        Client::discover_and_map(options, &requests[0]).await
    };
    let (client, first) = match discovered {
        Ok(d) => d,
        Err(e) => return p.error(&e),
    };
    ctx.report(&client);
    warn_discovery(ctx, &client);
    let mut warnings = client.discovery().warnings;
    let mut made: Vec<Mapping> = Vec::new();
    let mut failure = None;
    let mut first = Some(first);
    for r in &requests {
        let result = match first.take() {
            Some(result) => result,
            None => {
                let _spinner = p.progress("forwarding");
                client.map(r).await
            }
        };
        match result {
            Ok(m) => {
                record(ctx, &m, None);
                p.say(&format!("forwarded {}", describe(&m)));
                if let Some(note) = port_note(&t, &m) {
                    p.warn(&note);
                }
                for w in add_warnings(&mut warnings, m.warnings()) {
                    p.warn(&w.text);
                }
                made.push(m);
            }
            Err(e) => {
                failure = Some(full_guide(&client, &t, &e).await.unwrap_or(e));
                break;
            }
        }
    }
    let mut ipv6_note = None;
    if failure.is_none() {
        ipv6_note = also_ipv6(ctx, &client, &t, &mut made).await;
    }
    match failure {
        None => {
            p.json(&json!({"mappings": made, "warnings": warnings, "ipv6_note": ipv6_note}));
            match via {
                Some(via) => check_made(ctx, &client, &made, via).await,
                None => code::OK,
            }
        }
        Some(e) if p.json => {
            add_warnings(&mut warnings, t.warnings());
            p.json(&json!({"mappings": made, "warnings": warnings, "error": error_json(&e)}));
            exit_code(&e)
        }
        Some(e) => p.error(&e),
    }
}

/// An automatic target's IPv6 pinholes, where this host has a global IPv6
/// address and the router can open them: made ones join `made`; when the
/// router cannot, a note (not a failure: IPv4 worked), also returned.
async fn also_ipv6(
    ctx: &Ctx,
    client: &Client,
    t: &Target,
    made: &mut Vec<Mapping>,
) -> Option<String> {
    let p = ctx.printer;
    let requests = t.ipv6_requests();
    if requests.is_empty() {
        return None;
    }
    if let Err(why) = client.ipv6_gateway() {
        p.detail(&format!("IPv6: no pinhole: {why}"));
        return None;
    }
    for r in &requests {
        let result = {
            let _spinner = p.progress("opening the IPv6 pinhole");
            client.map(r).await
        };
        match result {
            Ok(m) => {
                record(ctx, &m, None);
                p.say(&format!("opened {}", describe(&m)));
                made.push(m);
            }
            Err(e) => {
                let note = ipv6_note(t, &e);
                p.warn(&note);
                return Some(note);
            }
        }
    }
    None
}

/// The note for an automatic IPv6 pinhole the router would not open.
fn ipv6_note(t: &Target, e: &Error) -> String {
    let why = match e {
        Error::Manual { instructions } => instructions
            .reasons
            .iter()
            .map(|r| r.reason.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    format!(
        "IPv6: this host has a global IPv6 address, but no pinhole was opened ({why}); \
         `pfwd guide {} --ipv6` says how to open one by hand",
        t.spec.port
    )
}

/// `pfwd map` without `--once`: keep the mappings until a signal.
pub async fn keep(ctx: &Ctx, a: MapArgs) -> i32 {
    let p = ctx.printer;
    let t = match target(&a, KEPT_LEASE) {
        Ok(t) => t,
        Err(e) => return p.error(&e.into()),
    };
    let via = match check_via(&a) {
        Ok(v) => v,
        Err(e) => return p.error(&e),
    };
    let mut requests: Vec<MappingRequest> = match t.requests() {
        Ok(r) => r,
        Err(e) => return p.error(&e.into()),
    };
    // Requests from this index on are the automatic IPv6 pinholes: the
    // router's "no" to one of them is a note, not the command's failure.
    let optional_from = requests.len();
    let (mut sigint, mut sigterm) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            return p.error(&Error::io("listening for Ctrl-C and SIGTERM", e));
        }
    };
    let client = tokio::select! {
        c = ctx.client(&a.method, false) => match c {
            Ok(c) => Arc::new(c),
            Err(e) => return p.error(&e),
        },
        _ = sigint.recv() => return code::INTERRUPTED,
        _ = sigterm.recv() => return code::INTERRUPTED,
    };
    warn_discovery(ctx, &client);
    match client.ipv6_gateway() {
        Ok(_) => requests.extend(t.ipv6_requests()),
        Err(why) if t.ipv6_also() => p.detail(&format!("IPv6: no pinhole: {why}")),
        Err(_) => {}
    }
    let mut options = KeeperOptions::default();
    options.announce_from = client.discovery().gateway.map(|g| g.gateway);
    options.check_via = via;
    // The keeper records what it holds (before it tells), refuses a mapping
    // another pfwd process keeps, or takes it over with --take-over.
    options.state_dir = Some(ctx.state.clone());
    options.take_over = a.take_over;
    let count = requests.len();
    // What a killed predecessor recorded is renewed, not made again.
    let items = adopt::keeps(ctx, &client, requests, &a.method);
    let mut keeper = Keeper::start(client.clone(), items, options);
    let mut pending: HashSet<usize> = (0..count).collect();
    let mut kept: HashSet<usize> = (0..count).collect();
    let mut warned: Vec<pfwd_core::Warning> = Vec::new();
    loop {
        tokio::select! {
            event = keeper.next_event() => {
                let Some(event) = event else { break };
                p.json(&events::to_json(&event, None));
                match &event {
                    Event::Mapped { index, mapping } => {
                        p.say(&events::to_text(&event));
                        if let Some(note) = port_note(&t, mapping) {
                            p.warn(&note);
                        }
                        for w in add_warnings(&mut warned, mapping.warnings()) {
                            p.warn(&w.text);
                        }
                        pending.remove(index);
                        if pending.is_empty() {
                            p.say("keeping it forwarded; Ctrl-C (or SIGTERM) removes it");
                        }
                    }
                    Event::Restored { .. } | Event::Checked { .. } => {
                        p.say(&events::to_text(&event));
                    }
                    Event::Renewed { .. } => p.detail(&events::to_text(&event)),
                    Event::Failed { index, error, .. }
                        if *index >= optional_from && pending.contains(index) =>
                    {
                        // The router opens no IPv6 pinhole: IPv4 carries on.
                        p.warn(&ipv6_note(&t, error));
                        let _ = keeper.remove(*index).await;
                        pending.remove(index);
                        kept.remove(index);
                        if pending.is_empty() {
                            p.say("keeping it forwarded; Ctrl-C (or SIGTERM) removes it");
                        }
                    }
                    Event::Failed { index, error, .. } if pending.contains(index) => {
                        // The first attempt failed: say why (or how to do it
                        // by hand) and stop, removing whatever was made.
                        let report = keeper.close().await;
                        let deleted = report.deleted_count();
                        p.detail(&format!(
                            "removed {}",
                            crate::output::counted(deleted, "mapping", "mappings")
                        ));
                        return match full_guide(&client, &t, error).await {
                            Some(guide) => p.error(&guide),
                            None => p.error(error),
                        };
                    }
                    Event::TakenOver { index, .. } => {
                        p.warn(&events::to_text(&event));
                        kept.remove(index);
                        if kept.is_empty() {
                            p.say("nothing left to keep here");
                            return code::OK;
                        }
                    }
                    Event::Failed { .. }
                    | Event::Lost { .. }
                    | Event::ExternalAddressChanged { .. }
                    | Event::Warning { .. } => {
                        p.warn(&events::to_text(&event));
                    }
                    _ => p.detail(&events::to_text(&event)),
                }
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    let report = {
        let _spinner = p.progress("removing the mappings");
        keeper.close().await
    };
    // Only what the router deleted lost its record: a mapping still there
    // keeps it (with its PCP nonce), so `pfwd unmap` can delete it later.
    for (_, m, e) in &report.left {
        p.warn(&crate::output::left_behind(m, e));
    }
    let deleted = report.deleted_count();
    p.say(&format!(
        "removed {}",
        crate::output::counted(deleted, "mapping", "mappings")
    ));
    p.json(&json!({"event": "closed", "deleted": deleted}));
    code::OK
}

/// Drop the records of mappings that are gone.
pub(crate) fn forget<'a>(ctx: &Ctx, mappings: impl Iterator<Item = &'a Mapping>) {
    for m in mappings {
        if let Err(e) = ctx.state.remove(m) {
            ctx.printer.warn(&format!(
                "could not remove the record of {} ({e})",
                describe(m)
            ));
        }
    }
}
