//! Timings in the testbed: pfwd per method against the reference clients
//! (`natpmpc` from libnatpmp, `upnpc` from miniupnpc), alternating in one run
//! and cleaning the gateway between runs so a filling ruleset skews nothing.

use std::time::{Duration, Instant};

use pfwd_core::{Client, Error, Forwarder, MappingRequest, NatPmp, Pcp, Protocol, Upnp};

use crate::{GatewayConfig, LAN_HOST, Testbed};

/// The median of `v`, in milliseconds (NaN when empty).
pub(crate) fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v.get(v.len() / 2)
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// Run a whole process in the LAN namespace and time it.
fn timed(
    tb: &Testbed,
    program: &str,
    args: &[&str],
) -> Result<(Duration, String), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let out = tb.lan().command(program).args(args).output()?;
    let took = t.elapsed();
    Ok((
        took,
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

/// In-process pfwd figures for one method: discovery, map, external address.
#[derive(Default)]
struct Phases {
    discover: Vec<Duration>,
    map: Vec<Duration>,
    external: Vec<Duration>,
}

async fn phases<F, Fut>(discover: F, port: u16, into: &mut Phases) -> pfwd_core::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = pfwd_core::Result<Box<dyn Forwarder>>>,
{
    let t = Instant::now();
    let f = discover().await?;
    into.discover.push(t.elapsed());
    let t = Instant::now();
    let m = f
        .map(&MappingRequest::builder(Protocol::Tcp, port).build()?)
        .await?;
    into.map.push(t.elapsed());
    let t = Instant::now();
    f.external_address().await?;
    into.external.push(t.elapsed());
    f.unmap(&m).await
}

/// Measure and print the table.
///
/// # Errors
///
/// When the testbed cannot be built or a client fails to map.
pub fn timings(runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let tb = Testbed::new(GatewayConfig::all_on())?;
    let lan = LAN_HOST.to_string();
    let (mut pcp, mut pmp, mut upnp) = (Phases::default(), Phases::default(), Phases::default());
    let (mut natpmpc, mut upnpc) = (vec![], vec![]);
    for i in 0..runs {
        let port = 20000 + i as u16;
        let p = port.to_string();
        tb.lan().block_on(|| async {
            phases(
                || async { Ok(Box::new(Pcp::discover().await?) as Box<dyn Forwarder>) },
                port,
                &mut pcp,
            )
            .await?;
            phases(
                || async { Ok(Box::new(NatPmp::discover().await?) as Box<dyn Forwarder>) },
                port,
                &mut pmp,
            )
            .await?;
            phases(
                || async { Ok(Box::new(Upnp::discover().await?) as Box<dyn Forwarder>) },
                port,
                &mut upnp,
            )
            .await
        })?;
        let (t, out) = timed(&tb, "natpmpc", &["-a", &p, &p, "tcp", "600"])?;
        if !out.contains("Mapped public port") {
            return Err(format!("natpmpc did not map: {out}").into());
        }
        natpmpc.push(t);
        timed(&tb, "natpmpc", &["-a", &p, &p, "tcp", "0"])?;
        let (t, out) = timed(
            &tb,
            "upnpc",
            &["-e", "ref", "-a", &lan, &p, &p, "TCP", "600"],
        )?;
        if !out.contains("is redirected") {
            return Err(format!("upnpc did not map: {out}").into());
        }
        upnpc.push(t);
        timed(&tb, "upnpc", &["-d", &p, "TCP"])?;
    }

    let none = Testbed::new(GatewayConfig::no_daemon())?;
    let mut none_pmp = vec![];
    let mut none_upnp = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        let r = none
            .lan()
            .block_on(|| async { NatPmp::discover().await.map(|_| ()) });
        none_pmp.push(t.elapsed());
        let t = Instant::now();
        let u = none
            .lan()
            .block_on(|| async { Upnp::discover().await.map(|_| ()) });
        none_upnp.push(t.elapsed());
        if r.is_ok() || u.is_ok() {
            return Err("a gateway answered where none runs".into());
        }
    }
    let (natpmpc_none, _) = timed(&none, "natpmpc", &["-a", "8080", "8080", "tcp", "600"])?;

    // The automatic client, one call from nothing to a mapping (or the guide).
    let auto =
        |tb: &Testbed, port: u16| -> Result<(Duration, String), Box<dyn std::error::Error>> {
            let r = tb.lan().block_on(|| async {
                let t = Instant::now();
                let client = Client::discover().await?;
                let request = MappingRequest::builder(Protocol::Tcp, port).build()?;
                let outcome = match client.map(&request).await {
                    Ok(m) => {
                        let took = t.elapsed();
                        client.unmap(&m).await?;
                        return Ok((took, m.method().to_string()));
                    }
                    Err(Error::Manual { .. }) => "guide".to_string(),
                    Err(e) => return Err(e),
                };
                Ok::<_, pfwd_core::Error>((t.elapsed(), outcome))
            });
            Ok(r?)
        };
    let upnp_only = Testbed::new(GatewayConfig::upnp_only())?;
    let (mut auto_all, mut auto_upnp, mut auto_none) = (vec![], vec![], vec![]);
    for i in 0..runs {
        let port = 21000 + i as u16;
        for (tb, into, expect) in [
            (&tb, &mut auto_all, "PCP"),
            (&upnp_only, &mut auto_upnp, "UPnP-IGD"),
            (&none, &mut auto_none, "guide"),
        ] {
            let (took, outcome) = auto(tb, port)?;
            if outcome != expect {
                return Err(
                    format!("the automatic client answered {outcome}, expected {expect}").into(),
                );
            }
            into.push(took);
        }
    }
    let (upnpc_none, _) = timed(&none, "upnpc", &["-a", &lan, "8080", "8080", "TCP"])?;

    println!(
        "miniupnpd 2.3.1 in the testbed, {runs} runs, pfwd and the reference clients alternating (medians, ms)"
    );
    println!();
    println!("| pfwd, in process     | discovery | map (+ external address) | external address |");
    println!("|----------------------|----------:|-------------------------:|-----------------:|");
    for (name, p) in [("PCP", pcp), ("NAT-PMP", pmp), ("UPnP-IGD", upnp)] {
        println!(
            "| {name:<20} | {:9.1} | {:24.1} | {:16.1} |",
            median_ms(p.discover),
            median_ms(p.map),
            median_ms(p.external)
        );
    }
    println!();
    println!("| reference, whole process | map one port |");
    println!("|--------------------------|-------------:|");
    println!("| natpmpc -a               | {:12.1} |", median_ms(natpmpc));
    println!("| upnpc -a                 | {:12.1} |", median_ms(upnpc));
    println!();
    println!("| no gateway daemon          | reported after |");
    println!("|----------------------------|---------------:|");
    println!(
        "| pfwd NAT-PMP/PCP discovery | {:14.1} |",
        median_ms(none_pmp)
    );
    println!(
        "| pfwd UPnP discovery        | {:14.1} |",
        median_ms(none_upnp)
    );
    println!(
        "| natpmpc -a (1 run)         | {:14.1} |",
        natpmpc_none.as_secs_f64() * 1000.0
    );
    println!(
        "| upnpc -a (1 run)           | {:14.1} |",
        upnpc_none.as_secs_f64() * 1000.0
    );
    println!();
    println!("| automatic client (Client::discover + map), in process | to the answer |");
    println!("|-------------------------------------------------------|--------------:|");
    for (case, v) in [
        ("everything on (PCP wins)", auto_all),
        ("UPnP only", auto_upnp),
        ("no gateway daemon (the guide)", auto_none),
    ] {
        println!("| {case:<53} | {:13.1} |", median_ms(v));
    }
    Ok(())
}
