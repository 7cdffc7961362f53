//! The testbed's own command.
//!
//! - `pfwd-testbed demo`: build a home network with a real router
//!   (miniupnpd), forward a port with pfwd over UPnP, prove that bytes from
//!   "the internet" reach the server, remove the forwarding, prove they no
//!   longer do, and tear everything down.
//! - `pfwd-testbed guide`: a router (UPnP only, a TP-Link by its
//!   description) that refuses ports below 1024; ask pfwd for port 80 and
//!   print the manual guide it answers with, as text.
//! - `pfwd-testbed clean`: remove namespaces left by killed runs.
//! - `pfwd-testbed timings [RUNS]`: time pfwd per method against the
//!   reference clients (`natpmpc`, `upnpc`) in the same run; print medians.
//! - `pfwd-testbed keep PORT LEASE`: in the current namespace (run it with
//!   `ip netns exec`), keep TCP PORT mapped with LEASE-second leases through
//!   the automatic client, print "mapped" and every event; the kill test kills it.
//! - `pfwd-testbed keep-cpu [SECONDS] [COUNT] [LEASE]`: build a testbed, keep
//!   COUNT mappings (default 100, leases of 20 s) for SECONDS (default 120)
//!   and print the CPU time the keeping process used.
//! - `pfwd-testbed run PROGRAM [ARGS...]`: build a testbed (all methods
//!   on) with a second LAN host (the web server at [`WEB_HOST`]), run
//!   PROGRAM on the LAN host with `PFWD_TESTBED_{LAN,GW,WAN,WEB}` set
//!   to the namespaces' names, tear it down and exit with its code
//!   (`scripts/bench-python` runs its driver so).
//! - `pfwd-testbed lost [RUNS] [--with-default]`: per method, `pfwd run`
//!   keeps a mapping checked every 2 s (and every 30 s, the default, with
//!   `--with-default`); `upnpc -d` deletes it RUNS times (default 3); the
//!   times from the deletion to the "lost" event, to the rule back on the
//!   router and to bytes arriving again (issue 18).
//! - `pfwd-testbed busy [N]`: one `pfwd run` with N entries (default 60):
//!   time to all mapped, methods used, failures, SIGTERM to exit, mappings
//!   left (issue 18).
//! - `pfwd-testbed hold`: build a testbed, print its namespaces and
//!   miniupnpd's pid, and wait (at most 60 s): the teardown tests kill it.

use std::process::ExitCode;
use std::time::Instant;

use pfwd_core::{MappingRequest, Protocol};
use pfwd_testbed::{
    GatewayConfig, Testbed, WAN_HOST, WEB_HOST, cannot_run_reason, clean_stale, reaches,
};

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("demo") => demo(),
        Some("hold") => hold(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(60),
        ),
        Some("compare-ipv6") => compare_ipv6(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(10),
        ),
        Some(which @ ("compare" | "footprint")) => compare(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(20),
            which == "footprint",
        ),
        Some("check") => check_timing(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(20),
        ),
        Some("keep") => keep(std::env::args().skip(2).collect()),
        Some("lost") => lost(std::env::args().skip(2).collect()),
        Some("busy") => busy(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(60),
        ),
        Some("run") => run_on_lan(std::env::args().skip(2).collect()),
        Some("upnp-phases") => {
            let runs = std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(10);
            match cannot_run_reason()
                .map(|why| -> Box<dyn std::error::Error> { why.into() })
                .map_or_else(|| pfwd_testbed::upnp_phases::print(runs), Err)
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("upnp-phases failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("keep-cpu") => keep_cpu(std::env::args().skip(2).collect()),
        Some("guide") => guide(),
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
            eprintln!(
                "usage: pfwd-testbed demo | guide | clean | run PROGRAM [ARGS...] | hold [SECONDS] | timings [RUNS] | compare [RUNS] | footprint [RUNS] | upnp-phases [RUNS] | check [RUNS] | lost [RUNS] [--with-default] | busy [N] | keep PORT LEASE | keep-cpu [SECONDS] [COUNT] [LEASE]"
            );
            ExitCode::from(2)
        }
    }
}

fn guide() -> ExitCode {
    if let Some(why) = cannot_run_reason() {
        eprintln!("the guide sample cannot run here: {why}");
        return ExitCode::FAILURE;
    }
    let mut config = GatewayConfig::upnp_only();
    config.rules = vec![format!(
        "allow 1024-65535 {} 1-65535",
        pfwd_testbed::LAN_NET
    )];
    config.extra = vec![
        "manufacturer_name=TP-Link".into(),
        "model_name=Archer C7".into(),
        "model_number=5.0".into(),
    ];
    let outcome = Testbed::new(config)
        .map_err(|e| e.to_string())
        .and_then(|tb| {
            tb.lan().block_on(|| async {
                let request = MappingRequest::builder(Protocol::Tcp, 80)
                    .build()
                    .map_err(|e| e.to_string())?;
                match pfwd_core::forward(&request).await {
                    Err(pfwd_core::Error::Manual { instructions }) => Ok(instructions.to_text()),
                    Ok((_, m)) => Err(format!("the router mapped it after all: {m}")),
                    Err(e) => Err(e.to_string()),
                }
            })
        });
    match outcome {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("guide sample failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Keep `count` mappings; returns the renewals and failures seen.
fn keep_mappings(
    first_port: u16,
    count: u16,
    lease: u64,
    seconds: Option<u64>,
) -> Result<(u32, u32), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = std::sync::Arc::new(
            pfwd_core::Client::discover()
                .await
                .map_err(|e| e.to_string())?,
        );
        let requests = (0..count)
            .map(|i| {
                MappingRequest::builder(Protocol::Tcp, first_port + i)
                    .lease(std::time::Duration::from_secs(lease))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let mut keeper = pfwd_core::lease::Keeper::start(client, requests, Default::default());
        let until =
            seconds.map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs(s));
        let (mut mapped, mut renewed, mut failed) = (0, 0u32, 0u32);
        loop {
            let event = match until {
                Some(t) => match tokio::time::timeout_at(t, keeper.next_event()).await {
                    Ok(e) => e,
                    Err(_) => break,
                },
                None => keeper.next_event().await,
            };
            let Some(event) = event else { break };
            match event {
                pfwd_core::lease::Event::Mapped { .. } => {
                    mapped += 1;
                    if mapped == count {
                        println!("mapped");
                    }
                }
                pfwd_core::lease::Event::Renewed { .. }
                | pfwd_core::lease::Event::Restored { .. } => {
                    renewed += 1;
                }
                pfwd_core::lease::Event::Failed { .. } => failed += 1,
                _ => {}
            }
            if seconds.is_none() {
                println!("{event}");
            }
        }
        keeper.close().await;
        Ok((renewed, failed))
    })
}

fn keep(args: Vec<String>) -> ExitCode {
    let parsed = (|| {
        Some((
            args.first()?.parse::<u16>().ok()?,
            args.get(1)?.parse::<u64>().ok()?,
        ))
    })();
    let Some((port, lease)) = parsed else {
        eprintln!("usage: pfwd-testbed keep PORT LEASE_SECONDS");
        return ExitCode::from(2);
    };
    match keep_mappings(port, 1, lease, None) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keep failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn keep_cpu(args: Vec<String>) -> ExitCode {
    let seconds = args.first().and_then(|a| a.parse().ok()).unwrap_or(120u64);
    let count = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100u16);
    let lease = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20u64);
    if let Some(why) = cannot_run_reason() {
        eprintln!("keep-cpu cannot run here: {why}");
        return ExitCode::FAILURE;
    }
    let mut config = GatewayConfig::all_on();
    config.min_lifetime = Some(2);
    let tb = match Testbed::new(config) {
        Ok(tb) => tb,
        Err(e) => {
            eprintln!("cannot build the testbed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let before = cpu_seconds();
    let started = Instant::now();
    let outcome = tb
        .lan()
        .run(|| keep_mappings(30000, count, lease, Some(seconds)));
    let used = cpu_seconds() - before;
    match outcome {
        Ok((renewals, failures)) => {
            let took = started.elapsed().as_secs_f64();
            println!(
                "kept {count} mappings with {lease} s leases for {took:.0} s \
                 ({renewals} renewals, {failures} failures): {used:.3} s of CPU ({:.3} % of one core)",
                100.0 * used / took
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keep-cpu failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn hold(seconds: u64) -> ExitCode {
    match Testbed::new(GatewayConfig::all_on()) {
        Ok(tb) => {
            println!(
                "{} {}",
                tb.namespaces().join(" "),
                tb.daemon_pid().unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_secs(seconds));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot build the testbed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_on_lan(args: Vec<String>) -> ExitCode {
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: pfwd-testbed run PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    if let Some(why) = cannot_run_reason() {
        eprintln!("pfwd-testbed run cannot build a testbed here: {why}");
        return ExitCode::FAILURE;
    }
    // PFWD_TESTBED_ROUTER picks the router: all-on (default), upnp-only,
    // natpmp-only, no-daemon (its kernel answers ICMP), silent (no
    // daemon, and a rule that drops what is sent to the router's ports) or
    // dual-stack (all on, and IPv6 with pinholes: pfwd_testbed::dual_stack).
    let router = std::env::var("PFWD_TESTBED_ROUTER").unwrap_or_default();
    let config = match router.as_str() {
        "" | "all-on" => GatewayConfig::all_on(),
        "open" => GatewayConfig {
            secure_mode: false,
            ..GatewayConfig::all_on()
        },
        "upnp-only" => GatewayConfig::upnp_only(),
        "natpmp-only" => GatewayConfig::natpmp_only(),
        "no-daemon" | "silent" => GatewayConfig::no_daemon(),
        "dual-stack" => GatewayConfig::dual_stack(),
        other => {
            eprintln!(
                "PFWD_TESTBED_ROUTER={other}: expected all-on, open, upnp-only, natpmp-only, \
                 no-daemon, silent or dual-stack"
            );
            return ExitCode::from(2);
        }
    };
    let mut tb = match Testbed::new(config) {
        Ok(tb) => tb,
        Err(e) => {
            eprintln!("cannot build the testbed: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A second Pi, the web server of the book's Getting started.
    let web = match tb.add_lan_host("web", WEB_HOST) {
        Ok(web) => web.name().to_string(),
        Err(e) => {
            eprintln!("cannot add the web server's host: {e}");
            return ExitCode::FAILURE;
        }
    };
    if router == "silent"
        && let Err(e) = tb.drop_router_ports()
    {
        eprintln!("cannot make the router silent: {e}");
        return ExitCode::FAILURE;
    }
    let (lan, gw, wan) = (tb.lan().name(), tb.gw().name(), tb.wan().name());
    let status = tb
        .lan()
        .command(program)
        .args(rest)
        .env("PFWD_TESTBED_LAN", lan)
        .env("PFWD_TESTBED_GW", gw)
        .env("PFWD_TESTBED_WAN", wan)
        .env("PFWD_TESTBED_WEB", &web)
        .status();
    match status {
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("cannot run {program}: {e}");
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

/// The `pfwd` command beside this program (both are built into target/DIR).
fn pfwd_command() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    // scripts/bench measures the command as shipped (the `dist` profile).
    if let Some(path) = std::env::var_os("PFWD_COMMAND").filter(|p| !p.is_empty()) {
        return Ok(path.into());
    }
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name("pfwd");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} is missing: cargo build -p pfwd-cli", path.display()).into())
    }
}

/// `pfwd check` as a whole process on the LAN host, the prober in the
/// internet's namespace: a verified check, a port not forwarded, and the
/// LAN side only (issue 14). Medians of `runs`, peak memory, exit codes.
fn check_timing(runs: usize) -> ExitCode {
    if let Some(why) = cannot_run_reason() {
        eprintln!("the check timing cannot run here: {why}");
        return ExitCode::FAILURE;
    }
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let pfwd = pfwd_command()?;
        let tb = Testbed::new(GatewayConfig::all_on())?;
        // One source asks 3 x RUNS times a minute: above the default rate limit.
        let mut limits = pfwd_core::check::prober::Limits::default();
        limits.per_source_per_minute = 100_000;
        let prober = pfwd_testbed::prober::Prober::start_with(&tb, limits);
        let via = prober.url();
        let lan = tb.lan().name().to_string();
        let state = std::env::temp_dir().join(format!("{lan}-state"));
        let env = [("PFWD_STATE", state.as_path())];
        let map = pfwd_testbed::compare::run_in(&lan, &pfwd, &["map", "8080", "--once"], &env)?;
        if map.code != 0 {
            return Err(format!("pfwd map 8080 --once exited {}", map.code).into());
        }
        println!("| case | median | max RSS | exit codes |");
        println!("|---|--:|--:|---|");
        for (case, args) in [
            (
                "mapped, verified by the token",
                vec!["check", "8080", "--via", via.as_str()],
            ),
            (
                "not forwarded",
                vec!["check", "8081", "--via", via.as_str()],
            ),
            ("LAN side only (no --via)", vec!["check", "8080"]),
        ] {
            let mut walls = Vec::new();
            let mut rss = 0;
            let mut codes = Vec::new();
            for _ in 0..runs.max(1) {
                let s = pfwd_testbed::compare::run_in(&lan, &pfwd, &args, &env)?;
                walls.push(s.wall);
                rss = rss.max(s.max_rss_kib);
                codes.push(s.code);
            }
            walls.sort_unstable();
            codes.sort_unstable();
            codes.dedup();
            println!(
                "| {case} | {:.1} ms | {:.1} MB | {codes:?} |",
                walls[walls.len() / 2].as_secs_f64() * 1000.0,
                rss as f64 / 1024.0
            );
        }
        let counts = prober.stop();
        println!(
            "prober: {} probes, {} connections, {} rate-limited, {} busy",
            counts.probes, counts.connections, counts.rate_limited, counts.busy
        );
        let _ = std::fs::remove_dir_all(state);
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("check timing failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Issue 18: how long a mapping deleted behind pfwd's back stays lost.
fn lost(args: Vec<String>) -> ExitCode {
    let with_default = args.iter().any(|a| a == "--with-default");
    let runs = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(3);
    if let Some(why) = cannot_run_reason() {
        eprintln!("the lost-mapping figures cannot be measured here: {why}");
        return ExitCode::FAILURE;
    }
    match pfwd_command().and_then(|pfwd| pfwd_testbed::keeping::lost(&pfwd, runs, with_default)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lost-mapping figures failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Issue 18: many entries kept by one `pfwd run`.
fn busy(count: u16) -> ExitCode {
    if let Some(why) = cannot_run_reason() {
        eprintln!("the busy-router figures cannot be measured here: {why}");
        return ExitCode::FAILURE;
    }
    match pfwd_command().and_then(|pfwd| pfwd_testbed::keeping::busy(&pfwd, count)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("busy-router figures failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `pfwd map --once` against natpmpc and upnpc as whole processes (issue 7).
fn compare_ipv6(runs: usize) -> ExitCode {
    if let Some(why) = cannot_run_reason() {
        eprintln!("the comparison cannot run here: {why}");
        return ExitCode::FAILURE;
    }
    match pfwd_command().and_then(|pfwd| pfwd_testbed::compare6::run(&pfwd, runs)) {
        Ok(rows) => {
            println!("| case | pfwd | reference | pfwd median | reference median | ratio |");
            println!("|---|---|---|--:|--:|--:|");
            for r in &rows {
                println!(
                    "| {} | `{}` | `{}` | {:.1} ms | {:.1} ms | {:.2} |",
                    r.case,
                    r.pfwd,
                    r.reference,
                    r.pfwd_median,
                    r.reference_median,
                    r.ratio()
                );
            }
            for r in &rows {
                let mut codes = (r.codes.0.clone(), r.codes.1.clone());
                for c in [&mut codes.0, &mut codes.1] {
                    c.sort_unstable();
                    c.dedup();
                }
                println!("{}: exit codes {:?} / {:?}", r.case, codes.0, codes.1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("comparison failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn compare(runs: usize, footprint: bool) -> ExitCode {
    if let Some(why) = cannot_run_reason() {
        eprintln!("the comparison cannot run here: {why}");
        return ExitCode::FAILURE;
    }
    let result = pfwd_command().and_then(|pfwd| {
        println!("pfwd: {}", pfwd.display());
        if footprint {
            pfwd_testbed::compare::footprint(&pfwd, runs)
        } else {
            pfwd_testbed::compare::run(&pfwd, runs)
        }
    });
    match result {
        Ok(rows) => {
            print!("{}", pfwd_testbed::compare::table(&rows));
            for r in &rows {
                let odd = |codes: &[i32]| {
                    let mut c = codes.to_vec();
                    c.sort_unstable();
                    c.dedup();
                    c
                };
                println!(
                    "{}: exit codes pfwd {:?}, reference {:?}; CPU time (median) pfwd {:.2} ms, reference {:.2} ms",
                    r.case,
                    odd(&r.codes.0),
                    odd(&r.codes.1),
                    r.cpu_ms.0,
                    r.cpu_ms.1
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("comparison failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{BufRead, BufReader};
    let pfwd = pfwd_command()?;
    println!(
        "== building a home network: a Pi at 192.168.77.10 behind a router running miniupnpd,"
    );
    println!("   whose public address is 5.5.5.7; \"the internet\" is a host at {WAN_HOST}");
    let tb = Testbed::new(GatewayConfig::all_on())?;
    let state = std::env::temp_dir().join(format!("{}-demo-state", tb.namespaces()[0]));
    let on_pi = |args: &[&str]| {
        let mut c = tb.lan().command(&pfwd.to_string_lossy());
        c.args(args).env("PFWD_STATE", &state);
        c
    };
    let port = 8080;
    println!("== on the Pi: pfwd status");
    let out = on_pi(&["status"]).output()?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("   {line}");
    }
    println!("== on the Pi: pfwd map {port}   (keeps the mapping until Ctrl-C or SIGTERM)");
    let t = Instant::now();
    let mut child = on_pi(&["map", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    for line in lines.by_ref() {
        let line = line?;
        println!("   {line}");
        if line.starts_with("keeping it forwarded") {
            break;
        }
    }
    println!(
        "   (mapped {} ms after starting pfwd)",
        t.elapsed().as_millis()
    );
    let arrived = reaches(&tb, Protocol::Tcp, port, port);
    println!(
        "== a connection from {WAN_HOST} to 5.5.5.7:{port}: {}",
        if arrived {
            "bytes ARRIVED at the Pi"
        } else {
            "nothing arrived"
        }
    );
    let listing = tb.upnpc(&["-l"])?;
    println!("== the router's list, seen by upnpc (miniupnpc, another client) on the Pi:");
    for line in listing.lines().filter(|l| l.contains("TCP ")) {
        println!("   {line}");
    }
    println!("== SIGTERM to pfwd (as systemd or Ctrl-C would):");
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    for line in lines {
        println!("   {}", line?);
    }
    let status = child.wait()?;
    println!("   (pfwd exited with {status})");
    if !arrived {
        return Err("the mapping did not carry traffic".into());
    }
    let arrived = reaches(&tb, Protocol::Tcp, port, port);
    println!(
        "== a connection from {WAN_HOST} to 5.5.5.7:{port} again: {}",
        if arrived {
            "bytes still arrive (wrong!)"
        } else {
            "nothing arrives, as it should"
        }
    );
    let _ = std::fs::remove_dir_all(&state);
    if arrived || !status.success() {
        return Err("the mapping was not removed cleanly".into());
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
    match pfwd_testbed::bench::timings(runs.max(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("timings failed: {e}");
            ExitCode::FAILURE
        }
    }
}
