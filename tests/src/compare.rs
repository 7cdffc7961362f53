//! Whole processes side by side: `pfwd map --once` against `natpmpc -a` and
//! `upnpc -a`, run alternately in the testbed's LAN namespace, with the
//! gateway's mappings removed between runs. Each process is started straight
//! inside the namespace (`setns` before `exec`, not `ip netns exec`, whose
//! own start-up would blur a 5 ms figure), and timed from spawn to exit,
//! with its peak memory (max RSS) from `wait4`.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{GatewayConfig, HTTP_PORT, Testbed};

/// One finished run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak resident memory, in KiB.
    pub max_rss_kib: u64,
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// CPU time (user + system).
    pub cpu: Duration,
}

/// Run `program args...` inside the namespace `ns` (by name) and wait for it.
///
/// # Errors
///
/// When it cannot be started.
pub fn run_in(
    ns: &str,
    program: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> io::Result<Sample> {
    run_started(Start::Setns, ns, program, args, env)
}

/// How a timed process is started in its namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The benchmark's own way: `setns` in the child before `exec`, so
    /// that nothing but the program is timed.
    Setns,
    /// As a person would: `ip netns exec NS PROGRAM ...` (its own start-up
    /// timed too), with the router restarted before every run, so that
    /// each tool meets a fresh router.
    IpNetnsExec,
}

impl Start {
    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Start::Setns => "setns",
            Start::IpNetnsExec => "ip netns exec, fresh router",
        }
    }
}

/// Run `program args...` in the namespace `ns`, started the `start` way.
///
/// # Errors
///
/// When it cannot be started.
pub fn run_started(
    start: Start,
    ns: &str,
    program: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> io::Result<Sample> {
    let netns = File::open(format!("/run/netns/{ns}"))?;
    let fd = netns.as_raw_fd();
    let mut cmd = match start {
        Start::Setns => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        Start::IpNetnsExec => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program).args(args);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if start == Start::Setns {
        // SAFETY: setns(2) is async-signal-safe, and `fd` stays open (held
        // by `netns`) until the child has been spawned.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        }
    }
    let started = Instant::now();
    let child = cmd.spawn()?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4(2) on our own child, with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    drop(netns);
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok(Sample {
        wall,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        code,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
    })
}

/// The median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One comparison's figures.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was compared.
    pub case: String,
    /// How the processes were started.
    pub start: Start,
    /// pfwd's command line.
    pub pfwd: String,
    /// The reference's command line.
    pub reference: String,
    /// Medians (ms, or KiB for memory).
    pub pfwd_median: f64,
    /// The reference's median.
    pub reference_median: f64,
    /// The unit of the medians.
    pub unit: &'static str,
    /// The target ratio pfwd / reference.
    pub target: f64,
    /// An absolute ceiling for pfwd, where the issue sets one (ms).
    pub absolute: Option<f64>,
    /// The exit codes seen (pfwd, reference).
    pub codes: (Vec<i32>, Vec<i32>),
    /// Median CPU time in ms (pfwd, reference).
    pub cpu_ms: (f64, f64),
}

impl Row {
    /// pfwd's median over the reference's.
    pub fn ratio(&self) -> f64 {
        self.pfwd_median / self.reference_median
    }

    /// Whether the targets are met.
    pub fn met(&self) -> bool {
        self.ratio() <= self.target && self.absolute.is_none_or(|a| self.pfwd_median <= a)
    }
}

/// What one case runs.
struct Case<'a> {
    name: &'a str,
    config: GatewayConfig,
    /// The router drops what is sent to its ports, without ICMP.
    silent: bool,
    /// pfwd starts each run without its state directory (nothing
    /// remembered of the router).
    cold: bool,
    runs: usize,
    pfwd_args: Vec<&'a str>,
    reference: (&'a str, Vec<&'a str>),
    target: f64,
    absolute: Option<f64>,
}

/// Remove every mapping the runs made: the tools' own deletes, then a check
/// of the router's rules (and IPv6 pinholes on a dual-stack router); a rule
/// left over means the daemon is restarted. `compare-ipv6` resets so too.
pub(crate) fn reset(tb: &mut Testbed, pfwd: &Path, state: &Path) -> io::Result<()> {
    if !tb.config().daemon {
        // Nothing can have been mapped; and asking would spend the
        // router's ration of ICMP answers that the next run is timed on.
        return Ok(());
    }
    let lan = tb.lan().name().to_string();
    let _ = run_in(
        &lan,
        pfwd,
        &["unmap", "8080", "-q"],
        &[("PFWD_STATE", state)],
    );
    if tb.config().natpmp {
        let _ = run_in(
            &lan,
            Path::new("natpmpc"),
            &["-a", "8080", "8080", "tcp", "0"],
            &[],
        );
    }
    if tb.config().upnp {
        let url = format!("http://192.168.77.1:{HTTP_PORT}/rootDesc.xml");
        let _ = run_in(
            &lan,
            Path::new("upnpc"),
            &["-u", &url, "-d", "8080", "TCP"],
            &[],
        );
    }
    if tb.ruleset().contains("dport 8080") || (tb.config().ipv6 && !tb.pinholes().is_empty()) {
        tb.restart_daemon()?;
    }
    Ok(())
}

fn compare(
    case: &Case<'_>,
    start: Start,
    pfwd: &Path,
    dir: &Path,
) -> Result<(Row, Row), Box<dyn std::error::Error>> {
    let mut tb = Testbed::new(case.config.clone())?;
    if case.silent {
        tb.drop_router_ports()?;
    }
    let state = dir.join(format!("{}-state", tb.namespaces()[0]));
    let lan = tb.lan().name().to_string();
    let env = [("PFWD_STATE", state.as_path())];
    let (ref_prog, ref_args) = (&case.reference.0, &case.reference.1);
    let mut p: Vec<Sample> = Vec::new();
    let mut r: Vec<Sample> = Vec::new();
    // One untimed run of each first: page cache, ARP, the daemon's first rule.
    run_in(&lan, pfwd, &case.pfwd_args, &env)?;
    reset(&mut tb, pfwd, &state)?;
    run_in(&lan, Path::new(ref_prog), ref_args, &[])?;
    reset(&mut tb, pfwd, &state)?;
    let fresh = |tb: &mut Testbed| -> io::Result<()> {
        if start == Start::IpNetnsExec && tb.config().daemon {
            tb.restart_daemon()?;
        }
        if case.cold {
            let _ = std::fs::remove_dir_all(&state);
        }
        Ok(())
    };
    for i in 0..case.runs {
        // Alternate which goes first, so that neither always follows the other.
        for pfwd_first in [i % 2 == 0, i % 2 == 1] {
            fresh(&mut tb)?;
            if pfwd_first {
                p.push(run_started(start, &lan, pfwd, &case.pfwd_args, &env)?);
            } else {
                r.push(run_started(
                    start,
                    &lan,
                    Path::new(ref_prog),
                    ref_args,
                    &[],
                )?);
            }
            reset(&mut tb, pfwd, &state)?;
        }
    }
    let _ = std::fs::remove_dir_all(&state);
    let ms = |v: &[Sample]| median(v.iter().map(|s| s.wall.as_secs_f64() * 1000.0).collect());
    let kib = |v: &[Sample]| median(v.iter().map(|s| s.max_rss_kib as f64).collect());
    let codes = (
        p.iter().map(|s| s.code).collect::<Vec<_>>(),
        r.iter().map(|s| s.code).collect::<Vec<_>>(),
    );
    let cpu = |v: &[Sample]| median(v.iter().map(|s| s.cpu.as_secs_f64() * 1000.0).collect());
    let cpu_ms = (cpu(&p), cpu(&r));
    let pfwd_cmd = format!("pfwd {}", case.pfwd_args.join(" "));
    let ref_cmd = format!("{ref_prog} {}", ref_args.join(" "));
    let time = Row {
        case: case.name.to_string(),
        start,
        pfwd: pfwd_cmd.clone(),
        reference: ref_cmd.clone(),
        pfwd_median: ms(&p),
        reference_median: ms(&r),
        unit: "ms",
        target: case.target,
        absolute: case.absolute,
        codes: codes.clone(),
        cpu_ms,
    };
    let memory = Row {
        case: format!("peak memory (max RSS), {}", case.name),
        start,
        pfwd: pfwd_cmd,
        reference: ref_cmd,
        pfwd_median: kib(&p),
        reference_median: kib(&r),
        unit: "KiB",
        target: 2.0,
        absolute: None,
        codes,
        cpu_ms,
    };
    Ok((time, memory))
}

/// Run the comparisons with `runs` pairs each (where nothing answers,
/// and `upnpc` waits 8 s per run, at most 5), started both ways (see
/// [`Start`]), and return the rows.
///
/// # Errors
///
/// When a testbed cannot be built or a program cannot be started.
pub fn run(pfwd: &Path, runs: usize) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let dir: PathBuf = std::env::temp_dir();
    let once = vec!["map", "8080", "--once", "-q"];
    let upnpc = || {
        (
            "upnpc",
            vec!["-a", "192.168.77.10", "8080", "8080", "TCP", "7200"],
        )
    };
    let case = |name, config, reference, target, absolute| Case {
        name,
        config,
        silent: false,
        cold: false,
        runs,
        pfwd_args: once.clone(),
        reference,
        target,
        absolute,
    };
    let cases = [
        case(
            "all methods on",
            GatewayConfig::all_on(),
            ("natpmpc", vec!["-a", "8080", "8080", "tcp", "7200"]),
            1.0,
            None,
        ),
        Case {
            cold: true,
            ..case(
                "UPnP only, first sight (nothing remembered)",
                GatewayConfig::upnp_only(),
                upnpc(),
                0.03,
                Some(50.0),
            )
        },
        case(
            "UPnP only, the router remembered",
            GatewayConfig::upnp_only(),
            upnpc(),
            0.03,
            Some(50.0),
        ),
        Case {
            runs: runs.min(5),
            ..case(
                "nothing answers: the router's ports closed (ICMP)",
                GatewayConfig::no_daemon(),
                upnpc(),
                0.5,
                Some(50.0),
            )
        },
        Case {
            runs: runs.min(5),
            silent: true,
            ..case(
                "nothing answers: a router that drops silently",
                GatewayConfig::no_daemon(),
                upnpc(),
                0.5,
                // The 500 ms budget and the process's own start.
                Some(520.0),
            )
        },
    ];
    let mut rows = Vec::new();
    for start in [Start::Setns, Start::IpNetnsExec] {
        let mut memory = None;
        for case in &cases {
            let (time, mem) = compare(case, start, pfwd, &dir)?;
            rows.push(time);
            if memory.is_none() {
                memory = Some(mem);
            }
        }
        // `ip netns exec` is the process measured: its peak memory would
        // be ip's own (3.6 MB), not the tool's.
        if start == Start::Setns {
            rows.extend(memory);
        }
    }
    Ok(rows)
}

/// The first case only (all methods on, against `natpmpc -a`), started
/// the benchmark's own way: its time and memory rows, for another build
/// of the command (the static one).
///
/// # Errors
///
/// As [`run`].
pub fn footprint(pfwd: &Path, runs: usize) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let case = Case {
        name: "all methods on",
        config: GatewayConfig::all_on(),
        silent: false,
        cold: false,
        runs,
        pfwd_args: vec!["map", "8080", "--once", "-q"],
        reference: ("natpmpc", vec!["-a", "8080", "8080", "tcp", "7200"]),
        target: 1.0,
        absolute: None,
    };
    let (time, memory) = compare(&case, Start::Setns, pfwd, &std::env::temp_dir())?;
    Ok(vec![time, memory])
}

/// The table, as Markdown.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| case | started | pfwd | reference | pfwd median | reference median | ratio | target | met |\n\
         |---|---|---|---|--:|--:|--:|---|---|\n",
    );
    for r in rows {
        let target = match r.absolute {
            Some(a) => format!("<= {} and <= {a:.0} {}", r.target, r.unit),
            None => format!("<= {}", r.target),
        };
        out.push_str(&format!(
            "| {} | {} | `{}` | `{}` | {:.1} {} | {:.1} {} | {:.3} | {target} | {} |\n",
            r.case,
            r.start.name(),
            r.pfwd,
            r.reference,
            r.pfwd_median,
            r.unit,
            r.reference_median,
            r.unit,
            r.ratio(),
            if r.met() { "yes" } else { "NO" }
        ));
    }
    out
}
