//! Figures for issue 18 ("never lose a mapping without knowing it"), from
//! the `pfwd` command kept running in the testbed (`pfwd run --json`):
//!
//! - [`lost`]: per method, a kept mapping deleted on the router with
//!   `upnpc -d`; the time from the deletion to the `"lost"` event, to the
//!   router forwarding the port again, and to bytes from the internet
//!   arriving again.
//! - [`busy`]: 60 (or N) `[[forward]]` entries on one router: the time until
//!   all are mapped, the methods used, the failures, the time from SIGTERM
//!   to exit and the mappings left on the router.
//!
//! `pfwd-testbed lost [RUNS] [--with-default]` and `pfwd-testbed busy [N]`
//! print them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;
use serde_json::Value;

use crate::{EXTERNAL_IP, GatewayConfig, Testbed, reaches_at};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// `pfwd ARGS --json` running on the LAN host, its event lines on a channel.
struct Kept {
    child: Child,
    lines: mpsc::Receiver<Value>,
    seen: Vec<(Instant, Value)>,
}

impl Kept {
    fn start(tb: &Testbed, pfwd: &Path, state: &Path, args: &[&str]) -> Result<Kept> {
        let mut child = tb
            .lan()
            .command(&pfwd.to_string_lossy())
            .args(args)
            .env("PFWD_STATE", state)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(std::result::Result::ok) {
                if let Ok(v) = serde_json::from_str(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        Ok(Kept {
            child,
            lines,
            seen: Vec::new(),
        })
    }

    /// Read what has arrived, waiting at most `wait` for the first line.
    fn pump(&mut self, wait: Duration) {
        if let Ok(v) = self.lines.recv_timeout(wait) {
            self.seen.push((Instant::now(), v));
        }
        while let Ok(v) = self.lines.try_recv() {
            self.seen.push((Instant::now(), v));
        }
    }

    /// When the first event `kind` from index `since` on arrived, waiting
    /// until `deadline` for it.
    fn wait(&mut self, since: usize, kind: &str, deadline: Instant) -> Option<Instant> {
        loop {
            if let Some((at, _)) = self
                .seen
                .iter()
                .skip(since)
                .find(|(_, v)| v["event"] == kind)
            {
                return Some(*at);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.pump(left.min(Duration::from_millis(100)));
        }
    }

    fn count(&self, kind: &str) -> usize {
        self.seen.iter().filter(|(_, v)| v["event"] == kind).count()
    }

    /// SIGTERM, and the time until it exited (killed after `limit`).
    fn stop(&mut self, limit: Duration) -> Option<Duration> {
        let t = Instant::now();
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        while t.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                let took = t.elapsed();
                self.pump(Duration::from_millis(200));
                return Some(took);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn state_dir(tb: &Testbed, what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}-{what}-state", tb.lan().name()))
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}

/// One deletion: the times from it to the "lost" event, to the router
/// forwarding the port again, and to bytes arriving again.
struct LostRun {
    noticed: Option<Duration>,
    forwarded: Option<Duration>,
    bytes: Option<Duration>,
}

/// Keep TCP `port` with `method`, checked every `check`, delete it with
/// `upnpc -d` at a random point of the check cycle and time the repair.
fn lost_once(
    tb: &Testbed,
    pfwd: &Path,
    method: &str,
    check: Duration,
    port: u16,
    phase: f64,
) -> Result<LostRun> {
    let state = state_dir(tb, "lost");
    let config = state.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "check = \"{}ms\"\nmethod = [\"{method}\"]\n[[forward]]\nport = {port}\nname = \"m\"\n",
            check.as_millis()
        ),
    )?;
    let config_arg = config.to_string_lossy().into_owned();
    let mut kept = Kept::start(
        tb,
        pfwd,
        &state,
        &["run", "--config", &config_arg, "--json"],
    )?;
    if kept
        .wait(0, "mapped", Instant::now() + Duration::from_secs(20))
        .is_none()
    {
        return Err(format!("{method}: pfwd run did not map {port} within 20 s").into());
    }
    // A deletion comes at any point of the check cycle.
    std::thread::sleep(check.mul_f64(phase));
    let since = kept.seen.len();
    let out = tb.upnpc(&["-d", &port.to_string(), "TCP"])?;
    let deleted = Instant::now();
    if !out.contains("returned : 0") || tb.forwards(Protocol::Tcp, port) {
        return Err(format!("{method}: upnpc -d did not delete {port}: {out}").into());
    }
    let limit = deleted + check * 3 + Duration::from_secs(5);
    let mut forwarded = None;
    while Instant::now() < limit {
        kept.pump(Duration::from_millis(20));
        if tb.forwards(Protocol::Tcp, port) {
            forwarded = Some(deleted.elapsed());
            break;
        }
    }
    let bytes = forwarded.and_then(|_| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if reaches_at(tb, tb.wan(), EXTERNAL_IP, Protocol::Tcp, port, port) {
                return Some(deleted.elapsed());
            }
        }
        None
    });
    kept.pump(Duration::from_millis(100));
    let noticed = kept
        .wait(since, "lost", Instant::now())
        .map(|at| at.saturating_duration_since(deleted));
    kept.stop(Duration::from_secs(10));
    let _ = std::fs::remove_file(&config);
    let _ = std::fs::remove_dir_all(&state);
    Ok(LostRun {
        noticed,
        forwarded,
        bytes,
    })
}

/// Print, per method and check interval (2 s; and the default 30 s with
/// `with_default`), over `runs` deletions: how many were noticed ("lost")
/// and repaired, and the median times from the deletion to the "lost"
/// event, to the rule being back on the router and to bytes arriving.
///
/// # Errors
///
/// When the testbed cannot be built or pfwd cannot map at all.
pub fn lost(pfwd: &Path, runs: usize, with_default: bool) -> Result<()> {
    let mut intervals = vec![Duration::from_secs(2)];
    if with_default {
        intervals.push(pfwd_core::defaults::CHECK_INTERVAL);
    }
    println!(
        "| method | check | noticed (\"lost\") | repaired | to \"lost\" | to the rule back | to bytes |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|");
    for check in intervals {
        for method in ["pcp", "natpmp", "upnp"] {
            let tb = Testbed::new(GatewayConfig::all_on())?;
            let mut rows = Vec::new();
            for i in 0..runs.max(1) {
                // Spread the deletions over the check cycle.
                let phase = (i as f64 + 0.5) / runs.max(1) as f64;
                rows.push(lost_once(&tb, pfwd, method, check, 8200 + i as u16, phase)?);
            }
            let n = rows.len();
            let noticed: Vec<Duration> = rows.iter().filter_map(|r| r.noticed).collect();
            let forwarded: Vec<Duration> = rows.iter().filter_map(|r| r.forwarded).collect();
            let bytes: Vec<Duration> = rows.iter().filter_map(|r| r.bytes).collect();
            println!(
                "| {method} | {} s | {}/{n} | {}/{n} | {} | {} | {} |",
                check.as_secs(),
                noticed.len(),
                bytes.len(),
                secs(median(noticed)),
                secs(median(forwarded)),
                secs(median(bytes)),
            );
        }
    }
    println!(
        "(upnpc -d on the LAN host deletes the mapping; a repair counts when bytes from the \
         internet arrive again within 3 check intervals + 5 s; medians of what was repaired)"
    );
    Ok(())
}

/// Print the figures for `count` entries kept by one `pfwd run`: time to
/// all mapped, the methods, the failures, SIGTERM to exit, what is left.
///
/// # Errors
///
/// When the testbed cannot be built or pfwd cannot start.
pub fn busy(pfwd: &Path, count: u16) -> Result<()> {
    let tb = Testbed::new(GatewayConfig::all_on())?;
    let first = 9000u16;
    let state = state_dir(&tb, "busy");
    let config = state.with_extension("toml");
    let mut text = String::new();
    for i in 0..count {
        text += &format!("[[forward]]\nport = {}\nname = \"e{i:03}\"\n", first + i);
    }
    std::fs::write(&config, text)?;
    let config_arg = config.to_string_lossy().into_owned();
    let started = Instant::now();
    let mut kept = Kept::start(
        &tb,
        pfwd,
        &state,
        &["run", "--config", &config_arg, "--json"],
    )?;
    let deadline = started + Duration::from_secs(120);
    let mut mapped: BTreeMap<String, String> = BTreeMap::new();
    let mut all_at = None;
    while Instant::now() < deadline {
        kept.pump(Duration::from_millis(50));
        for (_, v) in &kept.seen {
            if v["event"] == "mapped"
                && let (Some(entry), Some(method)) =
                    (v["entry"].as_str(), v["mapping"]["method"].as_str())
            {
                mapped
                    .entry(entry.to_string())
                    .or_insert_with(|| method.to_string());
            }
        }
        if mapped.len() >= usize::from(count) {
            all_at = Some(started.elapsed());
            break;
        }
    }
    let mut methods: BTreeMap<&str, usize> = BTreeMap::new();
    for m in mapped.values() {
        *methods.entry(m).or_default() += 1;
    }
    let failed = kept.count("failed");
    let forwarded = tb
        .forwarded()
        .iter()
        .filter(|f| (first..first + count).contains(&f.external_port))
        .count();
    println!("{count} entries, one pfwd run, an all-on router:");
    println!(
        "  mapped: {} of {count}, all after {}",
        mapped.len(),
        all_at.map_or("never (120 s)".into(), |d| format!(
            "{:.2} s",
            d.as_secs_f64()
        ))
    );
    println!("  methods: {methods:?}");
    println!("  failed events: {failed}; the router forwards {forwarded}");
    let since = kept.seen.len();
    let took = kept.stop(Duration::from_secs(180));
    let after = &kept.seen[since..];
    let deleted = after
        .iter()
        .find(|(_, v)| v["event"] == "stopped")
        .map(|(_, v)| v["deleted"].clone());
    let named = after
        .iter()
        .filter(|(_, v)| {
            v["event"] == "warning"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("could not remove"))
        })
        .count();
    let left = tb
        .forwarded()
        .iter()
        .filter(|f| (first..first + count).contains(&f.external_port))
        .count();
    println!(
        "  SIGTERM to exit: {}; deleted {}; named as left {named}; left on the router {left}",
        took.map_or("over 180 s (killed)".into(), |d| format!(
            "{:.2} s",
            d.as_secs_f64()
        )),
        deleted.unwrap_or(Value::Null)
    );
    let _ = std::fs::remove_file(&config);
    let _ = std::fs::remove_dir_all(&state);
    Ok(())
}
