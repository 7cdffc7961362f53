//! pfwd's error type and the gateways' own result codes.
//!
//! Every message says what went wrong and what to do next. Each variant
//! carries structured data (the method, the gateway's code, the port, the
//! holder of a conflicting mapping) so that callers and the bindings can act
//! on it without parsing text.
//!
//! # Examples
//!
//! ```
//! use pfwd_core::{Error, ErrorKind, GatewayCode, Method, UpnpCode};
//!
//! // What a UPnP router's refusal looks like to a caller.
//! let err = Error::Refused {
//!     method: Method::Upnp,
//!     what: "TCP port 80 -> 192.168.1.4:80".into(),
//!     code: GatewayCode::Upnp(UpnpCode::NOT_AUTHORIZED),
//! };
//! assert_eq!(err.kind(), ErrorKind::Refused);
//! assert_eq!(err.method(), Some(Method::Upnp));
//! assert_eq!(err.gateway_code().map(|c| c.number()), Some(606));
//! assert!(err.to_string().starts_with(
//!     "the gateway refused TCP port 80 -> 192.168.1.4:80 (UPnP error 606 ActionNotAuthorized: "
//! ));
//! ```

use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

pub use crate::code::{ErrorKind, GatewayCode, UnknownErrorKind, UpnpCode};
use crate::guide::Instructions;
use crate::mapping::{Method, Protocol};

mod failure;

/// pfwd's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while asking a gateway for a mapping.
///
/// Errors are `Clone` (an I/O error is shared behind an [`Arc`]) and
/// serialise to one JSON shape, the same in the command, Python and C: see
/// [`Error::to_json`].
///
/// # Examples
///
/// Match on what can be acted on, and show the rest: every message says
/// what to do next.
///
/// ```
/// use std::net::SocketAddr;
/// use pfwd_core::error::Holder;
/// use pfwd_core::{Error, ErrorKind, Method, Protocol};
///
/// fn advice(err: &Error) -> String {
///     match err {
///         Error::Conflict { holder: Some(h), external_port, .. } => {
///             format!("port {external_port} already goes to {}: pick another", h.internal)
///         }
///         Error::Manual { instructions } => instructions.to_text(),
///         Error::InvalidRequest { reason } => format!("fix the input: {reason}"),
///         other => other.to_string(),
///     }
/// }
///
/// let taken = Error::Conflict {
///     method: Method::Upnp,
///     protocol: Protocol::Tcp,
///     external_port: 80,
///     holder: Some(Holder {
///         internal: "192.168.1.20:80".parse::<SocketAddr>()?,
///         description: "NAS".into(),
///         process: None,
///     }),
/// };
/// assert_eq!(advice(&taken), "port 80 already goes to 192.168.1.20:80: pick another");
/// assert!(taken.to_string().starts_with(
///     r#"external TCP port 80 is already forwarded to another host (it goes to 192.168.1.20:80, "NAS")"#
/// ));
///
/// // Bad input is an error too, converted by `?` from the model's `Invalid`.
/// let bad: Error = pfwd_core::parse::parse_lease("soon").unwrap_err().into();
/// assert_eq!(bad.kind(), ErrorKind::InvalidRequest);
/// assert!(advice(&bad).starts_with("fix the input: \"soon\" is not a duration"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No gateway answered (no default route, or nothing answered the method).
    #[error("{}", no_gateway_message(*.method, .detail, *.refused))]
    NoGateway {
        /// The method that was tried, or `None` when no gateway is known at all.
        method: Option<Method>,
        /// What was tried and seen.
        detail: String,
        /// The router refused at once (ICMP "port unreachable": nothing
        /// listens on the method's port), rather than staying silent.
        refused: bool,
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
        /// What was being done ("the mapping request", "the external-address request", ...).
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

    /// The prober of a check from outside (`pfwd probe-server`) could not
    /// be reached, refused the request, or answered something else.
    #[error(
        "the prober at {url} {detail}; check that `pfwd probe-server` runs there \
         and that its port is open to this network"
    )]
    Prober {
        /// The prober's address, as given.
        url: String,
        /// What went wrong.
        detail: String,
    },

    /// A system call failed (sockets, reading the routing table).
    #[error("{operation} failed: {source}")]
    Io {
        /// What pfwd was doing.
        operation: String,
        /// The underlying error, shared so that the error can be cloned.
        #[source]
        source: Arc<io::Error>,
    },
}

impl Error {
    /// An [`Error::InvalidRequest`] with this reason.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::{Error, ErrorKind};
    ///
    /// let e = Error::invalid("no port given: give a port (1-65535)");
    /// assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    /// assert_eq!(e.to_string(), "invalid request: no port given: give a port (1-65535)");
    /// assert_eq!(e.method(), None); // nothing was sent
    /// ```
    pub fn invalid(reason: impl Into<String>) -> Error {
        Error::InvalidRequest {
            reason: reason.into(),
        }
    }

    /// An [`Error::Io`] for `operation`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use pfwd_core::{Error, ErrorKind};
    ///
    /// let e = Error::io("opening a UDP socket", io::Error::from_raw_os_error(13));
    /// assert_eq!(e.kind(), ErrorKind::Io);
    /// assert_eq!(e.os_error(), Some(13)); // EACCES, for the bindings
    /// assert_eq!(e.io_error().map(io::Error::kind), Some(io::ErrorKind::PermissionDenied));
    /// assert!(e.to_string().starts_with("opening a UDP socket failed: "));
    /// let copy = e.clone(); // errors are Clone, the I/O error shared
    /// assert_eq!(copy.os_error(), Some(13));
    /// ```
    pub fn io(operation: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            operation: operation.into(),
            source: Arc::new(source),
        }
    }

    /// The operating system's error number of an [`Error::Io`] (`errno`
    /// on Unix), for the bindings.
    pub fn os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The underlying I/O error of an [`Error::Io`].
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The gateway's own code of an [`Error::Refused`].
    pub fn gateway_code(&self) -> Option<GatewayCode> {
        match self {
            Error::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The holder of the port of an [`Error::Conflict`], where the gateway told.
    pub fn holder(&self) -> Option<&Holder> {
        match self {
            Error::Conflict { holder, .. } => holder.as_ref(),
            _ => None,
        }
    }

    /// The error as JSON, the one shape the command, Python and C share:
    ///
    /// ```json
    /// {"kind": "refused", "code": 3, "message": "the gateway refused ...",
    ///  "method": "upnp",
    ///  "gateway_code": {"method": "upnp", "number": 606, "name": "ActionNotAuthorized",
    ///                   "meaning": "...", "advice": "..."}}
    /// ```
    ///
    /// `kind` is [`ErrorKind::name`], `code` is [`ErrorKind::number`] and
    /// `message` the error's `Display`. Present only where the error has
    /// them: `method`, `gateway_code` (a refusal), `holder` (a conflict:
    /// `{"internal": "192.168.1.20:80", "description": "..."}`), `os_error`
    /// (an I/O error's number) and `instructions` (the manual guide, as
    /// [`Instructions`] serialises).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use pfwd_core::{Error, GatewayCode, Method};
    /// use pfwd_core::wire::pcp::ResultCode;
    ///
    /// let refused = Error::Refused {
    ///     method: Method::Pcp,
    ///     what: "UDP port 51820 -> 192.168.1.4:51820".into(),
    ///     code: GatewayCode::Pcp(ResultCode::NoResources),
    /// };
    /// let json = refused.to_json();
    /// assert_eq!(json["kind"], "refused");
    /// assert_eq!(json["code"], 3);
    /// assert_eq!(json["method"], "pcp");
    /// assert_eq!(json["gateway_code"]["name"], "NO_RESOURCES");
    /// assert_eq!(json["message"], refused.to_string());
    ///
    /// let silent = Error::Timeout {
    ///     method: Method::NatPmp,
    ///     operation: "the port-mapping request".into(),
    ///     after: Duration::from_secs(4),
    /// };
    /// assert_eq!(silent.to_json()["kind"], "timeout");
    /// assert!(silent.to_json().get("gateway_code").is_none());
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        // Every field is a plain value: serialising cannot fail.
        serde_json::to_value(self).unwrap_or_else(|e| {
            serde_json::json!({
                "kind": self.kind().name(),
                "code": self.kind().number(),
                "message": format!("{self} (and the error could not be serialised: {e})"),
            })
        })
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
            Error::Prober { .. } => ErrorKind::Prober,
        }
    }

    /// The manual guide, when the error carries one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::guide::GuideContext;
    /// use pfwd_core::{Error, ErrorKind, Instructions, Method, Protocol};
    ///
    /// let guide = Instructions::build(
    ///     &GuideContext::default(),
    ///     &[Protocol::Tcp],
    ///     80,
    ///     Some(Ipv4Addr::new(192, 168, 1, 4).into()),
    ///     80,
    /// );
    /// let err = Error::Manual { instructions: Box::new(guide) };
    /// assert_eq!(err.kind(), ErrorKind::Manual);
    /// assert_eq!(err.method(), Some(Method::Manual));
    /// let instructions = err.instructions().expect("a manual error carries the guide");
    /// assert_eq!(instructions.rule_lines(), ["TCP port 80 -> 192.168.1.4:80"]);
    /// assert!(err.to_string().contains("forward it by hand"));
    /// ```
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
            | Error::WouldDeadlock { .. }
            | Error::Prober { .. } => None,
        }
    }
}

/// The holder of a conflicting mapping, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The LAN host and port the external port already goes to.
    pub internal: std::net::SocketAddr,
    /// The description the holder gave its mapping.
    pub description: String,
    /// The pfwd process on this machine that keeps the mapping, when the
    /// holder is one (a second keeper of one mapping is refused; see
    /// [`KeeperOptions::take_over`][take-over]).
    #[cfg_attr(
        feature = "runtime",
        doc = " \n [take-over]: crate::lease::KeeperOptions::take_over"
    )]
    #[cfg_attr(not(feature = "runtime"), doc = " \n [take-over]: crate#features")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<u32>,
}

fn manual_message(i: &Instructions) -> String {
    let why: Vec<&str> = i.reasons.iter().map(|r| r.reason.as_str()).collect();
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join("; "))
    };
    format!(
        "the router could not be asked to forward {}{why}; forward it by hand: open {} and go to {}. \
         The full guide is in this error's instructions",
        i.rule_lines().join(" and "),
        i.router
            .admin_urls
            .first()
            .map_or("the router's settings", String::as_str),
        i.menu.join(" > "),
    )
}

fn no_gateway_message(method: Option<Method>, detail: &str, refused: bool) -> String {
    match method {
        Some(m) if refused => format!(
            "the router refused {m}: {detail}; switch {m} on in the router's settings, \
             or forward the port by hand"
        ),
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
    if let Some(pid) = holder.and_then(|h| h.process) {
        let to = holder.map(|h| h.internal.to_string()).unwrap_or_default();
        return format!(
            "{protocol} port {port} (to {to}) is already kept by pfwd process {pid} on this \
             machine (over {method}); two keepers of one mapping would undo each other. \
             Stop that one (kill {pid}), or take the mapping over (`--take-over`, or \
             KeeperOptions::take_over)"
        );
    }
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

impl Serialize for Error {
    /// The shape [`Error::to_json`] documents.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let kind = self.kind();
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kind", kind.name())?;
        map.serialize_entry("code", &kind.number())?;
        map.serialize_entry("message", &self.to_string())?;
        if let Some(method) = self.method() {
            map.serialize_entry("method", &method)?;
        }
        if let Some(code) = self.gateway_code() {
            map.serialize_entry("gateway_code", &code)?;
        }
        if let Some(holder) = self.holder() {
            map.serialize_entry("holder", holder)?;
        }
        if let Some(errno) = self.os_error() {
            map.serialize_entry("os_error", &errno)?;
        }
        if let Some(instructions) = self.instructions() {
            map.serialize_entry("instructions", instructions)?;
        }
        map.end()
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
mod tests;
