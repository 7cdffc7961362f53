//! pfwd's error type and the gateways' own result codes.
//!
//! Every message says what went wrong and what to do next. Each variant
//! carries structured data (the method, the gateway's code, the port, the
//! holder of a conflicting mapping) so that callers and the bindings can act
//! on it without parsing text.

use std::fmt;
use std::io;
use std::net::SocketAddrV4;
use std::time::Duration;

use crate::guide::Instructions;
use crate::mapping::{Method, Protocol};
use crate::wire::{natpmp, pcp};

/// pfwd's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while asking a gateway for a mapping.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No gateway answered (no default route, or nothing answered the method).
    #[error("{}", no_gateway_message(*.method, .detail))]
    NoGateway {
        /// The method that was tried, or `None` when no gateway is known at all.
        method: Option<Method>,
        /// What was tried and seen.
        detail: String,
    },

    /// The gateway answered but does not offer what was asked.
    #[error(
        "the gateway does not support {what} over {method}: {detail}; \
         try another method, or forward the port by hand in the router's settings"
    )]
    Unsupported {
        /// The method that was asked.
        method: Method,
        /// What was asked for ("port mapping", "listing mappings", ...).
        what: String,
        /// What the gateway said.
        detail: String,
    },

    /// The gateway refused, with its own result code.
    #[error("the gateway refused {what} ({code}: {}): {}", .code.meaning(), .code.advice())]
    Refused {
        /// The method that was asked.
        method: Method,
        /// What was asked, for example "TCP port 80 -> 192.168.1.4:80".
        what: String,
        /// The gateway's own code.
        code: GatewayCode,
    },

    /// The external port is already forwarded elsewhere.
    #[error("{}", conflict_message(*.method, *.protocol, *.external_port, .holder.as_ref()))]
    Conflict {
        /// The method that was asked.
        method: Method,
        /// The protocol of the wanted mapping.
        protocol: Protocol,
        /// The external port that is taken.
        external_port: u16,
        /// Who holds it, where the gateway tells.
        holder: Option<Holder>,
    },

    /// The gateway stopped answering in the middle of an exchange.
    #[error(
        "the gateway did not answer {operation} over {method} within {} ms; \
         check that the router is up and reachable, then try again",
        .after.as_millis()
    )]
    Timeout {
        /// The method that was asked.
        method: Method,
        /// What was being done ("the port-mapping request", ...).
        operation: String,
        /// How long pfwd waited.
        after: Duration,
    },

    /// The request itself is wrong; nothing was sent.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong and what to do instead.
        reason: String,
    },

    /// The gateway answered something pfwd cannot understand.
    #[error(
        "the gateway answered {method} with something pfwd cannot understand: {detail}; \
         the router's firmware may be faulty: update it, or forward the port by hand"
    )]
    InvalidResponse {
        /// The method that was asked.
        method: Method,
        /// What was wrong with the answer.
        detail: String,
    },

    /// pfwd could not make the mapping automatically; the guide says how to
    /// forward the port by hand, and why automation did not work.
    #[error("{}", manual_message(.instructions))]
    Manual {
        /// The manual guide, with the reasons per method.
        instructions: Box<Instructions>,
    },

    /// A blocking call was cancelled (its cancel token, or the caller's
    /// interrupt hook such as Python's Ctrl-C) before it finished. Nothing
    /// it started is left on the router: a mapping granted after the cancel
    /// is deleted.
    #[error("{operation} was cancelled before it finished; nothing was left on the router")]
    Cancelled {
        /// What was cancelled ("mapping TCP port 80").
        operation: String,
    },

    /// The handle was closed (or shut down, or belongs to the parent of a
    /// forked process) and can no longer be used.
    #[error("{what}: create a new one")]
    Closed {
        /// What is closed, and why.
        what: String,
    },

    /// A blocking call was made where it would wait for itself: from inside
    /// a pfwd event callback, or from a thread of an async runtime.
    #[error(
        "{operation} cannot block here ({why}): call it from another thread, \
         or use the async API"
    )]
    WouldDeadlock {
        /// The call that was refused.
        operation: String,
        /// Where it was called from.
        why: String,
    },

    /// A system call failed (sockets, reading the routing table).
    #[error("{operation} failed: {source}")]
    Io {
        /// What pfwd was doing.
        operation: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// An [`Error::InvalidRequest`] with this reason.
    pub fn invalid(reason: impl Into<String>) -> Error {
        Error::InvalidRequest {
            reason: reason.into(),
        }
    }

    /// An [`Error::Io`] for `operation`.
    pub fn io(operation: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            operation: operation.into(),
            source,
        }
    }

    /// The error's kind, a plain enum for matching and for the bindings.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoGateway { .. } => ErrorKind::NoGateway,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Refused { .. } => ErrorKind::Refused,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::InvalidRequest { .. } => ErrorKind::InvalidRequest,
            Error::InvalidResponse { .. } => ErrorKind::InvalidResponse,
            Error::Io { .. } => ErrorKind::Io,
            Error::Manual { .. } => ErrorKind::Manual,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Closed { .. } => ErrorKind::Closed,
            Error::WouldDeadlock { .. } => ErrorKind::WouldDeadlock,
        }
    }

    /// The manual guide, when the error carries one.
    pub fn instructions(&self) -> Option<&Instructions> {
        match self {
            Error::Manual { instructions } => Some(instructions),
            _ => None,
        }
    }

    /// The method the error came from, where there is one.
    pub fn method(&self) -> Option<Method> {
        match self {
            Error::NoGateway { method, .. } => *method,
            Error::Unsupported { method, .. }
            | Error::Refused { method, .. }
            | Error::Conflict { method, .. }
            | Error::Timeout { method, .. }
            | Error::InvalidResponse { method, .. } => Some(*method),
            Error::Manual { .. } => Some(Method::Manual),
            Error::InvalidRequest { .. }
            | Error::Io { .. }
            | Error::Cancelled { .. }
            | Error::Closed { .. }
            | Error::WouldDeadlock { .. } => None,
        }
    }
}

/// The kind of an [`Error`], without its data. The numbers are stable: the C
/// ABI and the Python package use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum ErrorKind {
    /// See [`Error::NoGateway`].
    NoGateway = 1,
    /// See [`Error::Unsupported`].
    Unsupported = 2,
    /// See [`Error::Refused`].
    Refused = 3,
    /// See [`Error::Conflict`].
    Conflict = 4,
    /// See [`Error::Timeout`].
    Timeout = 5,
    /// See [`Error::InvalidRequest`].
    InvalidRequest = 6,
    /// See [`Error::InvalidResponse`].
    InvalidResponse = 7,
    /// See [`Error::Io`].
    Io = 8,
    /// See [`Error::Manual`].
    Manual = 9,
    /// See [`Error::Cancelled`].
    Cancelled = 10,
    /// See [`Error::Closed`].
    Closed = 11,
    /// See [`Error::WouldDeadlock`].
    WouldDeadlock = 12,
}

impl ErrorKind {
    /// The kind's name in snake case, as JSON output writes it
    /// (`"no_gateway"`, `"manual"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::NoGateway => "no_gateway",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Refused => "refused",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Timeout => "timeout",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Io => "io",
            ErrorKind::Manual => "manual",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Closed => "closed",
            ErrorKind::WouldDeadlock => "would_deadlock",
        }
    }
}

/// The holder of a conflicting mapping, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The LAN host and port the external port already goes to.
    pub internal: SocketAddrV4,
    /// The description the holder gave its mapping.
    pub description: String,
}

fn manual_message(i: &Instructions) -> String {
    let why: Vec<&str> = i.reasons.iter().map(|r| r.reason.as_str()).collect();
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join("; "))
    };
    format!(
        "the router could not be asked to forward {}{why}; forward it by hand: open {} and go to {}.          The full guide is in this error's instructions",
        i.rule_lines().join(" and "),
        i.router
            .admin_urls
            .first()
            .map_or("the router's settings", String::as_str),
        i.menu.join(" > "),
    )
}

fn no_gateway_message(method: Option<Method>, detail: &str) -> String {
    match method {
        Some(m) => format!(
            "no {m} gateway answered: {detail}; the router may have {m} switched off \
             (look for it in the router's settings), or forward the port by hand"
        ),
        None => format!(
            "no gateway found: {detail}; check that this machine is connected to the \
             home network and has a default route (ip route)"
        ),
    }
}

fn conflict_message(
    method: Method,
    protocol: Protocol,
    port: u16,
    holder: Option<&Holder>,
) -> String {
    let who = match holder {
        Some(h) if h.description.is_empty() => format!(" (it goes to {})", h.internal),
        Some(h) => format!(" (it goes to {}, \"{}\")", h.internal, h.description),
        None => String::new(),
    };
    format!(
        "external {protocol} port {port} is already forwarded to another host{who} \
         (reported over {method}); pick another external port, ask for any port, \
         or remove the other mapping in the router's settings"
    )
}

/// A gateway's own result code, per protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GatewayCode {
    /// A UPnP (SOAP) error code.
    Upnp(UpnpCode),
    /// A NAT-PMP result code (RFC 6886 section 3.5).
    NatPmp(natpmp::ResultCode),
    /// A PCP result code (RFC 6887 section 7.4).
    Pcp(pcp::ResultCode),
}

impl GatewayCode {
    /// The code's meaning in plain words.
    pub fn meaning(&self) -> &'static str {
        match self {
            GatewayCode::Upnp(c) => c.meaning(),
            GatewayCode::NatPmp(c) => c.meaning(),
            GatewayCode::Pcp(c) => c.meaning(),
        }
    }

    /// What a person can do about it.
    pub fn advice(&self) -> &'static str {
        match self {
            GatewayCode::Upnp(c) => c.advice(),
            GatewayCode::NatPmp(c) => c.advice(),
            GatewayCode::Pcp(c) => c.advice(),
        }
    }
}

impl fmt::Display for GatewayCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayCode::Upnp(c) => write!(f, "UPnP error {} {}", c.0, c.name()),
            GatewayCode::NatPmp(c) => write!(f, "NAT-PMP result {c}"),
            GatewayCode::Pcp(c) => write!(f, "PCP result {c}"),
        }
    }
}

/// A UPnP error code from a SOAP fault (UPnP Device Architecture and
/// WANIPConnection:2, section 2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpnpCode(pub u16);

impl UpnpCode {
    /// 606: the router's settings do not allow this action.
    pub const NOT_AUTHORIZED: UpnpCode = UpnpCode(606);
    /// 718: the external port is already mapped to another host.
    pub const CONFLICT_IN_MAPPING_ENTRY: UpnpCode = UpnpCode(718);
    /// 725: the router accepts only permanent (lease 0) mappings.
    pub const ONLY_PERMANENT_LEASES: UpnpCode = UpnpCode(725);

    fn entry(self) -> (&'static str, &'static str, &'static str) {
        match self.0 {
            401 => (
                "InvalidAction",
                "the router does not know this action",
                "the router's UPnP service is incomplete: forward the port by hand",
            ),
            402 => (
                "InvalidArgs",
                "the router rejected the request's arguments",
                "check the ports and address, then try again",
            ),
            501 => (
                "ActionFailed",
                "the router failed to carry out the request",
                "the router could not add the rule (full table, firewall error): try again later, or forward the port by hand",
            ),
            600 => (
                "ArgumentValueInvalid",
                "a value in the request is invalid for this router",
                "check the ports and address",
            ),
            601 => (
                "ArgumentValueOutOfRange",
                "a value in the request is out of the router's range",
                "ask for a shorter lease or another port",
            ),
            605 => (
                "StringArgumentTooLong",
                "the description is too long for this router",
                "use a shorter description",
            ),
            606 => (
                "ActionNotAuthorized",
                "the router's UPnP settings do not allow this mapping",
                "routers often forbid ports below 1024 or mappings to other hosts: pick a port above 1024, \
                 run pfwd on the server itself, or forward the port by hand in the router's settings",
            ),
            714 => (
                "NoSuchEntryInArray",
                "the router has no such mapping",
                "it may have expired or been removed already",
            ),
            715 => (
                "WildCardNotPermittedInSrcIP",
                "the router needs a specific remote host",
                "forward the port by hand in the router's settings",
            ),
            716 => (
                "WildCardNotPermittedInExtPort",
                "the router needs a specific external port",
                "ask for a specific external port",
            ),
            718 => (
                "ConflictInMappingEntry",
                "the external port is already mapped to another host",
                "pick another external port, or remove the other mapping in the router's settings",
            ),
            724 => (
                "SamePortValuesRequired",
                "the router needs the external and internal ports to be equal",
                "ask for the same external port as the internal one",
            ),
            725 => (
                "OnlyPermanentLeasesSupported",
                "the router accepts only permanent mappings",
                "allow a permanent lease and make sure it is deleted when the server stops",
            ),
            726 => (
                "RemoteHostOnlySupportsWildcard",
                "the router cannot limit a mapping to one remote host",
                "leave the remote host open",
            ),
            727 => (
                "ExternalPortOnlySupportsWildcard",
                "the router cannot map a specific external port",
                "ask for any external port",
            ),
            728 => (
                "NoPortMapsAvailable",
                "the router's table of mappings is full",
                "remove unused mappings in the router's settings, then try again",
            ),
            729 => (
                "ConflictWithOtherMechanisms",
                "the port is taken by another of the router's features (its own services, another forwarding rule)",
                "pick another external port, or check the router's own port-forwarding page",
            ),
            732 => (
                "WildCardNotPermittedInIntPort",
                "the router needs a specific internal port",
                "give the internal port explicitly",
            ),
            _ => (
                "Unknown",
                "the router reported an error pfwd does not know",
                "forward the port by hand in the router's settings",
            ),
        }
    }

    /// The code's name in the UPnP specification ("ConflictInMappingEntry").
    pub fn name(self) -> &'static str {
        self.entry().0
    }

    /// The code's meaning in plain words.
    pub fn meaning(self) -> &'static str {
        self.entry().1
    }

    /// What a person can do about it.
    pub fn advice(self) -> &'static str {
        self.entry().2
    }
}

/// Bad input found by the model (a port, a host, a lease, a request)
/// becomes [`Error::InvalidRequest`], so that `?` works in functions that
/// return [`Result`].
impl From<crate::model::Invalid> for Error {
    fn from(e: crate::model::Invalid) -> Error {
        Error::InvalidRequest { reason: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_message_carries_code_meaning_and_advice() {
        let e = Error::Refused {
            method: Method::Upnp,
            what: "TCP port 80 -> 192.168.1.4:80".into(),
            code: GatewayCode::Upnp(UpnpCode::NOT_AUTHORIZED),
        };
        let s = e.to_string();
        assert!(s.contains("606"), "{s}");
        assert!(s.contains("ActionNotAuthorized"), "{s}");
        assert!(s.contains("above 1024"), "{s}");
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert_eq!(e.method(), Some(Method::Upnp));
    }

    #[test]
    fn conflict_message_names_the_holder() {
        let e = Error::Conflict {
            method: Method::Upnp,
            protocol: Protocol::Tcp,
            external_port: 8080,
            holder: Some(Holder {
                internal: "192.168.77.20:8080".parse().unwrap(),
                description: "nas".into(),
            }),
        };
        let s = e.to_string();
        assert!(
            s.contains("192.168.77.20:8080") && s.contains("\"nas\""),
            "{s}"
        );
    }

    #[test]
    fn every_known_code_has_words() {
        for c in [
            401, 402, 501, 600, 601, 605, 606, 714, 715, 716, 718, 724, 725, 726, 727, 728, 729,
            732,
        ] {
            let c = UpnpCode(c);
            assert_ne!(c.name(), "Unknown", "{c:?}");
            assert!(!c.meaning().is_empty() && !c.advice().is_empty());
        }
        assert_eq!(UpnpCode(999).name(), "Unknown");
    }
}
