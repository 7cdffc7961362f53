//! What `pfwd check` and `pfwd probe-server` say to each other: JSON over
//! HTTP/1.1, and a one-time token over the port being checked.
//!
//! # The exchange
//!
//! 1. pfwd sends `POST /v1/probe` with a [`ProbeRequest`]: the protocol, the
//!    port, and a fresh random token ([`Token`]). It names no address: the
//!    prober probes **only the address the request came from**, so it cannot
//!    be turned against anyone else.
//! 2. The prober probes that address and port:
//!    - **TCP**: it connects (at most [`CONNECT_TIMEOUT`]), writes the token
//!      followed by `\n`, and reads what comes back for at most
//!      [`REPLY_TIMEOUT`] (at most [`MAX_REPLY`] bytes).
//!    - **UDP**: it sends the token as one datagram, up to [`UDP_TRIES`]
//!      times, [`UDP_INTERVAL`] apart, and waits for a datagram back; an ICMP
//!      "port unreachable" reads as refused.
//! 3. It answers with a [`ProbeReply`]: the address it saw, the outcome, and
//!    whether the token came back. pfwd's own listener, when pfwd holds the
//!    port for the check, echoes the token, so a returned token proves that
//!    the path reaches *this host*, not merely that something answered.
//!
//! A refused request gets a [`ProbeRefusal`] with a 4xx or 5xx status.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Invalid, Protocol};

/// The path the prober serves probe requests on.
pub const PROBE_PATH: &str = "/v1/probe";

/// How long the prober waits for a TCP connection to be accepted: 3 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the prober waits for the token to come back: 2 s.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// The most bytes the prober reads back from the probed port: 256.
pub const MAX_REPLY: usize = 256;

/// How many token datagrams the prober sends for UDP: 3.
pub const UDP_TRIES: u32 = 3;

/// The pause between UDP tries: 400 ms.
pub const UDP_INTERVAL: Duration = Duration::from_millis(400);

/// The longest a probe takes on the prober's side, whatever the outcome:
/// connect, then wait for the reply (TCP), or every try and the last wait
/// (UDP). A client waits this plus its own network time.
pub const PROBE_AT_MOST: Duration = Duration::from_secs(5);

/// The most bytes of the answer the prober quotes back in
/// [`ProbeReply::reply_sample`]: 64.
pub const SAMPLE_LEN: usize = 64;

/// What pfwd asks the prober: probe `protocol` `port` at the address this
/// request comes from, with `token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The public port to probe, 1–65535.
    pub port: u16,
    /// The one-time token to send through the port.
    pub token: Token,
}

/// A one-time token: 16 to 64 characters from `A-Z a-z 0-9 - _`, so it is
/// one line and one datagram, and cannot smuggle anything into a server it
/// reaches.
///
/// # Examples
///
/// ```
/// use pfwd_core::check::messages::Token;
///
/// let token = Token::new("q7Hx-2bNf_0pLm9Zt4Wc")?;
/// assert!(token.is_in(b"q7Hx-2bNf_0pLm9Zt4Wc\r\n")); // what came back through the port
/// assert!(!token.is_in(b"SSH-2.0-OpenSSH_9.6\r\n"));
///
/// assert!(Token::new("short").is_err());
/// assert!(Token::new("sixteen chars ok").unwrap_err().reason.contains("not ' '"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Token(String);

impl Token {
    /// The shortest token accepted.
    pub const MIN_LEN: usize = 16;
    /// The longest token accepted.
    pub const MAX_LEN: usize = 64;

    /// Check `text` against the token rules.
    pub fn new(text: impl Into<String>) -> Result<Token, Invalid> {
        let text = text.into();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&text.len()) {
            return Err(Invalid::new(format!(
                "a token has {} to {} characters, not {}",
                Self::MIN_LEN,
                Self::MAX_LEN,
                text.len()
            )));
        }
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(Invalid::new(format!(
                "a token holds only A-Z, a-z, 0-9, '-' and '_', not {c:?}"
            )));
        }
        Ok(Token(text))
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `bytes`, what came back through the port, carries this token
    /// (on its own, or followed by a line end).
    pub fn is_in(&self, bytes: &[u8]) -> bool {
        let t = self.0.as_bytes();
        bytes
            .strip_prefix(t)
            .is_some_and(|rest| rest.iter().all(|b| *b == b'\n' || *b == b'\r'))
    }
}

impl TryFrom<String> for Token {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Token, Invalid> {
        Token::new(text)
    }
}

impl From<Token> for String {
    fn from(t: Token) -> String {
        t.0
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happened when the prober tried the port.
///
/// # Examples
///
/// ```
/// use pfwd_core::check::messages::ProbeOutcome;
///
/// assert!(ProbeOutcome::Accepted.got_through());
/// assert!(!ProbeOutcome::NoAnswer.got_through()); // UDP cannot tell "not forwarded"
/// assert_eq!(serde_json::to_value(ProbeOutcome::TimedOut).unwrap(), "timed_out");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// TCP: the connection was accepted.
    Accepted,
    /// UDP: a datagram came back.
    Answered,
    /// TCP: the connection was refused (a reset); UDP: ICMP port unreachable.
    Refused,
    /// TCP: no answer to the connection attempt in time.
    TimedOut,
    /// UDP: nothing came back (which UDP cannot tell from "not forwarded").
    NoAnswer,
    /// The address could not be reached at all (no route, host unreachable).
    Unreachable,
}

impl ProbeOutcome {
    /// Whether something at the address took the bytes: a TCP connection
    /// accepted, or a UDP answer.
    pub fn got_through(self) -> bool {
        matches!(self, ProbeOutcome::Accepted | ProbeOutcome::Answered)
    }
}

/// What the prober answers to a [`ProbeRequest`].
///
/// # Examples
///
/// ```
/// use pfwd_core::check::messages::{ProbeOutcome, ProbeReply};
///
/// let reply: ProbeReply = serde_json::from_str(r#"{
///     "observed_address": "203.0.113.7", "protocol": "tcp", "port": 80,
///     "outcome": "accepted", "token_returned": true, "elapsed_ms": 41}"#)?;
/// assert_eq!(reply.outcome, ProbeOutcome::Accepted);
/// assert!(reply.token_returned && reply.reply_sample.is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReply {
    /// The address the request came from, which is the address probed: the
    /// one the internet sees for the asking host.
    pub observed_address: IpAddr,
    /// The protocol probed.
    pub protocol: Protocol,
    /// The port probed.
    pub port: u16,
    /// What happened.
    pub outcome: ProbeOutcome,
    /// Whether the token came back through the port.
    pub token_returned: bool,
    /// The first bytes that came back when they were not the token (at most
    /// [`SAMPLE_LEN`], non-printable bytes as `.`), to help name what
    /// answered (an HTTP status line, an SSH banner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_sample: Option<String>,
    /// How long the probe took, in milliseconds.
    pub elapsed_ms: u64,
}

/// Why the prober refused a request (any status but 200).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRefusal {
    /// A stable name: `bad_request`, `not_found`, `method_not_allowed`,
    /// `too_large`, `rate_limited`, `busy`, `forbidden` (a request from the
    /// prober's own loopback: behind a proxy on the same machine every
    /// client would look like the prober itself, so it refuses to probe).
    pub error: String,
    /// What was wrong and what to do, in words.
    pub message: String,
}

/// Make `bytes` printable for [`ProbeReply::reply_sample`].
///
/// # Examples
///
/// ```
/// use pfwd_core::check::messages::sample;
///
/// assert_eq!(sample(b"HTTP/1.1 200 OK\r\n\x00"), "HTTP/1.1 200 OK...");
/// assert_eq!(sample(&[b'x'; 100]).len(), 64);
/// ```
pub fn sample(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(SAMPLE_LEN)
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '.'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_the_rules() {
        assert!(Token::new("abcdefghijklmnop").is_ok());
        assert!(Token::new("short").is_err());
        assert!(Token::new("a".repeat(65)).is_err());
        let e = Token::new("abcdefghijklmno\n").unwrap_err();
        assert!(e.to_string().contains("'\\n'"), "{e}");
        let t = Token::new("Abc-_0123456789xyz").unwrap();
        assert!(t.is_in(b"Abc-_0123456789xyz"));
        assert!(t.is_in(b"Abc-_0123456789xyz\r\n"));
        assert!(!t.is_in(b"Abc-_0123456789xy"));
        assert!(!t.is_in(b"HTTP/1.1 400 Bad Request\r\n"));
    }

    #[test]
    fn a_request_reads_strictly() {
        let r: ProbeRequest =
            serde_json::from_str(r#"{"protocol":"tcp","port":8080,"token":"0123456789abcdef"}"#)
                .unwrap();
        assert_eq!(r.port, 8080);
        for bad in [
            r#"{"protocol":"tcp","port":0x,"token":"0123456789abcdef"}"#,
            r#"{"protocol":"sctp","port":80,"token":"0123456789abcdef"}"#,
            r#"{"protocol":"tcp","port":70000,"token":"0123456789abcdef"}"#,
            r#"{"protocol":"tcp","port":80,"token":"x"}"#,
            r#"{"protocol":"tcp","port":80,"token":"0123456789abcdef","address":"1.2.3.4"}"#,
        ] {
            assert!(serde_json::from_str::<ProbeRequest>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_reply_round_trips() {
        let reply = ProbeReply {
            observed_address: "5.5.5.7".parse().unwrap(),
            protocol: Protocol::Udp,
            port: 51820,
            outcome: ProbeOutcome::NoAnswer,
            token_returned: false,
            reply_sample: None,
            elapsed_ms: 1200,
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert!(text.contains(r#""outcome":"no_answer""#), "{text}");
        assert_eq!(serde_json::from_str::<ProbeReply>(&text).unwrap(), reply);
        assert_eq!(sample(b"SSH-2.0\r\n\x00"), "SSH-2.0...");
    }
}
