//! How the command speaks: text or JSON on stdout, errors as one line on
//! stderr, the exit codes, and a progress indicator on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use pfwd_core::{Error, ErrorKind, Lease, Mapping, Warning};
use serde::Serialize;
use serde_json::json;

use crate::stdio;

/// The exit codes (listed in `--help` and docs/cli.md).
pub mod code {
    /// Done.
    pub const OK: i32 = 0;
    /// The router answered with an error, or did not answer in time.
    pub const FAILED: i32 = 1;
    /// Bad input.
    pub const BAD_INPUT: i32 = 2;
    /// No method could do it: the manual guide was printed.
    pub const MANUAL: i32 = 3;
    /// The port is taken on the router.
    pub const CONFLICT: i32 = 4;
    /// Nothing matched (unmap).
    pub const NOT_FOUND: i32 = 5;
    /// `check`: not reachable from outside (the diagnosis says why).
    pub const NOT_REACHABLE: i32 = 6;
    /// `check`: something answered but pfwd could not prove it was this
    /// server, or UDP gave no answer to tell by.
    pub const UNVERIFIED: i32 = 7;
    /// `check`: not checked from outside (no `--via`).
    pub const NOT_CHECKED: i32 = 8;
    /// Interrupted before the job was done.
    pub const INTERRUPTED: i32 = 130;
}

/// The exit code for an error.
///
/// # Examples
///
/// ```
/// use pfwd_cli::output::{code, exit_code};
/// use pfwd_core::Error;
///
/// assert_eq!(exit_code(&Error::invalid("no port given")), code::BAD_INPUT);
/// let silent = Error::NoGateway { method: None, detail: "no default route".into(), refused: false };
/// assert_eq!(exit_code(&silent), code::FAILED);
/// ```
pub fn exit_code(e: &Error) -> i32 {
    match e.kind() {
        ErrorKind::InvalidRequest => code::BAD_INPUT,
        ErrorKind::Manual => code::MANUAL,
        ErrorKind::Conflict => code::CONFLICT,
        _ => code::FAILED,
    }
}

/// An error as JSON: the core's shape ([`Error::to_json`]: kind, code,
/// message, and the guide, gateway code or holder where it has them) plus
/// the command's `exit_code` (docs/cli.md).
///
/// # Examples
///
/// ```
/// use pfwd_cli::output::error_json;
/// use pfwd_core::Error;
///
/// let json = error_json(&Error::invalid(format!("port {} is out of range", "9".repeat(500))));
/// assert_eq!(json["kind"], "invalid_request");
/// assert_eq!(json["exit_code"], 2);
/// // A huge echoed word is cut, so the message stays readable.
/// assert!(json["message"].as_str().unwrap().contains("…(500 characters)"));
/// ```
pub fn error_json(e: &Error) -> serde_json::Value {
    let mut err = e.to_json();
    if let Some(message) = err["message"].as_str() {
        err["message"] = json!(cut_long_words(message));
    }
    err["exit_code"] = json!(exit_code(e));
    err
}

/// The line for a mapping that could not be removed on the way out: what
/// stays open, until when, and how to remove it later.
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::time::{Duration, Instant};
/// use pfwd_cli::output::left_behind;
/// use pfwd_core::{Error, Lease, Mapping, Method, MethodState, Protocol};
///
/// let m = Mapping::new(
///     Method::Pcp,
///     Protocol::Tcp,
///     Ipv4Addr::new(192, 168, 1, 1),
///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 8080),
///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 80),
///     Lease::Finite(Duration::from_secs(3600)),
///     Instant::now(),
///     "pfwd http",
///     MethodState::Pcp { nonce: [1; 12], epoch: 5, generation: 0 },
/// );
/// let timeout = Error::Timeout {
///     method: Method::Pcp,
///     operation: "deleting TCP port 8080".into(),
///     after: Duration::from_secs(4),
/// };
/// let line = left_behind(&m, &timeout);
/// assert!(line.starts_with("could not remove TCP 203.0.113.7:8080 -> 192.168.1.4:80 ("));
/// assert!(line.ends_with("`pfwd unmap 8080` removes it (its record is kept)"));
/// ```
pub fn left_behind(m: &Mapping, e: &pfwd_core::Error) -> String {
    let until = match m.expires_at_wall() {
        Some(end) => format!(
            "until its lease ends at {}",
            humantime::format_rfc3339_seconds(end)
                .to_string()
                .replace('T', " ")
        ),
        None => "with no end (a permanent mapping)".to_string(),
    };
    format!(
        "could not remove {} {} -> {} ({e}); it stays open {until}; \
         `pfwd unmap {}` removes it (its record is kept)",
        m.protocol(),
        m.external(),
        m.internal(),
        m.external().port()
    )
}

/// "TCP 5.5.5.7:8080 -> 192.168.1.4:80 via PCP, lease 2h (until 2026-11-25 21:06:46Z)".
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::time::{Duration, Instant};
/// use pfwd_cli::output::describe;
/// use pfwd_core::{Lease, Mapping, Method, MethodState, Protocol};
///
/// let m = Mapping::new(
///     Method::Pcp,
///     Protocol::Tcp,
///     Ipv4Addr::new(192, 168, 1, 1),
///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 8080),
///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 80),
///     Lease::Finite(Duration::from_secs(3600)),
///     Instant::now(),
///     "pfwd http",
///     MethodState::Pcp { nonce: [1; 12], epoch: 5, generation: 0 },
/// );
/// assert!(describe(&m).starts_with("TCP 203.0.113.7:8080 -> 192.168.1.4:80 via PCP, lease 1h (until "));
/// ```
pub fn describe(m: &Mapping) -> String {
    let lease = match m.lease() {
        Lease::Permanent => "no end (remove it with pfwd unmap)".to_string(),
        Lease::Finite(d) => {
            let mut s = humantime::format_duration(d).to_string();
            if let Some(end) = m.expires_at_wall() {
                let stamp = humantime::format_rfc3339_seconds(end).to_string();
                s.push_str(&format!(" (until {})", stamp.replace('T', " ")));
            }
            s
        }
    };
    if m.is_pinhole() {
        // Nothing is translated: the server's own address is the one to use.
        return format!(
            "{} {} (IPv6 pinhole) via {}, lease {lease}",
            m.protocol(),
            m.internal(),
            m.method()
        );
    }
    format!(
        "{} {} -> {} via {}, lease {lease}",
        m.protocol(),
        m.external(),
        m.internal(),
        m.method()
    )
}

/// Add `more` to `warnings`, each warning once; returns the ones that were new.
///
/// # Examples
///
/// ```
/// use pfwd_cli::output::add_warnings;
/// use pfwd_core::{MappingRequest, Protocol};
///
/// let telnet = MappingRequest::builder(Protocol::Tcp, 23).build()?;
/// let mut shown = Vec::new();
/// assert_eq!(add_warnings(&mut shown, telnet.warnings()).len(), 1);
/// assert!(add_warnings(&mut shown, telnet.warnings()).is_empty()); // said once
/// assert_eq!(shown.len(), 1);
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn add_warnings(
    warnings: &mut Vec<Warning>,
    more: impl IntoIterator<Item = Warning>,
) -> Vec<Warning> {
    let mut new = Vec::new();
    for w in more {
        if !warnings.contains(&w) {
            warnings.push(w.clone());
            new.push(w);
        }
    }
    new
}

/// Where and how much to print.
///
/// # Examples
///
/// ```
/// use pfwd_cli::output::{Printer, code};
/// use pfwd_core::Error;
///
/// let text = Printer { json: false, level: 0 };
/// text.say("forwarded TCP 80"); // stdout
/// text.detail("not shown: -v only");
/// let json = Printer { json: true, level: 0 };
/// json.say("not shown: JSON mode prints JSON only");
/// json.json(&serde_json::json!({"ok": true}));
/// assert_eq!(json.error(&Error::invalid("no port given")), code::BAD_INPUT); // {"error": ...} on stdout
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// JSON on stdout instead of text.
    pub json: bool,
    /// -1 quiet, 0 normal, 1 and up verbose.
    pub level: i8,
}

impl Printer {
    /// A result line (text mode, unless quiet).
    pub fn say(&self, text: &str) {
        if !self.json && self.level >= 0 {
            stdio::outln(text);
        }
    }

    /// A detail line for -v (stderr, text mode).
    pub fn detail(&self, text: &str) {
        if !self.json && self.level >= 1 {
            stdio::errln(text);
        }
    }

    /// A warning (stderr, text mode, unless quiet).
    pub fn warn(&self, text: &str) {
        if !self.json && self.level >= 0 {
            stdio::errln(&format!("pfwd: {text}"));
        }
    }

    /// One JSON document (or line) on stdout.
    pub fn json(&self, value: &impl Serialize) {
        if self.json {
            let line = serde_json::to_string(value).unwrap_or_else(|e| {
                json!({"error": {"kind": "io", "message": e.to_string()}}).to_string()
            });
            stdio::outln(&line);
        }
    }

    /// Report `e` and return its exit code. Text: one line on stderr, and
    /// for [`Error::Manual`] the guide on stdout (it is the answer). JSON:
    /// `{"error": {...}}` on stdout.
    pub fn error(&self, e: &Error) -> i32 {
        let code = exit_code(e);
        if self.json {
            self.json(&json!({ "error": error_json(e) }));
        } else if let Some(i) = e.instructions() {
            stdio::errln("pfwd: the router could not be asked to forward the port; do it by hand:");
            stdio::out(&i.to_text());
        } else {
            stdio::errln(&format!("pfwd: {}", one_line(&e.to_string())));
        }
        code
    }

    /// Report bad input that is not an [`Error`] (a config file, an option).
    pub fn bad_input(&self, message: &str) -> i32 {
        if self.json {
            let mut err = Error::invalid(message).to_json();
            // The message as given, without the "invalid request: " prefix.
            err["message"] = json!(cut_long_words(message));
            err["exit_code"] = json!(code::BAD_INPUT);
            self.json(&json!({ "error": err }));
        } else {
            stdio::errln(&format!("pfwd: {}", one_line(message)));
        }
        code::BAD_INPUT
    }

    /// A progress indicator for work that may take noticeable time: shown on
    /// a terminal after a short delay, never when stderr is not a terminal,
    /// in JSON mode, or when quiet. It disappears when dropped.
    pub fn progress(&self, what: &str) -> Progress {
        let on = !self.json && self.level >= 0 && std::io::stderr().is_terminal();
        Progress::start(on, what.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    use pfwd_core::{Method, MethodState, Protocol};

    use super::*;

    #[test]
    fn a_mapping_in_words() {
        let web = |lease| {
            Mapping::new(
                Method::Upnp,
                Protocol::Tcp,
                Ipv4Addr::new(10, 0, 0, 1),
                "5.5.5.7:8080".parse::<std::net::SocketAddr>().unwrap(),
                "10.0.0.4:80".parse::<std::net::SocketAddr>().unwrap(),
                lease,
                Instant::now(),
                "web",
                MethodState::None,
            )
        };
        let text = describe(&web(Lease::Finite(Duration::from_secs(5400))));
        assert!(
            text.starts_with("TCP 5.5.5.7:8080 -> 10.0.0.4:80 via UPnP-IGD, lease 1h 30m (until "),
            "{text}"
        );
        assert!(text.ends_with("Z)"), "{text}");
        assert!(
            describe(&web(Lease::Permanent)).ends_with("lease no end (remove it with pfwd unmap)")
        );
    }

    #[test]
    fn a_long_word_is_cut_to_its_start_and_length() {
        let port = "1".repeat(100_000);
        let message = format!("port \"{port}\" is not a number\tfrom 1 to 65535");
        let cut = cut_long_words(&message);
        assert_eq!(
            cut,
            format!(
                "port \"{}…(100002 characters) is not a number\tfrom 1 to 65535",
                "1".repeat(39)
            )
        );
        // Short words, and a word of exactly the limit, stay as they are.
        let edge = format!("{} ok", "é".repeat(LONG_WORD));
        assert_eq!(cut_long_words(&edge), edge);
        assert_eq!(cut_long_words("  a  b "), "  a  b ");
        assert_eq!(cut_long_words(""), "");
    }
}

/// Make a message one line (the core's messages are; this keeps it so),
/// with absurdly long words cut ([`cut_long_words`]).
fn one_line(s: &str) -> String {
    cut_long_words(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A word longer than this many characters is cut in messages.
const LONG_WORD: usize = 100;
/// How much of a cut word is kept.
const KEPT_OF_LONG_WORD: usize = 40;

/// Cut each word (a run without whitespace) longer than 100
/// characters to its first 40 and its length, so that a
/// 100,000-digit port echoed by an error stays one readable line:
/// `"1111…(100000 characters)`. Whitespace is kept as it is.
///
/// # Examples
///
/// ```
/// use pfwd_cli::output::cut_long_words;
///
/// let long = format!("port {} is out of range", "1".repeat(1000));
/// assert_eq!(cut_long_words(&long), format!("port {}…(1000 characters) is out of range", "1".repeat(40)));
/// assert_eq!(cut_long_words("short  words\tstay"), "short  words\tstay");
/// ```
pub fn cut_long_words(s: &str) -> String {
    let mut cut = String::with_capacity(s.len().min(4096));
    let mut rest = s;
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        let chars = word.chars().count();
        if chars > LONG_WORD {
            cut.extend(word.chars().take(KEPT_OF_LONG_WORD));
            cut.push_str(&format!("…({chars} characters)"));
        } else {
            cut.push_str(word);
        }
        let space_end = after
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(after.len());
        cut.push_str(&after[..space_end]);
        rest = &after[space_end..];
    }
    cut
}

/// A spinner on stderr; see [`Printer::progress`].
#[derive(Debug)]
pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Shown only when the work takes longer than this.
const SHOW_AFTER: Duration = Duration::from_millis(150);

impl Progress {
    fn start(on: bool, what: String) -> Progress {
        if !on {
            return Progress { task: None };
        }
        let task = tokio::spawn(async move {
            tokio::time::sleep(SHOW_AFTER).await;
            let frames = ['|', '/', '-', '\\'];
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            for i in 0usize.. {
                ticks.tick().await;
                let secs = (SHOW_AFTER + Duration::from_millis(100) * i as u32).as_secs_f32();
                stdio::err(&format!(
                    "\r{} {what} ({secs:.1} s)\x1b[K",
                    frames[i % frames.len()]
                ));
            }
        });
        Progress { task: Some(task) }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            // Clear whatever the spinner drew.
            stdio::err("\r\x1b[K");
        }
    }
}

/// `count` and the noun in the number it takes: "1 mapping", "2 mappings".
pub fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod counted_tests {
    use super::counted;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "mapping", "mappings"), "1 mapping");
        assert_eq!(counted(0, "mapping", "mappings"), "0 mappings");
        assert_eq!(counted(2, "entry", "entries"), "2 entries");
    }
}
