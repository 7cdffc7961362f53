//! Proof that a pinhole works: bytes sent over IPv6 from the internet
//! namespace to the LAN host's own global address reach a listener there.
//! The IPv6 twin of [`crate::traffic`] (same timings, same retries: a
//! router may answer a moment before its rule is live), for the
//! [dual-stack](crate::dual_stack) testbed.

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;

use crate::dual_stack::LAN_HOST6;
use crate::{Netns, Testbed};

/// How long the sender keeps trying to deliver the token.
const SEND_FOR: Duration = Duration::from_millis(1200);
/// Pause between the sender's attempts.
const RETRY_EVERY: Duration = Duration::from_millis(100);
/// How long the listener still waits once the sender has given up.
const GRACE: Duration = Duration::from_millis(300);
/// The listener's hard limit, whatever the sender does.
const LISTEN_AT_MOST: Duration = Duration::from_secs(6);

/// Send a unique token from the wan namespace to `[LAN_HOST6]:port` and
/// report whether a listener on the LAN host's `port` got it: whether the
/// router's IPv6 firewall lets `protocol` `port` in.
pub fn reaches_v6(tb: &Testbed, protocol: Protocol, port: u16) -> bool {
    reaches_v6_at(tb, tb.wan(), LAN_HOST6, protocol, port)
}

/// Send a unique token from the namespace `from` to `[address]:port` and
/// report whether a listener on the LAN host (on `[::]:port`) got it.
pub fn reaches_v6_at(
    tb: &Testbed,
    from: &Netns,
    address: Ipv6Addr,
    protocol: Protocol,
    port: u16,
) -> bool {
    static N: AtomicU64 = AtomicU64::new(0);
    let token = format!(
        "pfwd-probe6-{}-{}-{:?}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        Instant::now()
    );
    let target = SocketAddr::V6(SocketAddrV6::new(address, port, 0, 0));
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let received = AtomicBool::new(false);
    let (token, received) = (&token, &received);
    std::thread::scope(|s| {
        let listener = s.spawn(move || {
            tb.lan()
                .run(move || listen(protocol, port, token, &ready_tx, &done_rx, received))
        });
        if ready_rx.recv_timeout(Duration::from_secs(5)).is_ok() {
            from.run(|| send(protocol, target, token, received));
        }
        drop(done_tx);
        listener.join().unwrap_or(false)
    })
}

/// Listen on `[::]:port` until the token arrives, the sender has been done
/// for [`GRACE`], or [`LISTEN_AT_MOST`] has passed.
fn listen(
    protocol: Protocol,
    port: u16,
    token: &str,
    ready: &mpsc::Sender<()>,
    sender_done: &mpsc::Receiver<()>,
    received: &AtomicBool,
) -> bool {
    let any = SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0);
    let started = Instant::now();
    let mut done_at: Option<Instant> = None;
    let mut keep_going = || {
        if done_at.is_none()
            && matches!(
                sender_done.try_recv(),
                Err(mpsc::TryRecvError::Disconnected)
            )
        {
            done_at = Some(Instant::now());
        }
        let now = Instant::now();
        now < started + LISTEN_AT_MOST && done_at.is_none_or(|at| now < at + GRACE)
    };
    let got = || {
        received.store(true, Ordering::SeqCst);
        true
    };
    match protocol {
        Protocol::Tcp => {
            let Ok(listener) = TcpListener::bind(any) else {
                return false;
            };
            if listener.set_nonblocking(true).is_err() {
                return false;
            }
            let _ = ready.send(());
            while keep_going() {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(SEND_FOR));
                        let mut bytes = Vec::new();
                        let _ = conn.read_to_end(&mut bytes);
                        if bytes == token.as_bytes() {
                            return got();
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            false
        }
        Protocol::Udp => {
            let Ok(sock) = UdpSocket::bind(any) else {
                return false;
            };
            if sock
                .set_read_timeout(Some(Duration::from_millis(50)))
                .is_err()
            {
                return false;
            }
            let _ = ready.send(());
            let mut buf = [0u8; 256];
            while keep_going() {
                if let Ok(n) = sock.recv(&mut buf)
                    && &buf[..n] == token.as_bytes()
                {
                    return got();
                }
            }
            false
        }
    }
}

/// Deliver the token: TCP connections retried while refused or timed out,
/// or UDP datagrams from one fresh socket (a fresh source port: no stale
/// conntrack entry), until [`SEND_FOR`] has passed or it arrived.
fn send(protocol: Protocol, target: SocketAddr, token: &str, received: &AtomicBool) {
    let until = Instant::now() + SEND_FOR;
    let udp = match protocol {
        Protocol::Udp => match UdpSocket::bind("[::]:0") {
            Ok(s) => Some(s),
            Err(_) => return,
        },
        Protocol::Tcp => None,
    };
    while Instant::now() < until && !received.load(Ordering::SeqCst) {
        match &udp {
            Some(sock) => {
                let _ = sock.send_to(token.as_bytes(), target);
            }
            None => {
                let left = until.saturating_duration_since(Instant::now());
                if let Ok(mut s) =
                    TcpStream::connect_timeout(&target, left.max(Duration::from_millis(50)))
                {
                    let _ = s.write_all(token.as_bytes());
                    return;
                }
            }
        }
        std::thread::sleep(RETRY_EVERY);
    }
}
