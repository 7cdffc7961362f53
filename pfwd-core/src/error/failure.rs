//! An error as the manual guide's reason why a method failed: the guide's
//! data knows nothing of errors, so the conversion lives here.

use super::Error;
use crate::guide::MethodFailure;

impl From<&Error> for MethodFailure {
    /// Why a method failed, in plain words, for the manual guide.
    fn from(error: &Error) -> MethodFailure {
        let method = error.method();
        let m = method.map_or("pfwd".to_string(), |m| m.to_string());
        let (code, reason) = match error {
            Error::NoGateway {
                method: None,
                detail,
                ..
            } => (
                None,
                format!("this machine found no router to ask ({detail})"),
            ),
            Error::NoGateway { refused: true, .. } => (
                None,
                format!(
                    "{m}: the router refused the connection (ICMP port unreachable): {m} is \
                     switched off in its settings, or not supported"
                ),
            ),
            Error::NoGateway { .. } => (
                None,
                format!(
                    "{m}: the router did not answer; {m} is probably switched off in its settings, or not supported"
                ),
            ),
            Error::Refused { code, .. } => (
                Some(code.to_string()),
                format!("{m}: the router refused ({code}: {})", code.meaning()),
            ),
            Error::Unsupported { what, detail, .. } => (
                None,
                format!("{m}: the router does not support {what} ({detail})"),
            ),
            Error::Conflict {
                external_port,
                holder,
                ..
            } => (
                None,
                match holder {
                    Some(h) => format!(
                        "{m}: external port {external_port} is already forwarded to {}",
                        h.internal
                    ),
                    None => {
                        format!("{m}: external port {external_port} is already taken on the router")
                    }
                },
            ),
            Error::Timeout { .. } => (None, format!("{m}: the router stopped answering")),
            // The router answered, so the method is on: its firmware is
            // broken (not "switched off"), and the way out says so.
            Error::InvalidResponse { detail, .. } => (
                None,
                format!(
                    "{m}: the router answered, but with something broken ({detail}); its \
                     firmware is faulty: update it{}, or forward the port by hand",
                    if method == Some(crate::mapping::Method::Upnp) {
                        ", or switch on NAT-PMP or PCP in its settings if it has them"
                    } else {
                        ""
                    }
                ),
            ),
            Error::Manual { .. } => (None, format!("{m}: no method could make the mapping")),
            Error::InvalidRequest { reason } => (None, reason.clone()),
            Error::Cancelled { .. }
            | Error::Closed { .. }
            | Error::WouldDeadlock { .. }
            | Error::Prober { .. } => (None, error.to_string()),
            Error::Io { operation, source } => (
                None,
                format!("{m}: a network error on this machine while {operation}: {source}"),
            ),
        };
        MethodFailure {
            method,
            kind: error.kind(),
            code,
            reason,
        }
    }
}

impl MethodFailure {
    /// Describe `error` in plain words (the same as `MethodFailure::from(error)`).
    pub fn from_error(error: &Error) -> MethodFailure {
        MethodFailure::from(error)
    }
}
