//! The router's UPnP descriptions, fetched and read with hard limits: the
//! root device description (where its WAN connection service is, and what
//! it says about itself for the manual guide) and that service's
//! description (SCPD: the arguments of its actions, which igd-next needs).
//!
//! Limits, for a router whose SSDP answer is fine but whose web server is
//! broken (an endless body, headers that trickle in, an XML entity bomb):
//! each document is at most [`MAX_DESCRIPTION`] bytes, its headers must
//! arrive within [`HEADERS_WITHIN`] and all of it within [`BODY_WITHIN`]
//! (both cut to what is left of the discovery budget), and a DOCTYPE (the
//! only place entities are declared) or nesting deeper than [`MAX_DEPTH`]
//! is refused before any tree is built.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::Upnp;
use crate::error::{Error, Result};
use crate::guide::RouterInfo;
use crate::mapping::Method;
use crate::wire::ssdp::Location;

/// The largest description (device or service) pfwd reads: 64 KiB.
/// miniupnpd's device description is about 2.5 KB and its service
/// description about 6 KB; the largest real routers' are under 20 KB.
pub const MAX_DESCRIPTION: usize = 64 * 1024;

/// How long a description's HTTP headers may take to arrive, connecting
/// included: 1 second (miniupnpd answers in about a millisecond).
pub const HEADERS_WITHIN: Duration = Duration::from_secs(1);

/// How long a whole description may take: 2 seconds.
pub const BODY_WITHIN: Duration = Duration::from_secs(2);

/// The deepest element nesting pfwd reads in a description: 32. A UPnP
/// device description nests about 10 deep (root, device, deviceList,
/// device, deviceList, device, serviceList, service, controlURL).
pub const MAX_DEPTH: usize = 32;

/// The WAN connection services pfwd maps ports through (igd-next's three).
const WAN_SERVICES: [&str; 3] = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];

/// The IPv6 firewall service of IGDv2 routers, where pinholes are opened
/// (see [`super::pinhole`]). miniupnpd lists it in the WANConnectionDevice,
/// next to WANIPConnection:2.
const FIREWALL_SERVICE: &str = super::pinhole::FIREWALL_SERVICE;

/// Why a description could not be had.
#[derive(Debug)]
pub(super) enum FetchError {
    /// The TCP connection failed.
    Connect(std::io::Error),
    /// The HTTP exchange failed.
    Http(String),
    /// A status other than 200.
    Status(u16),
    /// Longer than [`MAX_DESCRIPTION`].
    TooLarge(Option<u64>),
    /// Not within the time limit: how long pfwd waited and for what.
    TimedOut(Duration, &'static str),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Connect(e) => write!(f, "could not connect ({e})"),
            FetchError::Http(e) => write!(f, "broken HTTP ({e})"),
            FetchError::Status(s) => write!(f, "HTTP {s}"),
            FetchError::TooLarge(Some(n)) => {
                write!(f, "larger than {MAX_DESCRIPTION} bytes (it announces {n})")
            }
            FetchError::TooLarge(None) => write!(f, "larger than {MAX_DESCRIPTION} bytes"),
            FetchError::TimedOut(after, what) => {
                write!(f, "timed out after {} ms ({what})", after.as_millis())
            }
        }
    }
}

/// Aborts the HTTP connection's task when the fetch ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// GET `url` with the limits above, the time ones cut to `deadline`.
pub(super) async fn fetch(
    url: &Location,
    deadline: Instant,
) -> std::result::Result<Bytes, FetchError> {
    let started = Instant::now();
    let headers_by = deadline.min(started + HEADERS_WITHIN);
    let body_by = deadline.min(started + BODY_WITHIN);
    let late =
        |by: Instant, what| FetchError::TimedOut(by.saturating_duration_since(started), what);
    let addr = SocketAddr::new(url.ip, url.port);
    let stream = timeout_at(headers_by, TcpStream::connect(addr))
        .await
        .map_err(|_| late(headers_by, "connecting"))?
        .map_err(FetchError::Connect)?;
    let _ = stream.set_nodelay(true);
    log::debug!(
        "UPnP: {url}: connected in {} ms",
        started.elapsed().as_millis()
    );
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        // The least hyper allows: no header block of a description is near it.
        .max_buf_size(8192)
        .handshake::<_, Empty<Bytes>>(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let _conn = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let host = match url.ip {
        IpAddr::V4(ip) => format!("{ip}:{}", url.port),
        IpAddr::V6(ip) => format!("[{ip}]:{}", url.port),
    };
    let request = hyper::Request::get(url.path.as_str())
        .header(hyper::header::HOST, host)
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::new())
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let response = timeout_at(headers_by, sender.send_request(request))
        .await
        .map_err(|_| late(headers_by, "waiting for its headers"))?
        .map_err(|e| FetchError::Http(e.to_string()))?;
    log::debug!(
        "UPnP: {url}: connected and headers in {} ms",
        started.elapsed().as_millis()
    );
    if response.status() != hyper::StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let announced = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_DESCRIPTION as u64) {
        return Err(FetchError::TooLarge(announced));
    }
    let body = timeout_at(
        body_by,
        Limited::new(response.into_body(), MAX_DESCRIPTION).collect(),
    )
    .await
    .map_err(|_| late(body_by, "reading its body"))?
    .map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() {
            FetchError::TooLarge(None)
        } else {
            FetchError::Http(e.to_string())
        }
    })?;
    log::debug!("UPnP: {url}: read in {} ms", started.elapsed().as_millis());
    Ok(body.to_bytes())
}

/// Parse `xml` as a description: refuse a DOCTYPE (entities are declared
/// there, and no UPnP description needs one) and nesting deeper than
/// [`MAX_DEPTH`] before xmltree builds its (recursive) tree.
pub(super) fn parse_xml(xml: &[u8]) -> std::result::Result<xmltree::Element, String> {
    let lower = xml.to_ascii_lowercase();
    if lower.windows(9).any(|w| w == b"<!doctype") || lower.windows(8).any(|w| w == b"<!entity") {
        return Err(
            "not a plain XML document: it has a DOCTYPE (entities), which pfwd refuses".into(),
        );
    }
    let mut depth = 0usize;
    for event in xml::reader::EventReader::new(xml) {
        match event {
            Ok(xml::reader::XmlEvent::StartElement { .. }) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH} elements"));
                }
            }
            Ok(xml::reader::XmlEvent::EndElement { .. }) => depth = depth.saturating_sub(1),
            Ok(_) => {}
            Err(e) => return Err(format!("not XML ({e})")),
        }
    }
    xmltree::Element::parse(xml).map_err(|e| format!("not XML ({e})"))
}

/// The text of `parent`'s child `name`, trimmed, when not empty.
fn child_text(parent: &xmltree::Element, name: &str) -> Option<String> {
    parent
        .get_child(name)
        .and_then(|e| e.get_text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// What pfwd takes from a root device description.
#[derive(Debug)]
pub(super) struct Description {
    /// The WAN connection service: its type, control URL and SCPD URL.
    pub service: Option<Service>,
    /// The IPv6 firewall service (`WANIPv6FirewallControl:1`), where the
    /// router opens pinholes. Its control URL is on the address the
    /// description came from; [`super::pinhole`] says how to reach it
    /// over IPv6. Read by the IPv6 forwarder (issue 15 wires it in).
    pub firewall: Option<Service>,
    /// Every service type listed (to name them when none is usable).
    pub listed: Vec<String>,
    /// What the router says about itself.
    pub router: RouterInfo,
}

/// A WAN connection service, its URLs resolved.
#[derive(Debug)]
pub(super) struct Service {
    /// `urn:schemas-upnp-org:service:WANIPConnection:1`, ...
    pub service_type: String,
    /// Where its actions are sent.
    pub control: Location,
    /// Where its description (SCPD) is.
    pub scpd: Location,
}

/// Read a root device description fetched from `from`.
pub(super) fn read_description(
    xml: &[u8],
    from: &Location,
) -> std::result::Result<Description, String> {
    let root = parse_xml(xml)?;
    let router = router_info(&root, SocketAddr::new(from.ip, from.port))?;
    // A relative URL is relative to URLBase (UDA 1.0) where there is one.
    let base = match child_text(&root, "URLBase") {
        Some(b) => {
            Location::parse(&b).map_err(|why| format!("its URLBase {b:?} is not usable: {why}"))?
        }
        None => from.clone(),
    };
    // Every <service>, in document order (depth first, without recursion).
    let mut services = Vec::new();
    let mut pending = vec![&root];
    while let Some(element) = pending.pop() {
        if element.name == "service" {
            services.push(element);
            continue;
        }
        pending.extend(element.children.iter().filter_map(|c| c.as_element()).rev());
    }
    let listed: Vec<String> = services
        .iter()
        .filter_map(|s| child_text(s, "serviceType"))
        .collect();
    // The first WAN connection service in the document, as igd-next chose:
    // a router that lists both WANIPConnection and WANPPPConnection lists
    // the one in use first.
    let url = |s: &xmltree::Element, kind: &str, name: &str| {
        let value = child_text(s, name).unwrap_or_default();
        let url = base
            .join(&value)
            .map_err(|why| format!("the {kind} service's {name} {value:?} is not usable: {why}"))?;
        // Only the router itself: a description must not send pfwd elsewhere.
        if url.ip != from.ip {
            return Err(format!(
                "the {kind} service's {name} {url} is not on the router ({})",
                from.ip
            ));
        }
        Ok(url)
    };
    let find = |wanted: &dyn Fn(&str) -> bool| match services.iter().find_map(|s| {
        let kind = child_text(s, "serviceType")?;
        wanted(&kind).then_some((s, kind))
    }) {
        Some((s, kind)) => Ok(Some(Service {
            control: url(s, &kind, "controlURL")?,
            scpd: url(s, &kind, "SCPDURL")?,
            service_type: kind,
        })),
        None => Ok::<_, String>(None),
    };
    let service = find(&|kind| WAN_SERVICES.contains(&kind))?;
    let firewall = find(&|kind| kind == FIREWALL_SERVICE)?;
    Ok(Description {
        service,
        firewall,
        listed,
        router,
    })
}

/// The actions of a service description (SCPD) and the names of their
/// input arguments, as igd-next's `Gateway::control_schema` holds them.
pub(super) fn read_scpd(xml: &[u8]) -> std::result::Result<HashMap<String, Vec<String>>, String> {
    let root = parse_xml(xml)?;
    let list = root
        .get_child("actionList")
        .ok_or("a service description without an <actionList>")?;
    fn elements<'a>(e: &'a xmltree::Element, name: &'static str) -> Vec<&'a xmltree::Element> {
        e.children
            .iter()
            .filter_map(|c| c.as_element())
            .filter(|c| c.name == name)
            .collect()
    }
    let mut actions = HashMap::new();
    for action in elements(list, "action") {
        let Some(name) = child_text(action, "name") else {
            continue;
        };
        let inputs = action
            .get_child("argumentList")
            .map(|l| {
                elements(l, "argument")
                    .into_iter()
                    .filter(|a| child_text(a, "direction").as_deref() == Some("in"))
                    .filter_map(|a| child_text(a, "name"))
                    .collect()
            })
            .unwrap_or_default();
        actions.insert(name, inputs);
    }
    Ok(actions)
}

impl Upnp {
    /// What the router says about itself in its device description (maker,
    /// model, admin page), as read when it was found. Readable even when
    /// the router refuses mappings.
    ///
    /// # Errors
    ///
    /// None today (the description was read at discovery); the `Result`
    /// stays for a backend that reads it on demand.
    pub async fn router_info(&self) -> Result<RouterInfo> {
        Ok(self.router.clone())
    }
}

/// The maker, model and admin page from a UPnP root device description
/// fetched from `from` (a relative admin page is made absolute with it).
///
/// # Errors
///
/// [`Error::InvalidResponse`] when it is not XML (or has a DOCTYPE, or
/// nests too deep) or has no root `<device>`.
///
/// # Examples
///
/// A router's description, read offline, and the guide written for it:
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use pfwd_core::backend::upnp::parse_description;
/// use pfwd_core::guide::{GuideContext, Instructions};
/// use pfwd_core::{ErrorKind, Protocol};
///
/// let xml = br#"<?xml version="1.0"?>
/// <root xmlns="urn:schemas-upnp-org:device-1-0"><device>
///   <friendlyName>Home router</friendlyName><manufacturer>NETGEAR</manufacturer>
///   <modelName>R7000</modelName><presentationURL>/start.htm</presentationURL>
/// </device></root>"#;
/// let from: SocketAddr = "192.168.1.1:5000".parse()?;
/// let router = parse_description(xml, from)?;
/// assert_eq!(router.display_name().as_deref(), Some("NETGEAR R7000"));
/// assert_eq!(router.admin_url.as_deref(), Some("http://192.168.1.1/start.htm"));
///
/// let context = GuideContext { router: Some(router), ..GuideContext::default() };
/// let guide = Instructions::build(&context, &[Protocol::Tcp], 80, Some(Ipv4Addr::new(192, 168, 1, 4).into()), 80);
/// assert_eq!(guide.router.vendor, "NETGEAR");
/// assert_eq!(guide.router.admin_urls[0], "http://192.168.1.1/start.htm");
///
/// // An entity bomb never gets as far as a tree.
/// let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><root/>"#;
/// assert_eq!(parse_description(bomb, from).unwrap_err().kind(), ErrorKind::InvalidResponse);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_description(xml: &[u8], from: SocketAddr) -> Result<RouterInfo> {
    let root = parse_xml(xml).map_err(|why| Error::InvalidResponse {
        method: Method::Upnp,
        detail: format!("the device description is {why}"),
    })?;
    router_info(&root, from).map_err(|why| Error::InvalidResponse {
        method: Method::Upnp,
        detail: format!("the device description {why}"),
    })
}

fn router_info(
    root: &xmltree::Element,
    from: SocketAddr,
) -> std::result::Result<RouterInfo, String> {
    let device = root.get_child("device").ok_or("has no <device>")?;
    let admin_url = child_text(device, "presentationURL").map(|u| {
        if u.starts_with('/') {
            format!("http://{}{u}", from.ip())
        } else {
            u
        }
    });
    Ok(RouterInfo {
        manufacturer: child_text(device, "manufacturer"),
        model_name: child_text(device, "modelName"),
        model_number: child_text(device, "modelNumber"),
        friendly_name: child_text(device, "friendlyName"),
        admin_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_maker_model_and_admin_page() {
        let xml = br#"<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>
            <friendlyName> Home router </friendlyName><manufacturer>TP-Link</manufacturer>
            <modelName>Archer C7</modelName><modelNumber>5.0</modelNumber>
            <presentationURL>/admin/</presentationURL></device></root>"#;
        let info = parse_description(xml, "192.168.1.1:1900".parse().unwrap()).unwrap();
        assert_eq!(info.friendly_name.as_deref(), Some("Home router"));
        assert_eq!(
            info.display_name().as_deref(),
            Some("TP-Link Archer C7 5.0")
        );
        assert_eq!(info.admin_url.as_deref(), Some("http://192.168.1.1/admin/"));
        assert!(parse_description(b"<html>", "1.1.1.1:1".parse().unwrap()).is_err());
        assert!(parse_description(b"<root/>", "1.1.1.1:1".parse().unwrap()).is_err());
    }

    /// miniupnpd 2.3.1's root description as the testbed's router served it
    /// (IGDv2: WANIPConnection:2, and an IPv6 firewall service), captured.
    const MINIUPNPD: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337"><specVersion><major>1</major><minor>1</minor></specVersion><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><friendlyName>pfwd testbed router</friendlyName><manufacturer>Debian</manufacturer><manufacturerURL>http://www.debian.org/</manufacturerURL><modelDescription>Debian router</modelDescription><modelName>Debian router</modelName><modelNumber>1</modelNumber><modelURL>http://www.debian.org/</modelURL><serialNumber>00000000</serialNumber><UDN>uuid:3a3b6c1e-0f1c-4a55-9b62-1d4a5c6e7f80</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><SCPDURL>/L3F.xml</SCPDURL><controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service><service><serviceType>urn:schemas-upnp-org:service:DeviceProtection:1</serviceType><serviceId>urn:upnp-org:serviceId:DeviceProtection1</serviceId><SCPDURL>/DP.xml</SCPDURL><controlURL>/ctl/DP</controlURL><eventSubURL>/evt/DP</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType><friendlyName>WANDevice</friendlyName><manufacturer>MiniUPnP</manufacturer><manufacturerURL>http://miniupnp.free.fr/</manufacturerURL><modelDescription>WAN Device</modelDescription><modelName>WAN Device</modelName><modelNumber>20221221</modelNumber><modelURL>http://miniupnp.free.fr/</modelURL><serialNumber>00000000</serialNumber><UDN>uuid:3a3b6c1e-0f1c-4a55-9b62-1d4a5c6e7f81</UDN><UPC>000000000000</UPC><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId><SCPDURL>/WANCfg.xml</SCPDURL><controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><friendlyName>WANConnectionDevice</friendlyName><manufacturer>MiniUPnP</manufacturer><manufacturerURL>http://miniupnp.free.fr/</manufacturerURL><modelDescription>MiniUPnP daemon</modelDescription><modelName>MiniUPnPd</modelName><modelNumber>20221221</modelNumber><modelURL>http://miniupnp.free.fr/</modelURL><serialNumber>00000000</serialNumber><UDN>uuid:3a3b6c1e-0f1c-4a55-9b62-1d4a5c6e7f82</UDN><UPC>000000000000</UPC><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service><service><serviceType>urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType><serviceId>urn:upnp-org:serviceId:WANIPv6Firewall1</serviceId><SCPDURL>/WANIP6FC.xml</SCPDURL><controlURL>/ctl/IP6FCtl</controlURL><eventSubURL>/evt/IP6FCtl</eventSubURL></service></serviceList></device></deviceList></device></deviceList><presentationURL>http://192.168.77.1/</presentationURL></device></root>"#;

    fn from() -> Location {
        Location::parse("http://192.168.77.1:5000/rootDesc.xml").unwrap()
    }

    #[test]
    fn finds_miniupnpds_wan_ip_connection() {
        let d = read_description(MINIUPNPD.as_bytes(), &from()).unwrap();
        let s = d.service.unwrap();
        assert_eq!(
            s.service_type,
            "urn:schemas-upnp-org:service:WANIPConnection:2"
        );
        assert_eq!(s.control.to_string(), "http://192.168.77.1:5000/ctl/IPConn");
        assert_eq!(s.scpd.to_string(), "http://192.168.77.1:5000/WANIPCn.xml");
        assert_eq!(d.listed.len(), 5);
        assert_eq!(d.router.manufacturer.as_deref(), Some("Debian"));
    }

    #[test]
    fn finds_miniupnpds_ipv6_firewall_control() {
        // The same description over IPv4 and over IPv6 (captured from the
        // dual-stack testbed both ways: byte for byte this one).
        let d = read_description(MINIUPNPD.as_bytes(), &from()).unwrap();
        let fw = d.firewall.unwrap();
        assert_eq!(
            fw.service_type,
            "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"
        );
        assert_eq!(
            fw.control.to_string(),
            "http://192.168.77.1:5000/ctl/IP6FCtl"
        );
        assert_eq!(fw.scpd.to_string(), "http://192.168.77.1:5000/WANIP6FC.xml");
        let over_v6 = Location::parse("http://[2001:db8:77::1]:5000/rootDesc.xml").unwrap();
        let d = read_description(MINIUPNPD.as_bytes(), &over_v6).unwrap();
        assert_eq!(
            d.firewall.unwrap().control.to_string(),
            "http://[2001:db8:77::1]:5000/ctl/IP6FCtl"
        );
        // An IGDv1 router has none; the WAN service is still found.
        let v1 = MINIUPNPD.replace("WANIPv6FirewallControl", "WANIPv6Nothing");
        let d = read_description(v1.as_bytes(), &from()).unwrap();
        assert!(d.firewall.is_none() && d.service.is_some());
        let elsewhere = MINIUPNPD.replace("/ctl/IP6FCtl", "http://192.168.77.99/ctl");
        let e = read_description(elsewhere.as_bytes(), &from()).unwrap_err();
        assert!(
            e.contains("WANIPv6FirewallControl:1 service's controlURL"),
            "{e}"
        );
    }

    #[test]
    fn refuses_entities_depth_and_foreign_hosts() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><root>&lol2;</root>"#;
        let e = read_description(bomb, &from()).unwrap_err();
        assert!(e.contains("DOCTYPE"), "{e}");
        let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
        let e = read_description(deep.as_bytes(), &from()).unwrap_err();
        assert!(e.contains("deeper than 32"), "{e}");
        let e = read_description(b"<html><body>Login", &from()).unwrap_err();
        assert!(e.starts_with("not XML ("), "{e}");
        let elsewhere = MINIUPNPD.replace("/ctl/IPConn", "http://192.168.77.99/ctl");
        let e = read_description(elsewhere.as_bytes(), &from()).unwrap_err();
        assert!(e.contains("not on the router"), "{e}");
        let none = MINIUPNPD.replace("WANIPConnection", "WANIPv4Nothing");
        let d = read_description(none.as_bytes(), &from()).unwrap();
        assert!(d.service.is_none());
    }

    #[test]
    fn reads_a_service_description() {
        let scpd =
            br#"<?xml version="1.0"?><scpd xmlns="urn:schemas-upnp-org:service-1-0"><actionList>
            <action><name>AddPortMapping</name><argumentList>
              <argument><name>NewRemoteHost</name><direction>in</direction></argument>
              <argument><name>NewExternalPort</name><direction>in</direction></argument>
            </argumentList></action>
            <action><name>GetExternalIPAddress</name><argumentList>
              <argument><name>NewExternalIPAddress</name><direction>out</direction></argument>
            </argumentList></action></actionList></scpd>"#;
        let actions = read_scpd(scpd).unwrap();
        assert_eq!(
            actions["AddPortMapping"],
            ["NewRemoteHost", "NewExternalPort"]
        );
        assert!(actions["GetExternalIPAddress"].is_empty());
        assert!(read_scpd(b"<scpd/>").is_err());
    }
}
