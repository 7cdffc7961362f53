//! Mapping records: a [`Mapping`] as JSON, with the process that keeps it
//! alive, so that another process (a later `pfwd unmap`, a Python or C
//! program) can renew or delete it. [`crate::state`] keeps one file each.
//!
//! # The JSON shape (version 1)
//!
//! ```json
//! {"version": 1, "method": "pcp", "protocol": "tcp",
//!  "external": "5.5.5.7:8080", "internal": "192.168.77.10:8080",
//!  "gateway": "192.168.77.1", "lease_seconds": 7200, "permanent": false,
//!  "description": "pfwd http-alt", "granted_at": 1795633606,
//!  "expires_at": 1795640806, "pcp_nonce": "0102030405060708090a0bff",
//!  "epoch": 77, "kept_by": 4242}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `version` | the shape's version (1); missing means 1; a newer one is refused |
//! | `method` | `pcp`, `natpmp`, `upnp` or `manual` (reading also takes `nat-pmp`, `upnp-igd`) |
//! | `protocol` | `tcp` or `udp` |
//! | `family` | `ipv4` or `ipv6` (an IPv6 pinhole); missing: the addresses' family |
//! | `external`, `internal` | `IPv4:port`: where the internet reaches the server, and the server; for a pinhole both are the host's own `[IPv6]:port` |
//! | `gateway` | the router's LAN address (its IPv6 address for a pinhole) |
//! | `lease_seconds`, `permanent` | the granted lease; 0 and `true` when it never ends |
//! | `granted_at`, `expires_at` | UTC, seconds since 1970 (reading also takes RFC 3339 text such as `"2026-11-25T21:06:46Z"`); `expires_at` is null when permanent and is derived when read |
//! | `pcp_nonce` | PCP only: the 12-byte nonce as 24 hex digits, without which the mapping cannot be renewed or deleted |
//! | `epoch` | PCP and NAT-PMP: the gateway's epoch in the granting answer |
//! | `forced_permanent` | UPnP only, when true: the router accepted only a permanent lease |
//! | `pinhole_id` | UPnP IPv6 pinholes only: the router's UniqueID, which renews and deletes it |
//! | `state` | a custom backend's own state string |
//! | `kept_by` | records only: the process id renewing it; absent when nobody does |

use std::net::IpAddr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::model::{Invalid, Mapping, MappingRequest, Method};

/// A mapping as the state directory records it: the mapping, and the
/// process keeping it alive (if any).
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::time::{Duration, Instant};
/// use pfwd_core::{Lease, Mapping, Method, MethodState, Protocol, Record};
///
/// let mapping = Mapping::new(
///     Method::Pcp,
///     Protocol::Udp,
///     Ipv4Addr::new(192, 168, 1, 1),
///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 51820),
///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 51820),
///     Lease::Finite(Duration::from_secs(3600)),
///     Instant::now(),
///     "pfwd wireguard",
///     MethodState::Pcp { nonce: [0xab; 12], epoch: 77, generation: 0 },
/// );
/// let record = Record::new(mapping, Some(4242));
/// assert_eq!(record.file_name(), "192.168.1.1-udp-51820.json");
///
/// let text = record.to_json();
/// assert!(text.contains(r#""pcp_nonce": "abababababababababababab""#));
/// assert!(text.contains(r#""kept_by": 4242"#));
/// let back = Record::from_json(&text)?;
/// assert_eq!(back.kept_by, Some(4242));
/// assert_eq!(back.mapping.state(), record.mapping.state());
/// assert!(!back.ended());
///
/// let damaged = Record::from_json(r#"{"method": "pcp"}"#).unwrap_err();
/// assert!(damaged.reason.starts_with("not a mapping record: missing field"));
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The mapping, with everything needed to renew or delete it.
    #[serde(flatten)]
    pub mapping: Mapping,
    /// The id of the process that renews it; `None` when nobody does
    /// (made once, left to its lease).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_by: Option<u32>,
}

impl Record {
    /// The record of `mapping`, kept alive by process `kept_by` or by nobody.
    pub fn new(mapping: Mapping, kept_by: Option<u32>) -> Record {
        Record { mapping, kept_by }
    }

    /// The record as JSON text (pretty, as the state directory writes it).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read a record from JSON text.
    ///
    /// # Errors
    ///
    /// [`Invalid`] saying which field is missing or wrong.
    pub fn from_json(text: &str) -> Result<Record, Invalid> {
        serde_json::from_str(text).map_err(|e| Invalid::new(format!("not a mapping record: {e}")))
    }

    /// Whether the lease has ended by the wall clock (the router has
    /// forgotten the mapping).
    pub fn ended(&self) -> bool {
        self.mapping.ended_at(SystemTime::now())
    }

    /// Whether nobody renews the mapping now: no process kept it, or that
    /// process is gone (a crash, `kill -9`). Such a mapping can be adopted
    /// by a new keeper: renewed with its own state (a PCP mapping only with
    /// its nonce) instead of making another one.
    pub fn orphaned(&self) -> bool {
        self.kept_by.is_none_or(|pid| !process_alive(pid))
    }

    /// Whether this record is the mapping `request` asks for, on `gateway`,
    /// for this host `local` (the host a request without an internal
    /// address forwards to): same protocol, internal host and port, and an
    /// external port the request accepts (a preferred port the router did
    /// not grant still counts; an exact one must match). Manual records are
    /// never a mapping to renew.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddrV4};
    /// use std::time::{Duration, Instant};
    /// use pfwd_core::{Lease, Mapping, MappingRequest, Method, MethodState, Protocol, Record};
    ///
    /// let mapping = Mapping::new(
    ///     Method::Pcp,
    ///     Protocol::Udp,
    ///     Ipv4Addr::new(192, 168, 1, 1),
    ///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 51820),
    ///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 51820),
    ///     Lease::Finite(Duration::from_secs(3600)),
    ///     Instant::now(),
    ///     "pfwd wireguard",
    ///     MethodState::Pcp { nonce: [0xab; 12], epoch: 77, generation: 0 },
    /// );
    /// let record = Record::new(mapping, None);
    /// let (router, me) = (Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 4));
    ///
    /// let wireguard = MappingRequest::builder(Protocol::Udp, 51820).build()?;
    /// assert!(record.answers(&wireguard, router, me));
    /// // Another router, another host, or another protocol: not this record.
    /// assert!(!record.answers(&wireguard, Ipv4Addr::new(10, 0, 0, 1), me));
    /// assert!(!record.answers(&wireguard, router, Ipv4Addr::new(192, 168, 1, 5)));
    /// let tcp = MappingRequest::builder(Protocol::Tcp, 51820).build()?;
    /// assert!(!record.answers(&tcp, router, me));
    /// // An outside port asked for exactly must be the one granted.
    /// let exact = MappingRequest::builder(Protocol::Udp, 51820).exact_external_port(51821).build()?;
    /// assert!(!record.answers(&exact, router, me));
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn answers(
        &self,
        request: &MappingRequest,
        gateway: impl Into<IpAddr>,
        local: impl Into<IpAddr>,
    ) -> bool {
        let (gateway, local) = (gateway.into(), local.into());
        let m = &self.mapping;
        m.method() != Method::Manual
            && m.gateway() == gateway
            && self.is_for(request, request.internal_ip().unwrap_or(local))
    }

    /// Whether this record forwards what `request` asks for to `host`: same
    /// protocol, host and port, and an outside port the request accepts
    /// ([`MappingRequest::accepts_external_port`]), whatever the gateway.
    pub fn is_for(&self, request: &MappingRequest, host: impl Into<IpAddr>) -> bool {
        let host = host.into();
        let m = &self.mapping;
        m.protocol() == request.protocol()
            && m.internal().port() == request.internal_port()
            && m.internal().ip() == host
            && m.family() == request.family()
            && request.accepts_external_port(m.external().port())
    }

    /// The error for a second keeper of this record's mapping
    /// ([`Error::Conflict`](crate::Error::Conflict) naming the process
    /// that keeps it, see [`crate::state::StateDir::kept_elsewhere`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddrV4};
    /// use std::time::{Duration, Instant};
    /// use pfwd_core::{ErrorKind, Lease, Mapping, Method, MethodState, Protocol, Record};
    ///
    /// let mapping = Mapping::new(
    ///     Method::Upnp,
    ///     Protocol::Tcp,
    ///     Ipv4Addr::new(192, 168, 1, 1),
    ///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 80),
    ///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 80),
    ///     Lease::Finite(Duration::from_secs(1800)),
    ///     Instant::now(),
    ///     "pfwd http",
    ///     MethodState::Upnp { forced_permanent: false },
    /// );
    /// let err = Record::new(mapping, Some(4242)).conflict();
    /// assert_eq!(err.kind(), ErrorKind::Conflict);
    /// assert_eq!(err.holder().and_then(|h| h.process), Some(4242));
    /// assert!(err.to_string().contains("is already kept by pfwd process 4242"));
    /// ```
    pub fn conflict(&self) -> crate::Error {
        let m = &self.mapping;
        crate::Error::Conflict {
            method: m.method(),
            protocol: m.protocol(),
            external_port: m.external().port(),
            holder: Some(crate::error::Holder {
                internal: m.internal(),
                description: m.description().to_string(),
                process: self.kept_by,
            }),
        }
    }

    /// The record's file name in a state directory:
    /// `GATEWAY-PROTOCOL-EXTERNALPORT.json` (a router holds one mapping per
    /// those), such as `192.168.1.1-tcp-8080.json`.
    pub fn file_name(&self) -> String {
        file_name(&self.mapping)
    }
}

/// Whether process `pid` runs on this machine (and is not this process).
/// Read from `/proc`: on systems without it every other process counts as
/// gone.
///
/// # Examples
///
/// ```
/// use pfwd_core::record::process_alive;
///
/// // This process is not "another keeper".
/// assert!(!process_alive(std::process::id()));
/// ```
pub fn process_alive(pid: u32) -> bool {
    pid != std::process::id() && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The file name of `m`'s record (see [`Record::file_name`]).
pub fn file_name(m: &Mapping) -> String {
    format!(
        "{}-{}-{}.json",
        m.gateway(),
        m.protocol().as_str(),
        m.external().port()
    )
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::model::{Lease, Method, MethodState, Protocol};

    fn pcp() -> Mapping {
        Mapping::new(
            Method::Pcp,
            Protocol::Udp,
            Ipv4Addr::new(192, 168, 1, 1),
            "5.5.5.7:51820".parse::<std::net::SocketAddr>().unwrap(),
            "192.168.1.4:51820".parse::<std::net::SocketAddr>().unwrap(),
            Lease::Finite(Duration::from_secs(3600)),
            Instant::now(),
            "pfwd wireguard",
            MethodState::Pcp {
                nonce: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff],
                epoch: 77,
                generation: 0,
            },
        )
    }

    #[test]
    fn a_record_round_trips_with_its_keeper_and_nonce() {
        let r = Record::new(pcp(), Some(42));
        let text = r.to_json();
        assert!(
            text.contains("\"pcp_nonce\": \"0102030405060708090a0bff\""),
            "{text}"
        );
        assert!(text.contains("\"kept_by\": 42"), "{text}");
        let back = Record::from_json(&text).unwrap();
        assert_eq!(back.kept_by, Some(42));
        assert_eq!(back.mapping.state(), r.mapping.state());
        assert_eq!(back.file_name(), "192.168.1.1-udp-51820.json");
        assert!(!back.ended());
        let unkept = Record::from_json(&Record::new(pcp(), None).to_json()).unwrap();
        assert_eq!(unkept.kept_by, None);
    }

    #[test]
    fn the_commands_old_records_still_read() {
        // Written by pfwd-cli before the record moved to the core.
        let old = r#"{"method": "pcp", "protocol": "tcp", "external": "5.5.5.7:8081",
            "internal": "192.168.77.10:8081", "gateway": "192.168.77.1",
            "lease_seconds": 7200, "permanent": false, "description": "pfwd 8081",
            "granted_at": 1795633606, "expires_at": 1795640806,
            "pcp_nonce": "0102030405060708090a0bff", "epoch": 3, "forced_permanent": false}"#;
        let r = Record::from_json(old).unwrap();
        assert_eq!(r.mapping.method(), Method::Pcp);
        assert!(r.ended());
    }

    #[test]
    fn a_record_answers_the_request_that_made_it() {
        let r = Record::new(pcp(), None);
        let (gw, me) = (Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 4));
        let wg = || MappingRequest::builder(crate::Protocol::Udp, 51820);
        assert!(r.answers(&wg().build().unwrap(), gw, me));
        assert!(r.answers(&wg().internal_ip(me).build().unwrap(), gw, me));
        // Preferred another port: the router's grant still counts; exact does not.
        assert!(r.answers(&wg().external_port(51821).build().unwrap(), gw, me));
        assert!(!r.answers(&wg().exact_external_port(51821).build().unwrap(), gw, me));
        assert!(!r.answers(&wg().build().unwrap(), Ipv4Addr::new(10, 0, 0, 1), me));
        assert!(!r.answers(&wg().build().unwrap(), gw, Ipv4Addr::new(192, 168, 1, 5)));
        let tcp = MappingRequest::builder(crate::Protocol::Tcp, 51820)
            .build()
            .unwrap();
        assert!(!r.answers(&tcp, gw, me));
    }

    #[test]
    fn a_record_is_orphaned_when_its_keeper_is_gone() {
        assert!(Record::new(pcp(), None).orphaned());
        // This process does not count as another keeper (a `pfwd run` that
        // starts an entry again may adopt what it recorded itself).
        assert!(Record::new(pcp(), Some(std::process::id())).orphaned());
        assert!(!Record::new(pcp(), Some(1)).orphaned(), "init runs");
        assert!(Record::new(pcp(), Some(u32::MAX - 1)).orphaned());
    }

    #[test]
    fn damaged_records_say_why() {
        for (text, says) in [
            ("not json", "not a mapping record"),
            ("{}", "missing field"),
            (r#"{"method": "pcp"}"#, "missing field"),
        ] {
            let e = Record::from_json(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
