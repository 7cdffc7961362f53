//! The book's Getting started, run as a reader would: `pfwd-testbed run
//! bash examples/getting-started/testbed.sh` (what `scripts/getting-started`
//! runs), whose steps docs/getting-started.md includes line for line. The
//! script fails unless the page served on the web Pi reaches the internet
//! host through the mapping and stops reaching it when pfwd run stops; here
//! each step's visible outcome is checked too.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use pfwd_testbed::can_run;

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn getting_started_in_the_testbed_ends_with_the_page_reaching_the_internet() {
    if !can_run("getting_started_in_the_testbed") {
        return;
    }
    let bin = root().join("target/debug");
    assert!(
        bin.join("pfwd").exists(),
        "{} is missing: build the command first (cargo build -p pfwd-cli; cargo test \
         --workspace does)",
        bin.join("pfwd").display()
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pfwd-testbed"))
        .args(["run", "bash", "examples/getting-started/testbed.sh"])
        .env("PATH", path)
        .current_dir(root())
        .output()
        .unwrap();
    let text = pfwd_testbed::output_text(&out);
    println!("{text}");
    assert!(
        out.status.success(),
        "getting started failed ({}):\n{text}",
        out.status
    );
    let after = |step: &str| text.split_once(step).map_or("", |(_, rest)| rest);
    // 1: the router speaks all three.
    for method in ["PCP:              answers", "NAT-PMP:          answers"] {
        assert!(after("== 1.").contains(method), "{text}");
    }
    // 2: it refuses to forward to another host, and pfwd writes the guide.
    let refused = after("== 2.");
    assert!(refused.contains("do it by hand"), "{text}");
    assert!(
        refused.contains("Forward: TCP port 80 -> 192.168.77.4:80"),
        "{text}"
    );
    assert!(refused.contains("run pfwd on 192.168.77.4"), "{text}");
    assert!(refused.contains("(pfwd exited with 3)"), "{text}");
    // 3: pfwd run on the web Pi forwards it.
    assert!(
        after("== 3.").contains("forwarded TCP 5.5.5.7:80 -> 192.168.77.4:80"),
        "{text}"
    );
    // 4: the check proves it with the prober's token, before the server starts.
    assert!(
        after("== 4.").contains("TCP port 80 -> 192.168.77.4:80: reachable\n"),
        "{text}"
    );
    // 6: the visitor gets the page; 7: then nothing.
    assert!(after("== 6.").contains("hello from the web Pi"), "{text}");
    let stopped = after("== 7.");
    assert!(stopped.contains("nothing arrives any more"), "{text}");
    assert!(stopped.contains("stopped; removed 1 mapping\n"), "{text}");
    assert!(text.contains("Getting started OK"), "{text}");
}

/// The Rust chapter's first example (pfwd-core/examples/forward.rs): one
/// line with the address, bytes from the internet arrive while it holds the
/// mapping, exit 0 and nothing arrives once it removed it; bad input exits 2.
#[test]
fn rust_example_forward_maps_holds_and_removes() {
    use pfwd_core::Protocol;
    use pfwd_testbed::{GatewayConfig, reaches, testbed};
    let Some(tb) = testbed("rust_example_forward", GatewayConfig::all_on()) else {
        return;
    };
    let mut example = tb.start_example("forward", &["8090", "3"]);
    let first = example.line();
    assert!(
        first.starts_with("forwarded: TCP 5.5.5.7:8090 -> 192.168.77.10:8090 via PCP"),
        "{first}"
    );
    assert!(reaches(&tb, Protocol::Tcp, 8090, 8090));
    let (status, rest) = example.finish();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("removed"), "{rest}");
    assert!(!reaches(&tb, Protocol::Tcp, 8090, 8090));
    let exe = pfwd_testbed::built_example("forward");
    let bad = tb
        .lan()
        .command(exe.to_str().unwrap())
        .arg("0")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}

/// The book shows every example program in full, and says the test command
/// runs each in the testbed: a new example without a test that starts it
/// fails here.
#[test]
fn every_example_program_is_run_by_a_gateway_test() {
    let sources: String = ["tests/gateway", "pfwd-cli/tests/gateway"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root().join(dir)).unwrap())
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default())
        .collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root().join("pfwd-core/examples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if !sources.contains(&format!("start_example(\"{name}\"")) {
            missing.push(format!("pfwd-core/examples/{name}.rs"));
        }
    }
    for entry in std::fs::read_dir(root().join("examples/c")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if !sources.contains(&format!("\"examples/c/{name}\"")) {
            missing.push(format!("examples/c/{name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "no gateway test runs {missing:?}: the book includes every example, so each must \
         run in the testbed"
    );
}
