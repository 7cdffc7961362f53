//! `pfwd unmap`: delete the mappings pfwd recorded for a port, or, with no
//! record, the router's UPnP mapping of that port.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use pfwd_core::{
    Error, Forwarder, GatewayMapping, Lease, Mapping, Method, MethodState, Protocol, parse_port,
};
use serde_json::json;

use crate::Ctx;
use crate::args::UnmapArgs;
use crate::output::code;
use crate::record::{MappingInfo, Record};
use crate::target::{parse_host, protocols_for};

/// What to remove.
struct Wanted {
    port: u16,
    host: Option<Ipv4Addr>,
    host_port: Option<u16>,
    protocols: Option<Vec<Protocol>>,
}

impl Wanted {
    fn protocol_ok(&self, p: Protocol) -> bool {
        self.protocols.as_ref().is_none_or(|ps| ps.contains(&p))
    }

    /// A recorded mapping of this port (by the port given to `map`, or the
    /// outside port), protocol and host.
    fn matches(&self, r: &Record) -> bool {
        let port_ok = match self.host_port {
            Some(hp) => r.info.internal.port() == hp,
            None => r.info.internal.port() == self.port || r.info.external.port() == self.port,
        };
        port_ok
            && r.info.protocol().is_some_and(|p| self.protocol_ok(p))
            && self.host.is_none_or(|h| *r.info.internal.ip() == h)
    }
}

/// `pfwd unmap`.
pub async fn unmap(ctx: &Ctx, a: UnmapArgs) -> i32 {
    let p = ctx.printer;
    let wanted = match parse(&a) {
        Ok(w) => w,
        Err(e) => return p.error(&e),
    };
    let recorded = match ctx.state.load() {
        Ok(r) => r,
        Err(e) => return p.error(&Error::io("reading pfwd's record of mappings", e)),
    };
    let matching: Vec<Record> = recorded.into_iter().filter(|r| wanted.matches(r)).collect();
    let client = match ctx.client(&[], false).await {
        Ok(c) => c,
        Err(e) => return p.error(&e),
    };
    let mut removed: Vec<MappingInfo> = Vec::new();
    let mut failed: Option<Error> = None;
    for r in &matching {
        let Some(m) = r.mapping() else {
            p.warn(&format!(
                "the record of {} is damaged; removing the record only",
                r.info.describe()
            ));
            let _ = ctx.state.remove(r);
            continue;
        };
        if let Some(pid) = r.kept_by.filter(|pid| process_alive(*pid)) {
            p.warn(&format!(
                "pfwd process {pid} keeps {} alive and will forward it again; stop that \
                 process instead (kill {pid})",
                r.info.describe()
            ));
        }
        match client.unmap(&m).await {
            Ok(()) => {
                let _ = ctx.state.remove(r);
                p.say(&format!("removed {}", r.info.describe()));
                removed.push(r.info.clone());
            }
            Err(e) => failed = Some(e),
        }
    }
    if matching.is_empty() {
        // No record: the router's own list, where it can give one (UPnP).
        match upnp_fallback(ctx, &client, &wanted).await {
            Ok(list) => {
                for info in list {
                    p.say(&format!(
                        "removed {} (from the router's list)",
                        info.describe()
                    ));
                    removed.push(info);
                }
            }
            Err(e) => failed = Some(e),
        }
    }
    let not_found = removed.is_empty() && failed.is_none();
    if p.json {
        let error = failed.as_ref().map(crate::output::error_json);
        p.json(&json!({"removed": removed, "not_found": not_found, "error": error}));
    }
    if let Some(e) = failed {
        return if p.json {
            crate::output::exit_code(&e)
        } else {
            p.error(&e)
        };
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
    let spec = parse_port(&a.port)?;
    let (host, host_port) = match a.to.as_deref() {
        Some(t) => {
            let (h, p) = parse_host(t)?;
            (Some(h), p)
        }
        None => (None, None),
    };
    let any_flag = a.protocols.tcp || a.protocols.udp || a.protocols.both;
    Ok(Wanted {
        port: spec.port,
        host,
        host_port,
        protocols: any_flag.then(|| protocols_for(&spec, &a.protocols)),
    })
}

/// Delete the router's UPnP mappings of the port that point to the host
/// given, or (without `--to`) to this machine or that pfwd made.
async fn upnp_fallback(
    ctx: &Ctx,
    client: &pfwd_core::Client,
    w: &Wanted,
) -> Result<Vec<MappingInfo>, Error> {
    let list = match Forwarder::list(client).await {
        Ok(l) => l,
        // The router cannot list: nothing more pfwd can find.
        Err(e) => {
            ctx.printer
                .detail(&format!("the router cannot list its mappings: {e}"));
            return Ok(Vec::new());
        }
    };
    let d = client.discovery();
    let Some(g) = d.gateway else {
        return Ok(Vec::new());
    };
    let external_ip = d.external_address.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let ours = |m: &GatewayMapping| {
        let client_ip = m.internal_client.parse::<Ipv4Addr>().ok();
        match w.host {
            Some(h) => client_ip == Some(h),
            None => client_ip == Some(g.local) || m.description.starts_with("pfwd"),
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
        removed.push(MappingInfo::of(&mapping));
    }
    Ok(removed)
}

/// Whether a process with this id runs (on this machine).
fn process_alive(pid: u32) -> bool {
    pid != std::process::id() && std::path::Path::new(&format!("/proc/{pid}")).exists()
}
