//! Forward a port to this machine with the automatic client, async: the
//! best method the router answers (PCP, NAT-PMP, then UPnP-IGD), or the
//! manual guide when none can.
//!
//! ```text
//! cargo run -p pfwd-core --example forward -- http 60    # TCP 80 for 60 s
//! cargo run -p pfwd-core --example forward -- 25565      # until Ctrl-C
//! ```
//!
//! Prints one line with the address the internet reaches, keeps the mapping
//! for SECONDS (or until Ctrl-C), then removes it and exits 0. When no
//! method can do it, prints how to do it by hand and exits 3; on bad input
//! prints the error and exits 2; other errors exit 1. For months rather
//! than minutes, hand the mapping to a `pfwd_core::lease::Keeper`, which
//! renews it and maps it again after a router restart (`keep_forwarded`).

use std::process::ExitCode;
use std::time::Duration;

use pfwd_core::{Error, MappingRequest, Protocol, forward, parse_port};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (request, seconds) = match request_from(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (client, mapping) = match forward(&request).await {
        Ok(done) => done,
        // No method could: here is exactly how to do it by hand on this router.
        Err(Error::Manual { instructions }) => {
            print!("{}", instructions.to_text());
            return ExitCode::from(3);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "forwarded: {} {} -> {} via {}, lease {}",
        mapping.protocol(),
        mapping.external(),
        mapping.internal(),
        mapping.method(),
        mapping.lease()
    );
    // Keep it for SECONDS, or until Ctrl-C.
    match seconds {
        Some(s) => tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(s)) => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    match client.unmap(&mapping).await {
        Ok(()) => {
            println!("removed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: could not remove the mapping: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `PORT|SERVICE [SECONDS]` as a request and the seconds to keep it.
fn request_from(args: &[String]) -> Result<(MappingRequest, Option<u64>), Error> {
    let usage = "usage: forward PORT|SERVICE [SECONDS]";
    let Some(port) = args.first() else {
        return Err(Error::invalid(usage));
    };
    let spec = parse_port(port)?;
    let seconds =
        match args.get(1) {
            Some(s) => Some(s.parse::<u64>().map_err(|_| {
                Error::invalid(format!("{s:?} is not a number of seconds: {usage}"))
            })?),
            None => None,
        };
    let protocol = spec.protocols().first().copied().unwrap_or(Protocol::Tcp);
    let request = MappingRequest::builder(protocol, spec.port)
        .description("pfwd example")
        .build()?;
    Ok((request, seconds))
}
