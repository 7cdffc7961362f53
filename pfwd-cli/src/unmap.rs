//! `pfwd unmap`: delete the mappings pfwd recorded for a port, or, with no
//! record, the router's UPnP mapping of that port.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use pfwd_core::record::process_alive;
use pfwd_core::{
    Error, Forwarder, GatewayMapping, Lease, Mapping, Method, MethodState, Protocol, Record,
    parse_port,
};
use serde_json::json;

use crate::Ctx;
use crate::args::UnmapArgs;
use crate::output::{code, describe, error_json, exit_code};
use crate::target::{parse_to, protocols_for, transports};

/// What to remove.
struct Wanted {
    port: u16,
    host: Option<std::net::IpAddr>,
    host_port: Option<u16>,
    family: Option<pfwd_core::Family>,
    protocols: Option<Vec<Protocol>>,
}

impl Wanted {
    fn protocol_ok(&self, p: Protocol) -> bool {
        self.protocols.as_ref().is_none_or(|ps| ps.contains(&p))
    }

    /// A recorded mapping of this port (by the port given to `map`, or the
    /// outside port), protocol and host.
    fn matches(&self, m: &Mapping) -> bool {
        let port_ok = match self.host_port {
            Some(hp) => m.internal().port() == hp,
            None => m.internal().port() == self.port || m.external().port() == self.port,
        };
        port_ok
            && self.protocol_ok(m.protocol())
            && self.host.is_none_or(|h| m.internal().ip() == h)
            && self.family.is_none_or(|f| m.family() == f)
    }
}

/// `pfwd unmap`.
pub async fn unmap(ctx: &Ctx, a: UnmapArgs) -> i32 {
    let p = ctx.printer;
    let wanted = match parse(&a) {
        Ok(w) => w,
        Err(e) => return p.error(&e),
    };
    let scan = match ctx.state.scan() {
        Ok(s) => s,
        Err(e) => return p.error(&Error::io("reading pfwd's record of mappings", e)),
    };
    for d in &scan.damaged {
        p.warn(&format!(
            "{} is not a mapping record ({}); skipping it",
            d.path.display(),
            d.reason
        ));
    }
    let matching: Vec<Record> = scan
        .records
        .into_iter()
        .filter(|r| wanted.matches(&r.mapping))
        .collect();
    let client = match ctx.client(&[], false).await {
        Ok(c) => c,
        Err(e) => return p.error(&e),
    };
    let mut removed: Vec<Mapping> = Vec::new();
    let mut failed: Vec<Error> = Vec::new();
    for r in &matching {
        let m = &r.mapping;
        if let Some(pid) = r.kept_by.filter(|pid| process_alive(*pid)) {
            p.warn(&format!(
                "pfwd process {pid} keeps {} alive and will forward it again; stop that \
                 process instead (kill {pid})",
                describe(m)
            ));
        }
        match client.unmap(m).await {
            Ok(()) => {
                crate::map::forget(ctx, std::iter::once(m));
                p.say(&format!("removed {}", describe(m)));
                removed.push(m.clone());
            }
            Err(e) => {
                p.warn(&format!("could not remove {}: {e}", describe(m)));
                failed.push(e);
            }
        }
    }
    if matching.is_empty() {
        // No record: the router's own list, where it can give one (UPnP).
        match upnp_fallback(&client, &wanted).await {
            Ok(list) => {
                for m in list {
                    p.say(&format!(
                        "removed {} (from the router's list)",
                        describe(&m)
                    ));
                    removed.push(m);
                }
            }
            Err(e) => {
                p.warn(&format!(
                    "pfwd has no record of a mapping of port {} ({}), and the router's list \
                     of mappings cannot be read to look for one",
                    wanted.port,
                    ctx.state.path().display()
                ));
                failed.push(e);
            }
        }
    }
    let not_found = removed.is_empty() && failed.is_empty();
    if p.json {
        let errors: Vec<_> = failed.iter().map(error_json).collect();
        p.json(&json!({
            "removed": removed,
            "not_found": not_found,
            "error": errors.first(),
            "errors": errors,
        }));
    }
    if let Some(e) = failed.first() {
        if failed.len() > 1 {
            p.warn(&format!("{} mappings could not be removed", failed.len()));
        }
        return if p.json { exit_code(e) } else { p.error(e) };
    }
    if not_found {
        p.warn(&format!(
            "no mapping of port {} found: pfwd has no record of one ({}) and the router \
             lists none for this machine",
            wanted.port,
            ctx.state.path().display()
        ));
        return code::NOT_FOUND;
    }
    code::OK
}

fn parse(a: &UnmapArgs) -> Result<Wanted, Error> {
    let spec = parse_port(&a.target.port)?;
    let (host, host_port) = parse_to(a.target.to.as_deref())?;
    let choice = transports(&a.target.protocols);
    Ok(Wanted {
        port: spec.port,
        family: a.target.family.family().or(host.map(pfwd_core::Family::of)),
        host,
        host_port,
        protocols: choice.map(|c| protocols_for(&spec, Some(c))),
    })
}

/// Delete the router's UPnP mappings of the port that point to the host
/// given, or (without `--to`) to this machine or that pfwd made.
///
/// # Errors
///
/// When the router's list cannot be read (no UPnP, no answer), or a
/// deletion fails.
async fn upnp_fallback(client: &pfwd_core::Client, w: &Wanted) -> Result<Vec<Mapping>, Error> {
    let list = Forwarder::list(client).await?;
    let d = client.discovery();
    let Some(g) = d.gateway else {
        return Ok(Vec::new());
    };
    let external_ip = d.external_address.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let ours = |m: &GatewayMapping| {
        let client_ip = m.internal_client.parse::<std::net::IpAddr>().ok();
        match w.host {
            Some(h) => client_ip == Some(h),
            None => client_ip == Some(g.local.into()) || m.description.starts_with("pfwd"),
        }
    };
    let mut removed = Vec::new();
    for m in list.iter().filter(|m| {
        m.external_port == w.port
            && w.protocol_ok(m.protocol)
            && w.host_port.is_none_or(|hp| m.internal_port == hp)
            && ours(m)
    }) {
        let Ok(ip) = m.internal_client.parse::<Ipv4Addr>() else {
            continue;
        };
        let mapping = Mapping::new(
            Method::Upnp,
            m.protocol,
            g.gateway,
            SocketAddrV4::new(external_ip, m.external_port),
            SocketAddrV4::new(ip, m.internal_port),
            m.lease,
            Instant::now(),
            m.description.clone(),
            MethodState::Upnp {
                forced_permanent: m.lease == Lease::Permanent,
            },
        );
        client.unmap(&mapping).await?;
        removed.push(mapping);
    }
    Ok(removed)
}
