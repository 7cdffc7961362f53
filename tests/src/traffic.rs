//! Proof that a mapping works: bytes sent from the internet namespace to the
//! router's public address reach a listener on the LAN host.
//!
//! The sender tries for a short while rather than once: a router may answer a
//! mapping request a moment before its forwarding rule is live, and a single
//! SYN refused in that moment would fail a test for a mapping that works. The
//! listener stops shortly after the sender has given up, so a port that is
//! *not* forwarded is reported about as quickly as before.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;

use crate::{EXTERNAL_IP, Testbed};

/// How long the sender keeps trying to deliver the token.
const SEND_FOR: Duration = Duration::from_millis(1200);
/// Pause between the sender's attempts.
const RETRY_EVERY: Duration = Duration::from_millis(100);
/// How long the listener still waits once the sender has given up (bytes in flight).
const GRACE: Duration = Duration::from_millis(300);
/// The listener's hard limit, whatever the sender does.
const LISTEN_AT_MOST: Duration = Duration::from_secs(6);

/// Send a unique token from the wan namespace to `EXTERNAL_IP:external_port`
/// and report whether a listener on the LAN host's `internal_port` got it.
pub fn reaches(tb: &Testbed, protocol: Protocol, external_port: u16, internal_port: u16) -> bool {
    static N: AtomicU64 = AtomicU64::new(0);
    let token = format!(
        "pfwd-probe-{}-{}-{:?}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        Instant::now()
    );
    let target = SocketAddrV4::new(EXTERNAL_IP, external_port);
    let (ready_tx, ready_rx) = mpsc::channel();
    let received = AtomicBool::new(false);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let listen = Listen {
        port: internal_port,
        token: &token,
        ready: ready_tx,
        sender_done: done_rx,
        received: &received,
    };
    std::thread::scope(|s| {
        let listener = s.spawn(|| {
            tb.lan().run(|| match protocol {
                Protocol::Tcp => listen_tcp(listen),
                Protocol::Udp => listen_udp(listen),
            })
        });
        if ready_rx.recv_timeout(Duration::from_secs(5)).is_ok() {
            tb.wan().run(|| match protocol {
                Protocol::Tcp => send_tcp(target, &token, &received),
                Protocol::Udp => send_udp(target, &token, &received),
            });
        }
        drop(done_tx);
        listener.join().unwrap_or(false)
    })
}

/// What the listener needs: where to listen, what to expect, and how to
/// learn that the sender has finished.
struct Listen<'a> {
    port: u16,
    token: &'a str,
    ready: mpsc::Sender<()>,
    sender_done: mpsc::Receiver<()>,
    received: &'a AtomicBool,
}

impl Listen<'_> {
    /// Whether to keep listening: before the hard limit, and until `GRACE`
    /// after the sender has finished.
    fn keep_going(&self, started: Instant, sender_done_at: &mut Option<Instant>) -> bool {
        if sender_done_at.is_none()
            && matches!(
                self.sender_done.try_recv(),
                Err(mpsc::TryRecvError::Disconnected)
            )
        {
            *sender_done_at = Some(Instant::now());
        }
        let now = Instant::now();
        now < started + LISTEN_AT_MOST && sender_done_at.is_none_or(|at| now < at + GRACE)
    }

    fn got(&self) -> bool {
        self.received.store(true, Ordering::SeqCst);
        true
    }
}

fn listen_tcp(l: Listen<'_>) -> bool {
    let Ok(listener) = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, l.port)) else {
        return false;
    };
    listener.set_nonblocking(true).unwrap();
    let _ = l.ready.send(());
    let started = Instant::now();
    let mut done_at = None;
    while l.keep_going(started, &mut done_at) {
        match listener.accept() {
            Ok((mut conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(SEND_FOR)).unwrap();
                let mut got = Vec::new();
                let _ = conn.read_to_end(&mut got);
                if got == l.token.as_bytes() {
                    return l.got();
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    false
}

fn listen_udp(l: Listen<'_>) -> bool {
    let Ok(sock) = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, l.port)) else {
        return false;
    };
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let _ = l.ready.send(());
    let started = Instant::now();
    let mut done_at = None;
    let mut buf = [0u8; 256];
    while l.keep_going(started, &mut done_at) {
        if let Ok(n) = sock.recv(&mut buf)
            && &buf[..n] == l.token.as_bytes()
        {
            return l.got();
        }
    }
    false
}

/// Connect and send the token, retrying a refused or timed-out connection
/// until `SEND_FOR` has passed or the listener has the token.
fn send_tcp(target: SocketAddrV4, token: &str, received: &AtomicBool) {
    let until = Instant::now() + SEND_FOR;
    while Instant::now() < until && !received.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if let Ok(mut s) =
            TcpStream::connect_timeout(&target.into(), left.max(Duration::from_millis(50)))
        {
            // Delivered: the listener decides whether it was ours.
            let _ = s.write_all(token.as_bytes());
            return;
        }
        std::thread::sleep(RETRY_EVERY);
    }
}

/// Send the token a few times from one fresh socket (a fresh source port, so
/// no stale conntrack entry) until `SEND_FOR` has passed or it arrived.
fn send_udp(target: SocketAddrV4, token: &str, received: &AtomicBool) {
    let Ok(sock) = UdpSocket::bind("0.0.0.0:0") else {
        return;
    };
    let until = Instant::now() + SEND_FOR;
    while Instant::now() < until && !received.load(Ordering::SeqCst) {
        let _ = sock.send_to(token.as_bytes(), target);
        std::thread::sleep(RETRY_EVERY);
    }
}
