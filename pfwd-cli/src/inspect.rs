//! The commands that look but do not forward: `status`, `list`, `guide`.

use pfwd_core::auto::Probe;
use pfwd_core::guide::GuideContext;
use pfwd_core::{Forwarder, GatewayMapping, Instructions, Method, default_gateway};
use serde_json::json;

use crate::args::{GuideArgs, GuideFormat};
use crate::output::{code, describe, error_json};
use crate::target::transports;
use crate::{Ctx, stdio};

/// A probe's outcome in words.
pub fn probe_text(p: &Probe) -> String {
    match p {
        Probe::Answered => "answers".into(),
        Probe::Failed(f) => format!("no: {}", f.reason),
        Probe::NotWaited => "not asked (a better method answered first)".into(),
        Probe::Skipped => "skipped".into(),
    }
}

/// `pfwd status`.
pub async fn status(ctx: &Ctx) -> i32 {
    let p = ctx.printer;
    let client = match ctx.client(&[], true).await {
        Ok(c) => c,
        Err(e) => return p.error(&e),
    };
    let (router, ipv6) = tokio::join!(client.router_info(), client.ipv6_status());
    let d = client.discovery();
    let answered = !d.answered().is_empty() || !ipv6.answering().is_empty();
    p.json(&json!({
        "gateway": d.gateway,
        "methods": d.methods,
        "external_address": d.external_address,
        "router": router,
        "warnings": d.warnings,
        "took_ms": d.took_ms,
        "can_forward": answered,
        "ipv6": ipv6,
    }));
    match &d.gateway {
        Some(g) => {
            let via = g
                .interface
                .as_deref()
                .map(|i| format!(" via {i}"))
                .unwrap_or_default();
            let lan = g.lan.map(|n| format!(" on {n}")).unwrap_or_default();
            p.say(&format!(
                "Gateway:          {}{via} (this machine is {}{lan})",
                g.gateway, g.local
            ));
        }
        None => p.say("Gateway:          none (this machine has no default route)"),
    }
    if let Some(r) = router.as_ref().and_then(|r| r.display_name()) {
        p.say(&format!("Router:           {r}"));
    }
    p.say(&format!(
        "External address: {}",
        d.external_address
            .map_or_else(|| "unknown".to_string(), |a| a.to_string())
    ));
    for s in &d.methods {
        let took = s.took_ms.map(|t| format!(" ({t} ms)")).unwrap_or_default();
        p.say(&format!(
            "{:<17} {}{took}",
            format!("{}:", s.method),
            probe_text(&s.probe)
        ));
    }
    match (&ipv6.gateway, &ipv6.unavailable) {
        (Some(g), _) => {
            p.say(&format!(
                "IPv6:             {} (router {})",
                g.local,
                g.router_at(0).ip()
            ));
            for s in &ipv6.methods {
                let took = s.took_ms.map(|t| format!(" ({t} ms)")).unwrap_or_default();
                p.say(&format!(
                    "{:<17} {}{took}",
                    format!("{} over IPv6:", s.method),
                    probe_text(&s.probe)
                ));
            }
        }
        (None, why) => p.say(&format!(
            "IPv6:             none ({})",
            why.as_deref().unwrap_or("not known")
        )),
    }
    for w in &d.warnings {
        p.say(&format!("Warning:          {}", w.text));
    }
    if answered {
        code::OK
    } else {
        p.say("No method answers: `pfwd guide PORT` says how to forward by hand.");
        code::MANUAL
    }
}

/// `pfwd list`.
pub async fn list(ctx: &Ctx) -> i32 {
    let p = ctx.printer;
    let recorded = match ctx.state.scan() {
        Ok(s) => {
            for d in &s.damaged {
                p.warn(&format!(
                    "{} is not a mapping record ({})",
                    d.path.display(),
                    d.reason
                ));
            }
            s.records
        }
        Err(e) => {
            p.warn(&e.to_string());
            Vec::new()
        }
    };
    let client = match ctx.client(&[Method::Upnp], false).await {
        Ok(c) => c,
        Err(e) => return p.error(&e),
    };
    let listed = {
        let _spinner = p.progress("reading the router's list");
        Forwarder::list(&client).await
    };
    let d = client.discovery();
    let gateway = d.gateway.as_ref().map(|g| std::net::IpAddr::V4(g.gateway));
    // A record the router does not list: the router lost it (a restart),
    // or it was removed there. Only known when the router lists its own.
    let on_router = |m: &pfwd_core::Mapping| -> Option<bool> {
        let list = listed.as_ref().ok()?;
        (Some(m.gateway()) == gateway).then(|| list.iter().any(|g| g.is(m)))
    };
    let (router_json, code) = match &listed {
        Ok(list) => (json!({"method": "upnp", "mappings": list}), code::OK),
        Err(e) => (
            json!({"method": null, "mappings": [], "error": error_json(e)}),
            if recorded.is_empty() {
                code::FAILED
            } else {
                code::OK
            },
        ),
    };
    let recorded_json: Vec<serde_json::Value> = recorded
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["on_router"] = json!(on_router(&r.mapping));
            v
        })
        .collect();
    p.json(&json!({
        "gateway": gateway,
        "router": router_json,
        "recorded": recorded_json,
        "state_dir": ctx.state.path(),
    }));
    match &listed {
        Ok(list) if list.is_empty() => {
            p.say("The router lists no mappings (UPnP).");
        }
        Ok(list) => {
            p.say(&format!(
                "On the router{} (as UPnP lists them; PCP and NAT-PMP ones included where the router does):",
                gateway.map(|g| format!(" {g}")).unwrap_or_default()
            ));
            for m in list {
                p.say(&format!("  {}", listed_text(m)));
            }
        }
        Err(e) => p.say(&format!(
            "The router's mappings cannot be listed: {} (only UPnP can list them)",
            one_reason(e)
        )),
    }
    if recorded.is_empty() {
        p.say("pfwd made no mappings from this machine that are still leased.");
    } else {
        p.say(&format!(
            "Made by pfwd from this machine ({}):",
            ctx.state.path().display()
        ));
        for r in &recorded {
            let kept = r
                .kept_by
                .map(|pid| format!(", kept alive by pfwd process {pid}"))
                .unwrap_or_default();
            let gone = if on_router(&r.mapping) == Some(false) {
                " [NOT ON THE ROUTER: it lost or removed it]"
            } else {
                ""
            };
            p.say(&format!("  {}{kept}{gone}", describe(&r.mapping)));
        }
    }
    code
}

/// An error's reason without the "invalid request: " prefix.
fn one_reason(e: &pfwd_core::Error) -> String {
    match e {
        pfwd_core::Error::InvalidRequest { reason } => reason.clone(),
        other => other.to_string(),
    }
}

fn listed_text(m: &GatewayMapping) -> String {
    let lease = match m.lease.as_secs() {
        0 => "no end".to_string(),
        s => format!("{s} s left"),
    };
    format!(
        "{:<3} {:>5} -> {}:{}  {lease}{}  {:?}",
        m.protocol,
        m.external_port,
        m.internal_client,
        m.internal_port,
        if m.enabled { "" } else { " (disabled)" },
        m.description
    )
}

/// `pfwd guide`.
pub async fn guide(ctx: &Ctx, a: GuideArgs) -> i32 {
    let p = ctx.printer;
    let t = match crate::target::parse(
        &a.target.port,
        a.target.to.as_deref(),
        transports(&a.target.protocols),
        a.external.as_deref(),
        pfwd_core::Lease::Permanent,
        None,
        a.target.family.family(),
    ) {
        Ok(t) => t,
        Err(e) => return p.error(&e.into()),
    };
    let external = t.external_port();
    let instructions: Instructions = if a.offline {
        let gateway = match ctx.gateway {
            Some(g) => pfwd_core::GatewayInfo::for_gateway(g).ok(),
            None => default_gateway().ok(),
        };
        let context = GuideContext {
            gateway,
            family: t.primary_family(),
            ipv6: pfwd_core::default_ipv6_gateway().ok(),
            ..GuideContext::default()
        };
        Instructions::build(&context, &t.protocols, external, t.host, t.internal_port)
    } else {
        let client = match ctx.client(&[], true).await {
            Ok(c) => c,
            Err(e) => return p.error(&e),
        };
        client
            .instructions_in(
                t.primary_family(),
                &t.protocols,
                external,
                t.host,
                t.internal_port,
            )
            .await
    };
    if p.json || a.format == GuideFormat::Json {
        stdio::outln(&instructions.to_json());
    } else if a.format == GuideFormat::Markdown {
        stdio::out(&instructions.to_markdown());
    } else {
        stdio::out(&instructions.to_text());
    }
    code::OK
}
