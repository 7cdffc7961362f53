//! pfwd's own listener for a check: while the prober probes, it holds the
//! free port and sends the one-time token back, so a returned token proves
//! the path reaches this host.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::messages::{MAX_REPLY, Token};
use crate::model::Protocol;

/// How long pfwd's listener waits for the token on one connection.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// A listener on the checked port: it answers the token and remembers
/// whether the token came.
#[derive(Debug)]
pub struct TokenListener {
    seen: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

/// Why pfwd could not hold the port.
#[derive(Debug)]
pub enum Hold {
    /// pfwd holds the port and listens.
    Held(TokenListener),
    /// Another program holds it (`EADDRINUSE`): a server is there.
    Taken,
    /// pfwd may not bind it (a port under 1024 without the right), or
    /// another error.
    Failed(std::io::Error),
}

impl TokenListener {
    /// Try to hold `port` for `protocol` on every address of this host,
    /// answering `token`.
    pub async fn hold(protocol: Protocol, port: u16, token: Token) -> Hold {
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        let seen = Arc::new(AtomicBool::new(false));
        let flag = seen.clone();
        let task = match protocol {
            Protocol::Tcp => match TcpListener::bind(addr).await {
                Ok(l) => tokio::spawn(serve_tcp(l, token, flag)),
                Err(e) => return refusal(e),
            },
            Protocol::Udp => match UdpSocket::bind(addr).await {
                Ok(s) => tokio::spawn(serve_udp(s, token, flag)),
                Err(e) => return refusal(e),
            },
        };
        Hold::Held(TokenListener { seen, task })
    }

    /// Whether the token has arrived.
    pub fn seen(&self) -> bool {
        self.seen.load(Ordering::SeqCst)
    }

    /// Forget that the token came (before probing another port with it).
    pub fn forget(&self) {
        self.seen.store(false, Ordering::SeqCst);
    }

    /// Stop listening (the port is free again) and say whether the token came.
    pub fn stop(self) -> bool {
        self.task.abort();
        self.seen()
    }
}

impl Drop for TokenListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn refusal(e: std::io::Error) -> Hold {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        Hold::Taken
    } else {
        Hold::Failed(e)
    }
}

async fn serve_tcp(listener: TcpListener, token: Token, seen: Arc<AtomicBool>) {
    while let Ok((mut conn, from)) = listener.accept().await {
        let token = token.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut got = Vec::with_capacity(MAX_REPLY);
            let read = async {
                let mut buf = [0u8; MAX_REPLY];
                while got.len() < MAX_REPLY && !got.contains(&b'\n') {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n.min(MAX_REPLY - got.len())]),
                    }
                }
            };
            let _ = tokio::time::timeout(READ_TIMEOUT, read).await;
            if token.is_in(&got) {
                seen.store(true, Ordering::SeqCst);
                log::debug!("check: the token came through from {from}");
                let line = format!("{token}\n");
                let _ = conn.write_all(line.as_bytes()).await;
                let _ = conn.shutdown().await;
            } else {
                log::debug!("check: {from} connected without the token");
            }
        });
    }
}

async fn serve_udp(sock: UdpSocket, token: Token, seen: Arc<AtomicBool>) {
    let mut buf = [0u8; MAX_REPLY];
    while let Ok((n, from)) = sock.recv_from(&mut buf).await {
        if token.is_in(&buf[..n]) {
            seen.store(true, Ordering::SeqCst);
            log::debug!("check: the token came through from {from}");
            let _ = sock.send_to(token.as_str().as_bytes(), from).await;
        }
    }
}
