//! `pfwd.check`'s native half: the core's reachability check
//! (`pfwd_core::blocking::check`, `blocking::Client::check`), the prober's
//! address read by the core's `ProberUrl`, and the report handed to Python
//! as the core's JSON (`CheckReport::to_json`).

use pfwd_core::blocking::{self, Call};
use pfwd_core::check::{CheckOptions, CheckReport, ProberUrl};
use pfwd_core::{ClientOptions, Error, MappingRequest};
use pyo3::prelude::*;

use crate::aio::awaitable;
use crate::call::{blocking, duration};
use crate::client::{mapping, options};
use crate::errors;
use crate::request::Request;

/// A prober's address as the core reads it; `what` names the argument in
/// the message.
pub(crate) fn prober(text: &str, what: &str) -> pfwd_core::Result<ProberUrl> {
    text.parse::<ProberUrl>()
        .map_err(|e| Error::from(e.context(what)))
}

/// The check's options: the prober at `via` (none: the LAN side only), and
/// `timeout` seconds at most (the core's default when `None`).
pub(crate) fn check_options(
    py: Python<'_>,
    via: Option<&str>,
    timeout: Option<f64>,
) -> PyResult<CheckOptions> {
    Ok(CheckOptions {
        via: via
            .map(|v| prober(v, "via"))
            .transpose()
            .map_err(|e| errors::to_py(py, &e))?,
        timeout: timeout.map(|t| duration(t, "timeout")).transpose()?,
        state_dir: None,
    })
}

/// The client's options, when `methods` or `gateway` narrow discovery;
/// `None` for the core's own discovery (`blocking::check`).
fn discovery_options(
    py: Python<'_>,
    methods: Option<Vec<String>>,
    gateway: Option<&str>,
) -> PyResult<Option<ClientOptions>> {
    if methods.is_none() && gateway.is_none() {
        return Ok(None);
    }
    options(methods, gateway)
        .map(Some)
        .map_err(|e| errors::to_py(py, &e))
}

/// Find the router, then check: the core's `blocking::check`, or, with
/// narrowed discovery, `blocking::Client::discover` then its `check`.
fn discover_and_check(
    discovery: Option<ClientOptions>,
    request: &MappingRequest,
    options: &CheckOptions,
    call: &Call,
) -> pfwd_core::Result<CheckReport> {
    match discovery {
        None => blocking::check(request, options, call),
        Some(o) => blocking::Client::discover(o, call)?.check(request, options, call),
    }
}

/// Check `text` as a prober address (`what` names the argument); the
/// address as the core writes it, `http://HOST:PORT`.
#[pyfunction]
pub(crate) fn parse_prober(py: Python<'_>, text: &str, what: &str) -> PyResult<String> {
    prober(text, what)
        .map(|u| u.to_string())
        .map_err(|e| errors::to_py(py, &e))
}

/// The request that checks a mapping (JSON) made earlier: its protocol,
/// LAN host and port, and exactly its outside port (`check::request_of`).
#[pyfunction]
pub(crate) fn check_request(py: Python<'_>, mapping: &str) -> PyResult<Request> {
    self::mapping(mapping)
        .and_then(|m| pfwd_core::check::request_of(&m))
        .map(|inner| Request { inner })
        .map_err(|e| errors::to_py(py, &e))
}

/// Check `request` from outside through the prober at `via`, finding the
/// router first; the report as JSON. Everything is checked before anything
/// is sent.
#[pyfunction]
#[pyo3(signature = (request, via=None, methods=None, gateway=None, timeout=None))]
pub(crate) fn check(
    py: Python<'_>,
    request: Request,
    via: Option<&str>,
    methods: Option<Vec<String>>,
    gateway: Option<&str>,
    timeout: Option<f64>,
) -> PyResult<String> {
    let options = check_options(py, via, timeout)?;
    let discovery = discovery_options(py, methods, gateway)?;
    blocking(py, timeout, |call| {
        discover_and_check(discovery, &request.inner, &options, call)
    })
    .map(|r| r.to_json())
}

/// [`check`] as an awaitable (for `pfwd.aio.check`); the arguments are
/// checked at once.
#[pyfunction]
#[pyo3(signature = (request, via=None, methods=None, gateway=None, timeout=None))]
pub(crate) fn check_async<'py>(
    py: Python<'py>,
    request: Request,
    via: Option<&str>,
    methods: Option<Vec<String>>,
    gateway: Option<&str>,
    timeout: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let options = check_options(py, via, timeout)?;
    let discovery = discovery_options(py, methods, gateway)?;
    awaitable(py, timeout, move |call| {
        discover_and_check(discovery, &request.inner, &options, call).map(|r| r.to_json())
    })
}
