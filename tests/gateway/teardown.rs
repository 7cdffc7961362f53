//! The testbed cleans up after itself: after a failing test, and after a
//! run that is killed outright.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pfwd_testbed::{GatewayConfig, can_run, clean_stale, testbed};

fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_failing_test_leaves_nothing_behind() {
    let Some(tb) = testbed(
        "a_failing_test_leaves_nothing_behind",
        GatewayConfig::all_on(),
    ) else {
        return;
    };
    let names: Vec<String> = tb.namespaces().iter().map(|s| s.to_string()).collect();
    let pid = tb.daemon_pid().unwrap();
    assert!(pfwd_testbed::netns::process_alive(pid));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _tb = tb;
        panic!("a test failing with the testbed up");
    }));
    assert!(outcome.is_err());
    let list = pfwd_testbed::netns::listed();
    for n in &names {
        assert!(
            !list.contains(n.as_str()),
            "{n} survived a failing test: {list}"
        );
    }
    assert!(
        wait_until(|| !pfwd_testbed::netns::process_alive(pid)),
        "miniupnpd {pid} survived a failing test"
    );
}

#[test]
fn a_killed_run_leaves_no_daemon_and_is_swept() {
    if !can_run("a_killed_run_leaves_no_daemon_and_is_swept") {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_pfwd-testbed"))
        .arg("hold")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{line}");
    let (names, pid) = (&words[..3], words[3].parse::<u32>().unwrap());
    assert!(
        pfwd_testbed::netns::process_alive(pid),
        "miniupnpd is not running in the held testbed"
    );
    assert!(
        names
            .iter()
            .all(|n| pfwd_testbed::netns::listed().contains(n))
    );

    child.kill().unwrap();
    child.wait().unwrap();
    // The daemon dies with the run (parent-death signal)...
    assert!(
        wait_until(|| !pfwd_testbed::netns::process_alive(pid)),
        "miniupnpd {pid} outlived its killed run"
    );
    // ...and the namespaces it left are swept by the next run.
    let removed = clean_stale();
    for n in names {
        assert!(removed.iter().any(|r| r == n), "{n} not swept: {removed:?}");
        assert!(!Path::new(&format!("/run/netns/{n}")).exists());
    }
}
