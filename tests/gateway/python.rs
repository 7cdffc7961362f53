//! The Python package against the real miniupnpd: pytest runs inside the
//! LAN namespace of a testbed built for each group of scenarios
//! (`pfwd-py/tests/testbed/test_GROUP.py`), with the freshly built wheel
//! installed in a virtual environment that `scripts/test` makes
//! (`target/py-venv`, or `PFWD_PY_VENV`).
//!
//! The Python side proves mappings itself: it listens on the LAN host and
//! sends from the internet's namespace (named in `PFWD_TESTBED_WAN`) with
//! `ip netns exec`, as `reaches` does here, and reads the router's list with
//! `upnpc -l`. Without the venv the tests print SKIPPED, and fail in CI.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use pfwd_testbed::prober::Prober;
use pfwd_testbed::{GatewayConfig, can_run, testbed};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv's python with pfwd installed, or why there is none.
fn venv_python() -> Result<PathBuf, String> {
    let venv = std::env::var_os("PFWD_PY_VENV")
        .map_or_else(|| root().join("target/py-venv"), PathBuf::from);
    let python = venv.join("bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import pfwd, pytest, pytest_asyncio"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(python)
    } else {
        Err(format!(
            "{} has no pfwd, pytest and pytest-asyncio: run scripts/test, which builds \
             the wheel and that virtual environment",
            python.display()
        ))
    }
}

/// Whether the Python gateway tests can run; prints SKIPPED (or fails in
/// CI) as the other gateway tests do.
fn python_for(test: &str) -> Option<PathBuf> {
    if !can_run(test) {
        return None;
    }
    match venv_python() {
        Ok(p) => Some(p),
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("gateway test {test} cannot run in CI: {why}");
            }
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED gateway test {test}: {why}");
            None
        }
    }
}

/// Run `pfwd-py/tests/testbed/test_{group}.py` in a testbed with `config`.
fn pytest(test: &str, group: &str, config: GatewayConfig) {
    pytest_with(test, group, config, false);
}

/// [`pytest`], with a prober in the internet's namespace when `prober`
/// (named to Python in `PFWD_TESTBED_PROBER`).
fn pytest_with(test: &str, group: &str, config: GatewayConfig, prober: bool) {
    // One group at a time: each is a Python interpreter driving pfwd and
    // subprocesses against its own miniupnpd, and two at once on a 2-core
    // runner starved a router's answer past the 500 ms discovery budget
    // (a busy router read as "switched off": issue 18's subject).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(python) = python_for(test) else {
        return;
    };
    let tb = if config.ipv6 {
        pfwd_testbed::dual_stack_testbed(test, config)
    } else {
        testbed(test, config)
    };
    let Some(tb) = tb else {
        return;
    };
    let prober = prober.then(|| Prober::start(&tb));
    let (lan, gw, wan) = (tb.lan().name(), tb.gw().name(), tb.wan().name());
    let file = root().join(format!("pfwd-py/tests/testbed/test_{group}.py"));
    let out = tb
        .lan()
        .command(&python.to_string_lossy())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(format!("--rootdir={}", root().join("pfwd-py").display()))
        .arg(&file)
        .env("PFWD_TESTBED_LAN", lan)
        .env("PFWD_TESTBED_GW", gw)
        .env("PFWD_TESTBED_WAN", wan)
        .env("PFWD_TESTBED_GROUP", group)
        .env(
            "PFWD_TESTBED_PROBER",
            prober.as_ref().map(Prober::url).unwrap_or_default(),
        )
        // The Rust command as cargo built it, to compare the wheel's with.
        .env("PFWD_RUST_COMMAND", root().join("target/debug/pfwd"))
        .current_dir(root().join("pfwd-py"))
        .output()
        .unwrap();
    let text = pfwd_testbed::output_text(&out);
    println!("{text}");
    assert!(
        out.status.success(),
        "pytest {group} failed ({}):\n{text}",
        out.status
    );
}

#[test]
fn python_against_miniupnpd() {
    pytest(
        "python_against_miniupnpd",
        "all_on",
        GatewayConfig::all_on(),
    );
}

#[test]
fn python_asyncio_against_miniupnpd() {
    pytest(
        "python_asyncio_against_miniupnpd",
        "aio",
        GatewayConfig::all_on(),
    );
}

#[test]
fn python_router_refusing_low_ports() {
    let mut config = GatewayConfig::upnp_only();
    config.rules = vec![format!(
        "allow 1024-65535 {} 1-65535",
        pfwd_testbed::LAN_NET
    )];
    pytest("python_router_refusing_low_ports", "refusing", config);
}

#[test]
fn python_ipv6_pinholes() {
    pytest("python_ipv6_pinholes", "ipv6", GatewayConfig::dual_stack());
}

#[test]
fn python_without_a_router_daemon() {
    pytest(
        "python_without_a_router_daemon",
        "no_daemon",
        GatewayConfig::no_daemon(),
    );
}

#[test]
fn python_check_from_outside() {
    pytest_with(
        "python_check_from_outside",
        "check",
        GatewayConfig::all_on(),
        true,
    );
}

/// The book's Python examples (examples/python/), each run as a reader
/// would, in a dual-stack testbed with a prober: ipv6.py opens a pinhole,
/// check.py asks the prober (pfwd-py/tests/testbed/test_examples.py).
#[test]
fn python_examples() {
    pytest_with(
        "python_examples",
        "examples",
        GatewayConfig::dual_stack(),
        true,
    );
}
