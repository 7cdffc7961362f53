//! `pfwd.aio`'s native half: the same calls as awaitables on pfwd's runtime
//! (pyo3-async-runtimes on `pfwd_core::blocking::runtime()`).
//!
//! Each call is the core's blocking call, on a thread of its own so that
//! the event loop never waits, with the call's `CancelToken` tied to the
//! awaitable: cancelling the asyncio task cancels the call, and the core
//! removes whatever it made (as for Ctrl-C in the sync API).

use std::sync::Once;

use pfwd_core::blocking::{self, Call, CancelToken};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::call::duration;
use crate::check;
use crate::client::{Keeper, guide_args, keep_on, mapping, options, requests};
use crate::errors;
use crate::events;
use crate::request::Request;

/// Cancels the call when the awaitable is dropped before it finished.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Run the core's blocking `f` off the event loop; an awaitable for its
/// result.
pub(crate) fn awaitable<'py, T, F>(
    py: Python<'py>,
    timeout: Option<f64>,
    f: F,
) -> PyResult<Bound<'py, PyAny>>
where
    F: FnOnce(&Call) -> pfwd_core::Result<T> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    static INIT: Once = Once::new();
    let mut failed = None;
    INIT.call_once(|| match blocking::runtime() {
        Ok(rt) => {
            let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt);
        }
        Err(e) => failed = Some(e),
    });
    if let Some(e) = failed {
        return Err(errors::to_py(py, &e));
    }
    let token = CancelToken::new();
    let guard = CancelOnDrop(token.clone());
    let mut call = Call::new().cancel_token(&token);
    if let Some(t) = timeout {
        call = call.timeout(duration(t, "timeout")?);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("pfwd-aio".into())
        .spawn(move || {
            let _ = tx.send(f(&call));
        })
        .map_err(|e| PyRuntimeError::new_err(format!("pfwd: starting a thread: {e}")))?;
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let _guard = guard;
        let result = rx
            .await
            .map_err(|_| PyRuntimeError::new_err("pfwd: the call's thread ended early"))?;
        result.map_err(|e| Python::attach(|py| errors::to_py(py, &e)))
    })
}

/// A client whose calls are awaitables: the core's `blocking::Client`.
#[pyclass(frozen, module = "pfwd._pfwd")]
#[derive(Clone)]
pub(crate) struct AsyncClient {
    inner: blocking::Client,
}

#[pymethods]
impl AsyncClient {
    /// Probe every method at once.
    #[staticmethod]
    #[pyo3(signature = (methods=None, gateway=None, timeout=None))]
    fn discover<'py>(
        py: Python<'py>,
        methods: Option<Vec<String>>,
        gateway: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = options(methods, gateway).map_err(|e| errors::to_py(py, &e))?;
        awaitable(py, timeout, move |call| {
            blocking::Client::discover(options, call).map(|inner| AsyncClient { inner })
        })
    }

    /// Map every request (all or none); the client and the mappings as JSON.
    #[staticmethod]
    #[pyo3(signature = (requests, methods=None, gateway=None, timeout=None))]
    fn forward<'py>(
        py: Python<'py>,
        requests: Vec<Request>,
        methods: Option<Vec<String>>,
        gateway: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = options(methods, gateway).map_err(|e| errors::to_py(py, &e))?;
        let list = self::requests(&requests);
        awaitable(py, timeout, move |call| {
            let (inner, made) = blocking::Client::forward_all(options, &list, call)?;
            let made: Vec<String> = made.iter().map(events::mapping_text).collect();
            Ok((AsyncClient { inner }, made))
        })
    }

    /// Map one request.
    #[pyo3(signature = (request, timeout=None))]
    fn map<'py>(
        &self,
        py: Python<'py>,
        request: Request,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        awaitable(py, timeout, move |call| {
            client
                .map(&request.inner, call)
                .map(|m| events::mapping_text(&m))
        })
    }

    /// Renew a mapping.
    #[pyo3(signature = (mapping, timeout=None))]
    fn renew<'py>(
        &self,
        py: Python<'py>,
        mapping: &str,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = self::mapping(mapping).map_err(|e| errors::to_py(py, &e))?;
        let client = self.inner.clone();
        awaitable(py, timeout, move |call| {
            client.renew(&m, call).map(|m| events::mapping_text(&m))
        })
    }

    /// Delete a mapping.
    #[pyo3(signature = (mapping, timeout=None))]
    fn unmap<'py>(
        &self,
        py: Python<'py>,
        mapping: &str,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = self::mapping(mapping).map_err(|e| errors::to_py(py, &e))?;
        let client = self.inner.clone();
        awaitable(py, timeout, move |call| client.unmap(&m, call))
    }

    /// The router's list (UPnP), as JSON.
    #[pyo3(signature = (timeout=None))]
    fn list<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        awaitable(py, timeout, move |call| {
            client
                .list(call)
                .map(|l| serde_json::to_string(&l).unwrap_or_default())
        })
    }

    /// The router's internet address.
    #[pyo3(signature = (timeout=None))]
    fn external_address<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        awaitable(py, timeout, move |call| {
            client.external_address(call).map(|a| a.to_string())
        })
    }

    /// What each method answered, as JSON; does not wait.
    fn discovery(&self) -> String {
        serde_json::to_string(&self.inner.discovery()).unwrap_or_default()
    }

    /// The guide for forwarding the requests by hand.
    #[pyo3(signature = (requests, timeout=None))]
    fn guide<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<Request>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (family, protocols, external, ip, internal) = guide_args(&requests)
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("no request to guide"))?;
        let client = self.inner.clone();
        awaitable(py, timeout, move |call| {
            client
                .instructions_in(family, &protocols, external, ip, internal, call)
                .map(|i| errors::guide(&i))
        })
    }

    /// Check `request` from outside through the prober at `via` (none: the
    /// LAN side only); the report as JSON, awaited.
    #[pyo3(signature = (request, via=None, timeout=None))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        request: Request,
        via: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = check::check_options(py, via, timeout)?;
        let client = self.inner.clone();
        awaitable(py, timeout, move |call| {
            client
                .check(&request.inner, &options, call)
                .map(|r| r.to_json())
        })
    }

    /// Keep the requests mapped; the keeper (starting it does not wait).
    /// With `check_via`, each is checked from outside once held.
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

    /// The keeper's next event (JSON), awaited; `None` after `timeout`
    /// seconds; `ClosedError` after the last.
    #[staticmethod]
    fn next_event<'py>(
        py: Python<'py>,
        keeper: &Keeper,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keeper = keeper.inner.clone();
        let wait = duration(timeout.max(0.001), "timeout")?;
        awaitable(py, None, move |_call| {
            keeper
                .next_event(wait)
                .map(|e| e.map(|e| events::event(&e).to_string()))
        })
    }

    /// Close the keeper, awaited; the report as JSON.
    #[staticmethod]
    #[pyo3(signature = (keeper, timeout=None))]
    fn close_keeper<'py>(
        py: Python<'py>,
        keeper: &Keeper,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keeper = keeper.inner.clone();
        awaitable(py, timeout, move |call| {
            keeper.close(call).map(|r| events::report(&r).to_string())
        })
    }
}
