//! `pfwd._pfwd`: the native half of the Python package `pfwd`.
//!
//! A thin adapter over [`pfwd_core::blocking`] (and, for `pfwd.aio`, the
//! async client on the same runtime): it converts arguments to the core's
//! requests with the core's parsers, runs every blocking call with the GIL
//! released and Ctrl-C checked every 100 ms, converts errors in one place
//! (`src/errors.rs`), and hands mappings, events, guides and check reports
//! to Python as the core's own JSON, which the pure-Python package
//! (`python/pfwd/`) turns into typed objects. It makes no decision of its own.

mod aio;
mod call;
mod check;
mod client;
mod errors;
mod events;
mod pylog;
mod request;

use pyo3::prelude::*;

/// Run the `pfwd` command (`pfwd_cli::run`) with `argv` (the program name
/// first), with the GIL released; returns its exit code. The caller restores
/// the default signal handlers first: the command installs its own.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(move || pfwd_cli::run(argv))
}

/// Close every live keeper of the process, deleting their mappings (for
/// `atexit`); returns how many were closed.
#[pyfunction]
fn shutdown(py: Python<'_>) -> usize {
    py.detach(pfwd_core::blocking::shutdown)
}

/// The module `pfwd._pfwd`.
#[pymodule]
fn _pfwd(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(mapping_json, m)?)?;
    m.add_function(wrap_pyfunction!(request::build_requests, m)?)?;
    m.add_function(wrap_pyfunction!(request::parse_port, m)?)?;
    m.add_function(wrap_pyfunction!(check::parse_prober, m)?)?;
    m.add_function(wrap_pyfunction!(check::check_request, m)?)?;
    m.add_function(wrap_pyfunction!(check::check, m)?)?;
    m.add_function(wrap_pyfunction!(check::check_async, m)?)?;
    m.add_function(wrap_pyfunction!(pylog::install_logger, m)?)?;
    m.add_class::<request::Request>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::Keeper>()?;
    m.add_class::<aio::AsyncClient>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// Check a mapping in the core's JSON shape and write it as the core does.
#[pyfunction]
fn mapping_json(py: Python<'_>, text: &str) -> PyResult<String> {
    client::mapping(text)
        .map(|m| events::mapping_text(&m))
        .map_err(|e| errors::to_py(py, &e))
}
