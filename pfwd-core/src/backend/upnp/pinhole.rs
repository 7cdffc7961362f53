//! UPnP IGDv2 IPv6 pinholes (`urn:schemas-upnp-org:service:WANIPv6FirewallControl:1`):
//! a small SOAP client of pfwd's own next to igd-next.
//!
//! Why not igd-next's (its `ipv6` feature has `add_pinhole`): it sends
//! from whatever address the system picks, to the control URL of the
//! description it read, which is on the router's IPv4 address when the
//! router was found over IPv4. miniupnpd opens a pinhole only for the
//! address the request comes from (UPnP 606 otherwise, and an IPv4 sender
//! never matches an IPv6 InternalClient), so a request must come over
//! IPv6, from the very address the pinhole is for. This client binds its
//! TCP socket to that address before it connects.
//!
//! **Where the IPv6 control URL is.** The device description found over
//! IPv4 names the firewall service's control URL relative to its own
//! location (miniupnpd: `/ctl/IP6FCtl`, no URLBase). miniupnpd 2.3.1
//! serves HTTP on one socket for every address of its LAN interface (both
//! families, the link-local one too, the same port), so the IPv6 control
//! URL is the IPv4 one's port and path on the router's IPv6 address: the
//! IPv6 default router (often link-local, from router advertisements: give
//! its interface as the scope id) or the address an SSDP search to
//! `ff02::c` answers with (`LOCATION: http://[2001:db8:77::1]:5000/...`, the
//! first global address of its LAN interface). [`Firewall::at`] builds
//! that. (With `ipv6_listening_ip` set, miniupnpd 2.3.1 serves HTTP on
//! that IPv6 address only, and UPnP over IPv4 stops: such a router is found
//! over IPv6 or not at all.)
//!
//! Each call is one HTTP/1.1 exchange (`Connection: close`) with the
//! limits of the description fetch: connected within
//! [`HEADERS_WITHIN`](super::HEADERS_WITHIN) and all of it within the
//! request budget, an answer of at most [`MAX_ANSWER`] bytes, parsed by
//! the description's XML reader `parse_xml` (no DOCTYPE, bounded
//! nesting). Not wired into the forwarder: the IPv6 forwarder calls these.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use tokio::net::TcpSocket;
use tokio::time::{Instant, timeout_at};

use super::description::{HEADERS_WITHIN, parse_xml};
use super::soap::refused;
use crate::error::{Error, GatewayCode, Result, UpnpCode};
use crate::mapping::{Method, Protocol};

/// The service type pfwd opens pinholes through.
pub const FIREWALL_SERVICE: &str = "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1";

/// The largest SOAP answer pfwd reads: 16 KiB (miniupnpd's are under 600
/// bytes).
pub const MAX_ANSWER: usize = 16 * 1024;

/// The longest lease a pinhole may have: 86400 s (the service's range for
/// `LeaseTime` is 1 to 86400).
pub const MAX_PINHOLE_LEASE: Duration = Duration::from_secs(86_400);

/// UPnP "NoSuchEntry" (WANIPv6FirewallControl): no pinhole has that UniqueID.
const NO_SUCH_ENTRY: u16 = 704;
/// UPnP "NoTrafficReceived" (miniupnpd 2.3.1: "NoPacketSent").
const NO_TRAFFIC_RECEIVED: u16 = 709;
/// UPnP "InvalidArgs": miniupnpd 2.3.1's answer about a UniqueID it does not hold.
const INVALID_ARGS: u16 = 402;
/// UPnP "ActionNotAuthorized".
const NOT_AUTHORIZED: u16 = 606;

/// The router's IPv6 firewall control, as seen from one LAN address: where
/// the SOAP requests go and which address they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firewall {
    /// The router's IPv6 address and HTTP port (with the LAN interface as
    /// scope id when the address is link-local).
    pub control: SocketAddrV6,
    /// The control URL's path (`/ctl/IP6FCtl` on miniupnpd).
    pub path: String,
    /// The service type named in `SOAPAction` and the envelope.
    pub service_type: String,
    /// The address every request is sent from: this host's global IPv6
    /// address, the one pinholes are opened for (miniupnpd refuses a
    /// pinhole for any other address with 606).
    pub source: Ipv6Addr,
    /// The budget of each request, connecting included (pfwd's default
    /// is [`UPNP_REQUEST_TIMEOUT`](crate::defaults::UPNP_REQUEST_TIMEOUT)).
    pub timeout: Duration,
}

impl Firewall {
    /// The control of a description's firewall service (`control_port`
    /// and `control_path` from its control URL, wherever that URL's host
    /// was) on the router's IPv6 address `router` (`scope_id`: the LAN
    /// interface's index for a link-local `router`, else 0), asked from
    /// `source`, with `timeout` per request.
    pub fn at(
        router: Ipv6Addr,
        scope_id: u32,
        control_port: u16,
        control_path: &str,
        source: Ipv6Addr,
        timeout: Duration,
    ) -> Firewall {
        Firewall {
            control: SocketAddrV6::new(router, control_port, 0, scope_id),
            path: control_path.to_string(),
            service_type: FIREWALL_SERVICE.to_string(),
            source,
            timeout,
        }
    }
}

impl fmt::Display for Firewall {
    /// `http://[2001:db8:77::1]:5000/ctl/IP6FCtl`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "http://[{}]:{}{}",
            self.control.ip(),
            self.control.port(),
            self.path
        )
    }
}

/// What `GetFirewallStatus` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirewallStatus {
    /// The router's IPv6 firewall is on (off: everything is reachable
    /// already, and pinhole actions answer 702).
    pub enabled: bool,
    /// The router lets clients open pinholes (off: 703).
    pub inbound_allowed: bool,
}

/// `GetFirewallStatus`: whether the router filters inbound IPv6 and lets
/// clients open pinholes. Any source address will do for this one.
///
/// # Errors
///
/// As [`add_pinhole`].
pub async fn firewall_status(fw: &Firewall) -> Result<FirewallStatus> {
    let what = "reading the IPv6 firewall's status";
    let answer = call(fw, "GetFirewallStatus", "", what).await?;
    let flag = |name: &str| {
        let text = answer.get(name).ok_or_else(|| {
            garbage(
                "GetFirewallStatus",
                what,
                &format!("an answer without <{name}>"),
            )
        })?;
        parse_bool(text).ok_or_else(|| {
            garbage(
                "GetFirewallStatus",
                what,
                &format!("an answer whose <{name}> is {text:?}, not a boolean"),
            )
        })
    };
    Ok(FirewallStatus {
        enabled: flag("FirewallEnabled")?,
        inbound_allowed: flag("InboundPinholeAllowed")?,
    })
}

/// `AddPinhole`: let any remote host and port reach `protocol`
/// `internal` from the internet for `lease` (clamped to 1 s ..=
/// [`MAX_PINHOLE_LEASE`]); the router's UniqueID for the pinhole.
///
/// `internal`'s address must be [`Firewall::source`] (miniupnpd compares
/// it, as text, with the sender's address) and its port at least 1024
/// (miniupnpd refuses lower ones with 606, as IGDv2 recommends for
/// clients that are not authenticated). The same pinhole asked again
/// gets the same UniqueID and, by the specification, a new lease; but
/// miniupnpd 2.3.1 and 2.3.2 then set its expiry to about twice the
/// router's uptime (the current time is added twice; fixed in 2.3.3): renew
/// with [`update_pinhole`].
///
/// # Errors
///
/// [`Error::Refused`] with the router's code (606: not this host's
/// address, or a port below 1024, the message says which; 701: no room;
/// 702: firewall off; 703: pinholes not allowed); [`Error::Timeout`]
/// after [`Firewall::timeout`]; [`Error::NoGateway`] when nothing
/// serves the control URL over IPv6; [`Error::Io`] when the socket cannot
/// be bound to [`Firewall::source`] (not an address of this host);
/// [`Error::InvalidResponse`] for an answer without a usable UniqueID.
pub async fn add_pinhole(
    fw: &Firewall,
    internal: SocketAddrV6,
    protocol: Protocol,
    lease: Duration,
) -> Result<u16> {
    let what = pinhole_what(internal, protocol);
    let args = format!(
        "<RemoteHost></RemoteHost><RemotePort>0</RemotePort>\
         <InternalClient>{}</InternalClient><InternalPort>{}</InternalPort>\
         <Protocol>{}</Protocol><LeaseTime>{}</LeaseTime>",
        internal.ip(),
        internal.port(),
        protocol_number(protocol),
        lease_seconds(lease)
    );
    let answer = call(fw, "AddPinhole", &args, &what)
        .await
        .map_err(|e| explain_606(e, internal, fw.source))?;
    let id = answer
        .get("UniqueID")
        .ok_or_else(|| garbage("AddPinhole", &what, "an answer without <UniqueID>"))?;
    id.parse::<u16>().map_err(|_| {
        garbage(
            "AddPinhole",
            &what,
            &format!("an answer whose <UniqueID> is {id:?}, not a number from 0 to 65535"),
        )
    })
}

/// `UpdatePinhole`: give pinhole `id` a new `lease` from now (clamped as
/// in [`add_pinhole`]). Works on miniupnpd 2.3.1 (nftables) for a pinhole
/// it holds (same UniqueID, a new rule); it drops the pinhole's description
/// (fixed in 2.3.6), which for a pinhole made by PCP is the nonce: PCP can
/// no longer delete it.
///
/// # Errors
///
/// As [`add_pinhole`]; a pinhole the router no longer holds is refused
/// with 704 by the specification, and with 402 (InvalidArgs) by
/// miniupnpd 2.3.1, which does not notice that it found nothing.
pub async fn update_pinhole(fw: &Firewall, id: u16, lease: Duration) -> Result<()> {
    let what = format!("renewing IPv6 pinhole {id}");
    let args = format!(
        "<UniqueID>{id}</UniqueID><NewLeaseTime>{}</NewLeaseTime>",
        lease_seconds(lease)
    );
    call(fw, "UpdatePinhole", &args, &what).await.map(|_| ())
}

/// `DeletePinhole`: close pinhole `id`. Works on miniupnpd 2.3.1 for a
/// pinhole it holds, and only when asked from the pinhole's own address.
///
/// # Errors
///
/// As [`update_pinhole`] (a pinhole already gone: 704, or 402 on
/// miniupnpd 2.3.1).
pub async fn delete_pinhole(fw: &Firewall, id: u16) -> Result<()> {
    let what = format!("closing IPv6 pinhole {id}");
    let args = format!("<UniqueID>{id}</UniqueID>");
    call(fw, "DeletePinhole", &args, &what).await.map(|_| ())
}

/// `GetPinholePackets`: how many packets pinhole `id` has let in.
///
/// # Errors
///
/// As [`update_pinhole`].
pub async fn pinhole_packets(fw: &Firewall, id: u16) -> Result<u32> {
    let what = format!("reading IPv6 pinhole {id}");
    let args = format!("<UniqueID>{id}</UniqueID>");
    let answer = call(fw, "GetPinholePackets", &args, &what).await?;
    let packets = answer.get("PinholePackets").ok_or_else(|| {
        garbage(
            "GetPinholePackets",
            &what,
            "an answer without <PinholePackets>",
        )
    })?;
    packets.parse::<u32>().map_err(|_| {
        garbage(
            "GetPinholePackets",
            &what,
            &format!("an answer whose <PinholePackets> is {packets:?}, not a number"),
        )
    })
}

/// Whether the router still holds pinhole `id` for [`Firewall::source`],
/// read with `GetPinholePackets` (the one read-back miniupnpd answers for
/// every pinhole it holds; `CheckPinholeWorking` answers 709 until a packet
/// has passed). `false` on 704 (the specification's "no such entry"), and
/// on 402 and 606, which miniupnpd 2.3.1 answers for a UniqueID it does not
/// hold (its nftables lookup says "found" either way, and it then checks
/// the sender against an address buffer it never filled in: 402 as seen,
/// 606 if that memory held another address). Upstream still does this at
/// 2.3.11.
///
/// # Errors
///
/// As [`update_pinhole`], for any other refusal.
pub async fn pinhole_held(fw: &Firewall, id: u16) -> Result<bool> {
    match pinhole_packets(fw, id).await {
        Ok(_) => Ok(true),
        Err(e)
            if no_such_pinhole(&e)
                || e.gateway_code() == Some(GatewayCode::Upnp(UpnpCode(NOT_AUTHORIZED))) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Whether `e` is the router saying it holds no pinhole of that UniqueID:
/// 704 (NoSuchEntry) by the specification, 402 (InvalidArgs) from
/// miniupnpd 2.3.1 (see [`pinhole_held`]).
pub(super) fn no_such_pinhole(e: &Error) -> bool {
    matches!(
        e.gateway_code(),
        Some(GatewayCode::Upnp(UpnpCode(NO_SUCH_ENTRY | INVALID_ARGS)))
    )
}

/// `CheckPinholeWorking`: whether traffic has passed pinhole `id`
/// (`false` on 709, NoTrafficReceived).
///
/// # Errors
///
/// As [`update_pinhole`].
pub async fn pinhole_working(fw: &Firewall, id: u16) -> Result<bool> {
    let what = format!("checking IPv6 pinhole {id}");
    let args = format!("<UniqueID>{id}</UniqueID>");
    match call(fw, "CheckPinholeWorking", &args, &what).await {
        Ok(answer) => {
            let working = answer.get("IsWorking").ok_or_else(|| {
                garbage(
                    "CheckPinholeWorking",
                    &what,
                    "an answer without <IsWorking>",
                )
            })?;
            parse_bool(working).ok_or_else(|| {
                garbage(
                    "CheckPinholeWorking",
                    &what,
                    &format!("an answer whose <IsWorking> is {working:?}, not a boolean"),
                )
            })
        }
        Err(Error::Refused {
            code: GatewayCode::Upnp(UpnpCode(NO_TRAFFIC_RECEIVED)),
            ..
        }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// "a pinhole for TCP [2001:db8:77::10]:8080".
fn pinhole_what(internal: SocketAddrV6, protocol: Protocol) -> String {
    format!(
        "an IPv6 pinhole for {protocol} [{}]:{}",
        internal.ip(),
        internal.port()
    )
}

/// A 606 to `AddPinhole` says why, as far as pfwd can tell: the port, or
/// the address.
fn explain_606(e: Error, internal: SocketAddrV6, source: Ipv6Addr) -> Error {
    let Error::Refused { method, what, code } = e else {
        return e;
    };
    if code != GatewayCode::Upnp(UpnpCode(NOT_AUTHORIZED)) {
        return Error::Refused { method, what, code };
    }
    let why = if internal.port() < 1024 {
        "IGDv2 routers, miniupnpd among them, refuse pinholes below port 1024: use PCP, \
         or open it by hand with the guide"
            .to_string()
    } else if *internal.ip() != source {
        format!(
            "miniupnpd allows a pinhole only for the sender's own address, and this request \
             came from {source}: ask from that host, or use PCP or the guide"
        )
    } else {
        "miniupnpd allows a pinhole only for the sender's own address: make sure the request \
         leaves from that address (not a temporary one), or use PCP or the guide"
            .to_string()
    };
    Error::Refused {
        method,
        what: format!("{what} ({why})"),
        code,
    }
}

/// The IANA protocol number `AddPinhole` wants.
fn protocol_number(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
    }
}

/// `lease` in whole seconds, 1 to 86400 (a part of a second counts as one).
fn lease_seconds(lease: Duration) -> u64 {
    let secs = lease
        .as_secs()
        .saturating_add(u64::from(lease.subsec_nanos() > 0));
    secs.clamp(1, MAX_PINHOLE_LEASE.as_secs())
}

/// A UPnP boolean: `1`/`0`, `true`/`false`, `yes`/`no`.
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// An [`Error::InvalidResponse`] for `action`'s answer while doing `what`.
fn garbage(action: &str, what: &str, why: &str) -> Error {
    Error::InvalidResponse {
        method: Method::Upnp,
        detail: format!("the router's answer to {action} ({what}) is {why}"),
    }
}

/// The SOAP envelope of `action` with its arguments.
fn envelope(service_type: &str, action: &str, args: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\
         <u:{action} xmlns:u=\"{service_type}\">{args}</u:{action}></s:Body></s:Envelope>"
    )
}

/// The out arguments of an `{action}Response`, by name, trimmed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Answer(Vec<(String, String)>);

impl Answer {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Read `action`'s answer: its out arguments, or the router's refusal
/// (a SOAP fault with a UPnP error code), or what is wrong with it.
fn parse_answer(body: &[u8], action: &str, what: &str) -> Result<Answer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(garbage(action, what, "empty"));
    }
    let root = parse_xml(body).map_err(|why| garbage(action, what, &why))?;
    if root.name != "Envelope" {
        return Err(garbage(
            action,
            what,
            &format!("XML, but not a SOAP envelope (its root is <{}>)", root.name),
        ));
    }
    let body = root
        .get_child("Body")
        .ok_or_else(|| garbage(action, what, "a SOAP envelope without a Body"))?;
    let response = format!("{action}Response");
    if let Some(ok) = body.get_child(response.as_str()) {
        let args = ok
            .children
            .iter()
            .filter_map(|c| c.as_element())
            .map(|e| {
                let text = e.get_text().map(|t| t.trim().to_string());
                (e.name.clone(), text.unwrap_or_default())
            })
            .collect();
        return Ok(Answer(args));
    }
    if let Some(fault) = body.get_child("Fault") {
        let code = fault
            .get_child("detail")
            .and_then(|d| d.get_child("UPnPError"))
            .and_then(|u| u.get_child("errorCode"))
            .and_then(|c| c.get_text())
            .and_then(|c| c.trim().parse::<u16>().ok())
            .ok_or_else(|| {
                garbage(
                    action,
                    what,
                    "a SOAP fault whose UPnP error code is missing or not a number",
                )
            })?;
        return Err(refused(what, code));
    }
    let inside = body
        .children
        .iter()
        .find_map(|c| c.as_element())
        .map_or("nothing".to_string(), |e| format!("<{}>", e.name));
    Err(garbage(
        action,
        what,
        &format!("a SOAP answer without {response} or a fault (it holds {inside})"),
    ))
}

/// Aborts the HTTP connection's task when the call ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// POST `action` with `args` to the firewall control, from its source
/// address, within its budget; the answer's out arguments.
async fn call(fw: &Firewall, action: &str, args: &str, what: &str) -> Result<Answer> {
    let started = Instant::now();
    let deadline = started + fw.timeout;
    let timed_out = || Error::Timeout {
        method: Method::Upnp,
        operation: format!("{what} ({action} to {fw})"),
        after: fw.timeout,
    };
    let body = timeout_at(deadline, exchange(fw, action, args, what, deadline))
        .await
        .map_err(|_| timed_out())??;
    log::debug!(
        "UPnP {action} to {fw} from {}: answered in {} ms",
        fw.source,
        started.elapsed().as_millis()
    );
    parse_answer(&body, action, what)
}

/// The HTTP exchange itself: connect (within [`HEADERS_WITHIN`] too), send,
/// read at most [`MAX_ANSWER`] bytes of whatever status.
async fn exchange(
    fw: &Firewall,
    action: &str,
    args: &str,
    what: &str,
    deadline: Instant,
) -> Result<Bytes> {
    let socket = TcpSocket::new_v6().map_err(|e| Error::io("opening an IPv6 TCP socket", e))?;
    socket
        .bind(SocketAddr::V6(SocketAddrV6::new(
            fw.source,
            0,
            0,
            fw.control.scope_id(),
        )))
        .map_err(|e| {
            Error::io(
                format!(
                    "binding to {} (the address a pinhole is asked from)",
                    fw.source
                ),
                e,
            )
        })?;
    let connect_by = deadline.min(Instant::now() + HEADERS_WITHIN);
    let stream = timeout_at(connect_by, socket.connect(SocketAddr::V6(fw.control)))
        .await
        .map_err(|_| Error::Timeout {
            method: Method::Upnp,
            operation: format!("connecting to {fw} ({what})"),
            after: HEADERS_WITHIN.min(fw.timeout),
        })?
        .map_err(|e| Error::NoGateway {
            refused: e.kind() == std::io::ErrorKind::ConnectionRefused,
            method: Some(Method::Upnp),
            detail: format!("nothing serves the router's IPv6 firewall control at {fw} ({e})"),
        })?;
    let _ = stream.set_nodelay(true);
    let broken = |e: hyper::Error| Error::InvalidResponse {
        method: Method::Upnp,
        detail: format!("the router's answer to {action} ({what}) is broken HTTP ({e})"),
    };
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(8192)
        .handshake::<_, Full<Bytes>>(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(broken)?;
    let _conn = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let envelope = envelope(&fw.service_type, action, args);
    let request = hyper::Request::post(fw.path.as_str())
        .header(
            hyper::header::HOST,
            format!("[{}]:{}", fw.control.ip(), fw.control.port()),
        )
        .header(hyper::header::CONTENT_TYPE, "text/xml; charset=\"utf-8\"")
        .header("SOAPAction", format!("\"{}#{action}\"", fw.service_type))
        .header(hyper::header::CONNECTION, "close")
        .body(Full::new(Bytes::from(envelope)))
        .map_err(|e| Error::invalid(format!("the control URL path {:?}: {e}", fw.path)))?;
    let response = sender.send_request(request).await.map_err(broken)?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| {
            let why = if e.is::<http_body_util::LengthLimitError>() {
                format!("larger than {MAX_ANSWER} bytes")
            } else {
                format!("broken HTTP ({e})")
            };
            garbage(action, what, &why)
        })?
        .to_bytes();
    // A fault comes with 500; anything else that is not 200 and carries
    // no fault says its status.
    if status != hyper::StatusCode::OK && status != hyper::StatusCode::INTERNAL_SERVER_ERROR {
        return Err(garbage(action, what, &format!("HTTP {}", status.as_u16())));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>BODY</s:Body></s:Envelope>"#;

    fn env(body: &str) -> String {
        ENV.replace("BODY", body)
    }

    /// miniupnpd 2.3.1's answers, as the dual-stack testbed's router sent them.
    const ADDED: &str = r#"<u:AddPinholeResponse xmlns:u="urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"><UniqueID>1</UniqueID></u:AddPinholeResponse>"#;
    const FAULT: &str = r#"<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>CODE</errorCode><errorDescription>Action not authorized</errorDescription></UPnPError></detail></s:Fault>"#;
    const STATUS: &str = r#"<u:GetFirewallStatusResponse xmlns:u="urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"><FirewallEnabled>1</FirewallEnabled><InboundPinholeAllowed>1</InboundPinholeAllowed></u:GetFirewallStatusResponse>"#;

    #[test]
    fn envelopes_name_the_action_and_the_service() {
        let e = envelope(
            FIREWALL_SERVICE,
            "AddPinhole",
            "<RemoteHost></RemoteHost><UniqueID>1</UniqueID>",
        );
        let root = xmltree::Element::parse(e.as_bytes()).unwrap();
        let action = root
            .get_child("Body")
            .and_then(|b| b.get_child("AddPinhole"))
            .unwrap();
        assert_eq!(action.namespace.as_deref(), Some(FIREWALL_SERVICE));
        assert_eq!(
            action.get_child("UniqueID").and_then(|u| u.get_text()),
            Some("1".into())
        );
    }

    #[test]
    fn leases_are_clamped_to_the_services_range() {
        assert_eq!(lease_seconds(Duration::ZERO), 1);
        assert_eq!(lease_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(lease_seconds(Duration::from_secs(3600)), 3600);
        assert_eq!(lease_seconds(Duration::from_secs(86_401)), 86_400);
        assert_eq!(lease_seconds(Duration::MAX), 86_400);
        assert_eq!(protocol_number(Protocol::Tcp), 6);
        assert_eq!(protocol_number(Protocol::Udp), 17);
    }

    #[test]
    fn answers_and_their_out_arguments() {
        let a = parse_answer(env(ADDED).as_bytes(), "AddPinhole", "x").unwrap();
        assert_eq!(a.get("UniqueID"), Some("1"));
        let s = parse_answer(env(STATUS).as_bytes(), "GetFirewallStatus", "x").unwrap();
        assert_eq!(s.get("FirewallEnabled"), Some("1"));
        assert_eq!(s.get("InboundPinholeAllowed"), Some("1"));
        // An empty answer (UpdatePinhole, DeletePinhole) is an answer.
        let empty = env(r#"<u:DeletePinholeResponse xmlns:u="urn:x"></u:DeletePinholeResponse>"#);
        assert_eq!(
            parse_answer(empty.as_bytes(), "DeletePinhole", "x").unwrap(),
            Answer::default()
        );
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("2"), None);
    }

    #[test]
    fn a_fault_is_a_refusal_with_its_code() {
        // miniupnpd sends faults without an XML declaration.
        let fault = env(&FAULT.replace("CODE", "606")).replace("<?xml version=\"1.0\"?>\n", "");
        let e = parse_answer(fault.as_bytes(), "AddPinhole", "an IPv6 pinhole").unwrap_err();
        assert_eq!(
            e.gateway_code(),
            Some(GatewayCode::Upnp(UpnpCode(606))),
            "{e}"
        );
        let e = parse_answer(
            env(&FAULT.replace("CODE", "seven")).as_bytes(),
            "AddPinhole",
            "x",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("UPnP error code is missing or not a number"),
            "{e}"
        );
    }

    #[test]
    fn garbage_says_what_is_wrong() {
        let cases = [
            ("".to_string(), "is empty"),
            ("<html><body>Login".into(), "not XML"),
            (
                "<html><body>Login</body></html>".into(),
                "not a SOAP envelope (its root is <html>)",
            ),
            (
                env(ADDED)[..120].to_string(),
                "not XML", // truncated
            ),
            (
                env(r#"<u:DeletePinholeResponse xmlns:u="urn:x"/>"#),
                "without AddPinholeResponse or a fault (it holds <DeletePinholeResponse>)",
            ),
            (
                "<s:Envelope xmlns:s=\"urn:s\"/>".into(),
                "a SOAP envelope without a Body",
            ),
            (
                "<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>".into(),
                "DOCTYPE",
            ),
        ];
        for (text, expected) in cases {
            let e = parse_answer(text.as_bytes(), "AddPinhole", "an IPv6 pinhole").unwrap_err();
            assert!(matches!(e, Error::InvalidResponse { .. }), "{text}: {e}");
            let s = e.to_string();
            assert!(
                s.contains(expected) && s.contains("answer to AddPinhole (an IPv6 pinhole)"),
                "{text}: {s}"
            );
        }
    }

    #[test]
    fn a_606_for_a_pinhole_says_why() {
        let host: Ipv6Addr = "2001:db8:77::10".parse().unwrap();
        let e606 = || refused("an IPv6 pinhole for TCP [2001:db8:77::10]:80", 606);
        let low = explain_606(e606(), SocketAddrV6::new(host, 80, 0, 0), host).to_string();
        assert!(
            low.contains("refuse pinholes below port 1024: use PCP, or open it by hand"),
            "{low}"
        );
        let other: Ipv6Addr = "2001:db8:77::11".parse().unwrap();
        let e = explain_606(e606(), SocketAddrV6::new(other, 8080, 0, 0), host).to_string();
        assert!(
            e.contains("only for the sender's own address")
                && e.contains("came from 2001:db8:77::10"),
            "{e}"
        );
        let untouched = explain_606(refused("x", 701), SocketAddrV6::new(host, 80, 0, 0), host);
        assert_eq!(
            untouched.gateway_code(),
            Some(GatewayCode::Upnp(UpnpCode(701)))
        );
        assert!(!untouched.to_string().contains("1024"));
    }

    #[test]
    fn the_control_is_the_ipv4_urls_port_and_path_on_the_routers_ipv6_address() {
        let fw = Firewall::at(
            "2001:db8:77::1".parse().unwrap(),
            0,
            5000,
            "/ctl/IP6FCtl",
            "2001:db8:77::10".parse().unwrap(),
            Duration::from_secs(3),
        );
        assert_eq!(fw.to_string(), "http://[2001:db8:77::1]:5000/ctl/IP6FCtl");
        assert_eq!(fw.service_type, FIREWALL_SERVICE);
    }

    /// An HTTP answer with `status` and `body`.
    fn http(status: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nConnection: close\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    /// A local HTTP server that answers one request with `answer`, and the
    /// request it got.
    async fn one_answer(answer: String) -> (SocketAddrV6, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let SocketAddr::V6(addr) = listener.local_addr().unwrap() else {
            unreachable!()
        };
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&got).contains("</s:Envelope>") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&got).into_owned()
        });
        (addr, task)
    }

    fn loopback(control: SocketAddrV6) -> Firewall {
        Firewall::at(
            *control.ip(),
            0,
            control.port(),
            "/ctl/IP6FCtl",
            Ipv6Addr::LOCALHOST,
            Duration::from_secs(2),
        )
    }

    #[tokio::test]
    async fn add_pinhole_over_http_from_the_source_address() {
        // ::1 stands in for the host's global address: the request's source.
        let Ok(probe) = tokio::net::TcpListener::bind("[::1]:0").await else {
            return; // no IPv6 loopback in this sandbox: nothing to test against
        };
        drop(probe);
        let (addr, server) = one_answer(http("200 OK", &env(&ADDED.replace(">1<", ">42<")))).await;
        let fw = loopback(addr);
        let internal = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 8080, 0, 0);
        let id = add_pinhole(&fw, internal, Protocol::Udp, Duration::from_secs(90))
            .await
            .unwrap();
        assert_eq!(id, 42);
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /ctl/IP6FCtl HTTP/1.1\r\n"),
            "{request}"
        );
        let lower = request.to_ascii_lowercase();
        assert!(lower.contains(&format!(
            "soapaction: \"{}#addpinhole\"",
            FIREWALL_SERVICE.to_ascii_lowercase()
        )));
        assert!(lower.contains("connection: close"), "{request}");
        assert!(
            request.contains("<InternalClient>::1</InternalClient><InternalPort>8080</InternalPort><Protocol>17</Protocol><LeaseTime>90</LeaseTime>"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn faults_come_with_http_500_and_other_statuses_are_named() {
        if tokio::net::TcpListener::bind("[::1]:0").await.is_err() {
            return;
        }
        let fault_704 = || {
            http(
                "500 Internal Server Error",
                &env(&FAULT.replace("CODE", "704")),
            )
        };
        let (addr, _server) = one_answer(fault_704()).await;
        assert!(!pinhole_held(&loopback(addr), 3).await.unwrap());
        let (addr, _server) = one_answer(fault_704()).await;
        let e = update_pinhole(&loopback(addr), 3, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert_eq!(
            e.gateway_code(),
            Some(GatewayCode::Upnp(UpnpCode(704))),
            "{e}"
        );
        let (addr, _server) = one_answer(http("404 Not Found", "")).await;
        let e = delete_pinhole(&loopback(addr), 3).await.unwrap_err();
        assert!(e.to_string().contains("HTTP 404"), "{e}");
    }

    #[tokio::test]
    async fn nothing_listening_and_a_foreign_source_are_said_so() {
        let Ok(l) = tokio::net::TcpListener::bind("[::1]:0").await else {
            return;
        };
        let SocketAddr::V6(addr) = l.local_addr().unwrap() else {
            unreachable!()
        };
        drop(l);
        let e = firewall_status(&loopback(addr)).await.unwrap_err();
        assert!(matches!(e, Error::NoGateway { refused: true, .. }), "{e:?}");
        let mut fw = loopback(addr);
        fw.source = "2001:db8:ffff::1".parse().unwrap();
        let e = firewall_status(&fw).await.unwrap_err();
        assert!(
            matches!(e, Error::Io { .. }) && e.to_string().contains("binding to 2001:db8:ffff::1"),
            "{e}"
        );
    }
}
