//! pfwd's own SSDP search for the gateway (the codec is [`crate::wire::ssdp`]).
//!
//! Two sockets, both bound to this host's LAN address:
//! - the *probe*, connected to the gateway's SSDP port, sends the unicast
//!   search. Connected, it hears the router's ICMP "port unreachable" as
//!   `ECONNREFUSED`: nothing listens on UDP 1900, UPnP-IGD is off. Asked
//!   once more 25 ms later and refused again, the search ends with that
//!   "no" instead of waiting out the budget.
//! - the *listener*, not connected, sends the multicast search (with
//!   `UpnpOptions::multicast`; else one more unicast search, for the device
//!   only) and takes answers from the gateway's address on any port: some
//!   UPnP stacks (libupnp's) answer from a fresh socket, which the
//!   connected probe cannot receive.
//!
//! Only answers from the gateway's address count, and only with a
//! description on that address.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use log::debug;
use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep_until};

use super::UpnpOptions;
use crate::error::{Error, Result};
use crate::gateway::GatewayInfo;
use crate::mapping::Method;
use crate::wire::ssdp::{self, Response};

/// Search until the gateway answers usably or `deadline`; sends again after
/// `options.retry_interval`, doubling.
///
/// # Errors
///
/// [`Error::NoGateway`] when the gateway refused the search (ICMP) or
/// stayed silent; [`Error::InvalidResponse`] when it answered only with
/// answers pfwd cannot use; [`Error::Io`] when the sockets cannot be made.
pub(super) async fn search(
    info: &GatewayInfo,
    options: &UpnpOptions,
    deadline: Instant,
) -> Result<Response> {
    let started = Instant::now();
    let gateway = SocketAddrV4::new(info.gateway, options.ssdp_port);
    let bind = SocketAddr::V4(SocketAddrV4::new(info.local, 0));
    let socket = |what| move |e| Error::io(format!("opening a UDP socket for {what}"), e);
    let probe = UdpSocket::bind(bind)
        .await
        .map_err(socket("the SSDP search"))?;
    probe
        .connect(gateway)
        .await
        .map_err(socket("the SSDP search"))?;
    let listener = UdpSocket::bind(bind)
        .await
        .map_err(socket("the SSDP search"))?;
    let unicast: Vec<Vec<u8>> = ssdp::GATEWAY_TARGETS
        .iter()
        .map(|t| ssdp::search(info.gateway, options.ssdp_port, t, ssdp::MX))
        .collect();
    // The listener's searches: multicast, or the device by unicast.
    let group = SocketAddr::V4(SocketAddrV4::new(ssdp::MULTICAST_V4, ssdp::PORT));
    let from_listener: Vec<(Vec<u8>, SocketAddr)> = if options.multicast {
        ssdp::GATEWAY_TARGETS
            .iter()
            .map(|t| {
                (
                    ssdp::search(ssdp::MULTICAST_V4, ssdp::PORT, t, ssdp::MX),
                    group,
                )
            })
            .collect()
    } else {
        vec![(unicast[0].clone(), SocketAddr::V4(gateway))]
    };

    let mut next_try = started;
    let mut interval = options.retry_interval.max(Duration::from_millis(10));
    let mut tries = 0u32;
    let mut unusable: Option<String> = None;
    let mut others: Vec<SocketAddr> = Vec::new();
    let mut probe_buf = [0u8; ssdp::MAX_RESPONSE + 1];
    let mut listener_buf = [0u8; ssdp::MAX_RESPONSE + 1];
    let refused = || Error::NoGateway {
        refused: true,
        method: Some(Method::Upnp),
        detail: format!(
            "nothing listens on {gateway}: the router answered the SSDP search with ICMP port \
             unreachable, again {} ms later, so UPnP-IGD is switched off or absent",
            REFUSAL_CONFIRM.as_millis()
        ),
    };
    // The first refusal, and when to ask again to confirm it.
    let mut refused_at: Option<Instant> = None;
    let mut confirm_at: Option<Instant> = None;
    loop {
        tokio::select! {
            () = sleep_until(next_try), if next_try < deadline => {
                tries += 1;
                debug!("UPnP: SSDP search {tries} to {gateway}{}", if options.multicast { " and 239.255.255.250:1900" } else { "" });
                // The first try asks for the gateway device only (every
                // IGD answers it); the others for every target. Each search
                // is an answer miniupnpd still has pending while pfwd reads
                // its descriptions, and it serves HTTP slower for it: one
                // target first cut discovery from 78.5 to 66.5 ms.
                let targets = if tries == 1 { 1 } else { usize::MAX };
                for m in unicast.iter().take(targets) {
                    match probe.send(m).await {
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                            if is_final(&mut refused_at, &mut confirm_at) {
                                return Err(refused());
                            }
                        }
                        Err(e) => debug!("UPnP: the unicast search to {gateway} failed: {e}"),
                        Ok(_) => {}
                    }
                }
                for (m, to) in from_listener.iter().take(targets) {
                    if let Err(e) = listener.send_to(m, *to).await {
                        debug!("UPnP: the search to {to} failed: {e}");
                    }
                }
                next_try += interval;
                interval *= 2;
            }
            received = probe.recv(&mut probe_buf) => match received {
                Ok(n) => match consider(&probe_buf[..n], SocketAddr::V4(gateway), info) {
                    Answer::Usable(r) => return Ok(found(r, started)),
                    Answer::Unusable(why) => unusable = Some(why),
                    Answer::Foreign(_) => {}
                },
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    if is_final(&mut refused_at, &mut confirm_at) {
                        return Err(refused());
                    }
                }
                Err(e) => debug!("UPnP: receiving on the SSDP probe: {e}"),
            },
            () = sleep_until(confirm_at.unwrap_or(deadline)), if confirm_at.is_some_and(|c| c < deadline) => {
                confirm_at = None;
                debug!("UPnP: {gateway} refused the search; asking once more to be sure");
                if let Err(e) = probe.send(&unicast[0]).await {
                    if e.kind() == io::ErrorKind::ConnectionRefused {
                        return Err(refused());
                    }
                    debug!("UPnP: the unicast search to {gateway} failed: {e}");
                }
            },
            received = listener.recv_from(&mut listener_buf) => match received {
                Ok((n, from)) => match consider(&listener_buf[..n], from, info) {
                    Answer::Usable(r) => return Ok(found(r, started)),
                    Answer::Unusable(why) => unusable = Some(why),
                    Answer::Foreign(from) => others.push(from),
                },
                Err(e) => debug!("UPnP: receiving SSDP answers: {e}"),
            },
            () = sleep_until(deadline) => break,
        }
    }
    if refused_at.is_some() {
        // Refused once, and the budget ended before the second ask.
        return Err(refused());
    }
    let waited = started.elapsed().as_millis();
    let asked = if options.multicast {
        format!("{gateway} and {group}")
    } else {
        gateway.to_string()
    };
    Err(match unusable {
        Some(why) => Error::InvalidResponse {
            method: Method::Upnp,
            detail: format!(
                "the router answered the UPnP search, but not usably: {why} \
                 ({tries} searches sent to {asked} in {waited} ms)"
            ),
        },
        None if others.is_empty() => Error::NoGateway {
            refused: false,
            method: Some(Method::Upnp),
            detail: format!("no answer to {tries} SSDP searches sent to {asked} in {waited} ms"),
        },
        None => {
            others.sort();
            others.dedup();
            let others: Vec<String> = others.iter().map(ToString::to_string).collect();
            Error::NoGateway {
                refused: false,
                method: Some(Method::Upnp),
                detail: format!(
                    "no answer from the router to {tries} SSDP searches sent to {asked} in \
                     {waited} ms (only {}, not the default gateway, answered: pfwd asks only \
                     the gateway)",
                    others.join(", ")
                ),
            }
        }
    })
}

/// How long after a first ICMP "port unreachable" pfwd asks again before it
/// takes the refusal as the answer: 25 ms. One refusal may be a router
/// whose UPnP daemon is starting this very moment (miniupnpd opens its
/// SSDP socket just after it logs that HTTP listens); two, 25 ms apart,
/// are a router without one. Short, because that "no" is what a router
/// with UPnP switched off gives, the commonest case at home, and the guide
/// should follow within 50 ms; one ask more, because routers ration their
/// ICMP answers (Linux: one a second after a burst of six).
const REFUSAL_CONFIRM: Duration = Duration::from_millis(25);

/// A refusal seen now: true when it confirms one seen at least
/// [`REFUSAL_CONFIRM`] ago; else (the first) it schedules the confirming ask.
fn is_final(refused_at: &mut Option<Instant>, confirm_at: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    match *refused_at {
        Some(first) if now >= first + REFUSAL_CONFIRM => true,
        Some(_) => false,
        None => {
            debug!("UPnP: the SSDP search was refused (ICMP port unreachable)");
            *refused_at = Some(now);
            *confirm_at = Some(now + REFUSAL_CONFIRM);
            false
        }
    }
}

fn found(r: Response, started: Instant) -> Response {
    debug!(
        "UPnP: the gateway answered the search after {} ms: {} ({})",
        started.elapsed().as_millis(),
        r.location,
        r.server.as_deref().unwrap_or("no SERVER")
    );
    r
}

/// What a datagram on either socket is.
enum Answer {
    /// The gateway's usable answer.
    Usable(Response),
    /// The gateway's answer, and what is wrong with it.
    Unusable(String),
    /// Another host's: ignored (only the gateway is asked).
    Foreign(SocketAddr),
}

/// Read a datagram from `from`.
fn consider(datagram: &[u8], from: SocketAddr, info: &GatewayInfo) -> Answer {
    if from.ip() != IpAddr::V4(info.gateway) {
        debug!("UPnP: ignored an SSDP answer from {from}: not the gateway");
        return Answer::Foreign(from);
    }
    let response = match Response::decode(datagram) {
        Ok(r) => r,
        Err(e) => {
            debug!("UPnP: an unusable SSDP answer from {from}: {e}");
            return Answer::Unusable(e.to_string());
        }
    };
    if !response.is_gateway() {
        debug!("UPnP: {from} answered for {:?}, not a gateway", response.st);
        return Answer::Unusable(format!(
            "it answered for {}, not for an Internet Gateway Device",
            response.st.as_deref().unwrap_or("nothing")
        ));
    }
    if response.location.ip != IpAddr::V4(info.gateway) {
        return Answer::Unusable(format!(
            "its LOCATION {} is not on the router ({})",
            response.location, info.gateway
        ));
    }
    Answer::Usable(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// The fast "no": a router without a UPnP daemon answers the search
    /// with ICMP port unreachable, which the connected probe hears at once.
    /// Options for a gateway on loopback at `port`, no multicast.
    fn loopback(port: u16) -> UpnpOptions {
        UpnpOptions {
            multicast: false,
            ssdp_port: port,
            ..UpnpOptions::default()
        }
    }

    #[tokio::test]
    async fn a_closed_ssdp_port_is_a_fast_no() {
        // A port on loopback where nothing listens (bound, then closed).
        let port = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        let options = loopback(port);
        let info = GatewayInfo::for_gateway(Ipv4Addr::LOCALHOST).unwrap();
        let started = std::time::Instant::now();
        let deadline = Instant::now() + Duration::from_secs(2);
        let err = search(&info, &options, deadline).await.unwrap_err();
        let took = started.elapsed();
        assert!(took >= REFUSAL_CONFIRM, "{took:?}");
        assert!(took < Duration::from_millis(250), "{took:?}");
        assert!(matches!(err, Error::NoGateway { .. }), "{err:?}");
        let s = err.to_string();
        assert!(
            s.contains(&format!("nothing listens on 127.0.0.1:{port}")),
            "{s}"
        );
        assert!(
            s.contains("ICMP port unreachable, again 25 ms later"),
            "{s}"
        );
    }

    #[tokio::test]
    async fn garbage_from_the_gateway_is_named_and_others_are_ignored() {
        let router = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = router.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((_, from)) = router.recv_from(&mut buf).await {
                let _ = router
                    .send_to(b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n", from)
                    .await;
            }
        });
        let options = loopback(port);
        let info = GatewayInfo::for_gateway(Ipv4Addr::LOCALHOST).unwrap();
        let deadline = Instant::now() + Duration::from_millis(300);
        let err = search(&info, &options, deadline).await.unwrap_err();
        assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("answered the UPnP search, but not usably: no LOCATION header"),
            "{err}"
        );
    }
}
