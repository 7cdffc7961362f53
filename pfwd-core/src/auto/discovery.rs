//! What discovery found, method by method: plain values for a status
//! display, the command's JSON and the bindings.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::gateway::GatewayInfo;
use crate::guide::{MethodFailure, Warning};
use crate::mapping::Method;

/// What probing one method found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Probe {
    /// The gateway answered this method.
    Answered,
    /// It did not, or not usably.
    Failed(MethodFailure),
    /// A better method answered first, so pfwd did not wait for this one.
    NotWaited,
    /// Excluded by the options.
    Skipped,
}

/// One method's probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodStatus {
    /// The method.
    pub method: Method,
    /// What the probe found.
    pub probe: Probe,
    /// How long it took to answer or fail (none when not waited for).
    pub took_ms: Option<u64>,
}

/// What [`Client::discover`](super::Client::discover) found: enough for a
/// status display.
///
/// # Examples
///
/// ```
/// use pfwd_core::guide::MethodFailure;
/// use pfwd_core::{Discovery, Error, Method, MethodStatus, Probe};
///
/// let upnp_off = Error::NoGateway {
///     method: Some(Method::Upnp),
///     detail: "no answer".into(),
///     refused: false,
/// };
/// let found = Discovery {
///     gateway: None,
///     methods: vec![
///         MethodStatus { method: Method::Pcp, probe: Probe::Answered, took_ms: Some(2) },
///         MethodStatus { method: Method::NatPmp, probe: Probe::NotWaited, took_ms: None },
///         MethodStatus {
///             method: Method::Upnp,
///             probe: Probe::Failed(MethodFailure::from(&upnp_off)),
///             took_ms: Some(500),
///         },
///     ],
///     external_address: Some("203.0.113.7".parse().unwrap()),
///     warnings: Vec::new(),
///     took_ms: 52,
/// };
/// assert_eq!(found.best(), Some(Method::Pcp));
/// assert_eq!(found.answered(), [Method::Pcp]);
/// assert_eq!(found.failures()[0].method, Some(Method::Upnp));
/// assert_eq!(serde_json::to_value(&found).unwrap()["methods"][0]["probe"]["state"], "answered");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    /// The gateway and this host's address, when there is a default route.
    pub gateway: Option<GatewayInfo>,
    /// Each automated method's probe, best first.
    pub methods: Vec<MethodStatus>,
    /// The router's internet address, from the best method that answered.
    pub external_address: Option<Ipv4Addr>,
    /// Carrier-grade or double NAT, from the external address.
    pub warnings: Vec<Warning>,
    /// How long discovery took.
    pub took_ms: u64,
}

impl Discovery {
    /// The best method that answered.
    pub fn best(&self) -> Option<Method> {
        self.answered().into_iter().next()
    }

    /// Every method that answered, best first.
    pub fn answered(&self) -> Vec<Method> {
        self.methods
            .iter()
            .filter(|s| s.probe == Probe::Answered)
            .map(|s| s.method)
            .collect()
    }

    /// Why methods failed, so far.
    pub fn failures(&self) -> Vec<MethodFailure> {
        self.methods
            .iter()
            .filter_map(|s| match &s.probe {
                Probe::Failed(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }
}
