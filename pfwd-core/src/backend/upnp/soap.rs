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

/// Turn igd-next's transport and protocol errors into pfwd's.
pub(super) fn request_error(what: &str, e: RequestError) -> Error {
    match e {
        RequestError::ErrorCode(code, _) => refused(what, code),
        RequestError::UnsupportedAction(action) => Error::Unsupported {
            method: Method::Upnp,
            what: what.to_string(),
            detail: format!("the gateway's service has no {action} action"),
        },
        RequestError::InvalidResponse(text) => Error::InvalidResponse {
            method: Method::Upnp,
            detail: format!("unreadable answer to {what}: {}", excerpt(&text)),
        },
        RequestError::Utf8Error(_) => Error::InvalidResponse {
            method: Method::Upnp,
            detail: format!("the answer to {what} is not UTF-8 text"),
        },
        RequestError::IoError(io) => Error::io(format!("talking UPnP to the gateway ({what})"), io),
        other => Error::NoGateway {
            method: Some(Method::Upnp),
            detail: format!("the gateway's UPnP service stopped answering ({what}: {other})"),
        },
    }
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
        let e = request_error("x", RequestError::InvalidResponse("<html>\n".repeat(100)));
        let s = e.to_string();
        assert!(s.contains("...") && !s.contains('\n'), "{s}");
    }

    #[test]
    fn excerpt_is_bounded() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"a".repeat(500)).len(), 163);
    }
}
