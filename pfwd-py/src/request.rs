//! What to forward, from `pfwd.forward`'s arguments to the core's
//! [`MappingRequest`]s, with the core's parsers, before anything is sent.

use std::time::Duration;

use pfwd_core::parse::{parse_lease, parse_transports};
use pfwd_core::target::{Names, Target};
use pfwd_core::{Error, Invalid, Lease, MappingRequest};
use pyo3::prelude::*;

use crate::errors;

/// One mapping to ask for (one protocol), checked by the core.
#[pyclass(frozen, module = "pfwd._pfwd")]
#[derive(Clone)]
pub(crate) struct Request {
    pub(crate) inner: MappingRequest,
}

#[pymethods]
impl Request {
    /// "tcp" or "udp".
    #[getter]
    fn protocol(&self) -> String {
        self.inner.protocol().to_string().to_ascii_lowercase()
    }

    /// The port on the server.
    #[getter]
    fn internal_port(&self) -> u16 {
        self.inner.internal_port()
    }

    /// The server, when not this host.
    #[getter]
    fn internal_ip(&self) -> Option<String> {
        self.inner.internal_ip().map(|ip| ip.to_string())
    }

    /// "ipv4", or "ipv6" for a pinhole for the host's own address.
    #[getter]
    fn family(&self) -> &'static str {
        self.inner.family().as_str()
    }

    /// The outside port asked for (`None`: any).
    #[getter]
    fn external_port(&self) -> Option<u16> {
        self.inner.external_port()
    }

    /// Whether only that outside port will do.
    #[getter]
    fn exact(&self) -> bool {
        self.inner.exact_external_port()
    }

    /// What the router shows.
    #[getter]
    fn description(&self) -> String {
        self.inner.description().to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Request({} {} -> {}:{})",
            self.inner.protocol(),
            self.inner
                .external_port()
                .map_or_else(|| "any".to_string(), |p| p.to_string()),
            self.inner
                .internal_ip()
                .map_or_else(|| "this host".to_string(), |ip| ip.to_string()),
            self.inner.internal_port()
        )
    }
}

/// The port and its service for `"80"` / `"http"`: `(port, service name,
/// protocols)`.
#[pyfunction]
pub(crate) fn parse_port(
    py: Python<'_>,
    text: &str,
) -> PyResult<(u16, Option<String>, Vec<String>)> {
    let spec = pfwd_core::parse_port(text).map_err(|e| invalid(py, e))?;
    Ok((
        spec.port,
        spec.service.map(|s| s.name.to_string()),
        spec.protocols()
            .iter()
            .map(|p| p.to_string().to_ascii_lowercase())
            .collect(),
    ))
}

fn invalid(py: Python<'_>, e: Invalid) -> PyErr {
    errors::to_py(py, &Error::from(e))
}

/// The requests (one per protocol) for `pfwd.forward`'s arguments, as text
/// the core parses: `port` ("80", "http"), `to` ("192.168.1.4[:8080]"),
/// `protocol` ("tcp", "udp", "both"), `external` ("8080", "any"; only that
/// port when `exact`), `lease` (seconds, or text such as "2h"), `permanent`,
/// `family` ("ipv4", "ipv6"; default: the server's, or IPv4).
#[pyfunction]
#[pyo3(signature = (port, to=None, protocol=None, external=None, exact=false, lease_seconds=None, lease_text=None, permanent=false, description=None, family=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_requests(
    py: Python<'_>,
    port: &str,
    to: Option<&str>,
    protocol: Option<&str>,
    external: Option<&str>,
    exact: bool,
    lease_seconds: Option<f64>,
    lease_text: Option<&str>,
    permanent: bool,
    description: Option<&str>,
    family: Option<&str>,
) -> PyResult<Vec<Request>> {
    requests(
        port,
        to,
        protocol,
        external,
        exact,
        lease_seconds,
        lease_text,
        permanent,
        description,
        family,
    )
    .map(|r| r.into_iter().map(|inner| Request { inner }).collect())
    .map_err(|e| invalid(py, e))
}

#[allow(clippy::too_many_arguments)]
fn requests(
    port: &str,
    to: Option<&str>,
    protocol: Option<&str>,
    external: Option<&str>,
    exact: bool,
    lease_seconds: Option<f64>,
    lease_text: Option<&str>,
    permanent: bool,
    description: Option<&str>,
    family: Option<&str>,
) -> Result<Vec<MappingRequest>, Invalid> {
    // Python's arguments as the core's types; the core's Target decides the
    // rest (the description, the outside port, the protocols), as it does
    // for the command.
    let protocols = protocol
        .map(|p| parse_transports(p).map_err(|e| e.context("protocol")))
        .transpose()?;
    let lease = match (permanent, lease_seconds, lease_text) {
        (true, None, None) => Lease::Permanent,
        (true, _, _) => {
            return Err(Invalid::new(
                "a lease and permanent=True: give one or the other",
            ));
        }
        (false, Some(s), _) => {
            if !(s.is_finite() && s >= 1.0) {
                return Err(Invalid::new(format!(
                    "a lease of {s} seconds: give at least 1 second, or permanent=True"
                )));
            }
            let d = Duration::try_from_secs_f64(s)
                .map_err(|e| Invalid::new(format!("a lease of {s} seconds: {e}")))?;
            Lease::Finite(d)
        }
        (false, None, Some(t)) => parse_lease(t).map_err(|e| e.context("lease"))?,
        (false, None, None) => Lease::Finite(pfwd_core::defaults::LEASE),
    };
    let family = family
        .map(|f| {
            f.parse::<pfwd_core::Family>()
                .map_err(|e| e.context("family"))
        })
        .transpose()?;
    Target::parse(
        Names::KEYWORDS,
        port,
        to,
        protocols,
        external,
        lease,
        description,
    )?
    .in_family(family)?
    .exactly(exact)
    .requests()
}
