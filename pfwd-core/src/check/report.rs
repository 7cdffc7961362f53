//! [`CheckReport`]: what a check found, step by step, and what it means.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::diagnosis::Diagnosis;
use super::messages::ProbeReply;
use crate::model::{Method, Protocol};

/// What the check found on the LAN, before asking anyone outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LanState {
    /// A server listens: a TCP connection to the host's port was accepted,
    /// or (UDP, this host) the port is held by another program.
    Listening,
    /// Nothing listens: a TCP connection to the host's port was refused.
    NothingListening,
    /// Nothing held the port on this host, so pfwd listened on it for the
    /// check and answers the prober's token itself.
    HeldByPfwd,
    /// Not known.
    Unknown {
        /// Why (UDP on another host, a connection that timed out, ...).
        why: String,
    },
}

/// What the check found on the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RouterState {
    /// The router lists the mapping (UPnP; miniupnpd lists its PCP and
    /// NAT-PMP mappings there too).
    Listed {
        /// The outside port the router forwards.
        external_port: u16,
        /// The mapping's description on the router.
        description: String,
    },
    /// The router cannot list mappings (PCP and NAT-PMP cannot), but pfwd's
    /// own record says a pfwd process made it and keeps it.
    Recorded {
        /// The method that made it.
        method: Method,
        /// The outside port the router granted.
        external_port: u16,
        /// The process that keeps it, when one does.
        kept_by: Option<u32>,
    },
    /// The router lists its mappings, and this one is not among them.
    NotListed,
    /// Not known.
    Unknown {
        /// Why the router could not be asked.
        why: String,
    },
}

impl RouterState {
    /// Whether the router (or pfwd's record of it) holds the mapping.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::Method;
    /// use pfwd_core::check::RouterState;
    ///
    /// // PCP cannot list, but pfwd's record says a keeper holds it.
    /// let recorded = RouterState::Recorded { method: Method::Pcp, external_port: 80, kept_by: Some(4242) };
    /// assert!(recorded.holds());
    /// assert!(!RouterState::NotListed.holds());
    /// ```
    pub fn holds(&self) -> bool {
        matches!(
            self,
            RouterState::Listed { .. } | RouterState::Recorded { .. }
        )
    }
}

/// Everything a check observed: the input of the [diagnosis](super::diagnosis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The LAN host the port should reach.
    pub host: Ipv4Addr,
    /// The port on that host.
    pub port: u16,
    /// The outside port checked.
    pub external_port: u16,
    /// Whether `host` is this machine (pfwd can listen there only then).
    pub host_is_local: bool,
    /// What the LAN side showed.
    pub lan: LanState,
    /// Why pfwd could not listen on a free port for the check (for
    /// example, a port under 1024 without the right to bind it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen_error: Option<String>,
    /// What the router holds.
    pub router: RouterState,
    /// The router's internet address, as the router tells it.
    pub router_address: Option<Ipv4Addr>,
    /// The prober asked, as given.
    pub via: Option<String>,
    /// The prober's answer.
    pub probe: Option<ProbeReply>,
    /// Whether pfwd's own listener received the token through the port.
    pub token_seen: bool,
}

impl Facts {
    /// The address the internet sees for this network (the prober's word).
    pub fn observed_address(&self) -> Option<IpAddr> {
        self.probe.as_ref().map(|p| p.observed_address)
    }
}

/// The result of [`check`][check-fn]: the facts, and what they mean.
///
/// In JSON (`pfwd check --json`, Python's `to_json`, C's
/// `pfwd_check_report_to_json`) the keys a script needs are at the top level:
/// `reachable`, `verified`, `observed_address`, `router_address`,
/// `diagnosis` and `explanation`.
///
/// # Examples
///
/// What a script reads of a report (this one made by hand from facts with
/// no prober, as a check without `--via` makes it):
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::Protocol;
/// use pfwd_core::check::{CheckReport, Diagnosis, Facts, LanState, RouterState, diagnose};
///
/// let facts = Facts {
///     protocol: Protocol::Tcp,
///     host: Ipv4Addr::new(192, 168, 1, 4),
///     port: 80,
///     external_port: 80,
///     host_is_local: true,
///     lan: LanState::Listening,
///     listen_error: None,
///     router: RouterState::NotListed,
///     router_address: Some(Ipv4Addr::new(203, 0, 113, 7)),
///     via: None,
///     probe: None,
///     token_seen: false,
/// };
/// let (diagnosis, explanation) = diagnose(&facts);
/// let report = CheckReport {
///     reachable: diagnosis.reachable(),
///     verified: diagnosis.verified(),
///     observed_address: facts.observed_address(),
///     router_address: facts.router_address,
///     diagnosis,
///     explanation,
///     facts,
///     took_ms: 12,
/// };
/// let json: serde_json::Value = serde_json::from_str(&report.to_json())?;
/// assert_eq!(json["diagnosis"], "not_checked");
/// assert_eq!(json["reachable"], false);
/// assert_eq!(json["facts"]["router"]["state"], "not_listed");
/// assert_eq!(report.diagnosis, Diagnosis::NotChecked);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg_attr(feature = "runtime", doc = " \n [check-fn]: super::check")]
#[cfg_attr(not(feature = "runtime"), doc = " \n [check-fn]: crate#features")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Whether something on the path answered from outside (a TCP
    /// connection accepted, a UDP answer) and it was not shown to be
    /// something else.
    pub reachable: bool,
    /// Whether the one-time token came back through the mapping to this
    /// host: the path is proven, not just "something answered".
    pub verified: bool,
    /// The address the internet sees for this network, from the prober.
    pub observed_address: Option<IpAddr>,
    /// The router's internet address.
    pub router_address: Option<Ipv4Addr>,
    /// What it means, as a stable name.
    pub diagnosis: Diagnosis,
    /// What it means in plain words, with what to do.
    pub explanation: String,
    /// Every step's findings.
    pub facts: Facts,
    /// How long the whole check took.
    pub took_ms: u64,
}

impl CheckReport {
    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"error":"the check report could not be written as JSON: {e}"}}"#)
        })
    }
}
