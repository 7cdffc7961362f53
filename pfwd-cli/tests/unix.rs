//! The `pfwd` command as a Unix tool: a reader that stops early (`| head`)
//! ends the output quietly, a full disk is one line and exit 1, and an
//! absurd argument is not echoed in full.
//!
//! Only commands that never ask a router run here (`--help`, `guide
//! --offline`, a port that fails to parse): these tests run in the
//! machine's own network namespace.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::fs::File;
use std::process::{Command, Output, Stdio};

fn pfwd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pfwd"));
    c.args(args).stdin(Stdio::null()).env_remove("PFWD_STATE");
    c
}

/// Run with stdout a pipe whose reader has already gone: every write
/// fails with EPIPE, as after `head` has read its lines and exited.
fn with_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    pfwd(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Run with stdout on /dev/full: every write fails with ENOSPC.
fn with_full_disk(args: &[&str]) -> Output {
    let full = File::options().write(true).open("/dev/full").unwrap();
    pfwd(args)
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A guide that asks no router, and prints many lines.
const GUIDE: &[&str] = &["guide", "ssh", "--to", "192.168.1.4", "--offline"];

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    for args in [&["--help"][..], &["map", "--help"], GUIDE, &["--version"]] {
        let out = with_closed_pipe(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "pfwd {args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), "", "pfwd {args:?} said something");
    }
}

#[test]
fn a_reader_that_stops_after_one_line_sees_no_error() {
    // The way people type it; pipefail makes pfwd's own status count.
    let pfwd = env!("CARGO_BIN_EXE_pfwd");
    for args in ["--help", "guide ssh --to 192.168.1.4 --offline"] {
        let out = Command::new("bash")
            .args(["-o", "pipefail", "-c"])
            .arg(format!("'{pfwd}' {args} | head -1"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{args}");
        assert_eq!(text(&out.stdout).lines().count(), 1, "{args}");
    }
}

#[test]
fn a_full_disk_is_one_line_and_exit_1() {
    for args in [
        &["--help"][..],
        GUIDE,
        &["guide", "http", "--offline", "--json"],
    ] {
        let out = with_full_disk(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "pfwd {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "pfwd {args:?}: {stderr}");
        assert!(
            stderr.starts_with("pfwd: cannot write the output to stdout: ")
                && stderr.contains("No space left on device"),
            "pfwd {args:?}: {stderr}"
        );
    }
}

#[test]
fn an_absurd_argument_is_cut_in_the_error() {
    let port = "7".repeat(100_000);
    for json in [false, true] {
        let mut args = vec!["guide", port.as_str(), "--offline"];
        if json {
            args.push("--json");
        }
        let out = pfwd(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let said = if json {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            v["error"]["message"].as_str().unwrap().to_string()
        } else {
            text(&out.stderr)
        };
        assert!(said.len() < 400, "{} bytes: {}", said.len(), &said[..400]);
        assert!(said.contains(&"7".repeat(20)), "{said}");
        assert!(said.contains(" characters)"), "{said}");
        assert_eq!(said.trim_end().lines().count(), 1, "{said}");
    }
}
