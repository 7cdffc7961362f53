//! What pfwd says about each NAT-PMP and PCP result, once: what it means
//! and what a person can do, by the name RFC 6887 (section 7.4) gives the
//! condition. NAT-PMP's results (RFC 6886 section 3.5) are five of PCP's
//! conditions under other numbers, so both protocols' tables take their
//! words from here.

/// (what the result means, what a person can do about it)
pub(crate) type Words = (&'static str, &'static str);

pub(crate) const SUCCESS: Words = ("the request succeeded", "nothing");

pub(crate) const UNSUPP_VERSION: Words = (
    "the gateway does not speak this protocol version",
    "use another method, or forward the port by hand",
);

pub(crate) const NOT_AUTHORIZED: Words = (
    "the gateway's settings or policy do not allow this mapping (the protocol may be switched off)",
    "routers often allow mappings only to the host that asks and above port 1024: switch port \
     mapping on in the router's settings, run pfwd on the server itself, pick another port, or \
     forward the port by hand",
);

pub(crate) const MALFORMED_REQUEST: Words = (
    "the gateway could not parse the request",
    "update the router's firmware, or forward the port by hand",
);

pub(crate) const UNSUPP_OPCODE: Words = (
    "the gateway does not support this request",
    "use another method, or forward the port by hand",
);

pub(crate) const UNSUPP_OPTION: Words = (
    "the gateway does not support an option the request needs",
    "map to this host itself (without a third party), or forward the port by hand",
);

pub(crate) const MALFORMED_OPTION: Words = (
    "the gateway could not parse an option",
    "update the router's firmware, or forward the port by hand",
);

pub(crate) const NETWORK_FAILURE: Words = (
    "the gateway has no working internet connection (no external address) yet",
    "wait until the router is online, then try again",
);

pub(crate) const NO_RESOURCES: Words = (
    "the gateway has no ports or table entries left",
    "remove unused mappings on the router, then try again",
);

pub(crate) const UNSUPP_PROTOCOL: Words = (
    "the gateway cannot map this protocol",
    "use another protocol or method",
);

pub(crate) const USER_EX_QUOTA: Words = (
    "this host has reached the gateway's limit of mappings",
    "remove mappings this host no longer needs",
);

pub(crate) const CANNOT_PROVIDE_EXTERNAL: Words = (
    "the gateway cannot give the external port or address asked for",
    "ask for any external port, or pick another one",
);

pub(crate) const ADDRESS_MISMATCH: Words = (
    "the gateway saw another source address than the one in the request: another NAT sits in \
     between",
    "forwarding on this router cannot reach the server; ask the operator of the outer NAT",
);

pub(crate) const EXCESSIVE_REMOTE_PEERS: Words =
    ("too many remote-peer filters", "use fewer filters");
