//! One [`Forwarder`](crate::Forwarder) per method, on tokio, and what they
//! share: how a request is described in errors, the checks every method
//! makes before sending, and how a gateway's code becomes an [`Error`].

pub(crate) mod engine;
pub mod manual;
pub mod natpmp;
pub mod pcp;
pub mod upnp;

pub use engine::PmpOptions;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::{Error, GatewayCode, Result};
use crate::mapping::{Family, Mapping, MappingRequest, Method};

/// What a request asks, for errors and logs: "TCP port 80 -> 192.168.1.4:80",
/// or "any TCP port -> 192.168.1.4:80".
pub(crate) fn describe(request: &MappingRequest, host: impl Into<IpAddr>) -> String {
    let internal = SocketAddr::new(host.into(), request.internal_port());
    match request.external_port() {
        Some(p) => format!("{} port {p} -> {internal}", request.protocol()),
        None => format!("any {} port -> {internal}", request.protocol()),
    }
}

/// What deleting `mapping` is, for errors and logs: "deleting TCP port 80".
pub(crate) fn deleting(mapping: &Mapping) -> String {
    format!(
        "deleting {} port {}",
        mapping.protocol(),
        mapping.external().port()
    )
}

/// A renewal must go to the method that made the mapping.
pub(crate) fn check_renewal(request: &MappingRequest, method: Method) -> Result<()> {
    match request.previous() {
        Some(prev) if prev.method() != method => Err(made_over(prev, "renew")),
        _ => Ok(()),
    }
}

/// The error for renewing or deleting (`action`) a mapping with a method
/// other than the one that made it.
pub(crate) fn made_over(mapping: &Mapping, action: &str) -> Error {
    Error::invalid(format!(
        "this mapping was made over {}; {action} it with that method",
        mapping.method()
    ))
}

/// The LAN host an IPv4-only backend (NAT-PMP, UPnP's port mappings, PCP
/// over IPv4) is asked for: the request's, or `None` for this host.
///
/// # Errors
///
/// [`Error::Unsupported`] for an IPv6 request, which such a backend cannot
/// carry out (the automatic client sends those to PCP over IPv6 and UPnP's
/// pinholes).
pub(crate) fn ipv4_host(request: &MappingRequest, method: Method) -> Result<Option<Ipv4Addr>> {
    match request.family() {
        Family::Ipv4 => Ok(request.internal_ipv4()),
        Family::Ipv6 => Err(Error::Unsupported {
            method,
            what: "IPv6 pinholes".into(),
            detail: match method {
                Method::NatPmp => {
                    "NAT-PMP is IPv4 only (RFC 6886): use PCP or UPnP for IPv6".into()
                }
                _ => format!(
                    "this {method} client speaks IPv4: ask through the automatic client, which \
                     opens IPv6 pinholes with PCP over IPv6 and UPnP's WANIPv6FirewallControl"
                ),
            },
        }),
    }
}

/// The error for a permanent lease where `method` has none.
pub(crate) fn permanent_unsupported(method: Method) -> Error {
    Error::Unsupported {
        method,
        what: "permanent mappings".into(),
        detail: format!("{method} leases always end; ask for a finite lease and renew it"),
    }
}

/// The error for a mapping to `host` (not the asking host) that `method`
/// or the gateway does not allow; `detail` says why and what to do.
pub(crate) fn another_host_unsupported(
    method: Method,
    host: impl Into<IpAddr>,
    detail: String,
) -> Error {
    let host = host.into();
    Error::Unsupported {
        method,
        what: format!("forwarding to another host ({host})"),
        detail,
    }
}

/// A gateway's code for `what` as an error: [`Error::Unsupported`] when
/// the code says the gateway lacks the feature (`unsupported`), otherwise
/// [`Error::Refused`] with the code.
pub(crate) fn code_error(code: GatewayCode, what: &str, unsupported: bool) -> Error {
    if unsupported {
        Error::Unsupported {
            method: code.method(),
            what: what.to_string(),
            detail: format!("the gateway answered {code}: {}", code.meaning()),
        }
    } else {
        Error::Refused {
            method: code.method(),
            what: what.to_string(),
            code,
        }
    }
}

/// The [`Forwarder`](crate::Forwarder) of a client of the 5351 engine
/// (NAT-PMP, PCP): it forwards to the client's inherent `current_method`,
/// `external_ipv4`, `map_request` and `unmap_mapping`, and tells a lost
/// mapping by the gateway's epoch (`check_epoch`, then `restarted_since`).
macro_rules! pmp_forwarder {
    ($client:ty) => {
        impl $crate::forwarder::Forwarder for $client {
            fn method(&self) -> $crate::mapping::Method {
                self.current_method()
            }

            fn external_address(
                &self,
            ) -> $crate::forwarder::BoxFuture<'_, $crate::error::Result<std::net::Ipv4Addr>> {
                Box::pin(self.external_ipv4())
            }

            fn map<'a>(
                &'a self,
                request: &'a $crate::mapping::MappingRequest,
            ) -> $crate::forwarder::BoxFuture<'a, $crate::error::Result<$crate::mapping::Mapping>>
            {
                Box::pin(self.map_request(request))
            }

            fn unmap<'a>(
                &'a self,
                mapping: &'a $crate::mapping::Mapping,
            ) -> $crate::forwarder::BoxFuture<'a, $crate::error::Result<()>> {
                Box::pin(self.unmap_mapping(mapping))
            }

            fn lost<'a>(
                &'a self,
                mapping: &'a $crate::mapping::Mapping,
            ) -> $crate::forwarder::BoxFuture<'a, $crate::error::Result<bool>> {
                Box::pin(async move {
                    self.check_epoch().await?;
                    Ok(self.restarted_since(mapping))
                })
            }

            fn gateway(&self) -> Option<$crate::gateway::GatewayInfo> {
                <$client>::gateway_info(self)
            }
        }
    };
}
pub(crate) use pmp_forwarder;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Protocol;
    use crate::wire::pcp;

    #[test]
    fn requests_are_described_with_their_target() {
        let host = Ipv4Addr::new(192, 168, 1, 4);
        let any = MappingRequest::builder(Protocol::Udp, 51820)
            .any_external_port()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(describe(&any, host), "any UDP port -> 192.168.1.4:51820");
        let web = MappingRequest::builder(Protocol::Tcp, 8080)
            .external_port(80)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(describe(&web, host), "TCP port 80 -> 192.168.1.4:8080");
    }

    #[test]
    fn codes_become_refusals_or_unsupported() {
        let code = GatewayCode::Pcp(pcp::ResultCode::UnsupportedOpcode);
        let e = code_error(code, "x", true);
        assert!(
            matches!(
                e,
                Error::Unsupported {
                    method: Method::Pcp,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("PCP result 4 UNSUPP_OPCODE"), "{e}");
        let e = code_error(code, "x", false);
        assert_eq!(e.gateway_code(), Some(code));
    }
}
