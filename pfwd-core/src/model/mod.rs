//! The mapping model shared by every method and every language: what a
//! caller asks for ([`MappingRequest`]), what a gateway granted
//! ([`Mapping`], to and from JSON), protocols, methods, leases, warnings,
//! and [`Invalid`], the one error for bad input.
//!
//! The model depends only on [`crate::defaults`] and [`crate::services`]
//! (the same layer): never on the errors, the guide or the backends, which
//! all build on it. These are plain owned values so that the Python and C
//! bindings can mirror them field by field.

mod family;
mod invalid;
mod json;
mod lease;
mod mapping;
mod method;
mod protocol;
mod request;
mod warning;

pub use family::Family;
pub use invalid::Invalid;
pub use json::MAPPING_JSON_VERSION;
pub use lease::{DEFAULT_LEASE, Lease};
pub use mapping::{GatewayMapping, Mapping, MethodState};
pub use method::Method;
pub use protocol::Protocol;
pub(crate) use request::check_lease;
pub use request::{ExternalPort, MappingRequest, MappingRequestBuilder};
pub use warning::{Warning, WarningKind};

/// `Serialize` as `as_str()` and `Deserialize` through `FromStr`, so that a
/// type's names live in one table for text and JSON alike.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::model::deserialize_text(d)
            }
        }
    };
}
pub(crate) use serde_as_text;

/// Read a value from a JSON string through its `FromStr` (one table of
/// names for text and JSON).
fn deserialize_text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = Invalid>,
{
    let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests;
