//! igd-next's errors as pfwd's: a SOAP fault's code becomes a refusal with
//! the code's meaning and advice; transport trouble becomes what it is.

use igd_next::RequestError;

use crate::error::{Error, GatewayCode, UpnpCode};
use crate::mapping::Method;

/// A refusal of `what` with the UPnP error `code`.
pub(super) fn refused(what: &str, code: u16) -> Error {
    Error::Refused {
        method: Method::Upnp,
        what: what.to_string(),
        code: GatewayCode::Upnp(UpnpCode(code)),
    }
}

/// Turn igd-next's transport and protocol errors for the SOAP `action`
/// (doing `what`) into pfwd's.
pub(super) fn request_error(action: &str, what: &str, e: RequestError) -> Error {
    match e {
        RequestError::ErrorCode(code, _) => refused(what, code),
        RequestError::UnsupportedAction(action) => Error::Unsupported {
            method: Method::Upnp,
            what: what.to_string(),
            detail: format!("the gateway's service has no {action} action"),
        },
        RequestError::InvalidResponse(text) => Error::InvalidResponse {
            method: Method::Upnp,
            detail: format!(
                "the router's answer to {action} ({what}) is {}: {}",
                diagnose(action, &text),
                excerpt(&text)
            ),
        },
        RequestError::Utf8Error(_) => Error::InvalidResponse {
            method: Method::Upnp,
            detail: format!("the router's answer to {action} ({what}) is not UTF-8 text"),
        },
        RequestError::IoError(io) => Error::io(format!("talking UPnP to the gateway ({what})"), io),
        other => Error::NoGateway {
            refused: false,
            method: Some(Method::Upnp),
            detail: format!("the gateway's UPnP service stopped answering ({what}: {other})"),
        },
    }
}

/// What is wrong with `text`, a SOAP answer to `action` that igd-next
/// could not use.
fn diagnose(action: &str, text: &str) -> String {
    if text.trim().is_empty() {
        return "empty".into();
    }
    let root = match super::description::parse_xml(text.as_bytes()) {
        Ok(root) => root,
        Err(why) => return why,
    };
    if root.name != "Envelope" {
        return format!("XML, but not a SOAP envelope (its root is <{}>)", root.name);
    }
    let Some(body) = root.get_child("Body") else {
        return "a SOAP envelope without a Body".into();
    };
    let response = format!("{action}Response");
    if body.get_child(response.as_str()).is_some() {
        return format!("a {response} without the values it must carry (or with unusable ones)");
    }
    if let Some(fault) = body.get_child("Fault") {
        return match fault
            .get_child("detail")
            .and_then(|d| d.get_child("UPnPError"))
        {
            Some(_) => "a SOAP fault whose UPnP error code is missing or not a number".into(),
            None => "a SOAP fault without a UPnP error".into(),
        };
    }
    let inside = body
        .children
        .iter()
        .find_map(|c| c.as_element())
        .map_or("nothing".to_string(), |e| format!("<{}>", e.name));
    format!("a SOAP answer without {response} or a fault (it holds {inside})")
}

/// At most 160 characters of a gateway's answer, on one line.
fn excerpt(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(160)
        .collect();
    if text.chars().count() > 160 {
        format!("{one_line}...")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap_codes_become_actionable_errors() {
        let e = request_error(
            "AddPortMapping",
            "TCP port 80",
            RequestError::ErrorCode(606, "ActionNotAuthorized".into()),
        );
        assert!(matches!(
            e,
            Error::Refused {
                code: GatewayCode::Upnp(UpnpCode(606)),
                ..
            }
        ));
        let e = request_error(
            "AddPortMapping",
            "x",
            RequestError::InvalidResponse("<html>\n".repeat(100)),
        );
        let s = e.to_string();
        assert!(s.contains("...") && !s.contains('\n'), "{s}");
        assert!(
            s.contains("answer to AddPortMapping (x) is XML nested deeper than 32"),
            "{s}"
        );
    }

    #[test]
    fn garbage_is_named() {
        let env = |body: &str| {
            format!(
                r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{body}</s:Body></s:Envelope>"#
            )
        };
        let cases = [
            ("".to_string(), "empty"),
            (
                "<html><body>Login required</body></html>".into(),
                "XML, but not a SOAP envelope (its root is <html>)",
            ),
            (
                env(r#"<u:GetExternalIPAddressResponse xmlns:u="urn:x"/>"#),
                "a GetExternalIPAddressResponse without the values",
            ),
            (
                env("<s:Fault><faultcode>s:Client</faultcode></s:Fault>"),
                "a SOAP fault without a UPnP error",
            ),
            (
                env(
                    "<s:Fault><detail><UPnPError><errorCode>x</errorCode></UPnPError></detail></s:Fault>",
                ),
                "UPnP error code is missing or not a number",
            ),
            (
                env(r#"<u:Other xmlns:u="urn:x"/>"#),
                "without GetExternalIPAddressResponse or a fault (it holds <Other>)",
            ),
            (
                "<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>".into(),
                "DOCTYPE",
            ),
        ];
        for (text, expected) in cases {
            let d = diagnose("GetExternalIPAddress", &text);
            assert!(d.contains(expected), "{text}: {d}");
        }
    }

    #[test]
    fn excerpt_is_bounded() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"a".repeat(500)).len(), 163);
    }
}
