//! Mappings as the command prints them (`--json`) and records them: a plain,
//! serialisable copy of a [`Mapping`] with wall-clock times, plus what a
//! later `pfwd unmap` needs to delete it (the PCP nonce).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pfwd_core::{Lease, Mapping, Method, MethodState, Protocol};
use serde::{Deserialize, Serialize};

/// A mapping as `--json` prints it (see docs/cli.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingInfo {
    /// `pcp`, `natpmp` or `upnp`.
    pub method: String,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Where the internet reaches the server: the router's address and port.
    pub external: SocketAddrV4,
    /// The server and its port.
    pub internal: SocketAddrV4,
    /// The router's LAN address.
    pub gateway: Ipv4Addr,
    /// The granted lease in seconds; 0 when permanent.
    pub lease_seconds: u32,
    /// True when the lease never ends (the mapping stays until removed).
    pub permanent: bool,
    /// What the router shows.
    pub description: String,
    /// When it was granted (seconds since 1970, UTC).
    pub granted_at: u64,
    /// When it ends unless renewed (seconds since 1970); none when permanent.
    pub expires_at: Option<u64>,
}

/// A mapping in the state directory: what `--json` prints, and how to delete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The mapping.
    #[serde(flatten)]
    pub info: MappingInfo,
    /// The PCP mapping nonce (hex), which alone can renew or delete a PCP mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcp_nonce: Option<String>,
    /// The gateway's epoch when granted (PCP and NAT-PMP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// UPnP: the router accepted only a permanent lease.
    #[serde(default)]
    pub forced_permanent: bool,
    /// The pfwd process keeping it alive; none when made with `--once`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_by: Option<u32>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The wall-clock time of an `Instant` in the past.
fn wall(at: Instant) -> SystemTime {
    SystemTime::now()
        .checked_sub(at.elapsed())
        .unwrap_or(UNIX_EPOCH)
}

/// A method's name in JSON.
pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Pcp => "pcp",
        Method::NatPmp => "natpmp",
        Method::Upnp => "upnp",
        _ => "manual",
    }
}

fn method_from(name: &str) -> Option<Method> {
    match name {
        "pcp" => Some(Method::Pcp),
        "natpmp" => Some(Method::NatPmp),
        "upnp" => Some(Method::Upnp),
        _ => None,
    }
}

impl MappingInfo {
    /// The printable copy of `m`.
    pub fn of(m: &Mapping) -> MappingInfo {
        let granted = wall(m.granted_at());
        MappingInfo {
            method: method_name(m.method()).into(),
            protocol: m.protocol().as_str().into(),
            external: m.external(),
            internal: m.internal(),
            gateway: m.gateway(),
            lease_seconds: m.lease().as_secs(),
            permanent: m.lease() == Lease::Permanent,
            description: m.description().into(),
            granted_at: unix(granted),
            expires_at: match m.lease() {
                Lease::Finite(d) => Some(unix(granted + d)),
                Lease::Permanent => None,
            },
        }
    }

    /// The protocol, parsed.
    pub fn protocol(&self) -> Option<Protocol> {
        self.protocol.parse().ok()
    }

    /// Whether the lease has ended (by the clock: the router forgets it).
    pub fn expired(&self) -> bool {
        self.expires_at
            .is_some_and(|e| e <= unix(SystemTime::now()))
    }

    /// "TCP 5.5.5.7:8080 -> 192.168.1.4:80 via PCP, lease 2h (until 14:03 UTC)".
    pub fn describe(&self) -> String {
        let method = method_from(&self.method).map_or("manual", Method::name);
        let proto = self.protocol.to_ascii_uppercase();
        let lease = if self.permanent {
            "no end (remove it with pfwd unmap)".to_string()
        } else {
            let mut s =
                humantime::format_duration(Duration::from_secs(u64::from(self.lease_seconds)))
                    .to_string();
            if let Some(end) = self.expires_at {
                let t = UNIX_EPOCH + Duration::from_secs(end);
                let stamp = humantime::format_rfc3339_seconds(t).to_string();
                s.push_str(&format!(" (until {})", stamp.replace('T', " ")));
            }
            s
        };
        format!(
            "{proto} {} -> {} via {method}, lease {lease}",
            self.external, self.internal
        )
    }
}

impl Record {
    /// The record of `m`, kept alive by `kept_by` (a process id) or not.
    pub fn of(m: &Mapping, kept_by: Option<u32>) -> Record {
        let (pcp_nonce, epoch, forced_permanent) = match m.state() {
            MethodState::Pcp { nonce, epoch, .. } => (
                Some(nonce.iter().map(|b| format!("{b:02x}")).collect()),
                Some(*epoch),
                false,
            ),
            MethodState::NatPmp { epoch, .. } => (None, Some(*epoch), false),
            MethodState::Upnp { forced_permanent } => (None, None, *forced_permanent),
            _ => (None, None, false),
        };
        Record {
            info: MappingInfo::of(m),
            pcp_nonce,
            epoch,
            forced_permanent,
            kept_by,
        }
    }

    /// The mapping again, to delete it; `None` when the record is damaged.
    pub fn mapping(&self) -> Option<Mapping> {
        let method = method_from(&self.info.method)?;
        let protocol = self.info.protocol()?;
        let lease = if self.info.permanent {
            Lease::Permanent
        } else {
            Lease::Finite(Duration::from_secs(u64::from(self.info.lease_seconds)))
        };
        let age = SystemTime::now()
            .duration_since(UNIX_EPOCH + Duration::from_secs(self.info.granted_at))
            .unwrap_or_default();
        let granted_at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        let state = match method {
            Method::Pcp => MethodState::Pcp {
                nonce: parse_nonce(self.pcp_nonce.as_deref()?)?,
                epoch: self.epoch.unwrap_or(0),
                generation: 0,
            },
            Method::NatPmp => MethodState::NatPmp {
                epoch: self.epoch.unwrap_or(0),
                generation: 0,
            },
            _ => MethodState::Upnp {
                forced_permanent: self.forced_permanent,
            },
        };
        Some(Mapping::new(
            method,
            protocol,
            self.info.gateway,
            self.info.external,
            self.info.internal,
            lease,
            granted_at,
            self.info.description.clone(),
            state,
        ))
    }

    /// Whether this record is the same mapping as `other` (gateway, protocol
    /// and outside port: the router holds one mapping per those).
    pub fn same_as(&self, other: &Record) -> bool {
        self.info.gateway == other.info.gateway
            && self.info.protocol == other.info.protocol
            && self.info.external.port() == other.info.external.port()
    }
}

fn parse_nonce(hex: &str) -> Option<[u8; 12]> {
    if hex.len() != 24 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 12];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pcp_mapping_round_trips_through_its_record() {
        let m = Mapping::new(
            Method::Pcp,
            Protocol::Udp,
            Ipv4Addr::new(192, 168, 1, 1),
            "5.5.5.7:51820".parse().unwrap(),
            "192.168.1.4:51820".parse().unwrap(),
            Lease::Finite(Duration::from_secs(3600)),
            Instant::now(),
            "pfwd wireguard",
            MethodState::Pcp {
                nonce: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff],
                epoch: 77,
                generation: 0,
            },
        );
        let r = Record::of(&m, Some(42));
        assert_eq!(r.pcp_nonce.as_deref(), Some("0102030405060708090a0bff"));
        let json = serde_json::to_string(&r).unwrap();
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let again = back.mapping().unwrap();
        assert_eq!(again.state(), m.state());
        assert_eq!(again.external(), m.external());
        assert_eq!(again.lease(), m.lease());
        assert!(!r.info.expired());
        assert!(
            r.info
                .describe()
                .starts_with("UDP 5.5.5.7:51820 -> 192.168.1.4:51820 via PCP, lease 1h")
        );
    }

    #[test]
    fn a_damaged_record_is_not_a_mapping() {
        let m = Mapping::new(
            Method::Pcp,
            Protocol::Tcp,
            Ipv4Addr::new(192, 168, 1, 1),
            "5.5.5.7:80".parse().unwrap(),
            "192.168.1.4:80".parse().unwrap(),
            Lease::Permanent,
            Instant::now(),
            "x",
            MethodState::Pcp {
                nonce: [0; 12],
                epoch: 0,
                generation: 0,
            },
        );
        let mut r = Record::of(&m, None);
        r.pcp_nonce = Some("zz".into());
        assert!(r.mapping().is_none());
        r.pcp_nonce = None;
        assert!(r.mapping().is_none());
    }
}
