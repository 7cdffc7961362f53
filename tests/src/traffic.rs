//! Proof that a mapping works: bytes sent from the internet namespace to the
//! router's public address reach a listener on the LAN host. Behind a
//! carrier, the same proof from the carrier's namespace to the router's WAN
//! address shows that the router's mapping itself works.
//!
//! The sender tries for a short while rather than once: a router may answer a
//! mapping request a moment before its forwarding rule is live, and a single
//! SYN refused in that moment would fail a test for a mapping that works. The
//! listener stops shortly after the sender has given up, so a port that is
//! *not* forwarded is reported about as quickly as before.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;

use crate::{CARRIER_ROUTER_IP, EXTERNAL_IP, Netns, Testbed, WAN_HOST};

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
///
/// Behind a carrier this is false even for a mapping the router granted:
/// the carrier forwards nothing inbound.
pub fn reaches(tb: &Testbed, protocol: Protocol, external_port: u16, internal_port: u16) -> bool {
    reaches_at(
        tb,
        tb.wan(),
        EXTERNAL_IP,
        protocol,
        external_port,
        internal_port,
    )
}

/// Send tokens from the wan namespace to `address:external_port` again and
/// again until one reaches the LAN host's `internal_port` or `limit` has
/// passed; how long it took. Each failed attempt takes about 1.5 s (the
/// sender's window and the listener's grace), so the figure is that coarse.
pub fn reaches_again_within(
    tb: &Testbed,
    address: Ipv4Addr,
    protocol: Protocol,
    external_port: u16,
    internal_port: u16,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if reaches_at(
            tb,
            tb.wan(),
            address,
            protocol,
            external_port,
            internal_port,
        ) {
            return Some(started.elapsed());
        }
        if started.elapsed() >= limit {
            return None;
        }
    }
}

/// Behind a carrier: send a unique token from the carrier's namespace to the
/// router's WAN address `CARRIER_ROUTER_IP:external_port` and report
/// whether a listener on the LAN host's `internal_port` got it (whether the
/// router's own mapping works). Panics on a testbed without a carrier.
pub fn reaches_from_carrier(
    tb: &Testbed,
    protocol: Protocol,
    external_port: u16,
    internal_port: u16,
) -> bool {
    let carrier = tb
        .carrier()
        .expect("reaches_from_carrier needs a testbed behind a carrier");
    reaches_at(
        tb,
        carrier,
        CARRIER_ROUTER_IP,
        protocol,
        external_port,
        internal_port,
    )
}

/// Send a unique token from the namespace `from` to `address:external_port`
/// and report whether a listener on the LAN host's `internal_port` got it.
pub fn reaches_at(
    tb: &Testbed,
    from: &Netns,
    address: Ipv4Addr,
    protocol: Protocol,
    external_port: u16,
    internal_port: u16,
) -> bool {
    static N: AtomicU64 = AtomicU64::new(0);
    let token = format!(
        "pfwd-probe-{}-{}-{:?}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        Instant::now()
    );
    let target = SocketAddrV4::new(address, external_port);
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
            from.run(|| match protocol {
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

/// Connect from the LAN host to a listener on the internet host
/// `WAN_HOST:port` and return the source address the listener saw: the
/// address the internet knows the LAN by ([`EXTERNAL_IP`] in both
/// topologies, through the router's or the carrier's masquerade). `None`
/// when no connection arrived within 5 s.
pub fn source_seen_in_wan(tb: &Testbed, port: u16) -> Option<SocketAddr> {
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::scope(|s| {
        let listener = s.spawn(|| {
            tb.wan().run(|| {
                let listener = TcpListener::bind(SocketAddrV4::new(WAN_HOST, port)).ok()?;
                listener.set_nonblocking(true).ok()?;
                let _ = ready_tx.send(());
                let until = Instant::now() + Duration::from_secs(5);
                while Instant::now() < until {
                    match listener.accept() {
                        Ok((_, peer)) => return Some(peer),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                None
            })
        });
        if ready_rx.recv_timeout(Duration::from_secs(5)).is_ok() {
            tb.lan().run(|| {
                let target = SocketAddr::from(SocketAddrV4::new(WAN_HOST, port));
                let _ = TcpStream::connect_timeout(&target, Duration::from_secs(3));
            });
        }
        listener.join().ok().flatten()
    })
}
