//! Network namespaces: create, run code or programs inside, delete.

use std::fs::File;
use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};

/// A network namespace this process created; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Create the namespace `name` with its loopback up.
    pub fn create(name: &str) -> io::Result<Netns> {
        run(Command::new("ip").args(["netns", "add", name]))?;
        let ns = Netns {
            name: name.to_string(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A handle on an existing namespace that this handle does not own
    /// (dropping it deletes nothing), for use from another thread.
    pub fn attach(name: &str) -> BorrowedNetns {
        BorrowedNetns(std::mem::ManuallyDrop::new(Netns {
            name: name.to_string(),
        }))
    }

    /// The namespace's name (as `ip netns list` shows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME args...`, checked.
    pub fn ip(&self, args: &[&str]) -> io::Result<String> {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Run `program args...` inside the namespace and return its output, checked.
    pub fn exec(&self, program: &str, args: &[&str]) -> io::Result<String> {
        run(self.command(program).args(args))
    }

    /// Run `f` on a new thread that has entered the namespace: every socket
    /// it opens lives there. Panics in `f` propagate.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                enter(&path).unwrap_or_else(|e| panic!("cannot enter {path}: {e}"));
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// Drive the future made by `make` to completion on a current-thread
    /// tokio runtime inside the namespace.
    pub fn block_on<F>(&self, make: impl FnOnce() -> F + Send) -> F::Output
    where
        F: Future,
        F::Output: Send,
    {
        self.run(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(make())
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_processes_in(&self.name);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Kill every process still running inside the namespace `name`.
pub(crate) fn kill_processes_in(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Move the calling thread into the network namespace at `path`.
fn enter(path: &str) -> io::Result<()> {
    let file = File::open(path)?;
    // SAFETY: setns(2) takes a valid open descriptor, which `file` holds for the call.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Run a command; an error carries its stderr.
pub fn run(cmd: &mut Command) -> io::Result<String> {
    let out: Output = cmd.output().map_err(|e| {
        io::Error::new(e.kind(), format!("cannot run {:?}: {e}", cmd.get_program()))
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "{:?} {:?} failed ({}): {}{}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
        )))
    }
}

/// A [`Netns`] that is not deleted on drop (see [`Netns::attach`]).
#[derive(Debug)]
pub struct BorrowedNetns(std::mem::ManuallyDrop<Netns>);

impl std::ops::Deref for BorrowedNetns {
    type Target = Netns;
    fn deref(&self) -> &Netns {
        &self.0
    }
}

/// What `ip netns list` shows: every named namespace on the machine, one a
/// line (to prove a testbed's are gone).
///
/// # Panics
///
/// When `ip` cannot run (a test failure).
pub fn listed() -> String {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip netns list: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether process `pid` still runs (a zombie runs nothing).
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}
