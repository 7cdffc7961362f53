//! Every blocking call: the GIL released, a deadline, and Ctrl-C checked on
//! the waiting thread every 100 ms (the core's interrupt hook).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pfwd_core::blocking::Call;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors;

/// A timeout in seconds from Python, checked.
pub(crate) fn duration(seconds: f64, what: &str) -> PyResult<Duration> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(PyValueError::new_err(format!(
            "{what} must be a positive number of seconds, not {seconds}"
        )));
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|e| PyValueError::new_err(format!("{what} of {seconds} s: {e}")))
}

/// Run `f` with the GIL released under a [`Call`] with `timeout` (the
/// core's default when `None`). A signal handler that raises (Ctrl-C's
/// `KeyboardInterrupt`) stops the call within 100 ms; the core then
/// removes whatever the call made, and its exception is raised here.
pub(crate) fn blocking<T: Send>(
    py: Python<'_>,
    timeout: Option<f64>,
    f: impl FnOnce(&Call) -> pfwd_core::Result<T> + Send,
) -> PyResult<T> {
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let slot = raised.clone();
    let mut call = Call::new().interrupt(move || {
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                if let Ok(mut s) = slot.lock() {
                    *s = Some(e);
                }
                true
            }
        })
    });
    if let Some(t) = timeout {
        call = call.timeout(duration(t, "timeout")?);
    }
    let result = py.detach(|| f(&call));
    if let Some(e) = raised.lock().ok().and_then(|mut s| s.take()) {
        return Err(e);
    }
    result.map_err(|e| errors::to_py(py, &e))
}
