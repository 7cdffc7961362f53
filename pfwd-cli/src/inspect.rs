//! The commands that look but do not forward: `status`, `list`, `guide`.

use pfwd_core::auto::Probe;
use pfwd_core::guide::GuideContext;
use pfwd_core::{Forwarder, GatewayMapping, Instructions, Method, default_gateway};
use serde_json::json;

use crate::Ctx;
use crate::args::{GuideArgs, GuideFormat};
use crate::output::code;
use crate::target::{External, LeaseArg, Target, reason};

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
    let router = client.router_info().await;
    let d = client.discovery();
    let answered = !d.answered().is_empty();
    p.json(&json!({
        "gateway": d.gateway,
        "methods": d.methods,
        "external_address": d.external_address,
        "router": router,
        "warnings": d.warnings,
        "took_ms": d.took_ms,
        "can_forward": answered,
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
    let recorded = match ctx.state.load() {
        Ok(r) => r,
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
    let gateway = d.gateway.as_ref().map(|g| g.gateway);
    let (router_json, code) = match &listed {
        Ok(list) => (
            json!({"method": "upnp", "mappings": list.iter().map(listed_json).collect::<Vec<_>>()}),
            code::OK,
        ),
        Err(e) => (
            json!({"method": null, "mappings": [], "error": {"kind": e.kind().name(), "message": e.to_string()}}),
            if recorded.is_empty() {
                code::FAILED
            } else {
                code::OK
            },
        ),
    };
    p.json(&json!({
        "gateway": gateway,
        "router": router_json,
        "recorded": recorded.iter().map(|r| &r.info).collect::<Vec<_>>(),
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
            reason(e)
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
            p.say(&format!("  {}{kept}", r.info.describe()));
        }
    }
    code
}

fn listed_json(m: &GatewayMapping) -> serde_json::Value {
    json!({
        "protocol": m.protocol.as_str(),
        "external_port": m.external_port,
        "internal_client": m.internal_client,
        "internal_port": m.internal_port,
        "description": m.description,
        "lease_seconds": m.lease.as_secs(),
        "enabled": m.enabled,
    })
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
    let t = match Target::parse(
        &a.port,
        a.to.as_deref(),
        &a.protocols,
        a.external.as_deref(),
        LeaseArg::Forever,
        None,
    ) {
        Ok(t) => t,
        Err(e) => return p.error(&e),
    };
    let external = match t.external {
        External::Exact(port) => port,
        _ => t.spec.port,
    };
    let instructions: Instructions = if a.offline {
        let gateway = match ctx.gateway {
            Some(g) => pfwd_core::GatewayInfo::for_gateway(g).ok(),
            None => default_gateway().ok(),
        };
        let context = GuideContext {
            gateway,
            ..GuideContext::default()
        };
        Instructions::build(&context, &t.protocols, external, t.host, t.internal_port)
    } else {
        let client = match ctx.client(&[], true).await {
            Ok(c) => c,
            Err(e) => return p.error(&e),
        };
        client
            .instructions_for(&t.protocols, external, t.host, t.internal_port)
            .await
    };
    if p.json || a.format == GuideFormat::Json {
        println!("{}", instructions.to_json());
    } else if a.format == GuideFormat::Markdown {
        print!("{}", instructions.to_markdown());
    } else {
        print!("{}", instructions.to_text());
    }
    code::OK
}
