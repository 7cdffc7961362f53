//! SSDP (UPnP Device Architecture 1.1, section 1.3): the M-SEARCH pfwd
//! sends to find an Internet Gateway Device, and the answer a device gives.
//!
//! Sans-IO like the rest of `wire`: [`search`] builds the datagram,
//! [`Response::decode`] reads one. Decoding is bounded ([`MAX_RESPONSE`]
//! bytes), never panics, and says what is wrong with a typed
//! [`SsdpError`]. A response is kept only with a usable `LOCATION`: an
//! `http://` URL whose host is an IP address (a router's description is
//! never behind a name pfwd would have to resolve).
//!
//! What a real router sends (miniupnpd 2.3, the daemon most routers run),
//! pinned byte for byte in the tests below:
//!
//! ```text
//! HTTP/1.1 200 OK
//! CACHE-CONTROL: max-age=120
//! ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1
//! USN: uuid:...::urn:schemas-upnp-org:device:InternetGatewayDevice:1
//! EXT:
//! SERVER: Debian/6.18.44-fc-v669 UPnP/1.1 MiniUPnPd/2.3.1
//! LOCATION: http://192.168.77.1:5000/rootDesc.xml
//! OPT: "http://schemas.upnp.org/upnp/1/0/"; ns=01
//! 01-NLS: 1795705972
//! BOOTID.UPNP.ORG: 1795705972
//! CONFIGID.UPNP.ORG: 1337
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};

/// The UDP port of SSDP (UDA 1.1, section 1.3.2).
pub const PORT: u16 = 1900;

/// The IPv4 multicast group of SSDP: 239.255.255.250.
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);

/// The search target of an Internet Gateway Device, version 1. A device of
/// a later version answers it too (UDA 1.1, 1.3.2: "Devices MUST respond to
/// M-SEARCH requests for any supported version").
pub const IGD_V1: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
/// The search target of an Internet Gateway Device, version 2.
pub const IGD_V2: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:2";
/// The search target of the WANIPConnection service, version 1.
pub const WAN_IP_V1: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";
/// The search target of the WANPPPConnection service, version 1.
pub const WAN_PPP_V1: &str = "urn:schemas-upnp-org:service:WANPPPConnection:1";

/// What pfwd searches for: the gateway device and its IP connection
/// service. A device of either version of a type must answer a search for
/// version 1 (UDA 1.1, 1.3.2), and a router on PPP lists the gateway
/// device too. The first search asks for the first only; its repeats ask
/// for both. Few on purpose: miniupnpd answers every search 50 ms
/// later, and with a dozen answers pending it serves its HTTP ~50 ms
/// slower (measured in the testbed), which is most of a UPnP mapping's
/// time.
pub const GATEWAY_TARGETS: [&str; 2] = [IGD_V1, WAN_IP_V1];

/// The `MX` pfwd sends: 1 second, the smallest the specification allows
/// (UDA 1.1, 1.3.2: 1 to 5). A router may wait a random time up to MX
/// before it answers (miniupnpd built with `DELAY_MSEARCH_RESPONSE` does;
/// Debian's waits a fixed 50 ms); igd-next sent 3. `MX: 0` must never be
/// sent: such a miniupnpd divides by it.
pub const MX: u8 = 1;

/// The longest search response pfwd reads: 2048 bytes. miniupnpd's are
/// about 400 and fit its 1024-byte buffer; one datagram on a LAN is at most
/// 1472 bytes without fragments.
pub const MAX_RESPONSE: usize = 2048;

/// An M-SEARCH for `target` (`ST`), addressed to `host` (the multicast
/// group and port, or the gateway's address for a unicast search), with
/// the `MX` given (clamped to 1-5).
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::ssdp;
/// let m = ssdp::search(ssdp::MULTICAST_V4, ssdp::PORT, ssdp::IGD_V1, ssdp::MX);
/// assert!(m.starts_with(b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"));
/// ```
pub fn search(host: Ipv4Addr, port: u16, target: &str, mx: u8) -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {}\r\nMAN: \"ssdp:discover\"\r\nMX: {}\r\nST: {target}\r\n\r\n",
        SocketAddrV4::new(host, port),
        mx.clamp(1, 5)
    )
    .into_bytes()
}

/// A device's answer to an M-SEARCH: where its description is, and what it
/// says about itself.
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::ssdp::{IGD_V1, Response};
///
/// let datagram = b"HTTP/1.1 200 OK\r\n\
/// CACHE-CONTROL: max-age=120\r\n\
/// ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
/// USN: uuid:3a3b6c1e::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
/// EXT:\r\n\
/// SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n\
/// LOCATION: http://192.168.1.1:5000/rootDesc.xml\r\n\r\n";
/// let answer = Response::decode(datagram)?;
/// assert_eq!(answer.location.to_string(), "http://192.168.1.1:5000/rootDesc.xml");
/// assert_eq!(answer.st.as_deref(), Some(IGD_V1));
/// assert!(answer.is_gateway());
/// assert_eq!(Response::decode(&answer.encode()), Ok(answer));
/// # Ok::<(), pfwd_core::wire::ssdp::SsdpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Response {
    /// `LOCATION`: the URL of the root device description.
    pub location: Location,
    /// `ST`: the search target this answers (None when absent).
    pub st: Option<String>,
    /// `USN`: the unique service name (None when absent).
    pub usn: Option<String>,
    /// `SERVER`: the device's OS, UPnP version and product (None when absent).
    pub server: Option<String>,
}

/// Why a datagram is not a usable search response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SsdpError {
    /// Longer than [`MAX_RESPONSE`].
    TooLong(usize),
    /// Not an HTTP response (its first line is not `HTTP/1.x NNN ...`): a
    /// request such as an M-SEARCH or NOTIFY, or garbage.
    NotAResponse,
    /// An HTTP status other than 200.
    Status(u16),
    /// A header line without a colon.
    BadHeader,
    /// A required header is missing (`LOCATION`).
    Missing(&'static str),
    /// `LOCATION` is not a URL pfwd fetches: the reason.
    BadLocation(&'static str),
}

impl fmt::Display for SsdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SsdpError::TooLong(n) => write!(
                f,
                "a search response of {n} bytes (at most {MAX_RESPONSE} are read)"
            ),
            SsdpError::NotAResponse => f.write_str("not an HTTP response"),
            SsdpError::Status(s) => write!(f, "HTTP status {s} instead of 200"),
            SsdpError::BadHeader => f.write_str("a malformed header line"),
            SsdpError::Missing(h) => write!(f, "no {h} header"),
            SsdpError::BadLocation(why) => write!(f, "LOCATION is not usable: {why}"),
        }
    }
}

impl std::error::Error for SsdpError {}

impl Response {
    /// Read a search response. Header names are case-insensitive, lines may
    /// end in CRLF or LF, the first of a repeated header counts, and
    /// unknown headers are skipped.
    ///
    /// # Errors
    ///
    /// An [`SsdpError`] saying what is wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::wire::ssdp::{Response, SsdpError};
    ///
    /// let not_found = Response::decode(b"HTTP/1.1 404 Not Found\r\n\r\n");
    /// assert_eq!(not_found, Err(SsdpError::Status(404)));
    /// let by_name = Response::decode(b"HTTP/1.1 200 OK\r\nLOCATION: http://router.lan/desc.xml\r\n\r\n");
    /// assert_eq!(by_name, Err(SsdpError::BadLocation("the host is a name, not an IP address")));
    /// let search = Response::decode(b"M-SEARCH * HTTP/1.1\r\n\r\n");
    /// assert_eq!(search, Err(SsdpError::NotAResponse));
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Response, SsdpError> {
        if bytes.len() > MAX_RESPONSE {
            return Err(SsdpError::TooLong(bytes.len()));
        }
        let mut lines = bytes.split(|&b| b == b'\n').map(|l| match l {
            [rest @ .., b'\r'] => rest,
            l => l,
        });
        let status = lines.next().ok_or(SsdpError::NotAResponse)?;
        let code = status_code(status)?;
        if code != 200 {
            return Err(SsdpError::Status(code));
        }
        let (mut location, mut st, mut usn, mut server) = (None, None, None, None);
        for line in lines {
            if line.is_empty() {
                break; // the end of the headers
            }
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or(SsdpError::BadHeader)?;
            let name = &line[..colon];
            let slot = if name.eq_ignore_ascii_case(b"location") {
                &mut location
            } else if name.eq_ignore_ascii_case(b"st") {
                &mut st
            } else if name.eq_ignore_ascii_case(b"usn") {
                &mut usn
            } else if name.eq_ignore_ascii_case(b"server") {
                &mut server
            } else {
                continue;
            };
            if slot.is_none() {
                // Lossy: a router's SERVER may be Latin-1; LOCATION must be
                // printable ASCII, which `Location::parse` checks.
                *slot = Some(
                    String::from_utf8_lossy(&line[colon + 1..])
                        .trim()
                        .to_string(),
                );
            }
        }
        let location = location.ok_or(SsdpError::Missing("LOCATION"))?;
        Ok(Response {
            location: Location::parse(&location).map_err(SsdpError::BadLocation)?,
            st,
            usn,
            server,
        })
    }

    /// The response as a device sends it (the fields this type keeps, in
    /// miniupnpd's order); [`Response::decode`] reads it back unchanged.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::from("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n");
        for (name, value) in [("ST", &self.st), ("USN", &self.usn)] {
            if let Some(v) = value {
                out.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        out.push_str("EXT:\r\n");
        if let Some(v) = &self.server {
            out.push_str(&format!("SERVER: {v}\r\n"));
        }
        out.push_str(&format!("LOCATION: {}\r\n\r\n", self.location));
        out.into_bytes()
    }

    /// True when this answers a search for a gateway: its `ST` is the
    /// gateway device or one of its connection services (any version), or
    /// it has none.
    pub fn is_gateway(&self) -> bool {
        self.st.as_deref().is_none_or(|st| {
            [IGD_V1, WAN_IP_V1, WAN_PPP_V1].iter().any(|t| {
                let family = t.trim_end_matches(|c: char| c.is_ascii_digit());
                st.strip_prefix(family)
                    .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            })
        })
    }
}

/// The status code of an HTTP/1.x status line.
fn status_code(line: &[u8]) -> Result<u16, SsdpError> {
    let line = std::str::from_utf8(line).map_err(|_| SsdpError::NotAResponse)?;
    let mut parts = line.split_ascii_whitespace();
    let version = parts.next().ok_or(SsdpError::NotAResponse)?;
    let code = parts.next().ok_or(SsdpError::NotAResponse)?;
    if !version
        .get(..7)
        .is_some_and(|v| v.eq_ignore_ascii_case("HTTP/1."))
    {
        return Err(SsdpError::NotAResponse);
    }
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SsdpError::NotAResponse);
    }
    code.parse().map_err(|_| SsdpError::NotAResponse)
}

/// An `http://` URL with an IP address for its host: where a device's
/// description (or a service's) is. Parsed without a URL library: a
/// router's URLs are this simple, and anything else is refused.
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::ssdp::Location;
///
/// let root = Location::parse("http://192.168.1.1:5000/rootDesc.xml")?;
/// assert_eq!((root.port, root.path.as_str()), (5000, "/rootDesc.xml"));
/// assert_eq!(root.origin(), "http://192.168.1.1:5000");
///
/// // URLs in the description are resolved against it.
/// assert_eq!(root.join("ctl/IPConn")?.to_string(), "http://192.168.1.1:5000/ctl/IPConn");
/// assert_eq!(root.join("/ctl/IPConn")?.path, "/ctl/IPConn");
///
/// assert_eq!(Location::parse("https://192.168.1.1/"), Err("not http"));
/// assert_eq!(Location::parse("http://192.168.1.1:0/"), Err("bad port"));
/// assert_eq!(Location::parse("http://[fe80::1]/desc.xml")?.port, 80);
/// # Ok::<(), &str>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The host.
    pub ip: IpAddr,
    /// The port (80 when the URL names none).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl Location {
    /// Parse an absolute `http://IP[:PORT][/PATH]` URL.
    ///
    /// # Errors
    ///
    /// Why it is not one, in a few words: "not http", "the host is a name,
    /// not an IP address", "bad port", "user information", "a fragment",
    /// "not printable ASCII".
    pub fn parse(url: &str) -> Result<Location, &'static str> {
        if !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("not printable ASCII");
        }
        let rest = match url.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[7..],
            _ if url.contains("://") => return Err("not http"),
            _ => return Err("not an absolute URL"),
        };
        if url.contains('#') {
            return Err("a fragment");
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err("user information");
        }
        let (ip, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or("an unclosed [")?;
            let ip: Ipv6Addr = v6[..end].parse().map_err(|_| "a bad IPv6 address")?;
            (IpAddr::V6(ip), &v6[end + 1..])
        } else {
            let (host, port) = match authority.find(':') {
                Some(i) => (&authority[..i], &authority[i..]),
                None => (authority, ""),
            };
            let ip: Ipv4Addr = host
                .parse()
                .map_err(|_| "the host is a name, not an IP address")?;
            (IpAddr::V4(ip), port)
        };
        let port = match port {
            "" => 80,
            p => match p.strip_prefix(':') {
                Some(n)
                    if !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    match n.parse::<u16>() {
                        Ok(0) | Err(_) => return Err("bad port"),
                        Ok(port) => port,
                    }
                }
                _ => return Err("bad port"),
            },
        };
        Ok(Location { ip, port, path })
    }

    /// Resolve `reference` (from a device description: an absolute URL, an
    /// absolute path, or a path relative to this one) against this URL.
    ///
    /// # Errors
    ///
    /// As [`Location::parse`] for an absolute URL; "empty" for an empty
    /// reference.
    pub fn join(&self, reference: &str) -> Result<Location, &'static str> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err("empty");
        }
        if reference.contains("://") {
            return Location::parse(reference);
        }
        let path = if reference.starts_with('/') {
            reference.to_string()
        } else {
            let dir = self.path.split('?').next().unwrap_or("/");
            let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
            format!("{}{reference}", if dir.is_empty() { "/" } else { dir })
        };
        Location::parse(&format!("{}{path}", self.origin()))
    }

    /// `http://IP:PORT`, without the path.
    pub fn origin(&self) -> String {
        match self.ip {
            IpAddr::V4(ip) => format!("http://{ip}:{}", self.port),
            IpAddr::V6(ip) => format!("http://[{ip}]:{}", self.port),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What miniupnpd 2.3.1 (Debian's package) sent the testbed's LAN host
    /// for a unicast search for IGD:1, captured in the testbed, byte for byte.
    const MINIUPNPD: &[u8] = b"HTTP/1.1 200 OK\r\n\
CACHE-CONTROL: max-age=120\r\n\
ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
USN: uuid:3a3b6c1e-0f1c-4a55-9b62-1d4a5c6e7f80::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
EXT:\r\n\
SERVER: Debian/6.18.44-fc-v669 UPnP/1.1 MiniUPnPd/2.3.1\r\n\
LOCATION: http://192.168.77.1:5000/rootDesc.xml\r\n\
OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n\
01-NLS: 1795705972\r\n\
BOOTID.UPNP.ORG: 1795705972\r\n\
CONFIGID.UPNP.ORG: 1337\r\n\
\r\n";

    #[test]
    fn reads_miniupnpd() {
        let r = Response::decode(MINIUPNPD).unwrap();
        assert_eq!(
            r.location.to_string(),
            "http://192.168.77.1:5000/rootDesc.xml"
        );
        assert_eq!(r.location.ip, IpAddr::V4(Ipv4Addr::new(192, 168, 77, 1)));
        assert_eq!(r.location.port, 5000);
        assert_eq!(r.st.as_deref(), Some(IGD_V1));
        assert!(r.usn.as_deref().unwrap().starts_with("uuid:3a3b6c1e"));
        assert_eq!(
            r.server.as_deref(),
            Some("Debian/6.18.44-fc-v669 UPnP/1.1 MiniUPnPd/2.3.1")
        );
        assert!(r.is_gateway());
        assert_eq!(Response::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn headers_are_case_insensitive_and_lf_lines_do() {
        let r = Response::decode(
            b"HTTP/1.0 200 OK\nst:urn:schemas-upnp-org:service:WANPPPConnection:1\nLocation:  http://10.0.0.138/igd.xml \nlocation: http://10.0.0.2/x\n",
        )
        .unwrap();
        assert_eq!(r.location.to_string(), "http://10.0.0.138:80/igd.xml");
        assert!(r.is_gateway());
        assert_eq!(r.server, None);
    }

    #[test]
    fn a_later_version_of_a_gateway_is_a_gateway_and_other_devices_are_not() {
        let with_st = |st: &str| {
            let mut r = Response::decode(MINIUPNPD).unwrap();
            r.st = Some(st.into());
            r.is_gateway()
        };
        assert!(with_st(
            "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
        ));
        assert!(with_st("urn:schemas-upnp-org:service:WANIPConnection:2"));
        assert!(!with_st("urn:schemas-upnp-org:device:MediaServer:1"));
        assert!(!with_st(
            "urn:schemas-upnp-org:device:InternetGatewayDevice:"
        ));
        assert!(!with_st("upnp:rootdevice"));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let err = |b: &[u8]| Response::decode(b).unwrap_err();
        assert_eq!(
            err(&[b'a'; MAX_RESPONSE + 1]),
            SsdpError::TooLong(MAX_RESPONSE + 1)
        );
        assert_eq!(err(b""), SsdpError::NotAResponse);
        assert_eq!(
            err(b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n"),
            SsdpError::NotAResponse
        );
        assert_eq!(err(b"NOTIFY * HTTP/1.1\r\n\r\n"), SsdpError::NotAResponse);
        assert_eq!(
            err(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            SsdpError::Status(404)
        );
        assert_eq!(err(b"HTTP/1.1 2000 OK\r\n\r\n"), SsdpError::NotAResponse);
        assert_eq!(
            err(b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n"),
            SsdpError::Missing("LOCATION")
        );
        assert_eq!(
            err(b"HTTP/1.1 200 OK\r\nno colon here\r\nLOCATION: http://1.2.3.4/\r\n\r\n"),
            SsdpError::BadHeader
        );
        // Headers after the blank line are the body: not read.
        assert_eq!(
            err(b"HTTP/1.1 200 OK\r\n\r\nLOCATION: http://1.2.3.4/\r\n"),
            SsdpError::Missing("LOCATION")
        );
        let location =
            |url: &str| err(format!("HTTP/1.1 200 OK\r\nLOCATION: {url}\r\n\r\n").as_bytes());
        for (url, why) in [
            ("https://192.168.1.1/d.xml", "not http"),
            ("/rootDesc.xml", "not an absolute URL"),
            (
                "http://router.local/d.xml",
                "the host is a name, not an IP address",
            ),
            ("http://192.168.1.1:0/d.xml", "bad port"),
            ("http://192.168.1.1:99999/d.xml", "bad port"),
            ("http://192.168.1.1:/d.xml", "bad port"),
            ("http://admin:pw@192.168.1.1/d.xml", "user information"),
            ("http://192.168.1.1/d.xml#x", "a fragment"),
        ] {
            assert_eq!(location(url), SsdpError::BadLocation(why), "{url}");
        }
        assert_eq!(
            err(b"HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/\xff\r\n\r\n"),
            SsdpError::BadLocation("not printable ASCII")
        );
        // Latin-1 in SERVER is read, lossily.
        let r = Response::decode(
            b"HTTP/1.1 200 OK\r\nSERVER: R\xe9seau\r\nLOCATION: http://1.2.3.4/\r\n\r\n",
        );
        assert_eq!(r.unwrap().server.as_deref(), Some("R\u{fffd}seau"));
    }

    #[test]
    fn builds_the_search_miniupnpd_answers() {
        let m = search(Ipv4Addr::new(192, 168, 77, 1), PORT, IGD_V1, 0);
        assert_eq!(
            m,
            b"M-SEARCH * HTTP/1.1\r\nHOST: 192.168.77.1:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n"
        );
    }

    #[test]
    fn locations_join_like_a_browser() {
        let base = Location::parse("http://192.168.1.1:5000/igd/desc.xml").unwrap();
        let join = |r: &str| base.join(r).map(|l| l.to_string());
        assert_eq!(
            join("/ctl/IPConn").unwrap(),
            "http://192.168.1.1:5000/ctl/IPConn"
        );
        assert_eq!(join("ctl").unwrap(), "http://192.168.1.1:5000/igd/ctl");
        assert_eq!(
            join("http://192.168.1.1:49000/x").unwrap(),
            "http://192.168.1.1:49000/x"
        );
        assert_eq!(join(""), Err("empty"));
        let v6 = Location::parse("http://[fe80::1]:49000/d.xml").unwrap();
        assert_eq!(v6.to_string(), "http://[fe80::1]:49000/d.xml");
        assert_eq!(Location::parse(&v6.to_string()).unwrap(), v6);
        let q = Location::parse("http://1.2.3.4?x=1").unwrap();
        assert_eq!(q.path, "/?x=1");
    }
}
