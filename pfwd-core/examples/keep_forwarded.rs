//! Forward a port to this machine and keep it forwarded, with the blocking
//! API (no async runtime of your own): what the Python package and the C
//! library do underneath.
//!
//! ```text
//! cargo run -p pfwd-core --features blocking --example keep_forwarded -- 8080 60
//! ```
//!
//! Prints one line with the address the internet reaches, then each lease
//! event; after SECONDS (default 30) removes the mapping and exits 0. When
//! the router cannot be asked, prints the manual guide and exits 3; on bad
//! input prints the error and exits 2.

use std::process::ExitCode;
use std::time::Duration;

use pfwd_core::blocking::{Call, Client};
use pfwd_core::lease::{Keep, KeeperOptions};
use pfwd_core::{ClientOptions, Error, MappingRequest, Protocol, parse_port};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: keep_forwarded PORT|SERVICE [SECONDS]";
    let (Some(port), seconds) = (args.first(), args.get(1)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let parsed = parse_port(port).map_err(Error::from).and_then(|spec| {
        let secs = match seconds {
            Some(s) => s.parse::<u64>().map_err(|_| {
                Error::invalid(format!("{s:?} is not a number of seconds: {usage}"))
            })?,
            None => 30,
        };
        Ok((spec.port, secs))
    });
    let (port, secs) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(port, Duration::from_secs(secs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Manual { instructions }) => {
            print!("{}", instructions.to_text());
            ExitCode::from(3)
        }
        Err(e @ Error::InvalidRequest { .. }) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(port: u16, keep_for: Duration) -> pfwd_core::Result<()> {
    let request = MappingRequest::builder(Protocol::Tcp, port)
        .lease(Duration::from_secs(600))
        .description("pfwd example")
        .build()?;
    // One round trip on a PCP router; the guide when nothing can map.
    let (client, mapping) = Client::forward(ClientOptions::default(), &request, &Call::new())?;
    println!("forwarded: {mapping}");
    // The keeper adopts the mapping: renews it, repairs it after a router
    // restart, and reports each step on a thread of its own.
    let keeper = client.keep([Keep::held(request, mapping)], KeeperOptions::default())?;
    keeper.on_event(|event| println!("event: {event}"))?;
    std::thread::sleep(keep_for);
    let report = keeper.close(&Call::new())?;
    println!("closed: {report}");
    Ok(())
}
