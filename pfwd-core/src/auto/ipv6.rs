//! IPv6 in the automatic client: a request of [`Family::Ipv6`] opens a
//! pinhole for this host's global address, by PCP over IPv6 (the MAP sent
//! to the router's IPv6 address from the host's own) or by UPnP's
//! `WANIPv6FirewallControl`, and otherwise gets the IPv6 firewall guide.
//!
//! The IPv6 side is found the first time it is needed, so that IPv4-only
//! work costs nothing: the route and the global address from the system's
//! tables, then each method when first asked, with the same rules for
//! failures as IPv4's (a failure stands for `retry_failed_after`).

use std::sync::Arc;
use std::time::Instant;

use super::Client;
use super::probe::{Backend, Slot, map_by};
use crate::backend::pcp::Pcp;
use crate::error::{Error, Result};
use crate::gateway::{Ipv6Gateway, Ipv6Unavailable, default_ipv6_gateway};
use crate::guide::MethodFailure;
use crate::mapping::{Family, Mapping, MappingRequest, Method};

/// The methods that can open an IPv6 pinhole, best first (NAT-PMP is
/// IPv4 only).
pub const IPV6_PREFERENCE: [Method; 2] = [Method::Pcp, Method::Upnp];

/// What the client knows of IPv6: the route, and a slot per method.
#[derive(Debug)]
pub(super) struct Ipv6Side {
    pub(super) gateway: std::result::Result<Ipv6Gateway, Ipv6Unavailable>,
    pcp: Slot,
    upnp: Slot,
}

impl Ipv6Side {
    fn slot(&self, method: Method) -> Option<&Slot> {
        match method {
            Method::Pcp => Some(&self.pcp),
            Method::Upnp => Some(&self.upnp),
            _ => None,
        }
    }
}

/// Why `method` cannot open pinholes on a host without IPv6.
fn unavailable(method: Option<Method>, why: &Ipv6Unavailable) -> Error {
    Error::NoGateway {
        refused: false,
        method,
        detail: why.to_string(),
    }
}

impl Client {
    /// The IPv6 side, found on first use (from the calling thread's
    /// network namespace, as the IPv4 gateway is).
    pub(super) fn ipv6_side(&self) -> &Ipv6Side {
        self.ipv6.get_or_init(|| {
            let gateway = match self.options.ipv6_gateway.clone() {
                Some(g) => Ok(g),
                None => default_ipv6_gateway(),
            };
            match &gateway {
                Ok(g) => log::debug!("IPv6: router {} (this host {})", g.router, g.local),
                Err(why) => log::debug!("IPv6: {why}"),
            }
            Ipv6Side {
                gateway,
                pcp: Slot::default(),
                upnp: Slot::default(),
            }
        })
    }

    /// This host's IPv6 router and global address, or why there is none.
    ///
    /// # Errors
    ///
    /// [`Ipv6Unavailable`]: no IPv6 route, or only unique local addresses.
    pub fn ipv6_gateway(&self) -> std::result::Result<Ipv6Gateway, Ipv6Unavailable> {
        self.ipv6_side().gateway.clone()
    }

    /// The backend opening pinholes by `method`, asking the router now if it
    /// was not asked yet (a failure stands for `retry_failed_after`).
    pub(super) async fn ipv6_backend(
        &self,
        method: Method,
    ) -> std::result::Result<Arc<Backend>, MethodFailure> {
        let side = self.ipv6_side();
        let gateway = side
            .gateway
            .as_ref()
            .map_err(|why| MethodFailure::from_error(&unavailable(Some(method), why)))?;
        let Some(slot) = side.slot(method) else {
            return Err(MethodFailure::from_error(&Error::Unsupported {
                method,
                what: "IPv6 pinholes".into(),
                detail: format!("{method} is IPv4 only: PCP and UPnP open IPv6 pinholes"),
            }));
        };
        let keep = self.options.retry_failed_after;
        slot.get_or_probe(keep, true, || async {
            let t0 = Instant::now();
            let r = match method {
                Method::Pcp => self.probe_pcp6(gateway).await,
                _ => self.probe_pinholes(gateway).await,
            };
            match &r {
                Ok(_) => log::debug!("IPv6 {method}: answered in {:?}", t0.elapsed()),
                Err(f) => log::debug!("IPv6 {method}: no ({}) after {:?}", f.reason, t0.elapsed()),
            }
            r
        })
        .await
    }

    /// PCP over IPv6 not asked yet: the request itself is its probe
    /// (map-first, as over IPv4), one round trip on a router that speaks
    /// it. `None` when PCP over IPv6 has answered or failed already (the
    /// usual path then maps, or skips it).
    async fn pcp6_map_first(&self, request: &MappingRequest) -> Option<super::probe::Outcome> {
        let side = self.ipv6_side();
        let gateway = side.gateway.as_ref().ok()?;
        let slot = &side.pcp;
        if slot.settled() {
            return None;
        }
        let _probing = slot.probing.lock().await;
        if slot.settled() {
            return None;
        }
        let pcp = match Pcp::ipv6(gateway.clone(), self.options.pmp.clone()).await {
            Ok(p) => p,
            Err(e) => {
                let f = MethodFailure::from_error(&e);
                slot.set(Err(f.clone()));
                return Some(super::probe::Outcome::failed(f));
            }
        };
        let deadline = tokio::time::Instant::now() + self.options.budget;
        let outcome =
            super::probe::probe_pcp_by_mapping(pcp, request, deadline, self.options.budget).await;
        slot.set(outcome.backend.clone());
        log::debug!(
            "IPv6 PCP, asked by the mapping itself: {}",
            match &outcome.backend {
                Ok(_) => "answered".to_string(),
                Err(f) => f.reason.clone(),
            }
        );
        Some(outcome)
    }

    /// PCP over IPv6: an ANNOUNCE to the router's port 5351 from this
    /// host's global address, within the probe budget.
    async fn probe_pcp6(
        &self,
        gateway: &Ipv6Gateway,
    ) -> std::result::Result<Arc<Backend>, MethodFailure> {
        let fail = |e: &Error| MethodFailure::from_error(e);
        let pcp = Pcp::ipv6(gateway.clone(), self.options.pmp.clone())
            .await
            .map_err(|e| fail(&e))?;
        match tokio::time::timeout(self.options.budget, pcp.check_epoch()).await {
            Ok(Ok(_)) => Ok(Arc::new(Backend::Pcp(pcp))),
            Ok(Err(e)) => Err(fail(&e)),
            Err(_) => Err(fail(&Error::NoGateway {
                refused: false,
                method: Some(Method::Pcp),
                detail: format!(
                    "no answer over IPv6 from {} within {} ms",
                    gateway.router,
                    self.options.budget.as_millis()
                ),
            })),
        }
    }

    /// Open a pinhole for `request` ([`Family::Ipv6`]) with the best method
    /// that can, or give the IPv6 guide.
    pub(super) async fn map_ipv6(&self, request: &MappingRequest) -> Result<Mapping> {
        if let Some(prev) = request.previous() {
            let backend = self
                .ipv6_backend(prev.method())
                .await
                .map_err(|f| self.failure_error(&f))?;
            return backend.forwarder().map(request).await;
        }
        let budget = self.options.map_timeout;
        let deadline = tokio::time::Instant::now() + budget;
        let allowed = self.options.methods();
        let mut failures = Vec::new();
        if let Err(why) = &self.ipv6_side().gateway {
            failures.push(MethodFailure::from_error(&unavailable(None, why)));
        } else {
            for method in IPV6_PREFERENCE.into_iter().filter(|m| allowed.contains(m)) {
                if method == Method::Pcp
                    && let Some(outcome) = self.pcp6_map_first(request).await
                {
                    if let Some(late) = outcome.late {
                        late.discard();
                    }
                    match (outcome.backend, outcome.first) {
                        (_, Some(Ok(m))) => return Ok(m),
                        (_, Some(Err(e))) if super::policy::ends_mapping(&e) => return Err(e),
                        (_, Some(Err(e))) => failures.push(MethodFailure::from_error(&e)),
                        (Err(f), None) => failures.push(f),
                        (Ok(_), None) => {}
                    }
                    continue;
                }
                let backend =
                    match tokio::time::timeout_at(deadline, self.ipv6_backend(method)).await {
                        Ok(Ok(b)) => b,
                        Ok(Err(f)) => {
                            failures.push(f);
                            continue;
                        }
                        Err(_) => {
                            failures.push(MethodFailure::from_error(&super::policy::out_of_time(
                                method, budget,
                            )));
                            continue;
                        }
                    };
                match map_by(backend, request, deadline, budget).await {
                    Ok(m) => return Ok(m),
                    Err(e) if super::policy::ends_mapping(&e) => return Err(e),
                    Err(e) => {
                        log::info!("IPv6 {method} could not open the pinhole: {e}");
                        failures.push(MethodFailure::from_error(&e));
                    }
                }
            }
            if allowed.contains(&Method::NatPmp) && !allowed.contains(&Method::Pcp) {
                failures.push(MethodFailure::from_error(&Error::Unsupported {
                    method: Method::NatPmp,
                    what: "IPv6 pinholes".into(),
                    detail: "NAT-PMP is IPv4 only (RFC 6886): allow PCP or UPnP for IPv6".into(),
                }));
            }
        }
        Err(Error::Manual {
            instructions: Box::new(self.guide(request, failures).await),
        })
    }

    /// The IPv6 backend that made `mapping`.
    pub(super) async fn ipv6_backend_of(&self, mapping: &Mapping) -> Result<Arc<Backend>> {
        debug_assert_eq!(mapping.family(), Family::Ipv6);
        self.ipv6_backend(mapping.method())
            .await
            .map_err(|f| self.failure_error(&f))
    }
}

impl Client {
    /// UPnP's pinholes: the `WANIPv6FirewallControl` service of the router
    /// that answered UPnP (over IPv4), asked over IPv6 from this host's
    /// global address (`GetFirewallStatus`).
    async fn probe_pinholes(
        &self,
        gateway: &Ipv6Gateway,
    ) -> std::result::Result<Arc<Backend>, MethodFailure> {
        let fail = |e: &Error| MethodFailure::from_error(e);
        let upnp = self.backend(Method::Upnp).await?;
        let Backend::Upnp(upnp) = upnp.as_ref() else {
            return Err(fail(&no_pinholes(
                "the UPnP backend is not a UPnP-IGD router",
            )));
        };
        let Some(pinholes) = upnp.pinholes(gateway) else {
            return Err(fail(&no_pinholes(
                "the router's UPnP description has no WANIPv6FirewallControl service: it \
                 opens no IPv6 pinholes over UPnP",
            )));
        };
        match tokio::time::timeout(self.options.budget, pinholes.probe()).await {
            Ok(Ok(())) => Ok(Arc::new(Backend::Pinholes(pinholes))),
            Ok(Err(e)) => Err(fail(&e)),
            Err(_) => Err(fail(&Error::NoGateway {
                refused: false,
                method: Some(Method::Upnp),
                detail: format!(
                    "no answer over IPv6 from {} within {} ms",
                    pinholes.firewall(),
                    self.options.budget.as_millis()
                ),
            })),
        }
    }
}

/// UPnP's "no pinholes here", saying why.
fn no_pinholes(detail: &str) -> Error {
    Error::Unsupported {
        method: Method::Upnp,
        what: "IPv6 pinholes".into(),
        detail: detail.into(),
    }
}

/// What IPv6 offers this host ([`Client::ipv6_status`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ipv6Status {
    /// This host's IPv6 router and global address, when it has them.
    pub gateway: Option<Ipv6Gateway>,
    /// Why there is no IPv6 to open pinholes on, when there is none.
    pub unavailable: Option<String>,
    /// Whether each method answers over IPv6 (PCP over IPv6, UPnP's
    /// `WANIPv6FirewallControl`); empty without IPv6.
    pub methods: Vec<super::MethodStatus>,
}

impl Ipv6Status {
    /// The methods that answered over IPv6, best first.
    pub fn answering(&self) -> Vec<Method> {
        self.methods
            .iter()
            .filter(|s| s.probe == super::Probe::Answered)
            .map(|s| s.method)
            .collect()
    }
}

impl Client {
    /// Whether this host can have IPv6 pinholes, and which methods answer
    /// over IPv6 (each asked now, at once, unless it answered or failed
    /// lately), for a status display.
    pub async fn ipv6_status(&self) -> Ipv6Status {
        let gateway = match self.ipv6_gateway() {
            Ok(g) => g,
            Err(why) => {
                return Ipv6Status {
                    gateway: None,
                    unavailable: Some(why.to_string()),
                    methods: Vec::new(),
                };
            }
        };
        let allowed = &self.options.methods();
        let asked = IPV6_PREFERENCE.map(|method| async move {
            if !allowed.contains(&method) {
                return super::MethodStatus {
                    method,
                    probe: super::Probe::Skipped,
                    took_ms: None,
                };
            }
            let t0 = Instant::now();
            let r = self.ipv6_backend(method).await;
            super::MethodStatus {
                method,
                probe: match r {
                    Ok(_) => super::Probe::Answered,
                    Err(f) => super::Probe::Failed(f),
                },
                took_ms: Some(t0.elapsed().as_millis() as u64),
            }
        });
        let [pcp, upnp] = asked;
        let (pcp, upnp) = tokio::join!(pcp, upnp);
        Ipv6Status {
            gateway: Some(gateway),
            unavailable: None,
            methods: vec![pcp, upnp],
        }
    }
}
