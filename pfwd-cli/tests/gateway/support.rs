//! What every gateway test of the command uses: the binary run in the LAN
//! namespace with the test's own state directory, its JSON, and a running
//! `pfwd` whose event lines arrive on a channel.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pfwd_testbed::Testbed;
use serde_json::Value;

pub const PFWD: &str = env!("CARGO_BIN_EXE_pfwd");

/// A state directory of the test's own.
pub fn state(tb: &Testbed) -> PathBuf {
    std::env::temp_dir().join(format!("{}-state", tb.namespaces()[0]))
}

/// `pfwd ARGS` in the LAN namespace, with the test's state directory.
pub fn command(tb: &Testbed, args: &[&str]) -> Command {
    let mut c = tb.lan().command(PFWD);
    c.args(args).env("PFWD_STATE", state(tb));
    c
}

pub fn pfwd(tb: &Testbed, args: &[&str]) -> Output {
    command(tb, args).output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// A running `pfwd` whose stdout lines (JSON events) arrive on a channel.
pub struct Running {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub seen: Vec<Value>,
}

impl Running {
    pub fn start(tb: &Testbed, args: &[&str]) -> Running {
        Running::spawn(command(tb, args))
    }

    /// Run `command` (made with [`command`], perhaps with more settings).
    pub fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait until `count` events satisfy `want` (counting those seen so far).
    pub fn wait_for(&mut self, what: &str, count: usize, want: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.seen.iter().filter(|v| want(v)).count() >= count {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(
                    serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")),
                ),
                Err(_) => panic!("no {count} {what} events in 30 s; saw {:#?}", self.seen),
            }
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// The exit code when the process ends within `limit`; otherwise it is
    /// killed (SIGKILL) and `None` is returned.
    pub fn exit_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// SIGTERM, then the exit code and the remaining lines.
    pub fn terminate(mut self) -> (i32, Vec<Value>) {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().unwrap();
        let rest: Vec<Value> = self
            .lines
            .iter()
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect();
        (status.code().unwrap_or(-1), rest)
    }
}

pub fn event(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["event"] == kind
}

pub fn listed(tb: &Testbed, port: u16) -> bool {
    tb.upnpc(&["-l"])
        .unwrap()
        .contains(&format!("{port}->192.168.77.10:"))
}

pub fn state_is_empty(tb: &Testbed) -> bool {
    let Ok(entries) = std::fs::read_dir(state(tb)) else {
        return true;
    };
    // What the router's UPnP descriptions are remembered in is no record.
    entries
        .filter_map(Result::ok)
        .all(|e| e.path().extension().is_some_and(|x| x == "upnp"))
}

/// A config file of the test's own.
pub fn config_path(tb: &Testbed) -> PathBuf {
    std::env::temp_dir().join(format!("{}-pfwd.toml", tb.namespaces()[0]))
}

pub fn cleanup(tb: &Testbed) {
    let _ = std::fs::remove_dir_all(state(tb));
}

impl Running {
    /// The first event from `since` on (an index into `seen`) that
    /// satisfies `want`, reading more lines for at most `limit`; `None`
    /// when none came (or the process ended) in time.
    pub fn wait_new(
        &mut self,
        since: usize,
        limit: Duration,
        want: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = self.seen.iter().skip(since).find(|v| want(v)) {
                return Some(v.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(
                serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")),
            );
        }
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The events printed so far, one a line (for failure messages).
    pub fn shown(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            if let Ok(v) = serde_json::from_str(&line) {
                self.seen.push(v);
            }
        }
        self.seen
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What [`output_within`] saw.
pub struct Finished {
    /// The exit code, or `None` when it was still running at the limit
    /// (it was then stopped: SIGTERM, SIGKILL 6 s later).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run `command` (made with [`command`]) for at most `limit`.
pub fn output_within(mut command: Command, limit: Duration) -> Finished {
    use std::io::Read;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let mut code = None;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            code = Some(status.code().unwrap_or(-1));
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if code.is_none() {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(6);
        while Instant::now() < until && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
    }
    // Reaped in every case (a no-op wait when it already exited).
    let _ = child.wait();
    Finished {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Write the test's config file (see [`config_path`]); its path as an argument.
pub fn write_config(tb: &Testbed, text: &str) -> String {
    let path = config_path(tb);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}
