//! One call that always answers: probe PCP, NAT-PMP and UPnP at once under
//! one time budget, use the best that answers, and when none can make the
//! mapping, answer with the manual guide.
//!
//! ```no_run
//! # async fn demo() -> pfwd_core::Result<()> {
//! use pfwd_core::{Client, Error, MappingRequest, Protocol};
//! let client = Client::discover().await?;
//! println!("best method: {:?}", client.discovery().best());
//! let request = MappingRequest::builder(Protocol::Tcp, 80).build()?;
//! match client.map(&request).await {
//!     Ok(mapping) => println!("reachable at {}", mapping.external()),
//!     Err(Error::Manual { instructions }) => println!("{}", instructions.to_text()),
//!     Err(e) => eprintln!("{e}"),
//! }
//! # Ok(()) }
//! ```

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use crate::backend::engine::Engine;
use crate::backend::{
    PmpOptions, manual::Manual, natpmp::NatPmp, pcp::Pcp, upnp::Upnp, upnp::UpnpOptions,
};
use crate::error::{Error, Result};
use crate::forwarder::Forwarder;
use crate::gateway::{GatewayInfo, default_gateway};
use crate::guide::{
    GuideContext, Instructions, MethodFailure, RouterInfo, Warning, external_address_warning,
};
use crate::mapping::{GatewayMapping, Mapping, MappingRequest, Method, Protocol};

/// The methods pfwd automates, best first.
pub const PREFERENCE: [Method; 3] = [Method::Pcp, Method::NatPmp, Method::Upnp];

/// Options for [`Client::discover_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The time budget for probing every method at once (default 500 ms:
    /// PCP and NAT-PMP answer in milliseconds on a LAN, UPnP in under 100).
    pub budget: Duration,
    /// Once a method has answered, how long to wait for a better one that
    /// has not answered yet (default 50 ms).
    pub grace: Duration,
    /// How long UPnP's search waits for PCP and NAT-PMP, which answer in one
    /// round trip, before it starts (default 30 ms; it starts at once when
    /// both have failed, as when the router's port 5351 is closed). A router
    /// that answers them never sees the SSDP search, which on miniupnpd
    /// delays the PCP answers by about 13 ms. When a mapping is PCP's probe
    /// ([`Client::discover_and_map`]), NAT-PMP waits as long for it.
    pub pmp_head_start: Duration,
    /// How long a method that failed its probe stays ruled out before it is
    /// probed again when needed (default 30 s): a router still booting, or
    /// one lost answer, must not rule a method out for good.
    pub retry_failed_after: Duration,
    /// Use only these methods (in pfwd's order of preference); empty: all.
    pub only: Vec<Method>,
    /// Never use these methods.
    pub exclude: Vec<Method>,
    /// Wait for every method's answer instead of stopping at the best one,
    /// for a status display (default false).
    pub wait_for_all: bool,
    /// The gateway to ask; `None` finds the default gateway.
    pub gateway: Option<GatewayInfo>,
    /// UPnP settings (its discovery timeout is capped by `budget`).
    pub upnp: UpnpOptions,
    /// NAT-PMP and PCP settings (`timeout` applies to mapping requests; the
    /// probe is capped by `budget`).
    pub pmp: PmpOptions,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            budget: Duration::from_millis(500),
            grace: Duration::from_millis(50),
            pmp_head_start: Duration::from_millis(30),
            retry_failed_after: Duration::from_secs(30),
            only: Vec::new(),
            exclude: Vec::new(),
            wait_for_all: false,
            gateway: None,
            upnp: UpnpOptions::default(),
            pmp: PmpOptions::default(),
        }
    }
}

impl ClientOptions {
    /// The methods to try, best first.
    pub fn methods(&self) -> Vec<Method> {
        PREFERENCE
            .into_iter()
            .filter(|m| self.only.is_empty() || self.only.contains(m))
            .filter(|m| !self.exclude.contains(m))
            .collect()
    }
}

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

/// What [`Client::discover`] found: enough for a status display.
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

/// A backend that answered its probe.
#[derive(Debug)]
enum Backend {
    Pcp(Pcp),
    NatPmp(NatPmp),
    Upnp(Upnp),
}

impl Backend {
    fn forwarder(&self) -> &dyn Forwarder {
        match self {
            Backend::Pcp(b) => b,
            Backend::NatPmp(b) => b,
            Backend::Upnp(b) => b,
        }
    }
}

/// One method's backend: kept once it answered; a failure is kept for
/// `ClientOptions::retry_failed_after`, then the method is probed again.
#[derive(Debug, Default)]
struct Slot {
    ok: OnceCell<Backend>,
    failed: Mutex<Option<(MethodFailure, Instant)>>,
    probing: tokio::sync::Mutex<()>,
}

impl Slot {
    fn set(&self, result: std::result::Result<Backend, MethodFailure>) {
        match result {
            Ok(b) => {
                let _ = self.ok.set(b);
            }
            Err(f) => *crate::sync::lock(&self.failed) = Some((f, Instant::now())),
        }
    }

    fn has_failed(&self) -> bool {
        self.ok.get().is_none() && crate::sync::lock(&self.failed).is_some()
    }

    fn settled(&self) -> bool {
        self.ok.get().is_some() || crate::sync::lock(&self.failed).is_some()
    }

    /// The failure, while it is younger than `keep`.
    fn recent_failure(&self, keep: Duration) -> Option<MethodFailure> {
        crate::sync::lock(&self.failed)
            .as_ref()
            .filter(|(_, at)| at.elapsed() < keep)
            .map(|(f, _)| f.clone())
    }
}

/// The automatic client: the best method the gateway answers, with the
/// others and the manual guide behind it.
///
/// A client owns sockets registered with the tokio runtime that created it:
/// use it on that runtime (as with any tokio socket).
#[derive(Debug)]
pub struct Client {
    options: ClientOptions,
    gateway: Option<GatewayInfo>,
    engine: Option<Arc<Engine>>,
    pcp: Slot,
    natpmp: Slot,
    upnp: Slot,
    discovery: Mutex<Discovery>,
    /// The external address a NAT-PMP probe or a PCP mapping reported.
    probed_external: Mutex<Option<Ipv4Addr>>,
    /// The outcome of the mapping sent as PCP's probe (map-first).
    first: Mutex<Option<Result<Mapping>>>,
}

/// Map `request` with the best method the gateway answers, or get the guide.
/// Keep the returned [`Client`] to renew and delete the mapping.
///
/// The request itself is PCP's probe (map-first): on a PCP router the
/// mapping is made in one round trip, while NAT-PMP and UPnP are probed
/// in case PCP cannot make it.
///
/// # Errors
///
/// [`Error::Manual`] (with the guide) when no method can make the mapping;
/// [`Error::InvalidRequest`] and [`Error::Conflict`] as they come.
pub async fn forward(request: &MappingRequest) -> Result<(Client, Mapping)> {
    forward_with(ClientOptions::default(), request).await
}

/// [`forward`] with options.
///
/// # Errors
///
/// As [`forward`].
pub async fn forward_with(
    options: ClientOptions,
    request: &MappingRequest,
) -> Result<(Client, Mapping)> {
    let (client, mapping) = Client::discover_and_map(options, request).await?;
    Ok((client, mapping?))
}

impl Client {
    /// Probe every method at once with the default options.
    ///
    /// # Errors
    ///
    /// None in practice today: a gateway that answers nothing still gives a
    /// client, whose `map` answers with the guide. (`Result` leaves room for
    /// failures to open sockets.)
    pub async fn discover() -> Result<Client> {
        Client::discover_with(ClientOptions::default()).await
    }

    /// Probe the methods `options` allows, at once, within its budget, and
    /// stop as soon as the best allowed method answers (unless
    /// `wait_for_all`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when no socket can be opened at all.
    pub async fn discover_with(options: ClientOptions) -> Result<Client> {
        Client::discover_inner(options, None).await
    }

    /// Discover as [`discover_with`](Self::discover_with), sending `request`
    /// as PCP's probe (map-first), then map it with the best method. Returns
    /// the client whatever the mapping's outcome, so that a caller can map
    /// more, or build the guide for several protocols.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when no socket can be opened at all; the mapping's own
    /// errors are in the inner result, as [`Client::map`]'s.
    pub async fn discover_and_map(
        options: ClientOptions,
        request: &MappingRequest,
    ) -> Result<(Client, Result<Mapping>)> {
        let client = Client::discover_inner(options, Some(request.clone())).await?;
        let first = crate::sync::lock(&client.first).take();
        let result = match first {
            Some(Ok(m)) => Ok(m),
            Some(Err(e @ (Error::InvalidRequest { .. } | Error::Conflict { .. }))) => Err(e),
            Some(Err(e)) => {
                let mut skip = vec![Method::Pcp];
                skip.extend(e.method());
                client
                    .map_with(request, &skip, vec![MethodFailure::from_error(&e)])
                    .await
            }
            None => client.map(request).await,
        };
        Ok((client, result))
    }

    async fn discover_inner(
        options: ClientOptions,
        first: Option<MappingRequest>,
    ) -> Result<Client> {
        let started = Instant::now();
        let gateway = match options.gateway.clone() {
            Some(g) => Ok(g),
            None => default_gateway(),
        };
        let methods = options.methods();
        let mut statuses: Vec<MethodStatus> = PREFERENCE
            .iter()
            .map(|&method| MethodStatus {
                method,
                probe: if methods.contains(&method) {
                    Probe::NotWaited
                } else {
                    Probe::Skipped
                },
                took_ms: None,
            })
            .collect();
        let gateway = match gateway {
            Ok(g) => g,
            Err(e) => {
                let failure = MethodFailure::from_error(&e);
                for s in statuses.iter_mut().filter(|s| s.probe == Probe::NotWaited) {
                    s.probe = Probe::Failed(failure.clone());
                }
                return Ok(Client::new(options, None, None, statuses, started));
            }
        };

        let mut pmp = options.pmp.clone();
        pmp.gateway = Some(gateway.clone());
        let needs_engine = methods
            .iter()
            .any(|m| matches!(m, Method::Pcp | Method::NatPmp));
        let engine = if needs_engine {
            Some(Engine::for_options(&pmp).await?.0)
        } else {
            None
        };

        // UPnP waits for PCP and NAT-PMP a little (see `pmp_head_start`),
        // and no longer once both have failed.
        let pmp_methods: Vec<Method> = methods
            .iter()
            .copied()
            .filter(|m| matches!(m, Method::Pcp | Method::NatPmp))
            .collect();
        let (pmp_failed, pmp_failed_rx) = tokio::sync::watch::channel(pmp_methods.is_empty());
        let map_first = first.is_some() && methods.contains(&Method::Pcp);
        // With map-first, NAT-PMP's probe waits for PCP's mapping likewise:
        // PCP falls back to NAT-PMP by itself, and the router answers the
        // mapping sooner when it has no other request to answer first.
        let (pcp_done, pcp_done_rx) = tokio::sync::watch::channel(!map_first);
        let mut probes: JoinSet<(Method, Outcome, Duration)> = JoinSet::new();
        for &method in &methods {
            let (gateway, engine, options) = (gateway.clone(), engine.clone(), options.clone());
            let first = first.clone().filter(|_| method == Method::Pcp);
            let mut wait_for = match method {
                Method::Upnp => Some(pmp_failed_rx.clone()),
                Method::NatPmp => Some(pcp_done_rx.clone()),
                _ => None,
            };
            probes.spawn(async move {
                if let Some(rx) = wait_for.as_mut() {
                    let _ = tokio::time::timeout(options.pmp_head_start, rx.wait_for(|done| *done))
                        .await;
                }
                let t0 = Instant::now();
                let r = probe(method, gateway, engine, &options, first).await;
                (method, r, t0.elapsed())
            });
        }

        let client = Client::new(options, Some(gateway), engine, statuses, started);
        // Once a method has answered, better ones still pending get a short
        // grace: NAT-PMP and PCP answer in one round trip, so a router that
        // speaks them has answered long before UPnP's multi-step discovery.
        let mut grace_until: Option<tokio::time::Instant> = None;
        loop {
            let next = match grace_until {
                Some(deadline) if !client.options.wait_for_all => {
                    match tokio::time::timeout_at(deadline, probes.join_next()).await {
                        Ok(next) => next,
                        Err(_) => break,
                    }
                }
                _ => probes.join_next().await,
            };
            let Some(joined) = next else { break };
            let Ok((method, outcome, took)) = joined else {
                continue;
            };
            let Outcome {
                backend: result,
                external,
                first,
            } = outcome;
            client.record(method, &result, took);
            if let Some(ip) = external {
                crate::sync::lock(&client.probed_external).get_or_insert(ip);
            }
            if first.is_some() {
                *crate::sync::lock(&client.first) = first;
            }
            client.slot(method).set(result);
            if method == Method::Pcp {
                let _ = pcp_done.send(true);
            }
            let pmp_all_failed = pmp_methods.iter().all(|m| client.slot(*m).has_failed());
            if pmp_all_failed {
                let _ = pmp_failed.send(true);
            }
            // While PCP's probe is a mapping in flight, wait for it: dropping
            // it could leave a mapping on the router that pfwd knows nothing of.
            let pcp_in_flight = map_first && !client.pcp.settled();
            if grace_until.is_none() && !pcp_in_flight && !client.discovery().answered().is_empty()
            {
                grace_until = Some(tokio::time::Instant::now() + client.options.grace);
            }
            if !client.options.wait_for_all && client.settled() && !pcp_in_flight {
                break;
            }
        }
        // Dropping the JoinSet stops the probes not waited for (UPnP's search).
        drop(probes);
        client.finish_discovery(started).await;
        Ok(client)
    }

    fn new(
        options: ClientOptions,
        gateway: Option<GatewayInfo>,
        engine: Option<Arc<Engine>>,
        methods: Vec<MethodStatus>,
        started: Instant,
    ) -> Client {
        Client {
            discovery: Mutex::new(Discovery {
                gateway: gateway.clone(),
                methods,
                external_address: None,
                warnings: Vec::new(),
                took_ms: started.elapsed().as_millis() as u64,
            }),
            options,
            gateway,
            engine,
            pcp: Slot::default(),
            natpmp: Slot::default(),
            upnp: Slot::default(),
            probed_external: Mutex::new(None),
            first: Mutex::new(None),
        }
    }

    fn slot(&self, method: Method) -> &Slot {
        match method {
            Method::Pcp => &self.pcp,
            Method::NatPmp => &self.natpmp,
            _ => &self.upnp,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Discovery> {
        crate::sync::lock(&self.discovery)
    }

    fn record(
        &self,
        method: Method,
        result: &std::result::Result<Backend, MethodFailure>,
        took: Duration,
    ) {
        let mut d = self.lock();
        if let Some(s) = d.methods.iter_mut().find(|s| s.method == method) {
            s.probe = match result {
                Ok(_) => Probe::Answered,
                Err(f) => Probe::Failed(f.clone()),
            };
            s.took_ms = Some(took.as_millis() as u64);
        }
    }

    /// True when the best allowed method that can still answer has answered,
    /// or every allowed method has failed.
    fn settled(&self) -> bool {
        let d = self.lock();
        for s in &d.methods {
            match s.probe {
                Probe::Answered => return true,
                Probe::NotWaited => return false,
                Probe::Failed(_) | Probe::Skipped => {}
            }
        }
        true
    }

    async fn finish_discovery(&self, started: Instant) {
        let best = self.lock().best();
        let probed = *crate::sync::lock(&self.probed_external);
        let external = match best {
            // NAT-PMP's probe, or PCP's mapping, already told.
            Some(Method::Pcp | Method::NatPmp) if probed.is_some() => probed,
            Some(m) => match self.backend(m).await {
                Ok(b) => b.forwarder().external_address().await.ok(),
                Err(_) => None,
            },
            None => None,
        };
        let mut d = self.lock();
        d.external_address = external;
        d.warnings = external
            .and_then(external_address_warning)
            .into_iter()
            .collect();
        d.took_ms = started.elapsed().as_millis() as u64;
    }

    /// What discovery found (updated as methods are probed later).
    pub fn discovery(&self) -> Discovery {
        self.lock().clone()
    }

    /// The backend for `method`, probing it now if discovery did not wait for it.
    /// A method that failed is probed again once its failure is older than
    /// `retry_failed_after`: a router that was still booting, or a lost
    /// answer, does not rule a method out for the client's life.
    async fn backend(&self, method: Method) -> std::result::Result<&Backend, MethodFailure> {
        let slot = self.slot(method);
        if let Some(b) = slot.ok.get() {
            return Ok(b);
        }
        let _probing = slot.probing.lock().await;
        if let Some(b) = slot.ok.get() {
            return Ok(b);
        }
        if let Some(f) = slot.recent_failure(self.options.retry_failed_after) {
            return Err(f);
        }
        let t0 = Instant::now();
        let r = self.probe_late(method).await;
        self.record(method, &r, t0.elapsed());
        match r {
            Ok(b) => Ok(slot.ok.get_or_init(|| async move { b }).await),
            Err(f) => {
                slot.set(Err(f.clone()));
                Err(f)
            }
        }
    }

    async fn probe_late(&self, method: Method) -> std::result::Result<Backend, MethodFailure> {
        let gateway = self.gateway.clone().ok_or_else(|| {
            MethodFailure::from_error(&Error::NoGateway {
                method: Some(method),
                detail: "this machine has no default gateway".into(),
            })
        })?;
        let outcome = probe(method, gateway, self.engine.clone(), &self.options, None).await;
        if let Some(ip) = outcome.external {
            crate::sync::lock(&self.probed_external).get_or_insert(ip);
        }
        outcome.backend
    }

    /// Map `request` with the best method that answers; when a method
    /// refuses, fails or times out, try the next; when none can, return
    /// [`Error::Manual`] with the guide and every method's reason.
    ///
    /// A renewal ([`Mapping::renewal`]) goes to the method that made the mapping.
    ///
    /// # Errors
    ///
    /// [`Error::Manual`] when no method can make the mapping;
    /// [`Error::InvalidRequest`] for a request no method can carry out;
    /// [`Error::Conflict`] when the port is taken (every method asks the
    /// same router, so trying others would not help).
    pub async fn map(&self, request: &MappingRequest) -> Result<Mapping> {
        if let Some(prev) = request.previous() {
            let backend = self
                .backend(prev.method())
                .await
                .map_err(|f| self.failure_error(&f))?;
            return backend.forwarder().map(request).await;
        }
        self.map_with(request, &[], Vec::new()).await
    }

    /// [`map`](Self::map), skipping `skip` (already tried), with `failures`
    /// so far.
    async fn map_with(
        &self,
        request: &MappingRequest,
        skip: &[Method],
        mut failures: Vec<MethodFailure>,
    ) -> Result<Mapping> {
        // A host off the LAN is wrong for every method, and for the guide.
        if let Some(g) = &self.gateway {
            g.lan_host(request.internal_ip())?;
        }
        for method in self.map_order().into_iter().filter(|m| !skip.contains(m)) {
            let backend = match self.backend(method).await {
                Ok(b) => b,
                Err(f) => {
                    failures.push(f);
                    continue;
                }
            };
            if let Backend::Pcp(p) = backend
                && p.speaks_natpmp_only()
            {
                // The NAT-PMP slot covers this gateway.
                continue;
            }
            match backend.forwarder().map(request).await {
                Ok(m) => return Ok(m),
                Err(e @ (Error::InvalidRequest { .. } | Error::Conflict { .. })) => return Err(e),
                Err(e) => failures.push(MethodFailure::from_error(&e)),
            }
        }
        Err(Error::Manual {
            instructions: Box::new(self.guide(request, failures).await),
        })
    }

    /// The order to try methods in: those that answered (best first), then
    /// those not waited for, which are probed only if the others fail.
    fn map_order(&self) -> Vec<Method> {
        let d = self.lock();
        let allowed = self.options.methods();
        let with = |wanted: fn(&Probe) -> bool| {
            d.methods
                .iter()
                .filter(|s| allowed.contains(&s.method) && wanted(&s.probe))
                .map(|s| s.method)
                .collect::<Vec<_>>()
        };
        let mut order = with(|p| *p == Probe::Answered);
        order.extend(with(|p| matches!(p, Probe::NotWaited | Probe::Failed(_))));
        order
    }

    /// Delete a mapping made by this client (by the method that made it).
    ///
    /// # Errors
    ///
    /// As the method's [`Forwarder::unmap`].
    pub async fn unmap(&self, mapping: &Mapping) -> Result<()> {
        let backend = self
            .backend(mapping.method())
            .await
            .map_err(|f| self.failure_error(&f))?;
        backend.forwarder().unmap(mapping).await
    }

    /// The manual guide for `request`, whatever the methods can do: for
    /// people who prefer to forward by hand, and for `pfwd guide`.
    pub async fn instructions(&self, request: &MappingRequest) -> Instructions {
        self.guide(request, self.discovery().failures()).await
    }

    /// The guide for forwarding a service on several protocols at once.
    pub async fn instructions_for(
        &self,
        protocols: &[Protocol],
        external_port: u16,
        internal_ip: Option<Ipv4Addr>,
        internal_port: u16,
    ) -> Instructions {
        let context = self.context(self.discovery().failures()).await;
        Instructions::build(
            &context,
            protocols,
            external_port,
            internal_ip,
            internal_port,
        )
    }

    async fn guide(&self, request: &MappingRequest, failures: Vec<MethodFailure>) -> Instructions {
        Manual::new(self.context(failures).await).instructions(request)
    }

    async fn context(&self, mut failures: Vec<MethodFailure>) -> GuideContext {
        // Keep one reason per method: the latest.
        let mut seen = Vec::new();
        failures.reverse();
        failures.retain(|f| {
            let fresh = !seen.contains(&f.method);
            seen.push(f.method);
            fresh
        });
        failures.reverse();
        failures.sort_by_key(|f| PREFERENCE.iter().position(|m| Some(*m) == f.method));
        GuideContext {
            gateway: self.gateway.clone(),
            router: self.router_info().await,
            external_address: self.lock().external_address,
            failures,
        }
    }

    /// What the router says about itself, when it answers UPnP (even when it
    /// refuses mappings).
    pub async fn router_info(&self) -> Option<RouterInfo> {
        if !self.options.methods().contains(&Method::Upnp) && self.upnp.ok.get().is_none() {
            return None;
        }
        match self.backend(Method::Upnp).await {
            Ok(Backend::Upnp(u)) => u.router_info().await.ok(),
            _ => None,
        }
    }

    fn failure_error(&self, f: &MethodFailure) -> Error {
        Error::NoGateway {
            method: f.method,
            detail: f.reason.clone(),
        }
    }
}

/// Probe one method at `gateway` within the options' budget: a PCP
/// ANNOUNCE, a NAT-PMP external-address request (both on `engine` when
/// given), or a UPnP search. The backend keeps the options' own timeouts for
/// later requests.
async fn probe(
    method: Method,
    gateway: GatewayInfo,
    engine: Option<Arc<Engine>>,
    options: &ClientOptions,
    first: Option<MappingRequest>,
) -> Outcome {
    let fail = |e: Error| MethodFailure::from_error(&e);
    let mut pmp = options.pmp.clone();
    pmp.gateway = Some(gateway.clone());
    let attempt = async {
        match method {
            Method::Pcp | Method::NatPmp => {
                let engine = match engine {
                    Some(e) => e,
                    None => match Engine::for_options(&pmp).await {
                        Ok((e, _)) => e,
                        Err(e) => return Outcome::failed(fail(e)),
                    },
                };
                if method == Method::NatPmp {
                    let nat = NatPmp::on_engine(engine, gateway, pmp);
                    return match nat.external_address().await {
                        Ok(ip) => Outcome {
                            backend: Ok(Backend::NatPmp(nat)),
                            external: Some(ip),
                            first: None,
                        },
                        Err(e) => Outcome::failed(fail(e)),
                    };
                }
                let pcp = Pcp::on_engine(engine, gateway, pmp);
                match first {
                    Some(request) => probe_pcp_by_mapping(pcp, &request).await,
                    None => Outcome {
                        backend: probe_pcp(pcp).await,
                        external: None,
                        first: None,
                    },
                }
            }
            _ => {
                let mut o = options.upnp.clone();
                o.gateway = Some(gateway);
                o.discovery_timeout = o.discovery_timeout.min(options.budget);
                match Upnp::discover_with(o).await {
                    Ok(u) => Outcome {
                        backend: Ok(Backend::Upnp(u)),
                        external: None,
                        first: None,
                    },
                    Err(e) => Outcome::failed(fail(e)),
                }
            }
        }
    };
    tokio::time::timeout(options.budget, attempt)
        .await
        .unwrap_or_else(|_| {
            Outcome::failed(fail(Error::NoGateway {
                method: Some(method),
                detail: format!(
                    "no answer within the {} ms budget",
                    options.budget.as_millis()
                ),
            }))
        })
}

/// What one probe found: the backend (or why not), the external address
/// when the probe's answer carried it, and the mapping sent as the probe.
struct Outcome {
    backend: std::result::Result<Backend, MethodFailure>,
    external: Option<Ipv4Addr>,
    first: Option<Result<Mapping>>,
}

impl Outcome {
    fn failed(f: MethodFailure) -> Outcome {
        Outcome {
            backend: Err(f),
            external: None,
            first: None,
        }
    }
}

/// PCP's probe as the mapping itself (map-first): a PCP router makes it in
/// one round trip. A router that speaks only NAT-PMP gets it over NAT-PMP
/// (the PCP backend falls back by itself), and PCP counts as unsupported.
async fn probe_pcp_by_mapping(pcp: Pcp, request: &MappingRequest) -> Outcome {
    let result = pcp.map(request).await;
    let external = result.as_ref().ok().map(|m| *m.external().ip());
    if pcp.speaks_natpmp_only() {
        return Outcome {
            backend: Err(natpmp_only()),
            external,
            first: Some(result),
        };
    }
    match result {
        Ok(m) => Outcome {
            backend: Ok(Backend::Pcp(pcp)),
            external,
            first: Some(Ok(m)),
        },
        // PCP answered, and said no: the method works, this mapping does not.
        Err(
            e @ (Error::Refused { .. }
            | Error::Conflict { .. }
            | Error::InvalidRequest { .. }
            | Error::Unsupported { .. }),
        ) => Outcome {
            backend: Ok(Backend::Pcp(pcp)),
            external: None,
            first: Some(Err(e)),
        },
        Err(e) => Outcome::failed(MethodFailure::from_error(&e)),
    }
}

/// The client is a forwarder too (the best method, with fallbacks and the
/// guide), so a [`Keeper`](crate::lease::Keeper) can keep its mappings.
impl Forwarder for Client {
    fn method(&self) -> Method {
        self.discovery().best().unwrap_or(Method::Manual)
    }

    fn external_address(&self) -> crate::forwarder::BoxFuture<'_, Result<Ipv4Addr>> {
        Box::pin(async move {
            let best = self.discovery().best().ok_or_else(|| Error::NoGateway {
                method: None,
                detail: "no method answered".into(),
            })?;
            let backend = self
                .backend(best)
                .await
                .map_err(|f| self.failure_error(&f))?;
            backend.forwarder().external_address().await
        })
    }

    fn map<'a>(
        &'a self,
        request: &'a MappingRequest,
    ) -> crate::forwarder::BoxFuture<'a, Result<Mapping>> {
        Box::pin(Client::map(self, request))
    }

    fn unmap<'a>(&'a self, mapping: &'a Mapping) -> crate::forwarder::BoxFuture<'a, Result<()>> {
        Box::pin(Client::unmap(self, mapping))
    }

    /// The router's mappings, from UPnP (the only method that can list);
    /// UPnP is probed now if discovery did not wait for it.
    fn list(&self) -> crate::forwarder::BoxFuture<'_, Result<Vec<GatewayMapping>>> {
        Box::pin(async move {
            let backend = self
                .backend(Method::Upnp)
                .await
                .map_err(|f| self.failure_error(&f))?;
            backend.forwarder().list().await
        })
    }

    fn lost<'a>(&'a self, mapping: &'a Mapping) -> crate::forwarder::BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let backend = self
                .backend(mapping.method())
                .await
                .map_err(|f| self.failure_error(&f))?;
            backend.forwarder().lost(mapping).await
        })
    }
}

async fn probe_pcp(pcp: Pcp) -> std::result::Result<Backend, MethodFailure> {
    match pcp.check_epoch().await {
        Ok(_) if pcp.speaks_natpmp_only() => Err(natpmp_only()),
        Ok(_) => Ok(Backend::Pcp(pcp)),
        Err(e) => Err(MethodFailure::from_error(&e)),
    }
}

fn natpmp_only() -> MethodFailure {
    MethodFailure::from_error(&Error::Unsupported {
        method: Method::Pcp,
        what: "PCP".into(),
        detail: "the router speaks only NAT-PMP (it answered PCP with NAT-PMP's UNSUPP_VERSION)"
            .into(),
    })
}
