//! A [`Mapping`] to and from JSON (the shape is documented in
//! [`crate::record`]): wall-clock times, and every piece of method state
//! needed to renew or delete the mapping later.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Family, Invalid, Lease, Mapping, Method, MethodState, Protocol};

/// The version of the JSON shape written; reading accepts it and older.
pub const MAPPING_JSON_VERSION: u32 = 1;

/// A wall-clock time in JSON: seconds since 1970 (UTC) when written; when
/// read, also an RFC 3339 text in UTC ("2026-11-25T21:06:46Z").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum WallTime {
    Seconds(u64),
    Text(String),
}

impl WallTime {
    fn of(t: SystemTime) -> WallTime {
        WallTime::Seconds(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    fn time(&self, field: &str) -> Result<SystemTime, Invalid> {
        match self {
            WallTime::Seconds(s) => Ok(UNIX_EPOCH + Duration::from_secs(*s)),
            WallTime::Text(t) => {
                humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).map_err(|e| {
                    Invalid::new(format!(
                        "{field} {t:?} is not a time ({e}): write seconds since 1970, or \
                         RFC 3339 in UTC such as \"2026-11-25T21:06:46Z\""
                    ))
                })
            }
        }
    }
}

fn default_version() -> u32 {
    MAPPING_JSON_VERSION
}

/// The JSON shape, field by field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MappingJson {
    #[serde(default = "default_version")]
    version: u32,
    method: Method,
    protocol: Protocol,
    #[serde(default)]
    family: Option<Family>,
    external: SocketAddr,
    internal: SocketAddr,
    gateway: IpAddr,
    lease_seconds: u32,
    #[serde(default)]
    permanent: bool,
    #[serde(default)]
    description: String,
    granted_at: WallTime,
    #[serde(default)]
    expires_at: Option<WallTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pcp_nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epoch: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    forced_permanent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pinhole_id: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

impl From<Mapping> for MappingJson {
    fn from(m: Mapping) -> MappingJson {
        let (mut pcp_nonce, mut epoch, mut forced_permanent, mut state) = (None, None, false, None);
        let mut pinhole_id = None;
        match m.state() {
            MethodState::Pcp {
                nonce, epoch: e, ..
            } => {
                pcp_nonce = Some(nonce.iter().map(|b| format!("{b:02x}")).collect());
                epoch = Some(*e);
            }
            MethodState::NatPmp { epoch: e, .. } => epoch = Some(*e),
            MethodState::Upnp {
                forced_permanent: f,
            } => forced_permanent = *f,
            MethodState::UpnpPinhole { unique_id } => pinhole_id = Some(*unique_id),
            MethodState::Custom(s) => state = Some(s.clone()),
            MethodState::None => {}
        }
        MappingJson {
            version: MAPPING_JSON_VERSION,
            method: m.method(),
            protocol: m.protocol(),
            family: Some(m.family()),
            external: m.external(),
            internal: m.internal(),
            gateway: m.gateway(),
            lease_seconds: m.lease().as_secs(),
            permanent: m.lease() == Lease::Permanent,
            description: m.description().to_string(),
            granted_at: WallTime::of(m.granted_at_wall()),
            expires_at: m.expires_at_wall().map(WallTime::of),
            pcp_nonce,
            epoch,
            forced_permanent,
            pinhole_id,
            state,
        }
    }
}

impl TryFrom<MappingJson> for Mapping {
    type Error = Invalid;

    fn try_from(j: MappingJson) -> Result<Mapping, Invalid> {
        if j.version > MAPPING_JSON_VERSION {
            return Err(Invalid::new(format!(
                "the mapping is written in version {} of the JSON shape; this pfwd reads up \
                 to version {MAPPING_JSON_VERSION}: update pfwd",
                j.version
            )));
        }
        let lease = match (j.permanent, j.lease_seconds) {
            (true, _) => Lease::Permanent,
            (false, 0) => {
                return Err(Invalid::new(
                    "lease_seconds is 0 but permanent is false: write the lease in seconds, \
                     or \"permanent\": true",
                ));
            }
            (false, s) => Lease::Finite(Duration::from_secs(u64::from(s))),
        };
        let family = Family::of(j.internal.ip());
        if Family::of(j.external.ip()) != family || j.family.is_some_and(|f| f != family) {
            return Err(Invalid::new(format!(
                "the mapping mixes address families (family {}, external {}, internal {}): \
                 an IPv4 mapping has IPv4 addresses, an IPv6 pinhole IPv6 ones",
                j.family.map_or("not given", Family::as_str),
                j.external,
                j.internal
            )));
        }
        let state = match (&j.pcp_nonce, &j.state, j.method) {
            (None, None, Method::Upnp) if j.pinhole_id.is_some() || family == Family::Ipv6 => {
                MethodState::UpnpPinhole {
                    unique_id: j.pinhole_id.ok_or_else(|| {
                        Invalid::new(
                            "a UPnP IPv6 pinhole without its pinhole_id cannot be renewed or \
                             deleted: write the UniqueID the router gave it",
                        )
                    })?,
                }
            }
            (Some(hex), _, _) => MethodState::Pcp {
                nonce: parse_nonce(hex)?,
                epoch: j.epoch.unwrap_or(0),
                generation: 0,
            },
            (None, Some(s), _) => MethodState::Custom(s.clone()),
            (None, None, Method::Pcp) => {
                return Err(Invalid::new(
                    "a PCP mapping without its pcp_nonce cannot be renewed or deleted: \
                     write the 24 hex digits of the nonce that made it",
                ));
            }
            (None, None, Method::NatPmp) => MethodState::NatPmp {
                epoch: j.epoch.unwrap_or(0),
                generation: 0,
            },
            (None, None, Method::Upnp) => MethodState::Upnp {
                forced_permanent: j.forced_permanent,
            },
            (None, None, Method::Manual) => MethodState::None,
        };
        let granted = j.granted_at.time("granted_at")?;
        Ok(Mapping::new(
            j.method,
            j.protocol,
            j.gateway,
            j.external,
            j.internal,
            lease,
            std::time::Instant::now(),
            j.description,
            state,
        )
        .with_wall_time(granted))
    }
}

fn parse_nonce(hex: &str) -> Result<[u8; 12], Invalid> {
    let bad = || {
        Invalid::new(format!(
            "pcp_nonce {hex:?} is not a PCP nonce: write its 12 bytes as 24 hex digits"
        ))
    };
    if hex.len() != 24 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 12];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl Serialize for Mapping {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MappingJson::from(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Mapping {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Mapping::try_from(MappingJson::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
