//! The probe itself: send the token to one address and port, over TCP or
//! UDP, and see what comes back, within the bounds of
//! [`messages`](crate::check::messages).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout, timeout_at};

use crate::check::messages::{
    CONNECT_TIMEOUT, MAX_REPLY, PROBE_AT_MOST, ProbeOutcome, ProbeReply, REPLY_TIMEOUT, SAMPLE_LEN,
    Token, UDP_INTERVAL, UDP_TRIES, sample,
};
use crate::model::Protocol;

/// Probe `protocol` `port` at `address` with `token`, and report what
/// happened. It never takes longer than [`PROBE_AT_MOST`]. An IPv4-mapped
/// IPv6 address is probed, and reported, as the IPv4 address.
///
/// The address is whatever the caller gives: the [`ProbeServer`](super::ProbeServer)
/// gives only the address a request came from.
///
/// # Examples
///
/// Compiled, not run: it connects to the address.
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use pfwd_core::Protocol;
/// use pfwd_core::check::messages::Token;
/// use pfwd_core::check::prober::probe;
///
/// let token = Token::new("q7Hx-2bNf_0pLm9Zt4Wc")?;
/// let reply = probe("203.0.113.7".parse().unwrap(), Protocol::Tcp, 80, &token).await;
/// println!("{:?} after {} ms", reply.outcome, reply.elapsed_ms);
/// # Ok(()) }
/// ```
pub async fn probe(address: IpAddr, protocol: Protocol, port: u16, token: &Token) -> ProbeReply {
    let address = address.to_canonical();
    let target = SocketAddr::new(address, port);
    let started = Instant::now();
    let heard = match timeout(PROBE_AT_MOST, probe_at(target, protocol, token)).await {
        Ok(h) => h,
        // Not reached with the timeouts of `messages`; a bound all the same.
        Err(_) => Heard::outcome(match protocol {
            Protocol::Tcp => ProbeOutcome::TimedOut,
            Protocol::Udp => ProbeOutcome::NoAnswer,
        }),
    };
    ProbeReply {
        observed_address: address,
        protocol,
        port,
        outcome: heard.outcome,
        token_returned: heard.token_returned,
        reply_sample: heard.sample,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

async fn probe_at(target: SocketAddr, protocol: Protocol, token: &Token) -> Heard {
    match protocol {
        Protocol::Tcp => tcp(target, token).await,
        Protocol::Udp => udp(target, token).await,
    }
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heard {
    outcome: ProbeOutcome,
    token_returned: bool,
    sample: Option<String>,
}

impl Heard {
    /// Nothing came back: only an outcome.
    fn outcome(outcome: ProbeOutcome) -> Heard {
        Heard {
            outcome,
            token_returned: false,
            sample: None,
        }
    }

    /// `bytes` came back with `outcome`: the token, or a sample of something else.
    fn bytes(outcome: ProbeOutcome, token_returned: bool, bytes: &[u8]) -> Heard {
        Heard {
            outcome,
            token_returned,
            sample: (!token_returned && !bytes.is_empty()).then(|| sample(bytes)),
        }
    }
}

/// The outcome an error of connecting or sending stands for: a refusal, an
/// unreachable address, or (for anything else: the prober's own firewall,
/// no route of its family) unreachable too.
fn outcome_of(e: &io::Error, protocol: Protocol) -> ProbeOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => ProbeOutcome::Refused,
        io::ErrorKind::TimedOut => match protocol {
            Protocol::Tcp => ProbeOutcome::TimedOut,
            Protocol::Udp => ProbeOutcome::NoAnswer,
        },
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            ProbeOutcome::Unreachable
        }
        _ => {
            log::debug!("probe error taken as unreachable: {e}");
            ProbeOutcome::Unreachable
        }
    }
}

/// Where reading the TCP answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The first line is the token: done.
    Token,
    /// It cannot be the token any more: read on only for the sample.
    NotToken,
    /// It may still become the token.
    Undecided,
}

/// What `bytes`, read so far, say: only the first line counts, and it is
/// the token when [`Token::is_in`] says so (the token, then `\n` or `\r\n`).
fn verdict(bytes: &[u8], token: &Token) -> Verdict {
    let t = token.as_str().as_bytes();
    if let Some(end) = bytes.iter().position(|b| *b == b'\n') {
        return if token.is_in(&bytes[..=end]) {
            Verdict::Token
        } else {
            Verdict::NotToken
        };
    }
    let may_become = t.starts_with(bytes)
        || bytes
            .strip_prefix(t)
            .is_some_and(|rest| rest.iter().all(|b| *b == b'\r'));
    if may_become {
        Verdict::Undecided
    } else {
        Verdict::NotToken
    }
}

/// TCP: connect, write the token and a line end, read the answer.
async fn tcp(target: SocketAddr, token: &Token) -> Heard {
    let mut stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Err(_) => return Heard::outcome(ProbeOutcome::TimedOut),
        Ok(Err(e)) => return Heard::outcome(outcome_of(&e, Protocol::Tcp)),
        Ok(Ok(s)) => s,
    };
    let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
    let mut line = Vec::with_capacity(Token::MAX_LEN + 1);
    line.extend_from_slice(token.as_str().as_bytes());
    line.push(b'\n');
    // A server that resets at once may still have said something first:
    // read whatever is there either way.
    let _ = timeout_at(deadline, stream.write_all(&line)).await;
    let mut got = Vec::with_capacity(MAX_REPLY);
    let mut chunk = [0u8; MAX_REPLY];
    while got.len() < MAX_REPLY {
        match verdict(&got, token) {
            Verdict::Token => break,
            // Enough to name what answered: a full first line (a status
            // line, a banner) or a sample's worth.
            Verdict::NotToken if got.len() >= SAMPLE_LEN || got.contains(&b'\n') => break,
            _ => {}
        }
        let room = MAX_REPLY - got.len();
        match timeout_at(deadline, stream.read(&mut chunk[..room])).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&chunk[..n]),
            // The end, an error (a reset) or the deadline: judge what came.
            _ => break,
        }
    }
    let token_returned = match verdict(&got, token) {
        Verdict::Token => true,
        // The connection ended after the token without a line end.
        Verdict::Undecided => token.is_in(&got),
        Verdict::NotToken => false,
    };
    Heard::bytes(ProbeOutcome::Accepted, token_returned, &got)
}

/// UDP: from a connected socket, send the token up to [`UDP_TRIES`] times,
/// [`UDP_INTERVAL`] apart, until a datagram or an ICMP error comes back.
async fn udp(target: SocketAddr, token: &Token) -> Heard {
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => return Heard::outcome(outcome_of(&e, Protocol::Udp)),
    };
    if let Err(e) = socket.connect(target).await {
        return Heard::outcome(outcome_of(&e, Protocol::Udp));
    }
    let mut buf = [0u8; MAX_REPLY];
    for _ in 0..UDP_TRIES {
        if let Err(e) = socket.send(token.as_str().as_bytes()).await {
            return Heard::outcome(outcome_of(&e, Protocol::Udp));
        }
        match timeout(UDP_INTERVAL, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let datagram = &buf[..n];
                return Heard::bytes(ProbeOutcome::Answered, token.is_in(datagram), datagram);
            }
            // ICMP port unreachable (ECONNREFUSED), host or network unreachable.
            Ok(Err(e)) => return Heard::outcome(outcome_of(&e, Protocol::Udp)),
            Err(_) => {}
        }
    }
    Heard::outcome(ProbeOutcome::NoAnswer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token::new("Abc-_0123456789xyz").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_the_first_line_counts_and_it_must_be_the_token() {
        let t = token();
        assert_eq!(verdict(b"", &t), Verdict::Undecided);
        assert_eq!(verdict(b"Abc-_01", &t), Verdict::Undecided);
        assert_eq!(verdict(b"Abc-_0123456789xyz", &t), Verdict::Undecided);
        assert_eq!(verdict(b"Abc-_0123456789xyz\r", &t), Verdict::Undecided);
        assert_eq!(verdict(b"Abc-_0123456789xyz\n", &t), Verdict::Token);
        assert_eq!(verdict(b"Abc-_0123456789xyz\r\n", &t), Verdict::Token);
        assert_eq!(verdict(b"Abc-_0123456789xyz\nmore", &t), Verdict::Token);
        assert_eq!(verdict(b"Abc-_0123456789xyzz", &t), Verdict::NotToken);
        assert_eq!(verdict(b"SSH-2.0-OpenSSH", &t), Verdict::NotToken);
        assert_eq!(
            verdict(b"HTTP/1.1 400 Bad Request\r\n", &t),
            Verdict::NotToken
        );
        assert_eq!(verdict(b"\n", &t), Verdict::NotToken);
    }

    #[test]
    fn a_sample_only_when_something_else_came_back() {
        assert_eq!(
            Heard::bytes(ProbeOutcome::Accepted, true, b"Abc-_0123456789xyz\n").sample,
            None
        );
        assert_eq!(
            Heard::bytes(ProbeOutcome::Accepted, false, b"").sample,
            None
        );
        assert_eq!(
            Heard::bytes(ProbeOutcome::Answered, false, b"SSH-2.0\r\n").sample,
            Some("SSH-2.0..".into())
        );
    }

    #[test]
    fn errors_read_as_outcomes() {
        let e = |k| io::Error::from(k);
        assert_eq!(
            outcome_of(&e(io::ErrorKind::ConnectionRefused), Protocol::Udp),
            ProbeOutcome::Refused
        );
        assert_eq!(
            outcome_of(&e(io::ErrorKind::HostUnreachable), Protocol::Tcp),
            ProbeOutcome::Unreachable
        );
        assert_eq!(
            outcome_of(&e(io::ErrorKind::TimedOut), Protocol::Tcp),
            ProbeOutcome::TimedOut
        );
        assert_eq!(
            outcome_of(&e(io::ErrorKind::TimedOut), Protocol::Udp),
            ProbeOutcome::NoAnswer
        );
    }
}
