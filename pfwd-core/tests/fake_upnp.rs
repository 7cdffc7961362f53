//! Edge cases miniupnpd cannot show, against an in-process fake UPnP gateway
//! on loopback: a router that takes only permanent leases (725), one that
//! answers garbage, one that reports no external address, one that hangs,
//! and routers whose SSDP answer is fine but whose descriptions are broken
//! (endless, an entity bomb, headers that trickle in, 404, not XML, no WAN
//! service), each named as such within the discovery budget.
//! The real-router tests live in `tests/gateway/`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod fakes;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pfwd_core::{
    Error, Forwarder, GatewayCode, GatewayInfo, Lease, MappingRequest, MethodState, Protocol, Upnp,
    UpnpCode, UpnpOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SERVICE: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";

/// What the fake answers to a SOAP action: HTTP status and body.
/// A status that makes the fake accept the request and never answer.
const HANG: u16 = 0;

type Handler = dyn Fn(&str, &str) -> (u16, String) + Send + Sync;

/// How the fake serves a description (the root one, or the service's).
#[derive(Clone)]
enum Served {
    /// 200 with this body.
    Xml(String),
    /// This status, an empty body.
    Status(u16),
    /// 200 and a body that never ends (no Content-Length).
    Endless,
    /// One header line every half second, forever.
    SlowHeaders,
}

struct Fake {
    ssdp_port: u16,
    /// Every SOAP call received: (action, body).
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl Fake {
    async fn start(description: Option<String>, handler: Arc<Handler>) -> Fake {
        let description = Served::Xml(description.unwrap_or_else(root_description));
        Fake::serving(description, Served::Xml(scpd()), handler).await
    }

    /// A fake whose root description and service description are served so.
    async fn serving(description: Served, scpd: Served, handler: Arc<Handler>) -> Fake {
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_port = http.local_addr().unwrap().port();
        let ssdp_port = fakes::ssdp::responder(http_port).await;
        let calls = Arc::new(Mutex::new(Vec::new()));
        let log = calls.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = http.accept().await {
                let documents = (description.clone(), scpd.clone());
                let (handler, log) = (handler.clone(), log.clone());
                tokio::spawn(serve(conn, documents, handler, log));
            }
        });
        Fake { ssdp_port, calls }
    }

    fn options(&self) -> UpnpOptions {
        let mut o = UpnpOptions::default();
        o.gateway = Some(GatewayInfo::for_gateway(Ipv4Addr::LOCALHOST).unwrap());
        o.multicast = false;
        o.ssdp_port = self.ssdp_port;
        o.discovery_timeout = Duration::from_millis(600);
        o.request_timeout = Duration::from_millis(500);
        o
    }

    fn actions(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap().clone()
    }
}

async fn serve(
    mut conn: TcpStream,
    (description, scpd): (Served, Served),
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<(String, String)>>>,
) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = conn.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .map(|l| l[name.len() + 1..].trim().trim_matches('"').to_string())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let Ok(n) = conn.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let document = match path.as_str() {
        "/rootDesc.xml" => Some(description),
        "/scpd.xml" => Some(scpd),
        _ => None,
    };
    let (status, text) = match document {
        Some(Served::Xml(xml)) => (200, xml),
        Some(Served::Status(status)) => (status, String::new()),
        Some(Served::Endless) => {
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n<root>")
                .await;
            let chunk = "<device></device>".repeat(256);
            while conn.write_all(chunk.as_bytes()).await.is_ok() {}
            return;
        }
        Some(Served::SlowHeaders) => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\n").await;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if conn.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return;
                }
            }
        }
        None => {
            let action = header("soapaction").unwrap_or_default();
            let action = action.rsplit('#').next().unwrap_or_default().to_string();
            log.lock().unwrap().push((action.clone(), body.clone()));
            handler(&action, &body)
        }
    };
    if status == HANG {
        // Hold the connection open and never answer.
        std::future::pending::<()>().await;
    }
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = conn.write_all(reply.as_bytes()).await;
}

fn root_description() -> String {
    format!(
        r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>Fake router</friendlyName><manufacturer>pfwd</manufacturer><modelName>Fake IGD</modelName>
<UDN>uuid:fake</UDN><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>{SERVICE}</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl</controlURL><eventSubURL>/evt</eventSubURL><SCPDURL>/scpd.xml</SCPDURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>"#
    )
}

fn scpd() -> String {
    let action = |name: &str, ins: &[&str]| {
        let args: String = ins
            .iter()
            .map(|a| format!("<argument><name>{a}</name><direction>in</direction><relatedStateVariable>X</relatedStateVariable></argument>"))
            .collect();
        format!(
            "<action><name>{name}</name><argumentList>{args}<argument><name>Out</name><direction>out</direction><relatedStateVariable>X</relatedStateVariable></argument></argumentList></action>"
        )
    };
    let add = [
        "NewRemoteHost",
        "NewExternalPort",
        "NewProtocol",
        "NewInternalPort",
        "NewInternalClient",
        "NewEnabled",
        "NewPortMappingDescription",
        "NewLeaseDuration",
    ];
    format!(
        r#"<?xml version="1.0"?><scpd xmlns="urn:schemas-upnp-org:service-1-0"><actionList>{}{}{}{}</actionList></scpd>"#,
        action("AddPortMapping", &add),
        action(
            "DeletePortMapping",
            &["NewRemoteHost", "NewExternalPort", "NewProtocol"]
        ),
        action("GetExternalIPAddress", &[]),
        action("GetGenericPortMappingEntry", &["NewPortMappingIndex"]),
    )
}

fn ok(action: &str, inner: &str) -> (u16, String) {
    (
        200,
        envelope(&format!(
            r#"<u:{action}Response xmlns:u="{SERVICE}">{inner}</u:{action}Response>"#
        )),
    )
}

fn fault(code: u16, name: &str) -> (u16, String) {
    (
        500,
        envelope(&format!(
            r#"<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>{code}</errorCode><errorDescription>{name}</errorDescription></UPnPError></detail></s:Fault>"#
        )),
    )
}

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// A router that grants everything and reports 5.5.5.7.
fn router(action: &str, _body: &str) -> (u16, String) {
    match action {
        "GetExternalIPAddress" => ok(
            action,
            "<NewExternalIPAddress>5.5.5.7</NewExternalIPAddress>",
        ),
        "GetGenericPortMappingEntry" => fault(713, "SpecifiedArrayIndexInvalid"),
        _ => ok(action, ""),
    }
}

/// A router that accepts only permanent leases (UPnP error 725).
fn permanent_only(action: &str, body: &str) -> (u16, String) {
    if action == "AddPortMapping" && !body.contains("<NewLeaseDuration>0</NewLeaseDuration>") {
        return fault(725, "OnlyPermanentLeasesSupported");
    }
    router(action, body)
}

fn request() -> MappingRequest {
    MappingRequest::builder(Protocol::Tcp, 8080)
        .lease(Duration::from_secs(600))
        .build()
        .unwrap()
}

#[tokio::test]
async fn only_permanent_leases_maps_permanently_and_owns_the_cleanup() {
    let fake = Fake::start(None, Arc::new(permanent_only)).await;
    let upnp = Upnp::discover_with(fake.options()).await.unwrap();
    let m = upnp.map(&request()).await.unwrap();
    assert_eq!(m.lease(), Lease::Permanent);
    assert!(m.needs_explicit_delete());
    assert_eq!(
        m.state(),
        &MethodState::Upnp {
            forced_permanent: true
        }
    );
    assert_eq!(m.renew_after(), None);
    // A renewal asks for the same (permanent) lease straight away.
    let renewed = upnp.map(&m.renewal()).await.unwrap();
    assert_eq!(renewed.lease(), Lease::Permanent);
    upnp.unmap(&m).await.unwrap();
    let adds = fake
        .actions()
        .into_iter()
        .filter(|(a, _)| a == "AddPortMapping")
        .count();
    assert_eq!(adds, 3, "a 725 answer, the permanent retry, the renewal");
    assert!(fake.actions().iter().any(|(a, _)| a == "DeletePortMapping"));
}

#[tokio::test]
async fn only_permanent_leases_is_refused_when_the_caller_says_so() {
    let fake = Fake::start(None, Arc::new(permanent_only)).await;
    let upnp = Upnp::discover_with(fake.options()).await.unwrap();
    let r = MappingRequest::builder(Protocol::Tcp, 8080)
        .permanent_fallback(false)
        .build()
        .unwrap();
    let err = upnp.map(&r).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused {
                code: GatewayCode::Upnp(UpnpCode::ONLY_PERMANENT_LEASES),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("725"), "{err}");
}

#[tokio::test]
async fn garbage_soap_answers_are_invalid_responses() {
    let fake = Fake::start(
        None,
        Arc::new(|_: &str, _: &str| (200, "<html><body>Login required</body></html>".to_string())),
    )
    .await;
    let upnp = Upnp::discover_with(fake.options()).await.unwrap();
    let started = std::time::Instant::now();
    let err = upnp.map(&request()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("Login required"), "{err}");
    // Which action, and what was wrong with the answer.
    assert!(
        err.to_string().contains(
            "the router's answer to AddPortMapping (TCP port 8080 -> 127.0.0.1:8080) is XML, \
             but not a SOAP envelope (its root is <html>)"
        ),
        "{err}"
    );
    let err = upnp.external_address().await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(
        err.to_string().contains("answer to GetExternalIPAddress"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let failure = pfwd_core::guide::MethodFailure::from_error(&err).reason;
    assert!(!failure.contains("switched off"), "{failure}");
}

#[tokio::test]
async fn a_soap_answer_without_its_value_is_named() {
    let fake = Fake::start(
        None,
        Arc::new(|action: &str, body: &str| match action {
            "GetExternalIPAddress" => {
                ok(action, "<NewExternalIPAddress>soon</NewExternalIPAddress>")
            }
            _ => router(action, body),
        }),
    )
    .await;
    let upnp = Upnp::discover_with(fake.options()).await.unwrap();
    let err = upnp.external_address().await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(
        err.to_string().contains(
            "the router's answer to GetExternalIPAddress (reading the external address) is a \
             GetExternalIPAddressResponse without the values it must carry"
        ),
        "{err}"
    );
}

/// Discover against a fake serving `description` (and `scpd`); the error,
/// which must come within the fake's 600 ms budget (and a little).
async fn broken(description: Served, scpd: Served) -> (Error, String) {
    let fake = Fake::serving(description, scpd, Arc::new(router)).await;
    let started = std::time::Instant::now();
    let err = Upnp::discover_with(fake.options()).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(900), "{took:?}: {err}");
    let text = err.to_string();
    // Never sent to the wrong setting: the router answered.
    assert!(!text.contains("switched off"), "{text}");
    let failure = pfwd_core::guide::MethodFailure::from_error(&err).reason;
    assert!(!failure.contains("switched off"), "{failure}");
    (err, text)
}

fn description_error(text: &str, what: &str) {
    let url = "its description at http://127.0.0.1:";
    assert!(
        text.contains("the router answered the UPnP search, but") && text.contains(url),
        "{text}"
    );
    assert!(
        text.contains(&format!("/rootDesc.xml could not be read: {what}")),
        "{text}"
    );
}

#[tokio::test]
async fn a_description_that_is_not_xml_is_named() {
    let (err, text) = broken(Served::Xml("not xml at all".into()), Served::Xml(scpd())).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    description_error(&text, "not XML (");
    let failure = pfwd_core::guide::MethodFailure::from_error(&err).reason;
    assert!(
        failure.contains("firmware is faulty: update it"),
        "{failure}"
    );
    assert!(failure.contains("switch on NAT-PMP or PCP"), "{failure}");
}

#[tokio::test]
async fn an_endless_description_is_cut_at_64_kib() {
    let (err, text) = broken(Served::Endless, Served::Xml(scpd())).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    description_error(&text, "larger than 65536 bytes");
}

#[tokio::test]
async fn an_entity_bomb_is_refused_unexpanded() {
    let lol = (1..10)
        .map(|i| {
            format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&lol{};", i - 1).repeat(10)
            )
        })
        .collect::<String>();
    let bomb = format!(
        r#"<?xml version="1.0"?><!DOCTYPE root [<!ENTITY lol0 "lol">{lol}]><root><device><friendlyName>&lol9;</friendlyName></device></root>"#
    );
    let (err, text) = broken(Served::Xml(bomb), Served::Xml(scpd())).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    description_error(&text, "not a plain XML document: it has a DOCTYPE");
}

#[tokio::test]
async fn headers_that_trickle_in_time_out() {
    let (err, text) = broken(Served::SlowHeaders, Served::Xml(scpd())).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    description_error(&text, "timed out after ");
    assert!(text.contains("(waiting for its headers)"), "{text}");
}

#[tokio::test]
async fn a_missing_description_is_its_http_status() {
    let (err, text) = broken(Served::Status(404), Served::Xml(scpd())).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    description_error(&text, "HTTP 404");
}

#[tokio::test]
async fn a_description_without_a_wan_service_is_unsupported() {
    let other =
        root_description().replace(SERVICE, "urn:schemas-upnp-org:service:Layer3Forwarding:1");
    let (err, text) = broken(Served::Xml(other), Served::Xml(scpd())).await;
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(
        text.contains("has no WANIPConnection or WANPPPConnection service (it lists urn:schemas-upnp-org:service:Layer3Forwarding:1)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_broken_service_description_is_named() {
    let (err, text) = broken(Served::Xml(root_description()), Served::Status(500)).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(
        text.contains(&format!(
            "the description of its {SERVICE} service at http://127.0.0.1:"
        )),
        "{text}"
    );
    assert!(
        text.contains("/scpd.xml could not be read: HTTP 500"),
        "{text}"
    );
}

/// A router that never answers the search at all: "no answer", at the
/// budget, and that one does say UPnP may be switched off.
#[tokio::test]
async fn a_silent_router_is_no_gateway_at_the_budget() {
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut options = Fake::start(None, Arc::new(router)).await.options();
    options.ssdp_port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let err = Upnp::discover_with(options).await.unwrap_err();
    assert!(matches!(err, Error::NoGateway { .. }), "{err:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(550),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.to_string().contains("no answer to 2 SSDP searches"),
        "{err}"
    );
}

/// The fast "no": nothing listens on the router's SSDP port, which answers
/// with ICMP port unreachable.
#[tokio::test]
async fn a_closed_ssdp_port_is_no_at_once() {
    let mut options = Fake::start(None, Arc::new(router)).await.options();
    options.ssdp_port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let started = std::time::Instant::now();
    let err = Upnp::discover_with(options).await.unwrap_err();
    // Refused twice, 100 ms apart: far inside the 600 ms budget.
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::NoGateway { .. }), "{err:?}");
    assert!(
        err.to_string().contains("nothing listens on 127.0.0.1:"),
        "{err}"
    );
}

#[tokio::test]
async fn no_external_address_removes_the_mapping_it_just_made() {
    let fake = Fake::start(
        None,
        Arc::new(|action: &str, body: &str| match action {
            "GetExternalIPAddress" => ok(
                action,
                "<NewExternalIPAddress>0.0.0.0</NewExternalIPAddress>",
            ),
            _ => router(action, body),
        }),
    )
    .await;
    let upnp = Upnp::discover_with(fake.options()).await.unwrap();
    let err = upnp.map(&request()).await.unwrap_err();
    assert!(err.to_string().contains("0.0.0.0"), "{err}");
    let actions: Vec<String> = fake.actions().into_iter().map(|(a, _)| a).collect();
    assert!(
        actions.contains(&"DeletePortMapping".to_string()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_gateway_that_hangs_times_out_at_the_request_budget() {
    let fake = Fake::start(
        None,
        Arc::new(|action: &str, body: &str| match action {
            "AddPortMapping" => (HANG, String::new()),
            _ => router(action, body),
        }),
    )
    .await;
    let upnp = Upnp::discover_with(fake.options()).await.unwrap();
    let err = upnp.map(&request()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("500 ms"), "{err}");
}

#[tokio::test]
async fn the_fake_router_grants_a_normal_mapping() {
    let fake = Fake::start(None, Arc::new(router)).await;
    let upnp = Upnp::discover_with(fake.options()).await.unwrap();
    let m = upnp.map(&request()).await.unwrap();
    assert_eq!(m.external().to_string(), "5.5.5.7:8080");
    assert_eq!(m.lease(), Lease::Finite(Duration::from_secs(600)));
    let (_, body) = fake
        .actions()
        .into_iter()
        .find(|(a, _)| a == "AddPortMapping")
        .unwrap();
    assert!(
        body.contains("<NewLeaseDuration>600</NewLeaseDuration>"),
        "{body}"
    );
    assert!(
        body.contains("<NewInternalClient>127.0.0.1</NewInternalClient>"),
        "{body}"
    );
    assert!(upnp.list().await.unwrap().is_empty());
}

/// Defect: the automatic client sent every method it did not name to UPnP,
/// so unmapping a manual rule deleted the router's UPnP mapping of that port.
#[tokio::test]
async fn unmapping_a_manual_rule_deletes_nothing_on_the_router() {
    let fake = Fake::start(None, Arc::new(router)).await;
    let mut options = pfwd_core::ClientOptions::default();
    options.only = vec![pfwd_core::Method::Upnp];
    options.gateway = fake.options().gateway;
    options.upnp = fake.options();
    let client = pfwd_core::Client::discover_with(options).await.unwrap();
    assert_eq!(client.discovery().best(), Some(pfwd_core::Method::Upnp));
    let by_hand = pfwd_core::Mapping::new(
        pfwd_core::Method::Manual,
        Protocol::Tcp,
        Ipv4Addr::LOCALHOST,
        "5.5.5.7:8080".parse::<std::net::SocketAddr>().unwrap(),
        "127.0.0.1:8080".parse::<std::net::SocketAddr>().unwrap(),
        Lease::Permanent,
        std::time::Instant::now(),
        "by hand",
        pfwd_core::MethodState::None,
    );
    let err = client.unmap(&by_hand).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                method: pfwd_core::Method::Manual,
                ..
            }
        ),
        "{err:?}"
    );
    let actions = fake.actions();
    assert!(
        !actions.iter().any(|(a, _)| a == "DeletePortMapping"),
        "{actions:?}"
    );
}
