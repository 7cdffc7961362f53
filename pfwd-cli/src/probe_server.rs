//! `pfwd probe-server --listen ADDR:PORT`: the outside prober that `pfwd
//! check` asks, until SIGTERM or Ctrl-C. The server is the core's
//! [`ProbeServer`]; this is its command line, its log level and its signals.

use pfwd_core::Error;
use pfwd_core::check::messages::PROBE_PATH;
use pfwd_core::check::prober::{Limits, ProbeServer};
use serde_json::json;

use crate::Ctx;
use crate::args::ProbeServerArgs;
use crate::output::code;
use crate::service::Stop;

/// `pfwd probe-server`.
pub async fn run(ctx: &Ctx, a: ProbeServerArgs) -> i32 {
    let p = ctx.printer;
    let mut limits = Limits::default();
    limits.max_probes = a.max_probes;
    limits.per_source_probes = a.per_source_at_once;
    limits.per_source_per_minute = a.per_source_per_minute;
    limits.max_connections = a.max_connections;
    limits.max_sources = limits.max_sources.max(a.max_probes);
    let mut stop = match Stop::new() {
        Ok(s) => s,
        Err(e) => return p.error(&Error::io("listening for Ctrl-C and SIGTERM", e)),
    };
    let server = match ProbeServer::bind(a.listen, limits).await {
        Ok(s) => s,
        Err(e) => return p.error(&e),
    };
    let address = server.local_addr().unwrap_or(a.listen);
    // A server's log is its output: one line per probe at info, shown
    // without -v (but not with -q or --json).
    if !p.json && p.level >= 0 && log::max_level() < log::LevelFilter::Info {
        log::set_max_level(log::LevelFilter::Info);
    }
    p.say(&format!(
        "probe server listening on http://{address}{PROBE_PATH}; Ctrl-C or SIGTERM stops it"
    ));
    p.json(&json!({"event": "listening", "address": address.to_string()}));
    let counters = server.counters();
    server.serve(stop.recv()).await;
    let n = counters.now();
    p.say(&format!(
        "stopped after {} ({} rate-limited, {} busy, {} other refusals, {} connections \
         closed at once)",
        crate::output::counted(n.probes as usize, "probe", "probes"),
        n.rate_limited,
        n.busy,
        n.refused,
        n.dropped
    ));
    p.json(&json!({
        "event": "stopped",
        "probes": n.probes,
        "rate_limited": n.rate_limited,
        "busy": n.busy,
        "refused": n.refused,
        "dropped": n.dropped,
    }));
    code::OK
}
