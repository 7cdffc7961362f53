//! libpfwd from C against the real miniupnpd: the C test programs in
//! pfwd-ffi/tests/c/ and the example examples/c/forward.c, built with cc
//! through pkg-config from a prefix that `scripts/install-c` filled under the
//! target directory, run on the LAN host under valgrind (no errors, no
//! definite leaks) and, built again with AddressSanitizer, under ASan. Bytes
//! from the internet prove each mapping between the programs' steps.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use pfwd_core::Protocol;
use pfwd_testbed::prober::{PROBER_PORT, Prober};
use pfwd_testbed::{GatewayConfig, LAN_NET, Netns, Testbed, WAN_HOST, reaches, testbed};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), PathBuf::from)
}

/// The prefix `scripts/install-c` installed into, once per test binary.
fn prefix() -> PathBuf {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let prefix = target().join("c-prefix");
        let status = Command::new(root().join("scripts/install-c"))
            .arg(&prefix)
            .status()
            .unwrap();
        assert!(status.success(), "scripts/install-c failed: {status}");
        prefix
    })
    .clone()
}

/// How a program is built and run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// Linked against libpfwd.so; run under valgrind.
    Valgrind,
    /// Built with -fsanitize=address, linked against libpfwd.so.
    Asan,
    /// Linked against libpfwd.so, run as is.
    Shared,
    /// Linked against libpfwd.a.
    Static,
}

fn pkg_config(args: &[&str]) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("pfwd")
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig"))
        .output()
        .unwrap();
    assert!(out.status.success(), "pkg-config {args:?}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Build `source` (relative to the workspace) as `flavor`; one build at a time.
fn build(source: &str, flavor: Flavor) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let prefix = prefix();
    let _one = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let name = Path::new(source).file_stem().unwrap().to_string_lossy();
    let exe = prefix.join(format!("bin/{name}-{flavor:?}").to_lowercase());
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    let mut cc = Command::new("cc");
    cc.args([
        "-std=c11",
        "-D_DEFAULT_SOURCE",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        "-O1",
    ])
    .arg("-o")
    .arg(&exe)
    .arg(root().join(source))
    .args(pkg_config(&["--cflags"]));
    match flavor {
        Flavor::Static => {
            cc.arg(prefix.join("lib/libpfwd.a"));
            let libs = pkg_config(&["--static", "--libs-only-l"]);
            cc.args(libs.iter().filter(|l| *l != "-lpfwd"));
        }
        _ => {
            if flavor == Flavor::Asan {
                cc.args(["-fsanitize=address", "-fno-omit-frame-pointer"]);
            }
            cc.args(pkg_config(&["--libs"]));
            cc.arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()));
        }
    }
    cc.arg("-lpthread");
    let out = cc.output().unwrap();
    assert!(
        out.status.success(),
        "cc {source} ({flavor:?}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// A C program running on the LAN host, driven line by line.
struct Driven {
    child: Child,
    out: BufReader<ChildStdout>,
    input: Option<ChildStdin>,
    log: PathBuf,
    seen: Vec<String>,
}

impl Driven {
    fn start(tb: &Testbed, exe: &Path, args: &[&str], flavor: Flavor) -> Driven {
        Driven::start_in(tb.lan(), exe, args, flavor)
    }

    /// Start in a namespace of the caller's (always one this test made).
    fn start_in(ns: &Netns, exe: &Path, args: &[&str], flavor: Flavor) -> Driven {
        let log = exe.with_extension(format!("{}.log", std::process::id()));
        let mut cmd = match flavor {
            Flavor::Valgrind => {
                let mut c = ns.command("valgrind");
                c.args([
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite",
                    "--show-leak-kinds=definite",
                ])
                .arg(format!("--log-file={}", log.display()))
                .arg(exe);
                c
            }
            _ => ns.command(&exe.to_string_lossy()),
        };
        // A state directory of its own: never the machine's default one,
        // whose records (of another run) the check would read.
        let state = exe.with_extension(format!("{}.state", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        cmd.args(args)
            .env("PFWD_STATE", &state)
            .env(
                "ASAN_OPTIONS",
                format!("detect_leaks=1:log_path={}", log.display()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        Driven {
            out: BufReader::new(child.stdout.take().unwrap()),
            input: child.stdin.take(),
            child,
            log,
            seen: Vec::new(),
        }
    }

    /// Lines until one starting with `prefix`; that line's rest.
    fn expect(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            if self.out.read_line(&mut line).unwrap() == 0 {
                let status = self.child.wait().unwrap();
                panic!(
                    "the program ended ({status}) before {prefix:?}; it said:\n{}\nlog:\n{}",
                    self.seen.join(""),
                    self.logs()
                );
            }
            self.seen.push(line.clone());
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_string();
            }
        }
    }

    /// Tell the program to go on.
    fn go(&mut self) {
        self.input.as_mut().unwrap().write_all(b"\n").unwrap();
    }

    /// Everything valgrind or ASan wrote.
    fn logs(&self) -> String {
        let dir = self.log.parent().unwrap();
        let stem = self.log.file_name().unwrap().to_string_lossy().to_string();
        let mut all = String::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&stem) {
                all += &std::fs::read_to_string(entry.path()).unwrap_or_default();
            }
        }
        all
    }

    /// Wait for a clean exit; valgrind's summary line, if it ran.
    fn finish(mut self, what: &str) -> String {
        drop(self.input.take());
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.out, &mut rest);
        let status = self.child.wait().unwrap();
        let logs = self.logs();
        assert!(
            status.success(),
            "{what}: {status}\nit said:\n{}{rest}\nlog:\n{logs}",
            self.seen.join("")
        );
        let summary = logs
            .lines()
            .find(|l| l.contains("ERROR SUMMARY"))
            .unwrap_or_default()
            .to_string();
        eprintln!("{what}: ok {summary}");
        summary
    }
}

fn port(text: &str) -> u16 {
    text.split_whitespace().next().unwrap().parse().unwrap()
}

/// map_keep.c: the whole job, step by step, proven from outside.
fn map_and_keep(name: &str, flavor: Flavor) {
    let Some(mut tb) = testbed(name, GatewayConfig::all_on()) else {
        return;
    };
    let exe = build("pfwd-ffi/tests/c/map_keep.c", flavor);
    let state = exe.with_extension(format!("{}.json", std::process::id()));
    let mut p = Driven::start(&tb, &exe, &[state.to_str().unwrap()], flavor);
    let external = p.expect("external ");
    assert_eq!(external, "5.5.5.7");
    let web = port(&p.expect("mapped "));
    assert!(reaches(&tb, Protocol::Tcp, web, 8080), "mapped once");
    p.go();
    p.expect("unmapped ");
    assert!(
        !reaches(&tb, Protocol::Tcp, web, 8080),
        "unmapped from JSON"
    );
    p.go();
    p.expect("kept 9090");
    assert!(reaches(&tb, Protocol::Tcp, 9090, 9090), "kept");
    tb.restart_daemon().unwrap();
    p.go();
    p.expect("restored 9090");
    assert!(reaches(&tb, Protocol::Tcp, 9090, 9090), "restored");
    p.go();
    p.expect("closed ");
    assert!(!reaches(&tb, Protocol::Tcp, 9090, 9090), "closed");
    p.go();
    let ssh = port(&p.expect("polled "));
    assert!(reaches(&tb, Protocol::Tcp, ssh, 2222), "polled keeper");
    p.go();
    p.expect("shutdown ");
    assert!(!reaches(&tb, Protocol::Tcp, ssh, 2222), "pfwd_shutdown");
    p.expect("done");
    p.finish(name);
    let _ = std::fs::remove_file(state);
}

#[test]
fn c_map_and_keep_under_valgrind() {
    map_and_keep("c_map_and_keep_under_valgrind", Flavor::Valgrind);
}

#[test]
fn c_map_and_keep_under_asan() {
    map_and_keep("c_map_and_keep_under_asan", Flavor::Asan);
}

/// codes.c on a router that denies low ports and has 7070 taken by the NAS,
/// then on one without a daemon; also the example's "no method" exit.
fn codes(name: &str, flavor: Flavor) {
    let mut config = GatewayConfig::all_on();
    config.secure_mode = false;
    config.rules = vec![format!("allow 1024-65535 {LAN_NET} 1-65535")];
    let Some(tb) = testbed(name, config) else {
        return;
    };
    let exe = build("pfwd-ffi/tests/c/codes.c", flavor);
    let nas = tb
        .upnpc(&[
            "-e",
            "nas",
            "-a",
            "192.168.77.20",
            "7070",
            "7070",
            "TCP",
            "600",
        ])
        .unwrap();
    assert!(nas.contains("192.168.77.20:7070"), "{nas}");
    let mut seen = BTreeSet::new();
    let mut p = Driven::start(&tb, &exe, &["router"], flavor);
    let mut collect = |p: &mut Driven| {
        let done = p.expect("done");
        assert!(done.is_empty());
        for l in &p.seen {
            if let Some(code) = l.strip_prefix("code ") {
                seen.insert(code.trim().to_string());
            }
        }
    };
    collect(&mut p);
    p.finish(&format!("{name} router"));
    drop(tb);

    let Some(tb) = testbed(name, GatewayConfig::no_daemon()) else {
        return;
    };
    let mut p = Driven::start(&tb, &exe, &["no-router"], flavor);
    collect(&mut p);
    p.finish(&format!("{name} no-router"));
    // The same router with a faulty NAT-PMP server of the test's own.
    let faulty = FaultyNatPmp::start(&tb);
    let mut p = Driven::start(&tb, &exe, &["faulty-router"], flavor);
    collect(&mut p);
    p.finish(&format!("{name} faulty-router"));
    drop(faulty);
    drop(tb);

    // A host with no network: a namespace of its own, nothing up, no route.
    let bare = Netns::create(&format!("pfwdtb-{}-c-{flavor:?}", std::process::id())).unwrap();
    let mut p = Driven::start_in(&bare, &exe, &["no-network"], flavor);
    collect(&mut p);
    p.finish(&format!("{name} no-network"));
    // 11 (closed) and 12 (would_deadlock) come from real situations in
    // map_keep.c; 102 (panic) has none: no export panics.
    let want = [
        "invalid_response",
        "no_gateway",
        "unsupported",
        "refused",
        "conflict",
        "timeout",
        "invalid_request",
        "io",
        "manual",
        "cancelled",
        "null_argument",
        "invalid_utf8",
        "invalid_argument",
    ];
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    assert_eq!(seen, want);
}

/// A NAT-PMP server in the router's namespace (only there) that answers the
/// external-address request and garbles every mapping answer; stopped on drop.
struct FaultyNatPmp {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultyNatPmp {
    fn start(tb: &Testbed) -> FaultyNatPmp {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (ready, is_ready) = std::sync::mpsc::channel();
        let gw = tb.gw().name().to_string();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            Netns::attach(&gw).run(|| {
                let socket = std::net::UdpSocket::bind("192.168.77.1:5351").unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                ready.send(()).unwrap();
                let mut buf = [0u8; 1100];
                while !flag.load(Ordering::SeqCst) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    if n < 2 || buf[0] != 0 {
                        continue;
                    }
                    let answer: Vec<u8> = if buf[1] == 0 {
                        // Result 0, epoch 100, external address 5.5.5.7.
                        vec![0, 128, 0, 0, 0, 0, 0, 100, 5, 5, 5, 7]
                    } else {
                        // A mapping answer cut short in the middle of its fields.
                        vec![0, 128 + buf[1], 0, 0, 1, 2, 3]
                    };
                    let _ = socket.send_to(&answer, from);
                }
            });
        });
        is_ready
            .recv_timeout(Duration::from_secs(5))
            .expect("the faulty NAT-PMP server started");
        FaultyNatPmp {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FaultyNatPmp {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn c_result_codes_under_valgrind() {
    codes("c_result_codes_under_valgrind", Flavor::Valgrind);
}

#[test]
fn c_result_codes_under_asan() {
    codes("c_result_codes_under_asan", Flavor::Asan);
}

/// reach.c: the check from outside, with a prober in the internet's
/// namespace; each verdict the program reports is proven here too.
fn reach(name: &str, flavor: Flavor) {
    let Some(tb) = testbed(name, GatewayConfig::all_on()) else {
        return;
    };
    let prober = Prober::start(&tb);
    let exe = build("pfwd-ffi/tests/c/reach.c", flavor);
    let dead = format!("http://{WAN_HOST}:{}", PROBER_PORT + 1);
    let mut p = Driven::start(&tb, &exe, &[&prober.url(), &dead], flavor);
    assert!(p.expect("before ").starts_with("not_forwarded reachable=0"));
    let mapped = p.expect("mapped ");
    assert_eq!(
        mapped,
        "reachable reachable=1 verified=1 observed=5.5.5.7 router=5.5.5.7"
    );
    assert!(
        p.expect("checked ")
            .starts_with("reachable reachable=1 verified=1")
    );
    assert!(
        p.expect("unchecked ")
            .starts_with("not_checked reachable=0")
    );
    assert_eq!(p.expect("code "), "prober");
    p.expect("done");
    p.finish(name);
    assert!(
        !reaches(&tb, Protocol::Tcp, 9090, 9090),
        "the keeper closed"
    );
    let counts = prober.stop();
    assert!(counts.probes >= 3, "{counts:?}");
}

#[test]
fn c_check_from_outside_under_valgrind() {
    reach("c_check_from_outside_under_valgrind", Flavor::Valgrind);
}

#[test]
fn c_check_from_outside_under_asan() {
    reach("c_check_from_outside_under_asan", Flavor::Asan);
}

/// examples/c/forward.c, shared and static: one line, bytes arrive, the
/// mapping goes at the end (after SECONDS, or at SIGTERM); exit 2 on bad
/// input, 3 with the guide where nothing can map.
#[test]
fn c_example_forwards_and_cleans_up() {
    let Some(tb) = testbed("c_example_forwards_and_cleans_up", GatewayConfig::all_on()) else {
        return;
    };
    let shared = build("examples/c/forward.c", Flavor::Shared);
    let run = |exe: &Path, args: &[&str]| {
        let mut child = tb
            .lan()
            .command(&exe.to_string_lossy())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        (child, out, first)
    };
    let (mut child, mut out, first) = run(&shared, &["8443", "3"]);
    assert!(first.starts_with("forwarded: TCP 5.5.5.7:8443"), "{first}");
    assert!(reaches(&tb, Protocol::Tcp, 8443, 8443));
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("closed: deleted 1 mapping"), "{rest}");
    assert!(!reaches(&tb, Protocol::Tcp, 8443, 8443));

    // Static, until SIGTERM.
    let fixed = build("examples/c/forward.c", Flavor::Static);
    let (mut child, _out, first) = run(&fixed, &["8444"]);
    assert!(first.starts_with("forwarded: TCP 5.5.5.7:8444"), "{first}");
    assert!(reaches(&tb, Protocol::Tcp, 8444, 8444));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child (ip netns exec execs the program).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!reaches(&tb, Protocol::Tcp, 8444, 8444));

    // Bad input: 2 and a message.
    for args in [&["70000"][..], &["80", "soon"], &[]] {
        let bad = tb
            .lan()
            .command(&shared.to_string_lossy())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(2), "{args:?}: {bad:?}");
        assert!(!bad.stderr.is_empty());
    }
    drop(tb);

    // No router: the guide, 3.
    let Some(tb) = testbed(
        "c_example_forwards_and_cleans_up",
        GatewayConfig::no_daemon(),
    ) else {
        return;
    };
    let none = tb
        .lan()
        .command(&shared.to_string_lossy())
        .arg("8080")
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(3), "{none:?}");
    let guide = String::from_utf8_lossy(&none.stdout);
    assert!(guide.contains("8080"), "{guide}");
}

/// The example against the `pfwd` command, whole processes on the LAN host,
/// alternating: `forward 8080 0` (discover, map, keep, delete) against
/// `pfwd map 8080 --once -q` (discover, map) and that plus `pfwd unmap`
/// (the same work in two processes). Prints the medians (`--nocapture`).
#[test]
fn c_example_time_to_forward_against_the_command() {
    let Some(tb) = testbed(
        "c_example_time_to_forward_against_the_command",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    let example = build("examples/c/forward.c", Flavor::Shared);
    let status = Command::new("cargo")
        .current_dir(root())
        .args([
            "build",
            "--quiet",
            "--locked",
            "--release",
            "-p",
            "pfwd-cli",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let pfwd = target().join("release/pfwd");
    let state = tempdir();
    let env = [("PFWD_STATE", state.as_path())];
    let lan = tb.namespaces()[0].to_string();
    let (mut c, mut p, mut pu) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let s = pfwd_testbed::compare::run_in(&lan, &example, &["8080", "0"], &env).unwrap();
        assert_eq!(s.code, 0);
        c.push(s.wall);
        let s = pfwd_testbed::compare::run_in(&lan, &pfwd, &["map", "8080", "--once", "-q"], &env)
            .unwrap();
        assert_eq!(s.code, 0);
        p.push(s.wall);
        let u = pfwd_testbed::compare::run_in(&lan, &pfwd, &["unmap", "8080", "-q"], &env).unwrap();
        assert_eq!(u.code, 0);
        pu.push(s.wall + u.wall);
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    eprintln!(
        "timing (5 runs each, alternating, medians): forward.c 8080 0 (discover, map, keep, \
         delete) {:?}; pfwd map 8080 --once {:?}; pfwd map --once + pfwd unmap (the same \
         work as the example, two processes) {:?}",
        median(c),
        median(p),
        median(pu)
    );
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("pfwd-c-timing-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// pinhole.c on the dual-stack router: an IPv6 pinhole by PCP, proved with
/// bytes over IPv6, closed; the bad inputs refused.
fn pinhole(name: &str, flavor: Flavor) {
    let Some(tb) = pfwd_testbed::dual_stack_testbed(name, GatewayConfig::dual_stack()) else {
        return;
    };
    let exe = build("pfwd-ffi/tests/c/pinhole.c", flavor);
    let mut p = Driven::start(&tb, &exe, &[], flavor);
    let mapped = p.expect("mapped ");
    assert_eq!(mapped, "2001:db8:77::10 8080");
    assert!(
        pfwd_testbed::reaches_v6(&tb, Protocol::Tcp, 8080),
        "no bytes over IPv6"
    );
    p.go();
    p.expect("unmapped");
    assert!(
        !pfwd_testbed::reaches_v6(&tb, Protocol::Tcp, 8080),
        "the pinhole stayed open"
    );
    p.go();
    p.expect("done");
    p.finish(name);
}

#[test]
fn c_ipv6_pinhole_under_valgrind() {
    pinhole("c_ipv6_pinhole_under_valgrind", Flavor::Valgrind);
}
