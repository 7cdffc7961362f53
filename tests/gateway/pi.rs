//! The Raspberry Pi builds under emulation, against the real miniupnpd:
//! each ARM `pfwd` that `scripts/release` made runs under qemu on the
//! testbed's LAN host (`status`, `map` by PCP and by UPnP with bytes from
//! the internet arriving, `unmap`, the guide when nothing answers); the
//! aarch64 C library runs the C example, cross-compiled; the aarch64 wheel
//! is installed by pip into Debian's arm64 Python and forwards a port. The
//! x86_64 Debian package is installed and purged on this machine, the ARM
//! ones are inspected.
//!
//! The artefacts come from `PFWD_PI_ARTEFACTS` (default
//! target/release-artefacts), Debian's arm64 Python from `PFWD_PI_PYTHON`
//! (default target/pi-python; `scripts/test` makes both). Without them each
//! test prints SKIPPED, and fails in CI.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pfwd_core::Protocol;
use pfwd_testbed::pi::{Artefacts, PI_BUILDS, PiBuild, artefacts_for, readelf};
use pfwd_testbed::{GatewayConfig, Testbed, reaches, testbed};
use serde_json::Value;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn build(triple: &str) -> PiBuild {
    *PI_BUILDS.iter().find(|b| b.triple == triple).unwrap()
}

/// A scratch directory of the test's own, emptied.
fn scratch(tb_or_name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pfwd-pi-{tb_or_name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `pfwd ARGS` of `build` under qemu on the LAN host, with its own state.
fn pfwd(tb: &Testbed, b: &PiBuild, a: &Artefacts, state: &Path, args: &[&str]) -> Output {
    b.command(tb, &a.binary(b), args)
        .env("PFWD_STATE", state)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// status, map by PCP and by UPnP (bytes arrive), unmap (bytes stop).
fn map_and_unmap(triple: &str, port_base: u16) {
    let test = format!("pi_{}", triple.split('-').next().unwrap());
    let Some(a) = artefacts_for(&test) else {
        return;
    };
    let b = build(triple);
    let tb = testbed(&test, GatewayConfig::all_on()).unwrap();
    let state = scratch(tb.namespaces()[0]);

    let out = pfwd(&tb, &b, &a, &state, &["--version"]);
    assert_eq!(text(&out.stdout).trim(), format!("pfwd {}", a.version));

    let out = pfwd(&tb, &b, &a, &state, &["status"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(said.contains("External address: 5.5.5.7"), "{said}");
    assert!(
        said.lines()
            .any(|l| l.starts_with("PCP:") && l.contains("answers")),
        "{said}"
    );

    // What the issue saw with the ARMv7 build: `pfwd status | head -4`
    // panicked. Now quiet, and pfwd's own status is 0 (pipefail).
    let piped = tb
        .lan()
        .command("bash")
        .args(["-o", "pipefail", "-c"])
        .arg(format!(
            "{} -L {} '{}' status | head -4",
            b.qemu,
            b.sysroot,
            a.binary(&b).display()
        ))
        .env("PFWD_STATE", &state)
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped.stderr));
    assert_eq!(text(&piped.stderr), "");
    assert_eq!(text(&piped.stdout).lines().count(), 4);

    for (method, port) in [("pcp", port_base), ("upnp", port_base + 1)] {
        let p = port.to_string();
        let out = pfwd(
            &tb,
            &b,
            &a,
            &state,
            &["map", &p, "--once", "--method", method, "--json"],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{method}: {}",
            text(&out.stderr)
        );
        let m = &json(&out)["mappings"][0];
        assert_eq!(m["method"], method);
        assert_eq!(m["external"], format!("5.5.5.7:{port}"));
        assert!(
            reaches(&tb, Protocol::Tcp, port, port),
            "{triple} {method}: no bytes from the internet"
        );
    }
    for port in [port_base, port_base + 1] {
        let p = port.to_string();
        let out = pfwd(&tb, &b, &a, &state, &["unmap", &p]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "unmap {p}: {}",
            text(&out.stderr)
        );
        assert!(
            !reaches(&tb, Protocol::Tcp, port, port),
            "{triple}: bytes still arrive on {port} after unmap"
        );
    }

    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn pi_aarch64_maps_by_pcp_and_upnp_and_unmaps() {
    map_and_unmap("aarch64-unknown-linux-gnu", 8610);
}

#[test]
fn pi_armv7_maps_by_pcp_and_upnp_and_unmaps() {
    map_and_unmap("armv7-unknown-linux-gnueabihf", 8620);
}

#[test]
fn pi_armv6_maps_by_pcp_and_upnp_and_unmaps() {
    map_and_unmap("arm-unknown-linux-gnueabihf", 8630);
}

/// Peak memory (max RSS) of `pfwd map --once` under qemu, for
/// docs/performance.md. qemu-user's RSS is the translator's and the
/// program's together, so the x86_64 build is measured both natively and
/// under qemu-x86_64 on the same router: the difference is qemu's share,
/// an estimate to subtract from the ARM figures.
#[test]
fn pi_peak_memory_under_qemu() {
    let Some(a) = artefacts_for("pi_memory") else {
        return;
    };
    let tb = testbed("pi_memory", GatewayConfig::all_on()).unwrap();
    let state = scratch(tb.namespaces()[0]);
    let env = [("PFWD_STATE", state.as_path())];
    let mut port = 8660u16;
    let x86 = PiBuild {
        triple: "x86_64-unknown-linux-gnu",
        qemu: "qemu-x86_64-static",
        sysroot: "/",
        ..PI_BUILDS[0]
    };
    let x86_bin = a.dir.join(format!("pfwd-{}-{}", a.version, x86.triple));
    let native = {
        port += 1;
        let p = port.to_string();
        let s = pfwd_testbed::compare::run_in(
            tb.lan().name(),
            &x86_bin,
            &["map", &p, "--once", "-q"],
            &env,
        )
        .unwrap();
        assert_eq!(s.code, 0);
        s.max_rss_kib
    };
    let mut once = |b: &PiBuild, program: &Path| {
        port += 1;
        let p = port.to_string();
        let s = b
            .measure(&tb, program, &["map", &p, "--once", "-q"], &env)
            .unwrap();
        assert_eq!(s.code, 0, "{}", b.triple);
        s.max_rss_kib
    };
    let x86_qemu = once(&x86, &x86_bin);
    let mut lines = vec![format!(
        "pi: x86_64 `pfwd map --once` peak RSS {native} KiB natively, {x86_qemu} KiB under qemu-x86_64"
    )];
    for b in &PI_BUILDS {
        let rss = once(b, &a.binary(b));
        lines.push(format!(
            "pi: {} `pfwd map --once` peak RSS {rss} KiB under {} (less qemu-x86_64's share: {} KiB, a rough estimate)",
            b.triple,
            b.qemu,
            rss.saturating_sub(x86_qemu.saturating_sub(native))
        ));
    }
    let _ = writeln!(std::io::stderr(), "{}", lines.join("\n"));
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn pi_builds_print_the_guide_when_no_router_answers() {
    let Some(a) = artefacts_for("pi_guide") else {
        return;
    };
    let tb = testbed("pi_guide", GatewayConfig::no_daemon()).unwrap();
    let state = scratch(tb.namespaces()[0]);
    for b in &PI_BUILDS {
        let out = pfwd(&tb, b, &a, &state, &["map", "http", "--once"]);
        let guide = text(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "{}: {guide}", b.triple);
        assert!(
            guide.contains("Forward: TCP port 80 -> 192.168.77.10:80"),
            "{}: {guide}",
            b.triple
        );
    }
    let _ = std::fs::remove_dir_all(&state);
}

/// `dpkg-deb ARGS deb`, as text.
fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dpkg-deb {args:?} {}: {out:?}",
        deb.display()
    );
    text(&out.stdout)
}

/// What every package holds, whatever its architecture.
const PACKAGED: [&str; 5] = [
    "./usr/bin/pfwd",
    "./lib/systemd/system/pfwd.service",
    "./etc/pfwd.toml",
    "./usr/share/man/man1/pfwd.1.gz",
    "./usr/share/doc/pfwd/copyright",
];

#[test]
fn pi_packages_hold_the_right_binary() {
    let Some(a) = artefacts_for("pi_packages") else {
        return;
    };
    for b in &PI_BUILDS {
        let deb = a.deb(b.deb_suffix);
        let info = dpkg_deb(&["--info"], &deb);
        assert!(
            info.contains(&format!("Architecture: {}\n", b.deb_arch)),
            "{}: {info}",
            deb.display()
        );
        assert!(info.contains("Depends: libc6 (>= 2."), "{info}");
        let contents = dpkg_deb(&["--contents"], &deb);
        for path in PACKAGED {
            assert!(contents.contains(path), "{}: no {path}", deb.display());
        }
        // The binary inside is the ARM build, byte for byte.
        let dir = scratch(&format!("deb-{}", b.triple));
        let out = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(out.success());
        let packaged = dir.join("usr/bin/pfwd");
        assert_eq!(
            std::fs::read(&packaged).unwrap(),
            std::fs::read(a.binary(b)).unwrap()
        );
        let header = readelf(&["-h"], &packaged).unwrap();
        assert!(
            header
                .lines()
                .any(|l| l.trim().starts_with("Machine:") && l.trim().ends_with(b.elf_machine)),
            "{}: {header}",
            b.triple
        );
        let unit = std::fs::read_to_string(dir.join("lib/systemd/system/pfwd.service")).unwrap();
        assert!(unit.contains("ExecStart=/usr/bin/pfwd run --config /etc/pfwd.toml"));
        assert!(unit.contains("DynamicUser=yes") && unit.contains("ProtectSystem=strict"));
        let _ = std::fs::remove_dir_all(&dir);
    }
    // The Pi Zero / Pi 1 build is ARMv6 code; the ARMv7 one is not.
    let v6 = readelf(&["-A"], &a.binary(&build("arm-unknown-linux-gnueabihf"))).unwrap();
    assert!(v6.contains("Tag_CPU_arch: v6\n"), "{v6}");
    let v7 = readelf(&["-A"], &a.binary(&build("armv7-unknown-linux-gnueabihf"))).unwrap();
    assert!(v7.contains("Tag_CPU_arch: v7\n"), "{v7}");
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Whether the package `pfwd` is known to dpkg in any state.
fn dpkg_knows_pfwd() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Status}", "pfwd"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty() && o.stdout != b"not-installed")
}

#[test]
fn pi_amd64_package_installs_and_purges_cleanly() {
    let Some(a) = artefacts_for("pi_amd64_package") else {
        return;
    };
    assert!(
        !dpkg_knows_pfwd(),
        "a package named pfwd is already installed here: this test would replace it"
    );
    let deb = a.deb("amd64.deb");
    let files: Vec<String> = dpkg_deb(&["--contents"], &deb)
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            l.rsplit(' ')
                .next()
                .unwrap()
                .trim_start_matches('.')
                .to_string()
        })
        .collect();
    run_ok(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .arg(&deb)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    );
    let installed = std::panic::catch_unwind(|| {
        for f in &files {
            assert!(Path::new(f).exists(), "{f} was not installed");
        }
        let version = run_ok(Command::new("/usr/bin/pfwd").arg("--version"));
        assert_eq!(version.trim(), format!("pfwd {}", a.version));
        let conffiles =
            run_ok(Command::new("dpkg-query").args(["-W", "-f", "${Conffiles}", "pfwd"]));
        assert!(conffiles.contains("/etc/pfwd.toml"), "{conffiles}");
        // The shipped config forwards nothing until its owner says what:
        // the unit's ExecStartPre check refuses it with what to add.
        let check = Command::new("/usr/bin/pfwd")
            .args(["run", "--config", "/etc/pfwd.toml", "--check"])
            .output()
            .unwrap();
        assert_eq!(check.status.code(), Some(2));
        assert!(
            text(&check.stderr).contains("no [[forward]] entries"),
            "{check:?}"
        );
        // systemd's own check of the unit, as installed (its paths exist now).
        if Path::new("/usr/bin/systemd-analyze").exists() {
            run_ok(
                Command::new("systemd-analyze")
                    .args(["verify", "/lib/systemd/system/pfwd.service"]),
            );
        }
        let man = run_ok(Command::new("zcat").arg("/usr/share/man/man1/pfwd.1.gz"));
        assert!(
            man.contains(".SS pfwd map") && man.contains("--once"),
            "{man}"
        );
    });
    // Remove (the config stays, as Debian does), then purge: nothing left.
    run_ok(Command::new("apt-get").args(["remove", "-y", "-q", "pfwd"]));
    assert!(!Path::new("/usr/bin/pfwd").exists());
    assert!(
        Path::new("/etc/pfwd.toml").exists(),
        "remove must keep the conffile"
    );
    run_ok(Command::new("apt-get").args(["purge", "-y", "-q", "pfwd"]));
    if let Err(e) = installed {
        std::panic::resume_unwind(e);
    }
    let left: Vec<&String> = files.iter().filter(|f| Path::new(f).exists()).collect();
    assert!(left.is_empty(), "left after purge: {left:?}");
    assert!(!Path::new("/var/lib/pfwd").exists());
    assert!(!dpkg_knows_pfwd(), "dpkg still knows pfwd after purge");
}

/// Cross-compile examples/c/forward.c against the aarch64 libpfwd and run
/// it under qemu: it forwards, bytes arrive, it removes the mapping.
#[test]
fn pi_c_example_forwards_under_qemu() {
    let Some(a) = artefacts_for("pi_c_example") else {
        return;
    };
    let b = build("aarch64-unknown-linux-gnu");
    let tb = testbed("pi_c_example", GatewayConfig::all_on()).unwrap();
    let dir = scratch(&format!("c-{}", tb.namespaces()[0]));
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(a.c_library(b.triple))
            .arg("-C")
            .arg(&dir),
    );
    // The archive's pfwd.pc names /usr/local; point it at the unpacked tree.
    let flags = run_ok(
        Command::new("pkg-config")
            .args(["--cflags", "--libs", "pfwd"])
            .arg(format!("--define-variable=prefix={}", dir.display()))
            .env("PKG_CONFIG_PATH", dir.join("lib/pkgconfig")),
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let exe = dir.join("forward");
    run_ok(
        Command::new("aarch64-linux-gnu-gcc")
            .args(["-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&exe)
            .arg(root.join("examples/c/forward.c"))
            .args(flags.split_whitespace()),
    );
    let header = readelf(&["-h"], &exe).unwrap();
    assert!(header.contains("AArch64"), "{header}");
    let port = 8640u16;
    let mut child = b
        .command(&tb, &exe, &[&port.to_string(), "30"])
        .env("LD_LIBRARY_PATH", dir.join("lib"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.starts_with(&format!(
            "forwarded: TCP 5.5.5.7:{port} -> 192.168.77.10:{port} by "
        )),
        "{line:?}"
    );
    assert!(reaches(&tb, Protocol::Tcp, port, port), "no bytes: {line}");
    // SIGTERM: the example removes its mapping and exits 0.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("closed:"), "{rest}");
    assert!(!reaches(&tb, Protocol::Tcp, port, port), "still forwarded");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Debian's arm64 python3.11, unpacked by scripts/test (not installed: it
/// would replace this machine's own python3), and the pip wheel Debian
/// ships for ensurepip.
fn arm_python() -> Result<(PathBuf, PathBuf), String> {
    let dir = std::env::var_os("PFWD_PI_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pi-python"),
        PathBuf::from,
    );
    let root = dir.join("root");
    let python = root.join("usr/bin/python3.11");
    let pip = std::fs::read_dir(root.join("usr/share/python-wheels"))
        .ok()
        .and_then(|d| {
            d.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("pip-"))
            })
        });
    match (python.exists(), pip) {
        (true, Some(pip)) => Ok((root, pip)),
        _ => Err(format!(
            "no arm64 Python in {} (scripts/test unpacks Debian's there; PFWD_PI_PYTHON names another)",
            dir.display()
        )),
    }
}

#[test]
fn pi_python_wheel_forwards_under_qemu() {
    let Some(a) = artefacts_for("pi_python_wheel") else {
        return;
    };
    let (root, pip) = match arm_python() {
        Ok(found) => found,
        Err(why) => {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
                "Raspberry Pi test pi_python_wheel cannot run in CI: {why}"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED Raspberry Pi test pi_python_wheel: {why}"
            );
            return;
        }
    };
    let wheels = a.wheels("manylinux2014_aarch64");
    assert_eq!(wheels.len(), 1, "one aarch64 manylinux wheel: {wheels:?}");
    let qemu = |program: &Path| {
        let mut c = Command::new("qemu-aarch64-static");
        c.arg("-L").arg(&root).arg(program);
        c
    };
    // A fresh venv of the ARM python; pip (run from its wheel, as ensurepip
    // does) installs the wheel only if its tags suit this interpreter.
    let venv = scratch("python-venv");
    run_ok(
        qemu(&root.join("usr/bin/python3.11"))
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    let python = venv.join("bin/python");
    run_ok(
        qemu(&python)
            .arg(pip.join("pip"))
            .args([
                "install",
                "--no-index",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "-q",
            ])
            .arg(&wheels[0]),
    );
    let tb = testbed("pi_python_wheel", GatewayConfig::all_on()).unwrap();
    let port = 8650u16;
    let script = "import platform, sys, pfwd\n\
                  with pfwd.forward(int(sys.argv[1]), lease='10m') as fwd:\n\
                  \x20   print(platform.machine(), fwd.mapping.external, flush=True)\n\
                  \x20   sys.stdin.readline()\n\
                  print('closed', flush=True)\n";
    let mut child = tb
        .lan()
        .command("qemu-aarch64-static")
        .arg("-L")
        .arg(&root)
        .arg(&python)
        .args(["-c", script, &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), format!("aarch64 5.5.5.7:{port}"));
    assert!(reaches(&tb, Protocol::Tcp, port, port), "no bytes");
    writeln!(child.stdin.take().unwrap()).unwrap();
    let done = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert_eq!(rest.trim(), "closed");
    assert!(!reaches(&tb, Protocol::Tcp, port, port), "still forwarded");
    let _ = std::fs::remove_dir_all(&venv);
}
