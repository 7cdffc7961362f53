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
use crate::client::{mapping, options as options_of};
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

/// Check every request (a service's TCP and UDP), discovering the router
/// once with `client` options: the core's `blocking::check`.
fn check_all(
    client: ClientOptions,
    requests: &[Request],
    options: &CheckOptions,
    call: &Call,
) -> pfwd_core::Result<Vec<String>> {
    let list: Vec<MappingRequest> = requests.iter().map(|r| r.inner.clone()).collect();
    blocking::check(client, &list, options, call)
        .map(|reports| reports.iter().map(CheckReport::to_json).collect())
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

/// Check `requests` from outside through the prober at `via`, finding the
/// router once; each report as JSON, in order. Everything is checked before
/// anything is sent.
#[pyfunction]
#[pyo3(signature = (requests, via=None, methods=None, gateway=None, timeout=None))]
pub(crate) fn check(
    py: Python<'_>,
    requests: Vec<Request>,
    via: Option<&str>,
    methods: Option<Vec<String>>,
    gateway: Option<&str>,
    timeout: Option<f64>,
) -> PyResult<Vec<String>> {
    let options = check_options(py, via, timeout)?;
    let client = options_of(methods, gateway).map_err(|e| errors::to_py(py, &e))?;
    blocking(py, timeout, |call| {
        check_all(client, &requests, &options, call)
    })
}

/// [`check`] as an awaitable (for `pfwd.aio.check`); the arguments are
/// checked at once.
#[pyfunction]
#[pyo3(signature = (requests, via=None, methods=None, gateway=None, timeout=None))]
pub(crate) fn check_async<'py>(
    py: Python<'py>,
    requests: Vec<Request>,
    via: Option<&str>,
    methods: Option<Vec<String>>,
    gateway: Option<&str>,
    timeout: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let options = check_options(py, via, timeout)?;
    let client = options_of(methods, gateway).map_err(|e| errors::to_py(py, &e))?;
    awaitable(py, timeout, move |call| {
        check_all(client, &requests, &options, call)
    })
}
