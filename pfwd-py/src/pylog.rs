//! The core's log records to Python's `logging` (logger `pfwd`).

use log::{Level, LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// Forwards every record to `logging.getLogger("pfwd")`, taking the GIL.
struct PyLogger;

static LOGGER: PyLogger = PyLogger;
static PY_LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `logging`'s number for a level.
fn level_number(level: Level) -> i32 {
    match level {
        Level::Error => 40,
        Level::Warn => 30,
        Level::Info => 20,
        Level::Debug | Level::Trace => 10,
    }
}

impl Log for PyLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = level_number(record.level());
        let message = format!("[{}] {}", record.target(), record.args());
        // Never while the interpreter is going away: the record is dropped.
        let _ = Python::try_attach(|py| -> PyResult<()> {
            let Some(logger) = PY_LOGGER.get(py) else {
                return Ok(());
            };
            let logger = logger.bind(py);
            if logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
                logger.call_method1("log", (level, "%s", message))?;
            }
            Ok(())
        });
    }

    fn flush(&self) {}
}

/// Send the core's log to `logging.getLogger("pfwd")` from now on (once per
/// process; the `pfwd` command run in-process keeps its own logger when it
/// ran first). Records below `logging`'s level for `pfwd` cost one check.
#[pyfunction]
pub(crate) fn install_logger(py: Python<'_>) -> PyResult<()> {
    PY_LOGGER.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let logger = py
            .import("logging")?
            .getattr("getLogger")?
            .call1(("pfwd",))?;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(LevelFilter::Debug);
        }
        Ok(logger.unbind())
    })?;
    Ok(())
}
