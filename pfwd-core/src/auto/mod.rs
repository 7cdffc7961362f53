//! One call that always answers: probe PCP, NAT-PMP and UPnP at once under
//! one time budget, use the best that answers, and when none can make the
//! mapping, answer with the manual guide.
//!
//! # Examples
//!
//! Compiled, not run: it asks the router.
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
//!
//! The rules (who waits for whom, when to stop, the order of methods) are
//! pure functions in `policy`; the probes are in `probe`; this file drives
//! them.

mod discovery;
mod guide;
mod ipv6;
mod options;
mod policy;
mod probe;
mod readback;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::backend::engine::Engine;
use crate::backend::manual::Manual;
use crate::error::{Error, Result};
use crate::forwarder::Forwarder;
use crate::gateway::{GatewayInfo, default_gateway};
use crate::guide::{MethodFailure, external_address_warning};
use crate::mapping::{Family, GatewayMapping, Mapping, MappingRequest, Method};
use crate::sync::lock;

pub use discovery::{Discovery, MethodStatus, Probe};
pub use ipv6::{IPV6_PREFERENCE, Ipv6Status};
pub use options::{ClientOptions, PREFERENCE};
use policy::{AfterFirst, Gate};
use probe::{Backend, LateGrant, Outcome, Slot, map_by, no_backend, probe};

/// The automatic client: the best method the gateway answers, with the
/// others and the manual guide behind it.
///
/// A client owns sockets registered with the tokio runtime that created it:
/// use it on that runtime (as with any tokio socket).
///
/// # Examples
///
/// Compiled, not run: it asks the router. Forward a service on TCP and
/// UDP, and show what discovery found:
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use pfwd_core::{Client, ClientOptions, Error, MappingRequest, Method, Protocol};
///
/// let mut options = ClientOptions::default();
/// options.exclude = vec![Method::Upnp]; // PCP or NAT-PMP only
/// let client = Client::discover_with(options).await?;
/// let found = client.discovery();
/// println!("best: {:?}, external address: {:?}", found.best(), found.external_address);
///
/// let mut made = Vec::new();
/// for protocol in [Protocol::Tcp, Protocol::Udp] {
///     let request = MappingRequest::builder(protocol, 53).build()?;
///     match client.map(&request).await {
///         Ok(mapping) => made.push(mapping),
///         Err(Error::Manual { .. }) => {
///             // One guide for both protocols, rather than two.
///             let guide = client.instructions_for(&[Protocol::Tcp, Protocol::Udp], 53, None, 53).await;
///             print!("{}", guide.to_text());
///             break;
///         }
///         Err(e) => return Err(e),
///     }
/// }
/// for mapping in &made {
///     client.unmap(mapping).await?;
/// }
/// # Ok(()) }
/// ```
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
    /// That mapping request, when it was still in flight past the budget.
    late_first: Mutex<Option<LateGrant>>,
    /// The requests in flight to the gateway ([`defaults::GATEWAY_IN_FLIGHT`]).
    pace: tokio::sync::Semaphore,
    /// UPnP's table was seen listing a mapping PCP or NAT-PMP made, so
    /// its "no such entry" for one means the mapping is gone.
    upnp_lists_pmp: std::sync::atomic::AtomicBool,
    /// When a probe of UPnP to read the router's table last failed.
    upnp_read_failed: Mutex<Option<Instant>>,
    /// The IPv6 side (route, PCP over IPv6, UPnP pinholes), found on first use.
    ipv6: std::sync::OnceLock<ipv6::Ipv6Side>,
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
///
/// # Examples
///
/// Compiled, not run: it asks the router.
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use pfwd_core::{Error, MappingRequest, Protocol, forward};
///
/// let ssh = MappingRequest::builder(Protocol::Tcp, 22).exact_external_port(2222).build()?;
/// match forward(&ssh).await {
///     Ok((client, mapping)) => {
///         println!("ssh -p 2222 {}", mapping.external().ip());
///         client.unmap(&mapping).await?;
///     }
///     Err(Error::Conflict { holder, .. }) => eprintln!("2222 is taken: {holder:?}"),
///     Err(Error::Manual { instructions }) => print!("{}", instructions.to_text()),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
pub async fn forward(request: &MappingRequest) -> Result<(Client, Mapping)> {
    forward_with(ClientOptions::default(), request).await
}

/// [`forward`] with options.
///
/// # Errors
///
/// As [`forward`].
///
/// # Examples
///
/// Compiled, not run: it asks the router.
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use std::time::Duration;
/// use pfwd_core::{ClientOptions, MappingRequest, Protocol, forward_with};
///
/// let mut options = ClientOptions::default();
/// options.map_timeout = Duration::from_secs(3); // then the guide
/// let request = MappingRequest::builder(Protocol::Udp, 51820).build()?;
/// let (client, mapping) = forward_with(options, &request).await?;
/// println!("WireGuard at {} via {}", mapping.external(), mapping.method());
/// client.unmap(&mapping).await?;
/// # Ok(()) }
/// ```
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
        let started = tokio::time::Instant::now();
        // An IPv4 request is PCP's probe; a pinhole is asked over IPv6 after.
        let probe_request = (request.family() == Family::Ipv4).then(|| request.clone());
        let client = Client::discover_inner(options, probe_request).await?;
        let first = lock(&client.first).take();
        let result = match first {
            None => client.map(request).await,
            Some(first) => match policy::after_first(&first) {
                AfterFirst::Done => first,
                AfterFirst::TryOthers(skip) => {
                    let failures = first
                        .err()
                        .map(|e| vec![MethodFailure::from_error(&e)])
                        .unwrap_or_default();
                    client.map_with(request, &skip, failures).await
                }
            },
        };
        let late = lock(&client.late_first).take();
        let result = match (result, late) {
            (result, None) => result,
            (Err(e), Some(late))
                if policy::late_answer_may_help(&e, &client.discovery().methods) =>
            {
                client.await_late_first(late, e, started).await
            }
            (result, Some(late)) => {
                late.discard();
                result
            }
        };
        Ok((client, result))
    }

    /// No other method could map: wait a little longer for the PCP request
    /// sent as the probe (a busy router answers late; that is not "off").
    /// Its mapping, if granted in time; otherwise `error` as it was.
    async fn await_late_first(
        &self,
        late: LateGrant,
        error: Error,
        started: tokio::time::Instant,
    ) -> Result<Mapping> {
        let until = started + self.options.budget + crate::defaults::LATE_ANSWER_WAIT;
        let backend = late.backend();
        log::info!("PCP: waiting a little longer for its answer: no other method could map");
        match late.wait(until).await {
            Some(mapping) => {
                log::info!("PCP: answered late, and granted {mapping}");
                self.record(Method::Pcp, &Ok(backend.clone()), started.elapsed());
                self.pcp.set(Ok(backend));
                Ok(mapping)
            }
            None => Err(error),
        }
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
                log::info!("no gateway to ask: {e}");
                let failure = MethodFailure::from_error(&e);
                for s in statuses.iter_mut().filter(|s| s.probe == Probe::NotWaited) {
                    s.probe = Probe::Failed(failure.clone());
                }
                return Ok(Client::new(options, None, None, statuses, started));
            }
        };
        log::debug!(
            "probing {methods:?} at {} (this machine {})",
            gateway.gateway,
            gateway.local
        );

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

        let pmp_methods: Vec<Method> = methods
            .iter()
            .copied()
            .filter(|m| matches!(m, Method::Pcp | Method::NatPmp))
            .collect();
        let (pmp_failed, pmp_failed_rx) = tokio::sync::watch::channel(pmp_methods.is_empty());
        let map_first = first.is_some() && methods.contains(&Method::Pcp);
        let (pcp_done, pcp_done_rx) = tokio::sync::watch::channel(!map_first);
        let mut probes: JoinSet<(Method, Outcome, Duration)> = JoinSet::new();
        // One budget for discovery: a probe that waited for another's head
        // start has that much less of it.
        let deadline = tokio::time::Instant::now() + options.budget;
        for &method in &methods {
            let (gateway, engine, options) = (gateway.clone(), engine.clone(), options.clone());
            let first = first.clone().filter(|_| method == Method::Pcp);
            let mut wait_for = match policy::gate(method, map_first) {
                Gate::PmpFailed => Some(pmp_failed_rx.clone()),
                Gate::PcpDone => Some(pcp_done_rx.clone()),
                Gate::Open => None,
            };
            probes.spawn(async move {
                if let Some(rx) = wait_for.as_mut() {
                    let _ = tokio::time::timeout(options.pmp_head_start, rx.wait_for(|done| *done))
                        .await;
                }
                let t0 = Instant::now();
                let r = probe(method, gateway, engine, &options, first, deadline).await;
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
                late,
            } = outcome;
            if late.is_some() {
                *lock(&client.late_first) = late;
            }
            client.record(method, &result, took);
            if let Some(ip) = external {
                lock(&client.probed_external).get_or_insert(ip);
            }
            if first.is_some() {
                *lock(&client.first) = first;
            }
            if let Some(slot) = client.slot(method) {
                slot.set(result);
            }
            if method == Method::Pcp {
                let _ = pcp_done.send(true);
            }
            let statuses = client.discovery().methods;
            if policy::all_failed(&statuses, &pmp_methods) {
                let _ = pmp_failed.send(true);
            }
            let pcp_in_flight = map_first && !client.pcp.settled();
            if grace_until.is_none() && policy::grace_starts(&statuses, pcp_in_flight) {
                grace_until = Some(tokio::time::Instant::now() + client.options.grace);
            }
            if policy::discovery_done(&statuses, client.options.wait_for_all, pcp_in_flight) {
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
            late_first: Mutex::new(None),
            pace: tokio::sync::Semaphore::new(crate::defaults::GATEWAY_IN_FLIGHT),
            upnp_lists_pmp: std::sync::atomic::AtomicBool::new(false),
            upnp_read_failed: Mutex::new(None),
            ipv6: std::sync::OnceLock::new(),
        }
    }

    /// The slot of an automated method; the manual method has none.
    fn slot(&self, method: Method) -> Option<&Slot> {
        match method {
            Method::Pcp => Some(&self.pcp),
            Method::NatPmp => Some(&self.natpmp),
            Method::Upnp => Some(&self.upnp),
            Method::Manual => None,
        }
    }

    fn record(
        &self,
        method: Method,
        result: &std::result::Result<Arc<Backend>, MethodFailure>,
        took: Duration,
    ) {
        match result {
            Ok(_) => log::debug!("{method}: answered in {took:?}"),
            Err(f) => log::debug!("{method}: no ({}) after {took:?}", f.reason),
        }
        let mut d = lock(&self.discovery);
        if let Some(s) = d.methods.iter_mut().find(|s| s.method == method) {
            s.probe = match result {
                Ok(_) => Probe::Answered,
                Err(f) => Probe::Failed(f.clone()),
            };
            s.took_ms = Some(took.as_millis() as u64);
        }
    }

    async fn finish_discovery(&self, started: Instant) {
        let best = self.discovery().best();
        let probed = *lock(&self.probed_external);
        let external = match best {
            // NAT-PMP's probe, or PCP's mapping, already told.
            Some(Method::Pcp | Method::NatPmp) if probed.is_some() => probed,
            Some(m) => match self.backend(m).await {
                Ok(b) => b.forwarder().external_address().await.ok(),
                Err(_) => None,
            },
            None => None,
        };
        let mut d = lock(&self.discovery);
        d.external_address = external;
        d.warnings = external
            .and_then(external_address_warning)
            .into_iter()
            .collect();
        d.took_ms = started.elapsed().as_millis() as u64;
        log::info!(
            "discovery: best method {:?}, external address {:?}, {} ms",
            d.best(),
            d.external_address,
            d.took_ms
        );
    }

    /// What discovery found (updated as methods are probed later).
    pub fn discovery(&self) -> Discovery {
        lock(&self.discovery).clone()
    }

    /// The options the client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The backend for `method`, probing it now if discovery did not wait for it.
    /// A method that failed is probed again once its failure is older than
    /// `retry_failed_after`: a router that was still booting, or a lost
    /// answer, does not rule a method out for the client's life.
    async fn backend(&self, method: Method) -> std::result::Result<Arc<Backend>, MethodFailure> {
        self.backend_remembering(method, true).await
    }

    /// [`backend`](Self::backend); a failed probe is recorded as the
    /// method's failure only with `remember_failure` (a probe in passing,
    /// to read the router's table, must not rule the method out).
    pub(super) async fn backend_remembering(
        &self,
        method: Method,
        remember_failure: bool,
    ) -> std::result::Result<Arc<Backend>, MethodFailure> {
        let Some(slot) = self.slot(method) else {
            return Err(MethodFailure::from_error(&no_backend(method)));
        };
        let keep = self.options.retry_failed_after;
        slot.get_or_probe(keep, remember_failure, || async {
            let t0 = Instant::now();
            let r = self.probe_late(method).await;
            if r.is_ok() || remember_failure {
                self.record(method, &r, t0.elapsed());
            }
            r
        })
        .await
    }

    async fn probe_late(&self, method: Method) -> std::result::Result<Arc<Backend>, MethodFailure> {
        let gateway = self.gateway.clone().ok_or_else(|| {
            MethodFailure::from_error(&Error::NoGateway {
                refused: false,
                method: Some(method),
                detail: "this machine has no default gateway".into(),
            })
        })?;
        let deadline = tokio::time::Instant::now() + self.options.budget;
        let outcome = probe(
            method,
            gateway,
            self.engine.clone(),
            &self.options,
            None,
            deadline,
        )
        .await;
        if let Some(ip) = outcome.external {
            lock(&self.probed_external).get_or_insert(ip);
        }
        outcome.backend
    }

    /// The backend that made `mapping`, or the error to give for it.
    async fn backend_of(&self, method: Method) -> Result<Arc<Backend>> {
        if method == Method::Manual {
            return Err(no_backend(method));
        }
        self.backend(method)
            .await
            .map_err(|f| self.failure_error(&f))
    }

    /// Map `request` with the best method that answers; when a method
    /// refuses, fails or times out, try the next; when none can, return
    /// [`Error::Manual`] with the guide and every method's reason. All
    /// methods together have [`ClientOptions::map_timeout`].
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
        let _turn = self.turn().await;
        if request.family() == Family::Ipv6 {
            return self.map_ipv6(request).await;
        }
        if let Some(prev) = request.previous() {
            let backend = self.backend_of(prev.method()).await?;
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
            g.lan_host(request.internal_ipv4())?;
        }
        let budget = self.options.map_timeout;
        let deadline = tokio::time::Instant::now() + budget;
        let order = policy::map_order(&self.discovery().methods, &self.options.methods());
        for method in order.into_iter().filter(|m| !skip.contains(m)) {
            if tokio::time::Instant::now() >= deadline {
                failures.push(MethodFailure::from_error(&policy::out_of_time(
                    method, budget,
                )));
                continue;
            }
            let backend = match tokio::time::timeout_at(deadline, self.backend(method)).await {
                Ok(Ok(b)) => b,
                Ok(Err(f)) => {
                    failures.push(f);
                    continue;
                }
                Err(_) => {
                    failures.push(MethodFailure::from_error(&policy::out_of_time(
                        method, budget,
                    )));
                    continue;
                }
            };
            if let Backend::Pcp(p) = backend.as_ref()
                && p.speaks_natpmp_only()
            {
                // The NAT-PMP slot covers this gateway.
                continue;
            }
            match map_by(backend, request, deadline, budget).await {
                Ok(m) => return Ok(m),
                Err(e) if policy::ends_mapping(&e) => return Err(e),
                // It answered its probe: a slow answer now is a busy
                // router, not a missing method. Another method would ask
                // the same busy daemon; the caller tries again.
                Err(e @ Error::Timeout { .. }) => {
                    log::info!(
                        "{method} answered before and is slow now: the router is busy ({e})"
                    );
                    return Err(e);
                }
                Err(e) => {
                    log::info!("{method} could not map: {e}");
                    failures.push(MethodFailure::from_error(&e));
                }
            }
        }
        Err(Error::Manual {
            instructions: Box::new(self.guide(request, failures).await),
        })
    }

    /// Delete a mapping made by this client (by the method that made it).
    ///
    /// # Errors
    ///
    /// As the method's [`Forwarder::unmap`]; [`Error::Unsupported`] for a
    /// manual rule, which only a person can remove.
    pub async fn unmap(&self, mapping: &Mapping) -> Result<()> {
        let _turn = self.turn().await;
        let backend = match mapping.method() {
            Method::Manual => return Manual::default().unmap(mapping).await,
            _ if mapping.family() == Family::Ipv6 => self.ipv6_backend_of(mapping).await?,
            m => self.backend_of(m).await?,
        };
        backend.forwarder().unmap(mapping).await
    }

    /// The backend that made `mapping`, of its family.
    pub(super) async fn backend_for(&self, mapping: &Mapping) -> Result<Arc<Backend>> {
        match mapping.family() {
            Family::Ipv4 => self.backend_of(mapping.method()).await,
            Family::Ipv6 => self.ipv6_backend_of(mapping).await,
        }
    }

    fn failure_error(&self, f: &MethodFailure) -> Error {
        Error::NoGateway {
            refused: false,
            method: f.method,
            detail: f.reason.clone(),
        }
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
                refused: false,
                method: None,
                detail: "no method answered".into(),
            })?;
            self.backend_of(best)
                .await?
                .forwarder()
                .external_address()
                .await
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
            self.backend_of(Method::Upnp)
                .await?
                .forwarder()
                .list()
                .await
        })
    }

    fn lost<'a>(&'a self, mapping: &'a Mapping) -> crate::forwarder::BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let _turn = self.turn().await;
            self.backend_for(mapping)
                .await?
                .forwarder()
                .lost(mapping)
                .await
        })
    }

    /// The method's own answer (UPnP reads the entry back; PCP and NAT-PMP
    /// see a restart in the epoch); for a PCP or NAT-PMP mapping that is
    /// not lost by the epoch, the router's UPnP table where it lists them.
    fn presence<'a>(
        &'a self,
        mapping: &'a Mapping,
    ) -> crate::forwarder::BoxFuture<'a, Result<crate::forwarder::Presence>> {
        Box::pin(self.read_back(mapping))
    }

    fn gateway(&self) -> Option<GatewayInfo> {
        self.gateway.clone()
    }

    fn ipv6_gateway(&self) -> Option<crate::gateway::Ipv6Gateway> {
        Client::ipv6_gateway(self).ok()
    }
}
