//! IPv6 pinholes against IPv4 mappings, whole processes side by side in
//! the dual-stack testbed: `pfwd map --once --ipv6` by PCP and by UPnP
//! against the same command's IPv4 mapping by the same method, and the
//! UPnP pinhole against miniupnpc's `upnpc -6 -A` (NAT-PMP's `natpmpc` has
//! no IPv6, so PCP's pinhole is compared with IPv4 only). Runs alternate,
//! each started straight in the LAN namespace (see [`crate::compare`]),
//! with every mapping and pinhole removed between runs.

use std::path::{Path, PathBuf};

use crate::compare::{Row, Sample, Start, median, reset, run_in};
use crate::{GatewayConfig, LAN_HOST6, Testbed};

/// One side of a comparison: a program and its arguments.
type Side<'a> = (&'a Path, Vec<&'a str>);

/// `runs` alternating runs of `a` (pfwd) and `b` (the reference): the
/// time row.
fn pair(
    tb: &mut Testbed,
    name: &str,
    a: &Side<'_>,
    b: &Side<'_>,
    runs: usize,
    pfwd: &Path,
    state: &Path,
) -> Result<Row, Box<dyn std::error::Error>> {
    let lan = tb.lan().name().to_string();
    let env = [("PFWD_STATE", state)];
    // One untimed run of each first: page cache, neighbour discovery.
    for side in [a, b] {
        run_in(&lan, side.0, &side.1, &env)?;
        reset(tb, pfwd, state)?;
    }
    let (mut sa, mut sb): (Vec<Sample>, Vec<Sample>) = (Vec::new(), Vec::new());
    for i in 0..runs {
        for a_first in [i % 2 == 0, i % 2 == 1] {
            let (side, into) = if a_first { (a, &mut sa) } else { (b, &mut sb) };
            into.push(run_in(&lan, side.0, &side.1, &env)?);
            reset(tb, pfwd, state)?;
        }
    }
    let ms = |v: &[Sample]| median(v.iter().map(|s| s.wall.as_secs_f64() * 1000.0).collect());
    let cpu = |v: &[Sample]| median(v.iter().map(|s| s.cpu.as_secs_f64() * 1000.0).collect());
    let words = |s: &Side<'_>| {
        let program =
            s.0.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into());
        format!("{program} {}", s.1.join(" "))
    };
    Ok(Row {
        case: name.to_string(),
        start: Start::Setns,
        pfwd: words(a),
        reference: words(b),
        pfwd_median: ms(&sa),
        reference_median: ms(&sb),
        unit: "ms",
        // No target: the issue asks for the figures side by side.
        target: f64::INFINITY,
        absolute: None,
        codes: (
            sa.iter().map(|s| s.code).collect(),
            sb.iter().map(|s| s.code).collect(),
        ),
        cpu_ms: (cpu(&sa), cpu(&sb)),
    })
}

/// The IPv6 rows, `runs` pairs each.
///
/// # Errors
///
/// When the testbed cannot be built or a program cannot be started.
pub fn run(pfwd: &Path, runs: usize) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let mut tb = Testbed::dual_stack(GatewayConfig::dual_stack())?;
    let state: PathBuf = std::env::temp_dir().join(format!("{}-state6", tb.namespaces()[0]));
    let host = LAN_HOST6.to_string();
    let map = |family: &'static str, method: &'static str| -> Side<'_> {
        (
            pfwd,
            vec!["map", "8080", "--once", "-q", family, "--method", method],
        )
    };
    let upnpc_pinhole: Side<'_> = (
        Path::new("upnpc"),
        vec!["-6", "-A", "", "0", &host, "8080", "TCP", "7200"],
    );
    let cases: [(&str, Side<'_>, Side<'_>); 4] = [
        (
            "PCP: IPv6 pinhole against IPv4 mapping",
            map("--ipv6", "pcp"),
            map("--ipv4", "pcp"),
        ),
        (
            "UPnP: IPv6 pinhole against IPv4 mapping",
            map("--ipv6", "upnp"),
            map("--ipv4", "upnp"),
        ),
        (
            "UPnP IPv6 pinhole: pfwd against upnpc -6 -A",
            map("--ipv6", "upnp"),
            upnpc_pinhole,
        ),
        (
            "IPv4 and IPv6 at once (the default) against IPv4 only",
            (pfwd, vec!["map", "8080", "--once", "-q"]),
            map("--ipv4", "pcp"),
        ),
    ];
    let mut rows = Vec::new();
    for (name, a, b) in &cases {
        rows.push(pair(&mut tb, name, a, b, runs, pfwd, &state)?);
    }
    let _ = std::fs::remove_dir_all(&state);
    Ok(rows)
}
