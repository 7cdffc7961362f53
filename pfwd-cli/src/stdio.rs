//! stdout and stderr that never panic, the way Unix tools behave.
//!
//! `println!` panics when a write fails, so `pfwd list | head -1` and
//! `pfwd status > /dev/full` used to end in "failed printing to stdout" and
//! "internal error (a bug)". Every byte the command prints goes through
//! here instead:
//!
//! - **stdout closed by its reader** (`EPIPE`: `head` has read enough):
//!   nothing more is written and nothing is said; the command finishes its
//!   job and exits with the code it would have had (docs/cli.md). Rust
//!   ignores `SIGPIPE`, so the write error is the only sign; a service whose
//!   log stream breaks keeps its mappings up, as systemd's `IgnoreSIGPIPE`
//!   intends.
//! - **any other write error** (`ENOSPC` on a full disk, `EIO`): one line
//!   on stderr at the first failure, nothing more on stdout, and exit code 1
//!   ([`exit_code`]): the output the caller asked for was not delivered.
//! - **stderr failing**: there is nowhere left to tell it; ignored.
//!
//! # Examples
//!
//! ```
//! use pfwd_cli::stdio;
//!
//! stdio::outln("TCP 203.0.113.7:80 -> 192.168.1.4:80 via PCP");
//! stdio::errln("pfwd: a warning");
//! // Every write went through: the command's own exit code stands.
//! assert_eq!(stdio::exit_code(3), 3);
//!
//! // The reader went away (`pfwd list | head -1`): quiet, and no failure.
//! stdio::stdout_failed(&std::io::Error::from(std::io::ErrorKind::BrokenPipe));
//! stdio::outln("not written");
//! assert_eq!(stdio::exit_code(0), 0);
//! ```

use std::io::{self, Write};
use std::sync::atomic::{AtomicU8, Ordering};

/// stdout has taken every write so far.
const OPEN: u8 = 0;
/// The reader went away (`EPIPE`): quiet from now on.
const CLOSED: u8 = 1;
/// A write failed otherwise (told once on stderr): exit 1.
const FAILED: u8 = 2;

static STDOUT: AtomicU8 = AtomicU8::new(OPEN);

/// Write `text` to stdout as it is and flush, unless stdout has already
/// been closed or failed.
pub fn out(text: &str) {
    if STDOUT.load(Ordering::Relaxed) != OPEN {
        return;
    }
    let mut stdout = io::stdout().lock();
    let result = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if let Err(e) = result {
        stdout_failed(&e);
    }
}

/// [`out`] with a newline.
pub fn outln(text: &str) {
    out(&format!("{text}\n"));
}

/// Write `text` to stderr as it is; errors are ignored (see the module docs).
pub fn err(text: &str) {
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// [`err`] with a newline.
pub fn errln(text: &str) {
    err(&format!("{text}\n"));
}

/// Report a failed write to stdout (from here or from another writer, such
/// as clap's help): quiet for a closed pipe, one line on stderr otherwise.
pub fn stdout_failed(e: &io::Error) {
    let state = if e.kind() == io::ErrorKind::BrokenPipe {
        CLOSED
    } else {
        FAILED
    };
    if STDOUT
        .compare_exchange(OPEN, state, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
        && state == FAILED
    {
        errln(&format!("pfwd: cannot write the output to stdout: {e}"));
    }
}

/// The exit code once the command is done: `code`, or 1 when a write to
/// stdout failed other than by the reader closing it.
pub fn exit_code(code: i32) -> i32 {
    if STDOUT.load(Ordering::Relaxed) == FAILED {
        crate::output::code::FAILED
    } else {
        code
    }
}
