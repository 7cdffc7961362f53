//! The Raspberry Pi builds under emulation: where `scripts/release` put
//! them, and how to run an ARM program on the testbed's LAN host with
//! qemu's user-mode emulator.
//!
//! qemu-user runs one ARM process on this machine's kernel, so the program
//! sees the LAN namespace's sockets as a Pi would see its network; it needs
//! the ARM C library, which Debian's cross packages install under
//! `/usr/aarch64-linux-gnu` and `/usr/arm-linux-gnueabihf` (given to qemu
//! with `-L`).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Testbed;
use crate::compare::{Sample, run_in};

/// The environment variable naming the directory `scripts/release` filled
/// (default: `target/release-artefacts`).
pub const ARTEFACTS_ENV: &str = "PFWD_PI_ARTEFACTS";

/// One Raspberry Pi build of pfwd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiBuild {
    /// Rust's name for the target.
    pub triple: &'static str,
    /// Which Pis it is for.
    pub for_which: &'static str,
    /// Debian's architecture (the .deb's `Architecture`).
    pub deb_arch: &'static str,
    /// The .deb's file name after `pfwd_VERSION_`.
    pub deb_suffix: &'static str,
    /// The ELF machine `readelf -h` names.
    pub elf_machine: &'static str,
    /// The qemu user-mode emulator.
    pub qemu: &'static str,
    /// The ARM root qemu finds the C library under (`-L`).
    pub sysroot: &'static str,
}

/// Every Pi build `scripts/release` makes.
pub const PI_BUILDS: [PiBuild; 3] = [
    PiBuild {
        triple: "aarch64-unknown-linux-gnu",
        for_which: "64-bit Raspberry Pi OS (Pi 3, 4, 5, Zero 2 W)",
        deb_arch: "arm64",
        deb_suffix: "arm64.deb",
        elf_machine: "AArch64",
        qemu: "qemu-aarch64-static",
        sysroot: "/usr/aarch64-linux-gnu",
    },
    PiBuild {
        triple: "armv7-unknown-linux-gnueabihf",
        for_which: "32-bit Raspberry Pi OS on a Pi 2 to 5",
        deb_arch: "armhf",
        deb_suffix: "armhf-armv7.deb",
        elf_machine: "ARM",
        qemu: "qemu-arm-static",
        sysroot: "/usr/arm-linux-gnueabihf",
    },
    // Debian's armhf C library (the only one qemu has here) is ARMv7 code,
    // so this build runs on qemu's default CPU, not on its ARM1176 model;
    // that the binary itself is ARMv6 code is checked from its ELF
    // attributes (scripts/release and the test).
    PiBuild {
        triple: "arm-unknown-linux-gnueabihf",
        for_which: "every Pi on a 32-bit OS, including the Pi Zero and Pi 1 (ARMv6)",
        deb_arch: "armhf",
        deb_suffix: "armhf.deb",
        elf_machine: "ARM",
        qemu: "qemu-arm-static",
        sysroot: "/usr/arm-linux-gnueabihf",
    },
];

/// The release artefacts of one version.
#[derive(Debug, Clone)]
pub struct Artefacts {
    /// Their directory.
    pub dir: PathBuf,
    /// The version in their names.
    pub version: String,
}

impl Artefacts {
    /// The directory [`ARTEFACTS_ENV`] names (or the default), if
    /// `scripts/release` has filled it; otherwise why not.
    ///
    /// # Errors
    ///
    /// A sentence saying what is missing and how to make it.
    pub fn find() -> Result<Artefacts, String> {
        let dir = std::env::var_os(ARTEFACTS_ENV).map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release-artefacts"),
            PathBuf::from,
        );
        let version = env!("CARGO_PKG_VERSION").to_string();
        let artefacts = Artefacts { dir, version };
        let missing: Vec<String> = PI_BUILDS
            .iter()
            .flat_map(|b| [artefacts.binary(b), artefacts.deb(b.deb_suffix)])
            .chain([artefacts.deb("amd64.deb")])
            .filter(|p| !p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if missing.is_empty() {
            Ok(artefacts)
        } else {
            Err(format!(
                "the Raspberry Pi artefacts are missing ({}): scripts/release (or \
                 scripts/release --for-tests) makes them; {ARTEFACTS_ENV} names another directory",
                missing.join(", ")
            ))
        }
    }

    /// The `pfwd` binary of `build`.
    pub fn binary(&self, build: &PiBuild) -> PathBuf {
        self.dir
            .join(format!("pfwd-{}-{}", self.version, build.triple))
    }

    /// The Debian package whose name ends in `suffix` (`arm64.deb`).
    pub fn deb(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("pfwd_{}_{suffix}", self.version))
    }

    /// The C library's archive for `triple`.
    pub fn c_library(&self, triple: &str) -> PathBuf {
        self.dir
            .join(format!("libpfwd-{}-{triple}.tar.gz", self.version))
    }

    /// The wheels whose file names contain `platform` (`manylinux2014_aarch64`).
    pub fn wheels(&self, platform: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("wheels")) else {
            return Vec::new();
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "whl") && p.to_string_lossy().contains(platform)
            })
            .collect();
        found.sort();
        found
    }
}

/// The artefacts for the test `test`, or `None` after saying why not: a
/// clear SKIPPED line outside CI, a panic in CI (`CI=true`), where a Pi test
/// that cannot run is a failure.
pub fn artefacts_for(test: &str) -> Option<Artefacts> {
    if !crate::can_run(test) {
        return None;
    }
    match Artefacts::find() {
        Ok(a) => Some(a),
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("Raspberry Pi test {test} cannot run in CI: {why}");
            }
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED Raspberry Pi test {test}: {why}");
            None
        }
    }
}

impl PiBuild {
    /// `qemu -L SYSROOT program args...` on the testbed's LAN host.
    pub fn command(&self, tb: &Testbed, program: &Path, args: &[&str]) -> Command {
        let mut c = tb.lan().command(self.qemu);
        c.arg("-L").arg(self.sysroot).arg(program).args(args);
        c
    }

    /// Run `program args...` under qemu on the LAN host (entered with
    /// `setns`, see [`run_in`]) and wait for it: its exit code and peak
    /// memory. The peak is qemu's own resident memory, the ARM program's
    /// pages and the translator's together: an upper bound for the Pi.
    ///
    /// # Errors
    ///
    /// When qemu cannot be started.
    pub fn measure(
        &self,
        tb: &Testbed,
        program: &Path,
        args: &[&str],
        env: &[(&str, &Path)],
    ) -> io::Result<Sample> {
        let qemu = which(self.qemu)?;
        let mut all = vec!["-L", self.sysroot];
        let program = program.to_string_lossy();
        all.push(&program);
        all.extend_from_slice(args);
        run_in(tb.lan().name(), &qemu, &all, env)
    }
}

/// The full path of `program` on `PATH`.
fn which(program: &str) -> io::Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{program} is not on PATH")))
}

/// `readelf ARGS file` (binutils), as text.
///
/// # Errors
///
/// When readelf cannot run or fails.
pub fn readelf(args: &[&str], file: &Path) -> io::Result<String> {
    crate::netns::run(Command::new("readelf").args(args).arg(file))
}
