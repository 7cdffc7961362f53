//! What checks from outside need (the probe server's tests): port forwards
//! and drops written by hand into the router's firewall (no daemon needed),
//! small servers that echo, answer something else or stay silent, and a
//! raw HTTP/1.1 client that sends exactly the bytes a test gives.
//!
//! Everything here runs inside the testbed's namespaces.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pfwd_core::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{EXTERNAL_IP, LAN_HOST, Netns, Testbed};

/// The table a test's own router rules go in (input to the router itself).
const TEST_TABLE: &str = "pfwdtest";

fn proto(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

impl Testbed {
    /// Forward `protocol` `port` on the router's public address to the
    /// same port of the LAN host, as a user does by hand in the router's
    /// settings: a DNAT rule and a forward accept, in miniupnpd's chains
    /// (which exist, empty, without the daemon).
    pub fn forward_by_hand(&self, protocol: Protocol, port: u16) -> io::Result<()> {
        let p = proto(protocol);
        let port = port.to_string();
        let to = format!("{LAN_HOST}:{port}");
        self.gw().exec(
            "nft",
            &[
                "add",
                "rule",
                "inet",
                "nat",
                "miniupnpd",
                "ip",
                "daddr",
                &EXTERNAL_IP.to_string(),
                p,
                "dport",
                &port,
                "dnat",
                "ip",
                "to",
                &to,
            ],
        )?;
        self.gw().exec(
            "nft",
            &[
                "add",
                "rule",
                "inet",
                "filter",
                "miniupnpd",
                "ip",
                "daddr",
                &LAN_HOST.to_string(),
                p,
                "dport",
                &port,
                "accept",
            ],
        )?;
        Ok(())
    }

    /// Make the router itself treat `protocol` `port` arriving for it with
    /// `verdict`: `drop` (silence) or `reject with icmpx type host-unreachable`.
    pub fn at_router(&self, protocol: Protocol, port: u16, verdict: &str) -> io::Result<()> {
        let gw = self.gw();
        if !gw.exec("nft", &["list", "tables"])?.contains(TEST_TABLE) {
            gw.exec("nft", &["add", "table", "inet", TEST_TABLE])?;
            gw.exec(
                "nft",
                &[
                    "add",
                    "chain",
                    "inet",
                    TEST_TABLE,
                    "input",
                    "{ type filter hook input priority 0; policy accept; }",
                ],
            )?;
        }
        let mut args = vec![
            "add".to_string(),
            "rule".into(),
            "inet".into(),
            TEST_TABLE.into(),
            "input".into(),
            proto(protocol).into(),
            "dport".into(),
            port.to_string(),
        ];
        args.extend(verdict.split_whitespace().map(str::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gw.exec("nft", &args)?;
        Ok(())
    }
}

/// What a [`Server`] does with what arrives.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Send back what came: a TCP line, a UDP datagram.
    Echo,
    /// Send these bytes (a TCP banner or a UDP datagram) and, for TCP, close.
    Say(&'static [u8]),
    /// Take it and answer nothing.
    Silent,
}

/// A small server in a namespace, counting what arrives, until dropped.
#[derive(Debug)]
pub struct Server {
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Start a `protocol` server on `addr` inside `ns`, ready when this returns.
    pub fn start(ns: &Netns, protocol: Protocol, addr: SocketAddr, behaviour: Behaviour) -> Server {
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = mpsc::channel();
        let name = ns.name().to_string();
        let (s, h) = (stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            Netns::attach(&name).run(move || match protocol {
                Protocol::Tcp => serve_tcp(addr, behaviour, &s, &h, ready_tx),
                Protocol::Udp => serve_udp(addr, behaviour, &s, &h, ready_tx),
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("the {protocol} server on {addr} did not start"))
            .unwrap_or_else(|e| panic!("the {protocol} server on {addr}: {e}"));
        Server {
            stop,
            hits,
            thread: Some(thread),
        }
    }

    /// Connections (TCP) or datagrams (UDP) received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_tcp(
    addr: SocketAddr,
    behaviour: Behaviour,
    stop: &AtomicBool,
    hits: &AtomicUsize,
    ready: mpsc::Sender<io::Result<()>>,
) {
    let listener = match TcpListener::bind(addr).and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    }) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut held = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let Ok((mut conn, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        hits.fetch_add(1, Ordering::SeqCst);
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(Duration::from_secs(3)));
        match behaviour {
            Behaviour::Echo => {
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while line.len() < 1024 && conn.read(&mut byte).is_ok_and(|n| n == 1) {
                    line.push(byte[0]);
                    if byte[0] == b'\n' {
                        break;
                    }
                }
                let _ = conn.write_all(&line);
            }
            Behaviour::Say(bytes) => {
                let _ = conn.write_all(bytes);
            }
            // Kept open until the server stops: the prober waits for an answer.
            Behaviour::Silent => held.push(conn),
        }
    }
}

fn serve_udp(
    addr: SocketAddr,
    behaviour: Behaviour,
    stop: &AtomicBool,
    hits: &AtomicUsize,
    ready: mpsc::Sender<io::Result<()>>,
) {
    let socket = match UdpSocket::bind(addr).and_then(|s| {
        s.set_read_timeout(Some(Duration::from_millis(20)))?;
        Ok(s)
    }) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        hits.fetch_add(1, Ordering::SeqCst);
        match behaviour {
            Behaviour::Echo => {
                let _ = socket.send_to(&buf[..n], from);
            }
            Behaviour::Say(bytes) => {
                let _ = socket.send_to(bytes, from);
            }
            Behaviour::Silent => {}
        }
    }
}

/// An HTTP answer as it came, or the lack of one.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// The status, or `None` when the connection ended without an answer
    /// (closed, reset, or nothing in time).
    pub status: Option<u16>,
    /// The status line and headers.
    pub head: String,
    /// The body.
    pub body: String,
    /// From connecting to the end of the answer.
    pub took: Duration,
}

impl HttpAnswer {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A `POST /v1/probe` with `body` and any `extra` header lines (each
/// ending in `\r\n`).
pub fn probe_request(body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST /v1/probe HTTP/1.1\r\nHost: prober\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Send `request` to `to` (writing while reading, so a large request and
/// an early answer do not block each other) and read the answer until the
/// server closes, for at most `within`.
pub async fn http(to: SocketAddr, request: Vec<u8>, within: Duration) -> HttpAnswer {
    let started = Instant::now();
    let none = |took| HttpAnswer {
        status: None,
        head: String::new(),
        body: String::new(),
        took,
    };
    let stream = match tokio::time::timeout(within, TcpStream::connect(to)).await {
        Ok(Ok(s)) => s,
        _ => return none(started.elapsed()),
    };
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        // Keep the write half open: a half-close reads as "done" to some servers.
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(wr);
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(within, rd.read_to_end(&mut got)).await;
    writer.abort();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&got).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return none(took);
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    HttpAnswer {
        status,
        head: head.to_string(),
        body: body.to_string(),
        took,
    }
}
