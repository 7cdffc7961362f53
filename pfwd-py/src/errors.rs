//! The one place where the core's errors become Python exceptions.
//!
//! The exception classes live in `pfwd/_errors.py` (so that
//! `GatewayTimeoutError` can also be a `TimeoutError`, `NetworkError` an
//! `OSError`, ...); this file hands each error over as the core's own JSON
//! (`Error::to_json()`: kind, code, message, method, gateway_code, holder,
//! os_error), its message, and the guide where there is one.

use pfwd_core::{Error, Instructions};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The guide as Python receives it: text, Markdown and JSON.
pub(crate) type Guide = (String, String, String);

/// The three renderings of a guide.
pub(crate) fn guide(i: &Instructions) -> Guide {
    (i.to_text(), i.to_markdown(), i.to_json())
}

/// The Python exception for `error`.
pub(crate) fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    build(py, error).unwrap_or_else(|e| e)
}

/// What Python needs to build the exception for an error that is not
/// raised but carried (an event's): the same three parts as [`to_py`].
pub(crate) fn carried(error: &Error) -> serde_json::Value {
    serde_json::json!({
        "json": error.to_json(),
        "message": error.to_string(),
        "guide": error.instructions().map(guide),
    })
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let json = serde_json::to_string(&carried(error))
        .map_err(|e| PyRuntimeError::new_err(format!("pfwd: an error as JSON: {e}")))?;
    let exc = py
        .import("pfwd._errors")?
        .getattr("_from_core")?
        .call1((json,))?;
    Ok(PyErr::from_value(exc))
}
