//! Forward a port on the home router to a server on this LAN, over UPnP.
//!
//! ```text
//! cargo run -p pfwd-core --example forward_port -- 8080            # to this machine
//! cargo run -p pfwd-core --example forward_port -- 80 192.168.1.4  # to the Pi at .4
//! cargo run -p pfwd-core --example forward_port -- 80 192.168.1.4 60  # keep it 60 s
//! ```
//!
//! It maps the port, prints where the server is reachable from the
//! internet, keeps the mapping for the given number of seconds (default 0),
//! then removes it.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use pfwd_core::{Forwarder, MappingRequest, Protocol, Upnp};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: forward_port PORT [LAN-HOST] [SECONDS]";
    let port: u16 = args
        .next()
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("PORT must be 1-65535 ({e})"))?;
    let host: Option<Ipv4Addr> =
        match args.next() {
            Some(h) => Some(h.parse().map_err(|e| {
                format!("LAN-HOST must be an IPv4 address such as 192.168.1.4 ({e})")
            })?),
            None => None,
        };
    let hold: u64 = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|e| format!("SECONDS must be a whole number ({e})"))?,
        None => 0,
    };

    let mut request = MappingRequest::builder(Protocol::Tcp, port).description("pfwd example");
    if let Some(host) = host {
        request = request.internal_ip(host);
    }
    let request = request.build()?;

    let router = Upnp::discover().await?;
    let mapping = router.map(&request).await?;
    println!("mapped: {mapping}");
    println!("reachable from the internet at {}", mapping.external());

    tokio::time::sleep(Duration::from_secs(hold)).await;
    router.unmap(&mapping).await?;
    println!("unmapped");
    Ok(())
}
