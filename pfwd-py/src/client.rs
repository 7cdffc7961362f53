//! `pfwd._pfwd.Client` and `Keeper`: the core's blocking handles, each call
//! under [`crate::call::blocking`].

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pfwd_core::blocking::{self, Call};
use pfwd_core::lease::{Keep, KeeperOptions};
use pfwd_core::parse::parse_method;
use pfwd_core::{ClientOptions, Error, Invalid, Mapping};
use pyo3::prelude::*;

use crate::call::{blocking, duration};
use crate::check;
use crate::errors::{self, Guide};
use crate::events;
use crate::request::Request;

/// The client's options from `methods` ("pcp", "natpmp", "upnp", ...) and
/// `gateway` (the router's LAN address; this host's own address comes from
/// the routing table).
pub(crate) fn options(
    methods: Option<Vec<String>>,
    gateway: Option<&str>,
) -> pfwd_core::Result<ClientOptions> {
    let mut options = ClientOptions::default();
    for m in methods.unwrap_or_default() {
        options
            .only
            .push(parse_method(&m).map_err(|e| e.context("methods"))?);
    }
    if let Some(g) = gateway {
        let ip: Ipv4Addr = g.trim().parse().map_err(|_| {
            Invalid::new(format!(
                "gateway {g:?} is not an IPv4 address such as 192.168.1.1"
            ))
        })?;
        let mut info = pfwd_core::default_gateway()?;
        info.gateway = ip;
        options.gateway = Some(info);
    }
    Ok(options)
}

/// A mapping from the core's JSON shape (as `Mapping.to_json()` writes it).
pub(crate) fn mapping(text: &str) -> pfwd_core::Result<Mapping> {
    serde_json::from_str(text)
        .map_err(|e| Error::from(Invalid::new(format!("not a pfwd mapping: {e}"))))
}

/// The requests as the core's values.
pub(crate) fn requests(list: &[Request]) -> Vec<pfwd_core::MappingRequest> {
    list.iter().map(|r| r.inner.clone()).collect()
}

/// What a guide covers: the family, every request's protocol, the first
/// one's outside port, server and port.
pub(crate) type GuideArgs = (
    pfwd_core::Family,
    Vec<pfwd_core::Protocol>,
    u16,
    Option<std::net::IpAddr>,
    u16,
);

/// The guide's arguments for `list`.
pub(crate) fn guide_args(list: &[Request]) -> Option<GuideArgs> {
    let first = &list.first()?.inner;
    Some((
        first.family(),
        list.iter().map(|r| r.inner.protocol()).collect(),
        first.external_port().unwrap_or(first.internal_port()),
        first.internal_ip(),
        first.internal_port(),
    ))
}

/// The items a keeper starts with: each request with the mapping already
/// granted for it (as JSON), or none; a mapping without a request is kept
/// as it is (its own renewal request).
fn keep_items(
    list: Vec<Option<Request>>,
    held: Vec<Option<String>>,
) -> pfwd_core::Result<Vec<Keep>> {
    let mut held = held.into_iter();
    list.into_iter()
        .map(|r| match (r, held.next().flatten()) {
            (Some(r), Some(m)) => Ok(Keep::held(r.inner, mapping(&m)?)),
            (Some(r), None) => Ok(Keep::new(r.inner)),
            (None, Some(m)) => {
                let m = mapping(&m)?;
                Ok(Keep::held(m.renewal(), m))
            }
            (None, None) => {
                Err(Invalid::new("an item to keep needs a request or a mapping").into())
            }
        })
        .collect()
}

/// A keeper on `client` for the items (see [`keep_items`]), the sync and
/// the async client alike.
pub(crate) fn keep_on(
    client: &blocking::Client,
    py: Python<'_>,
    requests: Vec<Option<Request>>,
    held: Vec<Option<String>>,
    check_interval: Option<f64>,
    check_via: Option<&str>,
) -> PyResult<Keeper> {
    let options = keeper_options(py, check_interval, check_via)?;
    let items = keep_items(requests, held).map_err(|e| errors::to_py(py, &e))?;
    client
        .keep(items, options)
        .map(|inner| Keeper { inner })
        .map_err(|e| errors::to_py(py, &e))
}

/// The keeper's options: leases checked every `check_interval` seconds;
/// each mapping checked from outside through the prober at `check_via`
/// when it is first held and whenever it is restored.
fn keeper_options(
    py: Python<'_>,
    check_interval: Option<f64>,
    check_via: Option<&str>,
) -> PyResult<KeeperOptions> {
    let mut options = KeeperOptions::default();
    if let Some(s) = check_interval {
        options.check_interval = Some(duration(s, "check_interval")?);
    }
    options.check_via = check_via
        .map(|v| check::prober(v, "check_via"))
        .transpose()
        .map_err(|e| errors::to_py(py, &e))?;
    Ok(options)
}

/// A client for the router: the core's `blocking::Client`.
#[pyclass(frozen, module = "pfwd._pfwd")]
pub(crate) struct Client {
    inner: blocking::Client,
}

#[pymethods]
impl Client {
    /// Probe every method at once.
    #[staticmethod]
    #[pyo3(signature = (methods=None, gateway=None, timeout=None))]
    fn discover(
        py: Python<'_>,
        methods: Option<Vec<String>>,
        gateway: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Client> {
        let options = options(methods, gateway).map_err(|e| errors::to_py(py, &e))?;
        blocking(py, timeout, |call| {
            blocking::Client::discover(options, call)
        })
        .map(|inner| Client { inner })
    }

    /// Map every request (all or none), the mapping being the probe; the
    /// client and the mappings as JSON.
    #[staticmethod]
    #[pyo3(signature = (requests, methods=None, gateway=None, timeout=None))]
    fn forward(
        py: Python<'_>,
        requests: Vec<Request>,
        methods: Option<Vec<String>>,
        gateway: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<(Client, Vec<String>)> {
        let options = options(methods, gateway).map_err(|e| errors::to_py(py, &e))?;
        let list = self::requests(&requests);
        let (inner, made) = blocking(py, timeout, |call| {
            blocking::Client::forward_all(options, &list, call)
        })?;
        Ok((
            Client { inner },
            made.iter().map(events::mapping_text).collect(),
        ))
    }

    /// Map one request.
    #[pyo3(signature = (request, timeout=None))]
    fn map(&self, py: Python<'_>, request: Request, timeout: Option<f64>) -> PyResult<String> {
        blocking(py, timeout, |call| self.inner.map(&request.inner, call))
            .map(|m| events::mapping_text(&m))
    }

    /// Renew a mapping (same PCP nonce, same UPnP entry).
    #[pyo3(signature = (mapping, timeout=None))]
    fn renew(&self, py: Python<'_>, mapping: &str, timeout: Option<f64>) -> PyResult<String> {
        let m = self::mapping(mapping).map_err(|e| errors::to_py(py, &e))?;
        blocking(py, timeout, |call| self.inner.renew(&m, call)).map(|m| events::mapping_text(&m))
    }

    /// Delete a mapping, by the method that made it.
    #[pyo3(signature = (mapping, timeout=None))]
    fn unmap(&self, py: Python<'_>, mapping: &str, timeout: Option<f64>) -> PyResult<()> {
        let m = self::mapping(mapping).map_err(|e| errors::to_py(py, &e))?;
        blocking(py, timeout, |call| self.inner.unmap(&m, call))
    }

    /// The router's list (UPnP), as JSON.
    #[pyo3(signature = (timeout=None))]
    fn list(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<String> {
        let list = blocking(py, timeout, |call| self.inner.list(call))?;
        Ok(serde_json::to_string(&list).unwrap_or_default())
    }

    /// The router's internet address.
    #[pyo3(signature = (timeout=None))]
    fn external_address(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<String> {
        blocking(py, timeout, |call| self.inner.external_address(call)).map(|a| a.to_string())
    }

    /// What each method answered, as JSON; does not block.
    fn discovery(&self) -> String {
        serde_json::to_string(&self.inner.discovery()).unwrap_or_default()
    }

    /// What IPv6 offers (this host's global address, the router, each
    /// method asked over IPv6 now), as JSON.
    #[pyo3(signature = (timeout=None))]
    fn ipv6_status(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<String> {
        blocking(py, timeout, |call| self.inner.ipv6_status(call))
            .map(|s| serde_json::to_string(&s).unwrap_or_default())
    }

    /// The guide for forwarding the requests by hand.
    #[pyo3(signature = (requests, timeout=None))]
    fn guide(
        &self,
        py: Python<'_>,
        requests: Vec<Request>,
        timeout: Option<f64>,
    ) -> PyResult<Guide> {
        let (family, protocols, external, ip, internal) = guide_args(&requests)
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("no request to guide"))?;
        blocking(py, timeout, |call| {
            self.inner
                .instructions_in(family, &protocols, external, ip, internal, call)
        })
        .map(|i| errors::guide(&i))
    }

    /// Check `request` from outside through the prober at `via` (none: the
    /// LAN side only); the report as JSON.
    #[pyo3(signature = (request, via=None, timeout=None))]
    fn check(
        &self,
        py: Python<'_>,
        request: Request,
        via: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<String> {
        let options = check::check_options(py, via, timeout)?;
        blocking(py, timeout, |call| {
            self.inner.check(&request.inner, &options, call)
        })
        .map(|r| r.to_json())
    }

    /// Keep the requests mapped (each with its granted mapping, if any);
    /// with `check_via`, each is checked from outside once held.
    #[pyo3(signature = (requests, held, check_interval=None, check_via=None))]
    fn keep(
        &self,
        py: Python<'_>,
        requests: Vec<Option<Request>>,
        held: Vec<Option<String>>,
        check_interval: Option<f64>,
        check_via: Option<&str>,
    ) -> PyResult<Keeper> {
        keep_on(&self.inner, py, requests, held, check_interval, check_via)
    }
}

/// The lease keeper: the core's `blocking::Keeper`.
#[pyclass(frozen, module = "pfwd._pfwd")]
pub(crate) struct Keeper {
    pub(crate) inner: blocking::Keeper,
}

impl Drop for Keeper {
    /// A keeper no Python code can reach any more is closed with the GIL
    /// released: its runtime threads may need the GIL (to log) while they
    /// delete the mappings.
    fn drop(&mut self) {
        let inner = &self.inner;
        Python::attach(|py| {
            py.detach(|| {
                let _ = inner.close(&Call::new());
            })
        });
    }
}

#[pymethods]
impl Keeper {
    /// `(index, mapping JSON)` for every mapping held now.
    fn mappings(&self) -> Vec<(usize, String)> {
        self.inner
            .mappings()
            .iter()
            .map(|(i, m)| (*i, events::mapping_text(m)))
            .collect()
    }

    /// Keep one more request; its index.
    fn add(&self, py: Python<'_>, request: Request) -> PyResult<usize> {
        self.inner
            .add(Keep::new(request.inner))
            .map_err(|e| errors::to_py(py, &e))
    }

    /// Stop keeping item `index` and delete its mapping (JSON, if one was held).
    #[pyo3(signature = (index, timeout=None))]
    fn remove(
        &self,
        py: Python<'_>,
        index: usize,
        timeout: Option<f64>,
    ) -> PyResult<Option<String>> {
        blocking(py, timeout, |call| self.inner.remove(index, call))
            .map(|m| m.as_ref().map(events::mapping_text))
    }

    /// The next event as JSON, `None` when none came within `timeout`
    /// seconds; `ClosedError` after the last. Ctrl-C is checked every 100 ms.
    #[pyo3(signature = (timeout))]
    fn next_event(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<String>> {
        let until =
            Instant::now() + Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or_default();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let step = left.min(blocking::CHECK_INTERVAL);
            let got = py.detach(|| self.inner.next_event(step));
            match got {
                Ok(Some(e)) => return Ok(Some(events::event(&e).to_string())),
                Ok(None) if left.is_zero() => return Ok(None),
                Ok(None) => py.check_signals()?,
                Err(e) => return Err(errors::to_py(py, &e)),
            }
        }
    }

    /// Delete every mapping and stop; the report as JSON (a second call
    /// returns the same).
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<String> {
        // Closing is cleanup: Ctrl-C must not stop it half-way.
        let mut call = Call::new();
        if let Some(t) = timeout {
            call = call.timeout(duration(t, "timeout")?);
        }
        py.detach(|| self.inner.close(&call))
            .map(|r| events::report(&r).to_string())
            .map_err(|e| errors::to_py(py, &e))
    }
}
