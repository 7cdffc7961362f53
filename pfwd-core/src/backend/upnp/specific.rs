//! `GetSpecificPortMappingEntry`: whether the router still holds one
//! mapping, in one request whatever the size of its table. miniupnpd
//! answers it for the mappings PCP and NAT-PMP made too, so it is how the
//! automatic client reads back a mapping of any method (igd-next has no
//! call for it; the exchange goes through its HTTP client).

use igd_next::aio::Provider;
use igd_next::aio::tokio::Tokio;

use super::Upnp;
use super::soap::{refused, request_error};
use crate::error::{Error, Result};
use crate::mapping::{Mapping, Method, Protocol};

/// UPnP's "NoSuchEntryInArray": the router holds no such mapping.
const NO_SUCH_ENTRY: u16 = 714;

/// What the router said of one external port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A mapping to this LAN host and port.
    To { client: String, port: u16 },
    /// No mapping on that port.
    None,
}

impl Upnp {
    /// Whether the router holds `mapping` (same protocol and outside port,
    /// to the same LAN host and port).
    pub(crate) async fn holds(&self, mapping: &Mapping) -> Result<bool> {
        let entry = self
            .specific_entry(mapping.protocol(), mapping.external().port())
            .await?;
        Ok(entry
            == Entry::To {
                client: mapping.internal().ip().to_string(),
                port: mapping.internal().port(),
            })
    }

    /// The router's entry for `protocol` and outside `port`.
    async fn specific_entry(&self, protocol: Protocol, port: u16) -> Result<Entry> {
        let what = format!("reading back {protocol} port {port}");
        let url = if self.igd.control_url.starts_with("http://") {
            self.igd.control_url.clone()
        } else {
            format!("http://{}{}", self.igd.addr, self.igd.control_url)
        };
        let action = format!("\"{}#GetSpecificPortMappingEntry\"", self.igd.service_type);
        let body = request_body(&self.igd.service_type, protocol, port);
        let answer = self
            .call(&what, Tokio::send_async(&url, &action, &body))
            .await?
            .map_err(|e| request_error("GetSpecificPortMappingEntry", &what, e))?;
        parse_answer(&answer, &what)
    }
}

/// The SOAP request for `protocol` and `port`.
fn request_body(service: &str, protocol: Protocol, port: u16) -> String {
    let proto = match protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    };
    format!(
        "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\
         <u:GetSpecificPortMappingEntry xmlns:u=\"{service}\"><NewRemoteHost></NewRemoteHost>\
         <NewExternalPort>{port}</NewExternalPort><NewProtocol>{proto}</NewProtocol>\
         </u:GetSpecificPortMappingEntry></s:Body></s:Envelope>"
    )
}

/// The entry in the router's answer, or why the answer is not one.
fn parse_answer(text: &str, what: &str) -> Result<Entry> {
    let garbage = |why: &str| Error::InvalidResponse {
        method: Method::Upnp,
        detail: format!("the answer to {what} {why}"),
    };
    // Bounded like the description: no DOCTYPE (entities), no deep nesting.
    let xml = super::description::parse_xml(text.as_bytes())
        .map_err(|why| garbage(&format!("is {why}")))?;
    let body = xml
        .get_child("Body")
        .ok_or_else(|| garbage("has no SOAP body"))?;
    if let Some(ok) = body.get_child("GetSpecificPortMappingEntryResponse") {
        let field = |name: &str| {
            ok.get_child(name)
                .and_then(|e| e.get_text())
                .map(|t| t.trim().to_string())
        };
        let client = field("NewInternalClient").ok_or_else(|| garbage("names no LAN host"))?;
        let port = field("NewInternalPort")
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| garbage("names no LAN port"))?;
        return Ok(Entry::To { client, port });
    }
    let code = body
        .get_child("Fault")
        .and_then(|f| f.get_child("detail"))
        .and_then(|d| d.get_child("UPnPError"))
        .and_then(|u| u.get_child("errorCode"))
        .and_then(|c| c.get_text())
        .and_then(|c| c.trim().parse::<u16>().ok())
        .ok_or_else(|| garbage("is neither an entry nor a UPnP error"))?;
    match code {
        NO_SUCH_ENTRY => Ok(Entry::None),
        other => Err(refused(what, other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetSpecificPortMappingEntryResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewInternalPort>8080</NewInternalPort><NewInternalClient>192.168.77.10</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>pfwd</NewPortMappingDescription><NewLeaseDuration>7190</NewLeaseDuration></u:GetSpecificPortMappingEntryResponse></s:Body></s:Envelope>"#;

    const FAULT: &str = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>CODE</errorCode><errorDescription>NoSuchEntryInArray</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#;

    #[test]
    fn an_entry_a_missing_one_a_refusal_and_garbage() {
        assert_eq!(
            parse_answer(ENTRY, "x").unwrap(),
            Entry::To {
                client: "192.168.77.10".into(),
                port: 8080
            }
        );
        assert_eq!(
            parse_answer(&FAULT.replace("CODE", "714"), "x").unwrap(),
            Entry::None
        );
        let refused = parse_answer(&FAULT.replace("CODE", "606"), "x").unwrap_err();
        assert!(matches!(refused, Error::Refused { .. }), "{refused}");
        for garbage in ["", "not xml", "<a/>", &FAULT.replace("CODE", "seven")] {
            let e = parse_answer(garbage, "reading back TCP port 80").unwrap_err();
            assert!(
                e.to_string().contains("reading back TCP port 80"),
                "{garbage}: {e}"
            );
        }
    }

    #[test]
    fn the_request_names_the_port_and_protocol() {
        let body = request_body(
            "urn:schemas-upnp-org:service:WANIPConnection:1",
            Protocol::Udp,
            51820,
        );
        assert!(body.contains("<NewExternalPort>51820</NewExternalPort>"));
        assert!(body.contains("<NewProtocol>UDP</NewProtocol>"));
        assert!(xmltree::Element::parse(body.as_bytes()).is_ok());
    }
}
