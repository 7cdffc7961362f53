//! Asking one method whether the gateway speaks it, and the backends that
//! answered. Also the one way a mapping is sent with a deadline: in a task
//! of its own, so that a mapping granted after the deadline is deleted
//! instead of left on the router unknown.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::ClientOptions;
use super::policy;
use crate::backend::engine::Engine;
use crate::backend::{natpmp::NatPmp, pcp::Pcp, upnp::Upnp, upnp::UpnpPinholes};
use crate::error::{Error, Result};
use crate::forwarder::Forwarder;
use crate::gateway::GatewayInfo;
use crate::guide::MethodFailure;
use crate::mapping::{Mapping, MappingRequest, Method};

/// A backend that answered its probe.
#[derive(Debug)]
pub(crate) enum Backend {
    Pcp(Pcp),
    NatPmp(NatPmp),
    Upnp(Upnp),
    /// UPnP's IPv6 pinholes (`WANIPv6FirewallControl`).
    Pinholes(UpnpPinholes),
}

impl Backend {
    pub(crate) fn forwarder(&self) -> &dyn Forwarder {
        match self {
            Backend::Pcp(b) => b,
            Backend::NatPmp(b) => b,
            Backend::Upnp(b) => b,
            Backend::Pinholes(b) => b,
        }
    }
}

/// One method's backend: kept once it answered; a failure is kept for
/// `ClientOptions::retry_failed_after`, then the method is probed again.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) ok: OnceCell<Arc<Backend>>,
    failed: Mutex<Option<(MethodFailure, Instant)>>,
    pub(crate) probing: tokio::sync::Mutex<()>,
}

impl Slot {
    pub(crate) fn set(&self, result: std::result::Result<Arc<Backend>, MethodFailure>) {
        match result {
            Ok(b) => {
                let _ = self.ok.set(b);
            }
            Err(f) => *crate::sync::lock(&self.failed) = Some((f, Instant::now())),
        }
    }

    pub(crate) fn settled(&self) -> bool {
        self.ok.get().is_some() || crate::sync::lock(&self.failed).is_some()
    }

    /// The backend once it answered; otherwise, unless a failure younger
    /// than `keep` stands, `probe`'s answer, one probe at a time: kept when
    /// it answered, and its failure kept only with `remember_failure`.
    pub(crate) async fn get_or_probe<F, Fut>(
        &self,
        keep: Duration,
        remember_failure: bool,
        probe: F,
    ) -> std::result::Result<Arc<Backend>, MethodFailure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<Arc<Backend>, MethodFailure>>,
    {
        if let Some(b) = self.ok.get() {
            return Ok(b.clone());
        }
        let _probing = self.probing.lock().await;
        if let Some(b) = self.ok.get() {
            return Ok(b.clone());
        }
        if let Some(f) = self.recent_failure(keep) {
            return Err(f);
        }
        match probe().await {
            Ok(b) => Ok(self.ok.get_or_init(|| async move { b }).await.clone()),
            Err(f) => {
                if remember_failure {
                    self.set(Err(f.clone()));
                }
                Err(f)
            }
        }
    }

    /// The failure, while it still stands (see [`policy::failure_stands`]).
    pub(crate) fn recent_failure(&self, keep: Duration) -> Option<MethodFailure> {
        crate::sync::lock(&self.failed)
            .as_ref()
            .filter(|(_, at)| policy::failure_stands(*at, Instant::now(), keep))
            .map(|(f, _)| f.clone())
    }
}

/// What one probe found: the backend (or why not), the external address
/// when the probe's answer carried it, and the mapping sent as the probe.
pub(crate) struct Outcome {
    pub(crate) backend: std::result::Result<Arc<Backend>, MethodFailure>,
    pub(crate) external: Option<Ipv4Addr>,
    pub(crate) first: Option<Result<Mapping>>,
    /// The map-first request, still in flight past the budget.
    pub(crate) late: Option<LateGrant>,
}

impl Outcome {
    pub(crate) fn failed(f: MethodFailure) -> Outcome {
        Outcome {
            backend: Err(f),
            external: None,
            first: None,
            late: None,
        }
    }

    fn answered(backend: Backend, external: Option<Ipv4Addr>) -> Outcome {
        Outcome {
            backend: Ok(Arc::new(backend)),
            external,
            first: None,
            late: None,
        }
    }
}

/// A mapping request still in flight after its deadline: waited for when
/// it is all there is ([`LateGrant::wait`]), otherwise deleted if it is
/// granted ([`LateGrant::discard`]); never left on the router unknown.
#[derive(Debug)]
pub(crate) struct LateGrant {
    backend: Arc<Backend>,
    task: tokio::task::JoinHandle<Result<Mapping>>,
}

impl LateGrant {
    /// The backend the request went to.
    pub(crate) fn backend(&self) -> Arc<Backend> {
        self.backend.clone()
    }

    /// Wait for the answer until `until`: the mapping if granted by then;
    /// otherwise `None`, and a later grant is deleted.
    pub(crate) async fn wait(mut self, until: tokio::time::Instant) -> Option<Mapping> {
        match tokio::time::timeout_at(until, &mut self.task).await {
            Ok(Ok(Ok(m))) => Some(m),
            Ok(_) => None,
            Err(_) => {
                self.discard();
                None
            }
        }
    }

    /// Stop waiting: a mapping granted later is deleted at once.
    pub(crate) fn discard(self) {
        let LateGrant { backend, task } = self;
        tokio::spawn(async move {
            if let Ok(Ok(late)) = task.await {
                log::info!("deleting {late}: granted after pfwd stopped waiting for it");
                if let Err(e) = backend.forwarder().unmap(&late).await {
                    log::warn!("could not delete the late mapping {late}: {e}");
                }
            }
        });
    }
}

/// Map `request` on `backend` by `deadline`, in a task of its own. When the
/// deadline passes first, the request is left to finish and a mapping it
/// gets is deleted at once: nothing stays on the router that nobody knows.
pub(crate) async fn map_by(
    backend: Arc<Backend>,
    request: &MappingRequest,
    deadline: tokio::time::Instant,
    budget: Duration,
) -> Result<Mapping> {
    let (result, late) = map_keeping_late(backend, request, deadline, budget).await;
    if let Some(late) = late {
        late.discard();
    }
    result
}

/// [`map_by`], handing back the request still in flight past `deadline`
/// instead of discarding it.
async fn map_keeping_late(
    backend: Arc<Backend>,
    request: &MappingRequest,
    deadline: tokio::time::Instant,
    budget: Duration,
) -> (Result<Mapping>, Option<LateGrant>) {
    let (b, r) = (backend.clone(), request.clone());
    let mut task = tokio::spawn(async move { b.forwarder().map(&r).await });
    match tokio::time::timeout_at(deadline, &mut task).await {
        Ok(Ok(result)) => (result, None),
        Ok(Err(join)) => (
            Err(Error::io(
                "mapping the port",
                std::io::Error::other(format!("the mapping task failed: {join}")),
            )),
            None,
        ),
        Err(_) => {
            let method = backend.forwarder().method();
            log::info!("{method}: no answer to the mapping within {budget:?}; still listening");
            (
                Err(Error::Timeout {
                    method,
                    operation: "the port-mapping request".into(),
                    after: budget,
                }),
                Some(LateGrant { backend, task }),
            )
        }
    }
}

/// Probe one method at `gateway` by `deadline` (the end of the options'
/// budget, counted from the start of discovery: a method that waited for
/// another's head start has less of it): a PCP ANNOUNCE (or, map-first,
/// the mapping itself), a NAT-PMP external-address request (both on
/// `engine` when given), or a UPnP search. The backend keeps the options'
/// own timeouts for later requests.
pub(crate) async fn probe(
    method: Method,
    gateway: GatewayInfo,
    engine: Option<Arc<Engine>>,
    options: &ClientOptions,
    first: Option<MappingRequest>,
    deadline: tokio::time::Instant,
) -> Outcome {
    let fail = |e: Error| Outcome::failed(MethodFailure::from_error(&e));
    let mut pmp = options.pmp.clone();
    pmp.gateway = Some(gateway.clone());
    let engine = match (method, engine) {
        (Method::Upnp, _) => None,
        (_, Some(e)) => Some(e),
        (_, None) => match Engine::for_options(&pmp).await {
            Ok((e, _)) => Some(e),
            Err(e) => return fail(e),
        },
    };
    if let (Some(engine), Some(request)) = (engine.clone(), first.filter(|_| method == Method::Pcp))
    {
        // Map-first keeps its own deadline: a mapping in flight is never dropped.
        let pcp = Pcp::on_engine(engine, gateway, pmp);
        return probe_pcp_by_mapping(pcp, &request, deadline, options.budget).await;
    }
    let attempt = async {
        match (method, engine) {
            (Method::NatPmp, Some(engine)) => {
                let nat = NatPmp::on_engine(engine, gateway, pmp);
                match nat.external_address().await {
                    Ok(ip) => Outcome::answered(Backend::NatPmp(nat), Some(ip)),
                    Err(e) => fail(e),
                }
            }
            (Method::Pcp, Some(engine)) => {
                let pcp = Pcp::on_engine(engine, gateway, pmp);
                match pcp.check_epoch().await {
                    Ok(_) if pcp.speaks_natpmp_only() => Outcome::failed(natpmp_only()),
                    Ok(_) => Outcome::answered(Backend::Pcp(pcp), None),
                    Err(e) => fail(e),
                }
            }
            (Method::Upnp, _) => {
                let mut o = options.upnp.clone();
                o.gateway = Some(gateway);
                o.discovery_timeout = o
                    .discovery_timeout
                    .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
                match Upnp::discover_with(o).await {
                    Ok(u) => Outcome::answered(Backend::Upnp(u), None),
                    Err(e) => fail(e),
                }
            }
            (other, _) => fail(no_backend(other)),
        }
    };
    tokio::time::timeout_at(deadline, attempt)
        .await
        .unwrap_or_else(|_| {
            fail(Error::NoGateway {
                refused: false,
                method: Some(method),
                detail: format!(
                    "no answer within the {} ms budget",
                    options.budget.as_millis()
                ),
            })
        })
}

/// The error for a method that has no backend to ask (manual).
pub(crate) fn no_backend(method: Method) -> Error {
    Error::Unsupported {
        method,
        what: "asking the router".into(),
        detail: format!(
            "{method} is not a protocol: a {method} rule is made and removed by hand \
             in the router's settings"
        ),
    }
}

/// PCP's probe as the mapping itself (map-first): a PCP router makes it in
/// one round trip. A router that speaks only NAT-PMP gets it over NAT-PMP
/// (the PCP backend falls back by itself), and PCP counts as unsupported.
pub(crate) async fn probe_pcp_by_mapping(
    pcp: Pcp,
    request: &MappingRequest,
    deadline: tokio::time::Instant,
    budget: Duration,
) -> Outcome {
    let backend = Arc::new(Backend::Pcp(pcp));
    let (result, late) = map_keeping_late(backend.clone(), request, deadline, budget).await;
    if late.is_some() {
        // Silence, not a refusal: the request stays in flight for the
        // driver to wait for, should nothing else map.
        let failed = MethodFailure::from_error(&Error::NoGateway {
            refused: false,
            method: Some(Method::Pcp),
            detail: format!(
                "no answer to the mapping request within the {} ms budget",
                budget.as_millis()
            ),
        });
        return Outcome {
            backend: Err(failed),
            external: None,
            first: None,
            late,
        };
    }
    let external = result
        .as_ref()
        .ok()
        .and_then(|m| m.external_v4())
        .map(|a| *a.ip());
    // The PCP backend says NAT-PMP once it learned the router speaks only that.
    if backend.forwarder().method() == Method::NatPmp {
        return Outcome {
            backend: Err(natpmp_only()),
            external,
            first: Some(result),
            late: None,
        };
    }
    match result {
        Ok(m) => Outcome {
            backend: Ok(backend),
            external,
            first: Some(Ok(m)),
            late: None,
        },
        // PCP answered, and said no: the method works, this mapping does not.
        Err(
            e @ (Error::Refused { .. }
            | Error::Conflict { .. }
            | Error::InvalidRequest { .. }
            | Error::Unsupported { .. }),
        ) => Outcome {
            backend: Ok(backend),
            external: None,
            first: Some(Err(e)),
            late: None,
        },
        Err(e) => Outcome::failed(MethodFailure::from_error(&e)),
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
