//! Numbered codes: the kinds of pfwd's errors (stable numbers for the C ABI,
//! the Python package and JSON) and the gateways' own result codes, seen
//! one way whatever the protocol.
//!
//! This module sits below the manual guide and the error type: it knows the
//! wire codecs' result codes and the model's [`Method`], nothing else.

use std::fmt;
use std::str::FromStr;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::mapping::Method;
use crate::wire::{CodeInfo, natpmp, pcp};

/// The kind of an [`Error`](crate::Error), without its data. The numbers
/// are stable: the C ABI and the Python package use them, and JSON output
/// carries them as `code`.
///
/// # Examples
///
/// ```
/// use pfwd_core::ErrorKind;
///
/// let kind = ErrorKind::NoGateway;
/// assert_eq!((kind.number(), kind.name()), (1, "no_gateway"));
/// assert_eq!(ErrorKind::try_from(9), Ok(ErrorKind::Manual));
/// assert_eq!("would_deadlock".parse(), Ok(ErrorKind::WouldDeadlock));
/// assert_eq!(ErrorKind::ALL.len(), 13);
///
/// let unknown = ErrorKind::try_from(99).unwrap_err();
/// assert_eq!(unknown.to_string(), r#"99 is not an error kind: give 1 to 13 or a name such as "no_gateway""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum ErrorKind {
    /// See [`Error::NoGateway`](crate::Error::NoGateway).
    NoGateway = 1,
    /// See [`Error::Unsupported`](crate::Error::Unsupported).
    Unsupported = 2,
    /// See [`Error::Refused`](crate::Error::Refused).
    Refused = 3,
    /// See [`Error::Conflict`](crate::Error::Conflict).
    Conflict = 4,
    /// See [`Error::Timeout`](crate::Error::Timeout).
    Timeout = 5,
    /// See [`Error::InvalidRequest`](crate::Error::InvalidRequest).
    InvalidRequest = 6,
    /// See [`Error::InvalidResponse`](crate::Error::InvalidResponse).
    InvalidResponse = 7,
    /// See [`Error::Io`](crate::Error::Io).
    Io = 8,
    /// See [`Error::Manual`](crate::Error::Manual).
    Manual = 9,
    /// See [`Error::Cancelled`](crate::Error::Cancelled).
    Cancelled = 10,
    /// See [`Error::Closed`](crate::Error::Closed).
    Closed = 11,
    /// See [`Error::WouldDeadlock`](crate::Error::WouldDeadlock).
    WouldDeadlock = 12,
    /// See [`Error::Prober`](crate::Error::Prober).
    Prober = 13,
}

impl ErrorKind {
    /// Every kind, in the order of their numbers.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::NoGateway,
        ErrorKind::Unsupported,
        ErrorKind::Refused,
        ErrorKind::Conflict,
        ErrorKind::Timeout,
        ErrorKind::InvalidRequest,
        ErrorKind::InvalidResponse,
        ErrorKind::Io,
        ErrorKind::Manual,
        ErrorKind::Cancelled,
        ErrorKind::Closed,
        ErrorKind::WouldDeadlock,
        ErrorKind::Prober,
    ];

    /// The kind's stable number (1 to 13).
    pub fn number(self) -> u32 {
        self as u32
    }

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
            ErrorKind::Prober => "prober",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A number or name that is no [`ErrorKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownErrorKind(pub String);

impl fmt::Display for UnknownErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not an error kind: give 1 to {} or a name such as \"no_gateway\"",
            self.0,
            ErrorKind::ALL.len()
        )
    }
}

impl std::error::Error for UnknownErrorKind {}

impl TryFrom<u32> for ErrorKind {
    type Error = UnknownErrorKind;

    fn try_from(number: u32) -> Result<ErrorKind, UnknownErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.number() == number)
            .ok_or_else(|| UnknownErrorKind(number.to_string()))
    }
}

impl FromStr for ErrorKind {
    type Err = UnknownErrorKind;

    /// The kind with this snake-case name (`"would_deadlock"`).
    fn from_str(name: &str) -> Result<ErrorKind, UnknownErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| UnknownErrorKind(format!("{name:?}")))
    }
}

impl Serialize for ErrorKind {
    /// As its name (`"no_gateway"`).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A gateway's own result code, per protocol, with one view for all:
/// [`method`](GatewayCode::method), [`number`](GatewayCode::number),
/// [`name`](GatewayCode::name) (the specification's),
/// [`meaning`](GatewayCode::meaning) and [`advice`](GatewayCode::advice).
/// It serialises as `{"method", "number", "name", "meaning", "advice"}`.
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::natpmp;
/// use pfwd_core::{GatewayCode, Method, UpnpCode};
///
/// let upnp = GatewayCode::Upnp(UpnpCode::CONFLICT_IN_MAPPING_ENTRY);
/// assert_eq!(upnp.to_string(), "UPnP error 718 ConflictInMappingEntry");
/// assert_eq!(upnp.meaning(), "the external port is already mapped to another host");
///
/// let pmp = GatewayCode::NatPmp(natpmp::ResultCode::from_code(2));
/// assert_eq!(pmp.method(), Method::NatPmp);
/// assert_eq!(pmp.to_string(), "NAT-PMP result 2 NOT_AUTHORIZED");
/// assert!(!pmp.advice().is_empty());
///
/// let json = serde_json::to_value(pmp).unwrap();
/// assert_eq!(json["method"], "natpmp");
/// assert_eq!(json["number"], 2);
/// ```
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
    /// The method whose code this is.
    pub fn method(&self) -> Method {
        match self {
            GatewayCode::Upnp(_) => Method::Upnp,
            GatewayCode::NatPmp(_) => Method::NatPmp,
            GatewayCode::Pcp(_) => Method::Pcp,
        }
    }

    /// The code's number.
    pub fn number(&self) -> u16 {
        match self {
            GatewayCode::Upnp(c) => c.0,
            GatewayCode::NatPmp(c) => c.code(),
            GatewayCode::Pcp(c) => u16::from(c.code()),
        }
    }

    fn info(&self) -> &'static CodeInfo {
        match self {
            GatewayCode::Upnp(c) => c.info(),
            GatewayCode::NatPmp(c) => c.info(),
            GatewayCode::Pcp(c) => c.info(),
        }
    }

    /// The code's name in its specification ("ActionNotAuthorized",
    /// "NOT_AUTHORIZED"); "UNKNOWN" for a code pfwd does not know.
    pub fn name(&self) -> &'static str {
        self.info().name
    }

    /// The code's meaning in plain words.
    pub fn meaning(&self) -> &'static str {
        self.info().meaning
    }

    /// What a person can do about it.
    pub fn advice(&self) -> &'static str {
        self.info().advice
    }
}

impl fmt::Display for GatewayCode {
    /// "UPnP error 606 ActionNotAuthorized", "NAT-PMP result 2 NOT_AUTHORIZED",
    /// "PCP result 2 NOT_AUTHORIZED".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            GatewayCode::Upnp(_) => "UPnP error",
            GatewayCode::NatPmp(_) => "NAT-PMP result",
            GatewayCode::Pcp(_) => "PCP result",
        };
        write!(f, "{what} {} {}", self.number(), self.name())
    }
}

impl Serialize for GatewayCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("GatewayCode", 5)?;
        st.serialize_field("method", &self.method())?;
        st.serialize_field("number", &self.number())?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("meaning", self.meaning())?;
        st.serialize_field("advice", self.advice())?;
        st.end()
    }
}

/// A UPnP error code from a SOAP fault (UPnP Device Architecture and
/// WANIPConnection:2, section 2.4). Its words are in [`UpnpCode::info`];
/// [`GatewayCode`] is the view of every protocol's codes. It serialises as a
/// [`GatewayCode`] does.
///
/// # Examples
///
/// ```
/// use pfwd_core::UpnpCode;
///
/// let code = UpnpCode(725);
/// assert_eq!(code, UpnpCode::ONLY_PERMANENT_LEASES);
/// assert_eq!(code.to_string(), "725 OnlyPermanentLeasesSupported");
/// assert_eq!(code.info().meaning, "the router accepts only permanent mappings");
///
/// // A code pfwd does not know keeps its number, with general advice.
/// assert_eq!(UpnpCode(799).to_string(), "799 UNKNOWN");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpnpCode(pub u16);

impl UpnpCode {
    /// 606: the router's settings do not allow this action.
    pub const NOT_AUTHORIZED: UpnpCode = UpnpCode(606);
    /// 718: the external port is already mapped to another host.
    pub const CONFLICT_IN_MAPPING_ENTRY: UpnpCode = UpnpCode(718);
    /// 725: the router accepts only permanent (lease 0) mappings.
    pub const ONLY_PERMANENT_LEASES: UpnpCode = UpnpCode(725);

    /// Every code pfwd knows, in order: number, name, meaning, advice.
    pub const TABLE: &'static [CodeInfo] = &UPNP_CODES;

    /// The code's entry in [`UpnpCode::TABLE`] (or [`CodeInfo::UNKNOWN`]).
    pub fn info(self) -> &'static CodeInfo {
        CodeInfo::lookup(Self::TABLE, self.0)
    }
}

impl fmt::Display for UpnpCode {
    /// "606 ActionNotAuthorized".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.info().name)
    }
}

impl Serialize for UpnpCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        GatewayCode::Upnp(*self).serialize(s)
    }
}

const fn upnp(
    number: u16,
    name: &'static str,
    meaning: &'static str,
    advice: &'static str,
) -> CodeInfo {
    CodeInfo {
        number,
        name,
        meaning,
        advice,
    }
}

/// The UPnP error codes pfwd explains: the Device Architecture's (4xx,
/// 6xx), WANIPv6FirewallControl's for pinholes (701 to 709) and
/// WANIPConnection's (714 to 732).
const UPNP_CODES: [CodeInfo; 27] = [
    upnp(
        401,
        "InvalidAction",
        "the router does not know this action",
        "the router's UPnP service is incomplete: forward the port by hand",
    ),
    upnp(
        402,
        "InvalidArgs",
        "the router rejected the request's arguments",
        "check the ports and address, then try again",
    ),
    upnp(
        501,
        "ActionFailed",
        "the router failed to carry out the request",
        "the router could not add the rule (full table, firewall error): try again later, or \
         forward the port by hand",
    ),
    upnp(
        600,
        "ArgumentValueInvalid",
        "a value in the request is invalid for this router",
        "check the ports and address",
    ),
    upnp(
        601,
        "ArgumentValueOutOfRange",
        "a value in the request is out of the router's range",
        "ask for a shorter lease or another port",
    ),
    upnp(
        605,
        "StringArgumentTooLong",
        "the description is too long for this router",
        "use a shorter description",
    ),
    upnp(
        606,
        "ActionNotAuthorized",
        "the router's UPnP settings do not allow this mapping",
        "routers often forbid ports below 1024 or mappings to other hosts: pick a port above \
         1024, run pfwd on the server itself, or forward the port by hand in the router's settings",
    ),
    upnp(
        701,
        "PinholeSpaceExhausted",
        "the router's table of IPv6 pinholes is full",
        "close unused pinholes in the router's settings, then try again, or use PCP",
    ),
    upnp(
        702,
        "FirewallDisabled",
        "the router's IPv6 firewall is off: nothing is filtered, so no pinhole is needed",
        "check from outside that the port is reachable; turn the firewall on if it should not be",
    ),
    upnp(
        703,
        "InboundPinholeNotAllowed",
        "the router does not let clients open IPv6 pinholes",
        "allow inbound pinholes in the router's UPnP or IPv6 firewall settings, use PCP, or open \
         the port by hand",
    ),
    upnp(
        704,
        "NoSuchEntry",
        "the router has no such IPv6 pinhole",
        "it may have expired or been removed: open it again",
    ),
    upnp(
        705,
        "ProtocolNotSupported",
        "the router cannot open IPv6 pinholes for this protocol",
        "open the port by hand in the router's settings",
    ),
    upnp(
        706,
        "InternalPortWildcardingNotAllowed",
        "the router needs a specific port for an IPv6 pinhole",
        "give the port explicitly",
    ),
    upnp(
        707,
        "ProtocolWildcardingNotAllowed",
        "the router needs a specific protocol for an IPv6 pinhole",
        "ask for TCP or UDP",
    ),
    upnp(
        708,
        "WildCardNotPermittedInSrcIP",
        "the router needs a specific address for an IPv6 pinhole",
        "give this host's global IPv6 address",
    ),
    upnp(
        709,
        "NoTrafficReceived",
        "no traffic has passed this IPv6 pinhole yet",
        "nothing is wrong with the pinhole itself: send traffic through it, then ask again",
    ),
    upnp(
        714,
        "NoSuchEntryInArray",
        "the router has no such mapping",
        "it may have expired or been removed already",
    ),
    upnp(
        715,
        "WildCardNotPermittedInSrcIP",
        "the router needs a specific remote host",
        "forward the port by hand in the router's settings",
    ),
    upnp(
        716,
        "WildCardNotPermittedInExtPort",
        "the router needs a specific external port",
        "ask for a specific external port",
    ),
    upnp(
        718,
        "ConflictInMappingEntry",
        "the external port is already mapped to another host",
        "pick another external port, or remove the other mapping in the router's settings",
    ),
    upnp(
        724,
        "SamePortValuesRequired",
        "the router needs the external and internal ports to be equal",
        "ask for the same external port as the internal one",
    ),
    upnp(
        725,
        "OnlyPermanentLeasesSupported",
        "the router accepts only permanent mappings",
        "allow a permanent lease and make sure it is deleted when the server stops",
    ),
    upnp(
        726,
        "RemoteHostOnlySupportsWildcard",
        "the router cannot limit a mapping to one remote host",
        "leave the remote host open",
    ),
    upnp(
        727,
        "ExternalPortOnlySupportsWildcard",
        "the router cannot map a specific external port",
        "ask for any external port",
    ),
    upnp(
        728,
        "NoPortMapsAvailable",
        "the router's table of mappings is full",
        "remove unused mappings in the router's settings, then try again",
    ),
    upnp(
        729,
        "ConflictWithOtherMechanisms",
        "the port is taken by another of the router's features (its own services, another \
         forwarding rule)",
        "pick another external port, or check the router's own port-forwarding page",
    ),
    upnp(
        732,
        "WildCardNotPermittedInIntPort",
        "the router needs a specific internal port",
        "give the internal port explicitly",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kind_numbers_are_pinned() {
        let pinned = [
            (1, ErrorKind::NoGateway, "no_gateway"),
            (2, ErrorKind::Unsupported, "unsupported"),
            (3, ErrorKind::Refused, "refused"),
            (4, ErrorKind::Conflict, "conflict"),
            (5, ErrorKind::Timeout, "timeout"),
            (6, ErrorKind::InvalidRequest, "invalid_request"),
            (7, ErrorKind::InvalidResponse, "invalid_response"),
            (8, ErrorKind::Io, "io"),
            (9, ErrorKind::Manual, "manual"),
            (10, ErrorKind::Cancelled, "cancelled"),
            (11, ErrorKind::Closed, "closed"),
            (12, ErrorKind::WouldDeadlock, "would_deadlock"),
            (13, ErrorKind::Prober, "prober"),
        ];
        assert_eq!(pinned.len(), ErrorKind::ALL.len());
        for ((number, kind, name), listed) in pinned.into_iter().zip(ErrorKind::ALL) {
            assert_eq!(kind, listed, "ALL is in number order");
            assert_eq!(kind.number(), number);
            assert_eq!(kind as u32, number);
            assert_eq!(ErrorKind::try_from(number), Ok(kind));
            assert_eq!(kind.name(), name);
            assert_eq!(name.parse::<ErrorKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap_or_default(),
                serde_json::json!(name)
            );
        }
        assert!(ErrorKind::try_from(0).is_err());
        assert!(ErrorKind::try_from(14).is_err());
        assert!("NoGateway".parse::<ErrorKind>().is_err());
    }

    #[test]
    fn every_known_upnp_code_has_words() {
        for c in [
            401, 402, 501, 600, 601, 605, 606, 701, 702, 703, 704, 705, 706, 707, 708, 709, 714,
            715, 716, 718, 724, 725, 726, 727, 728, 729, 732,
        ] {
            let c = UpnpCode(c).info();
            assert_ne!(c.name, "UNKNOWN", "{c:?}");
            assert!(!c.meaning.is_empty() && !c.advice.is_empty());
        }
        assert_eq!(UpnpCode(999).info().name, "UNKNOWN");
        assert_eq!(UpnpCode(606).to_string(), "606 ActionNotAuthorized");
    }

    #[test]
    fn every_table_is_sorted_and_has_words() {
        for table in [
            UpnpCode::TABLE,
            natpmp::ResultCode::TABLE,
            pcp::ResultCode::TABLE,
        ] {
            assert!(table.windows(2).all(|w| w[0].number < w[1].number));
            for c in table {
                assert!(!c.name.is_empty() && !c.meaning.is_empty() && !c.advice.is_empty());
                assert!(
                    !c.meaning.contains("  ") && !c.advice.contains("  "),
                    "{c:?}"
                );
            }
        }
    }

    #[test]
    fn shared_codes_have_shared_names_in_natpmp_and_pcp() {
        use natpmp::ResultCode as N;
        use pcp::ResultCode as P;
        for (n, p) in [
            (N::UnsupportedVersion, P::UnsupportedVersion),
            (N::NotAuthorized, P::NotAuthorized),
            (N::NetworkFailure, P::NetworkFailure),
            (N::NoResources, P::NoResources),
            (N::UnsupportedOpcode, P::UnsupportedOpcode),
        ] {
            assert_eq!(n.info().name, p.info().name);
            assert_eq!(format!("{n:?}"), format!("{p:?}"));
        }
    }

    #[test]
    fn one_view_of_every_protocol_s_codes() {
        let codes = [
            (
                GatewayCode::Upnp(UpnpCode::NOT_AUTHORIZED),
                Method::Upnp,
                606,
                "ActionNotAuthorized",
                "UPnP error 606 ActionNotAuthorized",
            ),
            (
                GatewayCode::NatPmp(natpmp::ResultCode::NotAuthorized),
                Method::NatPmp,
                2,
                "NOT_AUTHORIZED",
                "NAT-PMP result 2 NOT_AUTHORIZED",
            ),
            (
                GatewayCode::Pcp(pcp::ResultCode::CannotProvideExternal),
                Method::Pcp,
                11,
                "CANNOT_PROVIDE_EXTERNAL",
                "PCP result 11 CANNOT_PROVIDE_EXTERNAL",
            ),
            (
                GatewayCode::Pcp(pcp::ResultCode::Other(99)),
                Method::Pcp,
                99,
                "UNKNOWN",
                "PCP result 99 UNKNOWN",
            ),
        ];
        for (code, method, number, name, shown) in codes {
            assert_eq!(code.method(), method);
            assert_eq!(code.number(), number);
            assert_eq!(code.name(), name);
            assert_eq!(code.to_string(), shown);
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(
                json["method"],
                serde_json::to_value(method).unwrap_or_default()
            );
            assert_eq!(json["number"], number);
            assert_eq!(json["name"], name);
            assert_eq!(json["meaning"], code.meaning());
            assert_eq!(json["advice"], code.advice());
        }
    }
}
