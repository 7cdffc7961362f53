//! Where a UPnP-only `pfwd map` spends its time, phase by phase, against
//! the testbed's miniupnpd: the router's SSDP answer (a raw M-SEARCH on a
//! plain socket), the two descriptions (plain HTTP GETs), and the SOAP
//! calls (pfwd's backend, with the descriptions remembered). Each phase is
//! timed on its own, in the LAN namespace.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use pfwd_core::wire::ssdp;
use pfwd_core::{Forwarder, MappingRequest, Protocol, Upnp, UpnpOptions};

use crate::bench::median_ms;
use crate::{GATEWAY_LAN, GatewayConfig, HTTP_PORT, Testbed};

/// One M-SEARCH to the router, timed to its answer.
fn search_once() -> std::io::Result<Duration> {
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.set_read_timeout(Some(Duration::from_secs(3)))?;
    let to = SocketAddr::from((GATEWAY_LAN, ssdp::PORT));
    let message = ssdp::search(GATEWAY_LAN, ssdp::PORT, ssdp::IGD_V1, ssdp::MX);
    let mut buf = [0u8; 2048];
    let t = Instant::now();
    socket.send_to(&message, to)?;
    socket.recv_from(&mut buf)?;
    Ok(t.elapsed())
}

/// One HTTP GET of `path` on the router, timed from connect to the last byte.
fn get_once(path: &str) -> std::io::Result<Duration> {
    let t = Instant::now();
    let mut c = TcpStream::connect((GATEWAY_LAN, HTTP_PORT))?;
    c.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {GATEWAY_LAN}:{HTTP_PORT}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = Vec::new();
    c.read_to_end(&mut body)?;
    Ok(t.elapsed())
}

/// Measure `runs` times and print the breakdown.
///
/// # Errors
///
/// When the testbed cannot be built or a phase fails.
pub fn print(runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let tb = Testbed::new(GatewayConfig::upnp_only())?;
    let dir = std::env::temp_dir().join(format!("{}-phases", tb.namespaces()[0]));
    let (mut search, mut root, mut scpd) = (vec![], vec![], vec![]);
    let (mut first, mut remembered, mut external, mut map) = (vec![], vec![], vec![], vec![]);
    for i in 0..runs {
        search.push(tb.lan().run(search_once)?);
        root.push(tb.lan().run(|| get_once("/rootDesc.xml"))?);
        scpd.push(tb.lan().run(|| get_once("/WANIPCn.xml"))?);
        let port = 22000 + i as u16;
        tb.lan().block_on(|| async {
            let options = || {
                let mut o = UpnpOptions::default();
                o.cache_dir = Some(dir.clone());
                o
            };
            let _ = std::fs::remove_dir_all(&dir);
            let t = Instant::now();
            Upnp::discover_with(options()).await?;
            first.push(t.elapsed());
            let t = Instant::now();
            let upnp = Upnp::discover_with(options()).await?;
            remembered.push(t.elapsed());
            let t = Instant::now();
            upnp.external_address().await?;
            external.push(t.elapsed());
            let request = MappingRequest::builder(Protocol::Tcp, port).build()?;
            let t = Instant::now();
            let m = upnp.map(&request).await?;
            map.push(t.elapsed());
            upnp.unmap(&m).await
        })?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("UPnP only, miniupnpd 2.3.1, {runs} runs (medians, ms), each phase on its own:");
    println!();
    println!("| phase | ms |");
    println!("|---|--:|");
    for (name, v) in [
        (
            "the router's SSDP answer to one M-SEARCH (its own delay)",
            search,
        ),
        ("the root description, one HTTP GET", root),
        ("the WANIPConnection SCPD, one HTTP GET", scpd),
        (
            "pfwd: discovery on first sight (search + descriptions)",
            first,
        ),
        (
            "pfwd: discovery, the router remembered (one SOAP call)",
            remembered,
        ),
        ("pfwd: GetExternalIPAddress (SOAP)", external),
        (
            "pfwd: the mapping (AddPortMapping; the address is fresh)",
            map,
        ),
    ] {
        println!("| {name} | {:.1} |", median_ms(v));
    }
    Ok(())
}
