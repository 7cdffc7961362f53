//! [`Warning`]: something a person should know before forwarding (a risky
//! service, carrier-grade NAT), shared by mappings, requests and the guide.

use serde::{Deserialize, Serialize};

/// The kind of a [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The router's external address is in 100.64.0.0/10: the provider's NAT
    /// sits in front; forwarding on this router cannot reach the server.
    CarrierGradeNat,
    /// The router's external address is private: another router sits in front.
    DoubleNat,
    /// The service should not face the internet, or only with care.
    RiskyService,
    /// The router's external address is not known.
    UnknownExternalAddress,
    /// Over IPv6 every address is its own port space: a pinhole opens the
    /// port on one device's own address, with no translation.
    Ipv6PortSpace,
}

/// Something the person should know before (or instead of) forwarding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Warning {
    /// What kind of warning.
    pub kind: WarningKind,
    /// The warning in plain words, with what to do.
    pub text: String,
}
