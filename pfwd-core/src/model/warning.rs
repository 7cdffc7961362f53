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
///
/// # Examples
///
/// ```
/// use pfwd_core::{MappingRequest, Protocol, WarningKind};
///
/// // Telnet sends passwords in the clear: pfwd says so, and what to use.
/// let telnet = MappingRequest::builder(Protocol::Tcp, 23).build()?;
/// let warnings = telnet.warnings();
/// assert_eq!(warnings.len(), 1);
/// assert_eq!(warnings[0].kind, WarningKind::RiskyService);
/// assert!(warnings[0].text.contains("SSH"));
///
/// // In JSON the kind is snake case.
/// let json = serde_json::to_value(&warnings[0]).unwrap();
/// assert_eq!(json["kind"], "risky_service");
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Warning {
    /// What kind of warning.
    pub kind: WarningKind,
    /// The warning in plain words, with what to do.
    pub text: String,
}
