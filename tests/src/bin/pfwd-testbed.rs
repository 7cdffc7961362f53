//! The testbed's own command.
//!
//! - `pfwd-testbed demo`: build a home network with a real router
//!   (miniupnpd), forward a port with pfwd over UPnP, prove that bytes from
//!   "the internet" reach the server, remove the forwarding, prove they no
//!   longer do, and tear everything down.
//! - `pfwd-testbed clean`: remove namespaces left by killed runs.
//! - `pfwd-testbed timings [RUNS]`: time pfwd's UPnP discovery, map and
//!   external-address read, and "no gateway", alternating with `upnpc` in
//!   the same run, and print medians.
//! - `pfwd-testbed hold`: build a testbed, print its namespaces and
//!   miniupnpd's pid, and wait (at most 60 s): the teardown tests kill it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use pfwd_core::{Forwarder, MappingRequest, Protocol, Upnp, default_gateway};
use pfwd_testbed::{GatewayConfig, Testbed, WAN_HOST, cannot_run_reason, clean_stale, reaches};

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("demo") => demo(),
        Some("hold") => hold(),
        Some("timings") => timings(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(20),
        ),
        Some("clean") => {
            for name in clean_stale() {
                println!("removed {name}");
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: pfwd-testbed demo | clean | hold | timings [RUNS]");
            ExitCode::from(2)
        }
    }
}

fn hold() -> ExitCode {
    match Testbed::new(GatewayConfig::all_on()) {
        Ok(tb) => {
            println!(
                "{} {}",
                tb.namespaces().join(" "),
                tb.daemon_pid().unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_secs(60));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot build the testbed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo() -> ExitCode {
    if let Some(why) = cannot_run_reason() {
        eprintln!("the demo cannot run here: {why}");
        return ExitCode::FAILURE;
    }
    match run_demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "== building a home network: a Pi at 192.168.77.10 behind a router running miniupnpd,"
    );
    println!("   whose public address is 5.5.5.7; \"the internet\" is a host at {WAN_HOST}");
    let tb = Testbed::new(GatewayConfig::all_on())?;
    let port = 8080;

    let mapping = tb.lan().block_on(|| async {
        let gw = default_gateway()?;
        println!(
            "== on the Pi: default gateway {}, this host {}",
            gw.gateway, gw.local
        );
        let t = Instant::now();
        let upnp = Upnp::discover().await?;
        println!(
            "== found the router's UPnP service at {} in {} ms",
            upnp.description_url(),
            t.elapsed().as_millis()
        );
        let t = Instant::now();
        let request = MappingRequest::builder(Protocol::Tcp, port)
            .description("pfwd demo web server")
            .build()?;
        let mapping = upnp.map(&request).await?;
        println!(
            "== pfwd mapped in {} ms: {mapping}",
            t.elapsed().as_millis()
        );
        Ok::<_, pfwd_core::Error>(mapping)
    })?;

    let arrived = reaches(&tb, Protocol::Tcp, mapping.external().port(), port);
    println!(
        "== a connection from {WAN_HOST} to {}: {}",
        mapping.external(),
        if arrived {
            "bytes ARRIVED at the Pi"
        } else {
            "nothing arrived"
        }
    );
    if !arrived {
        return Err("the mapping did not carry traffic".into());
    }
    println!("== the router's list, seen by upnpc (miniupnpc) on the Pi:");
    for line in tb
        .upnpc(&["-l"])?
        .lines()
        .filter(|l| l.contains("TCP") || l.contains("UDP"))
    {
        println!("   {line}");
    }

    tb.lan().block_on(|| async {
        let upnp = Upnp::discover().await?;
        upnp.unmap(&mapping).await?;
        println!("== pfwd removed the mapping");
        Ok::<_, pfwd_core::Error>(())
    })?;
    let arrived = reaches(&tb, Protocol::Tcp, mapping.external().port(), port);
    println!(
        "== a connection from {WAN_HOST} to {} again: {}",
        mapping.external(),
        if arrived {
            "bytes still arrive (wrong!)"
        } else {
            "nothing arrives, as it should"
        }
    );
    if arrived {
        return Err("traffic still arrives after unmap".into());
    }
    drop(tb);
    println!("== testbed torn down. Demo OK.");
    Ok(())
}

fn timings(runs: usize) -> ExitCode {
    if let Some(why) = cannot_run_reason() {
        eprintln!("timings cannot run here: {why}");
        return ExitCode::FAILURE;
    }
    match run_timings(runs.max(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("timings failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn run_timings(runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let tb = Testbed::new(GatewayConfig::upnp_only())?;
    let (mut discover, mut map, mut external, mut upnpc) = (vec![], vec![], vec![], vec![]);
    for i in 0..runs {
        let port = 20000 + i as u16;
        // pfwd, in process: discovery, then the mapping (which reads the
        // external address in parallel), then a separate external-address read.
        let (d, m, e) = tb.lan().block_on(|| async {
            let t = Instant::now();
            let upnp = Upnp::discover().await?;
            let d = t.elapsed();
            let t = Instant::now();
            let mapping = upnp
                .map(&MappingRequest::builder(Protocol::Tcp, port).build()?)
                .await?;
            let m = t.elapsed();
            let t = Instant::now();
            upnp.external_address().await?;
            let e = t.elapsed();
            upnp.unmap(&mapping).await?;
            Ok::<_, pfwd_core::Error>((d, m, e))
        })?;
        discover.push(d);
        map.push(m);
        external.push(e);
        // upnpc (miniupnpc), the reference, as a whole process; then clean up.
        let t = Instant::now();
        let out = tb.upnpc(&[
            "-e",
            "ref",
            "-a",
            "192.168.77.10",
            &port.to_string(),
            &port.to_string(),
            "TCP",
            "600",
        ])?;
        upnpc.push(t.elapsed());
        if !out.contains("is redirected") {
            return Err(format!("upnpc did not map: {out}").into());
        }
        tb.upnpc(&["-d", &port.to_string(), "TCP"])?;
    }
    let tb_none = Testbed::new(GatewayConfig::no_daemon())?;
    let mut none = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        let r = tb_none
            .lan()
            .block_on(|| async { Upnp::discover().await.map(|_| ()) });
        none.push(t.elapsed());
        if r.is_ok() {
            return Err("a gateway answered where none runs".into());
        }
    }
    let t = Instant::now();
    let _ = tb_none.upnpc(&["-a", "192.168.77.10", "8080", "8080", "TCP"]);
    let upnpc_none = t.elapsed();

    println!("UPnP in the testbed, miniupnpd 2.3.1, {runs} runs alternating with upnpc (medians):");
    println!(
        "  pfwd discovery (SSDP + description + SCPD)      {:8.1} ms",
        median_ms(discover)
    );
    println!(
        "  pfwd map (AddPortMapping + external address)    {:8.1} ms",
        median_ms(map)
    );
    println!(
        "  pfwd external address alone                    {:8.1} ms",
        median_ms(external)
    );
    println!(
        "  upnpc -a, whole process (reference)             {:8.1} ms",
        median_ms(upnpc)
    );
    println!("No gateway daemon:");
    println!(
        "  pfwd discovery reports NoGateway after          {:8.1} ms (median of 3; budget 2000 ms)",
        median_ms(none)
    );
    println!(
        "  upnpc -a fails after                            {:8.1} ms (1 run)",
        upnpc_none.as_secs_f64() * 1000.0
    );
    Ok(())
}
