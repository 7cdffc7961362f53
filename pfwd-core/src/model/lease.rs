//! [`Lease`]: how long a mapping lasts.

use std::fmt;
use std::time::Duration;

/// How long a mapping should last.
///
/// # Examples
///
/// The protocols carry a lease as seconds, 0 meaning permanent:
///
/// ```
/// use std::time::Duration;
/// use pfwd_core::Lease;
///
/// let two_hours = Lease::Finite(Duration::from_secs(7200));
/// assert_eq!(two_hours.as_secs(), 7200);
/// assert_eq!(Lease::from_secs(7200), two_hours);
/// assert_eq!(two_hours.to_string(), "7200 s");
///
/// assert_eq!(Lease::Permanent.as_secs(), 0);
/// assert_eq!(Lease::from_secs(0), Lease::Permanent);
/// assert_eq!(Lease::Permanent.to_string(), "permanent");
///
/// // Seconds only: a fraction is dropped, and a finite lease is never 0.
/// assert_eq!(Lease::Finite(Duration::from_millis(1500)).as_secs(), 1);
/// assert_eq!(Lease::Finite(Duration::from_millis(10)).as_secs(), 1);
/// ```
///
/// [`parse_lease`](crate::parse::parse_lease) reads one as people write it
/// (`2h`, `forever`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lease {
    /// A lease that ends after this long unless renewed (always more than zero).
    Finite(Duration),
    /// A lease with no end: it stays on the router until deleted. Only used
    /// when asked for explicitly, or when a UPnP router accepts nothing else
    /// (error 725); pfwd then owns its deletion.
    Permanent,
}

impl Lease {
    /// The lease as the protocols encode it: seconds, with 0 meaning permanent.
    pub fn as_secs(self) -> u32 {
        match self {
            Lease::Finite(d) => u32::try_from(d.as_secs()).unwrap_or(u32::MAX).max(1),
            Lease::Permanent => 0,
        }
    }

    /// Decode a lease from protocol seconds (0 is permanent).
    pub fn from_secs(secs: u32) -> Lease {
        if secs == 0 {
            Lease::Permanent
        } else {
            Lease::Finite(Duration::from_secs(u64::from(secs)))
        }
    }
}

impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lease::Finite(d) => write!(f, "{} s", d.as_secs()),
            Lease::Permanent => f.write_str("permanent"),
        }
    }
}

/// The lease pfwd asks for when the caller does not say:
/// [`defaults::LEASE`](crate::defaults::LEASE), two hours, so that a program
/// that dies leaves nothing open for long.
pub const DEFAULT_LEASE: Duration = crate::defaults::LEASE;

/// Serialise a [`Lease`] as protocol seconds (0: permanent), as JSON
/// carries it in `lease_seconds`.
pub(crate) mod as_seconds {
    use super::Lease;

    pub fn serialize<S: serde::Serializer>(lease: &Lease, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(lease.as_secs())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Lease, D::Error> {
        <u32 as serde::Deserialize>::deserialize(d).map(Lease::from_secs)
    }
}
