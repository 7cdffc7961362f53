//! Proof that a mapping works: bytes sent from the internet namespace to the
//! router's public address reach a listener on the LAN host.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;

use crate::{EXTERNAL_IP, Testbed};

/// How long a listener waits for the bytes.
const WAIT: Duration = Duration::from_millis(1500);

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
    std::thread::scope(|s| {
        let listener = s.spawn(|| {
            tb.lan().run(|| match protocol {
                Protocol::Tcp => listen_tcp(internal_port, &token, ready_tx),
                Protocol::Udp => listen_udp(internal_port, &token, ready_tx),
            })
        });
        if ready_rx.recv_timeout(Duration::from_secs(5)).is_ok() {
            tb.wan().run(|| match protocol {
                Protocol::Tcp => send_tcp(target, &token),
                Protocol::Udp => send_udp(target, &token),
            });
        }
        listener.join().unwrap_or(false)
    })
}

fn listen_tcp(port: u16, token: &str, ready: mpsc::Sender<()>) -> bool {
    let Ok(listener) = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)) else {
        return false;
    };
    listener.set_nonblocking(true).unwrap();
    let _ = ready.send(());
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((mut conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(WAIT)).unwrap();
                let mut got = Vec::new();
                let _ = conn.read_to_end(&mut got);
                if got == token.as_bytes() {
                    return true;
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    false
}

fn listen_udp(port: u16, token: &str, ready: mpsc::Sender<()>) -> bool {
    let Ok(sock) = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)) else {
        return false;
    };
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let _ = ready.send(());
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf)
            && &buf[..n] == token.as_bytes()
        {
            return true;
        }
    }
    false
}

fn send_tcp(target: SocketAddrV4, token: &str) {
    if let Ok(mut s) = TcpStream::connect_timeout(&target.into(), Duration::from_secs(1)) {
        let _ = s.write_all(token.as_bytes());
    }
}

fn send_udp(target: SocketAddrV4, token: &str) {
    // A fresh socket, so a fresh source port and no stale conntrack entry.
    let Ok(sock) = UdpSocket::bind("0.0.0.0:0") else {
        return;
    };
    for _ in 0..5 {
        let _ = sock.send_to(token.as_bytes(), target);
        std::thread::sleep(Duration::from_millis(60));
    }
}
