//! The router's UPnP device description: what it says about itself (maker,
//! model, admin page), for the manual guide.

use std::net::SocketAddr;

use super::Upnp;
use crate::error::{Error, Result};
use crate::guide::RouterInfo;
use crate::mapping::Method;

/// The largest device description pfwd reads.
const MAX_DESCRIPTION: usize = 256 * 1024;

impl Upnp {
    /// What the router says about itself in its device description (maker,
    /// model, admin page). Readable even when the router refuses mappings.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] or [`Error::NoGateway`] when the description cannot
    /// be fetched, [`Error::InvalidResponse`] when it is not readable XML.
    pub async fn router_info(&self) -> Result<RouterInfo> {
        use http_body_util::BodyExt;
        let url = self.description_url();
        let uri: hyper::Uri = url.parse().map_err(|e| Error::InvalidResponse {
            method: Method::Upnp,
            detail: format!("the description URL {url} is not a URL: {e}"),
        })?;
        let fetch = async {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
            let response = client.get(uri).await.map_err(|e| Error::NoGateway {
                method: Some(Method::Upnp),
                detail: format!("fetching {url}: {e}"),
            })?;
            let body = http_body_util::Limited::new(response.into_body(), MAX_DESCRIPTION)
                .collect()
                .await
                .map_err(|e| Error::InvalidResponse {
                    method: Method::Upnp,
                    detail: format!("reading {url}: {e}"),
                })?
                .to_bytes();
            parse_description(&body, self.igd.addr)
        };
        self.call("the description request", fetch).await?
    }
}

/// The maker, model and admin page from a UPnP root device description
/// fetched from `from` (a relative admin page is made absolute with it).
///
/// # Errors
///
/// [`Error::InvalidResponse`] when it is not XML or has no root `<device>`.
pub fn parse_description(xml: &[u8], from: SocketAddr) -> Result<RouterInfo> {
    let root = xmltree::Element::parse(xml).map_err(|e| Error::InvalidResponse {
        method: Method::Upnp,
        detail: format!("the device description is not XML: {e}"),
    })?;
    let device = root
        .get_child("device")
        .ok_or_else(|| Error::InvalidResponse {
            method: Method::Upnp,
            detail: "the device description has no <device>".into(),
        })?;
    let text = |name: &str| {
        device
            .get_child(name)
            .and_then(|e| e.get_text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let admin_url = text("presentationURL").map(|u| {
        if u.starts_with('/') {
            format!("http://{}{u}", from.ip())
        } else {
            u
        }
    });
    Ok(RouterInfo {
        manufacturer: text("manufacturer"),
        model_name: text("modelName"),
        model_number: text("modelNumber"),
        friendly_name: text("friendlyName"),
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
}
